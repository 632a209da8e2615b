// SPDX-License-Identifier: GPL-2.0
//! The health state shown in status; a change raises a device-mapper event.

use core::fmt;
use core::str::FromStr;

use super::name::UnknownName;

/// Health of a target, worst first when several apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Health {
    /// Everything works.
    Ok = 0,
    /// Working, with less redundancy: a metadata copy could not be written,
    /// or the spare has had errors.
    Degraded = 1,
    /// The spare pool is full: new bad blocks can no longer be remapped.
    SpareExhausted = 2,
    /// The main device failed as a device, no metadata copy can be written
    /// (writes that need new remaps fail), or the spare pool is used past
    /// the critical level: replace the disk.
    Failing = 3,
}

/// What health depends on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HealthInputs {
    /// Metadata copies the last commit wrote.
    pub metadata_copies: u8,
    /// Device- or transport-class errors seen on the main device.
    pub device_errors: u64,
    /// Errors seen on the spare device.
    pub spare_errors: u64,
    /// Spare blocks in use and in total.
    pub spare_used: u64,
    pub spare_total: u64,
    /// Percent of the pool in use at which health turns degraded, and
    /// failing (0 disables a level).
    pub spare_warn: u32,
    pub spare_crit: u32,
}

impl Health {
    /// The state for `inputs`.
    pub fn of(inputs: &HealthInputs) -> Self {
        let past = |pct: u32| {
            pct > 0 && inputs.spare_used.saturating_mul(100) >= u64::from(pct).saturating_mul(inputs.spare_total)
        };
        if inputs.spare_used >= inputs.spare_total && inputs.metadata_copies > 0 && inputs.device_errors == 0 {
            Self::SpareExhausted
        } else if inputs.metadata_copies == 0 || inputs.device_errors > 0 || past(inputs.spare_crit) {
            Self::Failing
        } else if inputs.metadata_copies < 2 || inputs.spare_errors > 0 || past(inputs.spare_warn) {
            Self::Degraded
        } else {
            Self::Ok
        }
    }

    /// The name status shows.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Degraded => "degraded",
            Self::SpareExhausted => "spare_exhausted",
            Self::Failing => "failing",
        }
    }

    /// Every state, best first.
    pub const ALL: [Self; 4] = [Self::Ok, Self::Degraded, Self::SpareExhausted, Self::Failing];
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Health {
    type Err = UnknownName;
    /// The state status names `s`.
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        Self::ALL.into_iter().find(|h| h.name() == s).ok_or(UnknownName)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_condition_wins() {
        let ok = HealthInputs { metadata_copies: 2, spare_total: 10, ..Default::default() };
        assert_eq!(Health::of(&ok), Health::Ok);
        assert_eq!(Health::of(&HealthInputs { metadata_copies: 1, ..ok }), Health::Degraded);
        assert_eq!(Health::of(&HealthInputs { spare_errors: 1, ..ok }), Health::Degraded);
        assert_eq!(Health::of(&HealthInputs { spare_used: 10, metadata_copies: 1, ..ok }), Health::SpareExhausted);
        assert_eq!(Health::of(&HealthInputs { device_errors: 1, spare_used: 10, ..ok }), Health::Failing);
        assert_eq!(Health::of(&HealthInputs { metadata_copies: 0, ..ok }), Health::Failing);
    }

    #[test]
    fn names_read_back() {
        for h in Health::ALL {
            assert_eq!(h.to_string().parse(), Ok(h));
        }
        assert_eq!("OK".parse::<Health>(), Err(UnknownName));
    }

    #[test]
    fn spare_levels() {
        let base =
            HealthInputs { metadata_copies: 2, spare_total: 100, spare_warn: 80, spare_crit: 95, ..Default::default() };
        assert_eq!(Health::of(&HealthInputs { spare_used: 79, ..base }), Health::Ok);
        assert_eq!(Health::of(&HealthInputs { spare_used: 80, ..base }), Health::Degraded);
        assert_eq!(Health::of(&HealthInputs { spare_used: 95, ..base }), Health::Failing);
        assert_eq!(Health::of(&HealthInputs { spare_used: 100, ..base }), Health::SpareExhausted);
    }
}

// SPDX-License-Identifier: GPL-2.0
//! Error-handling policies: set as optional table arguments
//! (`<name> <value>` pairs) or by `set <name> <value>` messages, and
//! reported in the table line (when not at their defaults) and the status.

use core::fmt;

use super::number::parse_u32;

/// One policy setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// `auto_remap on|off`: remap blocks that fail writes.
    AutoRemap(bool),
    /// `read_retries <0..16>`: reads of each block of a failed read.
    ReadRetries(u32),
    /// `error_threshold <1..100>`: attempts of a block that keeps failing
    /// with transient errors before it is treated as a media error.
    ErrorThreshold(u32),
    /// `spare_warn <1..100>`: percent of the pool in use at which health
    /// turns `degraded`.
    SpareWarn(u32),
    /// `spare_crit <1..100>`: percent at which health turns `failing`.
    SpareCrit(u32),
}

/// Why a policy setting was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyError {
    /// No policy of that name.
    Unknown,
    /// The value is not allowed for that policy.
    BadValue,
}

fn in_range(word: &[u8], lo: u32, hi: u32) -> Result<u32, PolicyError> {
    parse_u32(word).filter(|v| (lo..=hi).contains(v)).ok_or(PolicyError::BadValue)
}

impl Policy {
    /// Parses `<name> <value>`.
    pub fn parse(name: &[u8], value: &[u8]) -> Result<Self, PolicyError> {
        Ok(match name {
            b"auto_remap" => Self::AutoRemap(match value {
                b"on" => true,
                b"off" => false,
                _ => return Err(PolicyError::BadValue),
            }),
            b"read_retries" => Self::ReadRetries(in_range(value, 0, 16)?),
            b"error_threshold" => Self::ErrorThreshold(in_range(value, 1, 100)?),
            b"spare_warn" => Self::SpareWarn(in_range(value, 1, 100)?),
            b"spare_crit" => Self::SpareCrit(in_range(value, 1, 100)?),
            _ => return Err(PolicyError::Unknown),
        })
    }

    /// The policies' names, in the order status shows them.
    pub const NAMES: [&'static str; 5] = ["auto_remap", "read_retries", "error_threshold", "spare_warn", "spare_crit"];

    /// Whether `name` names a policy (for parsers telling a policy from a
    /// flag).
    pub fn is_name(name: &[u8]) -> bool {
        Self::NAMES.iter().any(|n| n.as_bytes() == name)
    }

    /// This setting's name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::AutoRemap(_) => "auto_remap",
            Self::ReadRetries(_) => "read_retries",
            Self::ErrorThreshold(_) => "error_threshold",
            Self::SpareWarn(_) => "spare_warn",
            Self::SpareCrit(_) => "spare_crit",
        }
    }
}

/// All policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policies {
    pub auto_remap: bool,
    pub read_retries: u32,
    pub error_threshold: u32,
    pub spare_warn: u32,
    pub spare_crit: u32,
}

impl Default for Policies {
    fn default() -> Self {
        Self { auto_remap: true, read_retries: 3, error_threshold: 3, spare_warn: 80, spare_crit: 95 }
    }
}

impl Policies {
    /// Applies one setting.
    pub fn apply(&mut self, p: Policy) {
        match p {
            Policy::AutoRemap(v) => self.auto_remap = v,
            Policy::ReadRetries(v) => self.read_retries = v,
            Policy::ErrorThreshold(v) => self.error_threshold = v,
            Policy::SpareWarn(v) => self.spare_warn = v,
            Policy::SpareCrit(v) => self.spare_crit = v,
        }
    }

    /// The settings that differ from the defaults, in a fixed order.
    fn changed(&self) -> impl Iterator<Item = Policy> {
        let d = Self::default();
        [
            (self.auto_remap != d.auto_remap).then_some(Policy::AutoRemap(self.auto_remap)),
            (self.read_retries != d.read_retries).then_some(Policy::ReadRetries(self.read_retries)),
            (self.error_threshold != d.error_threshold).then_some(Policy::ErrorThreshold(self.error_threshold)),
            (self.spare_warn != d.spare_warn).then_some(Policy::SpareWarn(self.spare_warn)),
            (self.spare_crit != d.spare_crit).then_some(Policy::SpareCrit(self.spare_crit)),
        ]
        .into_iter()
        .flatten()
    }

    /// Words `emit_changed` writes.
    pub fn changed_words(&self) -> usize {
        2 * self.changed().count()
    }

    /// Writes ` <name> <value>` for each setting not at its default.
    pub fn emit_changed(&self, out: &mut impl fmt::Write) -> fmt::Result {
        self.changed().try_for_each(|p| write!(out, " {p}"))
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.name())?;
        match self {
            Self::AutoRemap(v) => f.write_str(if *v { "on" } else { "off" }),
            Self::ReadRetries(v) | Self::ErrorThreshold(v) | Self::SpareWarn(v) | Self::SpareCrit(v) => {
                write!(f, "{v}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn each_policy_parses_and_checks_its_range() {
        assert_eq!(Policy::parse(b"auto_remap", b"off"), Ok(Policy::AutoRemap(false)));
        assert_eq!(Policy::parse(b"auto_remap", b"no"), Err(PolicyError::BadValue));
        assert_eq!(Policy::parse(b"read_retries", b"16"), Ok(Policy::ReadRetries(16)));
        assert_eq!(Policy::parse(b"read_retries", b"17"), Err(PolicyError::BadValue));
        assert_eq!(Policy::parse(b"error_threshold", b"0"), Err(PolicyError::BadValue));
        assert_eq!(Policy::parse(b"spare_warn", b"101"), Err(PolicyError::BadValue));
        assert_eq!(Policy::parse(b"spare_crit", b"90"), Ok(Policy::SpareCrit(90)));
        assert_eq!(Policy::parse(b"colour", b"1"), Err(PolicyError::Unknown));
    }

    #[test]
    fn every_name_parses_to_its_policy() {
        for (name, value) in Policy::NAMES.iter().zip(["off", "5", "7", "50", "60"]) {
            let p = Policy::parse(name.as_bytes(), value.as_bytes()).unwrap();
            assert_eq!(p.name(), *name);
            assert_eq!(p.to_string(), format!("{name} {value}"));
            assert!(Policy::is_name(name.as_bytes()));
        }
    }

    proptest! {
        #[test]
        fn changed_settings_round_trip(auto in any::<bool>(), rr in 0u32..=16, et in 1u32..=100, w in 1u32..=100, c in 1u32..=100) {
            let mut p = Policies::default();
            for s in [Policy::AutoRemap(auto), Policy::ReadRetries(rr), Policy::ErrorThreshold(et), Policy::SpareWarn(w), Policy::SpareCrit(c)] {
                p.apply(s);
            }
            let mut text = String::new();
            p.emit_changed(&mut text).unwrap();
            let words: Vec<&str> = text.split_whitespace().collect();
            prop_assert_eq!(words.len(), p.changed_words());
            let mut back = Policies::default();
            for pair in words.chunks(2) {
                back.apply(Policy::parse(pair[0].as_bytes(), pair[1].as_bytes()).unwrap());
            }
            prop_assert_eq!(back, p);
        }
    }
}

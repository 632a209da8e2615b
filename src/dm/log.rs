// SPDX-License-Identifier: GPL-2.0
//! Kernel log lines of a target: each names the device and is rate-limited
//! per call site, like device-mapper's `DMWARN_LIMIT` (printk's default
//! limit: a burst of 10 lines per 5 s, then one line counting those
//! suppressed), so that an error storm cannot flood the log.
//!
//! ```ignore
//! dm_warn_limited!(self.name, "block {}: unreadable\n", block);
//! // dm_remap: 254:0: block 1005: unreadable
//! ```
//!
//! The device is anything that implements `Display`: a target's [`DmName`]
//! (what device-mapper's own lines name a device by), or a [`DmDev`]'s name
//! where that is all there is.
//!
//! [`DmDev`]: super::DmDev

use core::cell::UnsafeCell;
use core::fmt;
use core::mem::MaybeUninit;

use super::bindings;
use super::target::Target;

/// One call site's rate limit; the macros below keep one in a `static`.
///
/// # Invariants
///
/// `state` starts zeroed and is only used through `dm_remap_log_allowed`,
/// which initialises it on first use and serialises every use with the
/// state's own lock.
pub(crate) struct RateLimit {
    state: UnsafeCell<MaybeUninit<bindings::dm_remap_ratelimit>>,
}

// SAFETY: every access goes through `dm_remap_log_allowed`, which is safe to
// call concurrently on one state (type invariants).
unsafe impl Sync for RateLimit {}

impl RateLimit {
    /// A zeroed state, as `dm_remap_log_allowed` expects before first use.
    #[allow(clippy::new_without_default)]
    pub(crate) const fn new() -> Self {
        Self { state: UnsafeCell::new(MaybeUninit::zeroed()) }
    }

    /// Whether a line may be logged now; `site` names the call site in the
    /// line that counts suppressed ones.
    pub(crate) fn allow(&'static self, site: &'static kernel::str::CStr) -> bool {
        // SAFETY: the state is zeroed or initialised, and the helper
        // serialises its uses (type invariants); it lives in a `static`.
        // `site` is a NUL-terminated string that outlives the call.
        unsafe { bindings::dm_remap_log_allowed(self.state.get().cast(), site.as_char_ptr()) }
    }
}

/// The name device-mapper gives a mapped device in its log lines
/// (`major:minor`, the `dm_device_name`), copied so that it can be printed
/// from any context, to the end of the target.
#[derive(Clone, Copy)]
pub(crate) struct DmName {
    bytes: [u8; 16],
    len: u8,
}

impl DmName {
    /// A name that says none was found.
    pub(crate) const UNKNOWN: Self = Self { bytes: *b"?\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", len: 1 };
}

impl fmt::Display for DmName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.bytes.get(..usize::from(self.len)).unwrap_or_default();
        f.write_str(core::str::from_utf8(s).unwrap_or("?"))
    }
}

impl Target {
    /// The name of the mapped device this target belongs to.
    pub(crate) fn dm_name(&self) -> DmName {
        // SAFETY: the target is live (type invariants), and so are its table
        // and mapped device; `dm_device_name` returns the device's
        // NUL-terminated name array, fixed from its creation.
        let name = unsafe { bindings::dm_device_name(bindings::dm_table_get_md((*self.raw()).table)) };
        if name.is_null() {
            return DmName::UNKNOWN;
        }
        // SAFETY: a NUL-terminated string (above), alive for the call.
        let name = unsafe { kernel::str::CStr::from_char_ptr(name) }.as_bytes();
        let mut out = DmName { bytes: [0; 16], len: 0 };
        let n = name.len().min(out.bytes.len());
        match (out.bytes.get_mut(..n), name.get(..n)) {
            (Some(dst), Some(src)) if core::str::from_utf8(src).is_ok() => {
                dst.copy_from_slice(src);
                out.len = n as u8;
                out
            }
            _ => DmName::UNKNOWN,
        }
    }
}

/// Logs at `$level` (`pr_err`, `pr_warn`, `pr_info`) a line naming `$dev`,
/// unless this call site's rate limit holds it back.
#[doc(hidden)]
macro_rules! dm_log_limited {
    ($level:ident, $dev:expr, $($arg:tt)+) => {{
        static LIMIT: $crate::dm::log::RateLimit = $crate::dm::log::RateLimit::new();
        if LIMIT.allow(::kernel::c_str!(::core::concat!(::core::module_path!(), ":", ::core::line!()))) {
            ::kernel::$level!("{}: {}", $dev, ::core::format_args!($($arg)+));
        }
    }};
}

/// `dm_err_limited!(dev, "fmt\n", args...)`: a rate-limited error line
/// naming `dev`.
macro_rules! dm_err_limited {
    ($dev:expr, $($arg:tt)+) => { $crate::dm::log::dm_log_limited!(pr_err, $dev, $($arg)+) };
}

/// `dm_warn_limited!(dev, "fmt\n", args...)`: a rate-limited warning naming
/// `dev`.
macro_rules! dm_warn_limited {
    ($dev:expr, $($arg:tt)+) => { $crate::dm::log::dm_log_limited!(pr_warn, $dev, $($arg)+) };
}

/// `dm_info_limited!(dev, "fmt\n", args...)`: a rate-limited notice naming
/// `dev`.
macro_rules! dm_info_limited {
    ($dev:expr, $($arg:tt)+) => { $crate::dm::log::dm_log_limited!(pr_info, $dev, $($arg)+) };
}

pub(crate) use {dm_err_limited, dm_info_limited, dm_log_limited, dm_warn_limited};

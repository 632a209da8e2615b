// SPDX-License-Identifier: GPL-2.0
//! The `remap` table line:
//! `<main_dev> <spare_dev> [<#opt_args> <opt_arg>...]`.
//!
//! Parsing checks the shape of the line; whether the devices exist and fit
//! together is the constructor's business. Every rejection has its own
//! message, which the constructor hands to device-mapper as `ti->error`.

use core::ffi::CStr;
use core::fmt;

use super::number::parse_u32;
use super::policy::{Policies, Policy};

/// Why a table line was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableError {
    /// Fewer than the two device arguments.
    MissingDevices,
    /// The optional-argument count is not a decimal number.
    BadOptionCount,
    /// The optional-argument count differs from the arguments that follow.
    OptionCountMismatch,
    /// An optional argument this version does not know.
    UnknownOption,
    /// An optional argument's value is missing or out of range.
    BadOptionValue,
}

impl TableError {
    /// The message for `ti->error`.
    pub fn message(self) -> &'static CStr {
        match self {
            Self::MissingDevices => {
                c"Invalid argument count: expected <main_dev> <spare_dev> [<#opt_args> <opt_arg>...]"
            }
            Self::BadOptionCount => c"Invalid optional argument count",
            Self::OptionCountMismatch => c"Optional argument count does not match the arguments given",
            Self::UnknownOption => c"Unknown optional argument",
            Self::BadOptionValue => c"Invalid optional argument value",
        }
    }
}

/// Optional arguments, all at their defaults when absent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `force_format`: format the spare even when it holds damaged or
    /// unreadable dm-remap metadata. A one-time action: it is not reported
    /// back in the table line, so a saved table cannot wipe a spare later.
    pub force_format: bool,
    /// `<policy> <value>` pairs (see [`super::policy`]).
    pub policies: Policies,
}

impl Options {
    fn parse(args: &[&[u8]]) -> Result<Self, TableError> {
        let mut options = Self::default();
        let mut words = args.iter();
        while let Some(&word) = words.next() {
            if word == b"force_format" {
                options.force_format = true;
            } else if Policy::is_name(word) {
                let value = words.next().ok_or(TableError::BadOptionValue)?;
                let p = Policy::parse(word, value).map_err(|_| TableError::BadOptionValue)?;
                options.policies.apply(p);
            } else {
                return Err(TableError::UnknownOption);
            }
        }
        Ok(options)
    }

    /// Writes the optional-argument part of the table line (nothing when
    /// every policy is at its default; `force_format` is never reported),
    /// each word preceded by a space.
    pub fn emit(&self, out: &mut impl fmt::Write) -> fmt::Result {
        match self.policies.changed_words() {
            0 => Ok(()),
            n => {
                write!(out, " {n}")?;
                self.policies.emit_changed(out)
            }
        }
    }
}

/// A parsed table line; the device arguments borrow from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableLine<'a> {
    /// Path or `major:minor` of the main device.
    pub main: &'a [u8],
    /// Path or `major:minor` of the spare device.
    pub spare: &'a [u8],
    /// Optional arguments.
    pub options: Options,
}

impl<'a> TableLine<'a> {
    /// Parses the target arguments (the words after `remap`).
    pub fn parse(args: &[&'a [u8]]) -> Result<Self, TableError> {
        let [main, spare, rest @ ..] = args else {
            return Err(TableError::MissingDevices);
        };
        let options = match rest {
            [] => Options::default(),
            [count, opts @ ..] => {
                let count = parse_u32(count).ok_or(TableError::BadOptionCount)?;
                if usize::try_from(count).ok() != Some(opts.len()) {
                    return Err(TableError::OptionCountMismatch);
                }
                Options::parse(opts)?
            }
        };
        Ok(Self { main, spare, options })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn words(line: &str) -> Vec<&[u8]> {
        line.split_whitespace().map(str::as_bytes).collect()
    }

    #[test]
    fn two_devices_parse() {
        let l = TableLine::parse(&words("/dev/loop0 7:1")).unwrap();
        assert_eq!(l.main, b"/dev/loop0");
        assert_eq!(l.spare, b"7:1");
        assert_eq!(l.options, Options::default());
    }

    #[test]
    fn zero_optional_arguments_parse() {
        assert!(TableLine::parse(&words("a b 0")).is_ok());
    }

    #[test]
    fn each_bad_line_has_its_own_error() {
        let cases = [
            ("", TableError::MissingDevices),
            ("a", TableError::MissingDevices),
            ("a b x", TableError::BadOptionCount),
            ("a b -1", TableError::BadOptionCount),
            ("a b 2 foo", TableError::OptionCountMismatch),
            ("a b 0 foo", TableError::OptionCountMismatch),
            ("a b 1 foo", TableError::UnknownOption),
            ("a b 1 auto_remap", TableError::BadOptionValue),
            ("a b 2 auto_remap maybe", TableError::BadOptionValue),
            ("a b 2 read_retries 17", TableError::BadOptionValue),
        ];
        for (line, want) in cases {
            assert_eq!(TableLine::parse(&words(line)), Err(want), "line {line:?}");
        }
        let mut messages: Vec<_> = cases.iter().map(|(_, e)| e.message()).collect();
        messages.dedup();
        assert_eq!(messages.len(), 5, "every error kind has a distinct message");
    }

    #[test]
    fn force_format_parses_and_is_not_reported() {
        let l = TableLine::parse(&words("a b 1 force_format")).unwrap();
        assert!(l.options.force_format);
        let mut s = String::new();
        l.options.emit(&mut s).unwrap();
        assert_eq!(s, "");
    }

    #[test]
    fn default_options_emit_nothing() {
        let mut s = String::new();
        Options::default().emit(&mut s).unwrap();
        assert_eq!(s, "");
    }

    proptest! {
        #[test]
        fn parse_never_panics(line in "[a-z0-9: -]{0,40}") {
            let _ = TableLine::parse(&words(&line));
        }

        #[test]
        fn emitted_table_line_round_trips(main in "[a-z0-9:/]{1,12}", spare in "[a-z0-9:/]{1,12}",
                                          auto_remap: bool, read_retries in 0u32..=16) {
            let mut l = TableLine::parse(&[main.as_bytes(), spare.as_bytes()]).unwrap();
            l.options.policies.apply(Policy::AutoRemap(auto_remap));
            l.options.policies.apply(Policy::ReadRetries(read_retries));
            let mut s = format!("{main} {spare}");
            l.options.emit(&mut s).unwrap();
            let again = TableLine::parse(&words(&s)).unwrap();
            prop_assert_eq!(again, l);
        }
    }
}

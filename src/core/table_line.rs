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
}

impl Options {
    fn parse(args: &[&[u8]]) -> Result<Self, TableError> {
        let mut options = Self::default();
        for &word in args {
            match word {
                b"force_format" => options.force_format = true,
                _ => return Err(TableError::UnknownOption),
            }
        }
        Ok(options)
    }

    /// Number of words `emit` writes after the count (`force_format` is
    /// never reported).
    fn word_count(&self) -> usize {
        0
    }

    /// Writes the optional-argument part of the table line (nothing when
    /// every option is at its default), each word preceded by a space.
    pub fn emit(&self, out: &mut impl fmt::Write) -> fmt::Result {
        match self.word_count() {
            0 => Ok(()),
            n => write!(out, " {n}"),
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
        ];
        for (line, want) in cases {
            assert_eq!(TableLine::parse(&words(line)), Err(want), "line {line:?}");
        }
        let mut messages: Vec<_> = cases.iter().map(|(_, e)| e.message()).collect();
        messages.dedup();
        assert_eq!(messages.len(), 4, "every error kind has a distinct message");
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
        fn emitted_table_line_round_trips(main in "[a-z0-9:/]{1,12}", spare in "[a-z0-9:/]{1,12}") {
            let l = TableLine::parse(&[main.as_bytes(), spare.as_bytes()]).unwrap();
            let mut s = format!("{main} {spare}");
            l.options.emit(&mut s).unwrap();
            let again = TableLine::parse(&words(&s)).unwrap();
            prop_assert_eq!(again, l);
        }
    }
}

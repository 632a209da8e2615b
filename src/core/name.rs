// SPDX-License-Identifier: GPL-2.0
//! Values shown as words (health, extent and scan states) read back with
//! `FromStr`; this is the error when a word names none of them.

use core::fmt;

/// A word that names none of the values it should.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownName;

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown name")
    }
}

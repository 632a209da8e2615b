// SPDX-License-Identifier: GPL-2.0
//! Strict parsing of the unsigned decimal numbers that table lines and
//! messages carry: ASCII digits only, no sign, no blanks, no overflow.

/// Parses `s` as an unsigned decimal `u64`.
///
/// Returns `None` for an empty string, any byte that is not an ASCII digit
/// (so `-1`, `+1`, `0x10` and `1 ` are refused), and values above `u64::MAX`.
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for &b in s {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        value = value.checked_mul(10)?.checked_add(u64::from(digit))?;
    }
    Some(value)
}

/// Parses `s` as an unsigned decimal `u32`, with the rules of [`parse_u64`].
pub fn parse_u32(s: &[u8]) -> Option<u32> {
    parse_u64(s).and_then(|v| u32::try_from(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_plain_decimals() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"007"), Some(7));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
    }

    #[test]
    fn refuses_signs_blanks_hex_and_overflow() {
        for bad in ["", "-1", "+1", " 1", "1 ", "0x10", "1e3", "18446744073709551616", "١"] {
            assert_eq!(parse_u64(bad.as_bytes()), None, "{bad:?} must be refused");
        }
        assert_eq!(parse_u32(b"4294967296"), None);
    }

    proptest! {
        #[test]
        fn round_trips_every_u64(v: u64) {
            prop_assert_eq!(parse_u64(v.to_string().as_bytes()), Some(v));
        }

        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = parse_u64(s.as_bytes());
        }
    }
}

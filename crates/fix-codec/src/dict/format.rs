//! Value checks by field type and against enumerations, matching QuickFIX's field convertors.

use super::{FieldDef, FieldType};
use crate::field::is_decimal;

#[inline]
fn all_digits(v: &[u8]) -> bool {
    !v.is_empty() && v.iter().all(u8::is_ascii_digit)
}

#[inline]
pub(crate) fn is_int(v: &[u8]) -> bool {
    // QuickFIX's IntConvertor: optional '-', at least one digit, nothing else (no '+', no spaces).
    match v.split_first() {
        Some((b'-', rest)) => all_digits(rest),
        _ => all_digits(v),
    }
}

#[inline]
fn two(v: &[u8]) -> Option<u32> {
    match v {
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
            Some(u32::from(a - b'0') * 10 + u32::from(b - b'0'))
        }
        _ => None,
    }
}

const LOW_NIBBLES: u64 = 0x0F0F_0F0F_0F0F_0F0F;
const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
const ZEROS: u64 = 0x3030_3030_3030_3030;

/// Whether the eight bytes of `w` are all ASCII digits: every high nibble is 3, and adding 6 to
/// the low nibble does not carry (a low nibble of at most 9). No carry crosses a byte.
#[inline(always)]
fn digits8(w: u64) -> bool {
    w & HIGH_NIBBLES == ZEROS && ((w & LOW_NIBBLES) + 0x0606_0606_0606_0606) & HIGH_NIBBLES == 0
}

/// The two-digit number in bytes `i` and `i + 1` of `w` (digits already checked).
#[inline(always)]
fn pair(w: u64, i: u32) -> u32 {
    ((w >> (8 * i)) & 0xF) as u32 * 10 + ((w >> (8 * i + 8)) & 0xF) as u32
}

#[inline(always)]
fn word8(v: &[u8]) -> Option<u64> {
    v.first_chunk::<8>().map(|b| u64::from_le_bytes(*b))
}

/// `YYYYMMDD` in one word: digits, month 1-12, day 1-31 (QuickFIX does not check the month's
/// length).
#[inline(always)]
fn date_word(w: u64) -> bool {
    digits8(w) && (1..=12).contains(&pair(w, 4)) && (1..=31).contains(&pair(w, 6))
}

/// `HH:MM:SS` in one word: hours up to 23, minutes up to 59, seconds up to 60 (leap second).
#[inline(always)]
fn time_word(w: u64) -> bool {
    const COLONS: u64 = 0x0000_FF00_00FF_0000;
    w & COLONS == 0x0000_3A00_003A_0000
        && digits8((w & !COLONS) | (ZEROS & COLONS))
        && pair(w, 0) <= 23
        && pair(w, 3) <= 59
        && pair(w, 6) <= 60
}

/// What may follow `HH:MM:SS`: nothing, or a fraction of 1 to 9 digits.
#[inline(always)]
fn fraction_ok(rest: &[u8]) -> bool {
    match rest {
        [] => true,
        [b'.', frac @ ..] => frac.len() <= 9 && all_digits(frac),
        _ => false,
    }
}

/// `YYYYMMDD` with month 1-12 and day 1-31 (QuickFIX does not check the month's length).
#[inline]
fn is_date(v: &[u8]) -> bool {
    v.len() == 8 && word8(v).is_some_and(date_word)
}

/// `HH:MM:SS` with an optional fraction of 1 to 9 digits; seconds up to 60 (leap second).
#[inline]
fn is_time(v: &[u8]) -> bool {
    word8(v).is_some_and(time_word) && fraction_ok(&v[8..])
}

/// `YYYYMMDD-HH:MM:SS[.f{1,9}]`, with two word loads instead of a byte at a time.
#[inline]
pub(crate) fn is_timestamp(v: &[u8]) -> bool {
    match (word8(v), v.get(8), v.get(9..).and_then(word8)) {
        (Some(date), Some(b'-'), Some(time)) => {
            date_word(date) && time_word(time) && fraction_ok(&v[17..])
        }
        _ => false,
    }
}

#[inline]
fn is_month_year(v: &[u8]) -> bool {
    if v.len() < 6 || !all_digits(&v[..4]) || !two(&v[4..6]).is_some_and(|m| (1..=12).contains(&m))
    {
        return false;
    }
    match &v[6..] {
        [] => true,
        [b'w', n] => (b'1'..=b'5').contains(n),
        d => two(d).is_some_and(|d| (1..=31).contains(&d)),
    }
}

/// Whether `v` is well-formed for `ftype`.
#[inline]
pub(crate) fn format_ok(ftype: FieldType, v: &[u8]) -> bool {
    match ftype {
        FieldType::String
        | FieldType::Data
        | FieldType::Code
        | FieldType::MultipleValue
        | FieldType::Unknown => true,
        FieldType::Char => v.len() == 1,
        FieldType::Int | FieldType::Length | FieldType::SeqNum | FieldType::NumInGroup => is_int(v),
        FieldType::Float => is_decimal(v),
        FieldType::Boolean => matches!(v, b"Y" | b"N"),
        FieldType::UtcTimestamp => is_timestamp(v),
        FieldType::UtcTimeOnly => is_time(v),
        FieldType::Date => is_date(v),
        FieldType::MonthYear => is_month_year(v),
        FieldType::DayOfMonth => match v {
            [d] => (b'1'..=b'9').contains(d),
            _ => two(v).is_some_and(|d| (1..=31).contains(&d)),
        },
    }
}

/// Whether `v` is an allowed value of the field (true when it has no enumeration).
#[inline(never)]
pub(crate) fn value_ok(def: &FieldDef, v: &[u8]) -> bool {
    let Some(enums) = def.enums.as_deref() else {
        return true;
    };
    if def.ftype == FieldType::MultipleValue {
        v.split(|&b| b == b' ').all(|part| enums.contains(part))
    } else {
        enums.contains(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The byte-at-a-time checks the word versions replaced: the reference they must equal.
    mod reference {
        use super::super::all_digits;

        fn two(v: &[u8]) -> Option<u32> {
            match v {
                [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
                    Some(u32::from(a - b'0') * 10 + u32::from(b - b'0'))
                }
                _ => None,
            }
        }

        pub fn is_date(v: &[u8]) -> bool {
            v.len() == 8
                && all_digits(&v[..4])
                && two(&v[4..6]).is_some_and(|m| (1..=12).contains(&m))
                && two(&v[6..8]).is_some_and(|d| (1..=31).contains(&d))
        }

        pub fn is_time(v: &[u8]) -> bool {
            if v.len() < 8 || v[2] != b':' || v[5] != b':' {
                return false;
            }
            let ok = two(&v[0..2]).is_some_and(|h| h <= 23)
                && two(&v[3..5]).is_some_and(|m| m <= 59)
                && two(&v[6..8]).is_some_and(|s| s <= 60);
            ok && match &v[8..] {
                [] => true,
                [b'.', frac @ ..] => frac.len() <= 9 && all_digits(frac),
                _ => false,
            }
        }

        pub fn is_timestamp(v: &[u8]) -> bool {
            v.len() >= 17 && v[8] == b'-' && is_date(&v[..8]) && is_time(&v[9..])
        }
    }

    /// Timestamp-shaped bytes: mostly digits and the right separators, with every byte value
    /// possible at every position.
    fn stamp_like() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            6 => b'0'..=b'9',
            1 => Just(b':'),
            1 => Just(b'-'),
            1 => Just(b'.'),
            1 => any::<u8>(),
        ];
        let template = prop_oneof![
            Just(b"20240229-23:59:60.123".to_vec()),
            Just(b"19991231-00:00:00".to_vec()),
            Just(b"12:34:56.123456789".to_vec()),
            Just(b"20240101".to_vec()),
        ];
        (
            template,
            proptest::collection::vec((0usize..24, byte), 0..3),
            0usize..4,
        )
            .prop_map(|(mut t, edits, cut)| {
                for (i, b) in edits {
                    if let Some(slot) = t.get_mut(i) {
                        *slot = b;
                    }
                }
                if cut > 2 {
                    t.truncate(t.len().saturating_sub(cut));
                }
                t
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 4096,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0xF1C5),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn word_checks_equal_the_byte_checks(v in stamp_like()) {
            prop_assert_eq!(is_date(&v), reference::is_date(&v));
            prop_assert_eq!(is_time(&v), reference::is_time(&v));
            prop_assert_eq!(is_timestamp(&v), reference::is_timestamp(&v));
            for start in 0..v.len().min(10) {
                let s = &v[start..];
                prop_assert_eq!(is_date(s), reference::is_date(s));
                prop_assert_eq!(is_time(s), reference::is_time(s));
                prop_assert_eq!(is_timestamp(s), reference::is_timestamp(s));
            }
        }

        #[test]
        fn word_checks_equal_the_byte_checks_on_any_bytes(
            v in proptest::collection::vec(any::<u8>(), 0..24)
        ) {
            prop_assert_eq!(is_date(&v), reference::is_date(&v));
            prop_assert_eq!(is_time(&v), reference::is_time(&v));
            prop_assert_eq!(is_timestamp(&v), reference::is_timestamp(&v));
        }
    }

    #[test]
    fn every_month_day_hour_minute_second_boundary() {
        for (m, ok) in [(0, false), (1, true), (12, true), (13, false), (19, false)] {
            let v = format!("2024{m:02}15");
            assert_eq!(is_date(v.as_bytes()), ok, "{v}");
        }
        for (d, ok) in [(0, false), (1, true), (31, true), (32, false), (39, false)] {
            let v = format!("202401{d:02}");
            assert_eq!(is_date(v.as_bytes()), ok, "{v}");
        }
        for (h, mi, s, ok) in [
            (23, 59, 60, true),
            (24, 0, 0, false),
            (0, 60, 0, false),
            (0, 0, 61, false),
            (29, 0, 0, false),
        ] {
            let v = format!("{h:02}:{mi:02}:{s:02}");
            assert_eq!(is_time(v.as_bytes()), ok, "{v}");
        }
    }

    #[test]
    fn ints() {
        for ok in [&b"0"[..], b"-12", b"0012", b"99999999999999999999999"] {
            assert!(format_ok(FieldType::Int, ok), "{ok:?}");
        }
        for bad in [&b""[..], b"-", b"+1", b"1.0", b" 1", b"1a"] {
            assert!(!format_ok(FieldType::Int, bad), "{bad:?}");
        }
    }

    #[test]
    fn timestamps() {
        for ok in [
            &b"20240229-23:59:60"[..],
            b"20240101-00:00:00.1",
            b"20240101-00:00:00.123456789",
        ] {
            assert!(format_ok(FieldType::UtcTimestamp, ok), "{ok:?}");
        }
        for bad in [
            &b"20241301-00:00:00"[..],
            b"20240101-24:00:00",
            b"20240101-00:00:00.",
            b"20240101-00:00:00.1234567890",
            b"20240101 00:00:00",
            b"2024010-00:00:00",
        ] {
            assert!(!format_ok(FieldType::UtcTimestamp, bad), "{bad:?}");
        }
        assert!(format_ok(FieldType::UtcTimeOnly, b"12:34:56.789"));
        assert!(!format_ok(FieldType::UtcTimeOnly, b"12:34"));
    }

    #[test]
    fn dates_and_month_year() {
        assert!(format_ok(FieldType::Date, b"20240131"));
        assert!(!format_ok(FieldType::Date, b"20240132"));
        assert!(!format_ok(FieldType::Date, b"2024013"));
        for ok in [&b"202401"[..], b"20240115", b"202401w3"] {
            assert!(format_ok(FieldType::MonthYear, ok), "{ok:?}");
        }
        for bad in [&b"2024"[..], b"202413", b"202401w6", b"2024011"] {
            assert!(!format_ok(FieldType::MonthYear, bad), "{bad:?}");
        }
        assert!(format_ok(FieldType::DayOfMonth, b"7"));
        assert!(format_ok(FieldType::DayOfMonth, b"31"));
        assert!(!format_ok(FieldType::DayOfMonth, b"32"));
        assert!(!format_ok(FieldType::DayOfMonth, b"0"));
    }

    #[test]
    fn scalars() {
        assert!(format_ok(FieldType::Char, b"x"));
        assert!(!format_ok(FieldType::Char, b"xy"));
        assert!(!format_ok(FieldType::Char, b""));
        assert!(format_ok(FieldType::Boolean, b"N"));
        assert!(!format_ok(FieldType::Boolean, b"n"));
        assert!(format_ok(FieldType::Float, b"002000.00"));
        assert!(!format_ok(FieldType::Float, b"+200.00"));
        assert!(format_ok(FieldType::String, b""));
    }
}

//! Value checks by field type and against enumerations, matching QuickFIX's field convertors.

use super::{FieldDef, FieldType};
use crate::field::is_decimal;

#[inline]
fn all_digits(v: &[u8]) -> bool {
    !v.is_empty() && v.iter().all(u8::is_ascii_digit)
}

#[inline]
fn is_int(v: &[u8]) -> bool {
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

/// `YYYYMMDD` with month 1-12 and day 1-31 (QuickFIX does not check the month's length).
#[inline]
fn is_date(v: &[u8]) -> bool {
    v.len() == 8
        && all_digits(&v[..4])
        && two(&v[4..6]).is_some_and(|m| (1..=12).contains(&m))
        && two(&v[6..8]).is_some_and(|d| (1..=31).contains(&d))
}

/// `HH:MM:SS` with an optional fraction of 1 to 9 digits; seconds up to 60 (leap second).
#[inline]
fn is_time(v: &[u8]) -> bool {
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
        FieldType::UtcTimestamp => {
            v.len() >= 17 && v[8] == b'-' && is_date(&v[..8]) && is_time(&v[9..])
        }
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
#[inline]
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

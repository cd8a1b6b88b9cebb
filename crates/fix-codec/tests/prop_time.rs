//! Property tests for the FIX time types: format/parse round trips for random instants at every
//! precision, parsing checked against a naive calendar, the formatter's cache, and no panics on
//! arbitrary bytes.
//!
//! Runs are deterministic (fixed seed); set `PROPTEST_RNG_SEED` / `PROPTEST_CASES` to explore further.

mod prop_util;

use fix_codec::time::{LocalMktDate, TimestampFormatter, UtcTimeOnly};
use fix_codec::{TimePrecision, UtcTimestamp};
use proptest::prelude::*;

/// Fixed seed unless the environment asks for another: CI runs must be reproducible.
fn config(cases: u32) -> ProptestConfig {
    prop_util::config(cases, 0x00f1_c0de_c0de_0003)
}

const PRECISIONS: [TimePrecision; 4] = [
    TimePrecision::Seconds,
    TimePrecision::Millis,
    TimePrecision::Micros,
    TimePrecision::Nanos,
];

/// 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z in Unix seconds: the four-digit-year range.
const MIN_SECS: i64 = -62_167_219_200;
const END_SECS: i64 = 253_402_300_800;

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn month_len(y: i64, m: u32) -> u32 {
    [
        31,
        if is_leap(y) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][m as usize - 1]
}

/// Days from 1970-01-01 by counting whole years and months: slow, obviously right, and independent
/// of the closed-form algorithm the codec uses.
fn naive_days(y: i64, m: u32, d: u32) -> i64 {
    let mut days = 0i64;
    if y >= 1970 {
        for year in 1970..y {
            days += if is_leap(year) { 366 } else { 365 };
        }
    } else {
        for year in y..1970 {
            days -= if is_leap(year) { 366 } else { 365 };
        }
    }
    for month in 1..m {
        days += i64::from(month_len(y, month));
    }
    days + i64::from(d) - 1
}

/// A valid calendar date with a four-digit year.
fn date() -> impl Strategy<Value = (i64, u32, u32)> {
    (
        prop_oneof![0i64..=9999, 1900i64..2100],
        1u32..=12,
        1u32..=31,
    )
        .prop_map(|(y, m, d)| (y, m, d.min(month_len(y, m))))
}

/// The number `frac` written as exactly `digits` digits, or nothing for zero digits.
fn fraction_text(frac: u32, digits: usize) -> String {
    match digits {
        0 => String::new(),
        n => format!(".{:0width$}", frac % 10u32.pow(n as u32), width = n),
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// Formatting then parsing gives the instant back, truncated to the precision.
    #[test]
    fn format_parse_round_trip(
        secs in prop_oneof![MIN_SECS..END_SECS, 0i64..4_102_444_800],
        nanos in 0u32..1_000_000_000,
    ) {
        let t = UtcTimestamp::from_unix_nanos(i128::from(secs) * 1_000_000_000 + i128::from(nanos));
        for p in PRECISIONS {
            let mut buf = [0u8; 27];
            let n = t.format_into(p, &mut buf);
            prop_assert_eq!(n, p.timestamp_len());
            let text = &buf[..n];
            let parsed = UtcTimestamp::parse(text);
            let unit = 10u32.pow(9 - p.digits() as u32);
            let truncated = UtcTimestamp::from_unix_nanos(
                i128::from(secs) * 1_000_000_000 + i128::from(nanos - nanos % unit),
            );
            prop_assert_eq!(parsed, Some(truncated), "{}", String::from_utf8_lossy(text));
            let owned = t.to_fix_string(p);
            prop_assert_eq!(owned.as_bytes(), text);
            // The time part alone parses as a UTCTimeOnly of the same time of day.
            let tod = UtcTimeOnly::parse(&text[9..]).expect("time part");
            let sod = secs.rem_euclid(86_400) as u64;
            prop_assert_eq!(tod.nanos_of_day, sod * 1_000_000_000 + u64::from(nanos - nanos % unit));
            // And the date part as a LocalMktDate.
            prop_assert!(LocalMktDate::parse(&text[..8]).is_some());
        }
    }

    /// Parsing agrees with a naive calendar for every valid text, at every precision.
    #[test]
    fn parse_matches_naive_calendar(
        (y, m, d) in date(),
        (h, mi, s) in (0u32..24, 0u32..60, 0u32..60),
        frac in any::<u32>(),
        digits in proptest::sample::select(&[0usize, 3, 6, 9][..]),
    ) {
        let text = format!("{y:04}{m:02}{d:02}-{h:02}:{mi:02}:{s:02}{}", fraction_text(frac, digits));
        let t = UtcTimestamp::parse(text.as_bytes());
        let expected_secs = naive_days(y, m, d) * 86_400
            + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
        let expected_nanos = if digits == 0 {
            0
        } else {
            (frac % 10u32.pow(digits as u32)) * 10u32.pow(9 - digits as u32)
        };
        let t = t.ok_or_else(|| TestCaseError::fail(format!("rejected {text}")))?;
        prop_assert_eq!(t.unix_secs(), expected_secs, "{}", text);
        prop_assert_eq!(t.subsec_nanos(), expected_nanos, "{}", text);
        prop_assert_eq!(
            LocalMktDate::parse(&text.as_bytes()[..8]),
            Some(LocalMktDate { year: y as u16, month: m as u8, day: d as u8 })
        );
    }

    /// Out-of-range fields and wrong fraction lengths are rejected.
    #[test]
    fn invalid_components_are_rejected(
        (y, m, d) in date(),
        bad in 0u8..6,
        n in 0u32..100,
    ) {
        let (mut mm, mut dd, mut h, mut mi, mut s, mut frac) =
            (m, d, 12u32, 30u32, 30u32, String::new());
        match bad {
            0 => mm = if n % 2 == 0 { 0 } else { 13 + n % 87 },
            1 => dd = if n % 2 == 0 { 0 } else { month_len(y, m) + 1 + n % (99 - month_len(y, m)) },
            2 => h = 24 + n % 76,
            3 => mi = 60 + n % 40,
            4 => s = 61 + n % 39,
            _ => frac = format!(".{}", "1".repeat([1usize, 2, 4, 5, 7, 8, 10][n as usize % 7])),
        }
        let text = format!("{y:04}{mm:02}{dd:02}-{h:02}:{mi:02}:{s:02}{frac}");
        prop_assert_eq!(UtcTimestamp::parse(text.as_bytes()), None, "{}", text);
    }

    /// The caching formatter writes what the direct formatter writes, whatever the order of the
    /// instants (forward, backward, same second, across days).
    #[test]
    fn cached_formatter_matches_direct_format(
        steps in proptest::collection::vec(
            (prop_oneof![
                -2_000_000_000i64..2_000_000_000,
                -100_000_000_000_000i64..100_000_000_000_000,
            ], proptest::sample::select(&PRECISIONS[..])),
            1..40,
        ),
        start in 0i64..4_102_444_800,
    ) {
        let mut f = TimestampFormatter::new();
        let mut nanos = i128::from(start) * 1_000_000_000;
        for (delta, p) in steps {
            nanos = (nanos + i128::from(delta)).clamp(0, i128::from(END_SECS) * 1_000_000_000 - 1);
            let t = UtcTimestamp::from_unix_nanos(nanos);
            let (mut a, mut b) = ([0u8; 27], [0u8; 27]);
            let la = f.format(t, p, &mut a);
            let lb = t.format_into(p, &mut b);
            prop_assert_eq!(&a[..la], &b[..lb]);
        }
    }

    /// Arbitrary bytes never panic the time parsers.
    #[test]
    fn time_parsers_do_not_panic_on_arbitrary_bytes(
        raw in proptest::collection::vec(any::<u8>(), 0..40),
        shaped in "[0-9]{0,9}[-: .]?[0-9:]{0,12}[.]?[0-9]{0,11}",
    ) {
        for v in [&raw[..], shaped.as_bytes()] {
            let _ = UtcTimestamp::parse(v);
            let _ = UtcTimeOnly::parse(v);
            let _ = LocalMktDate::parse(v);
        }
    }

    /// A leap second is the first instant of the next minute.
    #[test]
    fn leap_second_folds_into_next_minute((y, m, d) in date(), h in 0u32..24, mi in 0u32..60) {
        let leap = format!("{y:04}{m:02}{d:02}-{h:02}:{mi:02}:60");
        let t = UtcTimestamp::parse(leap.as_bytes()).expect("SS=60 is valid");
        let expected = naive_days(y, m, d) * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + 60;
        prop_assert_eq!(t.unix_secs(), expected);
    }
}

#[test]
fn naive_calendar_is_right_on_known_dates() {
    assert_eq!(naive_days(1970, 1, 1), 0);
    assert_eq!(naive_days(2000, 3, 1), 11_017);
    assert_eq!(naive_days(1969, 12, 31), -1);
    assert_eq!(naive_days(0, 1, 1) * 86_400, MIN_SECS);
    assert_eq!(naive_days(9999, 12, 31) * 86_400 + 86_400, END_SECS);
}

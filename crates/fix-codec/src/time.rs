//! FIX time types: `UTCTimestamp`, `UTCTimeOnly`, `LocalMktDate` / `UTCDateOnly`.
//!
//! Parsing is strict (exact digit counts, ranges checked) and formatting writes into caller memory.
//! Nothing here reads a clock: the caller passes the current time in.

/// Sub-second precision of a formatted `UTCTimestamp` / `UTCTimeOnly`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimePrecision {
    /// `HH:MM:SS` (FIX 4.0 / 4.1 allow only this).
    Seconds,
    /// `HH:MM:SS.sss` (the common default from FIX 4.2 on).
    #[default]
    Millis,
    /// `HH:MM:SS.ssssss`.
    Micros,
    /// `HH:MM:SS.sssssssss`.
    Nanos,
}

impl TimePrecision {
    /// Number of fractional digits.
    pub const fn digits(self) -> usize {
        match self {
            Self::Seconds => 0,
            Self::Millis => 3,
            Self::Micros => 6,
            Self::Nanos => 9,
        }
    }

    /// Length of a formatted `UTCTimestamp` with this precision.
    pub const fn timestamp_len(self) -> usize {
        match self {
            Self::Seconds => 17,
            p => 18 + p.digits(),
        }
    }
}

/// A point in UTC with nanosecond resolution, as carried by `SendingTime <52>` and friends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UtcTimestamp {
    nanos_since_epoch: i128,
}

const NANOS_PER_SEC: i128 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

impl UtcTimestamp {
    /// The Unix epoch.
    pub const UNIX_EPOCH: Self = Self {
        nanos_since_epoch: 0,
    };

    /// From nanoseconds since the Unix epoch.
    pub const fn from_unix_nanos(nanos: i128) -> Self {
        Self {
            nanos_since_epoch: nanos,
        }
    }

    /// From whole seconds since the Unix epoch.
    pub const fn from_unix_secs(secs: i64) -> Self {
        Self {
            nanos_since_epoch: secs as i128 * NANOS_PER_SEC,
        }
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn unix_nanos(self) -> i128 {
        self.nanos_since_epoch
    }

    /// Whole seconds since the Unix epoch (floored).
    pub const fn unix_secs(self) -> i64 {
        // Every time of this era fits 64 bits (years 1677 - 2262): a 64-bit division is a
        // multiplication, a 128-bit one a library call (`__divti3`), paid per sent message.
        let n = self.nanos_since_epoch;
        if n >= i64::MIN as i128 && n <= i64::MAX as i128 {
            (n as i64).div_euclid(NANOS_PER_SEC as i64)
        } else {
            n.div_euclid(NANOS_PER_SEC) as i64
        }
    }

    /// Nanoseconds within the second.
    pub const fn subsec_nanos(self) -> u32 {
        let n = self.nanos_since_epoch;
        if n >= i64::MIN as i128 && n <= i64::MAX as i128 {
            (n as i64).rem_euclid(NANOS_PER_SEC as i64) as u32
        } else {
            n.rem_euclid(NANOS_PER_SEC) as u32
        }
    }

    /// Shift by a signed number of nanoseconds.
    pub const fn add_nanos(self, nanos: i128) -> Self {
        Self {
            nanos_since_epoch: self.nanos_since_epoch + nanos,
        }
    }

    /// Absolute difference in nanoseconds.
    pub fn abs_diff_nanos(self, other: Self) -> u128 {
        self.nanos_since_epoch.abs_diff(other.nanos_since_epoch)
    }

    /// Parse `YYYYMMDD-HH:MM:SS[.s{3,6,9}]`. A leap second (`:60`) is accepted and folded into the next
    /// second, as the FIX specification allows `SS` up to 60.
    pub fn parse(v: &[u8]) -> Option<Self> {
        if v.len() < 17 || v[8] != b'-' {
            return None;
        }
        let days = parse_date(&v[..8])?;
        let (secs_of_day, nanos) = parse_time(&v[9..])?;
        let secs = days * SECS_PER_DAY + secs_of_day;
        Some(Self {
            nanos_since_epoch: secs as i128 * NANOS_PER_SEC + nanos as i128,
        })
    }

    /// Format into `out` with the given precision; returns the number of bytes written
    /// ([`TimePrecision::timestamp_len`]). `out` must be at least that long.
    pub fn format_into(self, precision: TimePrecision, out: &mut [u8]) -> usize {
        let secs = self.unix_secs();
        let (y, m, d) = civil_from_days(secs.div_euclid(SECS_PER_DAY));
        let sod = secs.rem_euclid(SECS_PER_DAY);
        write_digits(&mut out[0..4], y as u64);
        write_digits(&mut out[4..6], m as u64);
        write_digits(&mut out[6..8], d as u64);
        out[8] = b'-';
        write_hms(&mut out[9..17], sod);
        write_fraction(&mut out[17..], self.subsec_nanos(), precision);
        precision.timestamp_len()
    }

    /// Format into a fixed array (convenience for tests and cold paths).
    pub fn to_fix_string(self, precision: TimePrecision) -> String {
        let mut buf = [0u8; 27];
        let n = self.format_into(precision, &mut buf);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

/// `UTCTimeOnly`: time of day in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcTimeOnly {
    /// Nanoseconds since midnight.
    pub nanos_of_day: u64,
}

impl UtcTimeOnly {
    /// Parse `HH:MM:SS[.s{3,6,9}]`.
    pub fn parse(v: &[u8]) -> Option<Self> {
        let (secs, nanos) = parse_time(v)?;
        Some(Self {
            nanos_of_day: secs as u64 * 1_000_000_000 + u64::from(nanos),
        })
    }
}

/// `LocalMktDate` / `UTCDateOnly`: `YYYYMMDD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalMktDate {
    /// Year.
    pub year: u16,
    /// Month, 1-12.
    pub month: u8,
    /// Day of month, 1-31.
    pub day: u8,
}

impl LocalMktDate {
    /// Parse `YYYYMMDD`, checking the day against the month's length.
    pub fn parse(v: &[u8]) -> Option<Self> {
        if v.len() != 8 {
            return None;
        }
        let (year, month, day) = parse_ymd(v)?;
        Some(Self {
            year: year as u16,
            month: month as u8,
            day: day as u8,
        })
    }
}

/// Formats `SendingTime`-style timestamps, caching the `YYYYMMDD-HH:MM:SS` text of the last second
/// so that consecutive calls within a second copy 17 bytes and format only the fraction.
#[derive(Debug, Clone)]
pub struct TimestampFormatter {
    cached_second: i64,
    cached: [u8; 17],
}

impl Default for TimestampFormatter {
    fn default() -> Self {
        Self::new()
    }
}

impl TimestampFormatter {
    /// An empty cache.
    pub const fn new() -> Self {
        Self {
            cached_second: i64::MIN,
            cached: [0; 17],
        }
    }

    /// Format `ts` into `out` (at least [`TimePrecision::timestamp_len`] bytes); returns the length.
    #[inline]
    pub fn format(&mut self, ts: UtcTimestamp, precision: TimePrecision, out: &mut [u8]) -> usize {
        let secs = ts.unix_secs();
        if secs != self.cached_second {
            UtcTimestamp::from_unix_secs(secs)
                .format_into(TimePrecision::Seconds, &mut self.cached);
            self.cached_second = secs;
        }
        out[..17].copy_from_slice(&self.cached);
        write_fraction(&mut out[17..], ts.subsec_nanos(), precision);
        precision.timestamp_len()
    }
}

fn write_fraction(out: &mut [u8], nanos: u32, precision: TimePrecision) {
    let digits = precision.digits();
    if digits == 0 {
        return;
    }
    out[0] = b'.';
    let scaled = nanos / 10u32.pow(9 - digits as u32);
    write_digits(&mut out[1..1 + digits], u64::from(scaled));
}

fn write_hms(out: &mut [u8], sod: i64) {
    let (h, m, s) = (sod / 3600, (sod / 60) % 60, sod % 60);
    write_digits(&mut out[0..2], h as u64);
    out[2] = b':';
    write_digits(&mut out[3..5], m as u64);
    out[5] = b':';
    write_digits(&mut out[6..8], s as u64);
}

/// Write `n` as exactly `out.len()` zero-padded decimal digits (the high digits are dropped if `n`
/// does not fit, which callers rule out).
#[inline]
pub fn write_digits(out: &mut [u8], mut n: u64) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

#[inline]
fn digits_value(v: &[u8]) -> Option<u32> {
    let mut n = 0u32;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(b - b'0');
    }
    Some(n)
}

fn parse_ymd(v: &[u8]) -> Option<(i64, u32, u32)> {
    let year = digits_value(&v[0..4])? as i64;
    let month = digits_value(&v[4..6])?;
    let day = digits_value(&v[6..8])?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some((year, month, day))
}

fn parse_date(v: &[u8]) -> Option<i64> {
    let (y, m, d) = parse_ymd(v)?;
    Some(days_from_civil(y, m, d))
}

/// Parse `HH:MM:SS[.fraction]` into (seconds of day, nanoseconds).
fn parse_time(v: &[u8]) -> Option<(i64, u32)> {
    if v.len() < 8 || v[2] != b':' || v[5] != b':' {
        return None;
    }
    let h = digits_value(&v[0..2])?;
    let m = digits_value(&v[3..5])?;
    let s = digits_value(&v[6..8])?;
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    let nanos = match &v[8..] {
        [] => 0,
        [b'.', frac @ ..] if matches!(frac.len(), 3 | 6 | 9) => {
            digits_value(frac)? * 10u32.pow(9 - frac.len() as u32)
        }
        _ => return None,
    };
    Some((
        i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s),
        nanos,
    ))
}

const fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

const fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if is_leap(y) {
                29
            } else {
                28
            }
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
const fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
const fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {

    #[test]
    fn seconds_and_fraction_agree_with_128_bit_arithmetic_on_both_sides_of_64_bits() {
        let cases: [i128; 10] = [
            0,
            -1,
            1,
            999_999_999,
            -1_000_000_001,
            1_795_428_930_123_456_789,
            i64::MAX as i128,
            i64::MIN as i128,
            i64::MAX as i128 + 1,
            i64::MIN as i128 - 1_500_000_000,
        ];
        for n in cases {
            let t = UtcTimestamp::from_unix_nanos(n);
            assert_eq!(t.unix_secs(), n.div_euclid(NANOS_PER_SEC) as i64, "{n}");
            assert_eq!(t.subsec_nanos(), n.rem_euclid(NANOS_PER_SEC) as u32, "{n}");
        }
    }

    use super::*;

    #[test]
    fn parses_all_precisions() {
        let s = UtcTimestamp::parse(b"20240229-23:59:58").unwrap();
        assert_eq!(s.unix_secs(), 1_709_251_198);
        assert_eq!(
            UtcTimestamp::parse(b"20240229-23:59:58.123")
                .unwrap()
                .subsec_nanos(),
            123_000_000
        );
        assert_eq!(
            UtcTimestamp::parse(b"20240229-23:59:58.123456")
                .unwrap()
                .subsec_nanos(),
            123_456_000
        );
        assert_eq!(
            UtcTimestamp::parse(b"20240229-23:59:58.123456789")
                .unwrap()
                .subsec_nanos(),
            123_456_789
        );
        assert_eq!(
            UtcTimestamp::parse(b"19700101-00:00:00").unwrap(),
            UtcTimestamp::UNIX_EPOCH
        );
    }

    #[test]
    fn rejects_bad_timestamps() {
        for bad in [
            &b"20230229-00:00:00"[..],
            b"20241301-00:00:00",
            b"20240101-24:00:00",
            b"20240101-00:60:00",
            b"20240101-00:00:61",
            b"20240101-00:00:00.12",
            b"20240101 00:00:00",
            b"2024010-00:00:00",
            b"20240101-00:00:00.",
            b"20240101-0a:00:00",
            b"",
        ] {
            assert!(
                UtcTimestamp::parse(bad).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn leap_second_accepted() {
        let a = UtcTimestamp::parse(b"20161231-23:59:60").unwrap();
        let b = UtcTimestamp::parse(b"20170101-00:00:00").unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn formats_and_round_trips() {
        let t = UtcTimestamp::from_unix_nanos(1_709_251_198_123_456_789);
        assert_eq!(t.to_fix_string(TimePrecision::Seconds), "20240229-23:59:58");
        assert_eq!(
            t.to_fix_string(TimePrecision::Millis),
            "20240229-23:59:58.123"
        );
        assert_eq!(
            t.to_fix_string(TimePrecision::Micros),
            "20240229-23:59:58.123456"
        );
        assert_eq!(
            t.to_fix_string(TimePrecision::Nanos),
            "20240229-23:59:58.123456789"
        );
        for days in (-1000..100_000).step_by(37) {
            let t = UtcTimestamp::from_unix_secs(days * 86_400 + 3_723);
            let s = t.to_fix_string(TimePrecision::Seconds);
            assert_eq!(UtcTimestamp::parse(s.as_bytes()), Some(t));
        }
    }

    #[test]
    fn formatter_cache_matches_direct_format() {
        let mut f = TimestampFormatter::new();
        let mut a = [0u8; 27];
        let mut b = [0u8; 27];
        for n in [
            0i128,
            999_999_999,
            1_000_000_000,
            86_399_999_999_999,
            1_709_251_198_123_456_789,
        ] {
            let t = UtcTimestamp::from_unix_nanos(n);
            for p in [
                TimePrecision::Seconds,
                TimePrecision::Millis,
                TimePrecision::Micros,
                TimePrecision::Nanos,
            ] {
                let la = f.format(t, p, &mut a);
                let lb = t.format_into(p, &mut b);
                assert_eq!(&a[..la], &b[..lb]);
            }
        }
    }

    #[test]
    fn time_only_and_dates() {
        assert_eq!(
            UtcTimeOnly::parse(b"01:02:03.004").unwrap().nanos_of_day,
            3_723_004_000_000
        );
        assert!(UtcTimeOnly::parse(b"1:02:03").is_none());
        assert_eq!(
            LocalMktDate::parse(b"20240229"),
            Some(LocalMktDate {
                year: 2024,
                month: 2,
                day: 29
            })
        );
        assert!(LocalMktDate::parse(b"20230229").is_none());
        assert!(LocalMktDate::parse(b"2023022").is_none());
    }
}

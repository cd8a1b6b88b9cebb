//! The line transform applied to every `I` and `E` template before it is sent or compared.
//!
//! 1. `<TIME>` becomes `now` as `YYYYMMDD-HH:MM:SS` (UTC, whole seconds); `<TIME+N>` / `<TIME-N>`
//!    shift it by N seconds.
//! 2. Only if the text starts with `8=...SOH`: without `SOH 9=` anywhere, `9=<length>` is inserted
//!    after BeginString, counting everything after the BeginString field up to an explicit trailing
//!    `10=` field (or the end); if the text does not end with a `10=...SOH` field, `10=NNN SOH` is
//!    appended (byte sum mod 256). A text that already has both is left as written: the scripts garble
//!    them on purpose.

use fix_codec::{SOH, TimePrecision, UtcTimestamp, checksum};

/// Longest `N` accepted in `<TIME+N>` (digits). Nine digits is about 31 years, far beyond any script;
/// the bound keeps the shifted time inside what the formatter handles.
const MAX_SHIFT_DIGITS: usize = 9;

/// Transform a template (see the module documentation). Never fails: anything it does not
/// recognise is copied verbatim.
///
/// ```
/// use fix_acceptance::transform;
/// use fix_codec::UtcTimestamp;
///
/// let now = UtcTimestamp::from_unix_secs(1_709_251_198); // 2024-02-29 23:59:58 UTC
/// let out = transform(b"8=FIX.4.2\x0135=0\x0152=<TIME+5>\x01", now);
/// assert_eq!(out, b"8=FIX.4.2\x019=26\x0135=0\x0152=20240301-00:00:03\x0110=201\x01");
/// ```
pub fn transform(template: &[u8], now: UtcTimestamp) -> Vec<u8> {
    let text = substitute_time(template, now);
    add_length_and_checksum(text)
}

/// Step 1: replace the `<TIME...>` placeholders.
pub fn substitute_time(template: &[u8], now: UtcTimestamp) -> Vec<u8> {
    let mut out = Vec::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(pos) = find(rest, b"<TIME") {
        out.extend_from_slice(&rest[..pos]);
        let after = &rest[pos + 5..];
        match parse_placeholder(after) {
            Some((shift, consumed)) => {
                let t = now.add_nanos(i128::from(shift) * 1_000_000_000);
                let mut buf = [0u8; 27];
                let n = UtcTimestamp::from_unix_secs(t.unix_secs())
                    .format_into(TimePrecision::Seconds, &mut buf);
                out.extend_from_slice(&buf[..n]);
                rest = &after[consumed..];
            }
            None => {
                out.extend_from_slice(b"<TIME");
                rest = after;
            }
        }
    }
    out.extend_from_slice(rest);
    out
}

/// Parse what follows `<TIME`: `>`, `+N>` or `-N>`. Returns the shift in seconds and the bytes used.
fn parse_placeholder(after: &[u8]) -> Option<(i64, usize)> {
    match after.first()? {
        b'>' => Some((0, 1)),
        sign @ (b'+' | b'-') => {
            let digits = after[1..].iter().take_while(|b| b.is_ascii_digit()).count();
            if digits == 0 || digits > MAX_SHIFT_DIGITS || after.get(1 + digits) != Some(&b'>') {
                return None;
            }
            let n = after[1..1 + digits]
                .iter()
                .fold(0i64, |n, &b| n * 10 + i64::from(b - b'0'));
            Some((if *sign == b'-' { -n } else { n }, digits + 2))
        }
        _ => None,
    }
}

/// Step 2: insert `9=` and append `10=` where the rules ask for them.
pub fn add_length_and_checksum(mut text: Vec<u8>) -> Vec<u8> {
    if !text.starts_with(b"8=") {
        return text;
    }
    let Some(bs_end) = text.iter().position(|&b| b == SOH) else {
        return text;
    };
    let body_start = bs_end + 1;
    let trailer = trailing_checksum_field(&text);
    if find(&text, b"\x019=").is_none() {
        let body_end = trailer.unwrap_or(text.len()).max(body_start);
        let len = body_end - body_start;
        let field = format!("9={len}\x01");
        text.splice(body_start..body_start, field.bytes());
    }
    if trailer.is_none() {
        let sum = checksum(&text);
        text.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
    }
    text
}

/// Start of the last field if the text ends with a complete `10=...SOH` field.
fn trailing_checksum_field(text: &[u8]) -> Option<usize> {
    let without_soh = text.strip_suffix(&[SOH])?;
    let start = without_soh
        .iter()
        .rposition(|&b| b == SOH)
        .map_or(0, |p| p + 1);
    without_soh[start..].starts_with(b"10=").then_some(start)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fix_codec::{FrameStatus, Framer};

    /// 2024-02-29 23:59:58.123 UTC: a leap day, two seconds before midnight, with a fraction that
    /// must not show.
    fn now() -> UtcTimestamp {
        UtcTimestamp::from_unix_nanos(1_709_251_198_123_000_000)
    }

    fn soh(s: &str) -> Vec<u8> {
        s.replace('|', "\x01").into_bytes()
    }

    fn t(s: &str) -> String {
        String::from_utf8(transform(&soh(s), now()))
            .unwrap()
            .replace('\x01', "|")
    }

    #[test]
    fn time_placeholders() {
        assert_eq!(t("52=<TIME>|"), "52=20240229-23:59:58|");
        assert_eq!(t("52=<TIME+5>|"), "52=20240301-00:00:03|");
        assert_eq!(t("52=<TIME-121>|"), "52=20240229-23:57:57|");
        assert_eq!(
            t("52=<TIME+1>|122=<TIME-1>|"),
            "52=20240229-23:59:59|122=20240229-23:59:57|"
        );
        // Not placeholders: copied as they are.
        for verbatim in [
            "58=<TIME|",
            "58=<TIMEX>|",
            "58=<TIME+>|",
            "58=<TIME+5|",
            "58=<TIME+1234567890>|",
            "<TIM",
        ] {
            assert_eq!(t(verbatim), verbatim);
        }
    }

    #[test]
    fn inserts_body_length_and_appends_checksum() {
        // Body `35=0|34=2|49=A|56=B|` is 4 fields of 5 bytes = 20.
        // Byte sum of `8=FIX.4.2|9=20|35=0|34=2|49=A|56=B|` is 1660; 1660 mod 256 = 124.
        let out = t("8=FIX.4.2|35=0|34=2|49=A|56=B|");
        assert_eq!(out, "8=FIX.4.2|9=20|35=0|34=2|49=A|56=B|10=124|");
        let bytes = soh(&out);
        assert_eq!(
            Framer::default().next_frame(&bytes),
            FrameStatus::Complete { len: bytes.len() }
        );
    }

    #[test]
    fn time_is_substituted_before_length_and_checksum() {
        let out = transform(
            &soh("8=FIX.4.0|35=0|34=2|49=TW40|52=<TIME>|56=ISLD|"),
            now(),
        );
        // 35=0| 34=2| 49=TW40| 52=20240229-23:59:58| 56=ISLD| = 5+5+8+21+8 = 47.
        assert!(out.starts_with(&soh("8=FIX.4.0|9=47|35=0|")));
        assert_eq!(
            Framer::default().next_frame(&out),
            FrameStatus::Complete { len: out.len() }
        );
    }

    #[test]
    fn explicit_length_and_checksum_are_left_alone() {
        let garbled = "8=FIX.4.0|9=52|35=0|34=2|4garbled9=TW|56=ISLD|10=0|";
        assert_eq!(t(garbled), garbled);
    }

    #[test]
    fn explicit_checksum_without_length_gets_length_up_to_the_checksum() {
        // Body `35=0|34=2|` = 10 bytes; `10=256` is kept though it is not a valid checksum.
        assert_eq!(
            t("8=FIX.4.0|35=0|34=2|10=256|"),
            "8=FIX.4.0|9=10|35=0|34=2|10=256|"
        );
    }

    #[test]
    fn explicit_length_without_checksum_gets_checksum_over_the_text_as_written() {
        // Wrong length on purpose; the checksum covers the bytes as written:
        // sum(`8=FIX.4.0|9=99|35=0|`) = 988, 988 mod 256 = 220.
        assert_eq!(t("8=FIX.4.0|9=99|35=0|"), "8=FIX.4.0|9=99|35=0|10=220|");
    }

    #[test]
    fn checksum_must_be_the_last_field_to_count() {
        // `10=` in the middle is just a field: length runs to the end and a checksum is appended.
        let out = t("8=FIX.4.2|35=0|10=000|34=2|");
        assert!(
            out.starts_with("8=FIX.4.2|9=17|35=0|10=000|34=2|10="),
            "{out}"
        );
        // A tag ending in 10 (e.g. 110=) is not CheckSum.
        let out = t("8=FIX.4.2|35=0|110=5|");
        assert!(out.starts_with("8=FIX.4.2|9=11|35=0|110=5|10="), "{out}");
    }

    #[test]
    fn text_not_starting_with_begin_string_is_verbatim() {
        let s = "35=0|8=FIX.4.0|9=29|34=2|10=121|";
        assert_eq!(t(s), s);
        assert_eq!(t("garbage"), "garbage");
        assert_eq!(t(""), "");
        // `8=` without any SOH is not a BeginString field.
        assert_eq!(t("8=FIX.4.2"), "8=FIX.4.2");
    }

    #[test]
    fn begin_string_only() {
        // Empty body: length 0; sum(`8=FIX.4.2|9=0|`) = 710, 710 mod 256 = 198.
        assert_eq!(t("8=FIX.4.2|"), "8=FIX.4.2|9=0|10=198|");
    }
}

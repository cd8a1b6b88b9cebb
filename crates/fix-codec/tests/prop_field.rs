//! Property tests for the field scanner: `FieldIter` agrees with a naive reference scanner written
//! here, on arbitrary input, including length-prefixed data fields whose values contain SOH.
//!
//! Runs are deterministic (fixed seed); set `PROPTEST_RNG_SEED` / `PROPTEST_CASES` to explore further.

mod prop_util;

use fix_codec::field::{FieldError, FieldIter, MAX_TAG, data_tag_for_length};
use proptest::prelude::*;

/// Fixed seed unless the environment asks for another: CI runs must be reproducible.
fn config(cases: u32) -> ProptestConfig {
    prop_util::config(cases, 0x00f1_c0de_c0de_0002)
}

const SOH: u8 = 0x01;

/// What the reference scanner reports for one field.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scanned {
    Field {
        tag: u32,
        value: Vec<u8>,
        offset: usize,
    },
    InvalidTag(usize),
    MissingEquals(usize),
    Unterminated(usize),
    DataLength(u32, usize),
}

/// The FIX tag=value grammar, spelled out one rule at a time and without any cleverness:
/// `field = tag "=" value SOH`, `tag` = decimal digits with a value in 1..=MAX_TAG; a value is
/// read up to the next SOH, except right after a length field whose value is a number, when the
/// matching data field's value is exactly that many bytes (and must be followed by SOH). The first
/// error ends the scan.
fn reference_scan(buf: &[u8]) -> Vec<Scanned> {
    let mut out = Vec::new();
    let mut pos = 0;
    // (data tag, length) announced by the previous field, if it was a length field.
    let mut announced: Option<(u32, u64)> = None;
    while pos < buf.len() {
        let start = pos;
        let digits: Vec<u8> = buf[pos..]
            .iter()
            .copied()
            .take_while(u8::is_ascii_digit)
            .collect();
        let significant: Vec<u8> = digits.iter().copied().skip_while(|&d| d == b'0').collect();
        // More than 9 significant digits is beyond MAX_TAG (999999999) for sure.
        let tag: u64 = if significant.len() > 9 {
            u64::MAX
        } else {
            significant
                .iter()
                .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'))
        };
        if digits.is_empty() || tag == 0 || tag > u64::from(MAX_TAG) {
            out.push(Scanned::InvalidTag(start));
            return out;
        }
        let tag = tag as u32;
        pos += digits.len();
        if buf.get(pos) != Some(&b'=') {
            out.push(Scanned::MissingEquals(start));
            return out;
        }
        pos += 1;
        let value: Vec<u8> = match announced.take() {
            Some((data_tag, len)) if data_tag == tag => {
                let fits = (buf.len() - pos) as u64 > len;
                if !fits || buf[pos + len as usize] != SOH {
                    out.push(Scanned::DataLength(tag, start));
                    return out;
                }
                buf[pos..pos + len as usize].to_vec()
            }
            _ => {
                let Some(n) = buf[pos..].iter().position(|&b| b == SOH) else {
                    out.push(Scanned::Unterminated(start));
                    return out;
                };
                buf[pos..pos + n].to_vec()
            }
        };
        pos += value.len() + 1;
        if let Some(data_tag) = data_tag_for_length(tag) {
            let text = std::str::from_utf8(&value).unwrap_or("x");
            if !text.is_empty()
                && text.bytes().all(|b| b.is_ascii_digit())
                && let Ok(len) = text.parse::<u64>()
            {
                announced = Some((data_tag, len));
            }
        }
        out.push(Scanned::Field {
            tag,
            value,
            offset: start,
        });
    }
    out
}

fn scan(buf: &[u8]) -> Vec<Scanned> {
    FieldIter::new(buf)
        .map(|r| match r {
            Ok(f) => Scanned::Field {
                tag: f.tag,
                value: f.value.to_vec(),
                offset: f.offset,
            },
            Err(FieldError::InvalidTag { offset }) => Scanned::InvalidTag(offset),
            Err(FieldError::MissingEquals { offset }) => Scanned::MissingEquals(offset),
            Err(FieldError::Unterminated { offset }) => Scanned::Unterminated(offset),
            Err(FieldError::DataLength { tag, offset }) => Scanned::DataLength(tag, offset),
            Err(other) => panic!("unexpected error kind {other:?}"),
        })
        .collect()
}

/// Fragments that, concatenated, look like FIX often enough to reach every branch.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    let length_tag = proptest::sample::select(&[90u32, 93, 95, 212, 354, 445, 1184, 1402][..]);
    prop_oneof![
        // A well-formed plain field.
        4 => (1u32..2000, "[ -~]{0,8}")
            .prop_map(|(t, v)| format!("{t}={v}\x01").into_bytes()),
        // A well-formed data pair whose value may hold SOH and `10=`.
        2 => (length_tag.clone(), proptest::collection::vec(
                prop_oneof![any::<u8>(), Just(SOH), Just(b'='), Just(b'1')], 0..12))
            .prop_map(|(t, data)| {
                let d = data_tag_for_length(t).unwrap();
                [format!("{t}={}\x01{d}=", data.len()).into_bytes(), data, vec![SOH]].concat()
            }),
        // A length field with any numeric value, then its data tag (lengths that lie).
        1 => (length_tag, 0u64..30, "[ -~\x01]{0,10}").prop_map(|(t, n, v)| {
            let d = data_tag_for_length(t).unwrap();
            format!("{t}={n}\x01{d}={v}\x01").into_bytes()
        }),
        // Huge, zero-padded and out-of-range tags.
        1 => proptest::sample::select(&[
            "999999999=x\x01", "1000000000=x\x01", "0000000000001=y\x01", "0=z\x01",
            "4294967296=w\x01", "95=18446744073709551615\x0196=a\x01", "95=99999999999999999999\x01",
            "95=\x0196=\x01", "95=-1\x0196=a\x01", "95=000000000000000000003\x0196=a\x01b\x01",
        ][..]).prop_map(|s| s.as_bytes().to_vec()),
        // Loose bytes.
        2 => proptest::collection::vec(
            prop_oneof![Just(SOH), Just(b'='), b'0'..=b'9', any::<u8>()], 0..6),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    /// The scanner agrees with the reference on FIX-like input.
    #[test]
    fn scanner_matches_reference_on_fix_like_input(
        parts in proptest::collection::vec(fragment(), 0..16),
    ) {
        let buf = parts.concat();
        prop_assert_eq!(scan(&buf), reference_scan(&buf));
    }

    /// The scanner agrees with the reference on arbitrary bytes (and so never panics on them).
    #[test]
    fn scanner_matches_reference_on_arbitrary_bytes(
        buf in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        prop_assert_eq!(scan(&buf), reference_scan(&buf));
    }

    /// Long values, with bytes next to SOH in value (0x00, 0x02, 0x80, 0x81, 0xff) that stress a
    /// word-at-a-time SOH search, end exactly at the first SOH, wherever it falls in a word.
    #[test]
    fn values_end_at_the_first_soh(
        prefix in proptest::collection::vec(Just(b'0'), 0..8),
        value in proptest::collection::vec(
            prop_oneof![Just(0u8), Just(2u8), Just(0x80u8), Just(0x81u8), Just(0xffu8), 2u8..=255],
            0..80,
        ),
        tail in proptest::collection::vec(any::<u8>(), 0..20),
    ) {
        let buf = [prefix.clone(), b"58=".to_vec(), value.clone(), vec![SOH], tail].concat();
        let first = FieldIter::new(&buf).next();
        let first = first.ok_or_else(|| TestCaseError::fail("no field"))?;
        let f = first.map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(f.tag, 58);
        prop_assert_eq!(f.value, &value[..]);
        prop_assert_eq!(scan(&buf), reference_scan(&buf));
    }

    /// Each field's offset points at its tag, its value lies inside the buffer right after `=`,
    /// and `position()` follows the SOH; after an error the iterator stays exhausted.
    #[test]
    fn offsets_and_positions_are_consistent(
        parts in proptest::collection::vec(fragment(), 0..16),
    ) {
        let buf = parts.concat();
        let mut it = FieldIter::new(&buf);
        let mut expected_offset = 0;
        // One field per step, at least two bytes each: the bound is generous.
        for _ in 0..=buf.len() {
            let before = it.position();
            prop_assert_eq!(before, expected_offset);
            match it.next() {
                None => break,
                Some(Ok(f)) => {
                    prop_assert_eq!(f.offset, before);
                    let tag_text = f.tag.to_string();
                    let digits = &buf[f.offset..];
                    let n = digits.iter().take_while(|b| b.is_ascii_digit()).count();
                    prop_assert!(std::str::from_utf8(&digits[..n]).unwrap().ends_with(&tag_text));
                    let value_start = f.offset + n + 1;
                    prop_assert_eq!(&buf[value_start..value_start + f.value.len()], f.value);
                    prop_assert_eq!(buf[value_start + f.value.len()], SOH);
                    expected_offset = value_start + f.value.len() + 1;
                    prop_assert_eq!(it.position(), expected_offset);
                }
                Some(Err(_)) => {
                    prop_assert!(it.next().is_none());
                    prop_assert!(it.next().is_none());
                    break;
                }
            }
        }
    }
}

#[test]
fn reference_itself_handles_the_documented_cases() {
    // The reference must not be trivially agreeing with the scanner: pin it on known inputs.
    assert_eq!(
        reference_scan(b"95=5\x0196=a\x01b=c\x0110=000\x01"),
        vec![
            Scanned::Field {
                tag: 95,
                value: b"5".to_vec(),
                offset: 0
            },
            Scanned::Field {
                tag: 96,
                value: b"a\x01b=c".to_vec(),
                offset: 5
            },
            Scanned::Field {
                tag: 10,
                value: b"000".to_vec(),
                offset: 14
            },
        ]
    );
    assert_eq!(
        reference_scan(b"95=50\x0196=abc\x01")[1],
        Scanned::DataLength(96, 6)
    );
    assert_eq!(
        reference_scan(b"1=a\x01=b\x012=c\x01"),
        vec![
            Scanned::Field {
                tag: 1,
                value: b"a".to_vec(),
                offset: 0
            },
            Scanned::InvalidTag(4)
        ]
    );
    assert_eq!(reference_scan(b"12x\x01"), vec![Scanned::MissingEquals(0)]);
    assert_eq!(reference_scan(b"12=x"), vec![Scanned::Unterminated(0)]);
    assert_eq!(
        reference_scan(b"0000000001=x\x01"),
        vec![Scanned::Field {
            tag: 1,
            value: b"x".to_vec(),
            offset: 0
        }]
    );
    assert_eq!(
        reference_scan(b"1000000000=x\x01"),
        vec![Scanned::InvalidTag(0)]
    );
    // A length announcement is consumed by the very next field, whatever its tag.
    assert_eq!(reference_scan(b"95=1\x0158=ab\x0196=ab\x01").len(), 3);
}

/// Regression: `parse_u64` refused values longer than 20 bytes even when they were zero-padded,
/// so a zero-padded length field did not announce its data field, and a data value holding SOH
/// was then cut at that SOH.
#[test]
fn zero_padded_length_over_twenty_bytes_still_announces_data() {
    use fix_codec::field::{parse_i64, parse_u64};
    assert_eq!(parse_u64(b"000000000000000000003"), Some(3));
    assert_eq!(parse_u64(b"0000000000000000000000000"), Some(0));
    assert_eq!(parse_u64(b"00000000018446744073709551615"), Some(u64::MAX));
    assert_eq!(parse_u64(b"00000000018446744073709551616"), None);
    assert_eq!(parse_i64(b"-0000000000000000000000007"), Some(-7));
    let buf = b"95=000000000000000000003\x0196=a\x01b\x0110=000\x01";
    let values: Vec<(u32, Vec<u8>)> = FieldIter::new(buf)
        .map(|f| f.map(|f| (f.tag, f.value.to_vec())))
        .collect::<Result<_, _>>()
        .expect("well-formed");
    assert_eq!(values[1], (96, b"a\x01b".to_vec()));
    assert_eq!(values[2], (10, b"000".to_vec()));
}

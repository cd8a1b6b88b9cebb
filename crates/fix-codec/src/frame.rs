//! Framing: find complete FIX messages in a byte stream.
//!
//! A frame runs from `8=` to the SOH that ends `CheckSum <10>`. The framer follows QuickFIX's rule for
//! locating the trailer, so that hostile or broken peers are handled as the industry's acceptance
//! suite expects: after `BodyLength <9>` it skips the declared number of bytes and takes the first
//! `SOH 10=` at or after the last declared byte. A too-long BodyLength therefore swallows the next
//! message (both are dropped); a too-short one ends at the real checksum and is dropped.
//! Then the actual body length and the checksum are verified.

use crate::SOH;
use crate::checksum;

/// What the framer found at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameStatus {
    /// A complete, verified message occupies the first `len` bytes.
    Complete {
        /// Length of the frame in bytes.
        len: usize,
    },
    /// The buffer holds the start of a message (or nothing): read more bytes.
    NeedMore,
    /// The first `skip` bytes are not a valid message and must be discarded.
    Garbled {
        /// Bytes to discard before framing again.
        skip: usize,
        /// Why.
        error: FrameError,
    },
}

/// Why bytes were discarded. [`FrameError::is_fatal`] tells which ones should end the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// Bytes before `8=`.
    #[error("garbage before BeginString")]
    LeadingGarbage,
    /// `BodyLength <9>` is missing, empty or not a number.
    #[error("invalid BodyLength")]
    BadBodyLength,
    /// `BodyLength <9>` is not the second field (QuickFIX frames it anyway, then drops it).
    #[error("BodyLength is not the second field")]
    FieldOrder,
    /// The declared BodyLength does not match the bytes up to `10=`.
    #[error("BodyLength {declared} does not match actual {actual}")]
    BodyLengthMismatch {
        /// Declared in `9=`.
        declared: usize,
        /// Counted.
        actual: usize,
    },
    /// `CheckSum <10>` is not three digits.
    #[error("malformed CheckSum")]
    BadCheckSum,
    /// `CheckSum <10>` does not match the bytes.
    #[error("CheckSum {declared} does not match computed {computed}")]
    CheckSumMismatch {
        /// Declared in `10=`.
        declared: u8,
        /// Computed over the frame.
        computed: u8,
    },
    /// The message would exceed the configured maximum frame size.
    #[error("message larger than the {max} byte limit")]
    TooLarge {
        /// The configured limit.
        max: usize,
    },
}

impl FrameError {
    /// Whether the stream cannot be trusted any more and the connection should be closed.
    /// Only an oversized message is fatal: everything else is skipped, as the FIX spec asks
    /// for garbled messages.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Self::TooLarge { .. })
    }
}

/// Longest `BeginString` value accepted while looking for BodyLength.
const MAX_BEGIN_STRING_FIELD: usize = 32;
/// Longest `9=` value (digits) accepted.
const MAX_BODY_LENGTH_DIGITS: usize = 9;

/// Splits a byte stream into FIX messages. Stateless: call [`Framer::next_frame`] on the unconsumed
/// bytes after every read, and consume what it reports.
#[derive(Debug, Clone, Copy)]
pub struct Framer {
    max_frame_len: usize,
}

impl Default for Framer {
    fn default() -> Self {
        Self::new(Self::DEFAULT_MAX_FRAME_LEN)
    }
}

impl Framer {
    /// Default bound on one message: 1 MiB.
    pub const DEFAULT_MAX_FRAME_LEN: usize = 1 << 20;

    /// A framer that refuses messages longer than `max_frame_len` bytes.
    pub const fn new(max_frame_len: usize) -> Self {
        Self { max_frame_len }
    }

    /// The configured bound.
    pub const fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    /// Examine the start of `buf`.
    pub fn next_frame(&self, buf: &[u8]) -> FrameStatus {
        if buf.is_empty() {
            return FrameStatus::NeedMore;
        }
        if buf == b"8" {
            return FrameStatus::NeedMore;
        }
        if !buf.starts_with(b"8=") {
            return garbage_before_start(buf);
        }
        // BeginString value.
        let Some(bs_end) = find_byte(&buf[2..], SOH, MAX_BEGIN_STRING_FIELD).map(|i| i + 2) else {
            return if buf.len() > MAX_BEGIN_STRING_FIELD + 2 {
                FrameStatus::Garbled {
                    skip: 2,
                    error: FrameError::LeadingGarbage,
                }
            } else {
                FrameStatus::NeedMore
            };
        };
        let after_bs = bs_end + 1;
        let mut in_order = true;
        let len_field_start = if buf[after_bs..].starts_with(b"9=") {
            after_bs
        } else if buf.len() < after_bs + 2 {
            return FrameStatus::NeedMore;
        } else {
            // QuickFIX looks for `SOH 9=` anywhere; such a message is framed, then dropped.
            in_order = false;
            // `.max(bs_end)`: a limit shorter than the BeginString must not invert the range.
            let window = &buf[bs_end..buf.len().min(self.max_frame_len).max(bs_end)];
            match find_seq(window, b"\x019=") {
                Some(i) => bs_end + i + 1,
                None if buf.len() >= self.max_frame_len => {
                    return FrameStatus::Garbled {
                        skip: buf.len(),
                        error: FrameError::TooLarge {
                            max: self.max_frame_len,
                        },
                    };
                }
                None => return FrameStatus::NeedMore,
            }
        };
        let digits_start = len_field_start + 2;
        let Some(digits_len) = find_byte(&buf[digits_start..], SOH, MAX_BODY_LENGTH_DIGITS + 1)
        else {
            return if buf.len() > digits_start + MAX_BODY_LENGTH_DIGITS {
                self.skip_to_next_start(buf, FrameError::BadBodyLength)
            } else {
                FrameStatus::NeedMore
            };
        };
        let Some(declared) = parse_digits(&buf[digits_start..digits_start + digits_len]) else {
            return self.skip_to_next_start(buf, FrameError::BadBodyLength);
        };
        let body_start = digits_start + digits_len + 1;
        let declared_end = body_start.saturating_add(declared);
        // Smallest frame possible: body, then `10=NNN SOH`.
        if declared_end.saturating_add(7) > self.max_frame_len {
            return FrameStatus::Garbled {
                skip: buf.len().min(declared_end),
                error: FrameError::TooLarge {
                    max: self.max_frame_len,
                },
            };
        }
        // Fast path: the trailer is exactly where BodyLength says.
        let trailer_start = if buf.len() >= declared_end + 7
            && declared > 0
            && buf[declared_end - 1] == SOH
            && buf[declared_end..].starts_with(b"10=")
        {
            declared_end
        } else {
            let search_from = declared_end
                .saturating_sub(1)
                .max(body_start.saturating_sub(1));
            if buf.len() <= search_from {
                return FrameStatus::NeedMore;
            }
            let window_end = buf.len().min(self.max_frame_len);
            match find_seq(&buf[search_from..window_end.max(search_from)], b"\x0110=") {
                Some(i) => search_from + i + 1,
                None if buf.len() >= self.max_frame_len => {
                    return FrameStatus::Garbled {
                        skip: buf.len(),
                        error: FrameError::TooLarge {
                            max: self.max_frame_len,
                        },
                    };
                }
                None => return FrameStatus::NeedMore,
            }
        };
        let value_start = trailer_start + 3;
        let Some(value_len) = find_byte(&buf[value_start..], SOH, buf.len()) else {
            if buf.len() - value_start > 3 {
                // Not three digits then SOH: drop through the garbage.
                return FrameStatus::Garbled {
                    skip: value_start,
                    error: FrameError::BadCheckSum,
                };
            }
            return FrameStatus::NeedMore;
        };
        let frame_len = value_start + value_len + 1;
        if frame_len > self.max_frame_len {
            return FrameStatus::Garbled {
                skip: frame_len,
                error: FrameError::TooLarge {
                    max: self.max_frame_len,
                },
            };
        }
        if !in_order {
            return FrameStatus::Garbled {
                skip: frame_len,
                error: FrameError::FieldOrder,
            };
        }
        let actual = trailer_start - body_start;
        if actual != declared {
            return FrameStatus::Garbled {
                skip: frame_len,
                error: FrameError::BodyLengthMismatch { declared, actual },
            };
        }
        let value = &buf[value_start..value_start + value_len];
        let declared_sum = match value {
            [a, b, c] if value.iter().all(u8::is_ascii_digit) => {
                u32::from(a - b'0') * 100 + u32::from(b - b'0') * 10 + u32::from(c - b'0')
            }
            _ => {
                return FrameStatus::Garbled {
                    skip: frame_len,
                    error: FrameError::BadCheckSum,
                };
            }
        };
        let computed = checksum(&buf[..trailer_start]);
        if declared_sum != u32::from(computed) {
            let declared = u8::try_from(declared_sum).unwrap_or(u8::MAX);
            return FrameStatus::Garbled {
                skip: frame_len,
                error: FrameError::CheckSumMismatch { declared, computed },
            };
        }
        FrameStatus::Complete { len: frame_len }
    }

    /// Skip a message whose header cannot be read: resynchronise at the next `SOH 8=`.
    fn skip_to_next_start(&self, buf: &[u8], error: FrameError) -> FrameStatus {
        match find_seq(&buf[1..], b"\x018=") {
            Some(i) => FrameStatus::Garbled { skip: i + 2, error },
            None => FrameStatus::Garbled {
                skip: buf.len(),
                error,
            },
        }
    }
}

/// `buf` does not start with `8=`: skip to the next `8=` that begins a field.
fn garbage_before_start(buf: &[u8]) -> FrameStatus {
    match find_seq(buf, b"\x018=") {
        Some(i) => FrameStatus::Garbled {
            skip: i + 1,
            error: FrameError::LeadingGarbage,
        },
        None => {
            // Keep a trailing SOH (or `SOH 8`): the next read may complete `SOH 8=`.
            let keep = if buf.ends_with(b"\x018") {
                2
            } else if buf.ends_with(&[SOH]) {
                1
            } else {
                0
            };
            let skip = buf.len() - keep;
            if skip == 0 {
                // Only a partial start marker: not garbage yet.
                if keep == 1 {
                    return FrameStatus::Garbled {
                        skip: 1,
                        error: FrameError::LeadingGarbage,
                    };
                }
                return FrameStatus::NeedMore;
            }
            FrameStatus::Garbled {
                skip,
                error: FrameError::LeadingGarbage,
            }
        }
    }
}

/// First `needle` within the first `limit` bytes of `hay`. Every caller looks for SOH, which
/// goes eight bytes at a time.
#[inline]
fn find_byte(hay: &[u8], needle: u8, limit: usize) -> Option<usize> {
    let hay = &hay[..hay.len().min(limit)];
    if needle == SOH {
        return crate::field::find_soh(hay);
    }
    hay.iter().position(|&b| b == needle)
}

#[inline]
fn find_seq(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = needle[0];
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        match hay[i..hay.len() - needle.len() + 1]
            .iter()
            .position(|&b| b == first)
        {
            Some(p) => {
                i += p;
                if &hay[i..i + needle.len()] == needle {
                    return Some(i);
                }
                i += 1;
            }
            None => return None,
        }
    }
    None
}

fn parse_digits(v: &[u8]) -> Option<usize> {
    if v.is_empty() || v.len() > MAX_BODY_LENGTH_DIGITS || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        v.iter()
            .fold(0usize, |n, &b| n * 10 + usize::from(b - b'0')),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Build a well-formed message from its body fields (with `|` for SOH).
    pub(crate) fn msg(begin: &str, body: &str) -> Vec<u8> {
        let body = body.replace('|', "\x01");
        let mut m = format!("8={begin}\x019={}\x01{body}", body.len()).into_bytes();
        let sum = checksum(&m);
        m.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
        m
    }

    fn framer() -> Framer {
        Framer::new(4096)
    }

    #[test]
    fn complete_frame() {
        let m = msg("FIX.4.4", "35=0|34=2|49=A|56=B|");
        assert_eq!(
            framer().next_frame(&m),
            FrameStatus::Complete { len: m.len() }
        );
    }

    #[test]
    fn every_split_needs_more_then_completes() {
        let m = msg("FIX.4.2", "35=D|34=2|49=A|56=B|11=X|");
        for cut in 0..m.len() {
            assert_eq!(
                framer().next_frame(&m[..cut]),
                FrameStatus::NeedMore,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn two_frames_in_one_read() {
        let a = msg("FIX.4.4", "35=0|34=2|");
        let b = msg("FIX.4.4", "35=0|34=3|");
        let both = [a.clone(), b.clone()].concat();
        assert_eq!(
            framer().next_frame(&both),
            FrameStatus::Complete { len: a.len() }
        );
        assert_eq!(
            framer().next_frame(&both[a.len()..]),
            FrameStatus::Complete { len: b.len() }
        );
    }

    #[test]
    fn garbage_between_frames_is_skipped() {
        let a = msg("FIX.4.4", "35=0|34=2|");
        let stream = [b"junk\x01".to_vec(), a.clone()].concat();
        assert_eq!(
            framer().next_frame(&stream),
            FrameStatus::Garbled {
                skip: 5,
                error: FrameError::LeadingGarbage
            }
        );
        assert_eq!(
            framer().next_frame(&stream[5..]),
            FrameStatus::Complete { len: a.len() }
        );
        assert_eq!(
            framer().next_frame(b"noise without a start"),
            FrameStatus::Garbled {
                skip: 21,
                error: FrameError::LeadingGarbage
            }
        );
    }

    #[test]
    fn bad_checksum_is_dropped_whole() {
        let mut m = msg("FIX.4.4", "35=0|34=2|");
        let n = m.len();
        m[n - 2] = if m[n - 2] == b'9' { b'0' } else { b'9' };
        assert!(
            matches!(framer().next_frame(&m), FrameStatus::Garbled { skip, error: FrameError::CheckSumMismatch { .. } } if skip == n)
        );
    }

    #[test]
    fn too_short_body_length_ends_at_real_checksum() {
        let good = msg("FIX.4.4", "35=0|34=2|49=A|");
        let bad = String::from_utf8(good.clone())
            .unwrap()
            .replace("9=15", "9=10")
            .into_bytes();
        let st = framer().next_frame(&bad);
        assert!(
            matches!(st, FrameStatus::Garbled { skip, error: FrameError::BodyLengthMismatch { declared: 10, actual: 15 } } if skip == bad.len()),
            "{st:?}"
        );
    }

    #[test]
    fn too_long_body_length_swallows_next_message() {
        let a = String::from_utf8(msg("FIX.4.4", "35=0|34=2|"))
            .unwrap()
            .replace("9=10", "9=40")
            .into_bytes();
        let b = msg("FIX.4.4", "35=0|34=3|");
        let c = msg("FIX.4.4", "35=0|34=4|");
        let s = [a.clone(), b.clone(), c.clone()].concat();
        assert_eq!(framer().next_frame(&a), FrameStatus::NeedMore);
        match framer().next_frame(&s) {
            FrameStatus::Garbled {
                skip,
                error: FrameError::BodyLengthMismatch { .. },
            } => {
                assert_eq!(skip, a.len() + b.len());
                assert_eq!(
                    framer().next_frame(&s[skip..]),
                    FrameStatus::Complete { len: c.len() }
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn body_length_not_second_is_dropped() {
        let raw = b"8=FIX.4.4\x0135=0\x019=5\x0134=2\x0110=000\x01";
        assert!(
            matches!(framer().next_frame(raw), FrameStatus::Garbled { skip, error: FrameError::FieldOrder } if skip == raw.len())
        );
    }

    #[test]
    fn bad_body_length_value_resyncs() {
        let b = msg("FIX.4.4", "35=0|34=3|");
        let s = [b"8=FIX.4.4\x019=x1\x0135=0\x01".to_vec(), b.clone()].concat();
        match framer().next_frame(&s) {
            FrameStatus::Garbled {
                skip,
                error: FrameError::BadBodyLength,
            } => {
                assert_eq!(
                    framer().next_frame(&s[skip..]),
                    FrameStatus::Complete { len: b.len() }
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn oversized_is_fatal() {
        let st = Framer::new(100).next_frame(b"8=FIX.4.4\x019=5000\x0135=0\x01");
        match st {
            FrameStatus::Garbled { error, .. } => assert!(error.is_fatal()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn data_field_with_checksum_lookalike_is_framed_by_length() {
        // RawData contains "\x0110=" : the fast path uses BodyLength and is not fooled.
        let m = msg("FIX.4.4", "35=D|95=7|96=a\x0110=1|b|");
        assert_eq!(
            framer().next_frame(&m),
            FrameStatus::Complete { len: m.len() }
        );
    }
}

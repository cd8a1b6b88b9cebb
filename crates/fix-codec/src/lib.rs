//! FIX tag=value codec: the engine's hot path.
//!
//! * [`frame`]: find complete messages in a byte stream, verifying `BodyLength <9>` and `CheckSum <10>`.
//! * [`field`]: zero-copy iteration over `tag=value` pairs and typed accessors.
//! * [`encode`]: build messages into a caller-owned, reusable buffer.
//! * [`header`]: the standard-header fields a session reads from every received message.
//! * [`time`]: `UTCTimestamp`, `UTCTimeOnly` and `LocalMktDate` parsing and allocation-free formatting.
//! * [`dict`]: QuickFIX XML data dictionaries, message validation and canonical field order.
//!
//! Nothing in this crate reads a clock, allocates per message, or performs I/O.

pub mod dict;
pub mod encode;
pub mod field;
pub mod frame;
pub mod header;
pub mod time;

pub use dict::{
    DictError, Dictionary, FieldType, RejectReason, ValidationError, ValidationOptions, Validator,
};
pub use encode::{EncodeBuffer, Encoder};
pub use field::{FIELD_INDEX_CAPACITY, Field, FieldError, FieldIndex, FieldIter, MessageRef};
pub use frame::{FrameError, FrameStatus, Framer};
pub use header::HeaderFields;
pub use time::{TimePrecision, UtcTimestamp};

/// The FIX field delimiter, `SOH` (0x01).
pub const SOH: u8 = 0x01;

/// The FIX `CheckSum <10>`: the sum of all bytes modulo 256.
#[inline]
pub fn checksum(bytes: &[u8]) -> u8 {
    #[cfg(target_arch = "x86_64")]
    {
        checksum_sse2(bytes)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        checksum_portable(bytes)
    }
}

/// The portable byte sum (and the reference the SSE2 version is tested against).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline]
fn checksum_portable(bytes: &[u8]) -> u8 {
    // Summing into u32 lanes lets the compiler vectorise; the wrap to u8 happens once.
    let mut sum: u32 = 0;
    for chunk in bytes.chunks(4096) {
        sum = sum.wrapping_add(chunk.iter().map(|&b| u32::from(b)).sum::<u32>());
    }
    (sum & 0xff) as u8
}

/// `psadbw` against zero sums sixteen bytes into two 64-bit lanes in one instruction; the
/// compiler's own vectorisation of the portable loop widens bytes to 32 bits first (about four
/// times the instructions). The tail is one more load of the last sixteen bytes with the bytes
/// already counted masked off.
#[cfg(target_arch = "x86_64")]
#[inline]
fn checksum_sse2(bytes: &[u8]) -> u8 {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi64, _mm_and_si128, _mm_cvtsi128_si64, _mm_loadu_si128, _mm_sad_epu8,
        _mm_setzero_si128, _mm_unpackhi_epi64,
    };
    /// `MASK[r..r + 16]` keeps the last `r` of sixteen bytes.
    static MASK: [u8; 32] = {
        let mut m = [0u8; 32];
        let mut i = 16;
        while i < 32 {
            m[i] = 0xFF;
            i += 1;
        }
        m
    };
    if bytes.len() < 16 {
        return checksum_portable(bytes);
    }
    let (chunks, rest) = bytes.as_chunks::<16>();
    let r = rest.len();
    let last: &[u8; 16] = bytes[bytes.len() - 16..].try_into().unwrap_or(&[0; 16]);
    let mask: &[u8; 16] = MASK[r..r + 16].try_into().unwrap_or(&[0; 16]);
    // SAFETY: SSE2 is part of the x86_64 baseline, so every intrinsic here is available; the
    // only memory accesses are `_mm_loadu_si128` (any alignment) of arrays of exactly 16 bytes.
    let sum = unsafe {
        let load = |chunk: &[u8; 16]| -> __m128i { _mm_loadu_si128(chunk.as_ptr().cast()) };
        let zero = _mm_setzero_si128();
        let mut acc = zero;
        for chunk in chunks {
            acc = _mm_add_epi64(acc, _mm_sad_epu8(load(chunk), zero));
        }
        if r > 0 {
            let tail = _mm_and_si128(load(last), load(mask));
            acc = _mm_add_epi64(acc, _mm_sad_epu8(tail, zero));
        }
        _mm_cvtsi128_si64(acc).wrapping_add(_mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc)))
    };
    (sum & 0xff) as u8
}

/// Well-known tag numbers used by the codec and the session layer.
pub mod tags {
    #![allow(missing_docs)]
    pub const BEGIN_STRING: u32 = 8;
    pub const BODY_LENGTH: u32 = 9;
    pub const CHECK_SUM: u32 = 10;
    pub const BEGIN_SEQ_NO: u32 = 7;
    pub const END_SEQ_NO: u32 = 16;
    pub const MSG_SEQ_NUM: u32 = 34;
    pub const MSG_TYPE: u32 = 35;
    pub const NEW_SEQ_NO: u32 = 36;
    pub const POSS_DUP_FLAG: u32 = 43;
    pub const REF_SEQ_NUM: u32 = 45;
    pub const SENDER_COMP_ID: u32 = 49;
    pub const SENDER_SUB_ID: u32 = 50;
    pub const SENDING_TIME: u32 = 52;
    pub const TARGET_COMP_ID: u32 = 56;
    pub const TARGET_SUB_ID: u32 = 57;
    pub const TEXT: u32 = 58;
    pub const POSS_RESEND: u32 = 97;
    pub const ENCRYPT_METHOD: u32 = 98;
    pub const HEART_BT_INT: u32 = 108;
    pub const TEST_REQ_ID: u32 = 112;
    pub const ON_BEHALF_OF_COMP_ID: u32 = 115;
    pub const ON_BEHALF_OF_SUB_ID: u32 = 116;
    pub const ORIG_SENDING_TIME: u32 = 122;
    pub const GAP_FILL_FLAG: u32 = 123;
    pub const DELIVER_TO_COMP_ID: u32 = 128;
    pub const DELIVER_TO_SUB_ID: u32 = 129;
    pub const RESET_SEQ_NUM_FLAG: u32 = 141;
    pub const SENDER_LOCATION_ID: u32 = 142;
    pub const TARGET_LOCATION_ID: u32 = 143;
    pub const ON_BEHALF_OF_LOCATION_ID: u32 = 144;
    pub const DELIVER_TO_LOCATION_ID: u32 = 145;
    pub const REF_TAG_ID: u32 = 371;
    pub const REF_MSG_TYPE: u32 = 372;
    pub const SESSION_REJECT_REASON: u32 = 373;
    pub const BUSINESS_REJECT_REF_ID: u32 = 379;
    pub const BUSINESS_REJECT_REASON: u32 = 380;
    pub const USERNAME: u32 = 553;
    pub const PASSWORD: u32 = 554;
    pub const NEXT_EXPECTED_MSG_SEQ_NUM: u32 = 789;
    pub const APPL_VER_ID: u32 = 1128;
    pub const DEFAULT_APPL_VER_ID: u32 = 1137;

    /// Whether `tag` belongs to the standard header of FIX 4.0 .. FIXT.1.1 other than 8, 9 and
    /// 35: what a resend copies from the journaled message and what an echo leaves out of the
    /// body.
    pub const fn is_standard_header(tag: u32) -> bool {
        matches!(
            tag,
            34 | 43
                | 49
                | 50
                | 52
                | 56
                | 57
                | 90
                | 91
                | 97
                | 115
                | 116
                | 122
                | 128
                | 129
                | 142
                | 143
                | 144
                | 145
                | 212
                | 213
                | 347
                | 369
                | 627
                | 628
                | 629
                | 630
                | 1128
                | 1129
                | 1156
        )
    }

    /// Whether `tag` is part of a message's envelope (the standard header, with 8, 9 and 35, or
    /// the trailer's CheckSum 10) rather than its body.
    pub const fn is_envelope(tag: u32) -> bool {
        matches!(tag, BEGIN_STRING | BODY_LENGTH | MSG_TYPE | CHECK_SUM) || is_standard_header(tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_is_byte_sum_mod_256() {
        assert_eq!(checksum(b""), 0);
        assert_eq!(checksum(&[255, 1]), 0);
        assert_eq!(checksum(b"8=FIX.4.2\x019=5\x0135=0\x01"), {
            let s: u32 = b"8=FIX.4.2\x019=5\x0135=0\x01"
                .iter()
                .map(|&b| b as u32)
                .sum();
            (s % 256) as u8
        });
        let big = vec![200u8; 100_000];
        assert_eq!(checksum(&big) as u32, (200u32 * 100_000) % 256);
    }

    #[test]
    fn checksum_equals_the_portable_sum_at_every_length_and_offset() {
        let bytes: Vec<u8> = (0..300u32).map(|i| (i * 97 + 13) as u8).collect();
        for start in 0..17 {
            for end in start..bytes.len() {
                let s = &bytes[start..end];
                let reference = s.iter().map(|&b| u32::from(b)).sum::<u32>() % 256;
                assert_eq!(u32::from(checksum(s)), reference, "{start}..{end}");
                assert_eq!(checksum_portable(s), checksum(s));
            }
        }
    }
}

//! Shared benchmark inputs and workloads. The message bytes live in `benches/data/` so that every
//! harness (ours and the peers') measures the very same bytes; the workloads live here so that the
//! criterion benches, the allocation tests and the latency harness run the very same code.

pub mod alloc;

use fix_codec::time::TimestampFormatter;
use fix_codec::{
    Dictionary, EncodeBuffer, FieldIndex, FieldIter, FrameStatus, Framer, HeaderFields,
    TimePrecision, UtcTimestamp, ValidationError, ValidationOptions, Validator,
};
use std::sync::Arc;

/// Directory holding the benchmark messages.
pub const DATA_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data");

/// Read one of the benchmark messages from [`DATA_DIR`] (cold path: panics if it is missing).
pub fn data_file(name: &str) -> Vec<u8> {
    let path = format!("{DATA_DIR}/{name}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What [`frame_and_scan`] saw, so that the optimiser cannot drop the work and tests can check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanSummary {
    /// Length of the frame.
    pub frame_len: usize,
    /// Number of fields, `8=` and `10=` included.
    pub fields: usize,
    /// Sum of all tag numbers plus all value lengths.
    pub digest: u64,
}

/// The receive hot path: frame the start of `buf` and scan every field of the frame.
/// `None` if `buf` does not start with a complete, well-formed message.
#[inline]
pub fn frame_and_scan(framer: &Framer, buf: &[u8]) -> Option<ScanSummary> {
    let FrameStatus::Complete { len } = framer.next_frame(buf) else {
        return None;
    };
    let mut fields = 0;
    let mut digest = 0u64;
    for field in FieldIter::new(&buf[..len]) {
        let field = field.ok()?;
        fields += 1;
        digest += u64::from(field.tag) + field.value.len() as u64;
    }
    Some(ScanSummary {
        frame_len: len,
        fields,
        digest,
    })
}

/// The vendored QuickFIX dictionary `spec/<name>` (cold path: panics if it is missing or invalid).
pub fn dictionary(name: &str) -> Dictionary {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../spec")
        .join(name);
    Dictionary::from_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A validator for FIX.4.4 with the default (strictest) options, as the acceptance sessions use.
pub fn fix44_validator() -> Validator {
    Validator::new(
        Arc::new(dictionary("FIX44.xml")),
        None,
        ValidationOptions::default(),
    )
}

/// The receive hot path with validation: [`frame_and_scan`], then validate the frame against the
/// dictionary. `Ok(None)` if `buf` does not start with a complete, well-formed message.
#[inline]
pub fn frame_scan_validate(
    framer: &Framer,
    validator: &Validator,
    buf: &[u8],
) -> Result<Option<ScanSummary>, ValidationError> {
    let Some(summary) = frame_and_scan(framer, buf) else {
        return Ok(None);
    };
    validator.validate(&buf[..summary.frame_len])?;
    Ok(Some(summary))
}

/// What the session reads from a received message's header after validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveSummary {
    /// Length of the frame.
    pub frame_len: usize,
    /// `MsgSeqNum <34>`.
    pub seq_num: u64,
    /// Sum of the lengths of `MsgType <35>`, `SenderCompID <49>`, `TargetCompID <56>` and
    /// `SendingTime <52>`: proof that they were read.
    pub digest: usize,
}

/// The receive hot path as the session runs it: frame, then validate the frame against the
/// dictionary and read the header fields the session needs (`35`, `34`, `49`, `56`, `52`) in
/// the same single pass ([`Validator::validate_framed_with_header`]: the framer already verified
/// BodyLength and CheckSum). `Ok(None)` if `buf` does not start with a complete, well-formed
/// message (or one without a usable MsgSeqNum).
#[inline]
pub fn receive(
    framer: &Framer,
    validator: &Validator,
    buf: &[u8],
) -> Result<Option<ReceiveSummary>, ValidationError> {
    let FrameStatus::Complete { len } = framer.next_frame(buf) else {
        return Ok(None);
    };
    let Some(h) = validator.validate_framed_with_header(&buf[..len])? else {
        return Ok(None);
    };
    Ok(summary(len, &h))
}

/// [`receive`] through the per-session [`FieldIndex`] a validating session keeps
/// ([`Validator::validate_framed_indexed`]): the fields are indexed for the application's lookups,
/// and a message of a layout the index has proven before is checked value by value against that
/// layout (see `fix-codec`'s `dict/fast.rs`). Steady state on a session whose counterparty sends
/// one layout, as this benchmark's repeated order does.
#[inline]
pub fn receive_indexed(
    framer: &Framer,
    validator: &Validator,
    index: &mut FieldIndex,
    buf: &[u8],
) -> Result<Option<ReceiveSummary>, ValidationError> {
    let FrameStatus::Complete { len } = framer.next_frame(buf) else {
        return Ok(None);
    };
    let Some(h) = validator.validate_framed_indexed(&buf[..len], index)? else {
        return Ok(None);
    };
    Ok(summary(len, &h))
}

/// What the receive workloads return for a frame of `len` bytes with header `h`.
#[inline(always)]
fn summary(len: usize, h: &HeaderFields<'_>) -> Option<ReceiveSummary> {
    let len_of = |v: Option<&[u8]>| v.map_or(0, <[u8]>::len);
    h.seq_num.map(|seq_num| ReceiveSummary {
        frame_len: len,
        seq_num,
        digest: h.msg_type.len()
            + len_of(h.sender_comp_id)
            + len_of(h.sending_time)
            + len_of(h.target_comp_id),
    })
}

/// SendingTime of the reference ExecutionReport in `data/er44.fix`: 2026-11-23 10:15:30.125 UTC.
pub const ER_REFERENCE_TIME: UtcTimestamp =
    UtcTimestamp::from_unix_nanos(1_795_428_930_125_000_000);
/// MsgSeqNum of the reference ExecutionReport in `data/er44.fix`.
pub const ER_REFERENCE_SEQ: u64 = 1234;

/// The send hot path: a FIX.4.4 ExecutionReport (fill) of about 200 bytes, header fields in the
/// order the session writes them, `SendingTime <52>` through the caller's formatter.
#[inline]
pub fn encode_execution_report<'a>(
    out: &'a mut EncodeBuffer,
    formatter: &mut TimestampFormatter,
    seq: u64,
    now: UtcTimestamp,
) -> &'a [u8] {
    let mut e = out.encoder(b"FIX.4.4", b"8");
    e.field_u64(34, seq).field(49, b"BROKER01");
    e.field_timestamp(52, now, TimePrecision::Millis, formatter);
    e.field(56, b"CLIENT01")
        .field(6, b"101.25")
        .field(11, b"ORD-000000001")
        .field_u64(14, 100)
        .field(17, b"EXEC-000000001")
        .field(31, b"101.25")
        .field_u64(32, 100)
        .field(37, b"BRK-0000001")
        .field_u64(38, 100)
        .field_char(39, b'2')
        .field_char(54, b'1')
        .field(55, b"MSFT")
        .field_char(150, b'F')
        .field_u64(151, 0);
    e.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nos44_frames_and_scans_all_fields() {
        let nos = data_file("nos44.fix");
        assert_eq!(nos.len(), 181);
        let s = frame_and_scan(&Framer::default(), &nos).expect("a valid frame");
        assert_eq!(s.frame_len, 181);
        assert_eq!(s.fields, 18);
        // Damage one body byte: the checksum no longer matches and nothing is scanned.
        let mut bad = nos.clone();
        bad[30] ^= 1;
        assert_eq!(frame_and_scan(&Framer::default(), &bad), None);
    }

    #[test]
    fn nos44_and_er44_are_valid_fix44() {
        let v = fix44_validator();
        let framer = Framer::default();
        let nos = data_file("nos44.fix");
        let s = frame_scan_validate(&framer, &v, &nos).expect("valid FIX.4.4");
        assert_eq!(s.map(|s| s.fields), Some(18));
        assert_eq!(v.validate(&data_file("er44.fix")), Ok(()));
        // Not a vacuous pass: an undefined tag is rejected.
        let mut out = EncodeBuffer::default();
        let mut e = out.encoder(b"FIX.4.4", b"D");
        e.field_u64(34, 2)
            .field(49, b"A")
            .field(52, b"20261123-10:15:30.123")
            .field(56, b"B")
            .field(4999, b"x");
        let bad = e.finish();
        assert!(frame_scan_validate(&framer, &v, bad).is_err());
    }

    #[test]
    fn receive_reads_the_header_of_a_valid_frame() {
        let v = fix44_validator();
        let framer = Framer::default();
        let nos = data_file("nos44.fix");
        let r = receive(&framer, &v, &nos).expect("valid FIX.4.4");
        assert_eq!(
            r,
            Some(ReceiveSummary {
                frame_len: 181,
                seq_num: 1234,
                digest: 1 + 8 + 8 + 21,
            })
        );
        // Not a vacuous pass: an invalid value is rejected with its reason.
        let mut out = EncodeBuffer::default();
        let mut e = out.encoder(b"FIX.4.4", b"D");
        e.field_u64(34, 2)
            .field(49, b"A")
            .field(52, b"20261123-10:15:30.123")
            .field(56, b"B")
            .field(11, b"X")
            .field(21, b"1")
            .field(38, b"100")
            .field(40, b"Z")
            .field(54, b"1")
            .field(55, b"MSFT")
            .field(60, b"20261123-10:15:30.123");
        let bad = e.finish();
        let err = receive(&framer, &v, bad).expect_err("40=Z is not an OrdType");
        assert_eq!(err.tag, Some(40));
        assert_eq!(err.reason, fix_codec::RejectReason::ValueIsIncorrect);
    }

    #[test]
    fn execution_report_matches_reference_bytes() {
        let reference = data_file("er44.fix");
        let mut out = EncodeBuffer::default();
        let mut f = TimestampFormatter::new();
        let er = encode_execution_report(&mut out, &mut f, ER_REFERENCE_SEQ, ER_REFERENCE_TIME);
        assert_eq!(
            String::from_utf8_lossy(er).replace('\x01', "|"),
            String::from_utf8_lossy(&reference).replace('\x01', "|")
        );
        let s = frame_and_scan(&Framer::default(), er).expect("a valid frame");
        assert_eq!(s.frame_len, er.len());
        assert!((190..=220).contains(&er.len()), "{} bytes", er.len());
    }
}

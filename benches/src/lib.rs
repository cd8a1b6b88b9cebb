//! Shared benchmark inputs and workloads. The message bytes live in `benches/data/` so that every
//! harness (ours and the peers') measures the very same bytes; the workloads live here so that the
//! criterion benches, the allocation tests and the latency harness run the very same code.

pub mod alloc;

use fix_codec::time::TimestampFormatter;
use fix_codec::{EncodeBuffer, FieldIter, FrameStatus, Framer, TimePrecision, UtcTimestamp};

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

//! Encoding into a caller-owned, reusable buffer.
//!
//! The body is written after a reserved gap; [`Encoder::finish`] writes `8=` and `9=` right-aligned
//! into the gap and appends `10=`, so nothing is moved and nothing is allocated once the buffer has
//! grown to the largest message.

use crate::SOH;
use crate::checksum;
use crate::time::{TimePrecision, TimestampFormatter, UtcTimestamp, write_digits};

/// Room kept before the body for `8=<BeginString> SOH 9=<len> SOH`.
const HEADER_GAP: usize = 40;
/// Longest BeginString accepted by the encoder.
pub const MAX_BEGIN_STRING_LEN: usize = 16;

/// A reusable output buffer. Holds at most one encoded message at a time.
#[derive(Debug, Clone)]
pub struct EncodeBuffer {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Default for EncodeBuffer {
    fn default() -> Self {
        Self::with_capacity(512)
    }
}

impl EncodeBuffer {
    /// A buffer with room for `capacity` bytes of body before it has to grow.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(HEADER_GAP + capacity + 8);
        buf.resize(HEADER_GAP, 0);
        Self {
            buf,
            start: HEADER_GAP,
            end: HEADER_GAP,
        }
    }

    /// The last finished message.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// An encoder that appends fields after everything this buffer holds, writing no
    /// `MsgType`: for staging bodies one after another (an engine's queue of replies, framed
    /// later by the session). Read them with [`EncodeBuffer::staged`]. Not for whole messages:
    /// do not [`Encoder::finish`] it.
    #[inline]
    pub fn appender(&mut self) -> Encoder<'_> {
        Encoder {
            out: self,
            begin_string: b"",
        }
    }

    /// Everything staged: the bytes written through [`EncodeBuffer::appender`] and
    /// [`EncodeBuffer::stage`] since the last [`EncodeBuffer::truncate_staged`] to zero.
    #[inline]
    pub fn staged(&self) -> &[u8] {
        &self.buf[HEADER_GAP..]
    }

    /// Appends raw bytes to what is staged.
    #[inline]
    pub fn stage(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Keeps the first `len` staged bytes.
    #[inline]
    pub fn truncate_staged(&mut self, len: usize) {
        self.buf.truncate(HEADER_GAP + len);
    }

    /// Start a new message, discarding the previous one.
    #[inline]
    pub fn encoder<'a>(&'a mut self, begin_string: &'a [u8], msg_type: &[u8]) -> Encoder<'a> {
        Encoder::new(self, begin_string, msg_type)
    }
}

/// Writes one message's fields. Fields are written in call order: the caller puts header fields
/// first (the session layer does), then the body.
#[derive(Debug)]
pub struct Encoder<'a> {
    out: &'a mut EncodeBuffer,
    begin_string: &'a [u8],
}

impl<'a> Encoder<'a> {
    /// Begin a message with `BeginString <8>` and `MsgType <35>`.
    ///
    /// # Panics
    /// If `begin_string` is longer than [`MAX_BEGIN_STRING_LEN`]: a programming error.
    #[inline]
    pub fn new(out: &'a mut EncodeBuffer, begin_string: &'a [u8], msg_type: &[u8]) -> Self {
        assert!(
            begin_string.len() <= MAX_BEGIN_STRING_LEN,
            "BeginString too long"
        );
        out.buf.truncate(HEADER_GAP);
        out.start = HEADER_GAP;
        out.end = HEADER_GAP;
        let mut enc = Self { out, begin_string };
        enc.field(35, msg_type);
        enc
    }

    #[inline]
    fn tag(&mut self, tag: u32) {
        let mut digits = [0u8; 10];
        let n = u32_digits(tag, &mut digits);
        self.out.buf.extend_from_slice(&digits[10 - n..]);
        self.out.buf.push(b'=');
    }

    /// A field with raw value bytes.
    #[inline]
    pub fn field(&mut self, tag: u32, value: &[u8]) -> &mut Self {
        self.tag(tag);
        self.out.buf.extend_from_slice(value);
        self.out.buf.push(SOH);
        self
    }

    /// A field with text.
    #[inline]
    pub fn field_str(&mut self, tag: u32, value: &str) -> &mut Self {
        self.field(tag, value.as_bytes())
    }

    /// An unsigned integer field.
    #[inline]
    pub fn field_u64(&mut self, tag: u32, value: u64) -> &mut Self {
        let mut digits = [0u8; 20];
        let n = u64_digits(value, &mut digits);
        self.field(tag, &digits[20 - n..])
    }

    /// A signed integer field.
    #[inline]
    pub fn field_i64(&mut self, tag: u32, value: i64) -> &mut Self {
        if value < 0 {
            let mut digits = [0u8; 21];
            let n = u64_digits(value.unsigned_abs(), &mut digits[1..]);
            digits[20 - n] = b'-';
            self.field(tag, &digits[20 - n..])
        } else {
            self.field_u64(tag, value as u64)
        }
    }

    /// A one-character field.
    #[inline]
    pub fn field_char(&mut self, tag: u32, value: u8) -> &mut Self {
        self.field(tag, &[value])
    }

    /// A boolean field (`Y` / `N`).
    #[inline]
    pub fn field_bool(&mut self, tag: u32, value: bool) -> &mut Self {
        self.field_char(tag, if value { b'Y' } else { b'N' })
    }

    /// A `UTCTimestamp` field, formatted through the caller's cache.
    #[inline]
    pub fn field_timestamp(
        &mut self,
        tag: u32,
        ts: UtcTimestamp,
        precision: TimePrecision,
        formatter: &mut TimestampFormatter,
    ) -> &mut Self {
        let mut text = [0u8; 27];
        let n = formatter.format(ts, precision, &mut text);
        self.field(tag, &text[..n])
    }

    /// Already-encoded fields (`tag=value SOH ...`), copied verbatim.
    #[inline]
    pub fn raw(&mut self, fields: &[u8]) -> &mut Self {
        self.out.buf.extend_from_slice(fields);
        self
    }

    /// Bytes of body written so far (after `9=`), for callers that need BodyLength early.
    #[inline]
    pub fn body_len(&self) -> usize {
        self.out.buf.len() - HEADER_GAP
    }

    /// Write `8=`, `9=` and `10=`; returns the finished message.
    #[inline]
    pub fn finish(self) -> &'a [u8] {
        let out = self.out;
        let body_len = out.buf.len() - HEADER_GAP;
        let mut len_digits = [0u8; 20];
        let ld = u64_digits(body_len as u64, &mut len_digits);
        let header_len = 2 + self.begin_string.len() + 1 + 2 + ld + 1;
        let start = HEADER_GAP - header_len;
        let h = &mut out.buf[start..HEADER_GAP];
        h[0] = b'8';
        h[1] = b'=';
        let bs = self.begin_string.len();
        h[2..2 + bs].copy_from_slice(self.begin_string);
        h[2 + bs] = SOH;
        h[3 + bs] = b'9';
        h[4 + bs] = b'=';
        h[5 + bs..5 + bs + ld].copy_from_slice(&len_digits[20 - ld..]);
        h[5 + bs + ld] = SOH;
        let sum = checksum(&out.buf[start..]);
        let mut trailer = *b"10=000\x01";
        write_digits(&mut trailer[3..6], u64::from(sum));
        out.buf.extend_from_slice(&trailer);
        out.start = start;
        out.end = out.buf.len();
        &out.buf[out.start..out.end]
    }
}

/// Write `n` right-aligned into `out`; returns the digit count.
#[inline]
fn u64_digits(mut n: u64, out: &mut [u8]) -> usize {
    let len = out.len();
    let mut i = len;
    loop {
        i -= 1;
        out[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    len - i
}

#[inline]
fn u32_digits(n: u32, out: &mut [u8; 10]) -> usize {
    u64_digits(u64::from(n), out)
}

/// Writes the body fields of `msg` (everything but [`crate::tags::is_envelope`] tags) into `enc`,
/// sorted by tag, stable: the body order of an echo for a session without a dictionary.
/// Allocates (a list of the fields); not for a hot path.
pub fn write_body_sorted(msg: &[u8], enc: &mut Encoder<'_>) {
    let mut body: Vec<(u32, &[u8])> = crate::MessageRef::new(msg)
        .fields()
        .map_while(Result::ok)
        .filter(|f| !crate::tags::is_envelope(f.tag))
        .map(|f| (f.tag, f.value))
        .collect();
    body.sort_by_key(|f| f.0);
    for (t, v) in body {
        enc.field(t, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::MessageRef;
    use crate::frame::{FrameStatus, Framer};

    #[test]
    fn staged_bodies_follow_one_another_unframed_and_truncate() {
        let mut b = EncodeBuffer::default();
        assert!(b.staged().is_empty());
        b.stage(b"D");
        b.appender().field(11, b"A").field_u64(38, 100);
        let first = b.staged().len();
        b.appender().field_char(54, b'1');
        assert_eq!(b.staged(), b"D11=A\x0138=100\x0154=1\x01");
        b.truncate_staged(first);
        assert_eq!(b.staged(), b"D11=A\x0138=100\x01");
        b.truncate_staged(0);
        assert!(b.staged().is_empty());
        // A message encoded afterwards is framed as usual.
        let m = b.encoder(b"FIX.4.4", b"0").finish().to_vec();
        assert!(m.starts_with(b"8=FIX.4.4\x019=5\x0135=0\x01"), "{m:?}");
    }

    #[test]
    fn encodes_header_body_trailer() {
        let mut buf = EncodeBuffer::default();
        let mut e = buf.encoder(b"FIX.4.2", b"0");
        e.field_u64(34, 2)
            .field_str(49, "A")
            .field_str(56, "B")
            .field_i64(1, -42)
            .field_bool(43, true);
        let m = e.finish().to_vec();
        let s = String::from_utf8(m.clone()).unwrap().replace('\x01', "|");
        assert!(
            s.starts_with("8=FIX.4.2|9=31|35=0|34=2|49=A|56=B|1=-42|43=Y|10="),
            "{s}"
        );
        assert_eq!(
            Framer::default().next_frame(&m),
            FrameStatus::Complete { len: m.len() }
        );
        assert_eq!(MessageRef::new(&m).get(1), Some(&b"-42"[..]));
        assert_eq!(buf.as_bytes(), &m[..]);
    }

    #[test]
    fn buffer_is_reused_without_growth() {
        let mut buf = EncodeBuffer::with_capacity(256);
        let cap = buf.buf.capacity();
        for i in 0..1000u64 {
            let mut e = buf.encoder(b"FIXT.1.1", b"8");
            e.field_u64(34, i)
                .field_i64(38, i64::MIN)
                .field_u64(1, u64::MAX);
            e.finish();
        }
        assert_eq!(buf.buf.capacity(), cap);
    }

    #[test]
    fn timestamp_field() {
        let mut buf = EncodeBuffer::default();
        let mut f = TimestampFormatter::new();
        let mut e = buf.encoder(b"FIX.4.4", b"0");
        e.field_timestamp(
            52,
            UtcTimestamp::from_unix_nanos(1_500_000_000_123_000_000),
            TimePrecision::Millis,
            &mut f,
        );
        let m = e.finish();
        assert_eq!(
            MessageRef::new(m).get(52),
            Some(&b"20170714-02:40:00.123"[..])
        );
    }
}

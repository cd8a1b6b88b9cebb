//! Zero-copy access to `tag=value` fields.
//!
//! [`FieldIter`] walks a message without allocating. Length-prefixed `data` fields (such as
//! `RawDataLength <95>` / `RawData <96>`) are read by length, so their values may contain SOH.

use crate::SOH;
use crate::time::{LocalMktDate, UtcTimeOnly, UtcTimestamp};

/// One `tag=value` pair borrowed from the message bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// The tag number (always > 0).
    pub tag: u32,
    /// The raw value bytes, without the `=` and the trailing SOH.
    pub value: &'a [u8],
    /// Byte offset of the first digit of the tag within the scanned buffer.
    pub offset: usize,
}

/// Why a field could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// The tag is empty, not a number, zero, or too large.
    #[error("invalid tag at byte {offset}")]
    InvalidTag {
        /// Offset of the field.
        offset: usize,
    },
    /// No `=` after the tag digits.
    #[error("missing '=' at byte {offset}")]
    MissingEquals {
        /// Offset of the field.
        offset: usize,
    },
    /// The field is not terminated by SOH.
    #[error("unterminated field at byte {offset}")]
    Unterminated {
        /// Offset of the field.
        offset: usize,
    },
    /// A data field's declared length runs past the end of the message or is not followed by SOH.
    #[error("data field length mismatch for tag {tag} at byte {offset}")]
    DataLength {
        /// The data tag.
        tag: u32,
        /// Offset of the field.
        offset: usize,
    },
}

/// For a length tag, the tag of the `data` field whose byte length it gives.
///
/// These pairs are fixed by the FIX specification (4.0 through 5.0SP2); the data field must
/// immediately follow its length field.
#[inline]
pub const fn data_tag_for_length(length_tag: u32) -> Option<u32> {
    Some(match length_tag {
        90 => 91,
        93 => 89,
        95 => 96,
        212 => 213,
        348 => 349,
        350 => 351,
        352 => 353,
        354 => 355,
        356 => 357,
        358 => 359,
        360 => 361,
        362 => 363,
        364 => 365,
        445 => 446,
        618 => 619,
        621 => 622,
        1184 => 1185,
        1277 => 1278,
        1400 => 1401,
        1402 => 1403,
        _ => return None,
    })
}

/// Largest tag number accepted by the scanner. FIX tags fit comfortably; larger values are garbage.
pub const MAX_TAG: u32 = 999_999_999;

/// Iterator over the fields of a message (or any `tag=value` run).
///
/// Yields `Err` once on malformed input and then stops.
#[derive(Debug, Clone)]
pub struct FieldIter<'a> {
    buf: &'a [u8],
    pos: usize,
    pending_data: Option<(u32, usize)>,
    failed: bool,
    sohs: SohCursor,
}

impl<'a> FieldIter<'a> {
    /// Scan `buf` from its start.
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            pending_data: None,
            failed: false,
            sohs: SohCursor::new(),
        }
    }

    /// Byte offset of the next field to be read.
    #[inline]
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for FieldIter<'a> {
    type Item = Result<Field<'a>, FieldError>;

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        self.next_careful()
    }
}

impl<'a> FieldIter<'a> {
    /// A length field was read: the next field, if it is the matching data field, is read by
    /// length (it may contain SOH).
    #[cold]
    fn announce_data(&mut self, tag: u32, value: &[u8]) {
        if let Some(data_tag) = data_tag_for_length(tag)
            && let Some(len) = parse_u64(value)
        {
            self.pending_data = Some((data_tag, len as usize));
        }
    }

    // A byte-at-a-time tag loop: measured faster here than reading the tag a word at a time
    // (SWAR), whose fixed cost exceeds the two to four digits of a typical tag.
    #[inline(always)]
    fn next_careful(&mut self) -> Option<Result<Field<'a>, FieldError>> {
        let start = self.pos;
        let buf = self.buf;
        // The first SOH from the field's start, looked up before the tag is read so that the two
        // overlap: it ends the value unless the value is a data field read by length (a valid
        // tag and '=' hold no SOH, so it is the first SOH after '=' as well).
        let soh = self.sohs.find(buf, start);
        let mut i = start;
        // A u64 accumulator cannot overflow while the tag stays <= MAX_TAG (< 10^9), so one
        // compare per digit replaces checked multiply and add.
        let mut tag: u64 = 0;
        while let Some(&b) = buf.get(i) {
            let digit = b.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            tag = tag * 10 + u64::from(digit);
            if tag > u64::from(MAX_TAG) {
                return self.fail(FieldError::InvalidTag { offset: start });
            }
            i += 1;
        }
        if i == start || tag == 0 {
            return self.fail(FieldError::InvalidTag { offset: start });
        }
        let tag = tag as u32;
        if buf.get(i) != Some(&b'=') {
            return self.fail(FieldError::MissingEquals { offset: start });
        }
        let value_start = i + 1;
        let value_end = match self.pending_data.take() {
            Some((data_tag, len)) if data_tag == tag => {
                let end = value_start.saturating_add(len);
                if end >= buf.len() || buf[end] != SOH {
                    return self.fail(FieldError::DataLength { tag, offset: start });
                }
                end
            }
            _ => match soh {
                Some(end) => end,
                None => return self.fail(FieldError::Unterminated { offset: start }),
            },
        };
        let value = &buf[value_start..value_end];
        // Only length tags pay for parsing their value.
        if is_length_tag(tag) {
            self.announce_data(tag, value);
        }
        self.pos = value_end + 1;
        Some(Ok(Field {
            tag,
            value,
            offset: start,
        }))
    }
}

impl<'a> FieldIter<'a> {
    #[cold]
    fn fail(&mut self, e: FieldError) -> Option<Result<Field<'a>, FieldError>> {
        self.failed = true;
        Some(Err(e))
    }
}

/// Tags below this that announce a data field, as a bitmap: one load instead of a `match`.
const LENGTH_TAGS: [u64; 22] = {
    let mut bits = [0u64; 22];
    let mut t = 0u32;
    while t < 22 * 64 {
        if data_tag_for_length(t).is_some() {
            bits[(t / 64) as usize] |= 1u64 << (t % 64);
        }
        t += 1;
    }
    bits
};

/// Whether `tag` is a length tag announcing a data field (`data_tag_for_length(tag).is_some()`).
#[inline(always)]
pub(crate) fn is_length_tag(tag: u32) -> bool {
    match LENGTH_TAGS.get((tag / 64) as usize) {
        Some(w) => w & (1u64 << (tag % 64)) != 0,
        None => data_tag_for_length(tag).is_some(),
    }
}

/// Index of the first SOH in `hay`, eight bytes at a time.
///
/// Values are short (a few to a few dozen bytes), so a word-at-a-time scan beats both a byte loop
/// and a SIMD `memchr`'s setup cost.
#[inline]
pub(crate) fn find_soh(hay: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut offset = 0;
    let mut rest = hay;
    while let Some((word, tail)) = rest.split_first_chunk::<8>() {
        // SOH bytes become zero bytes; the classic has-zero-byte test then flags them. Borrows
        // can only flag bytes above a real zero, so the lowest flag is the first SOH.
        let x = u64::from_le_bytes(*word) ^ ONES;
        let found = x.wrapping_sub(ONES) & !x & HIGHS;
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
        rest = tail;
    }
    rest.iter().position(|&b| b == SOH).map(|p| offset + p)
}

/// Bit `i` set where byte `i` of `block` is SOH.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn soh_bits64(block: &[u8; 64]) -> u64 {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    let mut bits = 0u64;
    for (k, chunk) in block.as_chunks::<16>().0.iter().enumerate() {
        // SAFETY: SSE2 is part of the x86_64 baseline; the load reads exactly the 16 bytes of
        // `chunk` (any alignment).
        let m = unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast());
            _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(SOH as i8)))
        };
        bits |= u64::from(m as u16) << (16 * k);
    }
    bits
}

/// Bit `i` set where byte `i` of `block` is SOH (exact zero-byte test per word, then the eight
/// flags gathered into one byte by a multiply).
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn soh_bits64(block: &[u8; 64]) -> u64 {
    soh_bits64_portable(block)
}

#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
fn soh_bits64_portable(block: &[u8; 64]) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let mut bits = 0u64;
    for (k, w) in block.as_chunks::<8>().0.iter().enumerate() {
        let x = u64::from_le_bytes(*w) ^ ONES;
        // 0x80 exactly in the bytes of `x` that are zero (no borrow crosses a byte).
        let z = !(((x & LOW7) + LOW7) | x | LOW7);
        let byte = ((z >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56;
        bits |= byte << (8 * k);
    }
    bits
}

/// Finds SOH bytes in a buffer 64 bytes at a time: one block of comparisons gives a bitmask,
/// after which each SOH costs a shift and a trailing-zero count. The point is the dependency
/// chain of a field scan (where does the next field start?), which a word-at-a-time search makes
/// a load plus several arithmetic steps long per field; here it is a couple of bit operations.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SohCursor {
    /// Index of the 64-byte block (from the start of the buffer) that `bits` describes.
    block: usize,
    bits: u64,
}

impl SohCursor {
    /// A cursor with no block loaded yet.
    #[inline(always)]
    pub(crate) const fn new() -> Self {
        Self {
            block: usize::MAX,
            bits: 0,
        }
    }

    /// The SOH positions of block `k` of `buf` (bytes past the end are not SOH).
    #[inline(always)]
    fn load(buf: &[u8], k: usize) -> u64 {
        let start = k * 64;
        if let Some(block) = buf.get(start..).and_then(|r| r.first_chunk::<64>()) {
            return soh_bits64(block);
        }
        let n = buf.len();
        if n >= 64 {
            // The last 64 bytes, shifted so that bit 0 is `start`: no copy.
            let last = buf[n - 64..].first_chunk::<64>().map_or(0, soh_bits64);
            return last >> (start - (n - 64));
        }
        let mut block = [0u8; 64];
        let tail = buf.get(start..).unwrap_or(&[]);
        block[..tail.len()].copy_from_slice(tail);
        soh_bits64(&block)
    }

    /// Position of the first SOH of `buf` at or after `from`.
    #[inline(always)]
    pub(crate) fn find(&mut self, buf: &[u8], from: usize) -> Option<usize> {
        let mut k = from / 64;
        let mut shift = from % 64;
        loop {
            if k != self.block {
                if k * 64 >= buf.len() {
                    return None;
                }
                self.block = k;
                self.bits = Self::load(buf, k);
            }
            let m = self.bits & (u64::MAX << shift);
            if m != 0 {
                return Some(k * 64 + m.trailing_zeros() as usize);
            }
            k += 1;
            shift = 0;
        }
    }
}

/// Most fields a [`FieldIndex`] records; a message with more is looked up by scanning.
pub const FIELD_INDEX_CAPACITY: usize = 64;

/// Where each field of one message lies, recorded by a pass that reads every field anyway (the
/// dictionary validator's, [`crate::Validator::validate_framed_indexed`]), so that
/// [`MessageRef`] lookups scan a compact array of tags instead of parsing the bytes again (five
/// lookups in a `NewOrderSingle`: one pass over 18 tags instead of one over 180 bytes).
///
/// Reusable: one per session, rebuilt for each message, never allocating. An index describes
/// the bytes it was built from; [`MessageRef::with_index`] ignores it for any other address or
/// length.
#[derive(Clone)]
pub struct FieldIndex {
    pub(crate) tags: [u32; FIELD_INDEX_CAPACITY],
    /// Value start and end of each recorded field.
    pub(crate) spans: [(u32, u32); FIELD_INDEX_CAPACITY],
    pub(crate) len: usize,
    /// Address and length of the indexed message; `None` when the index describes nothing.
    frame: Option<(usize, usize)>,
    /// The layouts of messages the validator proved valid through this index, which make the
    /// next message of the same layout cheaper to prove (see `dict/fast.rs`). Kept across
    /// messages; empty (no allocation) until the first one.
    pub(crate) shapes: crate::dict::ShapeCache,
}

impl Default for FieldIndex {
    fn default() -> Self {
        Self {
            tags: [0; FIELD_INDEX_CAPACITY],
            spans: [(0, 0); FIELD_INDEX_CAPACITY],
            len: 0,
            frame: None,
            shapes: crate::dict::ShapeCache::default(),
        }
    }
}

impl std::fmt::Debug for FieldIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldIndex")
            .field("tags", &&self.tags[..self.len])
            .field("frame", &self.frame)
            .finish()
    }
}

impl FieldIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forget the indexed message.
    #[inline]
    pub fn clear(&mut self) {
        self.len = 0;
        self.frame = None;
    }

    /// Record a field of the message being indexed, in wire order; `false` once full (the
    /// index is then unusable for this message).
    #[inline(always)]
    pub(crate) fn push(&mut self, tag: u32, value_start: usize, value_end: usize) -> bool {
        let i = self.len;
        if i >= FIELD_INDEX_CAPACITY {
            return false;
        }
        self.tags[i] = tag;
        self.spans[i] = (value_start as u32, value_end as u32);
        self.len = i + 1;
        true
    }

    /// The fields recorded since [`FieldIndex::clear`] are every field of `frame`, in order.
    #[inline(always)]
    pub(crate) fn complete(&mut self, frame: &[u8]) {
        self.frame = Some((frame.as_ptr() as usize, frame.len()));
    }

    /// Whether this index describes `bytes` (same address and length).
    #[inline]
    pub fn describes(&self, bytes: &[u8]) -> bool {
        self.frame == Some((bytes.as_ptr() as usize, bytes.len()))
    }

    #[inline]
    pub(crate) fn value<'a>(&self, bytes: &'a [u8], i: usize) -> &'a [u8] {
        let (s, e) = self.spans[i];
        &bytes[s as usize..e as usize]
    }
}

/// A complete, framed message: cheap lookups by tag without building a map.
///
/// Lookups are linear scans; a session message has a few dozen fields at most, and a scan over
/// contiguous bytes beats hashing. With a [`FieldIndex`] of the message (a validating session
/// delivers messages with one), they scan its array of tags instead of the bytes.
#[derive(Debug, Clone, Copy)]
pub struct MessageRef<'a> {
    bytes: &'a [u8],
    index: Option<&'a FieldIndex>,
}

impl<'a> MessageRef<'a> {
    /// Wrap the bytes of one message (as returned by the framer).
    #[inline]
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, index: None }
    }

    /// Wrap the bytes of one message with an index of its fields. An index that does not
    /// describe `bytes` (see [`FieldIndex::describes`]) is not used. The index must have been
    /// built from these very bytes: an index of other contents once held at the same address,
    /// with the same length, would give wrong answers.
    #[inline]
    pub fn with_index(bytes: &'a [u8], index: &'a FieldIndex) -> Self {
        Self {
            bytes,
            index: index.describes(bytes).then_some(index),
        }
    }

    /// Whether lookups use a [`FieldIndex`].
    #[inline]
    pub fn is_indexed(&self) -> bool {
        self.index.is_some()
    }

    /// The whole message, from `8=` to the SOH after `10=`.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Iterate all fields in wire order.
    #[inline]
    pub fn fields(&self) -> FieldIter<'a> {
        FieldIter::new(self.bytes)
    }

    /// First value of `tag`, if present and the message is well-formed up to it.
    #[inline]
    pub fn get(&self, tag: u32) -> Option<&'a [u8]> {
        if let Some(ix) = self.index {
            let i = ix.tags[..ix.len].iter().position(|&t| t == tag)?;
            return Some(ix.value(self.bytes, i));
        }
        self.fields()
            .map_while(Result::ok)
            .find(|f| f.tag == tag)
            .map(|f| f.value)
    }

    /// The first value of each of `tags`, in one pass over the message that stops once every
    /// tag is found: for an application reading several fields, `N` calls of
    /// [`MessageRef::get`] scan the message `N` times (five lookups in a `NewOrderSingle`: about
    /// 330 ns against 120 ns). A tag that is absent, or after a malformed field, is `None`.
    #[inline]
    pub fn get_many<const N: usize>(&self, tags: [u32; N]) -> [Option<&'a [u8]>; N] {
        let mut out = [None; N];
        if let Some(ix) = self.index {
            for (slot, &t) in out.iter_mut().zip(&tags) {
                if let Some(i) = ix.tags[..ix.len].iter().position(|&x| x == t) {
                    *slot = Some(ix.value(self.bytes, i));
                }
            }
            return out;
        }
        let mut missing = N;
        for f in self.fields().map_while(Result::ok) {
            for (slot, &t) in out.iter_mut().zip(&tags) {
                if t == f.tag && slot.is_none() {
                    *slot = Some(f.value);
                    missing -= 1;
                }
            }
            if missing == 0 {
                break;
            }
        }
        out
    }

    /// First field with `tag`, with its offset.
    #[inline]
    pub fn field(&self, tag: u32) -> Option<Field<'a>> {
        self.fields().map_while(Result::ok).find(|f| f.tag == tag)
    }

    /// `MsgType <35>`.
    #[inline]
    pub fn msg_type(&self) -> Option<&'a [u8]> {
        if let Some(ix) = self.index {
            let i = ix.tags[..ix.len.min(3)].iter().position(|&t| t == 35)?;
            return Some(ix.value(self.bytes, i));
        }
        // 35 is the third field of a well-formed message: stop early in the common case.
        self.fields()
            .map_while(Result::ok)
            .take(3)
            .find(|f| f.tag == 35)
            .map(|f| f.value)
    }

    /// `BeginString <8>`.
    #[inline]
    pub fn begin_string(&self) -> Option<&'a [u8]> {
        if let Some(ix) = self.index {
            return (ix.len > 0 && ix.tags[0] == 8).then(|| ix.value(self.bytes, 0));
        }
        self.fields()
            .next()
            .and_then(Result::ok)
            .filter(|f| f.tag == 8)
            .map(|f| f.value)
    }

    /// `MsgSeqNum <34>` as a number.
    #[inline]
    pub fn seq_num(&self) -> Option<u64> {
        self.get(34).and_then(parse_u64)
    }

    /// A tag's value as an unsigned integer.
    #[inline]
    pub fn get_u64(&self, tag: u32) -> Option<u64> {
        self.get(tag).and_then(parse_u64)
    }

    /// A tag's value as a FIX boolean (`Y` / `N`).
    #[inline]
    pub fn get_bool(&self, tag: u32) -> Option<bool> {
        self.get(tag).and_then(parse_bool)
    }
}

/// Parse a non-negative decimal integer (no sign, no spaces). `None` on empty, non-digit or overflow.
/// Any number of leading zeros is accepted, as FIX `int` allows them.
#[inline]
pub fn parse_u64(v: &[u8]) -> Option<u64> {
    // No length cut-off: `checked_mul` already bounds the value, and a cut-off at 20 bytes
    // rejected zero-padded values such as a RawDataLength of `000000000000000000003`.
    if v.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Parse a signed decimal integer with an optional leading `-`.
#[inline]
pub fn parse_i64(v: &[u8]) -> Option<i64> {
    match v.split_first() {
        Some((b'-', rest)) => {
            let n = parse_u64(rest)?;
            if n <= i64::MAX as u64 + 1 {
                Some((n as i64).wrapping_neg())
            } else {
                None
            }
        }
        _ => parse_u64(v).and_then(|n| i64::try_from(n).ok()),
    }
}

/// Parse a FIX boolean: `Y` or `N`.
#[inline]
pub fn parse_bool(v: &[u8]) -> Option<bool> {
    match v {
        b"Y" => Some(true),
        b"N" => Some(false),
        _ => None,
    }
}

/// Parse a FIX `char`: exactly one byte.
#[inline]
pub fn parse_char(v: &[u8]) -> Option<u8> {
    match v {
        [c] => Some(*c),
        _ => None,
    }
}

/// Whether `v` is a valid FIX decimal (`float`, `Qty`, `Price`, ...): optional `-`, digits, at most
/// one `.`, at least one digit. The value stays text: FIX decimals are not binary floats.
#[inline]
pub fn is_decimal(v: &[u8]) -> bool {
    let digits = match v.split_first() {
        Some((b'-', rest)) => rest,
        _ => v,
    };
    let mut seen_digit = false;
    let mut seen_dot = false;
    for &b in digits {
        match b {
            b'0'..=b'9' => seen_digit = true,
            b'.' if !seen_dot => seen_dot = true,
            _ => return false,
        }
    }
    seen_digit
}

impl<'a> Field<'a> {
    /// The value as an unsigned integer.
    #[inline]
    pub fn as_u64(&self) -> Option<u64> {
        parse_u64(self.value)
    }
    /// The value as a signed integer.
    #[inline]
    pub fn as_i64(&self) -> Option<i64> {
        parse_i64(self.value)
    }
    /// The value as a single character.
    #[inline]
    pub fn as_char(&self) -> Option<u8> {
        parse_char(self.value)
    }
    /// The value as a FIX boolean.
    #[inline]
    pub fn as_bool(&self) -> Option<bool> {
        parse_bool(self.value)
    }
    /// The value as UTF-8 text.
    #[inline]
    pub fn as_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.value).ok()
    }
    /// The value as a decimal kept as text (validated).
    #[inline]
    pub fn as_decimal_text(&self) -> Option<&'a str> {
        if is_decimal(self.value) {
            self.as_str()
        } else {
            None
        }
    }
    /// The value as a `UTCTimestamp`.
    #[inline]
    pub fn as_timestamp(&self) -> Option<UtcTimestamp> {
        UtcTimestamp::parse(self.value)
    }
    /// The value as a `UTCTimeOnly`.
    #[inline]
    pub fn as_time_only(&self) -> Option<UtcTimeOnly> {
        UtcTimeOnly::parse(self.value)
    }
    /// The value as a `LocalMktDate` (also `UTCDateOnly`).
    #[inline]
    pub fn as_local_mkt_date(&self) -> Option<LocalMktDate> {
        LocalMktDate::parse(self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(b: &[u8]) -> Vec<Result<(u32, Vec<u8>), FieldError>> {
        FieldIter::new(b)
            .map(|r| r.map(|f| (f.tag, f.value.to_vec())))
            .collect()
    }

    /// Bytes with SOH at scattered places, including next to 64-byte block boundaries.
    fn soh_pattern(len: usize, seed: u32) -> Vec<u8> {
        (0..len as u32)
            .map(|i| {
                let h = (i ^ seed).wrapping_mul(2_654_435_761) >> 27;
                if h < 5 { SOH } else { b'a' + (h % 26) as u8 }
            })
            .collect()
    }

    #[test]
    fn an_index_serves_only_the_bytes_it_describes_and_only_when_complete() {
        let m = b"8=FIX.4.4\x019=5\x0135=0\x0110=000\x01".to_vec();
        let fields: Vec<(u32, usize, usize)> = MessageRef::new(&m)
            .fields()
            .map_while(Result::ok)
            .map(|f| {
                let vs = f.offset + f.tag.to_string().len() + 1;
                (f.tag, vs, vs + f.value.len())
            })
            .collect();
        let mut ix = FieldIndex::new();
        for &(t, s, e) in &fields {
            assert!(ix.push(t, s, e));
        }
        // Not complete yet: lookups scan.
        assert!(!MessageRef::with_index(&m, &ix).is_indexed());
        ix.complete(&m);
        let with = MessageRef::with_index(&m, &ix);
        assert!(with.is_indexed());
        assert_eq!(with.get(35), Some(&b"0"[..]));
        assert_eq!(with.msg_type(), Some(&b"0"[..]));
        assert_eq!(with.begin_string(), Some(&b"FIX.4.4"[..]));
        assert_eq!(
            with.get_many([10, 9, 7]),
            [Some(&b"000"[..]), Some(&b"5"[..]), None]
        );
        // A copy elsewhere, or a prefix, is not what the index describes.
        let copy = m.clone();
        assert!(!MessageRef::with_index(&copy, &ix).is_indexed());
        assert!(!MessageRef::with_index(&m[..m.len() - 1], &ix).is_indexed());
        ix.clear();
        assert!(!MessageRef::with_index(&m, &ix).is_indexed());
        // Full at FIELD_INDEX_CAPACITY fields.
        for i in 0..FIELD_INDEX_CAPACITY {
            assert!(ix.push(100 + i as u32, 0, 0));
        }
        assert!(!ix.push(1, 0, 0));
    }

    #[test]
    fn get_many_is_get_for_each_tag_in_one_pass() {
        let msg = b"8=FIX.4.4\x019=40\x0135=D\x0111=A\x0155=X\x0111=B\x0154=1\x0110=000\x01";
        let m = MessageRef::new(msg);
        let tags = [11, 55, 54, 38, 11, 35, 10];
        let want = tags.map(|t| m.get(t));
        assert_eq!(m.get_many(tags), want);
        assert_eq!(want[0], Some(&b"A"[..]), "the first of a repeated tag");
        assert_eq!(want[3], None);
        assert_eq!(m.get_many([]), []);
        // Malformed from some field on: nothing after it is found, as with `get`.
        let bad = b"8=FIX.4.4\x0135=D\x0111=A\x01x=1\x0155=X\x01";
        let m = MessageRef::new(bad);
        assert_eq!(m.get_many([11, 55]), [m.get(11), m.get(55)]);
        assert_eq!(m.get_many([11, 55]), [Some(&b"A"[..]), None]);
    }

    #[test]
    fn soh_cursor_finds_what_a_byte_search_finds() {
        for len in (0..200).chain([255, 256, 257, 300]) {
            for seed in [0, 7, 1234] {
                let buf = soh_pattern(len, seed);
                let mut cursor = SohCursor::new();
                // In order (as the scanners use it) and backwards (any order is allowed).
                let froms: Vec<usize> = (0..=len + 1).chain((0..=len).rev()).collect();
                for from in froms {
                    let want = buf
                        .get(from..)
                        .and_then(|r| r.iter().position(|&b| b == SOH))
                        .map(|p| from + p);
                    assert_eq!(
                        cursor.find(&buf, from),
                        want,
                        "len {len} seed {seed} from {from}"
                    );
                }
            }
        }
    }

    #[test]
    fn soh_masks_agree_with_the_portable_version() {
        for seed in 0..64 {
            let buf = soh_pattern(64, seed);
            let block: &[u8; 64] = buf.first_chunk().expect("64 bytes");
            let want = (0..64).fold(0u64, |m, i| m | (u64::from(buf[i] == SOH) << i));
            assert_eq!(soh_bits64(block), want);
            assert_eq!(soh_bits64_portable(block), want);
        }
        let all = [SOH; 64];
        assert_eq!(soh_bits64_portable(&all), u64::MAX);
        assert_eq!(soh_bits64_portable(&[0u8; 64]), 0);
        assert_eq!(soh_bits64_portable(&[0x81u8; 64]), 0);
    }

    #[test]
    fn iterates_fields() {
        let v = fields(b"8=FIX.4.2\x019=12\x0135=A\x01");
        assert_eq!(
            v,
            vec![
                Ok((8, b"FIX.4.2".to_vec())),
                Ok((9, b"12".to_vec())),
                Ok((35, b"A".to_vec()))
            ]
        );
    }

    #[test]
    fn empty_value_is_a_field() {
        assert_eq!(fields(b"58=\x01"), vec![Ok((58, vec![]))]);
    }

    #[test]
    fn data_field_may_contain_soh() {
        let v = fields(b"95=5\x0196=a\x01b=c\x0110=000\x01");
        assert_eq!(v[1], Ok((96, b"a\x01b=c".to_vec())));
        assert_eq!(v[2], Ok((10, b"000".to_vec())));
    }

    #[test]
    fn data_field_length_overrun_is_error() {
        let v = fields(b"95=50\x0196=abc\x01");
        assert!(matches!(v[1], Err(FieldError::DataLength { tag: 96, .. })));
    }

    #[test]
    fn malformed_tags_fail_once() {
        assert!(matches!(
            fields(b"=x\x01")[0],
            Err(FieldError::InvalidTag { .. })
        ));
        assert!(matches!(
            fields(b"0=x\x01")[0],
            Err(FieldError::InvalidTag { .. })
        ));
        assert!(matches!(
            fields(b"a=x\x01")[0],
            Err(FieldError::InvalidTag { .. })
        ));
        assert!(matches!(
            fields(b"12x\x01")[0],
            Err(FieldError::MissingEquals { .. })
        ));
        assert!(matches!(
            fields(b"12=x")[0],
            Err(FieldError::Unterminated { .. })
        ));
        assert!(matches!(
            fields(b"99999999999=x\x01")[0],
            Err(FieldError::InvalidTag { .. })
        ));
        assert_eq!(fields(b"1=a\x01=b\x012=c\x01").len(), 2);
    }

    #[test]
    fn integers() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"+1"), None);
        assert_eq!(parse_u64(b"1 "), None);
        assert_eq!(parse_i64(b"-5"), Some(-5));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"-"), None);
    }

    #[test]
    fn decimals_booleans_chars() {
        for ok in [&b"1"[..], b"-1.5", b"002000.00", b".5", b"5."] {
            assert!(is_decimal(ok), "{:?}", ok);
        }
        for bad in [&b""[..], b"-", b".", b"1.2.3", b"1e5", b"abc"] {
            assert!(!is_decimal(bad), "{:?}", bad);
        }
        assert_eq!(parse_bool(b"Y"), Some(true));
        assert_eq!(parse_bool(b"y"), None);
        assert_eq!(parse_char(b"AB"), None);
    }

    #[test]
    fn message_ref_lookups() {
        let m = MessageRef::new(b"8=FIX.4.4\x019=20\x0135=D\x0134=7\x0143=Y\x0110=000\x01");
        assert_eq!(m.msg_type(), Some(&b"D"[..]));
        assert_eq!(m.begin_string(), Some(&b"FIX.4.4"[..]));
        assert_eq!(m.seq_num(), Some(7));
        assert_eq!(m.get_bool(43), Some(true));
        assert_eq!(m.get(999), None);
    }
}

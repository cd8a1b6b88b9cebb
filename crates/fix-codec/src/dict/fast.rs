//! The fast path of validation: one pass over the frame that either proves the message valid or
//! gives up, in which case the general algorithm (`validate.rs`) runs and finds the exact error.
//!
//! Why two algorithms: the general one must rank every problem by QuickFIX's precedence, track
//! repeating groups entry by entry and tolerate malformed tags; almost every message on a healthy
//! session has none of that. The fast path answers only "valid, for certain" and never produces
//! an error itself, so it cannot change a verdict: it accepts a message only when every field
//! passes every check the general algorithm applies (defined, allowed where it is, not repeated,
//! in order, non-empty, well-formed, an allowed value; every required field present), and gives
//! up on everything it does not handle (repeating groups, malformed tags, any doubt).
//! `tests/dict_fast_path.rs` compares both on mutated messages.

use super::format::{format_ok, is_int, is_timestamp, value_ok};
use super::validate::is_quickfix_header_tag;
use super::{Dictionary, FieldDef, FieldType, Layout, bit};
use crate::field::{FIELD_INDEX_CAPACITY, FieldIndex};
use crate::field::{SohCursor, data_tag_for_length, is_decimal};
use crate::header::{HeaderFields, is_collected_tag};

/// The field is defined in the dictionary.
const DEFINED: u8 = 1;
/// A header field of the dictionary.
const HEADER: u8 = 2;
/// A trailer field of the dictionary.
const TRAILER: u8 = 4;
/// The count field of a repeating group in the header or trailer.
const ENVELOPE_GROUP: u8 = 8;
/// The field has enumerated values.
const ENUM: u8 = 16;
/// The field's type has a format to check.
const FORMAT: u8 = 32;
/// A length tag announcing a data field (whatever the dictionary says: the scanner's rule).
const DATA_LENGTH: u8 = 64;
/// Not defined here, but a tag QuickFIX always files under the header: the general algorithm
/// reports it as a header field (`InvalidTagNumber`), so the fast path must not take it for a
/// body field of an application dictionary that defines it. Also set on a tag [`HeaderFields`]
/// holds that this dictionary defines outside its header: header values are collected only in
/// the header loop, so such a field anywhere after it must send the message to the general
/// algorithm (and the header to a full scan).
const UNDEFINED_HEADER: u8 = 128;

/// Tags beyond this are left to the general algorithm, which bounds the table at 256 KiB.
const MAX_FAST_TAG: u32 = u16::MAX as u32;
/// The table always covers the data length tags (the largest is 1402), so that the fast scan
/// honours them even when a transport dictionary is small.
const MIN_TABLE_LEN: usize = 1403;

/// What the fast path needs to know about one tag, in four bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FastEntry {
    idx: u16,
    ftype: FieldType,
    flags: u8,
}

const UNDEFINED: FastEntry = FastEntry {
    idx: 0,
    ftype: FieldType::Unknown,
    flags: 0,
};

fn has_format(t: FieldType) -> bool {
    !matches!(
        t,
        FieldType::String
            | FieldType::Data
            | FieldType::Code
            | FieldType::MultipleValue
            | FieldType::Unknown
    )
}

/// Build the tag -> entry table of a dictionary (at load time).
pub(crate) fn build_table(
    fields: &[FieldDef],
    tag_index: &[u16],
    header: &Layout,
    trailer: &Layout,
) -> Box<[FastEntry]> {
    let len = tag_index
        .len()
        .max(MIN_TABLE_LEN)
        .min(MAX_FAST_TAG as usize + 1);
    let mut table = vec![UNDEFINED; len];
    for (tag, e) in table.iter_mut().enumerate() {
        let tag = tag as u32;
        if data_tag_for_length(tag).is_some() {
            e.flags |= DATA_LENGTH;
        }
        let slot = tag_index.get(tag as usize).copied().unwrap_or(0);
        if slot == 0 {
            if is_quickfix_header_tag(tag) {
                e.flags |= UNDEFINED_HEADER;
            }
            continue;
        }
        let i = u32::from(slot) - 1;
        if is_collected_tag(tag) && !header.is_member(i) {
            e.flags |= UNDEFINED_HEADER;
        }
        let def = &fields[i as usize];
        e.idx = slot - 1;
        e.ftype = def.ftype;
        e.flags |= DEFINED;
        if header.is_member(i) {
            e.flags |= HEADER;
        }
        if trailer.is_member(i) {
            e.flags |= TRAILER;
        }
        if bit(&header.counts, i) || bit(&trailer.counts, i) {
            e.flags |= ENVELOPE_GROUP;
        }
        if def.enums.is_some() {
            e.flags |= ENUM;
        }
        if has_format(def.ftype) {
            e.flags |= FORMAT;
        }
    }
    table.into_boxed_slice()
}

impl Dictionary {
    #[inline(always)]
    fn entry(&self, tag: u32) -> FastEntry {
        match self.fast.get(tag as usize) {
            Some(e) => *e,
            None => UNDEFINED,
        }
    }
}

/// Set bit `idx`; false if it was already set (a repeated field) or out of range.
#[inline(always)]
fn first_time(bits: &mut [u64], idx: u16) -> bool {
    let Some(w) = bits.get_mut(usize::from(idx >> 6)) else {
        return false;
    };
    let m = 1u64 << (idx & 63);
    let fresh = *w & m == 0;
    *w |= m;
    fresh
}

#[inline(always)]
fn value_passes(d: &Dictionary, e: FastEntry, v: &[u8]) -> bool {
    format_passes(e, v) && (e.flags & ENUM == 0 || enum_passes(d, e, v))
}

#[inline(always)]
fn format_passes(e: FastEntry, v: &[u8]) -> bool {
    if e.flags & FORMAT == 0 {
        return true;
    }
    // The busiest types inline; the rest through the shared dispatch.
    match e.ftype {
        FieldType::Char => v.len() == 1,
        FieldType::Int | FieldType::SeqNum | FieldType::Length | FieldType::NumInGroup => is_int(v),
        FieldType::Float => is_decimal(v),
        FieldType::UtcTimestamp => is_timestamp(v),
        t => format_ok(t, v),
    }
}

/// `v` is an allowed value of the enumerated field `e` of `d`.
#[inline(always)]
fn enum_passes(d: &Dictionary, e: FastEntry, v: &[u8]) -> bool {
    let def = &d.fields[usize::from(e.idx)];
    match (v, def.enums.as_deref()) {
        // One-byte values (Side, OrdType, MsgType...) are a bitmap test.
        ([b], Some(set)) if def.ftype != FieldType::MultipleValue => set.contains_byte(*b),
        _ => value_ok(def, v),
    }
}

#[inline(always)]
fn all_present(masks: &[(u32, u64)], seen: &[u64]) -> bool {
    masks
        .iter()
        .all(|&(w, m)| seen.get(w as usize).is_some_and(|s| s & m == m))
}

/// The dictionary and layout of the body of `msg_type`, as the general algorithm resolves them.
#[inline]
fn resolve<'d>(
    td: &'d Dictionary,
    ad: &'d Dictionary,
    msg_type: &[u8],
) -> Option<(&'d Dictionary, &'d Layout)> {
    let bd = if td.transport && td.is_admin_msg_type(msg_type) {
        td
    } else {
        ad
    };
    bd.msg(msg_type).map(|m| (bd, &m.body))
}

/// Receives the header fields the fast path passes while it checks them.
pub(crate) trait HeaderSink<'m> {
    /// Header field `tag` (in the header section, checked), value `msg[vs..ve]`.
    fn field(&mut self, tag: u32, vs: usize, ve: usize, v: &'m [u8]);
    /// Body or trailer field `tag`, value `msg[vs..ve]` (checked).
    #[inline(always)]
    fn body_field(&mut self, _tag: u32, _vs: usize, _ve: usize) {}
}

/// Plain validation: nothing collected, so nothing is paid for.
impl HeaderSink<'_> for () {
    #[inline(always)]
    fn field(&mut self, _: u32, _: usize, _: usize, _: &[u8]) {}
}

/// Collects [`HeaderFields`], and where 8, 9 and 35 were, to tell whether they are the first
/// three fields (which the validator does not require, but [`HeaderFields::scan`] does).
#[derive(Default)]
pub(crate) struct Collect<'m> {
    pub(crate) h: HeaderFields<'m>,
    begin_end: usize,
    len_start: usize,
    len_end: usize,
    type_start: usize,
}

impl<'m> HeaderSink<'m> for Collect<'m> {
    #[inline(always)]
    fn field(&mut self, tag: u32, vs: usize, ve: usize, v: &'m [u8]) {
        match tag {
            8 => {
                // The value starts at 2 only when the field is the first and its tag is "8".
                if vs == 2 {
                    self.h.begin_string = v;
                    self.begin_end = ve;
                }
            }
            9 => {
                self.len_start = vs;
                self.len_end = ve;
            }
            35 => {
                self.h.msg_type = v;
                self.type_start = vs;
            }
            t => self.h.record(t, v),
        }
    }
}

/// [`Collect`], and every field into a [`FieldIndex`].
pub(crate) struct Indexed<'i, 'm> {
    pub(crate) collect: Collect<'m>,
    pub(crate) index: &'i mut FieldIndex,
    /// Every field fitted in the index.
    pub(crate) fits: bool,
}

impl<'m> HeaderSink<'m> for Indexed<'_, 'm> {
    #[inline(always)]
    fn field(&mut self, tag: u32, vs: usize, ve: usize, v: &'m [u8]) {
        self.collect.field(tag, vs, ve, v);
        self.fits &= self.index.push(tag, vs, ve);
    }

    #[inline(always)]
    fn body_field(&mut self, tag: u32, vs: usize, ve: usize) {
        self.fits &= self.index.push(tag, vs, ve);
    }
}

impl<'m> Collect<'m> {
    /// The header, when the fast path proved the message valid: `None` when the first three
    /// fields are not exactly `8=`, `9=`, `35=` in this order (then the caller scans, which
    /// decides the same way whatever the tags' spelling).
    #[inline(always)]
    pub(crate) fn header(mut self) -> Option<HeaderFields<'m>> {
        // Offsets: "8=" at 0, then SOH "9=", then SOH "35=".
        let standard = self.begin_end != 0
            && self.len_start == self.begin_end + 3
            && self.type_start == self.len_end + 4
            && !self.h.msg_type.is_empty();
        if !standard {
            return None;
        }
        self.h.finish();
        Some(self.h)
    }
}

/// Whether `msg` is valid for certain; false means "not proven": run the general algorithm.
/// Does not check BodyLength or CheckSum.
#[inline]
pub(crate) fn proves_valid(td: &Dictionary, ad: &Dictionary, msg: &[u8]) -> bool {
    proves_valid_with(td, ad, msg, &mut ())
}

/// [`proves_valid`], passing every header field (of the header section) to `sink` on the way.
/// When it returns true, the collected fields are every occurrence of the [`HeaderFields`] tags
/// in the message: such a tag after the header section makes it give up (`UNDEFINED_HEADER`
/// or `HEADER`), and repeated header fields make it give up too.
#[inline]
pub(crate) fn proves_valid_with<'m, S: HeaderSink<'m>>(
    td: &Dictionary,
    ad: &Dictionary,
    msg: &'m [u8],
    sink: &mut S,
) -> bool {
    // Stack scratch sized by the dictionary, zeroed per call: 256 bytes for FIX.4.4.
    match td.words.max(ad.words) {
        0..=16 => run::<16, S>(td, ad, msg, sink),
        17..=32 => run::<32, S>(td, ad, msg, sink),
        33..=128 => run::<128, S>(td, ad, msg, sink),
        _ => false,
    }
}

/// The field at `p` when it has the plain shape (a tag up to `MAX_FAST_TAG`, '=', a value ended
/// by SOH): (tag, value start, value end). The end comes from the SOH bitmask, not from the tag:
/// where the next field starts does not wait for this one to be parsed, so the parsing of
/// successive fields overlaps. A byte-at-a-time tag loop: its exit is predicted, and it was
/// measured faster than reading the tag a word at a time, whose fixed cost exceeds two to four
/// digits.
#[inline(always)]
fn plain_field(msg: &[u8], p: usize, sohs: &mut SohCursor) -> Option<(u32, usize, usize)> {
    let end = sohs.find(msg, p)?;
    let mut tag = 0u32;
    let mut i = p;
    loop {
        // Ends at the SOH at `end` at the latest (neither a digit nor '=').
        let b = *msg.get(i)?;
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            if b != b'=' || tag == 0 {
                return None;
            }
            break;
        }
        tag = tag * 10 + u32::from(d);
        if tag > MAX_FAST_TAG {
            return None;
        }
        i += 1;
    }
    Some((tag, i + 1, end))
}

#[inline(always)]
fn run<'m, const W: usize, S: HeaderSink<'m>>(
    td: &Dictionary,
    ad: &Dictionary,
    msg: &'m [u8],
    sink: &mut S,
) -> bool {
    let mut hseen = [0u64; W];
    let mut bseen = [0u64; W];
    let n = msg.len();
    let mut p = 0usize;
    let mut sohs = SohCursor::new();
    let mut msg_type: Option<&[u8]> = None;
    // The header, up to the first field that is not a header field. Three loops (header, then
    // body and trailer) rather than one with a section variable: fewer live values per loop, so
    // the compiler keeps them in registers. Every turn consumes at least three bytes.
    let first = loop {
        if p >= n {
            break None;
        }
        let Some((tag, vs, ve)) = plain_field(msg, p, &mut sohs) else {
            return false;
        };
        p = ve + 1;
        let e = td.entry(tag);
        if e.flags & HEADER == 0 {
            break Some((tag, vs, ve, e));
        }
        let v = &msg[vs..ve];
        if v.is_empty()
            || e.flags & (ENVELOPE_GROUP | DATA_LENGTH) != 0
            || !first_time(&mut hseen, e.idx)
            || !value_passes(td, e, v)
        {
            return false;
        }
        if tag == 35 {
            msg_type = Some(v);
        }
        sink.field(tag, vs, ve, v);
    };
    let Some((bd, layout)) = msg_type.and_then(|mt| resolve(td, ad, mt)) else {
        return false;
    };
    let same = std::ptr::eq(bd, td);
    let mut in_trailer = false;
    let mut next = first;
    while let Some((tag, vs, ve, e)) = next {
        let v = &msg[vs..ve];
        // Data fields (read by length) are the general algorithm's business; so are header
        // fields after the body (out of order).
        if v.is_empty() || e.flags & (HEADER | DATA_LENGTH | UNDEFINED_HEADER) != 0 {
            return false;
        }
        if e.flags & TRAILER != 0 {
            in_trailer = true;
            if e.flags & ENVELOPE_GROUP != 0
                || !first_time(&mut hseen, e.idx)
                || !value_passes(td, e, v)
            {
                return false;
            }
        } else {
            let be = if same { e } else { bd.entry(tag) };
            if in_trailer
                || be.flags & DEFINED == 0
                || !bit(&layout.plain, u32::from(be.idx))
                || !first_time(&mut bseen, be.idx)
                || !value_passes(bd, be, v)
            {
                return false;
            }
        }
        sink.body_field(tag, vs, ve);
        next = if p >= n {
            None
        } else {
            let Some((tag, vs, ve)) = plain_field(msg, p, &mut sohs) else {
                return false;
            };
            p = ve + 1;
            Some((tag, vs, ve, td.entry(tag)))
        };
    }
    all_present(&td.header.required_masks, &hseen) && all_present(&layout.required_masks, &bseen)
}

// ---- message shapes ---------------------------------------------------------------------------
//
// A session receives the same few layouts over and over: every ExecutionReport of a venue has
// the same tags in the same order. Whether a message is structurally valid (each field defined,
// allowed where it is, not repeated, in order, every required field present) depends only on its
// MsgType and its sequence of tags; only the values differ from one message to the next. So once
// the fast path has proven a message valid, its layout is kept (in the session's
// [`FieldIndex`]) with, for each position, exactly what the value must satisfy; a later message
// of the same type with the same tags is proven by checking its values against that dense,
// sequential copy, instead of looking every tag up in the dictionary's tables. On the receive
// path of a busy-polling thread those tables are mostly out of the cache after each system call:
// a dozen sequential lines replace some thirty scattered ones.
//
// A shape holds no data field (the fast path gives up on those), so splitting at every SOH, as
// the scan below does, reads a message of that shape exactly; a message that holds one has a
// length tag no shape has, and goes the long way.

/// Layouts kept per index: a session's busiest inbound types (reports or orders, heartbeats).
const SHAPES: usize = 4;

/// What the value at one position of a shape must satisfy.
#[derive(Clone, Copy, Debug)]
struct Check {
    /// The entry the fast path checked this field against.
    entry: FastEntry,
    /// The entry is the application dictionary's (otherwise the transport's).
    app: bool,
    /// One-byte values of an enumerated field, for bytes below 128, copied out of the
    /// dictionary; `single` says whether that test is the field's whole enumeration check.
    low: [u64; 2],
    single: bool,
}

/// A layout proven valid: its message type, its tags in order and the check of each value.
#[derive(Clone, Debug)]
struct Shape {
    transport_id: u64,
    app_id: u64,
    /// [`super::pack_msg_type`] of the MsgType.
    msg_type: u64,
    len: usize,
    /// Fields before the first body field (the header section of the fast path).
    header_len: usize,
    /// Proved a message since the replacement policy last looked at it.
    hit: bool,
    tags: [u32; FIELD_INDEX_CAPACITY],
    checks: [Check; FIELD_INDEX_CAPACITY],
}

/// The shapes one [`FieldIndex`] remembers; no allocation until the first is learned.
#[derive(Clone, Debug, Default)]
pub(crate) struct ShapeCache {
    shapes: Vec<Shape>,
    /// Once all slots are taken: the slot a new shape may replace (a clock: a slot that proved a
    /// message since the hand last passed keeps its shape, and the hand moves on).
    next: usize,
}

impl ShapeCache {
    /// Remember the layout of the message `index` describes (`frame`), which the fast path has
    /// just proven valid against `td` and `ad`.
    fn learn(&mut self, td: &Dictionary, ad: &Dictionary, frame: &[u8], index: &FieldIndex) {
        let len = index.len;
        if !(3..=FIELD_INDEX_CAPACITY).contains(&len) || index.tags[2] != 35 {
            return;
        }
        if self.shapes.len() == SHAPES {
            let victim = &mut self.shapes[self.next];
            self.next = (self.next + 1) % SHAPES;
            if victim.hit {
                // In use: spared this time. A layout that keeps coming back gets a slot once
                // the hand finds one that has not proved anything for a full turn.
                victim.hit = false;
                return;
            }
        }
        let mt = index.value(frame, 2);
        let Some(key) = super::pack_msg_type(mt) else {
            return;
        };
        let Some((bd, _)) = resolve(td, ad, mt) else {
            return;
        };
        let app = !std::ptr::eq(bd, td);
        let tags = &index.tags[..len];
        let header_len = tags
            .iter()
            .position(|&t| td.entry(t).flags & HEADER == 0)
            .unwrap_or(len);
        let mut shape = Shape {
            transport_id: td.id,
            app_id: ad.id,
            msg_type: key,
            len,
            header_len,
            hit: false,
            tags: [0; FIELD_INDEX_CAPACITY],
            checks: [Check {
                entry: UNDEFINED,
                app: false,
                low: [0; 2],
                single: false,
            }; FIELD_INDEX_CAPACITY],
        };
        shape.tags[..len].copy_from_slice(tags);
        for (i, &tag) in tags.iter().enumerate() {
            let e = td.entry(tag);
            // As `run` chooses: the header and the trailer against the transport dictionary,
            // the body against the body's.
            let (entry, in_app) = if i < header_len || e.flags & TRAILER != 0 || !app {
                (e, false)
            } else {
                (bd.entry(tag), true)
            };
            let d = if in_app { ad } else { td };
            let mut check = Check {
                entry,
                app: in_app,
                low: [0; 2],
                single: false,
            };
            if entry.flags & ENUM != 0 {
                let def = &d.fields[usize::from(entry.idx)];
                if let Some(set) = def.enums.as_deref()
                    && def.ftype != FieldType::MultipleValue
                {
                    check.low = [set.single[0], set.single[1]];
                    check.single = true;
                }
            }
            shape.checks[i] = check;
        }
        if self.shapes.len() < SHAPES {
            // All slots at once: one allocation in the life of an index (a session's is its
            // Logon's), none on later messages.
            self.shapes.reserve_exact(SHAPES - self.shapes.len());
            self.shapes.push(shape);
        } else {
            // The hand has already moved past the victim's slot.
            let slot = (self.next + SHAPES - 1) % SHAPES;
            self.shapes[slot] = shape;
        }
    }
}

/// Whether `v` passes `c`, the check of its position in a shape.
#[inline(always)]
fn passes(td: &Dictionary, ad: &Dictionary, c: &Check, v: &[u8]) -> bool {
    if v.is_empty() || !format_passes(c.entry, v) {
        return false;
    }
    if c.entry.flags & ENUM == 0 {
        return true;
    }
    if c.single
        && let [b] = v
        && *b < 128
    {
        return c.low[usize::from(b >> 6)] & (1u64 << (b & 63)) != 0;
    }
    enum_passes(if c.app { ad } else { td }, c.entry, v)
}

/// Proves `msg` valid by a shape its index remembers: `Some(header)` when its type and tags are
/// those of a remembered shape and every value passes, with `index` describing every field.
/// `None` otherwise, with `index` cleared: the caller runs the fast path (and, failing that,
/// the general algorithm), which decide exactly as without shapes.
#[inline]
pub(crate) fn proves_valid_by_shape<'m>(
    td: &Dictionary,
    ad: &Dictionary,
    msg: &'m [u8],
    index: &mut FieldIndex,
) -> Option<HeaderFields<'m>> {
    let r = shaped(td, ad, msg, index);
    if r.is_none() {
        index.clear();
    }
    r
}

#[inline(always)]
fn shaped<'m>(
    td: &Dictionary,
    ad: &Dictionary,
    msg: &'m [u8],
    index: &mut FieldIndex,
) -> Option<HeaderFields<'m>> {
    if index.shapes.shapes.is_empty() {
        return None;
    }
    let n = msg.len();
    let mut sohs = SohCursor::new();
    let mut p = 0usize;
    // The first three fields, then only if a shape of this type is known, the rest.
    while p < n && index.len < 3 {
        let (tag, vs, ve) = plain_field(msg, p, &mut sohs)?;
        p = ve + 1;
        index.push(tag, vs, ve);
    }
    if index.len < 3 || index.tags[2] != 35 {
        return None;
    }
    let key = super::pack_msg_type(index.value(msg, 2))?;
    let (tid, aid) = (td.id, ad.id);
    let known = |s: &&Shape| s.msg_type == key && s.transport_id == tid && s.app_id == aid;
    if !index.shapes.shapes.iter().any(|s| known(&s)) {
        return None;
    }
    while p < n {
        let (tag, vs, ve) = plain_field(msg, p, &mut sohs)?;
        p = ve + 1;
        if !index.push(tag, vs, ve) {
            return None;
        }
    }
    let len = index.len;
    let at = index
        .shapes
        .shapes
        .iter()
        .position(|s| known(&s) && s.len == len && s.tags[..len] == index.tags[..len])?;
    let shape = &index.shapes.shapes[at];
    let mut collect = Collect::default();
    for i in 0..len {
        let (vs, ve) = index.spans[i];
        let (vs, ve) = (vs as usize, ve as usize);
        let v = &msg[vs..ve];
        if !passes(td, ad, &shape.checks[i], v) {
            return None;
        }
        if i < shape.header_len {
            collect.field(index.tags[i], vs, ve, v);
        }
    }
    let h = collect.header()?;
    index.shapes.shapes[at].hit = true;
    index.complete(msg);
    Some(h)
}

/// After the fast path proved the message `index` describes valid: remember its shape.
#[inline]
pub(crate) fn learn_shape(td: &Dictionary, ad: &Dictionary, frame: &[u8], index: &mut FieldIndex) {
    let mut cache = std::mem::take(&mut index.shapes);
    cache.learn(td, ad, frame, index);
    index.shapes = cache;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix44() -> Dictionary {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../spec/FIX44.xml");
        Dictionary::from_file(std::path::Path::new(path)).expect("FIX44.xml loads")
    }

    fn frame(body: &str) -> Vec<u8> {
        let body = body.replace('|', "\x01");
        let mut m = format!("8=FIX.4.4\x019={}\x01{body}", body.len()).into_bytes();
        let sum = crate::checksum(&m);
        m.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
        m
    }

    const NOS: &str = "35=D|34=1234|49=CLIENT01|52=20261123-10:15:30.123|56=BROKER01|\
        11=ORD-000000001|1=ACCT-7|21=1|38=100|40=2|44=101.25|54=1|55=MSFT|59=0|\
        60=20261123-10:15:30.120|";

    /// The point of the fast path: ordinary valid messages must not fall through to the general
    /// algorithm (the verdict would be the same, only slower, so nothing else would notice).
    #[test]
    fn ordinary_valid_messages_are_proven_valid() {
        let d = fix44();
        for body in [
            NOS,
            "35=0|34=2|49=A|52=20261123-10:15:30|56=B|",
            "35=A|34=1|49=A|52=20261123-10:15:30.123|56=B|98=0|108=30|141=Y|",
            "35=8|34=9|49=B|52=20261123-10:15:30.123|56=A|6=101.25|11=ORD-1|14=100|17=E-1|\
             31=101.25|32=100|37=O-1|38=100|39=2|54=1|55=MSFT|150=F|151=0|",
        ] {
            let m = frame(body);
            assert!(proves_valid(&d, &d, &m), "{body}");
            // And the header comes out of the same pass, with no scan behind it.
            let mut c = Collect::default();
            assert!(proves_valid_with(&d, &d, &m, &mut c), "{body}");
            let h = c.header().expect("8, 9, 35 first");
            assert_eq!(Some(h), HeaderFields::scan(&m), "{body}");
            assert!(h.seq_num.is_some() && h.sender_comp_id.is_some(), "{body}");
        }
    }

    /// Validates `m` through `index` as a session does.
    fn indexed<'m>(
        v: &crate::Validator,
        m: &'m [u8],
        index: &mut FieldIndex,
    ) -> Result<Option<HeaderFields<'m>>, crate::ValidationError> {
        v.validate_framed_indexed(m, index)
    }

    #[test]
    fn a_proven_layout_proves_the_next_message_of_that_layout() {
        let d = std::sync::Arc::new(fix44());
        let v = crate::Validator::new(d, None, crate::ValidationOptions::default());
        let mut index = FieldIndex::new();
        let first = frame(NOS);
        assert!(indexed(&v, &first, &mut index).unwrap().is_some());
        assert_eq!(index.shapes.shapes.len(), 1, "learned");
        assert!(!index.shapes.shapes[0].hit);
        // Same layout, other values: proven by the shape, same header and index as the scan.
        let next = frame(
            &NOS.replace("34=1234|", "34=1235|")
                .replace("ORD-000000001", "X"),
        );
        let h = indexed(&v, &next, &mut index).unwrap().expect("header");
        assert!(index.shapes.shapes[0].hit, "proven by the shape");
        assert_eq!(Some(h), HeaderFields::scan(&next));
        assert!(index.describes(&next));
        assert_eq!(
            crate::MessageRef::with_index(&next, &index).get(11),
            Some(&b"X"[..])
        );
        // Same layout, a value the dictionary refuses: the general algorithm's exact verdict.
        for bad in [
            NOS.replace("40=2|", "40=Z|"),
            NOS.replace("38=100|", "38=1x|"),
            NOS.replace("1=ACCT-7|", "1=|"),
            NOS.replace("52=20261123-10:15:30.123|", "52=20261123-25:15:30.123|"),
        ] {
            let m = frame(&bad);
            assert_eq!(
                indexed(&v, &m, &mut index).map(|_| ()),
                v.validate_reference(&m),
                "{bad}"
            );
            assert!(indexed(&v, &m, &mut index).is_err(), "{bad}");
            assert!(!index.describes(&m), "{bad}");
        }
        assert_eq!(
            index.shapes.shapes.len(),
            1,
            "nothing learned from invalid messages"
        );
    }

    #[test]
    fn layouts_in_use_keep_their_slots() {
        let d = std::sync::Arc::new(fix44());
        let v = crate::Validator::new(d, None, crate::ValidationOptions::default());
        let mut index = FieldIndex::new();
        let heartbeat =
            |extra: &str| frame(&format!("35=0|34=2|49=A|52=20261123-10:15:30|56=B|{extra}"));
        let layouts = [
            frame(NOS),
            heartbeat(""),
            heartbeat("112=T|"),
            frame("35=1|34=2|49=A|52=20261123-10:15:30|56=B|112=T|"),
        ];
        for m in &layouts {
            indexed(&v, m, &mut index).unwrap();
        }
        assert_eq!(index.shapes.shapes.len(), SHAPES);
        // The orders keep coming: their shape is hit, and survives a stream of new layouts.
        let logon = |hb: u32| {
            frame(&format!(
                "35=A|34=1|49=A|52=20261123-10:15:30|56=B|98=0|108={hb}|"
            ))
        };
        let newcomer = [
            logon(30),
            frame("35=5|34=3|49=A|52=20261123-10:15:30|56=B|58=x|"),
        ];
        let d_key = super::super::pack_msg_type(b"D").unwrap();
        for round in 0..8 {
            indexed(&v, &layouts[0], &mut index).unwrap();
            // Proven by its shape every time: never evicted and learned again.
            assert!(
                index
                    .shapes
                    .shapes
                    .iter()
                    .any(|s| s.msg_type == d_key && s.hit),
                "round {round}: the order layout was evicted"
            );
            indexed(&v, &newcomer[round % 2], &mut index).unwrap();
        }
        let order = &index.shapes.shapes;
        // The two newcomers recur too: they got the slots the unused heartbeats had.
        for mt in [b"A", b"5"] {
            let key = super::super::pack_msg_type(mt).unwrap();
            assert!(
                order.iter().any(|s| s.msg_type == key),
                "{mt:?} not learned"
            );
        }
    }

    #[test]
    fn what_the_fast_path_leaves_to_the_general_algorithm() {
        let d = fix44();
        for body in [
            // Invalid: enumeration, format, missing field, repeated, undefined, out of order.
            &NOS.replace("40=2|", "40=Z|"),
            &NOS.replace("38=100|", "38=1x|"),
            &NOS.replace("11=ORD-000000001|", ""),
            &NOS.replace("59=0|", "59=0|59=0|"),
            &format!("{NOS}9999=x|"),
            &NOS.replace("34=1234|", "")
                .replace("59=0|", "59=0|34=1234|"),
            &NOS.replace("1=ACCT-7|", "1=|"),
            // Valid, but outside the fast path: a repeating group, a data field, a header group.
            &format!("{NOS}453=1|448=P|447=D|452=1|"),
            "35=A|34=1|49=A|52=20261123-10:15:30|56=B|95=3|96=a\x01b|98=0|108=30|",
            "35=0|34=2|49=A|52=20261123-10:15:30|56=B|627=1|628=H|",
            // An unknown message type.
            "35=ZZ|34=2|49=A|52=20261123-10:15:30|56=B|",
        ] {
            let m = frame(body);
            assert!(!proves_valid(&d, &d, &m), "{body}");
        }
    }
}

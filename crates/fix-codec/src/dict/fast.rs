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
use crate::field::FieldIndex;
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
    if e.flags & FORMAT != 0 {
        // The busiest types inline; the rest through the shared dispatch.
        let ok = match e.ftype {
            FieldType::Char => v.len() == 1,
            FieldType::Int | FieldType::SeqNum | FieldType::Length | FieldType::NumInGroup => {
                is_int(v)
            }
            FieldType::Float => is_decimal(v),
            FieldType::UtcTimestamp => is_timestamp(v),
            t => format_ok(t, v),
        };
        if !ok {
            return false;
        }
    }
    if e.flags & ENUM == 0 {
        return true;
    }
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

//! Message validation against a dictionary pair (the hot path: no allocation, one pass).

use std::sync::Arc;

use super::fast::Collect;
use super::format::{format_ok, value_ok};
use super::{Dictionary, GroupDef, Layout, RejectReason, ValidationError, ValidationOptions};
use crate::field::{FieldError, FieldIter, parse_u64};
use crate::header::HeaderFields;
use crate::{SOH, checksum};

/// Tags at or above this are user-defined (`FIELD::UserMin` in QuickFIX).
const USER_MIN: u32 = 5000;

/// One field as the validator sees it: unlike [`crate::Field`], the tag may be malformed but
/// numeric (`-1=x`, `0=x`), which QuickFIX rejects with `InvalidTagNumber` instead of dropping.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fld<'a> {
    /// The tag; meaningless when `bad`.
    pub(crate) tag: u32,
    /// The tag is negative or too large to be a tag.
    pub(crate) bad: bool,
    pub(crate) value: &'a [u8],
    /// Offset of the first byte of the tag.
    pub(crate) start: usize,
    /// Offset just past the field's SOH.
    pub(crate) end: usize,
}

impl Fld<'_> {
    #[inline]
    pub(crate) fn ref_tag(&self) -> Option<u32> {
        (!self.bad).then_some(self.tag)
    }
}

/// Wraps [`FieldIter`], resuming after numeric-but-invalid tags. `Err(())` means garbled.
#[derive(Clone, Debug)]
pub(crate) struct Scanner<'a> {
    buf: &'a [u8],
    base: usize,
    it: FieldIter<'a>,
}

/// Parse `-?digits=value SOH` at `start`: a field whose tag [`FieldIter`] refuses but QuickFIX reads
/// as a number. Returns (tag, bad, value start, SOH offset).
fn numeric_bad_field(buf: &[u8], start: usize) -> Option<(u32, bool, usize, usize)> {
    let rest = buf.get(start..)?;
    let eq = rest.iter().take(12).position(|&b| b == b'=')?;
    let (neg, digits) = match &rest[..eq] {
        [b'-', d @ ..] => (true, d),
        d => (false, d),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value_start = start + eq + 1;
    let soh = buf[value_start..].iter().position(|&b| b == SOH)? + value_start;
    let parsed = parse_u64(digits).and_then(|n| u32::try_from(n).ok());
    match (neg, parsed) {
        (false, Some(t)) if t <= crate::field::MAX_TAG => Some((t, false, value_start, soh)),
        _ => Some((u32::MAX, true, value_start, soh)),
    }
}

impl<'a> Scanner<'a> {
    #[inline]
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            base: 0,
            it: FieldIter::new(buf),
        }
    }

    /// Scan `buf` from offset `from` (a field boundary); offsets stay relative to `buf`.
    pub(crate) fn at(buf: &'a [u8], from: usize) -> Self {
        let from = from.min(buf.len());
        Self {
            buf,
            base: from,
            it: FieldIter::new(&buf[from..]),
        }
    }

    #[inline(always)]
    pub(crate) fn next_field(&mut self) -> Option<Result<Fld<'a>, ()>> {
        match self.it.next()? {
            Ok(f) => Some(Ok(Fld {
                tag: f.tag,
                bad: false,
                value: f.value,
                start: self.base + f.offset,
                end: self.base + self.it.position(),
            })),
            Err(e) => Some(self.malformed(e)),
        }
    }

    #[cold]
    #[inline(never)]
    fn malformed(&mut self, e: FieldError) -> Result<Fld<'a>, ()> {
        let FieldError::InvalidTag { offset } = e else {
            return Err(());
        };
        let start = self.base + offset;
        let (tag, bad, vs, soh) = numeric_bad_field(self.buf, start).ok_or(())?;
        self.base = soh + 1;
        self.it = FieldIter::new(&self.buf[self.base..]);
        Ok(Fld {
            tag,
            bad,
            value: &self.buf[vs..soh],
            start,
            end: soh + 1,
        })
    }
}

/// The raw text of the first tag in `msg` that is not a positive number (`b"-1"` in `-1=x`), for
/// `RefTagID <371>` when a [`ValidationError`] carries `tag: None`.
pub fn first_malformed_tag(msg: &[u8]) -> Option<&[u8]> {
    let mut sc = Scanner::new(msg);
    while let Some(Ok(f)) = sc.next_field() {
        if f.bad {
            let eq = msg[f.start..].iter().position(|&b| b == b'=')?;
            return Some(&msg[f.start..f.start + eq]);
        }
    }
    None
}

/// Validates complete frames against a dictionary pair. Cheap to share across threads (`Arc`).
#[derive(Debug, Clone)]
pub struct Validator {
    transport: Arc<Dictionary>,
    app: Arc<Dictionary>,
    options: ValidationOptions,
}

/// Which part of the message a field belongs to; the order is QuickFIX's iteration order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Sec {
    Header = 0,
    Trailer = 1,
    Body = 2,
}

/// Error rank within one field position: its own checks, then a repetition, then the group count,
/// then anything inside its repeating group.
const SUB_OWN: u64 = 0;
const SUB_REPEATED: u64 = 1;
const SUB_COUNT: u64 = 2;
const SUB_MEMBER: u64 = 3;

#[inline]
fn key(sec: Sec, f: &Fld<'_>) -> u64 {
    let order = match (sec, f.bad, f.tag) {
        (_, true, _) => 0,
        (Sec::Header, _, 8) => 0,
        (Sec::Header, _, 9) => 1,
        (Sec::Header, _, 35) => 2,
        (Sec::Header, _, t) => u64::from(t) + 3,
        (_, _, t) => u64::from(t) + 1,
    };
    ((sec as u64) << 56) | (order << 8)
}

/// Fields seen at the top level: a bitset over dense field indices, plus a small list for tags
/// the dictionary does not define (bounded: beyond it, repeats of undefined tags go unnoticed,
/// which only matters when policy skips the "undefined tag" check).
struct Seen<'s> {
    bits: &'s mut [u64],
    extra: [u32; 16],
    n: usize,
}

impl<'s> Seen<'s> {
    fn new(bits: &'s mut [u64]) -> Self {
        Self {
            bits,
            extra: [0; 16],
            n: 0,
        }
    }

    /// Record a field; true if it was already there.
    #[inline(always)]
    fn insert(&mut self, idx: Option<u32>, tag: u32) -> bool {
        if let Some(i) = idx
            && let Some(w) = self.bits.get_mut((i >> 6) as usize)
        {
            let m = 1u64 << (i & 63);
            let had = *w & m != 0;
            *w |= m;
            return had;
        }
        if self.extra[..self.n].contains(&tag) {
            return true;
        }
        if self.n < self.extra.len() {
            self.extra[self.n] = tag;
            self.n += 1;
        }
        false
    }

    #[inline(always)]
    fn contains(&self, idx: Option<u32>, tag: u32) -> bool {
        if let Some(i) = idx
            && let Some(w) = self.bits.get((i >> 6) as usize)
        {
            return w & (1u64 << (i & 63)) != 0;
        }
        self.extra[..self.n].contains(&tag)
    }
}

/// Run `f` with a zeroed stack bitset of `words` words (rounded up to a few fixed sizes so that
/// small dictionaries do not pay for large ones).
#[inline]
fn with_bits<R>(words: usize, f: impl FnOnce(&mut [u64]) -> R) -> R {
    if words <= 16 {
        let mut a = [0u64; 16];
        f(&mut a[..words])
    } else if words <= 32 {
        let mut a = [0u64; 32];
        f(&mut a[..words])
    } else {
        // Dictionaries with more than 8192 fields fall back to `Seen::extra` for the rest.
        let mut a = [0u64; 128];
        let n = words.min(a.len());
        f(&mut a[..n])
    }
}

/// Members seen in one group entry, by local member index.
struct EntrySeen {
    bits: [u64; 8],
}

impl EntrySeen {
    #[inline]
    fn insert(&mut self, li: usize) -> bool {
        match self.bits.get_mut(li >> 6) {
            Some(w) => {
                let m = 1u64 << (li & 63);
                let had = *w & m != 0;
                *w |= m;
                had
            }
            // Groups with more than 512 members do not exist in the published dictionaries; a
            // repeat of such a member is then not detected as the start of a new entry.
            None => false,
        }
    }

    #[inline]
    fn contains(&self, li: usize) -> bool {
        self.bits
            .get(li >> 6)
            .is_some_and(|w| w & (1u64 << (li & 63)) != 0)
    }
}

/// Outcome of the message type lookup.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MsgState {
    Unresolved,
    Missing,
    Invalid,
    Known,
}

struct Run<'v, 'm, 's> {
    opts: ValidationOptions,
    td: &'v Dictionary,
    ad: &'v Dictionary,
    bd: &'v Dictionary,
    body: Option<&'v Layout>,
    state: MsgState,
    msg: &'m [u8],
    msg_type: Option<&'m [u8]>,
    hseen: Seen<'s>,
    bseen: Seen<'s>,
    best_key: u64,
    best: Option<ValidationError>,
    /// (count tag, missing tag) of the first required group field missing, by count tag.
    group_missing: Option<(u32, u32)>,
}

impl Validator {
    /// A validator for `transport` (header, trailer, admin messages and, when not FIXT, everything)
    /// and `app` (application messages of a FIXT session; `None` uses `transport` for everything).
    pub fn new(
        transport: Arc<Dictionary>,
        app: Option<Arc<Dictionary>>,
        options: ValidationOptions,
    ) -> Validator {
        let app = app.unwrap_or_else(|| Arc::clone(&transport));
        Validator {
            transport,
            app,
            options,
        }
    }

    /// The transport dictionary (header, trailer, admin messages).
    pub fn transport(&self) -> &Dictionary {
        &self.transport
    }

    /// The application dictionary (the transport dictionary when not FIXT).
    pub fn app(&self) -> &Dictionary {
        &self.app
    }

    /// The validation switches.
    pub fn options(&self) -> ValidationOptions {
        self.options
    }

    /// The dictionary that defines the body of `msg_type`: the transport dictionary for a FIXT
    /// admin message, otherwise the application dictionary.
    pub fn body_dictionary(&self, msg_type: &[u8]) -> &Dictionary {
        if self.transport.is_transport() && self.transport.is_admin_msg_type(msg_type) {
            &self.transport
        } else {
            &self.app
        }
    }

    /// Validate a complete frame (`8=...10=xxx SOH`, as returned by the framer). Never allocates.
    ///
    /// Verifies `BodyLength <9>` and `CheckSum <10>` again when
    /// [`ValidationOptions::validate_length_and_checksum`] is set (the default); a frame that
    /// [`crate::Framer::next_frame`] reported complete has passed exactly these checks already, so
    /// the receive path should call [`Validator::validate_framed`] instead.
    ///
    /// See the [module documentation](super) for the checks and their precedence.
    pub fn validate(&self, msg: &[u8]) -> Result<(), ValidationError> {
        if self.options.validate_length_and_checksum && !length_and_checksum_ok(msg) {
            return Err(ValidationError::GARBLED);
        }
        self.validate_fields(msg)
    }

    /// Validate a frame that [`crate::Framer::next_frame`] reported
    /// [`Complete`](crate::FrameStatus::Complete): the same verdict as [`Validator::validate`], but
    /// `BodyLength <9>` and `CheckSum <10>` are not verified a second time, whatever
    /// [`ValidationOptions::validate_length_and_checksum`] says (the framer verified them, by the
    /// same rule). The receive hot path. Never allocates.
    ///
    /// Passing bytes that did not come from the framer is not unsafe, only unchecked: a wrong
    /// BodyLength or CheckSum then goes unnoticed.
    #[inline]
    pub fn validate_framed(&self, frame: &[u8]) -> Result<(), ValidationError> {
        self.validate_fields(frame)
    }

    /// [`Validator::validate_framed`] that also returns the standard header: on success,
    /// `Ok(h)` where `h` is exactly [`HeaderFields::scan`]`(frame)` (`None` when the first three
    /// fields are not 8, 9, 35: the dictionary does not require that order, the session does).
    /// The verdict is always that of `validate_framed`. Never allocates.
    ///
    /// The receive hot path of a session: the fast path collects the header fields in its single
    /// pass over the frame, so the caller does not read the frame again. A message the fast path
    /// does not prove valid (invalid, repeating groups, data fields...) is scanned after the
    /// general algorithm's verdict.
    #[inline]
    pub fn validate_framed_with_header<'m>(
        &self,
        frame: &'m [u8],
    ) -> Result<Option<HeaderFields<'m>>, ValidationError> {
        let mut c = Collect::default();
        if super::fast::proves_valid_with(&self.transport, &self.app, frame, &mut c)
            && let Some(h) = c.header()
        {
            return Ok(Some(h));
        }
        self.general_with_header(frame)
    }

    /// [`Validator::validate_framed_with_header`] that also records where every field lies in
    /// `index`, for [`crate::MessageRef::with_index`]: when the fast path proves the message
    /// valid in its single pass and the message has at most [`crate::FIELD_INDEX_CAPACITY`]
    /// fields. Otherwise (invalid, repeating groups, data fields, more fields) the index is left
    /// describing nothing and lookups scan the bytes.
    #[inline]
    pub fn validate_framed_indexed<'m>(
        &self,
        frame: &'m [u8],
        index: &mut crate::FieldIndex,
    ) -> Result<Option<HeaderFields<'m>>, ValidationError> {
        index.clear();
        if let Some(h) =
            super::fast::proves_valid_by_shape(&self.transport, &self.app, frame, index)
        {
            return Ok(Some(h));
        }
        let mut sink = super::fast::Indexed {
            collect: Collect::default(),
            index,
            fits: true,
        };
        if super::fast::proves_valid_with(&self.transport, &self.app, frame, &mut sink)
            && let Some(h) = sink.collect.header()
        {
            if sink.fits {
                sink.index.complete(frame);
                super::fast::learn_shape(&self.transport, &self.app, frame, sink.index);
            }
            return Ok(Some(h));
        }
        sink.index.clear();
        self.general_with_header(frame)
    }

    /// [`Validator::validate`] that also returns the standard header, as
    /// [`Validator::validate_framed_with_header`] does: `BodyLength <9>` and `CheckSum <10>` are
    /// verified first when [`ValidationOptions::validate_length_and_checksum`] is set.
    #[inline]
    pub fn validate_with_header<'m>(
        &self,
        msg: &'m [u8],
    ) -> Result<Option<HeaderFields<'m>>, ValidationError> {
        if self.options.validate_length_and_checksum && !length_and_checksum_ok(msg) {
            return Err(ValidationError::GARBLED);
        }
        self.validate_framed_with_header(msg)
    }

    /// The verdict of a message the fast path did not prove valid, then its header by a scan.
    #[inline(never)]
    fn general_with_header<'m>(
        &self,
        msg: &'m [u8],
    ) -> Result<Option<HeaderFields<'m>>, ValidationError> {
        self.general(msg)?;
        Ok(HeaderFields::scan(msg))
    }

    /// The verdict of [`Validator::validate`], always computed by the general algorithm (the one
    /// that ranks every problem), without the fast path that proves most valid messages valid in
    /// one cheap pass. Slower; for differential tests and for measuring the fast path.
    pub fn validate_reference(&self, msg: &[u8]) -> Result<(), ValidationError> {
        if self.options.validate_length_and_checksum && !length_and_checksum_ok(msg) {
            return Err(ValidationError::GARBLED);
        }
        self.general(msg)
    }

    #[inline]
    fn validate_fields(&self, msg: &[u8]) -> Result<(), ValidationError> {
        if super::fast::proves_valid(&self.transport, &self.app, msg) {
            return Ok(());
        }
        self.general(msg)
    }

    /// The general algorithm: every check, QuickFIX's precedence. Reached only for messages the
    /// fast path could not prove valid (invalid ones, repeating groups, unusual layouts).
    #[inline(never)]
    fn general(&self, msg: &[u8]) -> Result<(), ValidationError> {
        let hw = self.transport.words;
        let bw = self.transport.words.max(self.app.words);
        with_bits(hw, |h| with_bits(bw, |b| self.run(msg, h, b)))
    }

    fn run(&self, msg: &[u8], hbits: &mut [u64], bbits: &mut [u64]) -> Result<(), ValidationError> {
        let mut r = Run {
            opts: self.options,
            td: &self.transport,
            ad: &self.app,
            bd: &self.app,
            body: None,
            state: MsgState::Unresolved,
            msg,
            msg_type: None,
            hseen: Seen::new(hbits),
            bseen: Seen::new(bbits),
            best_key: u64::MAX,
            best: None,
            group_missing: None,
        };
        r.pass()
    }
}

/// `BodyLength <9>` and `CheckSum <10>` of a frame, as QuickFIX's `Message::validate` checks them.
fn length_and_checksum_ok(msg: &[u8]) -> bool {
    let n = msg.len();
    if n < 8 || msg[n - 1] != SOH || &msg[n - 7..n - 4] != b"10=" || msg[n - 8] != SOH {
        return false;
    }
    let Some(sum) = parse_u64(&msg[n - 4..n - 1]) else {
        return false;
    };
    if sum != u64::from(checksum(&msg[..n - 7])) {
        return false;
    }
    let mut it = FieldIter::new(msg);
    let (Some(Ok(_)), Some(Ok(len))) = (it.next(), it.next()) else {
        return false;
    };
    len.tag == 9 && len.as_u64() == Some((n - 7 - it.position()) as u64)
}

impl<'v, 'm, 's> Run<'v, 'm, 's> {
    #[inline]
    fn offer(&mut self, key: u64, reason: RejectReason, tag: Option<u32>) {
        if key < self.best_key {
            self.best_key = key;
            self.best = Some(ValidationError { reason, tag });
        }
    }

    #[inline]
    fn should_check_tag(&self, f: &Fld<'_>) -> bool {
        let tag = if f.bad { 0 } else { f.tag };
        if self.opts.allow_unknown_message_fields && tag < USER_MIN {
            return false;
        }
        tag < USER_MIN || self.opts.check_user_defined_fields
    }

    fn resolve(&mut self) {
        if self.state != MsgState::Unresolved {
            return;
        }
        if self.msg_type.is_none() {
            // 35 normally comes third and is seen before the body; this covers the odd message.
            self.msg_type = FieldIter::new(self.msg)
                .map_while(Result::ok)
                .find(|f| f.tag == 35)
                .map(|f| f.value);
        }
        let Some(mt) = self.msg_type else {
            self.state = MsgState::Missing;
            return;
        };
        self.bd = if self.td.is_transport() && self.td.is_admin_msg_type(mt) {
            self.td
        } else {
            self.ad
        };
        match self.bd.msg(mt) {
            Some(m) => {
                self.body = Some(&m.body);
                self.state = MsgState::Known;
            }
            None => self.state = MsgState::Invalid,
        }
    }

    /// Checks of one field that do not depend on other fields.
    #[inline(always)]
    fn check_field(
        &self,
        d: &Dictionary,
        idx: Option<u32>,
        f: &Fld<'_>,
        body_level: Option<&Layout>,
    ) -> Option<RejectReason> {
        if f.value.is_empty() {
            if self.opts.check_fields_have_values {
                return Some(RejectReason::TagSpecifiedWithoutValue);
            }
        } else if let Some(i) = idx {
            let def = &d.fields[i as usize];
            if !format_ok(def.ftype, f.value) {
                return Some(RejectReason::IncorrectDataFormat);
            }
            if !value_ok(def, f.value) {
                return Some(RejectReason::ValueIsIncorrect);
            }
        }
        if self.should_check_tag(f) {
            let Some(i) = idx else {
                return Some(RejectReason::InvalidTagNumber);
            };
            if let Some(layout) = body_level
                && !layout.is_member(i)
            {
                return Some(RejectReason::TagNotDefinedForMessageType);
            }
        }
        None
    }

    fn pass(&mut self) -> Result<(), ValidationError> {
        let mut sc = Scanner::new(self.msg);
        let mut section = Sec::Header;
        let mut out_of_order: Option<Fld<'m>> = None;
        while let Some(next) = sc.next_field() {
            let f = next.map_err(|()| ValidationError::GARBLED)?;
            let hidx = if f.bad { None } else { self.td.index(f.tag) };
            let td = self.td;
            if let Some(i) = hidx.filter(|&i| td.header.is_member(i)) {
                if section != Sec::Header && out_of_order.is_none() {
                    out_of_order = Some(f);
                }
                if f.tag == 35 && self.msg_type.is_none() {
                    self.msg_type = Some(f.value);
                }
                self.top_field(Sec::Header, td, &td.header, i, &f, &mut sc)?;
            } else if let Some(i) = hidx.filter(|&i| td.trailer.is_member(i)) {
                section = Sec::Trailer;
                self.top_field(Sec::Trailer, td, &td.trailer, i, &f, &mut sc)?;
            } else if hidx.is_none() && !f.bad && is_quickfix_header_tag(f.tag) {
                if section != Sec::Header && out_of_order.is_none() {
                    out_of_order = Some(f);
                }
                self.undefined_header_field(&f);
            } else {
                if section == Sec::Trailer && out_of_order.is_none() {
                    out_of_order = Some(f);
                }
                section = Sec::Body;
                self.resolve();
                self.body_field(&f, &mut sc)?;
            }
        }
        self.resolve();

        if self.opts.check_fields_out_of_order
            && let Some(f) = out_of_order
        {
            return Err(ValidationError {
                reason: RejectReason::TagSpecifiedOutOfRequiredOrder,
                tag: f.ref_tag(),
            });
        }
        match self.state {
            MsgState::Missing => {
                return Err(ValidationError {
                    reason: RejectReason::RequiredTagMissing,
                    tag: Some(35),
                });
            }
            MsgState::Invalid | MsgState::Unresolved => {
                return Err(ValidationError {
                    reason: RejectReason::InvalidMsgType,
                    tag: None,
                });
            }
            MsgState::Known => {}
        }
        for &t in self.td.header.required.iter() {
            if !self.hseen.contains(self.td.index(t), t) {
                return Err(missing(t));
            }
        }
        if let Some(body) = self.body {
            for &t in body.required.iter() {
                if !self.bseen.contains(self.bd.index(t), t) {
                    return Err(missing(t));
                }
            }
        }
        if let Some((_, t)) = self.group_missing {
            return Err(missing(t));
        }
        match self.best {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// A header or trailer field (dictionary `td`, known index `i`).
    fn top_field(
        &mut self,
        sec: Sec,
        d: &'v Dictionary,
        layout: &'v Layout,
        i: u32,
        f: &Fld<'m>,
        sc: &mut Scanner<'m>,
    ) -> Result<(), ValidationError> {
        let k = key(sec, f);
        if self.hseen.insert(Some(i), f.tag) {
            self.offer(
                k | SUB_REPEATED,
                RejectReason::TagAppearsMoreThanOnce,
                Some(f.tag),
            );
        } else if let Some(r) = self.check_field(d, Some(i), f, None) {
            self.offer(k | SUB_OWN, r, Some(f.tag));
        }
        if let Some(gid) = layout.group(i, f.tag) {
            // QuickFIX does not compare header group counts; the entries are still consumed.
            self.group(d, &d.groups[gid as usize], sc, k)?;
        }
        Ok(())
    }

    /// A tag QuickFIX files under the header whatever the dictionary says, which the transport
    /// dictionary does not define (`OnBehalfOfLocationID <144>` in FIX.4.0): QuickFIX validates
    /// the header before the body, so this `InvalidTagNumber` outranks any body problem
    /// (`fix40/ReverseRoute.def` expects 144 reported before a bad `OrdType <40>`).
    fn undefined_header_field(&mut self, f: &Fld<'m>) {
        let k = key(Sec::Header, f);
        if self.hseen.insert(None, f.tag) {
            self.offer(
                k | SUB_REPEATED,
                RejectReason::TagAppearsMoreThanOnce,
                Some(f.tag),
            );
        } else if let Some(r) = self.check_field(self.td, None, f, None) {
            self.offer(k | SUB_OWN, r, Some(f.tag));
        }
    }

    fn body_field(&mut self, f: &Fld<'m>, sc: &mut Scanner<'m>) -> Result<(), ValidationError> {
        let d = self.bd;
        let idx = if f.bad { None } else { d.index(f.tag) };
        let k = key(Sec::Body, f);
        let repeated = self.bseen.insert(idx, f.tag);
        if repeated {
            self.offer(
                k | SUB_REPEATED,
                RejectReason::TagAppearsMoreThanOnce,
                f.ref_tag(),
            );
        } else if self.state == MsgState::Known
            && let Some(r) = self.check_field(d, idx, f, self.body)
        {
            self.offer(k | SUB_OWN, r, f.ref_tag());
        }
        let (Some(layout), Some(i)) = (self.body, idx) else {
            return Ok(());
        };
        let Some(gid) = layout.group(i, f.tag) else {
            return Ok(());
        };
        let g = &d.groups[gid as usize];
        let (entries, missing_tag) = self.group(d, g, sc, k)?;
        if !repeated && self.should_check_tag(f) && !count_matches(f.value, entries) {
            self.offer(
                k | SUB_COUNT,
                RejectReason::IncorrectNumInGroupCount,
                Some(f.tag),
            );
        }
        if let Some(t) = missing_tag
            && self.group_missing.is_none_or(|(c, _)| f.tag < c)
        {
            self.group_missing = Some((f.tag, t));
        }
        Ok(())
    }

    /// Consume the entries of group `g` (its count field was just read) and check their fields.
    /// Returns the number of entries and the first required field missing from an entry (QuickFIX
    /// order: an entry's own fields, then its nested groups; entries in order).
    fn group(
        &mut self,
        d: &'v Dictionary,
        g: &'v GroupDef,
        sc: &mut Scanner<'m>,
        k: u64,
    ) -> Result<(u32, Option<u32>), ValidationError> {
        let mut entries = 0u32;
        let mut seen = EntrySeen { bits: [0; 8] };
        let mut first_missing: Option<u32> = None;
        // Within the current entry: (nested count tag, missing tag), lowest count tag first.
        let mut nested_missing: Option<(u32, u32)> = None;
        loop {
            let mut peek = sc.clone();
            let Some(next) = peek.next_field() else { break };
            let f = next.map_err(|()| ValidationError::GARBLED)?;
            let Some(li) = (if f.bad { None } else { g.local(f.tag) }) else {
                break;
            };
            if f.tag == g.delim || entries == 0 || seen.contains(li) {
                if entries > 0 && first_missing.is_none() {
                    first_missing = entry_missing(g, &seen).or(nested_missing.map(|n| n.1));
                }
                entries += 1;
                seen.bits = [0; 8];
                nested_missing = None;
            }
            *sc = peek;
            seen.insert(li);
            let idx = d.index(f.tag);
            if let Some(r) = self.check_field(d, idx, &f, None) {
                self.offer(k | SUB_MEMBER, r, Some(f.tag));
            }
            let nested = g.nested[li];
            if nested != u32::MAX {
                let ng = &d.groups[nested as usize];
                let (n, miss) = self.group(d, ng, sc, k)?;
                if self.should_check_tag(&f) && !count_matches(f.value, n) {
                    self.offer(
                        k | SUB_MEMBER,
                        RejectReason::IncorrectNumInGroupCount,
                        Some(f.tag),
                    );
                }
                if let Some(t) = miss
                    && nested_missing.is_none_or(|(c, _)| f.tag < c)
                {
                    nested_missing = Some((f.tag, t));
                }
            }
        }
        if entries > 0 && first_missing.is_none() {
            first_missing = entry_missing(g, &seen).or(nested_missing.map(|n| n.1));
        }
        Ok((entries, first_missing))
    }
}

/// The tags QuickFIX's `Message::isHeaderField` treats as header fields without consulting the
/// dictionary: a message's header is whatever these and the dictionary's header fields are.
/// QuickFIX's list, kept exactly (370 in, 91 and 628-630 out), so it differs on purpose from
/// [`crate::tags::is_standard_header`], which is the FIX specification's header.
pub(crate) fn is_quickfix_header_tag(tag: u32) -> bool {
    matches!(
        tag,
        8 | 9
            | 34
            | 35
            | 43
            | 49
            | 50
            | 52
            | 56
            | 57
            | 90
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
            | 370
            | 627
            | 1128
            | 1129
    )
}

#[inline]
fn missing(tag: u32) -> ValidationError {
    ValidationError {
        reason: RejectReason::RequiredTagMissing,
        tag: Some(tag),
    }
}

#[inline]
fn entry_missing(g: &GroupDef, seen: &EntrySeen) -> Option<u32> {
    g.required
        .iter()
        .copied()
        .find(|&t| g.local(t).is_some_and(|li| !seen.contains(li)))
}

#[inline]
fn count_matches(value: &[u8], entries: u32) -> bool {
    parse_u64(value) == Some(u64::from(entries))
}

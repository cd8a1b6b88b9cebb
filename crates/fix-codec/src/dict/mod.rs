//! Data dictionaries (QuickFIX XML) and message validation.
//!
//! * [`Dictionary`]: one QuickFIX-format dictionary (`FIX40.xml` ... `FIX50SP2.xml`, `FIXT11.xml`),
//!   immutable after loading, with per-message-type tables precomputed for validation.
//! * [`Validator`]: validates complete frames against a dictionary pair (the transport dictionary for
//!   the header, trailer and admin messages; the application dictionary for application messages),
//!   and re-serialises bodies in canonical order ([`Validator::write_body_canonical`]).
//! * [`ValidationError`]: a [`RejectReason`] (`SessionRejectReason <373>`) and the offending tag, ready
//!   for the session layer to build a `Reject <35=3>`.
//!
//! # Behaviour
//! The checks and their precedence follow QuickFIX 1.15 (`DataDictionary::validate`), because the
//! QuickFIX acceptance suite pins them down:
//!
//! 1. A message whose fields cannot be read at all (non-numeric tag, missing `=`, a data field whose
//!    length is wrong) is *garbled*: [`ValidationError::is_garbled`]. QuickFIX ignores such messages.
//! 2. `TagSpecifiedOutOfRequiredOrder`: the first header field found after a body or trailer field, or
//!    the first body field after a trailer field (when `check_fields_out_of_order`).
//! 3. `RequiredTagMissing` for `MsgType <35>`, then `InvalidMsgType`.
//! 4. `RequiredTagMissing`: header fields, then body fields in ascending tag order, then the required
//!    fields of each entry of required repeating groups (groups in ascending tag order).
//! 5. Field by field, header first (8, 9, 35, then ascending tag), then trailer, then body (ascending
//!    tag): `TagAppearsMoreThanOnce` (on the second occurrence), `TagSpecifiedWithoutValue`,
//!    `IncorrectDataFormat`, `ValueIsIncorrect`, `InvalidTagNumber`, `TagNotDefinedForMessageType`,
//!    `IncorrectNumInGroupCount`. Errors inside a repeating group rank right after its count field.
//!    The header is the dictionary's header fields plus the tags QuickFIX always files there
//!    (routing `115`/`116`/`128`/`129`/`142`-`145`, `97`, `369`, `1128`, ...), so such a tag the
//!    dictionary does not define (`144` in FIX.4.0) is an `InvalidTagNumber` of the header.
//!
//! Repeating groups are delimited as QuickFIX does: an entry starts at the delimiter (the first field
//! of the group in the dictionary), or at a group member already present in the current entry; the
//! group ends at the first field that is not a member.
//!
//! Validation never allocates: per-call scratch (bitsets of seen fields) lives on the stack.

mod canonical;
mod fast;
mod format;
mod load;
mod validate;

use std::path::Path;

pub(crate) use fast::ShapeCache;
pub use validate::{Validator, first_malformed_tag};

/// Why a dictionary could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DictError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not well-formed XML.
    #[error("XML error: {0}")]
    Xml(String),
    /// The XML is not a usable QuickFIX dictionary.
    #[error("invalid dictionary: {0}")]
    Invalid(String),
    /// An error in a named file.
    #[error("{path}: {source}")]
    InFile {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        source: Box<DictError>,
    },
}

/// The type of a field as declared in the dictionary, as far as validation distinguishes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldType {
    /// `STRING` (and `CHAR` before FIX.4.2, as QuickFIX reads those dictionaries).
    String,
    /// `CHAR`: exactly one byte.
    Char,
    /// `INT`: optional `-`, then digits.
    Int,
    /// `LENGTH`: an integer.
    Length,
    /// `SEQNUM`: an integer.
    SeqNum,
    /// `NUMINGROUP`: an integer.
    NumInGroup,
    /// `FLOAT`, `QTY`, `PRICE`, `PRICEOFFSET`, `AMT`, `PERCENTAGE`: optional `-`, digits, one `.`.
    Float,
    /// `BOOLEAN`: `Y` or `N`.
    Boolean,
    /// `UTCTIMESTAMP` (and `TIME`): `YYYYMMDD-HH:MM:SS[.f{1,9}]`.
    UtcTimestamp,
    /// `UTCTIMEONLY`: `HH:MM:SS[.f{1,9}]`.
    UtcTimeOnly,
    /// `UTCDATE`, `UTCDATEONLY`, `LOCALMKTDATE`: `YYYYMMDD`.
    Date,
    /// `MONTHYEAR`: `YYYYMM`, optionally followed by `DD` or `wN`.
    MonthYear,
    /// `DAYOFMONTH`: 1 to 31.
    DayOfMonth,
    /// `DATA`: any bytes (length-prefixed).
    Data,
    /// `CURRENCY`, `EXCHANGE`, `COUNTRY`: free text, like QuickFIX.
    Code,
    /// `MULTIPLEVALUESTRING`, `MULTIPLESTRINGVALUE`, `MULTIPLECHARVALUE`: space-separated values, each
    /// of which must be an enumerated value when the field has enumerations.
    MultipleValue,
    /// Any other type (`LOCALMKTTIME`, `TZTIMEONLY`, `XMLDATA`, ...): not checked, like QuickFIX.
    Unknown,
}

/// Enumerated values of one field.
#[derive(Debug, Clone, Default)]
pub(crate) struct EnumSet {
    /// Bitmap of one-byte values: the common case, tested without a search.
    single: [u64; 4],
    /// Longer values, sorted.
    multi: Box<[Box<[u8]>]>,
}

impl EnumSet {
    #[inline]
    pub(crate) fn contains(&self, v: &[u8]) -> bool {
        match v {
            [b] => self.contains_byte(*b),
            _ => self.multi.binary_search_by(|e| (**e).cmp(v)).is_ok(),
        }
    }

    #[inline(always)]
    pub(crate) fn contains_byte(&self, b: u8) -> bool {
        self.single[usize::from(b >> 6)] & (1u64 << (b & 63)) != 0
    }
}

#[derive(Debug, Clone)]
pub(crate) struct FieldDef {
    pub(crate) tag: u32,
    pub(crate) name: Box<str>,
    pub(crate) ftype: FieldType,
    pub(crate) enums: Option<Box<EnumSet>>,
}

/// Fields allowed at one level (header, trailer, or a message body), as bitsets over the
/// dictionary's dense field indices so that membership costs one load.
#[derive(Debug, Clone, Default)]
pub(crate) struct Layout {
    pub(crate) members: Box<[u64]>,
    pub(crate) counts: Box<[u64]>,
    /// (count tag, group id), sorted by tag.
    pub(crate) groups: Box<[(u32, u32)]>,
    /// Required tags, ascending.
    pub(crate) required: Box<[u32]>,
    /// `members` without the group count fields: the fields the fast path accepts as they come.
    pub(crate) plain: Box<[u64]>,
    /// The required fields as (word, mask) pairs over field indices, so that "all present" is a
    /// few and-nots instead of a lookup per tag.
    pub(crate) required_masks: Box<[(u32, u64)]>,
}

#[inline]
pub(crate) fn bit(set: &[u64], idx: u32) -> bool {
    set.get((idx >> 6) as usize)
        .is_some_and(|w| w & (1u64 << (idx & 63)) != 0)
}

impl Layout {
    #[inline]
    pub(crate) fn is_member(&self, idx: u32) -> bool {
        bit(&self.members, idx)
    }

    #[inline]
    pub(crate) fn group(&self, idx: u32, tag: u32) -> Option<u32> {
        if !bit(&self.counts, idx) {
            return None;
        }
        self.groups
            .binary_search_by_key(&tag, |g| g.0)
            .ok()
            .map(|i| self.groups[i].1)
    }
}

/// One repeating group definition (shared by every message that uses the same XML element).
#[derive(Debug, Clone)]
pub(crate) struct GroupDef {
    pub(crate) delim: u32,
    /// Member tags, sorted (for lookup).
    pub(crate) members: Box<[u32]>,
    /// Parallel to `members`: position in dictionary order.
    pub(crate) order: Box<[u16]>,
    /// Parallel to `members`: nested group id, or `u32::MAX`.
    pub(crate) nested: Box<[u32]>,
    /// Required member tags, ascending (empty unless the group itself is required).
    pub(crate) required: Box<[u32]>,
}

impl GroupDef {
    #[inline]
    pub(crate) fn local(&self, tag: u32) -> Option<usize> {
        self.members.binary_search(&tag).ok()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct MsgDef {
    pub(crate) msg_type: Box<[u8]>,
    pub(crate) name: Box<str>,
    pub(crate) admin: bool,
    pub(crate) body: Layout,
}

/// A data dictionary loaded from QuickFIX-format XML. Immutable after loading; share it through an
/// `Arc`.
#[derive(Debug, Clone)]
pub struct Dictionary {
    pub(crate) version: String,
    pub(crate) transport: bool,
    /// Tag -> field index + 1 (0: not defined).
    pub(crate) tag_index: Box<[u16]>,
    pub(crate) fields: Vec<FieldDef>,
    pub(crate) names: std::collections::HashMap<Box<str>, u32>,
    pub(crate) header: Layout,
    pub(crate) trailer: Layout,
    pub(crate) messages: Vec<MsgDef>,
    /// One-byte msg types (the session messages and the busiest application ones): index + 1.
    pub(crate) msg_single: [u16; 256],
    /// (packed msg type, index into `messages`), sorted, for types of up to 7 bytes.
    pub(crate) msg_short: Vec<(u64, u32)>,
    /// Longer msg types, sorted.
    pub(crate) msg_long: Vec<(Box<[u8]>, u32)>,
    pub(crate) groups: Vec<GroupDef>,
    /// `u64` words in a bitset over field indices.
    pub(crate) words: usize,
    /// Tag -> what the fast path needs to know about the field, in four bytes.
    pub(crate) fast: Box<[fast::FastEntry]>,
    /// Unique per loaded dictionary (a clone, identical, keeps it): what the message shapes a
    /// [`crate::FieldIndex`] remembers were proven against.
    pub(crate) id: u64,
}

/// The next [`Dictionary::id`].
pub(crate) fn next_dictionary_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Pack a short MsgType into an integer key (length in the top byte).
#[inline]
pub(crate) fn pack_msg_type(mt: &[u8]) -> Option<u64> {
    if mt.is_empty() || mt.len() > 7 {
        return None;
    }
    let mut k = (mt.len() as u64) << 56;
    for (i, &b) in mt.iter().enumerate() {
        k |= u64::from(b) << (8 * (6 - i));
    }
    Some(k)
}

impl Dictionary {
    /// Load a dictionary from QuickFIX-format XML text.
    pub fn from_xml(xml: &str) -> Result<Dictionary, DictError> {
        load::load(xml)
    }

    /// Load a dictionary from a file; errors name the file.
    pub fn from_file(path: &Path) -> Result<Dictionary, DictError> {
        let text = std::fs::read_to_string(path).map_err(|source| DictError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_xml(&text).map_err(|e| DictError::InFile {
            path: path.to_path_buf(),
            source: Box::new(e),
        })
    }

    /// `"FIX.4.0"` .. `"FIX.4.4"`, `"FIXT.1.1"`, or `"FIX.5.0"`, `"FIX.5.0SP1"`, `"FIX.5.0SP2"` for
    /// application dictionaries.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Whether this is a transport (FIXT) dictionary.
    pub fn is_transport(&self) -> bool {
        self.transport
    }

    #[inline]
    pub(crate) fn index(&self, tag: u32) -> Option<u32> {
        match self.tag_index.get(tag as usize) {
            Some(&i) if i != 0 => Some(u32::from(i) - 1),
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn msg(&self, msg_type: &[u8]) -> Option<&MsgDef> {
        if let [b] = msg_type {
            let i = self.msg_single[usize::from(*b)];
            return if i == 0 {
                None
            } else {
                self.messages.get(usize::from(i) - 1)
            };
        }
        let i = match pack_msg_type(msg_type) {
            Some(k) => {
                let p = self.msg_short.binary_search_by_key(&k, |e| e.0).ok()?;
                self.msg_short[p].1
            }
            None => {
                let p = self
                    .msg_long
                    .binary_search_by(|e| (*e.0).cmp(msg_type))
                    .ok()?;
                self.msg_long[p].1
            }
        };
        self.messages.get(i as usize)
    }

    /// Whether `MsgType <35>` value `msg_type` is defined.
    pub fn has_msg_type(&self, msg_type: &[u8]) -> bool {
        self.msg(msg_type).is_some()
    }

    /// Whether `msg_type` is defined with `msgcat='admin'`.
    pub fn is_admin_msg_type(&self, msg_type: &[u8]) -> bool {
        self.msg(msg_type).is_some_and(|m| m.admin)
    }

    /// The name of a message type (`"NewOrderSingle"` for `D`).
    pub fn msg_type_name(&self, msg_type: &[u8]) -> Option<&str> {
        self.msg(msg_type).map(|m| &*m.name)
    }

    /// Whether `tag` is a header field of this dictionary (always false for FIX 5.0 application
    /// dictionaries, whose header lives in the transport dictionary).
    pub fn is_header_tag(&self, tag: u32) -> bool {
        self.index(tag).is_some_and(|i| self.header.is_member(i))
    }

    /// Whether `tag` is a trailer field of this dictionary.
    pub fn is_trailer_tag(&self, tag: u32) -> bool {
        self.index(tag).is_some_and(|i| self.trailer.is_member(i))
    }

    /// The name of a field (`"ClOrdID"` for 11).
    pub fn field_name(&self, tag: u32) -> Option<&str> {
        self.index(tag).map(|i| &*self.fields[i as usize].name)
    }

    /// The tag of a field name.
    pub fn field_tag(&self, name: &str) -> Option<u32> {
        self.names.get(name).copied()
    }

    /// The declared type of a field.
    pub fn field_type(&self, tag: u32) -> Option<FieldType> {
        self.index(tag).map(|i| self.fields[i as usize].ftype)
    }

    /// Whether `value` is one of the enumerated values of `tag` (true when the field has no
    /// enumeration). Multiple-value fields are split on spaces.
    pub fn is_valid_value(&self, tag: u32, value: &[u8]) -> bool {
        match self.index(tag) {
            Some(i) => format::value_ok(&self.fields[i as usize], value),
            None => true,
        }
    }

    /// Number of fields defined.
    pub fn field_count(&self) -> usize {
        self.fields.len()
    }

    /// Number of message types defined.
    pub fn msg_type_count(&self) -> usize {
        self.messages.len()
    }

    /// Tags of the fields required in the body of `msg_type`, ascending (fields of required
    /// components and required groups' count fields included).
    pub fn required_tags(&self, msg_type: &[u8]) -> Option<&[u32]> {
        self.msg(msg_type).map(|m| &*m.body.required)
    }

    /// Whether `tag` may appear at the top level of the body of `msg_type`.
    pub fn is_msg_field(&self, msg_type: &[u8], tag: u32) -> bool {
        match (self.msg(msg_type), self.index(tag)) {
            (Some(m), Some(i)) => m.body.is_member(i),
            _ => false,
        }
    }

    /// The tags of the repeating group counted by `count_tag` in the body of `msg_type`, in
    /// dictionary order (delimiter first).
    pub fn group_members(&self, msg_type: &[u8], count_tag: u32) -> Option<Vec<u32>> {
        let m = self.msg(msg_type)?;
        let g = &self.groups[m.body.group(self.index(count_tag)?, count_tag)? as usize];
        let mut v: Vec<(u16, u32)> = g
            .order
            .iter()
            .copied()
            .zip(g.members.iter().copied())
            .collect();
        v.sort_unstable();
        Some(v.into_iter().map(|(_, t)| t).collect())
    }
}

/// Validation switches, named after their QuickFIX settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidationOptions {
    /// `ValidateFieldsOutOfOrder`: header fields after the body (or body fields after the trailer)
    /// are rejected with `TagSpecifiedOutOfRequiredOrder`. Default true.
    pub check_fields_out_of_order: bool,
    /// `ValidateFieldsHaveValues`: empty values are rejected with `TagSpecifiedWithoutValue`.
    /// When false, empty values also skip the format and enumeration checks. Default true.
    pub check_fields_have_values: bool,
    /// `ValidateUserDefinedFields`: tags >= 5000 are checked against the dictionary like others.
    /// When false they are not checked for being defined. Default true.
    pub check_user_defined_fields: bool,
    /// `AllowUnknownMsgFields`: tags < 5000 are not checked for being defined in the dictionary or
    /// in the message type (as QuickFIX does). Default false.
    pub allow_unknown_message_fields: bool,
    /// Verify `BodyLength <9>` and `CheckSum <10>` again (the framer already does). A mismatch makes
    /// the message garbled. Default true.
    pub validate_length_and_checksum: bool,
}

impl Default for ValidationOptions {
    fn default() -> Self {
        Self {
            check_fields_out_of_order: true,
            check_fields_have_values: true,
            check_user_defined_fields: true,
            allow_unknown_message_fields: false,
            validate_length_and_checksum: true,
        }
    }
}

/// Why a message failed validation: the `SessionRejectReason <373>` and the `RefTagID <371>`.
///
/// `tag` is `None` when no tag is involved (`InvalidMsgType`) or when the offending tag is not a
/// non-negative number (`-1=x`): [`first_malformed_tag`] recovers its text for `RefTagID <371>`.
/// `RejectReason::Other` with `tag: None` means the message is garbled ([`Self::is_garbled`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason:?} (tag {tag:?})")]
pub struct ValidationError {
    /// `SessionRejectReason <373>`.
    pub reason: RejectReason,
    /// `RefTagID <371>`.
    pub tag: Option<u32>,
}

impl ValidationError {
    /// The error for a message whose fields cannot be read, or whose BodyLength or CheckSum is wrong.
    pub const GARBLED: ValidationError = ValidationError {
        reason: RejectReason::Other,
        tag: None,
    };

    /// Whether the message is garbled: QuickFIX ignores such a message (no Reject, no sequence
    /// number consumed).
    pub fn is_garbled(&self) -> bool {
        *self == Self::GARBLED
    }
}

/// `SessionRejectReason <373>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectReason {
    /// 0: Invalid tag number.
    InvalidTagNumber,
    /// 1: Required tag missing.
    RequiredTagMissing,
    /// 2: Tag not defined for this message type.
    TagNotDefinedForMessageType,
    /// 3: Undefined Tag.
    UndefinedTag,
    /// 4: Tag specified without a value.
    TagSpecifiedWithoutValue,
    /// 5: Value is incorrect (out of range) for this tag.
    ValueIsIncorrect,
    /// 6: Incorrect data format for value.
    IncorrectDataFormat,
    /// 7: Decryption problem.
    DecryptionProblem,
    /// 8: Signature problem.
    SignatureProblem,
    /// 9: CompID problem.
    CompIdProblem,
    /// 10: SendingTime accuracy problem.
    SendingTimeAccuracyProblem,
    /// 11: Invalid MsgType.
    InvalidMsgType,
    /// 12: XML Validation error.
    XmlValidationError,
    /// 13: Tag appears more than once.
    TagAppearsMoreThanOnce,
    /// 14: Tag specified out of required order.
    TagSpecifiedOutOfRequiredOrder,
    /// 15: Repeating group fields out of order.
    RepeatingGroupFieldsOutOfOrder,
    /// 16: Incorrect NumInGroup count for repeating group.
    IncorrectNumInGroupCount,
    /// 17: Non "data" value includes field delimiter (SOH character).
    NonDataValueIncludesFieldDelimiter,
    /// 99: Other.
    Other,
}

impl RejectReason {
    const ALL: [RejectReason; 19] = [
        Self::InvalidTagNumber,
        Self::RequiredTagMissing,
        Self::TagNotDefinedForMessageType,
        Self::UndefinedTag,
        Self::TagSpecifiedWithoutValue,
        Self::ValueIsIncorrect,
        Self::IncorrectDataFormat,
        Self::DecryptionProblem,
        Self::SignatureProblem,
        Self::CompIdProblem,
        Self::SendingTimeAccuracyProblem,
        Self::InvalidMsgType,
        Self::XmlValidationError,
        Self::TagAppearsMoreThanOnce,
        Self::TagSpecifiedOutOfRequiredOrder,
        Self::RepeatingGroupFieldsOutOfOrder,
        Self::IncorrectNumInGroupCount,
        Self::NonDataValueIncludesFieldDelimiter,
        Self::Other,
    ];

    /// The `SessionRejectReason <373>` value.
    pub const fn code(self) -> u32 {
        match self {
            Self::InvalidTagNumber => 0,
            Self::RequiredTagMissing => 1,
            Self::TagNotDefinedForMessageType => 2,
            Self::UndefinedTag => 3,
            Self::TagSpecifiedWithoutValue => 4,
            Self::ValueIsIncorrect => 5,
            Self::IncorrectDataFormat => 6,
            Self::DecryptionProblem => 7,
            Self::SignatureProblem => 8,
            Self::CompIdProblem => 9,
            Self::SendingTimeAccuracyProblem => 10,
            Self::InvalidMsgType => 11,
            Self::XmlValidationError => 12,
            Self::TagAppearsMoreThanOnce => 13,
            Self::TagSpecifiedOutOfRequiredOrder => 14,
            Self::RepeatingGroupFieldsOutOfOrder => 15,
            Self::IncorrectNumInGroupCount => 16,
            Self::NonDataValueIncludesFieldDelimiter => 17,
            Self::Other => 99,
        }
    }

    /// The text QuickFIX puts in `Text <58>` of the Reject.
    pub const fn text(self) -> &'static str {
        match self {
            Self::InvalidTagNumber => "Invalid tag number",
            Self::RequiredTagMissing => "Required tag missing",
            Self::TagNotDefinedForMessageType => "Tag not defined for this message type",
            Self::UndefinedTag => "Undefined Tag",
            Self::TagSpecifiedWithoutValue => "Tag specified without a value",
            Self::ValueIsIncorrect => "Value is incorrect (out of range) for this tag",
            Self::IncorrectDataFormat => "Incorrect data format for value",
            Self::DecryptionProblem => "Decryption problem",
            Self::SignatureProblem => "Signature problem",
            Self::CompIdProblem => "CompID problem",
            Self::SendingTimeAccuracyProblem => "SendingTime accuracy problem",
            Self::InvalidMsgType => "Invalid MsgType",
            Self::XmlValidationError => "XML Validation error",
            Self::TagAppearsMoreThanOnce => "Tag appears more than once",
            Self::TagSpecifiedOutOfRequiredOrder => "Tag specified out of required order",
            Self::RepeatingGroupFieldsOutOfOrder => "Repeating group fields out of order",
            Self::IncorrectNumInGroupCount => "Incorrect NumInGroup count for repeating group",
            Self::NonDataValueIncludesFieldDelimiter => {
                "Non Data Value includes Field Delimiter (SOH character)"
            }
            Self::Other => "Other",
        }
    }

    /// The reason for a `SessionRejectReason <373>` value.
    pub fn from_code(code: u32) -> Option<RejectReason> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// The FIX version named by an `ApplVerID <1128>` / `DefaultApplVerID <1137>` value: the enumerated
/// digit (`"9"`) or, as QuickFIX configuration files write it, the version itself (`"FIX.5.0SP2"`).
/// The result matches [`Dictionary::version`] of the corresponding dictionary.
pub fn appl_ver_id_version(value: &[u8]) -> Option<&'static str> {
    const MAP: [(&[u8], &str); 10] = [
        (b"0", "FIX.2.7"),
        (b"1", "FIX.3.0"),
        (b"2", "FIX.4.0"),
        (b"3", "FIX.4.1"),
        (b"4", "FIX.4.2"),
        (b"5", "FIX.4.3"),
        (b"6", "FIX.4.4"),
        (b"7", "FIX.5.0"),
        (b"8", "FIX.5.0SP1"),
        (b"9", "FIX.5.0SP2"),
    ];
    MAP.iter()
        .find(|(code, name)| *code == value || name.as_bytes() == value)
        .map(|(_, name)| *name)
}

/// The `ApplVerID <1128>` enumerated value of a dictionary version (`"FIX.5.0SP2"` -> `"9"`).
pub fn appl_ver_id_for_version(version: &str) -> Option<&'static str> {
    const MAP: [(&str, &str); 10] = [
        ("FIX.2.7", "0"),
        ("FIX.3.0", "1"),
        ("FIX.4.0", "2"),
        ("FIX.4.1", "3"),
        ("FIX.4.2", "4"),
        ("FIX.4.3", "5"),
        ("FIX.4.4", "6"),
        ("FIX.5.0", "7"),
        ("FIX.5.0SP1", "8"),
        ("FIX.5.0SP2", "9"),
    ];
    MAP.iter().find(|(v, _)| *v == version).map(|(_, c)| *c)
}

//! Session-level reject reasons and the validation hook.

/// `SessionRejectReason <373>`.
///
/// Mirrors `fix_codec::dict::RejectReason` (the data-dictionary contract) so that the session does not
/// depend on the dictionary being present; [`RejectReason::from_code`] converts between the two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectReason {
    /// 0.
    InvalidTagNumber,
    /// 1.
    RequiredTagMissing,
    /// 2.
    TagNotDefinedForMessageType,
    /// 3.
    UndefinedTag,
    /// 4.
    TagSpecifiedWithoutValue,
    /// 5.
    ValueIsIncorrect,
    /// 6.
    IncorrectDataFormat,
    /// 7.
    DecryptionProblem,
    /// 8.
    SignatureProblem,
    /// 9.
    CompIdProblem,
    /// 10.
    SendingTimeAccuracyProblem,
    /// 11.
    InvalidMsgType,
    /// 12.
    XmlValidationError,
    /// 13.
    TagAppearsMoreThanOnce,
    /// 14.
    TagSpecifiedOutOfRequiredOrder,
    /// 15.
    RepeatingGroupFieldsOutOfOrder,
    /// 16.
    IncorrectNumInGroupCount,
    /// 17.
    NonDataValueIncludesFieldDelimiter,
    /// 99.
    Other,
}

impl RejectReason {
    /// The `373` value.
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

    /// From a `373` value.
    pub const fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            0 => Self::InvalidTagNumber,
            1 => Self::RequiredTagMissing,
            2 => Self::TagNotDefinedForMessageType,
            3 => Self::UndefinedTag,
            4 => Self::TagSpecifiedWithoutValue,
            5 => Self::ValueIsIncorrect,
            6 => Self::IncorrectDataFormat,
            7 => Self::DecryptionProblem,
            8 => Self::SignatureProblem,
            9 => Self::CompIdProblem,
            10 => Self::SendingTimeAccuracyProblem,
            11 => Self::InvalidMsgType,
            12 => Self::XmlValidationError,
            13 => Self::TagAppearsMoreThanOnce,
            14 => Self::TagSpecifiedOutOfRequiredOrder,
            15 => Self::RepeatingGroupFieldsOutOfOrder,
            16 => Self::IncorrectNumInGroupCount,
            17 => Self::NonDataValueIncludesFieldDelimiter,
            99 => Self::Other,
            _ => return None,
        })
    }

    /// The text QuickFIX puts in `Text <58>` (empty when QuickFIX sends none).
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
            Self::NonDataValueIncludesFieldDelimiter => "Non Data value includes field delimiter",
            Self::Other => "Other",
        }
    }
}

/// Why a received message failed validation: the reason and, when one is involved, the tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Violation {
    /// `SessionRejectReason <373>`.
    pub reason: RejectReason,
    /// `RefTagID <371>`.
    pub tag: Option<u32>,
}

impl Violation {
    /// A violation about `tag`.
    pub const fn tag(reason: RejectReason, tag: u32) -> Self {
        Self {
            reason,
            tag: Some(tag),
        }
    }

    /// A violation without a tag.
    pub const fn plain(reason: RejectReason) -> Self {
        Self { reason, tag: None }
    }

    /// The message cannot be read (or its BodyLength / CheckSum is wrong): it is ignored, with no
    /// Reject and no sequence number consumed, as QuickFIX does.
    pub const GARBLED: Violation = Violation {
        reason: RejectReason::Other,
        tag: None,
    };

    /// Whether this is [`Violation::GARBLED`].
    pub fn is_garbled(&self) -> bool {
        *self == Self::GARBLED
    }
}

/// Validates a complete received frame (`8=` .. `10=xxx SOH`) before the session acts on it.
///
/// Implemented for `fix_codec`'s dictionary validator by the engine (or by an adapter) so the session
/// does not depend on the dictionary; the tests implement it directly. Must not allocate on the hot path.
pub trait MessageValidator: Send + Sync + std::fmt::Debug {
    /// `Ok` when the message is acceptable.
    fn validate(&self, msg: &[u8]) -> Result<(), Violation>;

    /// [`MessageValidator::validate`], and on success the message's standard header: exactly
    /// [`fix_codec::HeaderFields::scan`]`(msg)` (`None` when the first three fields are not 8, 9,
    /// 35). The session reads the header of every message it validates through this, so a
    /// validator that reads the fields anyway (the dictionary validator does) spares it a second
    /// pass. The default validates, then scans.
    fn validate_with_header<'m>(
        &self,
        msg: &'m [u8],
    ) -> Result<Option<fix_codec::HeaderFields<'m>>, Violation> {
        self.validate(msg)?;
        Ok(fix_codec::HeaderFields::scan(msg))
    }
}

fn violation(e: fix_codec::ValidationError) -> Violation {
    if e.is_garbled() {
        return Violation::GARBLED;
    }
    Violation {
        reason: RejectReason::from_code(e.reason.code()).unwrap_or(RejectReason::Other),
        tag: e.tag,
    }
}

/// The data-dictionary validator of `fix-codec` (QuickFIX precedence and texts).
impl MessageValidator for fix_codec::Validator {
    fn validate(&self, msg: &[u8]) -> Result<(), Violation> {
        fix_codec::Validator::validate(self, msg).map_err(violation)
    }

    /// One pass when the validator's fast path proves the message valid.
    fn validate_with_header<'m>(
        &self,
        msg: &'m [u8],
    ) -> Result<Option<fix_codec::HeaderFields<'m>>, Violation> {
        fix_codec::Validator::validate_with_header(self, msg).map_err(violation)
    }
}

//! Session-level reject reasons and the validation hook.

/// `SessionRejectReason <373>`: the data dictionary's enum, with QuickFIX's codes and texts.
pub use fix_codec::RejectReason;

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

    /// [`MessageValidator::validate_with_header`] of a frame whose `BodyLength <9>` and
    /// `CheckSum <10>` a [`fix_codec::Framer`] has already verified (the session's own framer
    /// does, for every frame it delivers): a validator may skip checking them again. The
    /// default is `validate_with_header`.
    fn validate_framed_with_header<'m>(
        &self,
        frame: &'m [u8],
    ) -> Result<Option<fix_codec::HeaderFields<'m>>, Violation> {
        self.validate_with_header(frame)
    }

    /// [`MessageValidator::validate_framed_with_header`] that may also record where each field
    /// lies in `index`, so that the application's lookups in the delivered message scan the
    /// index instead of the bytes ([`fix_codec::MessageRef::with_index`]). The default leaves
    /// the index describing nothing.
    fn validate_framed_indexed<'m>(
        &self,
        frame: &'m [u8],
        index: &mut fix_codec::FieldIndex,
    ) -> Result<Option<fix_codec::HeaderFields<'m>>, Violation> {
        index.clear();
        self.validate_framed_with_header(frame)
    }
}

fn violation(e: fix_codec::ValidationError) -> Violation {
    if e.is_garbled() {
        return Violation::GARBLED;
    }
    Violation {
        reason: e.reason,
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

    /// The same without verifying BodyLength and CheckSum a second time.
    fn validate_framed_with_header<'m>(
        &self,
        frame: &'m [u8],
    ) -> Result<Option<fix_codec::HeaderFields<'m>>, Violation> {
        fix_codec::Validator::validate_framed_with_header(self, frame).map_err(violation)
    }

    /// The same, recording the fields in `index` when the fast path proves the message valid.
    fn validate_framed_indexed<'m>(
        &self,
        frame: &'m [u8],
        index: &mut fix_codec::FieldIndex,
    ) -> Result<Option<fix_codec::HeaderFields<'m>>, Violation> {
        fix_codec::Validator::validate_framed_indexed(self, frame, index).map_err(violation)
    }
}

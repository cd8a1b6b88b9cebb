//! The standard-header fields a session needs from every received message, read without
//! allocating: by [`HeaderFields::scan`], or during validation by
//! [`crate::Validator::validate_framed_with_header`], which collects them in the same pass that
//! validates the message instead of reading the frame a second time.

use crate::FieldIter;
use crate::field::parse_u64;
use crate::tags;

/// Routing tags of [`HeaderFields::routing`], in that order: `OnBehalfOfCompID <115>`,
/// `OnBehalfOfSubID <116>`, `OnBehalfOfLocationID <144>`, `DeliverToCompID <128>`,
/// `DeliverToSubID <129>`, `DeliverToLocationID <145>`.
pub const ROUTING_TAGS: [u32; 6] = [
    tags::ON_BEHALF_OF_COMP_ID,
    tags::ON_BEHALF_OF_SUB_ID,
    tags::ON_BEHALF_OF_LOCATION_ID,
    tags::DELIVER_TO_COMP_ID,
    tags::DELIVER_TO_SUB_ID,
    tags::DELIVER_TO_LOCATION_ID,
];

/// Standard-header fields of one received message, borrowed from the frame.
///
/// The values are exactly what a [`FieldIter`] scan of the whole frame finds
/// ([`HeaderFields::scan`]): `BeginString <8>` and `MsgType <35>` are the first and third fields;
/// of every other field the first occurrence counts, except `PossDupFlag <43>`, whose last
/// occurrence counts; the scan stops at the first field that cannot be read, keeping what it
/// found before it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HeaderFields<'a> {
    /// `BeginString <8>` (the first field).
    pub begin_string: &'a [u8],
    /// `MsgType <35>` (the third field; never empty).
    pub msg_type: &'a [u8],
    /// `MsgSeqNum <34>` as received.
    pub msg_seq_num: Option<&'a [u8]>,
    /// `MsgSeqNum <34>` parsed ([`parse_u64`]); `None` when absent or not a valid number.
    pub seq_num: Option<u64>,
    /// `SenderCompID <49>`.
    pub sender_comp_id: Option<&'a [u8]>,
    /// `TargetCompID <56>`.
    pub target_comp_id: Option<&'a [u8]>,
    /// `SendingTime <52>`.
    pub sending_time: Option<&'a [u8]>,
    /// `OrigSendingTime <122>`.
    pub orig_sending_time: Option<&'a [u8]>,
    /// `PossDupFlag <43>`: its last occurrence.
    pub poss_dup_flag: Option<&'a [u8]>,
    /// The routing fields, in the order of [`ROUTING_TAGS`].
    pub routing: [Option<&'a [u8]>; 6],
}

impl<'a> HeaderFields<'a> {
    /// Read the header of `frame` (`8=...10=xxx SOH`) with a [`FieldIter`]: one pass over every
    /// field. For callers that do not validate; a validating receive path gets the same result
    /// from [`crate::Validator::validate_framed_with_header`] without the second pass.
    ///
    /// `None` when the first three fields are not `8`, `9` and a non-empty `35`, or one of them
    /// cannot be read: the message is garbled (QuickFIX ignores it).
    pub fn scan(frame: &'a [u8]) -> Option<Self> {
        let mut it = FieldIter::new(frame);
        let f8 = it.next()?.ok()?;
        let f9 = it.next()?.ok()?;
        let f35 = it.next()?.ok()?;
        if f8.tag != 8 || f9.tag != 9 || f35.tag != 35 || f35.value.is_empty() {
            return None;
        }
        let mut h = HeaderFields {
            begin_string: f8.value,
            msg_type: f35.value,
            ..HeaderFields::default()
        };
        for f in it {
            let Ok(f) = f else { break };
            h.record(f.tag, f.value);
        }
        h.finish();
        Some(h)
    }

    /// Whether `PossDupFlag <43>` is `Y`.
    #[inline]
    pub fn poss_dup(&self) -> bool {
        self.poss_dup_flag == Some(b"Y")
    }

    /// The routing field `tag` (one of [`ROUTING_TAGS`]).
    #[inline]
    pub fn routing_field(&self, tag: u32) -> Option<&'a [u8]> {
        let i = ROUTING_TAGS.iter().position(|&t| t == tag)?;
        self.routing[i]
    }

    /// Take field `tag` (any but the first three) into account. `seq_num` is left to
    /// [`HeaderFields::finish`].
    #[inline(always)]
    pub(crate) fn record(&mut self, tag: u32, value: &'a [u8]) {
        fn first<'v>(slot: &mut Option<&'v [u8]>, v: &'v [u8]) {
            if slot.is_none() {
                *slot = Some(v);
            }
        }
        match tag {
            tags::MSG_SEQ_NUM => first(&mut self.msg_seq_num, value),
            tags::SENDER_COMP_ID => first(&mut self.sender_comp_id, value),
            tags::TARGET_COMP_ID => first(&mut self.target_comp_id, value),
            tags::SENDING_TIME => first(&mut self.sending_time, value),
            tags::ORIG_SENDING_TIME => first(&mut self.orig_sending_time, value),
            tags::POSS_DUP_FLAG => self.poss_dup_flag = Some(value),
            tags::ON_BEHALF_OF_COMP_ID => first(&mut self.routing[0], value),
            tags::ON_BEHALF_OF_SUB_ID => first(&mut self.routing[1], value),
            tags::ON_BEHALF_OF_LOCATION_ID => first(&mut self.routing[2], value),
            tags::DELIVER_TO_COMP_ID => first(&mut self.routing[3], value),
            tags::DELIVER_TO_SUB_ID => first(&mut self.routing[4], value),
            tags::DELIVER_TO_LOCATION_ID => first(&mut self.routing[5], value),
            _ => {}
        }
    }

    /// Parse what needs parsing once every field is recorded.
    #[inline(always)]
    pub(crate) fn finish(&mut self) {
        self.seq_num = self.msg_seq_num.and_then(parse_u64);
    }
}

/// Whether `tag` is one [`HeaderFields`] holds (or 9, which it does not but whose position it
/// checks). The fast path of validation collects these only in the header; a dictionary that
/// admits one of them elsewhere makes it give up (see `dict/fast.rs`).
pub(crate) fn is_collected_tag(tag: u32) -> bool {
    matches!(
        tag,
        tags::BEGIN_STRING
            | tags::BODY_LENGTH
            | tags::MSG_TYPE
            | tags::MSG_SEQ_NUM
            | tags::SENDER_COMP_ID
            | tags::TARGET_COMP_ID
            | tags::SENDING_TIME
            | tags::ORIG_SENDING_TIME
            | tags::POSS_DUP_FLAG
    ) || ROUTING_TAGS.contains(&tag)
}

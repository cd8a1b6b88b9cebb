//! What the session asks of its environment ([`SessionIo`]) and what it reports ([`Event`]).

use fix_codec::{FrameError, MessageRef};

use crate::reject::RejectReason;
use crate::state::SessionState;

/// Something the session reports. Borrowed data lives only for the duration of the call.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// Every state transition, including the engine-driven ones.
    StateChanged {
        /// Previous state.
        from: SessionState,
        /// New state.
        to: SessionState,
    },
    /// The Logon exchange completed.
    LoggedOn {
        /// Both sequence numbers were reset to 1 by this Logon.
        reset: bool,
    },
    /// The counterparty sent a Logout (raised before our answer or the close). Not raised when the
    /// connection merely drops.
    LoggedOut {
        /// `Text <58>` of the peer's Logout (empty when absent).
        text: &'a [u8],
    },
    /// A validated, in-sequence application message. Borrowed from the input buffer (or from the
    /// session's out-of-order queue): copy what must outlive the call.
    AppMessage(MessageRef<'a>),
    /// A validated admin message the session consumed (Heartbeat, TestRequest, ...), for logging.
    AdminMessage(MessageRef<'a>),
    /// We sent a session-level `Reject <3>`.
    RejectSent {
        /// `RefSeqNum <45>` (0 when the message had none).
        ref_seq_num: u64,
        /// `SessionRejectReason <373>`.
        reason: RejectReason,
        /// `RefTagID <371>`.
        tag: Option<u32>,
    },
    /// The peer sent a session-level `Reject <3>`.
    RejectReceived(MessageRef<'a>),
    /// A received `MsgSeqNum <34>` was higher than expected: a ResendRequest was (or had already
    /// been) sent.
    SequenceGap {
        /// What we expected.
        expected: u64,
        /// What arrived.
        received: u64,
    },
    /// An outstanding ResendRequest went unanswered for the ResendRequest timeout (the expected
    /// number did not advance): it was sent again for `begin..` (`SessionConfig::
    /// resend_request_timeout`). Raised at most once per timeout.
    ResendRequestRepeated {
        /// First number asked for again (the expected incoming number).
        begin: u64,
        /// Last number known to be missing (the peer is asked up to infinity).
        end: u64,
    },
    /// The peer asked us to resend `begin..=end` (`end` already resolved: never 0 / 999999).
    ResendRequested {
        /// First number.
        begin: u64,
        /// Last number.
        end: u64,
    },
    /// A SequenceReset moved the expected incoming number.
    SequenceReset {
        /// The new expected number.
        new_seq_no: u64,
        /// GapFill mode (`123=Y`).
        gap_fill: bool,
    },
    /// Bytes were dropped by the framer (bad checksum, bad BodyLength, garbage).
    Garbled(FrameError),
    /// A message was ignored (duplicate with PossDup, bad header, wrong state): why, for logging.
    Ignored(&'static str),
    /// Something the operator should know (logon refused, timeout, ...).
    Warning(&'static str),
}

/// The session's environment, implemented by the engine (and by the test harness).
///
/// # Contract
/// * Every method is called synchronously from inside a session call; none may call back into the
///   session (the session is not reentrant). An application that wants to reply to an
///   [`Event::AppMessage`] records the reply and sends it through the session after the call
///   returns; [`crate::InputStatus::yielded`] tells when to do so, so replies keep their order.
/// * `persist_outbound` is called with the complete encoded application message **before** the same
///   bytes are passed to `send`. Admin messages are not journaled: a resend gap-fills them.
/// * `next_sender_seq_changed` / `next_target_seq_changed` report the numbers to store. An
///   incoming number is reported after the message was processed (and its event raised), so a
///   crash makes the peer resend rather than lose it.
/// * `read_outbound(begin, end, f)` calls `f(seq, bytes)` for every journaled message with
///   `begin <= seq <= end`, in ascending order, with the bytes given to `persist_outbound`.
pub trait SessionIo {
    /// Bytes for the wire. A transport that cannot take them all must buffer them (bounded) or
    /// close the connection; the session assumes they are sent in order.
    fn send(&mut self, bytes: &[u8]);
    /// Whether the transport can take another application message now. When false,
    /// [`crate::Session::send_app`] returns [`crate::SendError::BackPressure`] without consuming a
    /// sequence number. Admin messages are always sent (the transport must buffer them, bounded).
    fn can_send(&self) -> bool {
        true
    }
    /// Close the transport (gracefully: flush what was sent, then FIN).
    fn close(&mut self);
    /// Journal an outgoing application message before it is sent.
    fn persist_outbound(&mut self, seq: u64, bytes: &[u8]);
    /// The next outgoing number changed.
    fn next_sender_seq_changed(&mut self, next: u64);
    /// The next expected incoming number changed.
    fn next_target_seq_changed(&mut self, next: u64);
    /// Read journaled messages for a resend.
    fn read_outbound(&mut self, begin: u64, end: u64, f: &mut dyn FnMut(u64, &[u8]));
    /// Both numbers went back to 1: drop the journal.
    fn reset_store(&mut self);
    /// Something happened.
    fn event(&mut self, event: Event<'_>);
    /// A complete frame was taken from the input, before it is validated or processed (for
    /// message logs: every received message, including those the session then rejects or
    /// ignores, and out-of-order ones once, when they arrive). Must not call back into the
    /// session. Does nothing by default.
    fn received(&mut self, frame: &[u8]) {
        let _ = frame;
    }
}

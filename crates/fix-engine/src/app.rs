//! The application interface: callbacks from the engine, and replies from inside them.
//!
//! # Threading contract
//! Every callback except [`Application::on_unregistered_acceptor`] runs **on the I/O thread** that
//! owns the session, in the middle of its event loop. A callback must not block (no locks that
//! other threads hold for long, no disk, no network, no sleeping, no waiting on another session
//! of the same thread): while it runs, every session of that I/O thread is stalled. Hand heavy
//! work to your own threads and send results back with [`SessionHandle::send`].
//!
//! The session is not reentrant: a reply to an application message goes through the
//! [`Replies`] passed to [`Application::on_message`]; the engine sends it right after the
//! callback returns, before the next received message is processed, so replies keep their order.
//! [`SessionHandle::send`] also works from a callback, but queues behind the thread's commands.

use std::net::SocketAddr;
use std::ops::Range;

use fix_codec::{EncodeBuffer, Encoder, MessageRef};
pub use fix_session::MAX_HEADER_FIELDS;
use fix_session::{RejectReason, SessionState};

use crate::error::EngineError;
use crate::handle::SessionHandle;

/// Most replies one callback may queue.
pub const MAX_REPLIES_PER_MESSAGE: usize = 256;
/// Most body bytes one callback may queue in replies.
pub const MAX_REPLY_BYTES: usize = 1 << 20;
/// Longest application `MsgType <35>` accepted.
pub const MAX_MSG_TYPE_LEN: usize = 16;

/// A session-level reject seen by the engine.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum RejectInfo<'a> {
    /// We sent a `Reject <3>`.
    Sent {
        /// `RefSeqNum <45>` (0 when the rejected message had none).
        ref_seq_num: u64,
        /// `SessionRejectReason <373>`.
        reason: RejectReason,
        /// `RefTagID <371>`.
        tag: Option<u32>,
    },
    /// The counterparty sent a `Reject <3>`.
    Received(MessageRef<'a>),
}

/// Transport-level events: the connect / connected / lost plumbing a reconnect loop builds on.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectionEvent<'a> {
    /// A TCP connection is attached to the session (initiator: connect completed; acceptor: the
    /// Logon was routed to it).
    Connected {
        /// The counterparty's address.
        peer: SocketAddr,
    },
    /// An initiator's TCP connect failed or timed out.
    ConnectFailed {
        /// Where it tried to connect.
        addr: SocketAddr,
        /// Why.
        error: &'a std::io::Error,
    },
    /// The connection is gone (closed by either side, an I/O error, or a slow consumer).
    Lost {
        /// Why, for logs.
        reason: &'a str,
    },
    /// The reconnection loop scheduled a connection attempt (state `RECONNECT`, or
    /// `SWITCH_CONNECTION` when it moves to another endpoint); it starts after `delay`.
    Reconnecting {
        /// Endpoint index: 0 is the primary, 1.. the backups.
        endpoint: usize,
        /// Where it will connect.
        addr: SocketAddr,
        /// Attempts in this outage, this one included.
        attempt: u32,
        /// Pause before the attempt (the endpoint's `ReconnectInterval`).
        delay: std::time::Duration,
    },
    /// The reconnection loop gave up (tries spent on every endpoint it may use, or
    /// `MaxConnectAttempts` reached): the session ends `NON_GRACEFULLY_TERMINATED`.
    GaveUp {
        /// Attempts made in this outage.
        attempts: u32,
    },
}

/// The Logon of a counterparty that matches no session (see
/// [`Application::on_unregistered_acceptor`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UnregisteredLogon {
    /// `BeginString <8>`.
    pub begin_string: String,
    /// The counterparty's `SenderCompID <49>` (the new session's TargetCompID).
    pub sender_comp_id: String,
    /// The counterparty's `TargetCompID <56>` (the new session's SenderCompID).
    pub target_comp_id: String,
    /// Where the connection comes from.
    pub peer: Option<SocketAddr>,
    /// The name the session will get.
    pub session_name: String,
    /// The complete Logon frame.
    pub logon: Vec<u8>,
}

/// The application's side of the engine. Object safe; `Send + Sync` because callbacks arrive on
/// I/O threads (see the [module documentation](self) for the threading contract: **callbacks
/// must not block**). Every method has a default that does nothing, so an application overrides
/// only what it needs.
pub trait Application: Send + Sync {
    /// Every state transition (`onNewStateEvent`); the only event when the counterparty drops
    /// TCP without a Logout.
    fn on_state_change(&self, session: &SessionHandle, from: SessionState, to: SessionState) {
        let _ = (session, from, to);
    }
    /// The Logon exchange completed; `reset` when it reset both sequence numbers.
    fn on_logon(&self, session: &SessionHandle, reset: bool) {
        let _ = (session, reset);
    }
    /// The counterparty sent a Logout; `text` is its `Text <58>`.
    fn on_logout(&self, session: &SessionHandle, text: &[u8]) {
        let _ = (session, text);
    }
    /// A validated, in-sequence application message. `msg` borrows the read buffer: copy what
    /// must outlive the call. Queue answers on `replies`.
    fn on_message(&self, session: &SessionHandle, msg: MessageRef<'_>, replies: &mut Replies<'_>) {
        let _ = (session, msg, replies);
    }
    /// A validated admin message the session consumed (Heartbeat, TestRequest, ...).
    fn on_admin_message(&self, session: &SessionHandle, msg: MessageRef<'_>) {
        let _ = (session, msg);
    }
    /// A session-level reject was sent or received.
    fn on_reject(&self, session: &SessionHandle, reject: RejectInfo<'_>) {
        let _ = (session, reject);
    }
    /// A received `MsgSeqNum <34>` was higher than expected; a ResendRequest went out.
    fn on_sequence_gap(&self, session: &SessionHandle, expected: u64, received: u64) {
        let _ = (session, expected, received);
    }
    /// Called with every complete outgoing message (admin and application) just before it is
    /// written to the socket. Observe only (logging, auditing): it cannot change the bytes.
    fn on_before_send(&self, session: &SessionHandle, msg: &[u8]) {
        let _ = (session, msg);
    }
    /// Transport events (connected, connect failed, lost).
    fn on_connection_event(&self, session: &SessionHandle, event: ConnectionEvent<'_>) {
        let _ = (session, event);
    }
    /// Something an operator should know (a timeout, a refused Logon, a slow consumer, ...).
    fn on_warning(&self, session: &SessionHandle, text: &str) {
        let _ = (session, text);
    }
    /// A Logon arrived for CompIDs that match no session and `UnregisteredAcceptor.CreateSession`
    /// is on: return `false` to refuse it (the connection is closed). Runs on a **worker thread**
    /// (`fix-worker-N`), never on an I/O thread, so it may take its time; it is not called again
    /// for the same identity until that session is released. Default: accept.
    fn on_unregistered_acceptor(&self, logon: &UnregisteredLogon) -> bool {
        let _ = logon;
        true
    }
    /// Acceptors: checks the `Username <553>` / `Password <554>` of a received Logon, after the
    /// session's configured `Username` / `Password` (when set) matched. `Err(text)` refuses the
    /// Logon: the session answers with a Logout carrying `text` and closes the connection. Runs on
    /// the I/O thread before the Logon is answered: **must not block**. Default: accept.
    fn on_logon_credentials(
        &self,
        session: &SessionHandle,
        username: Option<&[u8]>,
        password: Option<&[u8]>,
    ) -> Result<(), String> {
        let _ = (session, username, password);
        Ok(())
    }
}

/// An application that does nothing (every default).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoApplication;

impl Application for NoApplication {}

#[derive(Debug, Clone)]
enum ReplyEntry {
    Send {
        msg_type: Range<usize>,
        /// Extra header fields, `tag=value SOH` each.
        header: Range<usize>,
        body: Range<usize>,
    },
    Reject {
        reason: Option<RejectReason>,
        tag: Option<u32>,
        text: Option<Range<usize>>,
        msg: Range<usize>,
    },
}

/// Replies queued by callbacks, kept per session so their buffers are reused (no allocation once
/// warmed up).
#[derive(Debug, Default)]
pub(crate) struct ReplyQueue {
    /// The replies' bytes, bodies encoded in place (no copy from an encoder's buffer).
    arena: EncodeBuffer,
    entries: Vec<ReplyEntry>,
}

/// One queued reply, borrowed from a [`ReplyQueue`].
pub(crate) enum Reply<'a> {
    Send {
        msg_type: &'a [u8],
        /// Extra header fields, `tag=value SOH` each (see [`header_fields`]).
        header: &'a [u8],
        body: &'a [u8],
    },
    Reject {
        reason: Option<RejectReason>,
        tag: Option<u32>,
        text: Option<&'a str>,
        msg: &'a [u8],
    },
}

impl ReplyQueue {
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.arena.truncate_staged(0);
        self.entries.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn get(&self, i: usize) -> Option<Reply<'_>> {
        let a = self.arena.staged();
        Some(match self.entries.get(i)? {
            ReplyEntry::Send {
                msg_type,
                header,
                body,
            } => Reply::Send {
                msg_type: &a[msg_type.clone()],
                header: &a[header.clone()],
                body: &a[body.clone()],
            },
            ReplyEntry::Reject {
                reason,
                tag,
                text,
                msg,
            } => Reply::Reject {
                reason: *reason,
                tag: *tag,
                text: text.clone().and_then(|r| std::str::from_utf8(&a[r]).ok()),
                msg: &a[msg.clone()],
            },
        })
    }

    fn push_bytes(&mut self, b: &[u8]) -> Range<usize> {
        let start = self.arena.staged().len();
        self.arena.stage(b);
        start..self.arena.staged().len()
    }

    fn room(&self, extra: usize) -> Result<(), EngineError> {
        if self.entries.len() >= MAX_REPLIES_PER_MESSAGE
            || self.arena.staged().len().saturating_add(extra) > MAX_REPLY_BYTES
        {
            return Err(EngineError::Backpressure);
        }
        Ok(())
    }
}

/// Checks an application `MsgType <35>` the way the session will, so the error surfaces where the
/// caller can see it.
pub(crate) fn check_msg_type(msg_type: &[u8]) -> Result<(), EngineError> {
    let admin = matches!(msg_type, b"0" | b"1" | b"2" | b"3" | b"4" | b"5" | b"A");
    if msg_type.is_empty()
        || msg_type.len() > MAX_MSG_TYPE_LEN
        || admin
        || msg_type
            .iter()
            .any(|&b| b == fix_codec::SOH || b == b'=' || b < b' ')
    {
        return Err(EngineError::InvalidMsgType);
    }
    Ok(())
}

/// Checks extra header fields for [`Replies::send_with_header`]: the session writes them verbatim
/// as `tag=value`, so a zero tag, an empty value or a SOH inside one would garble the message.
pub(crate) fn check_header_fields(header: &[(u32, &[u8])]) -> Result<(), EngineError> {
    if header.len() > MAX_HEADER_FIELDS {
        return Err(EngineError::InvalidHeaderField { tag: None });
    }
    for &(tag, value) in header {
        if tag == 0 || value.is_empty() || value.contains(&fix_codec::SOH) {
            return Err(EngineError::InvalidHeaderField { tag: Some(tag) });
        }
    }
    Ok(())
}

/// Reads back header fields stored by [`Replies::send_with_header`] (`tag=value SOH` each) into
/// `out`, without allocating; returns how many.
pub(crate) fn header_fields<'a>(
    stored: &'a [u8],
    out: &mut [(u32, &'a [u8]); MAX_HEADER_FIELDS],
) -> usize {
    let mut n = 0;
    for f in fix_codec::FieldIter::new(stored).map_while(Result::ok) {
        if n == out.len() {
            break;
        }
        out[n] = (f.tag, f.value);
        n += 1;
    }
    n
}

/// Where a callback queues its answers to the message being delivered.
pub struct Replies<'a> {
    pub(crate) queue: &'a mut ReplyQueue,
    pub(crate) msg: &'a [u8],
}

impl std::fmt::Debug for Replies<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replies")
            .field("queued", &self.queue.len())
            .finish()
    }
}

impl Replies<'_> {
    /// Queues an application message: `body` writes the body fields in wire order; the session
    /// adds the header and trailer when it sends it, right after the callback returns.
    ///
    /// # Errors
    /// [`EngineError::InvalidMsgType`], or [`EngineError::Backpressure`] beyond
    /// [`MAX_REPLIES_PER_MESSAGE`] replies or [`MAX_REPLY_BYTES`] bytes for one message.
    pub fn send(
        &mut self,
        msg_type: &[u8],
        body: impl FnOnce(&mut Encoder<'_>),
    ) -> Result<(), EngineError> {
        self.send_with_header(msg_type, &[], body)
    }

    /// [`Replies::send`] with extra standard-header fields (`PossResend <97>`, routing
    /// `OnBehalfOfCompID <115>` / `DeliverToCompID <128>`, ...): the session merges them into the
    /// header in ascending tag order. Fields the session writes itself (`8`, `9`, `35`, `34`,
    /// `43`, `49`, `52`, `56`, `122`, `10`) are ignored.
    ///
    /// # Errors
    /// As [`Replies::send`], and [`EngineError::InvalidHeaderField`] for a zero tag, an empty
    /// value, a value containing SOH, or more than [`MAX_HEADER_FIELDS`] fields.
    pub fn send_with_header(
        &mut self,
        msg_type: &[u8],
        header: &[(u32, &[u8])],
        body: impl FnOnce(&mut Encoder<'_>),
    ) -> Result<(), EngineError> {
        check_msg_type(msg_type)?;
        check_header_fields(header)?;
        let header_len: usize = header.iter().map(|(_, v)| v.len() + 12).sum();
        self.queue.room(msg_type.len() + header_len)?;
        let q = &mut *self.queue;
        let mt = q.push_bytes(msg_type);
        let hstart = q.arena.staged().len();
        for &(tag, value) in header {
            q.arena.appender().field(tag, value);
        }
        let hdr = hstart..q.arena.staged().len();
        let start = q.arena.staged().len();
        body(&mut q.arena.appender());
        let end = q.arena.staged().len();
        if end > MAX_REPLY_BYTES {
            q.arena.truncate_staged(mt.start);
            return Err(EngineError::MessageTooLarge {
                len: end - start,
                max: MAX_REPLY_BYTES,
            });
        }
        let body = start..end;
        q.entries.push(ReplyEntry::Send {
            msg_type: mt,
            header: hdr,
            body,
        });
        Ok(())
    }

    /// Queues a session-level `Reject <3>` of the message being delivered (for example
    /// "Unsupported message type" on FIX 4.0/4.1). `text` replaces the reason's own text.
    ///
    /// # Errors
    /// [`EngineError::Backpressure`] beyond the reply bounds.
    pub fn reject(
        &mut self,
        reason: Option<RejectReason>,
        tag: Option<u32>,
        text: Option<&str>,
    ) -> Result<(), EngineError> {
        let extra = self.msg.len() + text.map_or(0, str::len);
        self.queue.room(extra)?;
        let msg = self.queue.push_bytes(self.msg);
        let text = text.map(|t| self.queue.push_bytes(t.as_bytes()));
        self.queue.entries.push(ReplyEntry::Reject {
            reason,
            tag,
            text,
            msg,
        });
        Ok(())
    }

    /// Replies queued so far for this message.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_bounded_and_keep_order() {
        let mut q = ReplyQueue::default();
        let msg = b"8=FIX.4.4\x019=5\x0135=D\x0110=000\x01";
        let mut r = Replies { queue: &mut q, msg };
        r.send(b"8", |e| {
            e.field(17, b"E1");
        })
        .unwrap();
        r.reject(None, Some(55), Some("no")).unwrap();
        assert!(matches!(
            r.send(b"0", |_| {}),
            Err(EngineError::InvalidMsgType)
        ));
        assert!(matches!(
            r.send(b"", |_| {}),
            Err(EngineError::InvalidMsgType)
        ));
        assert_eq!(r.len(), 2);
        match q.get(0) {
            Some(Reply::Send {
                msg_type,
                header,
                body,
            }) => {
                assert_eq!(msg_type, b"8");
                assert!(header.is_empty());
                assert_eq!(body, b"17=E1\x01");
            }
            _ => panic!("first reply is not a send"),
        }
        match q.get(1) {
            Some(Reply::Reject {
                tag, text, msg: m, ..
            }) => {
                assert_eq!(tag, Some(55));
                assert_eq!(text, Some("no"));
                assert_eq!(m, msg);
            }
            _ => panic!("second reply is not a reject"),
        }
        let mut r = Replies { queue: &mut q, msg };
        for _ in 2..MAX_REPLIES_PER_MESSAGE {
            r.send(b"8", |_| {}).unwrap();
        }
        assert!(matches!(
            r.send(b"8", |_| {}),
            Err(EngineError::Backpressure)
        ));
        q.clear();
        assert!(q.is_empty());
    }

    #[test]
    fn header_fields_round_trip_and_are_checked() {
        let mut q = ReplyQueue::default();
        let msg = b"8=FIX.4.4\x019=5\x0135=D\x0110=000\x01";
        let mut r = Replies { queue: &mut q, msg };
        r.send_with_header(b"D", &[(97, b"Y"), (128, b"DEST")], |e| {
            e.field(11, b"id");
        })
        .unwrap();
        for bad in [
            &[(0u32, &b"x"[..])][..],
            &[(97, &b""[..])][..],
            &[(97, &b"Y\x01"[..])][..],
        ] {
            assert!(matches!(
                r.send_with_header(b"D", bad, |_| {}),
                Err(EngineError::InvalidHeaderField { .. })
            ));
        }
        let many = [(97u32, &b"Y"[..]); MAX_HEADER_FIELDS + 1];
        assert!(matches!(
            r.send_with_header(b"D", &many, |_| {}),
            Err(EngineError::InvalidHeaderField { tag: None })
        ));
        assert_eq!(r.len(), 1);
        let Some(Reply::Send { header, body, .. }) = q.get(0) else {
            panic!("not a send");
        };
        assert_eq!(header, b"97=Y\x01128=DEST\x01");
        assert_eq!(body, b"11=id\x01");
        let mut fields = [(0u32, &b""[..]); MAX_HEADER_FIELDS];
        let n = header_fields(header, &mut fields);
        assert_eq!(&fields[..n], &[(97, &b"Y"[..]), (128, &b"DEST"[..])]);
        // Header tags are written by the encoder, the largest one too.
        let mut b = EncodeBuffer::default();
        b.appender().field(u32::MAX, b"x");
        assert_eq!(b.staged(), b"4294967295=x\x01");
    }
}

//! The engine's [`SessionIo`]: writes to the connection's socket (with a bounded outbound
//! buffer), journals to the session's store, and turns session events into application callbacks.

use std::io::{ErrorKind, Write};
use std::net::Shutdown;
use std::sync::atomic::Ordering;
use std::time::Instant;

use fix_session::{Event, SessionIo, SessionState};
use fix_store::SessionStore;
use mio::net::TcpStream;

use crate::app::{Application, RejectInfo, Replies, ReplyQueue};
use crate::clock::unix_nanos;
use crate::handle::SessionHandle;
use crate::message_log::Direction;

/// Most bytes kept for a connection whose socket does not take them; beyond it the counterparty
/// is a slow consumer and the connection is closed.
pub const MAX_OUTBOUND_BUFFER: usize = 8 << 20;
/// Pending outbound bytes from which a session cannot send more application messages
/// (`SessionIo::can_send` is false: `SendError::BackPressure`) and a paced resend waits: half the
/// slow-consumer limit, so admin messages and the held output of a replay still fit below it.
pub const OUTBOUND_WATERMARK: usize = MAX_OUTBOUND_BUFFER / 2;
/// Pending outbound bytes from which `SessionHandle::send` refuses with `Backpressure`: half of
/// [`OUTBOUND_WATERMARK`], leaving room for sends already accepted and on their way to the I/O
/// thread (at most `MAX_SEND_BUFFERS` of them).
pub const SEND_WATERMARK: usize = OUTBOUND_WATERMARK / 2;
/// Pending bytes at which a connection's outbound buffer is written without waiting for the end
/// of the I/O thread's loop iteration.
pub const WRITE_BATCH: usize = 64 << 10;

/// The writing side of a connection.
#[derive(Debug)]
pub(crate) struct Outbound {
    pub stream: TcpStream,
    /// Bytes not yet taken by the socket, from `wpos`.
    pub wbuf: Vec<u8>,
    pub wpos: usize,
    /// Set when a write failed or the buffer overflowed: the connection must go.
    pub failed: Option<&'static str>,
}

impl Outbound {
    pub(crate) fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            wbuf: Vec::new(),
            wpos: 0,
            failed: None,
        }
    }

    pub(crate) fn pending(&self) -> usize {
        self.wbuf.len() - self.wpos
    }

    /// Queues `bytes` after anything already pending. The I/O thread flushes a connection once
    /// it has served one read, its timers or a drain of API commands, so a command drain, a
    /// resend or a burst of replies costs one `write` instead of one per message; a burst past
    /// [`WRITE_BATCH`] is written right away so the buffer stays small while the socket takes it.
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if self.pending() + bytes.len() > MAX_OUTBOUND_BUFFER {
            self.flush();
            if self.failed.is_some() {
                return;
            }
            if self.pending() + bytes.len() > MAX_OUTBOUND_BUFFER {
                self.failed = Some("slow consumer: outbound buffer full");
                return;
            }
        }
        if self.wpos > 0 && self.wpos >= self.wbuf.len() / 2 {
            // Reclaims the sent prefix so a socket that never quite drains cannot grow the
            // buffer past twice its pending bytes.
            self.wbuf.drain(..self.wpos);
            self.wpos = 0;
        }
        self.wbuf.extend_from_slice(bytes);
        if self.pending() >= WRITE_BATCH {
            self.flush();
        }
    }

    /// Writes pending bytes; returns whether everything went out.
    pub(crate) fn flush(&mut self) -> bool {
        while self.wpos < self.wbuf.len() {
            match self.stream.write(&self.wbuf[self.wpos..]) {
                Ok(0) => {
                    self.failed = Some("socket write returned 0");
                    return false;
                }
                Ok(n) => self.wpos += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
                Err(_) => {
                    self.failed = Some("socket write failed");
                    return false;
                }
            }
        }
        self.wbuf.clear();
        self.wpos = 0;
        true
    }

    pub(crate) fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// What happened during one session call that the I/O thread must act on afterwards.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Outcome {
    /// The session asked to close the transport.
    pub close: bool,
    /// Application messages delivered.
    pub app_messages: u32,
    /// The state changed.
    pub state_changed: bool,
    /// The counterparty sent a Logout (a rejected Logon, or a graceful logout).
    pub logout_received: bool,
    /// An incoming number to store once the application's replies are journaled and sent.
    pub deferred_next_target: Option<u64>,
}

/// The [`SessionIo`] for one call into a session.
pub(crate) struct IoCtx<'a> {
    pub out: Option<&'a mut Outbound>,
    pub store: &'a mut dyn SessionStore,
    pub app: &'a dyn Application,
    pub handle: &'a SessionHandle,
    pub replies: &'a mut ReplyQueue,
    pub outcome: Outcome,
    /// Send-to-wire measurement for an API send in progress.
    pub sent_at: Option<Instant>,
}

impl IoCtx<'_> {
    fn store_error(&self, what: &str, e: &fix_store::StoreError) {
        tracing::error!(session = %self.handle.name(), error = %e, "{what}");
        self.app.on_warning(self.handle, "storage write failed");
    }
}

impl SessionIo for IoCtx<'_> {
    fn send(&mut self, bytes: &[u8]) {
        self.app.on_before_send(self.handle, bytes);
        if let Some(out) = self.out.as_deref_mut() {
            out.write(bytes);
            if let Some(log) = &self.handle.shared.message_log {
                log.record(Direction::Out, bytes);
            }
        }
    }

    fn can_send(&self) -> bool {
        // No transport: the session is not established and refuses the send itself.
        self.out
            .as_ref()
            .is_none_or(|o| o.failed.is_none() && o.pending() < OUTBOUND_WATERMARK)
    }

    fn received(&mut self, frame: &[u8]) {
        if let Some(log) = &self.handle.shared.message_log {
            log.record(Direction::In, frame);
        }
    }

    fn close(&mut self) {
        self.outcome.close = true;
    }

    fn persist_outbound(&mut self, seq: u64, bytes: &[u8]) {
        if let Err(e) = self.store.append_outbound(seq, bytes) {
            self.store_error("journal append failed", &e);
        }
        if self.store.take_segment_request()
            && let Some(prep) = &self.handle.shared.segment_prep
        {
            prep.request();
        }
    }

    fn next_sender_seq_changed(&mut self, next: u64) {
        if self.store.next_outgoing() != next
            && let Err(e) = self.store.set_next_outgoing(next)
        {
            self.store_error("storing the outgoing sequence number failed", &e);
        }
        self.handle
            .shared
            .next_sender
            .store(next, std::sync::atomic::Ordering::Release);
    }

    fn next_target_seq_changed(&mut self, next: u64) {
        if !self.replies.is_empty() {
            // The application answered this message: committing its number now and crashing
            // before the answer is journaled would lose the answer for good. Committed by
            // `IoThread::after_call` once the replies went out; a crash in between makes the
            // peer resend the message instead (found by the crash test, docs/RELIABILITY.md).
            self.outcome.deferred_next_target = Some(next);
            self.handle
                .shared
                .next_target
                .store(next, std::sync::atomic::Ordering::Release);
            return;
        }
        if let Err(e) = self.store.set_next_incoming(next) {
            self.store_error("storing the incoming sequence number failed", &e);
        }
        self.handle
            .shared
            .next_target
            .store(next, std::sync::atomic::Ordering::Release);
    }

    fn read_outbound(&mut self, begin: u64, end: u64, f: &mut dyn FnMut(u64, &[u8])) {
        if let Err(e) = self.store.read_outbound(begin, end, f) {
            self.store_error("journal read failed", &e);
        }
    }

    fn reset_store(&mut self) {
        if let Err(e) = self.store.reset(unix_nanos()) {
            self.store_error("store reset failed", &e);
        }
    }

    fn event(&mut self, event: Event<'_>) {
        let h = self.handle;
        match event {
            Event::StateChanged { from, to } => {
                self.outcome.state_changed = true;
                tracing::info!(session = %h.name(), %from, %to, "state");
                if to.is_terminated() {
                    let _ = self
                        .store
                        .set_correctly_terminated(to == SessionState::CorrectlyTerminated);
                }
                // A reconnection loop publishes the end itself, once it stops trying.
                if !(to.is_terminated() && h.shared.hold_terminal.load(Ordering::Relaxed)) {
                    h.shared.publish_state(to);
                }
                self.app.on_state_change(h, from, to);
            }
            Event::LoggedOn { reset } => {
                tracing::info!(session = %h.name(), reset, "logged on");
                self.app.on_logon(h, reset);
            }
            Event::LoggedOut { text } => {
                self.outcome.logout_received = true;
                tracing::info!(session = %h.name(), text = %String::from_utf8_lossy(text), "logout received");
                self.app.on_logout(h, text);
            }
            Event::AppMessage(m) => {
                self.outcome.app_messages += 1;
                let mut replies = Replies {
                    queue: self.replies,
                    msg: m.as_bytes(),
                };
                self.app.on_message(h, m, &mut replies);
            }
            Event::AdminMessage(m) => self.app.on_admin_message(h, m),
            Event::RejectSent {
                ref_seq_num,
                reason,
                tag,
            } => self.app.on_reject(
                h,
                RejectInfo::Sent {
                    ref_seq_num,
                    reason,
                    tag,
                },
            ),
            Event::RejectReceived(m) => self.app.on_reject(h, RejectInfo::Received(m)),
            Event::SequenceGap { expected, received } => {
                self.app.on_sequence_gap(h, expected, received)
            }
            Event::Garbled(e) => tracing::debug!(session = %h.name(), error = %e, "garbled input"),
            Event::Ignored(why) => tracing::debug!(session = %h.name(), why, "ignored message"),
            Event::Warning(why) => {
                tracing::warn!(session = %h.name(), why, "session warning");
                self.app.on_warning(h, why);
            }
            _ => {}
        }
    }
}

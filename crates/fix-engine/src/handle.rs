//! [`SessionHandle`]: the application's grip on one session, usable from any thread.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use fix_codec::{EncodeBuffer, Encoder};
use fix_session::SessionState;
use parking_lot::{Condvar, Mutex};

use crate::app::{check_header_fields, check_msg_type};
use crate::config::{Role, SessionSettings};
use crate::error::EngineError;
use crate::io_thread::{Command, ConnectPhase, OutMsg, ThreadRef};
use crate::stats::StatsSnapshot;

/// Most send buffers one session can have in flight (queued to its I/O thread); beyond that
/// [`SessionHandle::send`] returns [`EngineError::Backpressure`].
pub const MAX_SEND_BUFFERS: usize = 1024;
/// Largest body [`SessionHandle::send`] accepts.
pub const MAX_SEND_BODY: usize = 1 << 20;
/// How long [`SessionHandle::release`] and [`SessionHandle::stats`] wait for the I/O thread.
pub const API_REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Both ends of a session's send-buffer free list.
type BufferPool = (Sender<EncodeBuffer>, Receiver<EncodeBuffer>);

/// State shared between a session's handles and its I/O thread.
pub(crate) struct SessionShared {
    pub id: u64,
    pub name: String,
    pub identity: String,
    pub settings: Arc<SessionSettings>,
    pub thread: Arc<ThreadRef>,
    pub state: AtomicU8,
    pub next_sender: AtomicU64,
    pub next_target: AtomicU64,
    pub released: AtomicBool,
    pub dropped_sends: AtomicU64,
    /// Set by the I/O thread while the connection's outbound buffer is past
    /// `store_io::SEND_WATERMARK` or a paced resend is in progress: `send` refuses with
    /// `Backpressure` instead of accepting a message the session would have to refuse.
    pub congested: AtomicBool,
    /// Created for an unregistered counterparty (counts against `UnregisteredAcceptor.MaxSessions`).
    pub unregistered: bool,
    /// Name of the thread that created the session and opened its store.
    pub created_on: String,
    /// Set by the I/O thread while a reconnection loop runs: the terminated state of a failed
    /// attempt is not published (waiters would take it for the end), only the loop's outcome.
    pub hold_terminal: AtomicBool,
    /// Endpoint of the current or last connection (0 = primary), written by the I/O thread.
    pub endpoint: AtomicUsize,
    /// The session's message log (`MessageLog`), written to by its I/O thread.
    pub message_log: Option<crate::message_log::SessionLog>,
    /// Where this acceptor can be reached (its own listener, or the engine-wide one).
    pub listen_addr: Option<std::net::SocketAddr>,
    /// Where the I/O thread asks for the store's next journal segment to be created ahead of
    /// need (persistent stores only).
    pub segment_prep: Option<crate::worker::SegmentPrep>,
    state_lock: Mutex<()>,
    state_cv: Condvar,
    /// The free list of send buffers, created on first use: its bounded queue preallocates
    /// `MAX_SEND_BUFFERS` slots (about 32 KiB), which a session that never sends should not pay.
    pool: OnceLock<BufferPool>,
    pool_allocated: AtomicUsize,
}

impl std::fmt::Debug for SessionShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("name", &self.name)
            .field("identity", &self.identity)
            .field("state", &self.load_state())
            .finish_non_exhaustive()
    }
}

impl SessionShared {
    pub(crate) fn new(
        id: u64,
        settings: Arc<SessionSettings>,
        identity: String,
        thread: Arc<ThreadRef>,
        next_sender: u64,
        next_target: u64,
    ) -> Self {
        Self {
            id,
            name: settings.name.clone(),
            identity,
            settings,
            thread,
            state: AtomicU8::new(SessionState::Initial.value()),
            next_sender: AtomicU64::new(next_sender),
            next_target: AtomicU64::new(next_target),
            released: AtomicBool::new(false),
            dropped_sends: AtomicU64::new(0),
            congested: AtomicBool::new(false),
            unregistered: false,
            created_on: std::thread::current().name().unwrap_or("").to_owned(),
            hold_terminal: AtomicBool::new(false),
            endpoint: AtomicUsize::new(0),
            message_log: None,
            listen_addr: None,
            segment_prep: None,
            state_lock: Mutex::new(()),
            state_cv: Condvar::new(),
            pool: OnceLock::new(),
            pool_allocated: AtomicUsize::new(0),
        }
    }

    pub(crate) fn load_state(&self) -> SessionState {
        SessionState::from_value(self.state.load(Ordering::Acquire))
            .unwrap_or(SessionState::Initial)
    }

    /// Publishes a state and wakes waiters. State changes are rare, so the lock is off the hot
    /// path; it only closes the window between a waiter's check and its sleep.
    pub(crate) fn publish_state(&self, s: SessionState) {
        self.state.store(s.value(), Ordering::Release);
        let _g = self.state_lock.lock();
        self.state_cv.notify_all();
    }

    pub(crate) fn mark_released(&self) {
        self.released.store(true, Ordering::Release);
        let _g = self.state_lock.lock();
        self.state_cv.notify_all();
    }

    /// Gives a send buffer back to the session's free list.
    pub(crate) fn recycle(&self, buf: EncodeBuffer) {
        // The free list holds at most as many buffers as were ever allocated, so it is never full.
        let _ = self.pool().0.try_send(buf);
    }

    fn pool(&self) -> &BufferPool {
        self.pool
            .get_or_init(|| crossbeam_channel::bounded(MAX_SEND_BUFFERS))
    }

    fn prewarm(&self, n: usize, capacity: usize) -> usize {
        let mut added = 0;
        while added < n {
            let k = self.pool_allocated.fetch_add(1, Ordering::AcqRel);
            if k >= MAX_SEND_BUFFERS {
                self.pool_allocated.fetch_sub(1, Ordering::AcqRel);
                break;
            }
            let _ = self
                .pool()
                .0
                .try_send(EncodeBuffer::with_capacity(capacity));
            added += 1;
        }
        added
    }

    fn take_buffer(&self) -> Result<EncodeBuffer, EngineError> {
        if let Ok(b) = self.pool().1.try_recv() {
            return Ok(b);
        }
        // Warm-up: allocate until the bound; afterwards buffers only circulate.
        let n = self.pool_allocated.fetch_add(1, Ordering::AcqRel);
        if n >= MAX_SEND_BUFFERS {
            self.pool_allocated.fetch_sub(1, Ordering::AcqRel);
            return Err(EngineError::Backpressure);
        }
        Ok(EncodeBuffer::with_capacity(256))
    }
}

/// A handle to one session: `Send + Sync + Clone`, usable from any thread.
///
/// Sending reaches the owning I/O thread through its bounded lock-free command queue and the
/// session's bounded pool of send buffers; when either is exhausted the call returns
/// [`EngineError::Backpressure`] instead of blocking. Once the pool is warm, sending allocates
/// nothing.
#[derive(Clone)]
pub struct SessionHandle {
    pub(crate) shared: Arc<SessionShared>,
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.shared.fmt(f)
    }
}

impl SessionHandle {
    /// The session's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }
    /// `BeginString-SenderCompID-TargetCompID`: the key of its storage.
    pub fn identity(&self) -> &str {
        &self.shared.identity
    }
    /// The settings it was created with.
    pub fn settings(&self) -> &SessionSettings {
        &self.shared.settings
    }
    /// Initiator or acceptor.
    pub fn role(&self) -> Role {
        self.shared.settings.role
    }
    /// The current state (as last published by the I/O thread).
    pub fn state(&self) -> SessionState {
        self.shared.load_state()
    }
    /// `MsgSeqNum <34>` of the next message this side sends.
    pub fn next_sender_seq(&self) -> u64 {
        self.shared.next_sender.load(Ordering::Acquire)
    }
    /// `MsgSeqNum <34>` expected next from the counterparty.
    pub fn next_target_seq(&self) -> u64 {
        self.shared.next_target.load(Ordering::Acquire)
    }
    /// Index of the owning I/O thread (`fix-io-N`).
    pub fn io_thread(&self) -> usize {
        self.shared.thread.index
    }
    /// Name of the thread that created the session and opened its store (`fix-worker-N` for
    /// unregistered acceptors; the caller's thread for [`crate::Engine::create_session`]).
    pub fn created_on(&self) -> &str {
        &self.shared.created_on
    }
    /// Initiators: the endpoint of the current (or last) connection attempt: 0 is the primary,
    /// 1.. the backups in configuration order (see `docs/CONFIG.md`, backup endpoints).
    pub fn endpoint(&self) -> usize {
        self.shared.endpoint.load(Ordering::Acquire)
    }
    /// The file this session's messages are logged to (`MessageLog`), if any.
    pub fn message_log_path(&self) -> Option<&std::path::Path> {
        self.shared.message_log.as_ref().map(|l| l.path())
    }
    /// Message log lines dropped for this session's file because the log writer fell behind
    /// (0 without a message log). Also in [`StatsSnapshot::message_log_dropped`].
    pub fn message_log_dropped(&self) -> u64 {
        self.shared.message_log.as_ref().map_or(0, |l| l.dropped())
    }
    /// Acceptors: the address a counterparty can connect to (the session's own listener, or the
    /// engine-wide `ListenPort` one), with the port the OS chose when the configured one is 0.
    pub fn listen_addr(&self) -> Option<std::net::SocketAddr> {
        self.shared.listen_addr
    }
    /// Whether the session was created for an unregistered counterparty.
    pub fn is_unregistered(&self) -> bool {
        self.shared.unregistered
    }
    /// Whether [`SessionHandle::release`] destroyed the session.
    pub fn is_released(&self) -> bool {
        self.shared.released.load(Ordering::Acquire)
    }
    /// Messages accepted by [`SessionHandle::send`], or queued by an application callback
    /// through `Replies`, that the session could not send after all (it left `ESTABLISHED`
    /// before the I/O thread got to them, or refused them for back-pressure; each refused
    /// reply also raises `Application::on_warning`).
    pub fn dropped_sends(&self) -> u64 {
        self.shared.dropped_sends.load(Ordering::Relaxed)
    }

    /// Pre-allocates up to `n` send buffers of `capacity` bytes (within [`MAX_SEND_BUFFERS`]), so
    /// that even the first bursts of [`SessionHandle::send`] allocate nothing. Returns how many
    /// were added. Otherwise the pool grows on demand to the largest number of messages in
    /// flight.
    pub fn prewarm_send_buffers(&self, n: usize, capacity: usize) -> usize {
        self.shared.prewarm(n, capacity)
    }

    fn live(&self) -> Result<(), EngineError> {
        if self.is_released() {
            return Err(EngineError::Released(self.shared.name.clone()));
        }
        Ok(())
    }

    fn command(&self, cmd: Command) -> Result<(), EngineError> {
        self.live()?;
        self.shared.thread.send(cmd).map_err(|(e, _)| e)
    }

    /// Sends an application message: `body` writes the body fields in wire order; the I/O thread
    /// adds the header (with the sequence number), journals it, and writes it to the socket.
    ///
    /// # Errors
    /// [`EngineError::NotLoggedOn`] unless `ESTABLISHED`, [`EngineError::InvalidMsgType`],
    /// [`EngineError::MessageTooLarge`], [`EngineError::Backpressure`] when the queue or the
    /// session's send buffers are exhausted, [`EngineError::Released`], [`EngineError::Stopped`].
    pub fn send(
        &self,
        msg_type: &[u8],
        body: impl FnOnce(&mut Encoder<'_>),
    ) -> Result<(), EngineError> {
        self.send_with_header(msg_type, &[], body)
    }

    /// [`SessionHandle::send`] with extra standard-header fields (`PossResend <97>`, routing
    /// `OnBehalfOfCompID <115>` / `DeliverToCompID <128>`, ...), the API-thread counterpart of
    /// [`crate::Replies::send_with_header`]: the I/O thread merges them into the header in
    /// ascending tag order; fields the session writes itself (`8`, `9`, `35`, `34`, `43`, `49`,
    /// `52`, `56`, `122`, `10`) are ignored. They are journaled with the message, so a resend of it
    /// carries them too. They travel in the same pooled buffer as the body: nothing more is
    /// allocated than for [`SessionHandle::send`].
    ///
    /// # Errors
    /// As [`SessionHandle::send`], and [`EngineError::InvalidHeaderField`] for a zero tag, an
    /// empty value, a value containing SOH, or more than [`crate::app::MAX_HEADER_FIELDS`] fields.
    pub fn send_with_header(
        &self,
        msg_type: &[u8],
        header: &[(u32, &[u8])],
        body: impl FnOnce(&mut Encoder<'_>),
    ) -> Result<(), EngineError> {
        self.live()?;
        let state = self.state();
        if state != SessionState::Established {
            return Err(EngineError::NotLoggedOn(state));
        }
        if self.shared.congested.load(Ordering::Acquire) {
            return Err(EngineError::Backpressure);
        }
        check_msg_type(msg_type)?;
        check_header_fields(header)?;
        let enqueued = Instant::now();
        let mut buf = self.shared.take_buffer()?;
        buf.truncate_staged(0);
        // `tag=value SOH` each, ahead of the body, encoded in place; the I/O thread splits at
        // `header_len`.
        for &(tag, value) in header {
            buf.appender().field(tag, value);
        }
        let header_len = buf.staged().len();
        body(&mut buf.appender());
        if buf.staged().len() > MAX_SEND_BODY {
            let len = buf.staged().len();
            self.shared.recycle(buf);
            return Err(EngineError::MessageTooLarge {
                len,
                max: MAX_SEND_BODY,
            });
        }
        let mut mt = [0u8; crate::app::MAX_MSG_TYPE_LEN];
        mt[..msg_type.len()].copy_from_slice(msg_type);
        let msg = OutMsg {
            msg_type: mt,
            msg_type_len: msg_type.len() as u8,
            // At most MAX_SEND_BODY (checked above), so it fits.
            header_len: header_len as u32,
            body: buf,
            enqueued,
        };
        match self.shared.thread.send(Command::Send {
            id: self.shared.id,
            msg,
        }) {
            Ok(()) => Ok(()),
            Err((e, Some(Command::Send { msg, .. }))) => {
                self.shared.recycle(msg.body);
                Err(e)
            }
            Err((e, _)) => Err(e),
        }
    }

    /// Graceful disconnect: `Logout <5>` with `Text <58>` = `reason`, wait (on the I/O thread) for
    /// the confirming Logout up to `LogoutTimeout`, then close. Returns once queued; use
    /// [`SessionHandle::wait_terminated`] (or [`SessionHandle::disconnect_and_wait`]) for the
    /// final state: `CORRECTLY_TERMINATED`, or `NON_GRACEFULLY_TERMINATED` without confirmation.
    ///
    /// # Errors
    /// [`EngineError::Backpressure`], [`EngineError::Released`], [`EngineError::Stopped`].
    pub fn disconnect(&self, reason: &str) -> Result<(), EngineError> {
        self.command(Command::Disconnect {
            id: self.shared.id,
            reason: reason.to_owned(),
        })
    }

    /// [`SessionHandle::disconnect`], then waits up to `timeout` for a terminated state.
    ///
    /// # Errors
    /// As [`SessionHandle::disconnect`], and [`EngineError::Timeout`].
    pub fn disconnect_and_wait(
        &self,
        reason: &str,
        timeout: Duration,
    ) -> Result<SessionState, EngineError> {
        self.disconnect(reason)?;
        self.wait_terminated(timeout)
    }

    /// Drops the TCP connection now, without Logout; the session ends in
    /// `NON_GRACEFULLY_TERMINATED`. Also stops an initiator's connection attempt.
    ///
    /// # Errors
    /// [`EngineError::Backpressure`], [`EngineError::Released`], [`EngineError::Stopped`].
    pub fn disconnect_non_gracefully(&self) -> Result<(), EngineError> {
        self.command(Command::DisconnectNow { id: self.shared.id })
    }

    /// Initiators: (re)connects to endpoint `endpoint` (0 = primary, 1.. = backups; `None` = the
    /// current one). Allowed when no connection is attached. `phase` chooses the state shown
    /// before the connect starts (`RECONNECT` / `SWITCH_CONNECTION` for a reconnect loop).
    ///
    /// # Errors
    /// [`EngineError::Backpressure`], [`EngineError::Released`], [`EngineError::Stopped`].
    pub fn connect(&self, endpoint: Option<usize>, phase: ConnectPhase) -> Result<(), EngineError> {
        self.command(Command::Connect {
            id: self.shared.id,
            endpoint,
            phase,
        })
    }

    /// Resets both sequence numbers to 1 (with a `141=Y` Logon when logged on).
    ///
    /// # Errors
    /// [`EngineError::Backpressure`], [`EngineError::Released`], [`EngineError::Stopped`].
    pub fn reset_seq_nums(&self) -> Result<(), EngineError> {
        self.command(Command::Reset { id: self.shared.id })
    }

    /// Waits until `pred(state)` holds, up to `timeout`; returns the state that satisfied it.
    ///
    /// # Errors
    /// [`EngineError::Timeout`] with the last state, [`EngineError::Released`].
    pub fn wait_for(
        &self,
        timeout: Duration,
        pred: impl Fn(SessionState) -> bool,
    ) -> Result<SessionState, EngineError> {
        let deadline = Instant::now() + timeout;
        let mut g = self.shared.state_lock.lock();
        loop {
            let s = self.state();
            if pred(s) {
                return Ok(s);
            }
            self.live()?;
            if self
                .shared
                .state_cv
                .wait_until(&mut g, deadline)
                .timed_out()
            {
                let s = self.state();
                return if pred(s) {
                    Ok(s)
                } else {
                    Err(EngineError::Timeout { timeout, state: s })
                };
            }
        }
    }

    /// Waits for `state`.
    ///
    /// # Errors
    /// As [`SessionHandle::wait_for`].
    pub fn wait_for_state(
        &self,
        state: SessionState,
        timeout: Duration,
    ) -> Result<SessionState, EngineError> {
        self.wait_for(timeout, |s| s == state)
    }

    /// Waits for `CORRECTLY_TERMINATED` or `NON_GRACEFULLY_TERMINATED`.
    ///
    /// # Errors
    /// As [`SessionHandle::wait_for`].
    pub fn wait_terminated(&self, timeout: Duration) -> Result<SessionState, EngineError> {
        self.wait_for(timeout, SessionState::is_terminated)
    }

    /// Destroys the session and frees its resources (socket, buffers, store handle); its storage
    /// stays on disk, so a session with the same identity created later continues its numbers.
    /// Allowed once no connection is attached (terminated, or an acceptor waiting for a Logon).
    /// Waits for the I/O thread's confirmation (at most [`API_REPLY_TIMEOUT`]).
    ///
    /// # Errors
    /// [`EngineError::WrongState`] while connected, [`EngineError::Timeout`],
    /// [`EngineError::Released`], [`EngineError::Stopped`].
    pub fn release(&self) -> Result<(), EngineError> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.command(Command::Release {
            id: self.shared.id,
            reply: tx,
        })?;
        match rx.recv_timeout(API_REPLY_TIMEOUT) {
            Ok(r) => r,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => Err(EngineError::Timeout {
                timeout: API_REPLY_TIMEOUT,
                state: self.state(),
            }),
            Err(_) => Err(EngineError::Stopped),
        }
    }

    /// A copy of the session's latency statistics, taken on its I/O thread.
    ///
    /// # Errors
    /// [`EngineError::Timeout`], [`EngineError::Backpressure`], [`EngineError::Released`],
    /// [`EngineError::Stopped`].
    pub fn stats(&self) -> Result<StatsSnapshot, EngineError> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.command(Command::Stats {
            id: self.shared.id,
            reply: tx,
        })?;
        let mut snap = rx.recv_timeout(API_REPLY_TIMEOUT).map_err(|e| match e {
            crossbeam_channel::RecvTimeoutError::Timeout => EngineError::Timeout {
                timeout: API_REPLY_TIMEOUT,
                state: self.state(),
            },
            _ => EngineError::Stopped,
        })?;
        snap.message_log_dropped = self.message_log_dropped();
        Ok(snap)
    }
}

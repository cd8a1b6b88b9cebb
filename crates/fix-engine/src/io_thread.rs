//! The I/O threads: each owns a `mio::Poll`, its connections, its sessions, their timers, and a
//! bounded command queue that other threads (the API, workers, other I/O threads) write to.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::{ErrorKind, Read};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use fix_codec::{EncodeBuffer, FrameError, FrameStatus, Framer, MessageRef};
use fix_session::{MonoTime, Now, Session};
use fix_store::SessionStore;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::app::{Application, ConnectionEvent, Reply, ReplyQueue};
use crate::clock::WallClock;
use crate::config::IdleStrategy;
use crate::engine::{EngineShared, RouteTarget};
use crate::error::EngineError;
use crate::handle::SessionHandle;
use crate::idle::{Idle, Wait};
use crate::stats::{SessionStats, StatsSnapshot};
use crate::store_io::{IoCtx, OUTBOUND_WATERMARK, Outbound, Outcome, SEND_WATERMARK};

/// Capacity of each I/O thread's command queue.
pub const COMMAND_QUEUE_CAPACITY: usize = 65_536;
/// Most commands handled per loop iteration, so sockets are polled between bursts.
const COMMANDS_PER_ITERATION: usize = 4096;
/// Most reads per connection per readiness event before other connections get their turn.
const READS_PER_EVENT: usize = 16;

/// A busy-spinning I/O thread with at most this many connections reads them directly (one
/// `read` each per loop turn) and calls `epoll_wait` only every [`DIRECT_READ_EPOLL_EVERY`]
/// turns (for accepts, connects, writability, hang-ups). A message then costs its `read` alone,
/// not an `epoll_wait` that reports it plus the `read`: about 1 us less per round trip on this
/// class of machine. With more connections a turn of failed reads would cost more than the
/// `epoll_wait` it saves.
const DIRECT_READ_MAX_CONNS: usize = 4;
/// Loop turns per `epoll_wait` while reading directly: the poller then only has accepts,
/// connects, writability and the waker to report, which can wait a few tens of microseconds.
const DIRECT_READ_EPOLL_EVERY: u32 = 64;

/// What one `read` into a connection's buffer got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filled {
    /// Nothing to read now (`WouldBlock`).
    Nothing,
    /// Fewer bytes than the buffer had room for: the socket was empty at that instant, and the
    /// registration is edge-triggered (mio), so bytes arriving later raise a new event. Saves the
    /// `read` that would only return `WouldBlock`: one syscall per message at low rates. Never
    /// returned once the peer's FIN was reported ([`Conn::peer_closed`]): the end of the stream
    /// raises no further event, so it must be read now.
    Drained,
    /// The buffer filled up: there may be more.
    More,
}
/// Initial read buffer per connection.
const READ_CHUNK: usize = 16 << 10;
/// Most connections accepted per listener per readiness event.
const ACCEPTS_PER_EVENT: usize = 64;
/// How long a half-closed connection waits for the counterparty's FIN before it is dropped.
const CLOSE_LINGER: Duration = Duration::from_secs(2);
/// How long a new connection may take to send its Logon before it is closed.
const PRE_LOGON_TIMEOUT: Duration = Duration::from_secs(10);
/// Most connections per I/O thread.
pub const MAX_CONNECTIONS_PER_THREAD: usize = 65_536;

mod reconnect;

const WAKER: Token = Token(usize::MAX);
const LISTENER_BASE: usize = 1 << 40;

/// Which state an initiator shows before a (re)connect attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ConnectPhase {
    /// A first connect: straight to `WAIT_FOR_CONNECT`.
    #[default]
    Initial,
    /// A reconnect after a loss: `RECONNECT`, then `WAIT_FOR_CONNECT`.
    Reconnect,
    /// A move to another endpoint: `SWITCH_CONNECTION`, then `WAIT_FOR_CONNECT`.
    SwitchConnection,
}

/// An application message on its way from [`SessionHandle::send`] to the I/O thread.
#[derive(Debug)]
pub(crate) struct OutMsg {
    pub msg_type: [u8; crate::app::MAX_MSG_TYPE_LEN],
    pub msg_type_len: u8,
    /// `body` starts with this many bytes of extra header fields (`tag=value SOH` each).
    pub header_len: u32,
    pub body: EncodeBuffer,
    pub enqueued: Instant,
}

/// A session being handed to an I/O thread.
pub(crate) struct NewSession {
    pub session: Session,
    pub store: Box<dyn SessionStore>,
    pub app: Arc<dyn Application>,
    pub handle: SessionHandle,
    pub endpoints: Vec<SocketAddr>,
    /// An accepted connection whose Logon is in `bytes` (unregistered acceptors).
    pub connection: Option<(TcpStream, Option<SocketAddr>, Vec<u8>)>,
}

/// What other threads ask of an I/O thread.
pub(crate) enum Command {
    AddSession(Box<NewSession>),
    Send {
        id: u64,
        msg: OutMsg,
    },
    Disconnect {
        id: u64,
        reason: String,
    },
    DisconnectNow {
        id: u64,
    },
    Connect {
        id: u64,
        endpoint: Option<usize>,
        phase: ConnectPhase,
    },
    Reset {
        id: u64,
    },
    Release {
        id: u64,
        reply: Sender<Result<(), EngineError>>,
    },
    Stats {
        id: u64,
        reply: Sender<StatsSnapshot>,
    },
    /// A connection whose Logon names a session of this thread, routed from the accepting thread.
    Adopt {
        id: u64,
        stream: TcpStream,
        peer: Option<SocketAddr>,
        bytes: Vec<u8>,
    },
    Listen(TcpListener),
    Shutdown,
}

/// The other threads' view of an I/O thread.
pub(crate) struct ThreadRef {
    pub index: usize,
    tx: Sender<Command>,
    waker: Waker,
    /// Set while the thread may block in `poll`: senders wake it only then, so a busy-spinning
    /// thread costs its senders no syscall.
    parked: AtomicBool,
    /// Sessions owned, for least-loaded placement.
    pub load: AtomicUsize,
}

impl std::fmt::Debug for ThreadRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadRef")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl ThreadRef {
    /// Queues a command without blocking; on failure gives it back.
    #[allow(clippy::result_large_err)] // The command is handed back by value so nothing allocates.
    pub(crate) fn send(&self, cmd: Command) -> Result<(), (EngineError, Option<Command>)> {
        match self.tx.try_send(cmd) {
            Ok(()) => {
                // Pairs with the fence after `parked` is set in the loop: either the thread
                // sees the command before sleeping, or we see `parked` and wake it.
                fence(Ordering::SeqCst);
                if self.parked.load(Ordering::SeqCst) {
                    let _ = self.waker.wake();
                }
                Ok(())
            }
            Err(TrySendError::Full(c)) => Err((EngineError::Backpressure, Some(c))),
            Err(TrySendError::Disconnected(c)) => Err((EngineError::Stopped, Some(c))),
        }
    }
}

/// Creates the poller and the shared half of an I/O thread.
pub(crate) fn prepare(
    index: usize,
) -> Result<(Arc<ThreadRef>, Poll, Receiver<Command>), EngineError> {
    let poll = Poll::new().map_err(|e| EngineError::io("create poller", e))?;
    let waker =
        Waker::new(poll.registry(), WAKER).map_err(|e| EngineError::io("create waker", e))?;
    let (tx, rx) = crossbeam_channel::bounded(COMMAND_QUEUE_CAPACITY);
    Ok((
        Arc::new(ThreadRef {
            index,
            tx,
            waker,
            parked: AtomicBool::new(false),
            load: AtomicUsize::new(0),
        }),
        poll,
        rx,
    ))
}

#[derive(Debug)]
enum ConnKind {
    /// Accepted; its Logon has not arrived yet.
    PreLogon,
    /// Initiator connect in progress.
    Connecting { slot: usize, addr: SocketAddr },
    /// Attached to a session.
    Attached { slot: usize },
    /// Half-closed by us: flushing, then waiting for the counterparty's FIN.
    Closing { shut: bool },
}

struct Conn {
    generation: u64,
    kind: ConnKind,
    peer: Option<SocketAddr>,
    rbuf: Vec<u8>,
    rlen: usize,
    /// Bytes read so far (tells a direct read that found something from one that did not).
    received: u64,
    max_read: usize,
    out: Outbound,
    writable: bool,
    /// Listed in `IoThread::dirty`: has bytes queued for the next flush.
    dirty: bool,
    deadline: Option<MonoTime>,
    /// The poller reported the peer's FIN or an error: read until the end, whatever a short
    /// read suggests (data and FIN arriving together make one edge-triggered event).
    peer_closed: bool,
    /// Registered with the poller. A busy-spinning thread that reads its few connections
    /// directly takes them out of the poller (see [`IoThread::unpoll_direct`]).
    polled: bool,
}

struct Slot {
    id: u64,
    session: Session,
    store: Box<dyn SessionStore>,
    app: Arc<dyn Application>,
    handle: SessionHandle,
    conn: Option<usize>,
    replies: ReplyQueue,
    /// Listed in `IoThread::replaying`.
    replaying: bool,
    /// Last value published to `SessionShared::congested`.
    congested: bool,
    armed: Option<MonoTime>,
    stats: SessionStats,
    endpoints: Vec<SocketAddr>,
    endpoint: usize,
    /// Initiators: the reconnection / backup loop (`reconnect.rs`).
    reconnect: Option<Box<reconnect::Reconnect>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKey {
    Session { slot: usize, id: u64 },
    Conn { token: usize, generation: u64 },
    Reconnect { slot: usize, id: u64 },
}

/// Runs an I/O thread until a `Shutdown` command.
pub(crate) struct IoThread {
    me: Arc<ThreadRef>,
    engine: Arc<EngineShared>,
    poll: Poll,
    rx: Receiver<Command>,
    conns: Vec<Option<Conn>>,
    free_conns: Vec<usize>,
    next_gen: u64,
    slots: Vec<Option<Slot>>,
    free_slots: Vec<usize>,
    by_id: HashMap<u64, usize>,
    listeners: Vec<TcpListener>,
    timers: BinaryHeap<Reverse<(MonoTime, TimerKey)>>,
    pending_reads: Vec<usize>,
    /// The other half of `pending_reads`' double buffer: swapping keeps both capacities, where
    /// `mem::take` would free one and make the next push allocate on the hot path.
    spare_reads: Vec<usize>,
    /// Stands in for a slot's reply queue while its replies are sent (see `send_replies`).
    spare_replies: Option<ReplyQueue>,
    /// Connections written to since the last flush.
    dirty: Vec<usize>,
    /// Busy-spin with few connections: the attached connections read directly between
    /// `epoll_wait` calls (see [`DIRECT_READ_MAX_CONNS`]); refreshed at every `epoll_wait`.
    direct: Vec<usize>,
    /// Sessions (slot, id) with output held back for the transport (`Session::wants_output`: a
    /// paced resend): resumed one batch per loop iteration while their buffer is below
    /// `OUTBOUND_WATERMARK`.
    replaying: Vec<(usize, u64)>,
    framer: Framer,
    idle: Idle,
    /// Connections taken out of the poller (some may have been closed or replaced since: their
    /// `Conn::polled` tells).
    unpolled: Vec<usize>,
    shutting_down: bool,
    /// This thread's clocks: one read per `Now`.
    wall: WallClock,
    /// The monotonic time at which the last `Send` command finished, while commands are being
    /// drained: the next `Send` starts at it instead of reading the clock again.
    send_clock: Option<MonoTime>,
}

fn interest(writable: bool) -> Interest {
    if writable {
        Interest::READABLE | Interest::WRITABLE
    } else {
        Interest::READABLE
    }
}

/// Sets what the poller watches on `c`: its input, and its room to write when `writable`. A
/// connection read directly, out of the poller, is registered again.
fn watch(poll: &Poll, c: &mut Conn, token: usize, writable: bool) {
    let registry = poll.registry();
    let r = if c.polled {
        registry.reregister(&mut c.out.stream, Token(token), interest(writable))
    } else {
        registry.register(&mut c.out.stream, Token(token), interest(writable))
    };
    match r {
        Ok(()) => c.polled = true,
        Err(e) => tracing::error!(error = %e, "cannot register a connection with the poller"),
    }
}

impl IoThread {
    pub(crate) fn new(
        me: Arc<ThreadRef>,
        engine: Arc<EngineShared>,
        poll: Poll,
        rx: Receiver<Command>,
        idle: IdleStrategy,
    ) -> Self {
        Self {
            me,
            poll,
            rx,
            conns: Vec::new(),
            free_conns: Vec::new(),
            next_gen: 0,
            slots: Vec::new(),
            free_slots: Vec::new(),
            by_id: HashMap::new(),
            listeners: Vec::new(),
            timers: BinaryHeap::new(),
            pending_reads: Vec::new(),
            spare_reads: Vec::new(),
            spare_replies: None,
            dirty: Vec::new(),
            direct: Vec::with_capacity(DIRECT_READ_MAX_CONNS),
            replaying: Vec::new(),
            framer: Framer::new(Framer::DEFAULT_MAX_FRAME_LEN),
            idle: Idle::new(idle),
            unpolled: Vec::with_capacity(DIRECT_READ_MAX_CONNS),
            shutting_down: false,
            wall: WallClock::new(engine.clock),
            send_clock: None,
            engine,
        }
    }

    fn now(&self) -> Now {
        self.wall.now()
    }

    /// The event loop.
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let mut worked = true;
        let mut spins = 0u32;
        loop {
            let wait = self.idle.next(worked);
            worked = false;
            let mut timeout = match wait {
                Wait::Spin => Some(Duration::ZERO),
                Wait::Yield => {
                    std::thread::yield_now();
                    Some(Duration::ZERO)
                }
                Wait::Park => self.until_next_timer(),
            };
            if !self.pending_reads.is_empty() || self.replay_runnable() {
                timeout = Some(Duration::ZERO);
            }
            let parking = timeout != Some(Duration::ZERO);
            if parking {
                self.me.parked.store(true, Ordering::SeqCst);
                fence(Ordering::SeqCst);
                if !self.rx.is_empty() {
                    timeout = Some(Duration::ZERO);
                }
            }
            spins = spins.wrapping_add(1);
            let direct = wait == Wait::Spin
                && timeout == Some(Duration::ZERO)
                && !spins.is_multiple_of(DIRECT_READ_EPOLL_EVERY)
                && !self.direct.is_empty();
            let res = if direct {
                worked |= self.read_directly();
                events.clear();
                Ok(())
            } else {
                if timeout != Some(Duration::ZERO) {
                    self.poll_everything();
                }
                let r = self.poll.poll(&mut events, timeout);
                self.refresh_direct(wait);
                r
            };
            if parking {
                self.me.parked.store(false, Ordering::SeqCst);
            }
            if let Err(e) = res
                && e.kind() != ErrorKind::Interrupted
            {
                tracing::error!(error = %e, thread = self.me.index, "poll failed");
            }
            for ev in events.iter() {
                worked = true;
                let token = ev.token();
                if token == WAKER {
                    continue;
                }
                if token.0 >= LISTENER_BASE {
                    self.accept(token.0 - LISTENER_BASE);
                    continue;
                }
                if ev.is_writable() {
                    self.on_writable(token.0);
                }
                if (ev.is_read_closed() || ev.is_error())
                    && let Some(c) = self.conns.get_mut(token.0).and_then(Option::as_mut)
                {
                    c.peer_closed = true;
                }
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    self.on_readable(token.0);
                }
                // What the session answered to this read goes out before the next connection
                // is served: batching never delays one session behind another's work.
                self.flush_dirty();
            }
            let mut pending = std::mem::take(&mut self.spare_reads);
            std::mem::swap(&mut pending, &mut self.pending_reads);
            for &token in &pending {
                worked = true;
                self.on_readable(token);
                self.flush_dirty();
            }
            pending.clear();
            self.spare_reads = pending;
            worked |= self.fire_timers();
            self.flush_dirty();
            worked |= self.drain_commands();
            self.flush_dirty();
            // After everyone else's input, timers and commands: a long resend advances one
            // batch per iteration, never holding the thread for the whole range.
            worked |= self.resume_replays();
            if self.shutting_down {
                self.close_everything();
                return;
            }
        }
    }

    /// Lists the attached connections for direct reads, when spinning over few of them. A
    /// busy-spinning thread also takes them out of the poller (see [`IoThread::unpoll_direct`]);
    /// every other connection is in it.
    fn refresh_direct(&mut self, wait: Wait) {
        self.direct.clear();
        if wait == Wait::Spin {
            for (token, c) in self.conns.iter().enumerate() {
                if let Some(c) = c
                    && matches!(c.kind, ConnKind::Attached { .. })
                {
                    if self.direct.len() == DIRECT_READ_MAX_CONNS {
                        self.direct.clear();
                        break;
                    }
                    self.direct.push(token);
                }
            }
        }
        if self.idle.is_busy_spin() && !self.direct.is_empty() {
            self.unpoll_direct();
        } else {
            self.poll_everything();
        }
    }

    /// Takes the directly read connections out of the poller while they have nothing to write.
    /// The poller adds nothing for them (each loop turn reads them, and a read sees the end of
    /// the stream), but being registered costs every arriving segment a wake-up callback in the
    /// kernel: about 0.3 us per round trip on the loopback floor of this class of machine.
    /// Only for `BusySpin`: a thread that may block must have everything in the poller, and one
    /// that alternates would pay two `epoll_ctl` per connection per burst.
    fn unpoll_direct(&mut self) {
        let mut i = 0;
        while i < self.unpolled.len() {
            let token = self.unpolled[i];
            if self.direct.contains(&token) {
                i += 1;
                continue;
            }
            self.unpolled.swap_remove(i);
            if let Some(c) = self.conns.get_mut(token).and_then(Option::as_mut)
                && !c.polled
            {
                watch(&self.poll, c, token, c.writable);
                self.pending_reads.push(token);
            }
        }
        for &token in &self.direct {
            if let Some(c) = self.conns.get_mut(token).and_then(Option::as_mut)
                && c.polled
                && !c.writable
            {
                match self.poll.registry().deregister(&mut c.out.stream) {
                    Ok(()) => {
                        c.polled = false;
                        // Once: the token of a closed connection may be listed still.
                        if !self.unpolled.contains(&token) {
                            self.unpolled.push(token);
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "connection stays in the poller"),
                }
            }
        }
    }

    /// Puts every connection read directly back into the poller (before the thread may block,
    /// or when it stops reading them directly). What arrived meanwhile is read at once.
    fn poll_everything(&mut self) {
        while let Some(token) = self.unpolled.pop() {
            if let Some(c) = self.conns.get_mut(token).and_then(Option::as_mut)
                && !c.polled
            {
                watch(&self.poll, c, token, c.writable);
                self.pending_reads.push(token);
            }
        }
    }

    /// One `read` on each listed connection (a token whose connection changed since the list was
    /// made is read as whatever it is now, which is harmless); what it got is processed and
    /// answered at once. Returns whether any had bytes.
    fn read_directly(&mut self) -> bool {
        let mut got = false;
        for i in 0..self.direct.len() {
            let token = self.direct[i];
            let Some(c) = self.conns.get(token).and_then(Option::as_ref) else {
                continue;
            };
            let (before, generation) = (c.received, c.generation);
            self.on_readable(token);
            self.flush_dirty();
            got |= self
                .conns
                .get(token)
                .and_then(Option::as_ref)
                .is_none_or(|c| c.received != before || c.generation != generation);
        }
        got
    }

    fn until_next_timer(&self) -> Option<Duration> {
        let Reverse((t, _)) = self.timers.peek()?;
        let now = self.wall.mono();
        // Round up so that we never wake just before the deadline and spin.
        let nanos = t.since(now);
        Some(Duration::from_nanos(nanos) + Duration::from_micros(if nanos > 0 { 100 } else { 0 }))
    }

    // ------------------------------------------------------------------------------------
    // Commands.

    fn drain_commands(&mut self) -> bool {
        let mut n = 0;
        while n < COMMANDS_PER_ITERATION {
            let Ok(cmd) = self.rx.try_recv() else { break };
            n += 1;
            if !matches!(cmd, Command::Send { .. }) {
                // Only back-to-back sends share a clock read.
                self.send_clock = None;
            }
            self.command(cmd);
            if self.shutting_down {
                break;
            }
        }
        self.send_clock = None;
        n > 0
    }

    fn slot_of(&self, id: u64) -> Option<usize> {
        self.by_id.get(&id).copied()
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::AddSession(ns) => self.add_session(*ns),
            Command::Send { id, msg } => self.send(id, msg),
            Command::Disconnect { id, reason } => {
                if let Some(s) = self.slot_of(id) {
                    self.loop_stop(s);
                    self.drop_pending_connect(s);
                    let now = self.now();
                    self.call(s, |sess, io| {
                        let _ = sess.disconnect(&reason, now, io);
                    });
                }
            }
            Command::DisconnectNow { id } => self.disconnect_now(id),
            Command::Connect {
                id,
                endpoint,
                phase,
            } => {
                if let Some(s) = self.slot_of(id) {
                    self.loop_start(s, endpoint, phase);
                }
            }
            Command::Reset { id } => {
                if let Some(s) = self.slot_of(id) {
                    let now = self.now();
                    self.call(s, |sess, io| sess.reset_seq_nums(now, io));
                }
            }
            Command::Release { id, reply } => {
                let r = self.release(id);
                let _ = reply.try_send(r);
            }
            Command::Stats { id, reply } => {
                if let Some(s) = self.slot_of(id)
                    && let Some(slot) = &self.slots[s]
                {
                    let _ = reply.try_send(slot.stats.snapshot());
                }
            }
            Command::Adopt {
                id,
                stream,
                peer,
                bytes,
            } => {
                let Some(token) = self.add_conn(stream, peer, ConnKind::PreLogon, bytes) else {
                    return;
                };
                match self.slot_of(id) {
                    Some(s) => self.attach_acceptor(s, token),
                    None => self.close_conn(token),
                }
            }
            Command::Listen(mut l) => {
                let token = Token(LISTENER_BASE + self.listeners.len());
                match self
                    .poll
                    .registry()
                    .register(&mut l, token, Interest::READABLE)
                {
                    Ok(()) => self.listeners.push(l),
                    Err(e) => tracing::error!(error = %e, "cannot register listener"),
                }
            }
            Command::Shutdown => self.shutting_down = true,
        }
    }

    fn add_session(&mut self, ns: NewSession) {
        let id = ns.handle.shared.id;
        let reconnect = reconnect::Reconnect::for_session(&ns.handle, &ns.session);
        let slot = Slot {
            id,
            session: ns.session,
            store: ns.store,
            app: ns.app,
            handle: ns.handle,
            conn: None,
            replies: ReplyQueue::default(),
            replaying: false,
            congested: false,
            armed: None,
            stats: SessionStats::new(),
            endpoints: ns.endpoints,
            endpoint: 0,
            reconnect,
        };
        let role = slot.handle.role();
        slot.handle.shared.publish_state(slot.session.state());
        let s = match self.free_slots.pop() {
            Some(i) => {
                self.slots[i] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        self.by_id.insert(id, s);
        if let Some((stream, peer, bytes)) = ns.connection {
            if let Some(token) = self.add_conn(stream, peer, ConnKind::PreLogon, bytes) {
                self.attach_acceptor(s, token);
            }
        } else if role == crate::config::Role::Initiator {
            self.loop_start(s, Some(0), ConnectPhase::Initial);
        } else {
            // Registered, so the engine's listener routes its Logons here from now on.
            self.call(s, |sess, io| sess.listening(io));
        }
    }

    fn send(&mut self, id: u64, msg: OutMsg) {
        let Some(s) = self.slot_of(id) else {
            return;
        };
        let start = self.send_clock.take().unwrap_or_else(|| self.wall.mono());
        let now = self.wall.now_at(start);
        let OutMsg {
            msg_type,
            msg_type_len,
            header_len,
            body,
            enqueued,
        } = msg;
        let mt = &msg_type[..usize::from(msg_type_len)];
        let staged = body.staged();
        let (header, fields) = staged.split_at((header_len as usize).min(staged.len()));
        let mut extra = [(0u32, &b""[..]); crate::app::MAX_HEADER_FIELDS];
        let n = crate::app::header_fields(header, &mut extra);
        let r = self.call(s, |sess, io| {
            io.sent_at = Some(enqueued);
            sess.send_app_with_header(mt, &extra[..n], now, io, |e| {
                e.raw(fields);
            })
        });
        let end = self.wall.mono();
        self.send_clock = Some(end);
        if let Some(slot) = self.slots[s].as_mut() {
            match r {
                Some(Ok(_)) => slot
                    .stats
                    .record_to_wire(end.since(self.wall.mono_of(enqueued))),
                _ => {
                    slot.handle
                        .shared
                        .dropped_sends
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
            slot.handle.shared.recycle(body);
        }
    }

    fn disconnect_now(&mut self, id: u64) {
        let Some(s) = self.slot_of(id) else { return };
        self.loop_stop(s);
        self.drop_pending_connect(s);
        let now = self.now();
        self.call(s, |sess, io| sess.disconnect_non_gracefully(now, io));
    }

    /// A connect in progress is not a transport the session knows about, so closing the session
    /// would leave it to complete later and log on: the engine drops it itself.
    fn drop_pending_connect(&mut self, s: usize) {
        if let Some(slot) = self.slots[s].as_mut()
            && let Some(token) = slot.conn
            && matches!(
                self.conns[token].as_ref().map(|c| &c.kind),
                Some(ConnKind::Connecting { .. })
            )
        {
            slot.conn = None;
            self.remove_conn(token);
        }
    }

    fn release(&mut self, id: u64) -> Result<(), EngineError> {
        let Some(s) = self.slot_of(id) else {
            return Err(EngineError::Stopped);
        };
        let Some(slot) = self.slots[s].as_ref() else {
            return Err(EngineError::Stopped);
        };
        if slot.conn.is_some() || slot.session.is_connected() {
            return Err(EngineError::WrongState(slot.session.state()));
        }
        let Some(mut slot) = self.slots[s].take() else {
            return Err(EngineError::Stopped);
        };
        self.free_slots.push(s);
        self.by_id.remove(&id);
        self.me.load.fetch_sub(1, Ordering::Relaxed);
        if let Err(e) = slot.store.sync() {
            tracing::warn!(session = %slot.handle.name(), error = %e, "store sync at release failed");
        }
        self.engine.unregister(&slot.handle);
        slot.handle.shared.mark_released();
        // Dropping the slot closes the store and releases its lock before the caller is told.
        drop(slot);
        Ok(())
    }

    // ------------------------------------------------------------------------------------
    // Session calls.

    /// Calls into the session of slot `s` with an [`IoCtx`], then acts on what it asked for:
    /// replies, closing, write failures, timers. Returns the call's result (`None` if no slot).
    fn call<R>(
        &mut self,
        s: usize,
        f: impl FnOnce(&mut Session, &mut IoCtx<'_>) -> R,
    ) -> Option<R> {
        let (r, outcome, failed) = self.call_plain(s, f)?;
        self.after_call(s, outcome, failed);
        Some(r)
    }

    fn after_call(&mut self, s: usize, outcome: Outcome, failed: Option<&'static str>) {
        self.after_call_at(s, outcome, failed, None);
    }

    /// [`IoThread::after_call`] with the time, when the caller has just read it: the clock is
    /// read here only when something needs it (replies to send, a lost connection).
    fn after_call_at(
        &mut self,
        s: usize,
        outcome: Outcome,
        failed: Option<&'static str>,
        now: Option<Now>,
    ) {
        if !outcome.close
            && failed.is_none()
            && self.slots[s]
                .as_ref()
                .is_some_and(|slot| !slot.replies.is_empty())
        {
            let now = now.unwrap_or_else(|| self.now());
            self.send_replies(s, now);
        }
        let Some(slot) = self.slots[s].as_mut() else {
            return;
        };
        if let Some(next) = outcome.deferred_next_target
            && let Err(e) = slot.store.set_next_incoming(next)
        {
            tracing::error!(session = %slot.handle.name(), error = %e, "storing the incoming sequence number failed");
        }
        let token = slot.conn;
        if outcome.close {
            slot.replies.clear();
            if let Some(token) = token {
                slot.conn = None;
                let (app, handle) = (slot.app.clone(), slot.handle.clone());
                app.on_connection_event(
                    &handle,
                    ConnectionEvent::Lost {
                        reason: "closed by the session",
                    },
                );
                self.close_conn(token);
            }
        } else if let Some(why) = failed {
            slot.replies.clear();
            tracing::warn!(session = %slot.handle.name(), why, "connection lost");
            if let Some(token) = token {
                slot.conn = None;
                self.remove_conn(token);
            }
            let now = now.unwrap_or_else(|| self.now());
            self.lost(s, why, now);
            self.loop_after_call(s, &outcome);
            return;
        } else if let Some(token) = token
            && let Some(c) = self.conns[token].as_mut()
            && c.out.pending() > 0
            && !c.writable
            && !c.dirty
        {
            c.dirty = true;
            self.dirty.push(token);
        }
        if let Some(slot) = self.slots[s].as_mut()
            && !slot.replaying
            && slot.session.wants_output()
        {
            slot.replaying = true;
            self.replaying.push((s, slot.id));
        }
        self.publish_congestion(s);
        self.arm(s);
        self.loop_after_call(s, &outcome);
    }

    /// Tells `SessionHandle::send` whether to refuse with `Backpressure`: while the connection
    /// holds [`SEND_WATERMARK`] bytes or more, or a paced resend is in progress. An accepted
    /// send can then still be refused by the session only if more than the watermark's headroom
    /// was already in flight (counted in `dropped_sends`). The shared flag is written only when
    /// it changes, so the sending thread's cache line is not touched per message.
    fn publish_congestion(&mut self, s: usize) {
        let Some(slot) = self.slots.get_mut(s).and_then(Option::as_mut) else {
            return;
        };
        let pending = slot
            .conn
            .and_then(|t| self.conns.get(t).and_then(Option::as_ref))
            .map_or(0, |c| c.out.pending());
        let congested = pending >= SEND_WATERMARK || slot.session.wants_output();
        if congested != slot.congested {
            slot.congested = congested;
            slot.handle
                .shared
                .congested
                .store(congested, Ordering::Release);
        }
    }

    /// Whether the outbound buffer of slot `s` has room for more of a paced resend.
    fn has_room(&self, s: usize) -> bool {
        self.slots
            .get(s)
            .and_then(Option::as_ref)
            .and_then(|slot| slot.conn)
            .and_then(|t| self.conns.get(t).and_then(Option::as_ref))
            .is_some_and(|c| {
                matches!(c.kind, ConnKind::Attached { .. })
                    && c.out.failed.is_none()
                    && c.out.pending() < OUTBOUND_WATERMARK
            })
    }

    /// Whether a paced resend can make progress now (the loop must not park).
    fn replay_runnable(&self) -> bool {
        self.replaying.iter().any(|&(s, _)| self.has_room(s))
    }

    /// One batch of every paced resend whose connection has room, each flushed at once.
    fn resume_replays(&mut self) -> bool {
        let mut worked = false;
        let mut i = 0;
        // Bounded: each entry is visited once (an entry is only added by a session call for a
        // slot not listed yet, and removed entries shrink the list).
        while i < self.replaying.len() {
            let (s, id) = self.replaying[i];
            let live = match self.slots.get_mut(s).and_then(Option::as_mut) {
                Some(slot) if slot.id == id => {
                    if slot.session.wants_output() {
                        true
                    } else {
                        slot.replaying = false;
                        false
                    }
                }
                _ => false,
            };
            if !live {
                self.replaying.swap_remove(i);
                continue;
            }
            if self.has_room(s) {
                worked = true;
                let now = self.now();
                self.call(s, |sess, io| sess.resume_output(now, io));
                self.flush_dirty();
            }
            i += 1;
        }
        worked
    }

    /// Writes what was queued since the last call (the answers to one read, the timers' output,
    /// a drain of API commands), one `write` per connection; what the socket does not take
    /// waits for a writable event.
    fn flush_dirty(&mut self) {
        // Bounded: a token is listed only once until flushed, and losing a connection here
        // lists none (its slot no longer has one).
        while let Some(token) = self.dirty.pop() {
            let Some(c) = self.conns.get_mut(token).and_then(Option::as_mut) else {
                continue;
            };
            if !c.dirty {
                continue;
            }
            c.dirty = false;
            // A closing connection flushes itself; one being connected has written nothing.
            let ConnKind::Attached { slot } = c.kind else {
                continue;
            };
            let flushed = c.out.flush();
            if let Some(why) = c.out.failed {
                if let Some(sl) = self.slots[slot].as_mut() {
                    sl.conn = None;
                }
                self.remove_conn(token);
                let now = self.now();
                self.lost(slot, why, now);
            } else if !flushed && !c.writable {
                c.writable = true;
                watch(&self.poll, c, token, true);
            }
            self.publish_congestion(slot);
        }
    }

    /// Sends what callbacks queued, in order.
    fn send_replies(&mut self, s: usize, now: Now) {
        let Some(slot) = self.slots[s].as_mut() else {
            return;
        };
        if slot.replies.is_empty() {
            return;
        }
        // The slot gets the thread's spare (empty) queue meanwhile: taking a default one would
        // allocate its buffer once per reply.
        let spare = self.spare_replies.take().unwrap_or_default();
        let q = std::mem::replace(&mut slot.replies, spare);
        for i in 0..q.len() {
            let Some(reply) = q.get(i) else { break };
            let r = self.call_plain(s, |sess, io| match reply {
                Reply::Send {
                    msg_type,
                    header,
                    body,
                } => {
                    let mut fields = [(0u32, &b""[..]); crate::app::MAX_HEADER_FIELDS];
                    let n = crate::app::header_fields(header, &mut fields);
                    sess.send_app_with_header(msg_type, &fields[..n], now, io, |e| {
                        e.raw(body);
                    })
                    .map(|_| ())
                }
                Reply::Reject {
                    reason,
                    tag,
                    text,
                    msg,
                } => sess.reject_app_message(msg, reason, tag, text, now, io),
            });
            if let Some((Err(e), _, _)) = &r
                && let Some(slot) = self.slots[s].as_ref()
            {
                // A reply the session refuses (a paced resend's hold is full, the connection is
                // congested, the session is no longer established) is lost to the counterparty:
                // say so to the application and count it, never silently.
                tracing::warn!(session = %slot.handle.name(), error = %e, "reply not sent");
                slot.handle
                    .shared
                    .dropped_sends
                    .fetch_add(1, Ordering::Relaxed);
                let (app, handle) = (slot.app.clone(), slot.handle.clone());
                app.on_warning(&handle, "reply not sent: the session refused it");
            }
            if let Some((_, o, f)) = r
                && (o.close || f.is_some())
            {
                // Let the normal path handle it (the rest of the queue is dropped).
                self.restore_replies(s, q);
                self.after_call(s, o, f);
                return;
            }
        }
        self.restore_replies(s, q);
    }

    /// Gives the slot its reply queue back, emptied, and keeps the spare for the next time.
    fn restore_replies(&mut self, s: usize, mut q: ReplyQueue) {
        q.clear();
        if let Some(slot) = self.slots[s].as_mut() {
            let mut spare = std::mem::replace(&mut slot.replies, q);
            spare.clear();
            self.spare_replies = Some(spare);
        }
    }

    /// A session call without the follow-up (used while sending replies).
    fn call_plain<R>(
        &mut self,
        s: usize,
        f: impl FnOnce(&mut Session, &mut IoCtx<'_>) -> R,
    ) -> Option<(R, Outcome, Option<&'static str>)> {
        let slot = self.slots.get_mut(s)?.as_mut()?;
        let out = slot
            .conn
            .and_then(|c| self.conns[c].as_mut())
            .filter(|c| matches!(c.kind, ConnKind::Attached { .. }))
            .map(|c| &mut c.out);
        let Slot {
            session,
            store,
            app,
            handle,
            replies,
            ..
        } = slot;
        let mut io = IoCtx {
            out,
            store: store.as_mut(),
            app: app.as_ref(),
            handle,
            replies,
            outcome: Outcome::default(),
            sent_at: None,
        };
        let r = f(session, &mut io);
        let failed = io.out.as_ref().and_then(|o| o.failed);
        Some((r, io.outcome, failed))
    }

    /// The transport of slot `s` is gone without the session asking: tell the session.
    fn lost(&mut self, s: usize, reason: &str, now: Now) {
        if let Some(slot) = self.slots[s].as_ref() {
            let (app, handle) = (slot.app.clone(), slot.handle.clone());
            app.on_connection_event(&handle, ConnectionEvent::Lost { reason });
        }
        self.call(s, |sess, io| sess.disconnected(now, io));
    }

    fn arm(&mut self, s: usize) {
        let Some(slot) = self.slots[s].as_mut() else {
            return;
        };
        if let Some(d) = slot.session.next_deadline()
            && slot.armed.is_none_or(|a| d < a)
        {
            slot.armed = Some(d);
            self.timers.push(Reverse((
                d,
                TimerKey::Session {
                    slot: s,
                    id: slot.id,
                },
            )));
        }
    }

    fn fire_timers(&mut self) -> bool {
        let mut worked = false;
        let mono = self.wall.mono();
        // Bounded: each pop removes an entry; re-arming only pushes deadlines in the future.
        let mut budget = 4096;
        while budget > 0 {
            budget -= 1;
            let Some(Reverse((t, key))) = self.timers.peek().copied() else {
                break;
            };
            if t > mono {
                break;
            }
            self.timers.pop();
            match key {
                TimerKey::Session { slot: s, id } => {
                    let Some(slot) = self.slots.get_mut(s).and_then(Option::as_mut) else {
                        continue;
                    };
                    if slot.id != id || slot.armed != Some(t) {
                        continue;
                    }
                    slot.armed = None;
                    worked = true;
                    if slot.session.next_deadline().is_some_and(|d| d <= mono) {
                        let now = self.now();
                        self.call(s, |sess, io| sess.handle_timeout(now, io));
                    } else {
                        self.arm(s);
                    }
                }
                TimerKey::Conn { token, generation } => {
                    let Some(c) = self.conns.get(token).and_then(Option::as_ref) else {
                        continue;
                    };
                    if c.generation != generation || c.deadline.is_none_or(|d| d > mono) {
                        continue;
                    }
                    worked = true;
                    self.conn_timeout(token);
                }
                TimerKey::Reconnect { slot, id } => {
                    worked = true;
                    self.loop_due(slot, id, t);
                }
            }
        }
        worked
    }

    fn conn_timeout(&mut self, token: usize) {
        let Some(c) = self.conns[token].as_ref() else {
            return;
        };
        match c.kind {
            ConnKind::PreLogon => {
                tracing::info!(peer = ?c.peer, "no Logon in time: closing");
                self.close_conn(token);
            }
            ConnKind::Connecting { slot, addr } => {
                let e = std::io::Error::new(ErrorKind::TimedOut, "connect timed out");
                self.remove_conn(token);
                self.connect_failed(slot, addr, &e);
            }
            ConnKind::Closing { .. } => self.remove_conn(token),
            ConnKind::Attached { .. } => {}
        }
    }

    // ------------------------------------------------------------------------------------
    // Connections.

    fn add_conn(
        &mut self,
        mut stream: TcpStream,
        peer: Option<SocketAddr>,
        kind: ConnKind,
        bytes: Vec<u8>,
    ) -> Option<usize> {
        let live = self.conns.len() - self.free_conns.len();
        if live >= MAX_CONNECTIONS_PER_THREAD {
            tracing::warn!("too many connections on one I/O thread: refusing one");
            let _ = stream.shutdown(std::net::Shutdown::Both);
            return None;
        }
        let token = match self.free_conns.pop() {
            Some(t) => t,
            None => {
                self.conns.push(None);
                self.conns.len() - 1
            }
        };
        let writable = matches!(kind, ConnKind::Connecting { .. });
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut stream, Token(token), interest(writable))
        {
            tracing::error!(error = %e, "cannot register a connection");
            self.free_conns.push(token);
            return None;
        }
        let _ = stream.set_nodelay(true);
        self.next_gen += 1;
        let rlen = bytes.len();
        let mut rbuf = bytes;
        rbuf.resize(rlen.max(READ_CHUNK), 0);
        let deadline = match kind {
            ConnKind::PreLogon => Some(
                self.engine
                    .clock
                    .mono()
                    .add_nanos(dur_nanos(PRE_LOGON_TIMEOUT)),
            ),
            _ => None,
        };
        self.conns[token] = Some(Conn {
            generation: self.next_gen,
            kind,
            peer,
            rbuf,
            rlen,
            max_read: Framer::DEFAULT_MAX_FRAME_LEN + READ_CHUNK,
            out: Outbound::new(stream),
            writable,
            dirty: false,
            peer_closed: false,
            polled: true,
            deadline: None,
            received: 0,
        });
        if let Some(d) = deadline {
            self.set_conn_deadline(token, d);
        }
        Some(token)
    }

    fn set_conn_deadline(&mut self, token: usize, d: MonoTime) {
        if let Some(c) = self.conns[token].as_mut() {
            c.deadline = Some(d);
            self.timers.push(Reverse((
                d,
                TimerKey::Conn {
                    token,
                    generation: c.generation,
                },
            )));
        }
    }

    fn remove_conn(&mut self, token: usize) {
        if let Some(mut c) = self.conns.get_mut(token).and_then(Option::take) {
            if c.polled {
                let _ = self.poll.registry().deregister(&mut c.out.stream);
            }
            self.free_conns.push(token);
        }
    }

    /// Detaches a connection for another thread to adopt.
    fn take_conn(&mut self, token: usize) -> Option<(TcpStream, Option<SocketAddr>, Vec<u8>)> {
        let mut c = self.conns.get_mut(token).and_then(Option::take)?;
        if c.polled {
            let _ = self.poll.registry().deregister(&mut c.out.stream);
        }
        self.free_conns.push(token);
        c.rbuf.truncate(c.rlen);
        Some((c.out.stream, c.peer, c.rbuf))
    }

    /// Graceful close: flush what is pending, send FIN, wait (bounded) for the counterparty's FIN
    /// so the socket never closes with unread data (which would send a reset).
    fn close_conn(&mut self, token: usize) {
        let deadline = self.wall.mono().add_nanos(dur_nanos(CLOSE_LINGER));
        let Some(c) = self.conns[token].as_mut() else {
            return;
        };
        c.rlen = 0;
        let flushed = c.out.flush();
        if c.out.failed.is_some() {
            self.remove_conn(token);
            return;
        }
        if flushed {
            c.out.shutdown_write();
        }
        c.kind = ConnKind::Closing { shut: flushed };
        // A closing connection is no longer read directly: the poller reports its end.
        if !c.polled || (!flushed && !c.writable) {
            c.writable |= !flushed;
            watch(&self.poll, c, token, c.writable);
        }
        self.set_conn_deadline(token, deadline);
        // The counterparty may have closed already: look now rather than wait for an edge.
        self.pending_reads.push(token);
    }

    fn accept(&mut self, i: usize) {
        for _ in 0..ACCEPTS_PER_EVENT {
            let Some(l) = self.listeners.get(i) else {
                return;
            };
            match l.accept() {
                Ok((stream, peer)) => {
                    if let Some(token) =
                        self.add_conn(stream, Some(peer), ConnKind::PreLogon, Vec::new())
                    {
                        // Data may have arrived with the connection.
                        self.pending_reads.push(token);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    return;
                }
            }
        }
        // More may be waiting: edge-triggered, so come back without a new event.
        let token = LISTENER_BASE + i;
        let _ = token;
        self.pending_accept(i);
    }

    fn pending_accept(&mut self, i: usize) {
        if let Some(l) = self.listeners.get_mut(i) {
            // Re-registering re-arms the edge for connections still in the backlog.
            let _ =
                self.poll
                    .registry()
                    .reregister(l, Token(LISTENER_BASE + i), Interest::READABLE);
        }
    }

    fn on_writable(&mut self, token: usize) {
        let Some(c) = self.conns.get_mut(token).and_then(Option::as_mut) else {
            return;
        };
        match c.kind {
            ConnKind::Connecting { slot, addr } => {
                match c.out.stream.take_error() {
                    Ok(Some(e)) | Err(e) => {
                        self.remove_conn(token);
                        self.connect_failed(slot, addr, &e);
                        return;
                    }
                    Ok(None) => {}
                }
                match c.out.stream.peer_addr() {
                    Ok(peer) => {
                        c.peer = Some(peer);
                        c.kind = ConnKind::Attached { slot };
                        c.deadline = None;
                        c.writable = false;
                        watch(&self.poll, c, token, false);
                        self.initiator_connected(slot, peer);
                    }
                    Err(e) if e.kind() == ErrorKind::NotConnected => {}
                    Err(e) => {
                        self.remove_conn(token);
                        self.connect_failed(slot, addr, &e);
                    }
                }
            }
            ConnKind::Attached { slot } => {
                c.out.flush();
                let failed = c.out.failed;
                if failed.is_none() && c.out.pending() == 0 && c.writable {
                    c.writable = false;
                    watch(&self.poll, c, token, false);
                }
                if let Some(why) = failed {
                    if let Some(sl) = self.slots[slot].as_mut() {
                        sl.conn = None;
                    }
                    self.remove_conn(token);
                    let now = self.now();
                    self.lost(slot, why, now);
                } else if self.has_room(slot)
                    && self.slots[slot]
                        .as_ref()
                        .is_some_and(|sl| sl.session.wants_output())
                {
                    // The socket drained: refill it with the next batch of a paced resend
                    // rather than wait for the end of the loop iteration.
                    let now = self.now();
                    self.call(slot, |sess, io| sess.resume_output(now, io));
                } else {
                    self.publish_congestion(slot);
                }
            }
            ConnKind::Closing { shut } => {
                let flushed = c.out.flush();
                if c.out.failed.is_some() {
                    self.remove_conn(token);
                } else if flushed && !shut {
                    c.out.shutdown_write();
                    c.kind = ConnKind::Closing { shut: true };
                }
            }
            ConnKind::PreLogon => {}
        }
    }

    fn on_readable(&mut self, token: usize) {
        let Some(c) = self.conns.get(token).and_then(Option::as_ref) else {
            return;
        };
        match c.kind {
            ConnKind::Attached { slot } => self.read_session(token, slot),
            ConnKind::PreLogon => self.read_pre_logon(token),
            ConnKind::Closing { .. } => self.read_discard(token),
            ConnKind::Connecting { .. } => self.on_writable(token),
        }
    }

    /// Reads into the connection's buffer.
    fn fill(c: &mut Conn) -> Result<Filled, &'static str> {
        if c.rlen == c.rbuf.len() {
            if c.rbuf.len() >= c.max_read {
                return Err("read buffer full without a complete message");
            }
            let n = (c.rbuf.len() * 2).clamp(READ_CHUNK, c.max_read);
            c.rbuf.resize(n, 0);
        }
        loop {
            let room = c.rbuf.len() - c.rlen;
            match c.out.stream.read(&mut c.rbuf[c.rlen..]) {
                Ok(0) => return Err("connection closed by the counterparty"),
                Ok(n) => {
                    c.rlen += n;
                    c.received += n as u64;
                    return Ok(if n < room && !c.peer_closed {
                        Filled::Drained
                    } else {
                        Filled::More
                    });
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(Filled::Nothing),
                Err(_) => return Err("socket read failed"),
            }
        }
    }

    fn read_discard(&mut self, token: usize) {
        let Some(c) = self.conns[token].as_mut() else {
            return;
        };
        for _ in 0..READS_PER_EVENT {
            c.rlen = 0;
            match Self::fill(c) {
                Ok(Filled::More) => {}
                Ok(Filled::Drained | Filled::Nothing) => return,
                Err(_) => {
                    self.remove_conn(token);
                    return;
                }
            }
        }
        self.pending_reads.push(token);
    }

    fn read_session(&mut self, token: usize, s: usize) {
        for _ in 0..READS_PER_EVENT {
            let Some(c) = self.conns[token].as_mut() else {
                return;
            };
            match Self::fill(c) {
                Ok(filled @ (Filled::More | Filled::Drained)) => {
                    self.feed(s, token);
                    if !self.is_attached(token, s) || filled == Filled::Drained {
                        return;
                    }
                }
                Ok(Filled::Nothing) => return,
                Err(why) => {
                    if let Some(slot) = self.slots[s].as_mut() {
                        slot.conn = None;
                    }
                    // Whatever the counterparty had to say is already processed; answer its FIN.
                    self.close_conn(token);
                    let now = self.now();
                    self.lost(s, why, now);
                    return;
                }
            }
        }
        self.pending_reads.push(token);
    }

    fn is_attached(&self, token: usize, s: usize) -> bool {
        matches!(
            self.conns.get(token).and_then(Option::as_ref).map(|c| &c.kind),
            Some(ConnKind::Attached { slot }) if *slot == s
        )
    }

    /// Hands the connection's buffered bytes to its session.
    fn feed(&mut self, s: usize, token: usize) {
        let mut now = self.now();
        // One clock read per delivered message: it ends that message's inbound time, starts the
        // next one's and dates the replies to it.
        let mut t0 = now.mono;
        let mut off = 0;
        // Bounded: each round either consumes input or ends (the session yields once per
        // delivered message and stops when it needs more bytes).
        loop {
            let r = {
                let Some(slot) = self.slots[s].as_mut() else {
                    return;
                };
                let Some(c) = self.conns[token].as_mut() else {
                    return;
                };
                let Conn {
                    rbuf, rlen, out, ..
                } = c;
                let Slot {
                    session,
                    store,
                    app,
                    handle,
                    replies,
                    ..
                } = slot;
                let mut io = IoCtx {
                    out: Some(out),
                    store: store.as_mut(),
                    app: app.as_ref(),
                    handle,
                    replies,
                    outcome: Outcome::default(),
                    sent_at: None,
                };
                let st = session.handle_input(&rbuf[off..*rlen], now, &mut io);
                let failed = io.out.as_ref().and_then(|o| o.failed);
                (st, io.outcome, failed)
            };
            let (st, outcome, failed) = r;
            off += st.consumed;
            if outcome.app_messages > 0 {
                let t1 = self.wall.mono();
                now = self.wall.now_at(t1);
                if let Some(slot) = self.slots[s].as_mut() {
                    let per = t1.since(t0) / u64::from(outcome.app_messages);
                    for _ in 0..outcome.app_messages {
                        slot.stats.record_inbound(per);
                    }
                }
                t0 = t1;
            }
            self.after_call_at(s, outcome, failed, Some(now));
            if !self.is_attached(token, s) || !st.yielded {
                break;
            }
        }
        if let Some(c) = self.conns[token].as_mut() {
            let off = off.min(c.rlen);
            c.rbuf.copy_within(off..c.rlen, 0);
            c.rlen -= off;
        }
    }

    fn read_pre_logon(&mut self, token: usize) {
        for _ in 0..READS_PER_EVENT {
            let Some(c) = self.conns[token].as_mut() else {
                return;
            };
            // Bytes may be there already (adopted connection or data that came with accept).
            if c.rlen > 0 && self.try_route(token) {
                return;
            }
            let Some(c) = self.conns[token].as_mut() else {
                return;
            };
            match Self::fill(c) {
                Ok(filled @ (Filled::More | Filled::Drained)) => {
                    if self.try_route(token) || filled == Filled::Drained {
                        return;
                    }
                }
                Ok(Filled::Nothing) => return,
                Err(_) => {
                    self.close_conn(token);
                    return;
                }
            }
        }
        self.pending_reads.push(token);
    }

    /// Looks for a complete Logon in a pre-logon connection's buffer and routes the connection by
    /// its CompIDs. Returns true when the connection left the pre-logon state.
    fn try_route(&mut self, token: usize) -> bool {
        // Bounded: each round removes garbage or ends.
        loop {
            let Some(c) = self.conns[token].as_mut() else {
                return true;
            };
            match self.framer.next_frame(&c.rbuf[..c.rlen]) {
                FrameStatus::NeedMore => return false,
                FrameStatus::Garbled { skip, error } => {
                    // Bytes before `8=` are skipped (QuickFIX's parser does the same), but a
                    // broken first message (a Logon with a wrong BodyLength or CheckSum, ...)
                    // ends the connection at once, as QuickFIX and the session itself do
                    // (1d_InvalidLogonLengthInvalid): waiting for PRE_LOGON_TIMEOUT instead
                    // would leave a half-open connection for 10 s.
                    if error != FrameError::LeadingGarbage {
                        tracing::info!(peer = ?c.peer, %error, "garbled message before Logon: closing");
                        self.close_conn(token);
                        return true;
                    }
                    let skip = skip.clamp(1, c.rlen);
                    c.rbuf.copy_within(skip..c.rlen, 0);
                    c.rlen -= skip;
                }
                FrameStatus::Complete { len } => {
                    let frame = &c.rbuf[..len];
                    let m = MessageRef::new(frame);
                    let (Some(begin), Some(b"A"), Some(theirs), Some(ours)) =
                        (m.begin_string(), m.msg_type(), m.get(49), m.get(56))
                    else {
                        tracing::info!(peer = ?c.peer, "first message is not a Logon: closing");
                        self.close_conn(token);
                        return true;
                    };
                    let target = self.engine.route(begin, ours, theirs);
                    self.route(token, len, target);
                    return true;
                }
            }
        }
    }

    fn route(&mut self, token: usize, logon_len: usize, target: RouteTarget) {
        match target {
            RouteTarget::Session { id, thread } if thread == self.me.index => {
                if self.slot_of(id).is_none() {
                    // The session is registered before its AddSession command is handled: it
                    // may still be in our own queue.
                    self.drain_commands();
                }
                match self.slot_of(id) {
                    Some(s) if self.conns[token].is_some() => self.attach_acceptor(s, token),
                    _ => self.close_conn(token),
                }
            }
            RouteTarget::Session { id, thread } => {
                let Some((stream, peer, bytes)) = self.take_conn(token) else {
                    return;
                };
                let t = self.engine.thread(thread);
                if let Err((e, cmd)) = t.send(Command::Adopt {
                    id,
                    stream,
                    peer,
                    bytes,
                }) {
                    tracing::warn!(error = %e, "cannot hand a connection to its I/O thread");
                    if let Some(Command::Adopt { stream, .. }) = cmd {
                        let _ = stream.shutdown(std::net::Shutdown::Both);
                    }
                }
            }
            RouteTarget::Create(req) => {
                let Some((stream, peer, bytes)) = self.take_conn(token) else {
                    return;
                };
                let _ = logon_len;
                self.engine.create_unregistered(req, stream, peer, bytes);
            }
            RouteTarget::Refuse(why) => {
                if let Some(c) = self.conns[token].as_ref() {
                    tracing::info!(peer = ?c.peer, why, "Logon refused: closing");
                }
                self.close_conn(token);
            }
        }
    }

    /// Attaches an accepted connection (Logon in its buffer) to an acceptor session.
    fn attach_acceptor(&mut self, s: usize, token: usize) {
        let Some(old) = self.slots[s].as_ref().map(|slot| slot.conn) else {
            self.close_conn(token);
            return;
        };
        if let Some(old) = old {
            // The counterparty may have reconnected after its old connection ended (a cut cable,
            // a failover) before this thread read that end: read it now, so that a connection
            // already closed is seen as closed and the new Logon is not refused for it.
            self.on_readable(old);
        }
        let Some(slot) = self.slots[s].as_mut() else {
            self.close_conn(token);
            return;
        };
        if slot.conn.is_some() || slot.session.is_connected() {
            // A second Logon for a connected session: close without a word.
            tracing::warn!(session = %slot.handle.name(), "duplicate Logon: closing the new connection");
            self.close_conn(token);
            return;
        }
        let Some(c) = self.conns[token].as_mut() else {
            return;
        };
        c.kind = ConnKind::Attached { slot: s };
        c.deadline = None;
        let peer = c.peer;
        slot.conn = Some(token);
        let (app, handle) = (slot.app.clone(), slot.handle.clone());
        if let Some(peer) = peer {
            app.on_connection_event(&handle, ConnectionEvent::Connected { peer });
        }
        let now = self.now();
        self.call(s, |sess, io| sess.connected(now, io));
        if self.is_attached(token, s) {
            self.feed(s, token);
            if self.is_attached(token, s) {
                // The rest may already be in the socket: edge-triggered, so read now.
                self.pending_reads.push(token);
            }
        }
    }

    fn start_connect(&mut self, s: usize, endpoint: Option<usize>, phase: ConnectPhase) {
        let Some(slot) = self.slots[s].as_mut() else {
            return;
        };
        if slot.conn.is_some() || slot.session.is_connected() {
            tracing::warn!(session = %slot.handle.name(), "connect ignored: already connected");
            return;
        }
        if let Some(e) = endpoint
            && e < slot.endpoints.len()
        {
            slot.endpoint = e;
        }
        let Some(&addr) = slot.endpoints.get(slot.endpoint) else {
            tracing::warn!(session = %slot.handle.name(), "connect ignored: no endpoint");
            return;
        };
        let j = slot.endpoint;
        slot.handle.shared.endpoint.store(j, Ordering::Release);
        let logon_timeout = self.endpoint_logon_timeout(s, j);
        match phase {
            ConnectPhase::Reconnect => {
                self.call(s, |sess, io| sess.reconnecting(io));
            }
            ConnectPhase::SwitchConnection => {
                self.call(s, |sess, io| sess.switching_connection(io));
            }
            ConnectPhase::Initial => {}
        }
        self.call(s, |sess, io| sess.connecting(io));
        match TcpStream::connect(addr) {
            Ok(stream) => {
                match self.add_conn(
                    stream,
                    None,
                    ConnKind::Connecting { slot: s, addr },
                    Vec::new(),
                ) {
                    Some(token) => {
                        if let Some(slot) = self.slots[s].as_mut() {
                            slot.conn = Some(token);
                        }
                        let d = self.wall.mono().add_nanos(dur_nanos(logon_timeout));
                        self.set_conn_deadline(token, d);
                    }
                    None => {
                        let e = std::io::Error::other("cannot register the connection");
                        self.connect_failed(s, addr, &e);
                    }
                }
            }
            Err(e) => self.connect_failed(s, addr, &e),
        }
    }

    fn connect_failed(&mut self, s: usize, addr: SocketAddr, e: &std::io::Error) {
        let Some(slot) = self.slots[s].as_mut() else {
            return;
        };
        slot.conn = None;
        tracing::info!(session = %slot.handle.name(), %addr, error = %e, "connect failed");
        let (app, handle) = (slot.app.clone(), slot.handle.clone());
        app.on_connection_event(&handle, ConnectionEvent::ConnectFailed { addr, error: e });
        let now = self.now();
        self.call(s, |sess, io| sess.disconnect_non_gracefully(now, io));
    }

    fn initiator_connected(&mut self, s: usize, peer: SocketAddr) {
        let Some(slot) = self.slots[s].as_ref() else {
            return;
        };
        let (app, handle) = (slot.app.clone(), slot.handle.clone());
        app.on_connection_event(&handle, ConnectionEvent::Connected { peer });
        let now = self.now();
        self.call(s, |sess, io| sess.connected(now, io));
        if let Some(token) = self.slots[s].as_ref().and_then(|sl| sl.conn) {
            self.pending_reads.push(token);
        }
    }

    /// At shutdown: flush and half-close every connection, then drop them.
    fn close_everything(&mut self) {
        for token in 0..self.conns.len() {
            if let Some(c) = self.conns[token].as_mut() {
                c.out.flush();
                c.out.shutdown_write();
            }
            self.remove_conn(token);
        }
        for slot in self.slots.iter_mut().flatten() {
            let _ = slot.store.sync();
        }
    }
}

pub(crate) fn dur_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

//! Test helpers for the FIX session layer and the engine.
//!
//! * [`ManualClock`]: monotonic and UTC time that only moves when a test says so.
//! * [`Recorder`]: a [`SessionIo`] that keeps everything the session did (bytes, closes, store
//!   operations, events) and holds an in-memory journal, so resends work.
//! * [`fix!`] / [`build_frame`]: valid frames from `35=D|34=2|...` text (`|` is SOH), with
//!   `BodyLength <9>` and `CheckSum <10>` computed, and `<TIME>` / `<TIME+N>` substituted.
//! * [`Endpoint`] and [`App`]: a session plus its recorder and input buffer, driven the way an engine
//!   drives it (replies sent after each yielded application message); [`EchoApp`] is the
//!   acceptance-suite test application.
//! * [`Pair`]: two endpoints wired through in-memory pipes with fault injection.
//! * [`ScriptedPeer`]: a scripted counterparty for given/when/then tests: send raw text, expect
//!   messages field by field.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::Duration;

use fix_codec::{FrameStatus, Framer, MessageRef, UtcTimestamp, checksum};
use fix_session::{Event, MonoTime, Now, Session, SessionIo, SessionState};

pub mod inproc;
pub mod proxy;
pub mod proxy_delay;

/// Monotonic and UTC time under the test's control.
#[derive(Debug, Clone, Copy)]
pub struct ManualClock {
    mono: MonoTime,
    utc: UtcTimestamp,
}

impl Default for ManualClock {
    fn default() -> Self {
        // 2024-01-02 03:04:05.678 UTC: any fixed instant works; a fraction exercises millis.
        Self::new(UtcTimestamp::from_unix_nanos(1_704_164_645_678_000_000))
    }
}

impl ManualClock {
    /// A clock at `utc`, monotonic time at an arbitrary non-zero origin.
    pub fn new(utc: UtcTimestamp) -> Self {
        Self {
            mono: MonoTime::from_secs(1_000),
            utc,
        }
    }
    /// The current time.
    pub fn now(&self) -> Now {
        Now::new(self.mono, self.utc)
    }
    /// Move both clocks forward.
    pub fn advance(&mut self, d: Duration) {
        let n = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.mono = self.mono.add_nanos(n);
        self.utc = self.utc.add_nanos(i128::from(n));
    }
    /// Move both clocks forward to `t` (no-op if `t` is in the past).
    pub fn advance_to(&mut self, t: MonoTime) {
        let d = t.since(self.mono);
        self.advance(Duration::from_nanos(d));
    }
}

/// An event with owned data, as recorded by [`Recorder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// `Event::StateChanged`.
    State(SessionState, SessionState),
    /// `Event::LoggedOn`.
    LoggedOn {
        /// Whether the numbers were reset.
        reset: bool,
    },
    /// `Event::LoggedOut` with its text.
    LoggedOut(String),
    /// `Event::AppMessage` (the frame).
    App(Vec<u8>),
    /// `Event::AdminMessage` (the frame).
    Admin(Vec<u8>),
    /// `Event::RejectSent`: RefSeqNum, 373 code, RefTagID.
    RejectSent(u64, u32, Option<u32>),
    /// `Event::RejectReceived` (the frame).
    RejectReceived(Vec<u8>),
    /// `Event::SequenceGap`.
    Gap {
        /// Expected.
        expected: u64,
        /// Received.
        received: u64,
    },
    /// `Event::ResendRequested`.
    ResendRequested(u64, u64),
    /// `Event::SequenceReset`.
    SequenceReset(u64, bool),
    /// `Event::Garbled`.
    Garbled,
    /// `Event::Ignored`.
    Ignored(&'static str),
    /// `Event::Warning`.
    Warning(&'static str),
    /// Any event this enum does not know yet.
    Other,
}

/// A [`SessionIo`] that records everything and keeps an in-memory store.
#[derive(Debug, Default, Clone)]
pub struct Recorder {
    /// Bytes sent and not yet taken by [`Recorder::take_sent`].
    pub out: Vec<u8>,
    /// Number of `close()` calls.
    pub closes: usize,
    /// Set by `close()`, cleared by the harness when it reconnects.
    pub closed: bool,
    /// The outbound journal.
    pub journal: BTreeMap<u64, Vec<u8>>,
    /// Last reported next outgoing number.
    pub next_sender: u64,
    /// Last reported next incoming number.
    pub next_target: u64,
    /// Every next-target report, in order (to check that numbers never go back).
    pub target_history: Vec<u64>,
    /// Every next-sender report, in order.
    pub sender_history: Vec<u64>,
    /// Number of `reset_store()` calls.
    pub store_resets: usize,
    /// Every event.
    pub events: Vec<Recorded>,
    /// Application messages delivered and not yet taken by the driver.
    pub pending_app: Vec<Vec<u8>>,
    /// When set, `can_send()` answers false (simulated back-pressure).
    pub full: bool,
    /// Every `persist_outbound` call happened before the matching `send` (checked as we go).
    pub persisted_before_send: bool,
    last_persisted: Option<Vec<u8>>,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self {
            persisted_before_send: true,
            next_sender: 1,
            next_target: 1,
            ..Self::default()
        }
    }
    /// Take the bytes sent so far.
    pub fn take_sent(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }
    /// The state changes recorded, in order.
    pub fn states(&self) -> Vec<SessionState> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Recorded::State(_, to) => Some(*to),
                _ => None,
            })
            .collect()
    }
    /// Whether an event equal to `e` was recorded.
    pub fn saw(&self, e: &Recorded) -> bool {
        self.events.contains(e)
    }
    /// Application messages delivered (all of them, in order).
    pub fn app_messages(&self) -> Vec<Vec<u8>> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Recorded::App(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }
}

impl SessionIo for Recorder {
    fn send(&mut self, bytes: &[u8]) {
        let is_app = MessageRef::new(bytes)
            .msg_type()
            .is_some_and(|t| !matches!(t, b"0" | b"1" | b"2" | b"3" | b"4" | b"5" | b"A"));
        let poss_dup = MessageRef::new(bytes).get(43) == Some(b"Y");
        // A message held behind a replay is sent after later ones were journaled: compare with
        // the journal entry of its own number.
        let journaled = MessageRef::new(bytes)
            .get(34)
            .and_then(|v| std::str::from_utf8(v).ok()?.parse::<u64>().ok())
            .and_then(|seq| self.journal.get(&seq))
            .is_some_and(|j| j.as_slice() == bytes);
        if is_app && !poss_dup && self.last_persisted.as_deref() != Some(bytes) && !journaled {
            self.persisted_before_send = false;
        }
        self.out.extend_from_slice(bytes);
    }
    fn can_send(&self) -> bool {
        !self.full
    }
    fn close(&mut self) {
        self.closes += 1;
        self.closed = true;
    }
    fn persist_outbound(&mut self, seq: u64, bytes: &[u8]) {
        self.journal.insert(seq, bytes.to_vec());
        self.last_persisted = Some(bytes.to_vec());
    }
    fn next_sender_seq_changed(&mut self, next: u64) {
        self.next_sender = next;
        self.sender_history.push(next);
    }
    fn next_target_seq_changed(&mut self, next: u64) {
        self.next_target = next;
        self.target_history.push(next);
    }
    fn read_outbound(&mut self, begin: u64, end: u64, f: &mut dyn FnMut(u64, &[u8])) {
        for (seq, bytes) in self.journal.range(begin..=end) {
            f(*seq, bytes);
        }
    }
    fn reset_store(&mut self) {
        self.store_resets += 1;
        self.journal.clear();
    }
    fn event(&mut self, event: Event<'_>) {
        let r = match event {
            Event::StateChanged { from, to } => Recorded::State(from, to),
            Event::LoggedOn { reset } => Recorded::LoggedOn { reset },
            Event::LoggedOut { text } => Recorded::LoggedOut(String::from_utf8_lossy(text).into()),
            Event::AppMessage(m) => {
                self.pending_app.push(m.as_bytes().to_vec());
                Recorded::App(m.as_bytes().to_vec())
            }
            Event::AdminMessage(m) => Recorded::Admin(m.as_bytes().to_vec()),
            Event::RejectSent {
                ref_seq_num,
                reason,
                tag,
            } => Recorded::RejectSent(ref_seq_num, reason.code(), tag),
            Event::RejectReceived(m) => Recorded::RejectReceived(m.as_bytes().to_vec()),
            Event::SequenceGap { expected, received } => Recorded::Gap { expected, received },
            Event::ResendRequested { begin, end } => Recorded::ResendRequested(begin, end),
            Event::SequenceReset {
                new_seq_no,
                gap_fill,
            } => Recorded::SequenceReset(new_seq_no, gap_fill),
            Event::Garbled(_) => Recorded::Garbled,
            Event::Ignored(why) => Recorded::Ignored(why),
            Event::Warning(why) => Recorded::Warning(why),
            _ => Recorded::Other,
        };
        self.events.push(r);
    }
}

/// Replace `|` by SOH.
pub fn soh(text: &str) -> Vec<u8> {
    text.replace('|', "\x01").into_bytes()
}

/// Replace SOH by `|` (for messages in assertions).
pub fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace('\x01', "|")
}

/// Substitute `<TIME>`, `<TIME+N>`, `<TIME-N>` (N seconds) with `YYYYMMDD-HH:MM:SS` at `utc`.
pub fn with_time(text: &str, utc: UtcTimestamp) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // Bounded: every iteration consumes at least the matched `<TIME`.
    while let Some(i) = rest.find("<TIME") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 5..];
        let Some(close) = after.find('>') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let shift: i64 = after[..close].trim_start_matches('+').parse().unwrap_or(0);
        let t = utc.add_nanos(i128::from(shift) * 1_000_000_000);
        out.push_str(&t.to_fix_string(fix_codec::TimePrecision::Seconds));
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// A valid frame: `8=<begin>`, computed `9=`, the fields of `body` (`|` for SOH, trailing `|`
/// optional), computed `10=`.
pub fn build_frame(begin: &str, body: &str) -> Vec<u8> {
    let mut b = soh(body);
    if !b.ends_with(b"\x01") {
        b.push(1);
    }
    let mut m = format!("8={begin}\x019={}\x01", b.len()).into_bytes();
    m.extend_from_slice(&b);
    let sum = checksum(&m);
    m.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
    m
}

/// `fix!("FIX.4.2", "35=0|34=2|49=A|52=<TIME>|56=B|")` builds a valid frame; with a third argument
/// (a `UtcTimestamp`) `<TIME>` markers are substituted first.
#[macro_export]
macro_rules! fix {
    ($begin:expr, $body:expr) => {
        $crate::build_frame($begin, $body)
    };
    ($begin:expr, $body:expr, $utc:expr) => {
        $crate::build_frame($begin, &$crate::with_time($body, $utc))
    };
}

/// Split a byte stream into complete frames (trailing partial data is ignored).
pub fn split_frames(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let framer = Framer::default();
    let mut out = Vec::new();
    // Bounded: each iteration consumes bytes or stops.
    loop {
        match framer.next_frame(bytes) {
            FrameStatus::Complete { len } => {
                out.push(bytes[..len].to_vec());
                bytes = &bytes[len..];
            }
            FrameStatus::Garbled { skip, .. } => bytes = &bytes[skip.max(1).min(bytes.len())..],
            FrameStatus::NeedMore => return out,
        }
    }
}

/// `(tag, value)` pairs of a frame, in order.
pub fn fields(frame: &[u8]) -> Vec<(u32, String)> {
    MessageRef::new(frame)
        .fields()
        .map_while(Result::ok)
        .map(|f| (f.tag, String::from_utf8_lossy(f.value).into_owned()))
        .collect()
}

/// The value of `tag` in `frame`, as text.
pub fn get(frame: &[u8], tag: u32) -> Option<String> {
    MessageRef::new(frame)
        .get(tag)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Check `frame` against `expected` (`8=..|9=..|35=..|...|10=..|` text): same tags in the same
/// order; values equal, except `*` (anything) and tags 10, 52, 60, 122 (any value).
pub fn matches(frame: &[u8], expected: &str) -> Result<(), String> {
    let got = fields(frame);
    let want: Vec<(u32, String)> = expected
        .split('|')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.parse().unwrap_or(0), v.to_string())
        })
        .collect();
    let err = || format!("expected {expected}\n     got {}", show(frame));
    if got.len() != want.len() {
        return Err(err());
    }
    for ((gt, gv), (wt, wv)) in got.iter().zip(&want) {
        if gt != wt {
            return Err(err());
        }
        let free = wv == "*" || matches!(*wt, 10 | 52 | 60 | 122);
        if !free && gv != wv {
            return Err(err());
        }
    }
    Ok(())
}

/// The application side of an [`Endpoint`]: sees each delivered application message after the
/// session yielded, and may send through the session.
pub trait App {
    /// One delivered application message (the frame).
    fn on_message(&mut self, session: &mut Session, msg: &[u8], now: Now, io: &mut Recorder);
}

/// An application that does nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoApp;

impl App for NoApp {
    fn on_message(&mut self, _: &mut Session, _: &[u8], _: Now, _: &mut Recorder) {}
}

/// Writes the body of a received message into an encoder (for echoes); the default sorts body fields
/// by tag, a dictionary-aware one keeps repeating groups in dictionary order.
pub type BodyWriter = Box<dyn Fn(&[u8], &mut fix_codec::Encoder<'_>) + Send>;

/// The QuickFIX acceptance-suite application: echoes `NewOrderSingle <D>` (and
/// `SecurityDefinition <d>` on 4.2+), drops a `PossResend <97>=Y` order whose `ClOrdID <11>` it saw
/// already, and rejects everything else (`BusinessMessageReject <j>` on 4.2+, a session Reject with
/// "Unsupported message type" on 4.0/4.1).
pub struct EchoApp {
    seen_cl_ord_ids: HashSet<Vec<u8>>,
    body: BodyWriter,
}

impl std::fmt::Debug for EchoApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EchoApp").finish_non_exhaustive()
    }
}

impl Default for EchoApp {
    fn default() -> Self {
        Self::new(Box::new(write_body_sorted))
    }
}

impl EchoApp {
    /// An echo application with a custom body writer.
    pub fn new(body: BodyWriter) -> Self {
        Self {
            seen_cl_ord_ids: HashSet::new(),
            body,
        }
    }
}

/// Body fields of `msg`, sorted by tag (stable), written to `enc`.
pub use fix_codec::encode::write_body_sorted;

impl App for EchoApp {
    fn on_message(&mut self, session: &mut Session, msg: &[u8], now: Now, io: &mut Recorder) {
        let m = MessageRef::new(msg);
        let Some(t) = m.msg_type() else { return };
        let v42 = session.version() >= fix_session::FixVersion::Fix42;
        let echo = t == b"D" || (t == b"d" && v42);
        if echo {
            if t == b"D" {
                let id = m.get(11).unwrap_or(b"").to_vec();
                let poss_resend = m.get(97) == Some(b"Y");
                if poss_resend && self.seen_cl_ord_ids.contains(&id) {
                    return;
                }
                self.seen_cl_ord_ids.insert(id);
            }
            let body = &self.body;
            let poss_resend = m.get(97).map(|v| [(97u32, v)]);
            let header: &[(u32, &[u8])] = poss_resend.as_ref().map_or(&[], |h| &h[..]);
            let _ = session.send_app_with_header(t, header, now, io, |e| body(msg, e));
        } else if v42 {
            let seq = m.get(34).unwrap_or(b"0").to_vec();
            let _ = session.send_app(b"j", now, io, |e| {
                e.field(45, &seq)
                    .field(58, b"Unsupported Message Type")
                    .field(372, t)
                    .field(380, b"3");
            });
        } else {
            let _ = session.reject_app_message(
                msg,
                None,
                None,
                Some("Unsupported message type"),
                now,
                io,
            );
        }
    }
}

/// A session with its recorder and input buffer, driven as an engine would.
#[derive(Debug)]
pub struct Endpoint {
    /// The session.
    pub session: Session,
    /// Its I/O.
    pub io: Recorder,
    inbuf: Vec<u8>,
}

impl Endpoint {
    /// Wrap a session.
    pub fn new(session: Session) -> Self {
        let mut io = Recorder::new();
        io.next_sender = session.next_sender_seq();
        io.next_target = session.next_target_seq();
        Self {
            session,
            io,
            inbuf: Vec::new(),
        }
    }

    /// Feed received bytes; the application answers each delivered message in turn.
    pub fn receive(&mut self, bytes: &[u8], now: Now, app: &mut dyn App) {
        self.inbuf.extend_from_slice(bytes);
        // Bounded: each round consumes input, processes a queued message, or stops.
        for _ in 0..1_000_000 {
            let st = self.session.handle_input(&self.inbuf, now, &mut self.io);
            self.inbuf.drain(..st.consumed);
            let pending = std::mem::take(&mut self.io.pending_app);
            for m in pending {
                app.on_message(&mut self.session, &m, now, &mut self.io);
            }
            if !st.yielded && !self.session.has_ready_queued_input() {
                break;
            }
        }
        self.flush_output(now);
    }

    /// Let a paced replay ([`Session::wants_output`]) run to its end, or until the transport is
    /// full ([`Recorder::full`]): the in-memory pipe always has room otherwise.
    pub fn flush_output(&mut self, now: Now) {
        // Bounded: each round advances the replay by at least one number, or stops.
        while self.session.wants_output() {
            let before = self.io.out.len();
            self.session.resume_output(now, &mut self.io);
            if self.io.out.len() == before && self.io.full {
                break;
            }
        }
    }

    /// The transport was opened.
    pub fn connect(&mut self, now: Now) {
        self.inbuf.clear();
        self.io.closed = false;
        self.session.connected(now, &mut self.io);
    }

    /// The transport was lost.
    pub fn drop_connection(&mut self, now: Now) {
        self.inbuf.clear();
        self.session.disconnected(now, &mut self.io);
    }

    /// Call `handle_timeout` if the deadline has passed.
    pub fn tick(&mut self, now: Now) {
        if self.session.next_deadline().is_some_and(|d| now.mono >= d) {
            self.session.handle_timeout(now, &mut self.io);
        }
    }
}

/// Two sessions wired back to back through in-memory pipes, with a manual clock and faults.
#[derive(Debug)]
pub struct Pair {
    /// The initiator (side A).
    pub a: Endpoint,
    /// The acceptor (side B).
    pub b: Endpoint,
    /// The clock.
    pub clock: ManualClock,
    a_to_b: VecDeque<Vec<u8>>,
    b_to_a: VecDeque<Vec<u8>>,
}

impl Pair {
    /// Wire `a` (usually the initiator) and `b`.
    pub fn new(a: Session, b: Session) -> Self {
        Self {
            a: Endpoint::new(a),
            b: Endpoint::new(b),
            clock: ManualClock::default(),
            a_to_b: VecDeque::new(),
            b_to_a: VecDeque::new(),
        }
    }

    /// Connect both ends (acceptor first, as TCP accept completes before the initiator writes).
    pub fn connect(&mut self) {
        self.a_to_b.clear();
        self.b_to_a.clear();
        let now = self.clock.now();
        self.b.connect(now);
        self.a.connect(now);
    }

    /// Drop the connection under both ends (no Logout).
    pub fn drop_link(&mut self) {
        let now = self.clock.now();
        self.a_to_b.clear();
        self.b_to_a.clear();
        self.a.drop_connection(now);
        self.b.drop_connection(now);
    }

    /// Move what each side sent into the pipes (one chunk per message).
    fn collect(&mut self) {
        for m in split_frames(&self.a.io.take_sent()) {
            self.a_to_b.push_back(m);
        }
        for m in split_frames(&self.b.io.take_sent()) {
            self.b_to_a.push_back(m);
        }
    }

    /// Messages in flight from A to B.
    pub fn in_flight_a_to_b(&mut self) -> &mut VecDeque<Vec<u8>> {
        self.collect();
        &mut self.a_to_b
    }

    /// Messages in flight from B to A.
    pub fn in_flight_b_to_a(&mut self) -> &mut VecDeque<Vec<u8>> {
        self.collect();
        &mut self.b_to_a
    }

    /// Deliver one message each way (if any). Returns whether anything moved.
    pub fn step(&mut self, app_a: &mut dyn App, app_b: &mut dyn App) -> bool {
        self.collect();
        let now = self.clock.now();
        let mut moved = false;
        if let Some(m) = self.a_to_b.pop_front() {
            self.b.receive(&m, now, app_b);
            moved = true;
        }
        if let Some(m) = self.b_to_a.pop_front() {
            self.a.receive(&m, now, app_a);
            moved = true;
        }
        self.handle_closes();
        moved
    }

    /// A close by either side drops the link for both (after delivering what was sent before it).
    pub fn handle_closes(&mut self) {
        if self.a.io.closed || self.b.io.closed {
            self.a.io.closed = false;
            self.b.io.closed = false;
            // Deliver what was sent before the close (graceful close: FIN after the data).
            self.collect();
            let now = self.clock.now();
            while let Some(m) = self.a_to_b.pop_front() {
                if self.b.session.is_connected() {
                    self.b.receive(&m, now, &mut NoApp);
                }
            }
            while let Some(m) = self.b_to_a.pop_front() {
                if self.a.session.is_connected() {
                    self.a.receive(&m, now, &mut NoApp);
                }
            }
            self.b.io.out.clear();
            self.a.io.out.clear();
            self.drop_link();
            self.a.io.closed = false;
            self.b.io.closed = false;
        }
    }

    /// Deliver until nothing moves (bounded).
    pub fn pump(&mut self, app_a: &mut dyn App, app_b: &mut dyn App) {
        for _ in 0..100_000 {
            if !self.step(app_a, app_b) {
                return;
            }
        }
    }

    /// Advance the clock by `d`, firing timers on both sides (at each deadline in between).
    pub fn advance(&mut self, d: Duration, app_a: &mut dyn App, app_b: &mut dyn App) {
        let end = self
            .clock
            .now()
            .mono
            .add_nanos(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        for _ in 0..100_000 {
            let next = [
                self.a.session.next_deadline(),
                self.b.session.next_deadline(),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(t) if t <= end => {
                    self.clock.advance_to(t);
                    let now = self.clock.now();
                    self.a.tick(now);
                    self.b.tick(now);
                    self.handle_closes();
                    self.pump(app_a, app_b);
                }
                _ => break,
            }
        }
        self.clock.advance_to(end);
    }
}

/// A scripted counterparty talking to one session under test.
#[derive(Debug)]
pub struct ScriptedPeer {
    /// The session under test.
    pub ep: Endpoint,
    /// The clock.
    pub clock: ManualClock,
    /// BeginString the peer writes.
    pub begin: String,
    received: VecDeque<Vec<u8>>,
}

impl ScriptedPeer {
    /// A peer for `session`.
    pub fn new(session: Session) -> Self {
        let begin = session.config().begin_string.clone();
        Self {
            ep: Endpoint::new(session),
            clock: ManualClock::default(),
            begin,
            received: VecDeque::new(),
        }
    }

    /// Open the connection.
    pub fn connect(&mut self) {
        let now = self.clock.now();
        self.ep.connect(now);
    }

    /// Send `body` (`35=..|34=..|...`, `<TIME>` substituted) in a valid frame with our BeginString.
    pub fn send(&mut self, body: &str, app: &mut dyn App) {
        let f = build_frame(&self.begin, &with_time(body, self.clock.now().utc));
        self.send_raw(&f, app);
    }

    /// Send bytes exactly as given.
    pub fn send_raw(&mut self, bytes: &[u8], app: &mut dyn App) {
        let now = self.clock.now();
        self.ep.receive(bytes, now, app);
    }

    fn collect(&mut self) {
        for m in split_frames(&self.ep.io.take_sent()) {
            self.received.push_back(m);
        }
    }

    /// The next message the session sent, if any.
    pub fn next_message(&mut self) -> Option<Vec<u8>> {
        self.collect();
        self.received.pop_front()
    }

    /// Take the next message and check it against `expected` (see [`matches()`]).
    pub fn expect(&mut self, expected: &str) -> Vec<u8> {
        match self.next_message() {
            Some(m) => {
                if let Err(e) = matches(&m, expected) {
                    panic!("{e}");
                }
                m
            }
            None => panic!("expected {expected}, got nothing"),
        }
    }

    /// Assert that nothing more was sent.
    pub fn expect_nothing(&mut self) {
        if let Some(m) = self.next_message() {
            panic!("expected nothing, got {}", show(&m));
        }
    }

    /// Whether the session closed the connection (and nothing more was sent).
    pub fn expect_disconnect(&mut self) {
        self.expect_nothing();
        assert!(
            self.ep.io.closed,
            "expected the session to close the connection"
        );
    }

    /// Advance time by `d`, firing the session's timers at each deadline on the way.
    pub fn advance(&mut self, d: Duration) {
        let end = self
            .clock
            .now()
            .mono
            .add_nanos(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        for _ in 0..100_000 {
            match self.ep.session.next_deadline() {
                Some(t) if t <= end => {
                    self.clock.advance_to(t);
                    let now = self.clock.now();
                    self.ep.session.handle_timeout(now, &mut self.ep.io);
                }
                _ => break,
            }
        }
        self.clock.advance_to(end);
    }

    /// Advance to the session's next deadline and fire it. Returns false if there is none.
    pub fn fire_next_deadline(&mut self) -> bool {
        match self.ep.session.next_deadline() {
            Some(t) => {
                self.clock.advance_to(t);
                let now = self.clock.now();
                self.ep.session.handle_timeout(now, &mut self.ep.io);
                true
            }
            None => false,
        }
    }

    /// The state of the session under test.
    pub fn state(&self) -> SessionState {
        self.ep.session.state()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_frame_is_framed_and_checksummed() {
        let f = fix!("FIX.4.2", "35=0|34=2|49=A|56=B|");
        assert_eq!(
            Framer::default().next_frame(&f),
            FrameStatus::Complete { len: f.len() }
        );
        assert!(show(&f).starts_with("8=FIX.4.2|9=20|35=0|34=2|"));
        assert_eq!(split_frames(&[f.clone(), f.clone()].concat()).len(), 2);
    }

    #[test]
    fn time_markers_are_substituted() {
        let t = UtcTimestamp::from_unix_secs(0);
        assert_eq!(
            with_time("52=<TIME>|122=<TIME-1>|60=<TIME+61>|", t),
            "52=19700101-00:00:00|122=19691231-23:59:59|60=19700101-00:01:01|"
        );
    }

    #[test]
    fn matcher_checks_tags_values_and_count() {
        let f = fix!("FIX.4.2", "35=0|34=2|52=x|");
        assert!(matches(&f, "8=FIX.4.2|9=*|35=0|34=2|52=y|10=*|").is_ok());
        assert!(matches(&f, "8=FIX.4.2|9=*|35=0|34=3|52=y|10=*|").is_err());
        assert!(matches(&f, "8=FIX.4.2|9=*|35=0|34=2|10=*|").is_err());
        assert!(matches(&f, "8=FIX.4.2|9=*|35=0|52=y|34=2|10=*|").is_err());
    }

    #[test]
    fn manual_clock_moves_both_clocks() {
        let mut c = ManualClock::default();
        let before = c.now();
        c.advance(Duration::from_millis(1500));
        let after = c.now();
        assert_eq!(after.mono.since(before.mono), 1_500_000_000);
        assert_eq!(after.utc.abs_diff_nanos(before.utc), 1_500_000_000);
    }
}

//! Deterministic simulation of FIX session pairs.
//!
//! [`run_seed`] builds an initiator and an acceptor ([`fix_session::Session`]) that talk over a
//! simulated link, and drives them with a schedule drawn from a seeded generator: application
//! messages both ways, the passage of time, and faults (dropped, duplicated, delayed and corrupted
//! bytes, disconnects, process restarts that rebuild a session from its [`MemoryStore`], clock
//! jumps within the SendingTime accuracy limit). After every step the invariants are checked:
//!
//! * no application message is delivered twice unless the second copy carries `PossDupFlag <43>=Y`;
//! * the `MsgSeqNum <34>` of delivered application messages strictly increases;
//! * the stored sequence numbers never go back (no reset is configured);
//! * every application message is journaled before it is sent.
//!
//! When the schedule ends the faults stop and the pair must heal: both sessions `ESTABLISHED`,
//! nothing left in flight, and every message sent by one side delivered to the other.
//!
//! Everything (time, randomness, links) is simulated, so a seed replays exactly.

pub mod fuzz;
mod rng;

use std::collections::{HashSet, VecDeque};

use fix_codec::{MessageRef, UtcTimestamp};
use fix_session::{
    Event, MonoTime, Now, Role, SeqState, Session, SessionConfig, SessionIo, SessionState,
};
use fix_store::{MemoryStore, SessionStore};

pub use rng::Rng;

/// How a simulation run is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimConfig {
    /// Steps of the faulty schedule before the heal phase.
    pub steps: u32,
    /// Lines of trace kept for the failure report.
    pub trace_tail: usize,
    /// Break an invariant on purpose (the receiver forgets it delivered a message), to prove the
    /// checker catches it. Never set outside the simulator's own tests.
    pub sabotage: Sabotage,
    /// When the faults stop, start from a fresh connection (and again every 60 s of virtual time
    /// while not healed). Without it the pair must heal over the connection it has, which it
    /// cannot when bytes lost mid-connection took a ResendRequest or its answer: see
    /// `docs/RELIABILITY.md`, "Simulation".
    pub reconnect_to_heal: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            steps: 300,
            trace_tail: 40,
            sabotage: Sabotage::None,
            reconnect_to_heal: true,
        }
    }
}

/// Deliberate bugs the simulator can inject into its own harness, to show that the invariants
/// are not vacuous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sabotage {
    /// A faithful harness.
    #[default]
    None,
    /// On restart, the acceptor's store "forgets" the last incoming number it committed
    /// (as a store that loses its final write would), so the peer's message is seen again.
    LoseIncomingCommit,
    /// On restart, the initiator's store loses its journal, so resends gap-fill application
    /// messages the peer never got.
    LoseJournal,
}

/// The outcome of one seed that passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Application messages accepted by `send_app`, both sides.
    pub sent: u64,
    /// Application messages delivered, both sides (PossDup copies included).
    pub delivered: u64,
    /// Disconnects (injected or by a session).
    pub disconnects: u64,
    /// Process restarts.
    pub restarts: u64,
    /// Chunks dropped, duplicated or corrupted on the links.
    pub faulted_chunks: u64,
    /// Logons completed.
    pub logons: u64,
}

/// Why a seed failed, with the end of its trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// The step at which the invariant broke (`steps` and beyond: the heal phase).
    pub step: u32,
    /// What broke.
    pub reason: String,
    /// The last lines of the event trace.
    pub trace: Vec<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "seed {} failed at step {}: {}",
            self.seed, self.step, self.reason
        )?;
        writeln!(f, "trace tail:")?;
        for line in &self.trace {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}

/// Per-seed fault rates (per mille per chunk or per step), drawn from the seed so that the
/// seeds cover quiet links as well as very hostile ones.
#[derive(Debug, Clone, Copy)]
struct Faults {
    drop: u32,
    duplicate: u32,
    corrupt: u32,
    delay: u32,
    disconnect: u32,
    restart: u32,
    clock_jump: u32,
}

impl Faults {
    fn draw(rng: &mut Rng) -> Self {
        let mut p = |max: u64| u32::try_from(rng.below(max + 1)).unwrap_or(0);
        Faults {
            drop: p(40),
            duplicate: p(40),
            corrupt: p(40),
            delay: p(200),
            disconnect: p(25),
            restart: p(15),
            clock_jump: p(40),
        }
    }
}

/// Bounds on the simulated world. Every loop below is bounded by one of them.
const MAX_IN_FLIGHT_BYTES: usize = 4 << 20;
const MAX_INBUF: usize = 4 << 20;
const MAX_EVENTS_PER_ADVANCE: u32 = 200_000;
/// Each side's wall clock stays within this of true time, so the pair never differs by more than
/// twice it: below the 120 s SendingTime accuracy limit.
const MAX_UTC_SKEW_NS: i64 = 30_000_000_000;
const HEART_BT_INT: u32 = 5;
/// Numbers replayed per call when answering a ResendRequest (`SessionConfig::resend_batch`).
const RESEND_BATCH: u64 = 3;
/// Virtual time the heal phase may take.
const HEAL_SECS: u64 = 600;
/// In the heal phase, a fresh connection this often while not healed.
const HEAL_RECONNECT_SECS: u64 = 60;

/// What one side's application observed; survives restarts (the application keeps its own
/// records, as a real one would in its database).
#[derive(Debug, Default)]
struct AppView {
    seen: HashSet<Vec<u8>>,
    last_seq: u64,
    delivered: u64,
}

/// The [`SessionIo`] of a simulated process: a [`MemoryStore`] that outlives restarts, the bytes
/// to send, and invariant checks on what the session reports.
struct NodeIo {
    store: MemoryStore,
    out: Vec<u8>,
    closed: bool,
    app: AppView,
    violations: Vec<String>,
    last_persisted: Option<Vec<u8>>,
    logons: u64,
    trace: Vec<String>,
}

impl SessionIo for NodeIo {
    fn send(&mut self, bytes: &[u8]) {
        let m = MessageRef::new(bytes);
        let is_app = m
            .msg_type()
            .is_some_and(|t| !matches!(t, b"0" | b"1" | b"2" | b"3" | b"4" | b"5" | b"A"));
        // A message held behind a paced resend is sent after later ones were journaled: compare
        // it with the journal entry of its own number.
        let journaled = || {
            let mut same = false;
            if let Some(seq) = m.seq_num() {
                let _ = self
                    .store
                    .read_outbound(seq, seq, &mut |_, j| same = j == bytes);
            }
            same
        };
        if is_app
            && m.get(43) != Some(b"Y")
            && self.last_persisted.as_deref() != Some(bytes)
            && !journaled()
        {
            self.violations
                .push("application message sent without being journaled first".into());
        }
        if self.out.len() + bytes.len() <= MAX_IN_FLIGHT_BYTES {
            self.out.extend_from_slice(bytes);
        } else {
            self.violations
                .push("outbound buffer bound exceeded".into());
        }
    }
    fn close(&mut self) {
        self.closed = true;
    }
    fn persist_outbound(&mut self, seq: u64, bytes: &[u8]) {
        if let Err(e) = self.store.append_outbound(seq, bytes) {
            self.violations.push(format!("journal append {seq}: {e}"));
        }
        self.last_persisted = Some(bytes.to_vec());
    }
    fn next_sender_seq_changed(&mut self, next: u64) {
        if next < self.store.next_outgoing() {
            self.violations.push(format!(
                "next outgoing went back from {} to {next}",
                self.store.next_outgoing()
            ));
        }
        if let Err(e) = self.store.set_next_outgoing(next) {
            self.violations.push(format!("store outgoing {next}: {e}"));
        }
    }
    fn next_target_seq_changed(&mut self, next: u64) {
        if next < self.store.next_incoming() {
            self.violations.push(format!(
                "next incoming went back from {} to {next}",
                self.store.next_incoming()
            ));
        }
        if let Err(e) = self.store.set_next_incoming(next) {
            self.violations.push(format!("store incoming {next}: {e}"));
        }
    }
    fn read_outbound(&mut self, begin: u64, end: u64, f: &mut dyn FnMut(u64, &[u8])) {
        let mut mismatch = None;
        let r = self.store.read_outbound(begin, end, &mut |seq, bytes| {
            // The journal must hand back, under each number, the message sent with it.
            let stored = MessageRef::new(bytes).seq_num();
            if stored != Some(seq) && mismatch.is_none() {
                mismatch = Some((seq, stored));
            }
            f(seq, bytes);
        });
        if let Err(e) = r {
            self.violations.push(format!("journal read: {e}"));
        }
        if let Some((seq, stored)) = mismatch {
            self.violations.push(format!(
                "journal read {begin}..={end}: under {seq} it returned the message with 34={stored:?}"
            ));
        }
    }
    fn reset_store(&mut self) {
        self.violations
            .push("store reset: no reset is configured in the simulation".into());
    }
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::AppMessage(m) => {
                let id = m.get(11).unwrap_or_default().to_vec();
                let seq = m.seq_num().unwrap_or(0);
                let poss_dup = m.get(43) == Some(b"Y");
                self.app.delivered += 1;
                let first = self.app.seen.insert(id.clone());
                if !first && !poss_dup {
                    self.violations.push(format!(
                        "{} (34={seq}) delivered twice without PossDup",
                        String::from_utf8_lossy(&id)
                    ));
                }
                if seq <= self.app.last_seq {
                    self.violations.push(format!(
                        "delivered MsgSeqNum went from {} to {seq}",
                        self.app.last_seq
                    ));
                }
                self.app.last_seq = seq;
                self.trace.push(format!(
                    "deliver {} 34={seq}{}",
                    String::from_utf8_lossy(&id),
                    if poss_dup { " PossDup" } else { "" }
                ));
            }
            Event::StateChanged { from, to } => {
                self.trace.push(format!("state {from:?} -> {to:?}"));
            }
            Event::LoggedOn { reset } => {
                self.logons += 1;
                self.trace.push(format!("logged on (reset {reset})"));
            }
            Event::SequenceGap { expected, received } => {
                self.trace
                    .push(format!("gap: expected {expected}, got {received}"));
            }
            Event::ResendRequested { begin, end } => {
                self.trace.push(format!("resend requested {begin}..={end}"));
            }
            Event::SequenceReset {
                new_seq_no,
                gap_fill,
            } => {
                self.trace.push(format!(
                    "sequence reset to {new_seq_no} (gap fill {gap_fill})"
                ));
            }
            Event::LoggedOut { text } => {
                self.trace
                    .push(format!("peer logout: {}", String::from_utf8_lossy(text)));
            }
            Event::RejectSent {
                ref_seq_num,
                reason,
                tag,
            } => {
                self.trace.push(format!(
                    "reject sent 45={ref_seq_num} {reason:?} tag {tag:?}"
                ));
            }
            Event::Warning(w) => self.trace.push(format!("warning: {w}")),
            Event::Ignored(w) => self.trace.push(format!("ignored: {w}")),
            Event::Garbled(e) => self.trace.push(format!("garbled: {e}")),
            _ => {}
        }
    }
}

/// One simulated process: a session, its I/O, its input buffer and its wall-clock skew.
struct Node {
    name: &'static str,
    cfg: SessionConfig,
    session: Session,
    io: NodeIo,
    inbuf: Vec<u8>,
    skew_ns: i64,
    sent_ids: Vec<Vec<u8>>,
}

impl Node {
    fn new(name: &'static str, cfg: SessionConfig) -> Result<Self, String> {
        let session = Session::new(cfg.clone(), SeqState::default()).map_err(|e| e.to_string())?;
        Ok(Node {
            name,
            cfg,
            session,
            io: NodeIo {
                store: MemoryStore::new(0),
                out: Vec::new(),
                closed: false,
                app: AppView::default(),
                violations: Vec::new(),
                last_persisted: None,
                logons: 0,
                trace: Vec::new(),
            },
            inbuf: Vec::new(),
            skew_ns: 0,
            sent_ids: Vec::new(),
        })
    }

    /// The process dies and starts again: everything but the store and the application's
    /// records is lost.
    fn restart(&mut self, sabotage: Sabotage) -> Result<(), String> {
        match sabotage {
            Sabotage::LoseIncomingCommit if self.name == "acceptor" => {
                let n = self.io.store.next_incoming();
                if n > 1 {
                    // Bypass the NodeIo check: this models a store that silently lost a write.
                    let _ = self.io.store.set_next_incoming(n - 1);
                }
            }
            Sabotage::LoseJournal if self.name == "initiator" => {
                let (o, i) = (self.io.store.next_outgoing(), self.io.store.next_incoming());
                self.io.store = MemoryStore::new(0);
                let _ = self.io.store.set_next_outgoing(o);
                let _ = self.io.store.set_next_incoming(i);
            }
            _ => {}
        }
        let seq = SeqState {
            next_sender: self.io.store.next_outgoing(),
            next_target: self.io.store.next_incoming(),
            first_logon: false,
        };
        self.session = Session::new(self.cfg.clone(), seq).map_err(|e| e.to_string())?;
        self.inbuf.clear();
        self.io.out.clear();
        self.io.closed = false;
        self.io.last_persisted = None;
        Ok(())
    }

    fn now(&self, mono: MonoTime, utc0: UtcTimestamp) -> Now {
        let true_ns = i128::from(mono.as_nanos());
        Now::new(mono, utc0.add_nanos(true_ns + i128::from(self.skew_ns)))
    }

    /// Feed received bytes to the session until it has consumed what it can.
    fn receive(&mut self, bytes: &[u8], now: Now) {
        if !self.session.is_connected() {
            return;
        }
        if self.inbuf.len() + bytes.len() > MAX_INBUF {
            self.io
                .violations
                .push("input buffer bound exceeded (session stopped consuming)".into());
            return;
        }
        self.inbuf.extend_from_slice(bytes);
        // Bounded: every round consumes input or drains the queue, or the loop stops.
        for _ in 0..100_000 {
            let st = self.session.handle_input(&self.inbuf, now, &mut self.io);
            self.inbuf.drain(..st.consumed.min(self.inbuf.len()));
            if !st.yielded && !self.session.has_ready_queued_input() {
                return;
            }
            if !self.session.is_connected() {
                return;
            }
        }
        self.io
            .violations
            .push("handle_input did not settle in 100000 rounds".into());
    }

    /// One more batch of a paced resend, if one is in progress (as the engine does once per loop
    /// iteration): replays interleave with timers, input and new messages.
    fn resume_output(&mut self, now: Now) {
        if self.session.wants_output() {
            self.session.resume_output(now, &mut self.io);
        }
    }
}

/// Bytes in flight one way: chunks with the instant they arrive. Delivery is in order (a
/// delayed chunk holds up those behind it, as a TCP stream would).
#[derive(Default)]
struct Pipe {
    chunks: VecDeque<(MonoTime, Vec<u8>)>,
    bytes: usize,
}

struct World {
    seed: u64,
    rng: Rng,
    faults: Faults,
    faults_on: bool,
    mono: MonoTime,
    utc0: UtcTimestamp,
    nodes: [Node; 2],
    pipes: [Pipe; 2],
    link_up: bool,
    stats: Stats,
    trace: VecDeque<String>,
    trace_cap: usize,
    step: u32,
    next_id: u64,
    sabotage: Sabotage,
    reconnect_to_heal: bool,
}

const INIT: usize = 0;
const ACC: usize = 1;

impl World {
    fn log(&mut self, line: String) {
        if self.trace.len() == self.trace_cap {
            self.trace.pop_front();
        }
        self.trace.push_back(format!(
            "[{} t={}ms] {line}",
            self.step,
            self.mono.as_nanos() / 1_000_000
        ));
    }

    /// Move the nodes' trace lines into the world's bounded trace.
    fn drain_node_traces(&mut self) {
        for i in 0..2 {
            let lines = std::mem::take(&mut self.nodes[i].io.trace);
            let name = self.nodes[i].name;
            for l in lines {
                self.log(format!("{name}: {l}"));
            }
        }
    }

    fn now(&self, i: usize) -> Now {
        self.nodes[i].now(self.mono, self.utc0)
    }

    fn check(&mut self) -> Result<(), String> {
        self.drain_node_traces();
        for n in &self.nodes {
            if let Some(v) = n.io.violations.first() {
                return Err(format!("{}: {v}", n.name));
            }
        }
        Ok(())
    }

    /// Move what node `i` sent into its pipe, with faults, cut into chunks of random sizes (so
    /// the receiver sees partial and batched reads).
    ///
    /// Loss and duplication act on whole messages. Dropping or repeating an arbitrary byte range
    /// inside a stream is something TCP never does (it closes the connection instead), and FIX's
    /// additive CheckSum cannot detect the splice it makes when two messages of equal length
    /// and equal digit sums are cut at the same offset: an earlier version of this simulator did
    /// that, and the receiver duly accepted the head of one resent message glued to the tail of
    /// another. A single corrupted byte, on the other hand, always changes the sum mod 256.
    fn collect(&mut self, i: usize) {
        let out = std::mem::take(&mut self.nodes[i].io.out);
        if !self.link_up || out.is_empty() {
            return;
        }
        let framer = fix_codec::Framer::default();
        let mut stream: Vec<u8> = Vec::with_capacity(out.len());
        let mut rest = &out[..];
        // Bounded: each round consumes at least one byte.
        while !rest.is_empty() {
            let len = match framer.next_frame(rest) {
                fix_codec::FrameStatus::Complete { len } => len,
                fix_codec::FrameStatus::Garbled { skip, .. } => skip.max(1),
                _ => rest.len(),
            }
            .min(rest.len());
            let (frame, tail) = rest.split_at(len);
            rest = tail;
            let mut copies = 1;
            let mut frame = frame.to_vec();
            if self.faults_on {
                let f = self.faults;
                let name = self.nodes[i].name;
                if self.rng.chance(f.drop) {
                    self.stats.faulted_chunks += 1;
                    self.log(format!("{name}: drop a message of {len} bytes"));
                    continue;
                }
                if self.rng.chance(f.corrupt) {
                    let k = usize::try_from(self.rng.below(frame.len() as u64)).unwrap_or(0);
                    let x = u8::try_from(self.rng.range(1, 255)).unwrap_or(1);
                    frame[k] ^= x;
                    self.stats.faulted_chunks += 1;
                    self.log(format!("{name}: corrupt byte {k} of a {len} byte message"));
                }
                if self.rng.chance(f.duplicate) {
                    copies = 2;
                    self.stats.faulted_chunks += 1;
                    self.log(format!("{name}: duplicate a message of {len} bytes"));
                }
            }
            for _ in 0..copies {
                stream.extend_from_slice(&frame);
            }
        }
        let mut rest = &stream[..];
        while !rest.is_empty() {
            let n = usize::try_from(self.rng.range(1, 400))
                .unwrap_or(1)
                .min(rest.len());
            let (chunk, tail) = rest.split_at(n);
            rest = tail;
            let mut at = self.mono.add_nanos(self.rng.range(50_000, 2_000_000));
            if self.faults_on && self.rng.chance(self.faults.delay) {
                at = at.add_nanos(self.rng.range(100_000_000, 8_000_000_000));
            }
            let pipe = &mut self.pipes[i];
            if pipe.bytes + chunk.len() > MAX_IN_FLIGHT_BYTES {
                // A full socket buffer: `settle` declares the connection dead.
                break;
            }
            pipe.bytes += chunk.len();
            pipe.chunks.push_back((at, chunk.to_vec()));
        }
    }

    fn deliver_due(&mut self) {
        for from in [INIT, ACC] {
            let to = 1 - from;
            // Bounded by the pipe's length.
            while let Some((at, _)) = self.pipes[from].chunks.front() {
                if *at > self.mono || !self.link_up {
                    break;
                }
                let Some((_, chunk)) = self.pipes[from].chunks.pop_front() else {
                    break;
                };
                self.pipes[from].bytes -= chunk.len();
                let now = self.now(to);
                self.nodes[to].receive(&chunk, now);
                self.collect(to);
            }
        }
    }

    /// A session asked to close: what it sent before the close still arrives (FIN follows
    /// data), then the link is down for both.
    fn handle_closes(&mut self) {
        if !(self.nodes[0].io.closed || self.nodes[1].io.closed) {
            return;
        }
        for i in 0..2 {
            if self.nodes[i].io.closed {
                self.log(format!("{} closes the connection", self.nodes[i].name));
            }
        }
        self.collect(INIT);
        self.collect(ACC);
        for from in [INIT, ACC] {
            let to = 1 - from;
            while let Some((_, chunk)) = self.pipes[from].chunks.pop_front() {
                let now = self.now(to);
                self.nodes[to].receive(&chunk, now);
            }
            self.pipes[from].bytes = 0;
        }
        self.disconnect("after close");
    }

    fn disconnect(&mut self, why: &str) {
        for i in 0..2 {
            self.nodes[i].io.out.clear();
            self.nodes[i].io.closed = false;
            self.nodes[i].inbuf.clear();
            self.pipes[i] = Pipe::default();
        }
        if self.link_up {
            self.stats.disconnects += 1;
            self.log(format!("link down ({why})"));
        }
        self.link_up = false;
        for i in 0..2 {
            let now = self.now(i);
            let n = &mut self.nodes[i];
            n.session.disconnected(now, &mut n.io);
            n.io.closed = false;
        }
    }

    fn connect(&mut self) {
        if self.link_up {
            return;
        }
        self.link_up = true;
        self.log("link up".into());
        // The acceptor's accept completes before the initiator's Logon arrives.
        for i in [ACC, INIT] {
            let now = self.now(i);
            let n = &mut self.nodes[i];
            n.inbuf.clear();
            n.io.closed = false;
            n.session.connected(now, &mut n.io);
        }
        self.collect(ACC);
        self.collect(INIT);
    }

    fn settle(&mut self) {
        for i in [INIT, ACC] {
            let now = self.now(i);
            self.nodes[i].resume_output(now);
        }
        self.collect(INIT);
        self.collect(ACC);
        self.handle_closes();
        if self.pipes.iter().any(|p| p.bytes >= MAX_IN_FLIGHT_BYTES) {
            self.disconnect("socket buffer full");
        }
    }

    /// Advance virtual time to `end`, stopping at every timer deadline and chunk arrival.
    fn advance_to(&mut self, end: MonoTime) -> Result<(), String> {
        for _ in 0..MAX_EVENTS_PER_ADVANCE {
            self.settle();
            let deadlines = self.nodes.iter().filter_map(|n| n.session.next_deadline());
            let arrivals = self
                .pipes
                .iter()
                .filter_map(|p| p.chunks.front().map(|c| c.0));
            let next = deadlines.chain(arrivals).min();
            match next {
                Some(t) if t <= end => {
                    if t > self.mono {
                        self.mono = t;
                    }
                    for i in 0..2 {
                        let now = self.now(i);
                        let n = &mut self.nodes[i];
                        if n.session.next_deadline().is_some_and(|d| now.mono >= d) {
                            n.session.handle_timeout(now, &mut n.io);
                        }
                    }
                    self.settle();
                    self.deliver_due();
                    self.settle();
                    self.check()?;
                }
                _ => {
                    self.mono = self.mono.max(end);
                    return self.check();
                }
            }
        }
        Err("time did not advance: a deadline stays in the past (livelock)".into())
    }

    fn send_app(&mut self, i: usize) {
        let id = format!("{}{}", if i == INIT { 'I' } else { 'A' }, self.next_id);
        self.next_id += 1;
        let now = self.now(i);
        let n = &mut self.nodes[i];
        if !n.session.is_logged_on() {
            return;
        }
        let r = n.session.send_app(b"D", now, &mut n.io, |e| {
            e.field(11, id.as_bytes());
            e.field(55, b"SIM");
        });
        if let Ok(seq) = r {
            n.sent_ids.push(id.clone().into_bytes());
            self.stats.sent += 1;
            let name = n.name;
            self.log(format!("{name} sends {id} 34={seq}"));
        }
        self.settle();
    }

    fn random_step(&mut self) -> Result<(), String> {
        let f = self.faults;
        let r = self.rng.below(100);
        if r < 30 {
            let i = if self.rng.chance(500) { INIT } else { ACC };
            self.send_app(i);
        } else if r < 80 {
            let dt = self.rng.range(1_000_000, 400_000_000);
            self.advance_to(self.mono.add_nanos(dt))?;
        } else if r < 88 {
            if !self.link_up {
                self.connect();
            } else if self.rng.chance(f.disconnect * 20) {
                if self.rng.chance(300) {
                    // A graceful Logout (end of day); with IntradayLogoutTolerance the numbers
                    // continue at the next Logon.
                    let i = usize::try_from(self.rng.below(2)).unwrap_or(0);
                    let now = self.now(i);
                    let n = &mut self.nodes[i];
                    let r = n.session.disconnect("sim logout", now, &mut n.io);
                    let name = n.name;
                    self.log(format!("{name} logs out: {r:?}"));
                } else {
                    self.disconnect("injected");
                }
            }
        } else if r < 93 {
            if self.rng.chance(f.restart * 30) {
                let i = usize::try_from(self.rng.below(2)).unwrap_or(0);
                self.disconnect("process restart");
                self.log(format!("{} restarts from its store", self.nodes[i].name));
                self.nodes[i].restart(self.sabotage)?;
                self.stats.restarts += 1;
            }
        } else if self.rng.chance(f.clock_jump * 20) {
            if self.rng.chance(500) {
                // Both clocks jump forward together (a stalled process, a suspended VM).
                let dt = self.rng.range(1_000_000_000, 40_000_000_000);
                self.log(format!("time jumps {}ms", dt / 1_000_000));
                self.advance_to(self.mono.add_nanos(dt))?;
            } else {
                // One wall clock is stepped, within the accuracy limit.
                let i = usize::try_from(self.rng.below(2)).unwrap_or(0);
                let step =
                    i64::try_from(self.rng.below(40_000_000_001)).unwrap_or(0) - 20_000_000_000;
                let n = &mut self.nodes[i];
                n.skew_ns = (n.skew_ns + step).clamp(-MAX_UTC_SKEW_NS, MAX_UTC_SKEW_NS);
                let s = n.skew_ns;
                let name = n.name;
                self.log(format!("{name} wall clock skew now {}ms", s / 1_000_000));
            }
        }
        self.settle();
        self.check()
    }

    fn healed(&self) -> bool {
        self.link_up
            && self
                .nodes
                .iter()
                .all(|n| n.session.state() == SessionState::Established)
            && self.pipes.iter().all(|p| p.chunks.is_empty())
            && self.nodes.iter().all(|n| n.inbuf.is_empty())
            && self.missing().is_none()
    }

    /// The first message sent by one side and never delivered to the other.
    fn missing(&self) -> Option<String> {
        for i in 0..2 {
            let peer = &self.nodes[1 - i];
            for id in &self.nodes[i].sent_ids {
                if !peer.io.app.seen.contains(id) {
                    return Some(format!(
                        "{} sent {} and {} never received it",
                        self.nodes[i].name,
                        String::from_utf8_lossy(id),
                        peer.name
                    ));
                }
            }
        }
        None
    }

    /// Faults stop: reconnect when down and let heartbeats reveal trailing gaps, until healed.
    fn heal(&mut self) -> Result<(), String> {
        self.faults_on = false;
        self.log("faults stop".into());
        let end = self.mono.add_nanos(HEAL_SECS * 1_000_000_000);
        let mut next_reconnect = self.mono;
        // Bounded by HEAL_SECS of virtual time in half-second steps.
        while self.mono < end {
            self.step += 1;
            if self.reconnect_to_heal && self.mono >= next_reconnect {
                // Bytes lost inside a live connection can take a ResendRequest (or its answer)
                // with them, and the session never repeats one: only a new Logon restarts gap
                // recovery. A fresh connection is what an operator (or ForcedReconnect) does.
                self.disconnect("heal: fresh connection");
                next_reconnect = self.mono.add_nanos(HEAL_RECONNECT_SECS * 1_000_000_000);
            }
            if !self.link_up {
                self.connect();
            }
            self.advance_to(self.mono.add_nanos(500_000_000))?;
            // Half a heartbeat interval more, so a heartbeat carrying the last number goes out.
            if self.healed() {
                self.advance_to(self.mono.add_nanos(u64::from(HEART_BT_INT) * 3_000_000_000))?;
                if self.healed() {
                    return Ok(());
                }
            }
        }
        let states: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("{} {:?}", n.name, n.session.state()))
            .collect();
        Err(match self.missing() {
            Some(m)
                if self
                    .nodes
                    .iter()
                    .all(|n| n.session.state() == SessionState::Established) =>
            {
                format!("message lost: {m}")
            }
            _ => format!(
                "did not re-establish within {HEAL_SECS}s after the faults stopped ({}; link up {})",
                states.join(", "),
                self.link_up
            ),
        })
    }
}

fn session_config(role: Role, begin: &str) -> SessionConfig {
    let (me, them) = match role {
        Role::Initiator => ("INI", "ACC"),
        Role::Acceptor => ("ACC", "INI"),
    };
    let c = SessionConfig::new(begin, me, them, role)
        .with_heart_bt_int(HEART_BT_INT)
        // Resends are paced a few numbers at a time, so that new messages, timers, faults and
        // further ResendRequests hit replays in progress.
        .with_resend_batch(RESEND_BATCH)
        // Sequence numbers survive every disconnect: the loss checks rely on it.
        .with_intraday_logout_tolerance(true);
    if begin == "FIXT.1.1" {
        c.with_default_appl_ver_id("9")
    } else {
        c
    }
}

/// Run one seed. `Ok` with statistics when every invariant held and the pair healed.
pub fn run_seed(seed: u64, cfg: &SimConfig) -> Result<Stats, Failure> {
    let mut rng = Rng::new(seed);
    let begin =
        ["FIX.4.2", "FIX.4.4", "FIXT.1.1", "FIX.4.0"][usize::try_from(rng.below(4)).unwrap_or(0)];
    let faults = Faults::draw(&mut rng);
    let fail = |step: u32, reason: String, trace: Vec<String>| Failure {
        seed,
        step,
        reason,
        trace,
    };
    let nodes = match (
        Node::new("initiator", session_config(Role::Initiator, begin)),
        Node::new("acceptor", session_config(Role::Acceptor, begin)),
    ) {
        (Ok(a), Ok(b)) => [a, b],
        (Err(e), _) | (_, Err(e)) => return Err(fail(0, format!("config: {e}"), Vec::new())),
    };
    let mut w = World {
        seed,
        rng,
        faults,
        faults_on: true,
        mono: MonoTime::from_secs(1_000),
        // 2024-01-02 03:04:05.678 UTC at mono 0: any fixed instant replays the same.
        utc0: UtcTimestamp::from_unix_nanos(1_704_164_645_678_000_000),
        nodes,
        pipes: [Pipe::default(), Pipe::default()],
        link_up: false,
        stats: Stats::default(),
        trace: VecDeque::new(),
        trace_cap: cfg.trace_tail.max(1),
        step: 0,
        next_id: 0,
        sabotage: cfg.sabotage,
        reconnect_to_heal: cfg.reconnect_to_heal,
    };
    w.log(format!("seed {} {begin} faults {:?}", w.seed, w.faults));
    w.connect();
    let mut result = Ok(());
    for step in 0..cfg.steps {
        w.step = step;
        result = w.random_step();
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        result = w.heal();
    }
    match result {
        Ok(()) => {
            w.stats.delivered = w.nodes.iter().map(|n| n.io.app.delivered).sum();
            w.stats.logons = w.nodes.iter().map(|n| n.io.logons).sum();
            Ok(w.stats)
        }
        Err(reason) => {
            w.drain_node_traces();
            let step = w.step;
            Err(fail(step, reason, w.trace.into_iter().collect()))
        }
    }
}

/// Run `count` seeds from `start`; the first failure, or the summed statistics.
pub fn run_seeds(start: u64, count: u64, cfg: &SimConfig) -> Result<Stats, Failure> {
    let mut total = Stats::default();
    for seed in start..start.saturating_add(count) {
        let s = run_seed(seed, cfg)?;
        total.sent += s.sent;
        total.delivered += s.delivered;
        total.disconnects += s.disconnects;
        total.restarts += s.restarts;
        total.faulted_chunks += s.faulted_chunks;
        total.logons += s.logons;
    }
    Ok(total)
}

//! Helpers for the reconnection and failover tests: a test acceptor (our own engine), proxies in
//! front of it (`fix_testkit::proxy`), initiator settings with short intervals, and an
//! application that records every callback, including the reconnection events.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use fix_codec::MessageRef;
use fix_engine::config::{
    EngineSettings, IdleStrategy, SessionSettings, StorageSettings, StorageType,
};
use fix_engine::{
    Application, ConnectionEvent, Engine, EngineBuilder, Replies, SessionHandle, SessionState,
};
use fix_testkit::proxy::Proxy;

/// Bound on every wait.
pub const WAIT: Duration = Duration::from_secs(10);
/// Reconnect interval used by most tests.
pub const INTERVAL: Duration = Duration::from_millis(40);

/// What the application saw (one session name per engine in these tests, so no name).
#[derive(Debug, Clone, PartialEq)]
pub enum Ev {
    State(SessionState, SessionState),
    Logon(bool),
    Logout(String),
    Message(Vec<u8>),
    Connected(u16),
    ConnectFailed(u16),
    Lost,
    Reconnecting {
        endpoint: usize,
        attempt: u32,
        delay: Duration,
    },
    GaveUp(u32),
    Warning(String),
    Gap(u64, u64),
    SentLogon(Vec<u8>),
}

/// Records every callback into a channel.
pub struct Rec {
    tx: Sender<(Instant, Ev)>,
}

impl Rec {
    pub fn new() -> (Arc<Self>, Receiver<(Instant, Ev)>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        (Arc::new(Self { tx }), rx)
    }
    fn put(&self, e: Ev) {
        let _ = self.tx.send((Instant::now(), e));
    }
}

impl Application for Rec {
    fn on_state_change(&self, _: &SessionHandle, from: SessionState, to: SessionState) {
        self.put(Ev::State(from, to));
    }
    fn on_logon(&self, _: &SessionHandle, reset: bool) {
        self.put(Ev::Logon(reset));
    }
    fn on_logout(&self, _: &SessionHandle, text: &[u8]) {
        self.put(Ev::Logout(String::from_utf8_lossy(text).into_owned()));
    }
    fn on_message(&self, _: &SessionHandle, msg: MessageRef<'_>, _: &mut Replies<'_>) {
        self.put(Ev::Message(msg.as_bytes().to_vec()));
    }
    fn on_sequence_gap(&self, _: &SessionHandle, expected: u64, received: u64) {
        self.put(Ev::Gap(expected, received));
    }
    fn on_before_send(&self, _: &SessionHandle, msg: &[u8]) {
        if MessageRef::new(msg).msg_type() == Some(b"A") {
            self.put(Ev::SentLogon(msg.to_vec()));
        }
    }
    fn on_connection_event(&self, _: &SessionHandle, e: ConnectionEvent<'_>) {
        let ev = match e {
            ConnectionEvent::Connected { peer } => Ev::Connected(peer.port()),
            ConnectionEvent::ConnectFailed { addr, .. } => Ev::ConnectFailed(addr.port()),
            ConnectionEvent::Lost { .. } => Ev::Lost,
            ConnectionEvent::Reconnecting {
                endpoint,
                attempt,
                delay,
                ..
            } => Ev::Reconnecting {
                endpoint,
                attempt,
                delay,
            },
            ConnectionEvent::GaveUp { attempts } => Ev::GaveUp(attempts),
            _ => return,
        };
        self.put(ev);
    }
    fn on_warning(&self, _: &SessionHandle, text: &str) {
        self.put(Ev::Warning(text.into()));
    }
}

pub fn engine_settings() -> EngineSettings {
    let mut s = EngineSettings::default();
    s.idle_strategy = IdleStrategy::Block;
    s.workers = 1;
    s
}

pub fn transient() -> StorageSettings {
    let mut st = StorageSettings::default();
    st.kind = StorageType::Transient;
    st
}

/// An acceptor session `VENUE` <- `CLIENT` (heartbeat 30 s so nothing times out by itself).
pub fn acceptor_settings(name: &str, ours: &str, theirs: &str) -> SessionSettings {
    SessionSettings::acceptor(name, "FIX.4.4", ours, theirs, 0)
        .heart_bt_int(30)
        .logout_timeout(Duration::from_secs(2))
        .storage(transient())
        .build()
        .unwrap()
}

/// The test acceptor: our own engine listening on a loopback port from the OS.
pub struct Venue {
    pub engine: Engine,
    pub rx: Receiver<(Instant, Ev)>,
}

impl Venue {
    pub fn start(sessions: Vec<SessionSettings>) -> Self {
        let (app, rx) = Rec::new();
        let mut b = EngineBuilder::new(engine_settings())
            .listen_port(Some(0))
            .application(app);
        for s in sessions {
            b = b.session(s);
        }
        Self {
            engine: b.start().unwrap(),
            rx,
        }
    }
    pub fn addr(&self) -> SocketAddr {
        self.engine.listen_addr().unwrap()
    }
    pub fn session(&self, name: &str) -> SessionHandle {
        self.engine.session(name).unwrap()
    }
}

/// An initiator engine running `s`.
pub fn client(s: SessionSettings) -> (Engine, SessionHandle, Receiver<(Instant, Ev)>) {
    let (app, rx) = Rec::new();
    let name = s.name.clone();
    let engine = EngineBuilder::new(engine_settings())
        .application(app)
        .session(s)
        .start()
        .unwrap();
    let h = engine.session(&name).unwrap();
    (engine, h, rx)
}

/// `n` proxies in front of `upstream`.
pub fn proxies(upstream: SocketAddr, n: usize) -> Vec<Proxy> {
    (0..n).map(|_| Proxy::start(upstream).unwrap()).collect()
}

/// Waits (bounded) for an event matching `pred`; returns it, or panics with what was seen.
pub fn expect(rx: &Receiver<(Instant, Ev)>, what: &str, pred: impl Fn(&Ev) -> bool) -> Ev {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((_, e)) if pred(&e) => return e,
            Ok((_, e)) => seen.push(e),
            Err(_) => panic!("timed out waiting for {what}; saw {seen:#?}"),
        }
    }
}

/// Everything recorded until `pred` matches (included), bounded by [`WAIT`].
pub fn collect_until(
    rx: &Receiver<(Instant, Ev)>,
    what: &str,
    pred: impl Fn(&Ev) -> bool,
) -> Vec<(Instant, Ev)> {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((t, e)) => {
                let done = pred(&e);
                seen.push((t, e));
                if done {
                    return seen;
                }
            }
            Err(_) => panic!(
                "timed out waiting for {what}; saw {:#?}",
                seen.iter().map(|(_, e)| e).collect::<Vec<_>>()
            ),
        }
    }
}

/// Every event received within `d`.
pub fn drain_for(rx: &Receiver<(Instant, Ev)>, d: Duration) -> Vec<Ev> {
    let deadline = Instant::now() + d;
    let mut v = Vec::new();
    while let Ok((_, e)) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        v.push(e);
    }
    v
}

/// Drops whatever is queued.
pub fn clear(rx: &Receiver<(Instant, Ev)>) {
    while rx.try_recv().is_ok() {}
}

pub fn field(msg: &[u8], tag: u32) -> Option<String> {
    MessageRef::new(msg)
        .get(tag)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Sends a NewOrderSingle with `ClOrdID <11>` = `id`.
pub fn order(h: &SessionHandle, id: &str) {
    h.send(b"D", |e| {
        e.field(11, id.as_bytes())
            .field(55, b"EURUSD")
            .field(54, b"1")
            .field(38, b"100")
            .field(40, b"1");
    })
    .unwrap();
}

/// A Logout from `sender` to `target` with `text`, `SendingTime <52>` now: a rejected Logon.
pub fn logout_frame(sender: &str, target: &str, text: &str) -> Vec<u8> {
    let now = fix_codec::UtcTimestamp::from_unix_nanos(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i128,
    );
    fix_testkit::fix!(
        "FIX.4.4",
        &format!("35=5|34=1|49={sender}|52=<TIME>|56={target}|58={text}|"),
        now
    )
}

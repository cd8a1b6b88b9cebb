//! Helpers shared by the engine integration tests: settings for loopback engines in block mode,
//! and an application that records every callback into a channel.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use fix_codec::MessageRef;
use fix_engine::config::{
    EngineSettings, IdleStrategy, SessionSettings, StorageSettings, StorageType,
};
use fix_engine::{
    Application, ConnectionEvent, Engine, EngineBuilder, Replies, SessionHandle, SessionState,
    UnregisteredLogon,
};

/// Bound on every wait in these tests.
pub const WAIT: Duration = Duration::from_secs(10);

/// Engine settings for tests: block idle strategy (2-core machines), one worker.
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

pub fn persistent(dir: &Path) -> StorageSettings {
    let mut st = StorageSettings::default();
    st.kind = StorageType::Persistent;
    st.directory = dir.to_owned();
    st
}

pub fn acceptor(name: &str, ours: &str, theirs: &str, storage: StorageSettings) -> SessionSettings {
    SessionSettings::acceptor(name, "FIX.4.4", ours, theirs, 0)
        .heart_bt_int(5)
        .logout_timeout(Duration::from_secs(2))
        .storage(storage)
        .build()
        .unwrap()
}

pub fn initiator(
    name: &str,
    ours: &str,
    theirs: &str,
    port: u16,
    storage: StorageSettings,
) -> SessionSettings {
    SessionSettings::initiator(name, "FIX.4.4", ours, theirs, "127.0.0.1", port)
        .heart_bt_int(5)
        .logout_timeout(Duration::from_secs(2))
        .storage(storage)
        .build()
        .unwrap()
}

/// An acceptor engine listening on a free loopback port.
pub fn acceptor_engine(app: Arc<dyn Application>, sessions: Vec<SessionSettings>) -> Engine {
    let mut b = EngineBuilder::new(engine_settings())
        .listen_port(Some(0))
        .application(app);
    for s in sessions {
        b = b.session(s);
    }
    b.start().unwrap()
}

/// What the recording application saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    State(String, SessionState, SessionState),
    Logon(String, bool),
    Logout(String, String),
    Message(String, Vec<u8>),
    Connected(String),
    ConnectFailed(String),
    Lost(String),
    Warning(String, String),
    Unregistered { session: String, thread: String },
    Gap(String, u64, u64),
}

/// Records every callback; optionally refuses unregistered acceptors.
pub struct Recorder {
    pub tx: Sender<Seen>,
    pub accept_unregistered: bool,
    pub store_dir: Option<std::path::PathBuf>,
}

impl Recorder {
    pub fn new() -> (Arc<Self>, Receiver<Seen>) {
        Self::with(true)
    }

    pub fn with(accept_unregistered: bool) -> (Arc<Self>, Receiver<Seen>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        (
            Arc::new(Self {
                tx,
                accept_unregistered,
                store_dir: None,
            }),
            rx,
        )
    }
}

impl Application for Recorder {
    fn on_state_change(&self, s: &SessionHandle, from: SessionState, to: SessionState) {
        let _ = self.tx.send(Seen::State(s.name().into(), from, to));
    }
    fn on_logon(&self, s: &SessionHandle, reset: bool) {
        let _ = self.tx.send(Seen::Logon(s.name().into(), reset));
    }
    fn on_logout(&self, s: &SessionHandle, text: &[u8]) {
        let _ = self.tx.send(Seen::Logout(
            s.name().into(),
            String::from_utf8_lossy(text).into_owned(),
        ));
    }
    fn on_message(&self, s: &SessionHandle, msg: MessageRef<'_>, _: &mut Replies<'_>) {
        let _ = self
            .tx
            .send(Seen::Message(s.name().into(), msg.as_bytes().to_vec()));
    }
    fn on_sequence_gap(&self, s: &SessionHandle, expected: u64, received: u64) {
        let _ = self.tx.send(Seen::Gap(s.name().into(), expected, received));
    }
    fn on_connection_event(&self, s: &SessionHandle, e: ConnectionEvent<'_>) {
        let seen = match e {
            ConnectionEvent::Connected { .. } => Seen::Connected(s.name().into()),
            ConnectionEvent::ConnectFailed { .. } => Seen::ConnectFailed(s.name().into()),
            ConnectionEvent::Lost { .. } => Seen::Lost(s.name().into()),
            _ => return,
        };
        let _ = self.tx.send(seen);
    }
    fn on_warning(&self, s: &SessionHandle, text: &str) {
        let _ = self.tx.send(Seen::Warning(s.name().into(), text.into()));
    }
    fn on_unregistered_acceptor(&self, logon: &UnregisteredLogon) -> bool {
        let _ = self.tx.send(Seen::Unregistered {
            session: logon.session_name.clone(),
            thread: std::thread::current().name().unwrap_or("").to_owned(),
        });
        self.accept_unregistered
    }
}

/// Waits (bounded) for an event matching `pred`; returns it, or panics with what was seen.
pub fn expect(rx: &Receiver<Seen>, what: &str, pred: impl Fn(&Seen) -> bool) -> Seen {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(e) if pred(&e) => return e,
            Ok(e) => seen.push(e),
            Err(_) => panic!("timed out waiting for {what}; saw {seen:#?}"),
        }
    }
}

/// Every event received within `d`.
pub fn drain_for(rx: &Receiver<Seen>, d: Duration) -> Vec<Seen> {
    let deadline = Instant::now() + d;
    let mut v = Vec::new();
    while let Ok(e) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        v.push(e);
    }
    v
}

pub fn field(msg: &[u8], tag: u32) -> Option<String> {
    MessageRef::new(msg)
        .get(tag)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

// ---- raw-socket counterparties ----------------------------------------------------------------

/// A complete message: `8=begin`, computed `9`, the fields, computed `10`.
pub fn fix_msg(begin: &str, fields: &[(u32, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (t, v) in fields {
        body.extend_from_slice(format!("{t}={v}\x01").as_bytes());
    }
    let mut m = format!("8={begin}\x019={}\x01", body.len()).into_bytes();
    m.extend_from_slice(&body);
    let sum = m.iter().map(|&b| u32::from(b)).sum::<u32>() % 256;
    m.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
    m
}

/// The body of the `NewOrderSingle` these tests send through the engine, `ClOrdID <11>` `id`.
pub fn order_body(e: &mut fix_codec::Encoder<'_>, id: &[u8]) {
    e.field(11, id)
        .field(21, b"1")
        .field(55, b"EURUSD")
        .field(54, b"1")
        .field(60, b"20240101-00:00:00")
        .field(38, b"1000")
        .field(40, b"1");
}

/// A FIX.4.4 Logon from `sender` to `target` with `MsgSeqNum <34>` `seq` and `HeartBtInt <108>`
/// `hb` (text, so that tests can send bad values).
pub fn raw_logon(sender: &str, target: &str, seq: u64, hb: &str) -> Vec<u8> {
    fix_msg(
        "FIX.4.4",
        &[
            (35, "A"),
            (34, &seq.to_string()),
            (49, sender),
            (52, &now()),
            (56, target),
            (98, "0"),
            (108, hb),
        ],
    )
}

/// A FIX.4.4 `NewOrderSingle` from `sender` to `target` with `ClOrdID <11>` `clordid`.
pub fn raw_order(sender: &str, target: &str, seq: u64, clordid: &str) -> Vec<u8> {
    fix_msg(
        "FIX.4.4",
        &[
            (35, "D"),
            (34, &seq.to_string()),
            (49, sender),
            (52, &now()),
            (56, target),
            (11, clordid),
            (21, "1"),
            (38, "100"),
            (40, "1"),
            (54, "1"),
            (55, "X"),
            (60, &now()),
        ],
    )
}

/// The current UTC time as a `SendingTime <52>` value, whole seconds (the engine checks its
/// accuracy against its own clock).
pub fn now() -> String {
    fix_codec::UtcTimestamp::from_unix_nanos(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i128,
    )
    .to_fix_string(fix_codec::TimePrecision::Seconds)
}

/// Reads until one complete message is in `buf` (bounded by `limit`); returns it, leaving what
/// follows in `buf`. `None` at the limit, at EOF or on a read error.
pub fn read_msg(
    s: &mut std::net::TcpStream,
    buf: &mut Vec<u8>,
    limit: Duration,
) -> Option<Vec<u8>> {
    use std::io::{ErrorKind, Read};
    let deadline = Instant::now() + limit;
    loop {
        if let Some(end) = buf
            .windows(4)
            .position(|w| w == b"\x0110=")
            .and_then(|p| buf[p + 4..].iter().position(|&b| b == 1).map(|q| p + 5 + q))
        {
            return Some(buf.drain(..end).collect());
        }
        if Instant::now() > deadline {
            return None;
        }
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return None,
        }
    }
}

//! An in-process [`fix_acceptance::Transport`]: QuickFIX acceptance scripts played against
//! sessions with a manual clock, without sockets. Waiting for a message advances the clock to the
//! sessions' next deadline instead of sleeping, so a script that takes a minute over TCP runs in
//! microseconds.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fix_acceptance::{ConnId, Received, Transport, TransportError};
use fix_codec::{
    Dictionary, FrameStatus, Framer, MessageRef, UtcTimestamp, ValidationOptions, Validator,
};
use fix_session::{Role, SeqState, Session, SessionConfig};

use crate::{EchoApp, Endpoint, ManualClock, split_frames, write_body_sorted};

/// One acceptor session of the acceptance configuration.
#[derive(Debug, Clone)]
pub struct AcceptorSpec {
    /// The session configuration (role acceptor).
    pub config: SessionConfig,
    /// The validator, also used to echo bodies in canonical order.
    pub validator: Option<Arc<Validator>>,
}

/// The sessions of `cfg/at.cfg`: `ISLD` accepting `TW40` .. `TW44`, `TW`,
/// `NO_CHECK_FIELDS_HAVE_VALUES` and the FIXT.1.1 counterparties, reset on every Logon, with the
/// dictionaries from `spec_dir`.
pub fn acceptance_sessions(spec_dir: &Path) -> Result<Vec<AcceptorSpec>, String> {
    let load = |f: &str| -> Result<Arc<Dictionary>, String> {
        Dictionary::from_file(&spec_dir.join(f))
            .map(Arc::new)
            .map_err(|e| e.to_string())
    };
    let opts = ValidationOptions::default();
    let mut out = Vec::new();
    let mut add = |begin: &str, target: &str, v: Validator, appl: Option<&str>| {
        let v = Arc::new(v);
        let mut c = SessionConfig::new(begin, "ISLD", target, Role::Acceptor)
            .with_reset_on_logon(true)
            .with_validator(v.clone());
        if let Some(a) = appl {
            c = c.with_default_appl_ver_id(a);
        }
        out.push(AcceptorSpec {
            config: c,
            validator: Some(v),
        });
    };
    for (begin, target, file) in [
        ("FIX.4.0", "TW40", "FIX40.xml"),
        ("FIX.4.1", "TW41", "FIX41.xml"),
        ("FIX.4.2", "TW42", "FIX42.xml"),
        ("FIX.4.3", "TW43", "FIX43.xml"),
        ("FIX.4.4", "TW44", "FIX44.xml"),
        ("FIX.4.4", "TW", "FIX44.xml"),
    ] {
        add(begin, target, Validator::new(load(file)?, None, opts), None);
    }
    let no_values = ValidationOptions {
        check_fields_have_values: false,
        ..opts
    };
    add(
        "FIX.4.4",
        "NO_CHECK_FIELDS_HAVE_VALUES",
        Validator::new(load("FIX44.xml")?, None, no_values),
        None,
    );
    let fixt = load("FIXT11.xml")?;
    for (target, file, appl) in [
        ("TW50", "FIX50.xml", "7"),
        ("TW50SP1", "FIX50SP1.xml", "8"),
        ("TW50SP2", "FIX50SP2.xml", "9"),
    ] {
        add(
            "FIXT.1.1",
            target,
            Validator::new(fixt.clone(), Some(load(file)?), opts),
            Some(appl),
        );
    }
    Ok(out)
}

struct Hosted {
    ep: Endpoint,
    app: EchoApp,
    conn: Option<ConnId>,
}

#[derive(Default)]
struct Conn {
    session: Option<usize>,
    inbuf: Vec<u8>,
    out: VecDeque<Vec<u8>>,
    closed: bool,
}

/// Acceptor sessions behind in-memory connections, driven by a manual clock.
pub struct InProcessAcceptor {
    clock: ManualClock,
    sessions: Vec<Hosted>,
    conns: BTreeMap<ConnId, Conn>,
}

impl std::fmt::Debug for InProcessAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessAcceptor").finish_non_exhaustive()
    }
}

impl InProcessAcceptor {
    /// Fresh sessions (fresh stores) for `specs`, with the clock at `utc`.
    pub fn new(specs: &[AcceptorSpec], utc: UtcTimestamp) -> Self {
        let sessions = specs
            .iter()
            .map(|s| {
                let session = Session::new(s.config.clone(), SeqState::default())
                    .unwrap_or_else(|e| panic!("acceptance session config: {e}"));
                let app = match &s.validator {
                    Some(v) => {
                        let v = v.clone();
                        EchoApp::new(Box::new(move |msg, enc| {
                            if v.write_body_canonical(msg, enc).is_err() {
                                write_body_sorted(msg, enc);
                            }
                        }))
                    }
                    None => EchoApp::default(),
                };
                Hosted {
                    ep: Endpoint::new(session),
                    app,
                    conn: None,
                }
            })
            .collect();
        Self {
            clock: ManualClock::new(utc),
            sessions,
            conns: BTreeMap::new(),
        }
    }

    /// Move what session `i` sent to its connection; notice a close.
    fn collect(&mut self, i: usize) {
        let h = &mut self.sessions[i];
        let Some(c) = h.conn else {
            h.ep.io.out.clear();
            return;
        };
        let sent = h.ep.io.take_sent();
        let closed = std::mem::take(&mut h.ep.io.closed);
        if closed {
            h.conn = None;
        }
        if let Some(conn) = self.conns.get_mut(&c) {
            conn.out.extend(split_frames(&sent));
            if closed {
                conn.closed = true;
                conn.session = None;
            }
        }
    }

    /// Bind an unbound connection to the session its first message names.
    fn bind(&mut self, c: ConnId) {
        let now = self.clock.now();
        let Some(conn) = self.conns.get_mut(&c) else {
            return;
        };
        let FrameStatus::Complete { len } = Framer::default().next_frame(&conn.inbuf) else {
            if !matches!(
                Framer::default().next_frame(&conn.inbuf),
                FrameStatus::NeedMore
            ) {
                // An invalid first message: the engine cannot find its session; QuickFIX closes
                // such a connection.
                conn.closed = true;
            }
            return;
        };
        let m = MessageRef::new(&conn.inbuf[..len]);
        let (begin, sender, target) = (m.begin_string(), m.get(49), m.get(56));
        let found = self.sessions.iter().position(|h| {
            let cfg = h.ep.session.config();
            Some(cfg.begin_string.as_bytes()) == begin
                && Some(cfg.target_comp_id.as_bytes()) == sender
                && Some(cfg.sender_comp_id.as_bytes()) == target
        });
        match found {
            // Unknown session, or a second connection for a connected one: close.
            None => conn.closed = true,
            Some(i) if self.sessions[i].conn.is_some() => conn.closed = true,
            Some(i) => {
                conn.session = Some(i);
                let bytes = std::mem::take(&mut conn.inbuf);
                let h = &mut self.sessions[i];
                h.conn = Some(c);
                h.ep.connect(now);
                h.ep.receive(&bytes, now, &mut h.app);
                self.collect(i);
            }
        }
    }

    /// Advance the clock by at most `timeout`, firing deadlines, until `done` says stop.
    fn wait(&mut self, c: ConnId, timeout: Duration) -> Received {
        let end = self
            .clock
            .now()
            .mono
            .add_nanos(u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX));
        for _ in 0..100_000 {
            if let Some(conn) = self.conns.get_mut(&c) {
                if let Some(m) = conn.out.pop_front() {
                    return Received::Message(m);
                }
                if conn.closed {
                    return Received::Closed;
                }
            } else {
                return Received::Closed;
            }
            let next = self
                .sessions
                .iter()
                .filter(|h| h.conn.is_some())
                .filter_map(|h| h.ep.session.next_deadline())
                .min();
            match next {
                Some(t) if t <= end => {
                    self.clock.advance_to(t);
                    let now = self.clock.now();
                    for i in 0..self.sessions.len() {
                        if self.sessions[i].conn.is_some() {
                            self.sessions[i].ep.tick(now);
                            self.collect(i);
                        }
                    }
                }
                _ => {
                    self.clock.advance_to(end);
                    return Received::TimedOut;
                }
            }
        }
        Received::TimedOut
    }
}

impl Transport for InProcessAcceptor {
    fn connect(&mut self, conn: ConnId) -> Result<(), TransportError> {
        self.disconnect(conn)?;
        self.conns.insert(conn, Conn::default());
        Ok(())
    }

    fn disconnect(&mut self, conn: ConnId) -> Result<(), TransportError> {
        if let Some(c) = self.conns.remove(&conn)
            && let Some(i) = c.session
        {
            let now = self.clock.now();
            let h = &mut self.sessions[i];
            h.conn = None;
            h.ep.drop_connection(now);
            h.ep.io.out.clear();
            h.ep.io.closed = false;
        }
        Ok(())
    }

    fn send(&mut self, conn: ConnId, bytes: &[u8]) -> Result<(), TransportError> {
        let now = self.clock.now();
        let Some(c) = self.conns.get_mut(&conn) else {
            return Err(TransportError::NotConnected(conn));
        };
        if c.closed {
            return Ok(());
        }
        match c.session {
            None => {
                c.inbuf.extend_from_slice(bytes);
                self.bind(conn);
            }
            Some(i) => {
                let h = &mut self.sessions[i];
                h.ep.receive(bytes, now, &mut h.app);
                self.collect(i);
            }
        }
        Ok(())
    }

    fn recv(&mut self, conn: ConnId, timeout: Duration) -> Result<Received, TransportError> {
        if !self.conns.contains_key(&conn) {
            return Err(TransportError::NotConnected(conn));
        }
        Ok(self.wait(conn, timeout))
    }

    fn expect_closed(
        &mut self,
        conn: ConnId,
        timeout: Duration,
    ) -> Result<Received, TransportError> {
        if !self.conns.contains_key(&conn) {
            return Err(TransportError::NotConnected(conn));
        }
        Ok(self.wait(conn, timeout))
    }

    fn now_utc(&mut self) -> UtcTimestamp {
        self.clock.now().utc
    }
}

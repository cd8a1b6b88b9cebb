//! The application `fixd` gives each session: the built-in application chosen with
//! `FixLayer.FixEngine.Session.<Name>.Application`, wrapped to write the FIX message log and to
//! report engine events through `tracing` (target `fixd::session`).

use std::sync::Arc;

use fix_codec::{MessageRef, Validator};
use fix_engine::apps::{EchoApp, ExecutorApp, NoneApp};
use fix_engine::config;
use fix_engine::{
    Application, ConnectionEvent, RejectInfo, Replies, SessionHandle, SessionState,
    UnregisteredLogon,
};

use crate::msglog::{Direction, SessionLog};

/// The built-in application for `kind`; `validator` (the session's dictionaries) gives `echo`
/// its body order.
pub fn builtin(
    kind: config::Application,
    validator: Option<Arc<Validator>>,
) -> Arc<dyn Application> {
    match kind {
        config::Application::Echo => Arc::new(EchoApp::new(validator)),
        config::Application::Executor => Arc::new(ExecutorApp::new()),
        _ => Arc::new(NoneApp),
    }
}

/// Wraps an application: logs every message in and out to the session's message log (when it
/// has one) and every engine event through `tracing`, then delegates.
///
/// What the log sees is what the engine surfaces: every message sent; received application
/// messages, Heartbeats, TestRequests and Rejects. Received Logon, Logout, ResendRequest and
/// SequenceReset messages, and messages the session drops or rejects before the application
/// (garbled frames, validation failures), are not surfaced by the engine and are missing from
/// the log; the replies to them (a `Reject <3>`, a Logout) are logged as sent.
pub struct FixdApp {
    inner: Arc<dyn Application>,
    log: Option<SessionLog>,
}

impl std::fmt::Debug for FixdApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixdApp")
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

impl FixdApp {
    /// `inner`, with an optional message log.
    pub fn new(inner: Arc<dyn Application>, log: Option<SessionLog>) -> Self {
        Self { inner, log }
    }
}

impl Application for FixdApp {
    fn on_state_change(&self, session: &SessionHandle, from: SessionState, to: SessionState) {
        // The engine logs transitions itself at info; this is for `RUST_LOG=fixd=debug` alone.
        tracing::debug!(target: "fixd::session", session = %session.name(), %from, %to, "state");
        self.inner.on_state_change(session, from, to);
    }

    fn on_logon(&self, session: &SessionHandle, reset: bool) {
        tracing::debug!(
            target: "fixd::session",
            session = %session.name(),
            reset,
            next_out = session.next_sender_seq(),
            next_in = session.next_target_seq(),
            "logged on"
        );
        self.inner.on_logon(session, reset);
    }

    fn on_logout(&self, session: &SessionHandle, text: &[u8]) {
        tracing::debug!(
            target: "fixd::session",
            session = %session.name(),
            text = %String::from_utf8_lossy(text),
            "logout received"
        );
        self.inner.on_logout(session, text);
    }

    fn on_message(&self, session: &SessionHandle, msg: MessageRef<'_>, replies: &mut Replies<'_>) {
        if let Some(l) = &self.log {
            l.record(Direction::In, msg.as_bytes());
        }
        self.inner.on_message(session, msg, replies);
    }

    fn on_admin_message(&self, session: &SessionHandle, msg: MessageRef<'_>) {
        if let Some(l) = &self.log {
            l.record(Direction::In, msg.as_bytes());
        }
        self.inner.on_admin_message(session, msg);
    }

    fn on_reject(&self, session: &SessionHandle, reject: RejectInfo<'_>) {
        match reject {
            RejectInfo::Sent {
                ref_seq_num,
                reason,
                tag,
            } => tracing::warn!(
                target: "fixd::session",
                session = %session.name(),
                ref_seq_num,
                reason = ?reason,
                tag = ?tag,
                "reject sent"
            ),
            RejectInfo::Received(m) => {
                if let Some(l) = &self.log {
                    l.record(Direction::In, m.as_bytes());
                }
                tracing::warn!(
                target: "fixd::session",
                session = %session.name(),
                ref_seq_num = ?m.get(45).map(|v| String::from_utf8_lossy(v).into_owned()),
                text = ?m.get(58).map(|v| String::from_utf8_lossy(v).into_owned()),
                "reject received"
                );
            }
            _ => {}
        }
        self.inner.on_reject(session, reject);
    }

    fn on_sequence_gap(&self, session: &SessionHandle, expected: u64, received: u64) {
        tracing::warn!(
            target: "fixd::session",
            session = %session.name(),
            expected,
            received,
            "sequence gap: resend requested"
        );
        self.inner.on_sequence_gap(session, expected, received);
    }

    fn on_before_send(&self, session: &SessionHandle, msg: &[u8]) {
        if let Some(l) = &self.log {
            l.record(Direction::Out, msg);
        }
        self.inner.on_before_send(session, msg);
    }

    fn on_connection_event(&self, session: &SessionHandle, event: ConnectionEvent<'_>) {
        match &event {
            ConnectionEvent::Connected { peer } => {
                tracing::info!(target: "fixd::session", session = %session.name(), %peer, "connected");
            }
            ConnectionEvent::ConnectFailed { addr, error } => {
                tracing::warn!(target: "fixd::session", session = %session.name(), %addr, %error, "connect failed");
            }
            ConnectionEvent::Lost { reason } => {
                tracing::info!(target: "fixd::session", session = %session.name(), %reason, "connection closed");
            }
            _ => {}
        }
        self.inner.on_connection_event(session, event);
    }

    fn on_warning(&self, session: &SessionHandle, text: &str) {
        // The engine already logs its warnings at warn level.
        tracing::debug!(target: "fixd::session", session = %session.name(), "{text}");
        self.inner.on_warning(session, text);
    }

    fn on_unregistered_acceptor(&self, logon: &UnregisteredLogon) -> bool {
        let accepted = self.inner.on_unregistered_acceptor(logon);
        tracing::info!(
            target: "fixd::session",
            session = %logon.session_name,
            peer = ?logon.peer,
            accepted,
            "logon from an unregistered counterparty"
        );
        accepted
    }
}

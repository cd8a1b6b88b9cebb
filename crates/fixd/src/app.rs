//! The application `fixd` gives each session: the built-in application chosen with
//! `FixLayer.FixEngine.Session.<Name>.Application`, wrapped to report engine events through
//! `tracing` (target `fixd::session`). The FIX message log (`MessageLog`) is the engine's own.

use std::sync::Arc;

use fix_codec::{MessageRef, Validator};
use fix_engine::apps::{EchoApp, ExecutorApp, NoneApp};
use fix_engine::config;
use fix_engine::{
    Application, ConnectionEvent, RejectInfo, Replies, SessionHandle, SessionState,
    UnregisteredLogon,
};

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

/// Wraps an application: reports every engine event the engine does not log itself (connections,
/// rejects, sequence gaps, unregistered counterparties) through `tracing`, then delegates.
pub struct FixdApp {
    inner: Arc<dyn Application>,
}

impl std::fmt::Debug for FixdApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixdApp").finish_non_exhaustive()
    }
}

impl FixdApp {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Application>) -> Self {
        Self { inner }
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
        self.inner.on_message(session, msg, replies);
    }

    fn on_admin_message(&self, session: &SessionHandle, msg: MessageRef<'_>) {
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

    fn on_logon_credentials(
        &self,
        session: &SessionHandle,
        username: Option<&[u8]>,
        password: Option<&[u8]>,
    ) -> Result<(), String> {
        let r = self.inner.on_logon_credentials(session, username, password);
        if let Err(text) = &r {
            tracing::warn!(target: "fixd::session", session = %session.name(), %text, "logon refused");
        }
        r
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

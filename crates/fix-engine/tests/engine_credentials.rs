//! Logon credentials over 127.0.0.1: an initiator sends `Username <553>` / `Password <554>`; an
//! acceptor checks them against its configured `Username` / `Password`, then asks
//! `Application::on_logon_credentials`; a refusal is a Logout with a text, then the close. Also
//! `ListenPort = 0` / `Port = 0`: the OS chooses the port, visible through the API.

mod engine_support;

use std::sync::Arc;

use engine_support::*;
use fix_engine::config::{Application as AppKind, Config, SessionSettings};
use fix_engine::{
    Application, ConnectionEvent, Engine, EngineBuilder, SessionHandle, SessionState,
};
use parking_lot::Mutex;

fn venue(credentials: Option<(&str, &str)>, app: Arc<dyn Application>) -> Engine {
    let mut b = SessionSettings::acceptor("VENUE", "FIX.4.4", "VENUE", "CLIENT", 0)
        .heart_bt_int(5)
        .storage(transient())
        .application(AppKind::None);
    if let Some((u, p)) = credentials {
        b = b.credentials(Some(u.into()), Some(p.into()));
    }
    acceptor_engine(app, vec![b.build().unwrap()])
}

fn client_settings(port: u16, user: Option<&str>, pass: Option<&str>) -> SessionSettings {
    SessionSettings::initiator("CLIENT", "FIX.4.4", "CLIENT", "VENUE", "127.0.0.1", port)
        .heart_bt_int(5)
        .storage(transient())
        .credentials(user.map(Into::into), pass.map(Into::into))
        .build()
        .unwrap()
}

/// Logs on with these credentials; returns `ESTABLISHED` or the terminated state the attempt
/// ended in, and the text of a Logout received before that, if any. Logs out and releases.
fn try_logon(
    client: &Engine,
    port: u16,
    user: Option<&str>,
    pass: Option<&str>,
) -> (SessionState, Option<String>) {
    let (capp, crx) = Recorder::new();
    let c = client
        .create_session_with(client_settings(port, user, pass), capp)
        .unwrap();
    let end = c
        .wait_for(WAIT, |s| {
            s == SessionState::Established || s.is_terminated()
        })
        .unwrap();
    let text = drain_for(&crx, std::time::Duration::from_millis(20))
        .into_iter()
        .find_map(|e| match e {
            Seen::Logout(_, t) => Some(t),
            _ => None,
        });
    if end == SessionState::Established {
        c.disconnect_and_wait("bye", WAIT).unwrap();
    }
    c.wait_for(WAIT, |s| s.is_terminated()).unwrap();
    c.release().unwrap();
    (end, text)
}

#[test]
fn configured_credentials_accept_the_right_logon_and_refuse_wrong_ones() {
    let (vapp, _vrx) = Recorder::new();
    let venue = venue(Some(("trader", "s3cret")), vapp);
    let port = venue.listen_addr().unwrap().port();
    let v = venue.session("VENUE").unwrap();
    let client = EngineBuilder::new(engine_settings()).start().unwrap();
    let refused = (
        SessionState::NonGracefullyTerminated,
        Some("Invalid username or password".to_owned()),
    );
    assert_eq!(
        try_logon(&client, port, Some("trader"), Some("wrong")),
        refused
    );
    assert_eq!(
        try_logon(&client, port, Some("other"), Some("s3cret")),
        refused
    );
    assert_eq!(try_logon(&client, port, Some("trader"), None), refused);
    assert_eq!(try_logon(&client, port, None, None), refused);
    // A prefix of the password is not the password.
    assert_eq!(
        try_logon(&client, port, Some("trader"), Some("s3cre")),
        refused
    );
    // The acceptor waits for the next Logon after each refusal and takes the right one.
    assert_eq!(v.state(), SessionState::WaitForFirstLogon);
    assert_eq!(
        try_logon(&client, port, Some("trader"), Some("s3cret")),
        (SessionState::Established, None)
    );
}

/// Session name, username and password of one check.
type Asked = (String, Option<String>, Option<String>);

/// Refuses `mallory`; remembers what it was asked.
#[derive(Default)]
struct Gatekeeper {
    asked: Mutex<Vec<Asked>>,
}

impl Application for Gatekeeper {
    fn on_logon_credentials(
        &self,
        session: &SessionHandle,
        username: Option<&[u8]>,
        password: Option<&[u8]>,
    ) -> Result<(), String> {
        let s = |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).into_owned());
        self.asked
            .lock()
            .push((session.name().to_owned(), s(username), s(password)));
        if username == Some(b"mallory") {
            Err("not you".into())
        } else {
            Ok(())
        }
    }
    fn on_connection_event(&self, _: &SessionHandle, _: ConnectionEvent<'_>) {}
}

#[test]
fn the_application_callback_can_refuse_a_logon() {
    let gate = Arc::new(Gatekeeper::default());
    let venue = venue(None, gate.clone());
    let port = venue.listen_addr().unwrap().port();
    let client = EngineBuilder::new(engine_settings()).start().unwrap();
    assert_eq!(
        try_logon(&client, port, Some("mallory"), Some("pw1")),
        (
            SessionState::NonGracefullyTerminated,
            Some("not you".into())
        )
    );
    assert_eq!(
        try_logon(&client, port, Some("alice"), Some("pw2")).0,
        SessionState::Established
    );
    let asked = gate.asked.lock().clone();
    assert_eq!(
        asked,
        vec![
            ("VENUE".into(), Some("mallory".into()), Some("pw1".into())),
            ("VENUE".into(), Some("alice".into()), Some("pw2".into())),
        ]
    );
}

#[test]
fn configured_credentials_are_checked_before_the_application_is_asked() {
    let gate = Arc::new(Gatekeeper::default());
    let venue = venue(Some(("alice", "pw")), gate.clone());
    let port = venue.listen_addr().unwrap().port();
    let client = EngineBuilder::new(engine_settings()).start().unwrap();
    assert_eq!(
        try_logon(&client, port, Some("alice"), Some("bad"))
            .1
            .as_deref(),
        Some("Invalid username or password")
    );
    assert!(gate.asked.lock().is_empty(), "refused before the callback");
    assert_eq!(
        try_logon(&client, port, Some("alice"), Some("pw")).0,
        SessionState::Established
    );
    assert_eq!(gate.asked.lock().len(), 1);
}

// ----------------------------------------------------------------------------------------------
// `ListenPort = 0` and `Port = 0`.

const VENUE_ENGINE: &str = "\
IdleStrategy = block
Workers = 1
StorageType = transient
Application = executor
FixLayer.FixEngine.Sessions = A, B
FixLayer.FixEngine.Session.A.Role = Acceptor
FixLayer.FixEngine.Session.A.Version = FIX.4.4
FixLayer.FixEngine.Session.A.SenderCompID = VENUE
FixLayer.FixEngine.Session.A.TargetCompID = CA
FixLayer.FixEngine.Session.B.Role = Acceptor
FixLayer.FixEngine.Session.B.Version = FIX.4.4
FixLayer.FixEngine.Session.B.SenderCompID = VENUE
FixLayer.FixEngine.Session.B.TargetCompID = CB
";

fn logs_on(port: u16, ours: &str) {
    let s = SessionSettings::initiator(ours, "FIX.4.4", ours, "VENUE", "127.0.0.1", port)
        .storage(transient())
        .build()
        .unwrap();
    let client = EngineBuilder::new(engine_settings())
        .session(s)
        .start()
        .unwrap();
    let c = client.session(ours).unwrap();
    c.wait_for_state(SessionState::Established, WAIT).unwrap();
    c.disconnect_and_wait("bye", WAIT).unwrap();
}

#[test]
fn listen_port_zero_lets_the_os_choose_the_engine_wide_port() {
    let text = format!("ListenPort = 0\n{VENUE_ENGINE}");
    let resolved = Config::from_str(&text, "venue.properties")
        .and_then(|c| c.resolve())
        .unwrap();
    assert_eq!(resolved.engine.listen_port, Some(0));
    let venue = EngineBuilder::from_config(&resolved).start().unwrap();
    let addr = venue.listen_addr().unwrap();
    assert_ne!(addr.port(), 0);
    assert!(addr.ip().is_loopback());
    // Both acceptors are served by that listener.
    for name in ["A", "B"] {
        assert_eq!(venue.session(name).unwrap().listen_addr(), Some(addr));
    }
    assert_eq!(venue.listen_addrs(), vec![addr]);
    logs_on(addr.port(), "CA");
    logs_on(addr.port(), "CB");
}

#[test]
fn session_port_zero_gets_a_listener_of_its_own() {
    let text = format!(
        "{VENUE_ENGINE}FixLayer.FixEngine.Session.A.Port = 0\nFixLayer.FixEngine.Session.B.SocketAcceptPort = 0\n"
    );
    let resolved = Config::from_str(&text, "venue.properties")
        .and_then(|c| c.resolve())
        .unwrap();
    let venue = EngineBuilder::from_config(&resolved).start().unwrap();
    assert_eq!(venue.listen_addr(), None, "no ListenPort");
    let a = venue.session("A").unwrap().listen_addr().unwrap();
    let b = venue.session("B").unwrap().listen_addr().unwrap();
    assert_ne!(a.port(), 0);
    assert_ne!(b.port(), 0);
    assert_ne!(a, b, "each session asked for a port of its own");
    assert_eq!(venue.listen_addrs(), {
        let mut v = vec![a, b];
        v.sort();
        v
    });
    logs_on(a.port(), "CA");
    logs_on(b.port(), "CB");
}

#[test]
fn an_initiator_cannot_connect_to_port_zero() {
    let text = "\
FixLayer.FixEngine.Sessions = I
FixLayer.FixEngine.Session.I.Role = Initiator
FixLayer.FixEngine.Session.I.Version = FIX.4.4
FixLayer.FixEngine.Session.I.SenderCompID = ME
FixLayer.FixEngine.Session.I.TargetCompID = THEM
FixLayer.FixEngine.Session.I.Host = 127.0.0.1
FixLayer.FixEngine.Session.I.Port = 0
";
    let e = Config::from_str(text, "i.properties")
        .and_then(|c| c.resolve())
        .unwrap_err();
    let shown = e.to_string();
    assert!(
        shown.contains("FixLayer.FixEngine.Session.I.Port") && shown.contains("initiator"),
        "{shown}"
    );
    let e = SessionSettings::initiator("I", "FIX.4.4", "ME", "THEM", "127.0.0.1", 0)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("Port"), "{e}");
}

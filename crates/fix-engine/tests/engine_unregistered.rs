//! Unregistered acceptors: created on a worker after the application accepted, refused by the
//! application, disabled; application messages before Logon; duplicate Logon.

mod engine_support;

use std::io::{Read, Write};
use std::time::Duration;

use engine_support::*;
use fix_engine::{EngineBuilder, SessionState};

fn venue(
    create: bool,
    accept: bool,
) -> (
    fix_engine::Engine,
    crossbeam_channel::Receiver<Seen>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let (app, rx) = Recorder::with(accept);
    let mut settings = engine_settings();
    settings.unregistered_acceptor.create_session = create;
    settings.session_defaults.storage = persistent(dir.path());
    settings.session_defaults.primary.heart_bt_int = 5;
    let e = EngineBuilder::new(settings)
        .listen_port(Some(0))
        .application(app)
        .start()
        .unwrap();
    (e, rx, dir)
}

fn client(
    port: u16,
    ours: &str,
) -> (
    fix_engine::Engine,
    fix_engine::SessionHandle,
    crossbeam_channel::Receiver<Seen>,
) {
    let (app, rx) = Recorder::new();
    let e = EngineBuilder::new(engine_settings())
        .application(app)
        .session(initiator(ours, ours, "HUB", port, transient()))
        .start()
        .unwrap();
    let h = e.session(ours).unwrap();
    (e, h, rx)
}

#[test]
fn accepted_unregistered_acceptor_is_created_on_a_worker_and_registered() {
    let (hub, hrx, dir) = venue(true, true);
    let port = hub.listen_addr().unwrap().port();
    let (_c, h, _crx) = client(port, "NEWCLIENT");
    h.wait_for_state(SessionState::Established, WAIT).unwrap();
    let Seen::Unregistered { session, thread } = expect(&hrx, "unregistered callback", |e| {
        matches!(e, Seen::Unregistered { .. })
    }) else {
        unreachable!()
    };
    assert!(
        thread.starts_with("fix-worker-"),
        "callback ran on {thread}"
    );
    let s = hub.session(&session).expect("registered");
    assert!(s.is_unregistered());
    assert!(
        s.created_on().starts_with("fix-worker-"),
        "store opened on {}",
        s.created_on()
    );
    assert!(!s.created_on().starts_with("fix-io-"));
    s.wait_for_state(SessionState::Established, WAIT).unwrap();
    assert_eq!(s.settings().primary.ids.sender_comp_id, "HUB");
    assert_eq!(s.settings().primary.ids.target_comp_id, "NEWCLIENT");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().count() >= 1,
        "store created"
    );

    // Reconnecting: the session exists, so the callback is not called again.
    h.disconnect_non_gracefully().unwrap();
    h.wait_terminated(WAIT).unwrap();
    s.wait_for_state(SessionState::WaitForFirstLogon, WAIT)
        .unwrap();
    h.connect(None, fix_engine::ConnectPhase::Reconnect)
        .unwrap();
    h.wait_for_state(SessionState::Established, WAIT).unwrap();
    let again = drain_for(&hrx, Duration::from_millis(100));
    assert!(
        !again.iter().any(|e| matches!(e, Seen::Unregistered { .. })),
        "{again:?}"
    );
    assert_eq!(
        h.next_sender_seq(),
        3,
        "numbers continued after the reconnect"
    );

    // Release it: a new Logon calls the callback again and the stored numbers continue.
    h.disconnect_non_gracefully().unwrap();
    h.wait_terminated(WAIT).unwrap();
    s.wait_for_state(SessionState::WaitForFirstLogon, WAIT)
        .unwrap();
    s.release().unwrap();
    assert!(hub.session(&session).is_none());
    h.connect(None, fix_engine::ConnectPhase::Reconnect)
        .unwrap();
    h.wait_for_state(SessionState::Established, WAIT).unwrap();
    expect(&hrx, "callback after release", |e| {
        matches!(e, Seen::Unregistered { .. })
    });
    let s2 = hub.session(&session).unwrap();
    // The acceptor answers the Logon before it counts it, so the client may see the session
    // established a moment before the number moves: wait for it (bounded).
    let deadline = std::time::Instant::now() + WAIT;
    while s2.next_target_seq() < 4 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(s2.next_target_seq(), 4, "storage reloaded");
}

#[test]
fn refused_unregistered_acceptor_closes_the_connection() {
    let (hub, hrx, _dir) = venue(true, false);
    let port = hub.listen_addr().unwrap().port();
    let (_c, h, _crx) = client(port, "REFUSED");
    expect(&hrx, "callback", |e| matches!(e, Seen::Unregistered { .. }));
    assert_eq!(
        h.wait_terminated(WAIT).unwrap(),
        SessionState::NonGracefullyTerminated
    );
    assert!(hub.sessions().is_empty());
}

#[test]
fn disabled_unregistered_acceptors_close_the_connection_without_asking() {
    let (hub, hrx, _dir) = venue(false, true);
    let port = hub.listen_addr().unwrap().port();
    let (_c, h, _crx) = client(port, "NOBODY");
    assert_eq!(
        h.wait_terminated(WAIT).unwrap(),
        SessionState::NonGracefullyTerminated
    );
    assert!(hub.sessions().is_empty());
    let seen = drain_for(&hrx, Duration::from_millis(50));
    assert!(
        !seen.iter().any(|e| matches!(e, Seen::Unregistered { .. })),
        "{seen:?}"
    );
}

fn frame(body: &str) -> Vec<u8> {
    let body = body.replace('|', "\x01");
    let head = format!("8=FIX.4.4\x019={}\x01", body.len());
    let mut m = head.into_bytes();
    m.extend_from_slice(body.as_bytes());
    let sum: u32 = m.iter().map(|&b| u32::from(b)).sum();
    m.extend_from_slice(format!("10={:03}\x01", sum % 256).as_bytes());
    m
}

fn now() -> String {
    fix_codec::UtcTimestamp::from_unix_nanos(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i128,
    )
    .to_fix_string(fix_codec::TimePrecision::Millis)
}

/// Reads until EOF (bounded); returns the bytes received.
fn read_to_eof(s: &mut std::net::TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => panic!("no EOF: {e}; got {:?}", String::from_utf8_lossy(&out)),
        }
    }
}

#[test]
fn application_message_before_logon_is_rejected_by_closing() {
    let (hub, _hrx, _dir) = venue(true, true);
    let port = hub.listen_addr().unwrap().port();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let t = now();
    s.write_all(&frame(&format!(
        "35=D|34=1|49=X|52={t}|56=HUB|11=1|21=1|55=A|54=1|60={t}|40=1|"
    )))
    .unwrap();
    assert!(
        read_to_eof(&mut s).is_empty(),
        "nothing is sent before the Logon"
    );
    assert!(hub.sessions().is_empty());
}

#[test]
fn second_logon_for_a_connected_session_is_closed_without_data() {
    let (app, _rx) = Recorder::new();
    let hub = acceptor_engine(app, vec![acceptor("ACC", "HUB", "TW", transient())]);
    let port = hub.listen_addr().unwrap().port();
    let logon = |seq: u32| {
        frame(&format!(
            "35=A|34={seq}|49=TW|52={}|56=HUB|98=0|108=30|",
            now()
        ))
    };
    let mut first = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    first.write_all(&logon(1)).unwrap();
    let acc = hub.session("ACC").unwrap();
    acc.wait_for_state(SessionState::Established, WAIT).unwrap();
    let mut second = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    second.write_all(&logon(2)).unwrap();
    assert!(read_to_eof(&mut second).is_empty());
    assert_eq!(
        acc.state(),
        SessionState::Established,
        "the first connection is untouched"
    );
    drop(first);
}

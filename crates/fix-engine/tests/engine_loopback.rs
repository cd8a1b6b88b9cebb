//! Two engines over 127.0.0.1: logon, order flow through the built-in executor, both kinds of
//! disconnect with their final states and events, and statistics.

mod engine_support;

use std::sync::Arc;
use std::time::Duration;

use engine_support::*;
use fix_engine::config::{Application as AppKind, SessionSettings};
use fix_engine::{EngineBuilder, EngineError, SessionState};

fn venue_and_client(
    executor: bool,
) -> (
    fix_engine::Engine,
    fix_engine::Engine,
    fix_engine::SessionHandle,
    fix_engine::SessionHandle,
    crossbeam_channel::Receiver<Seen>,
    crossbeam_channel::Receiver<Seen>,
) {
    let (vapp, vrx) = Recorder::new();
    let mut acc = acceptor("VENUE", "VENUE", "CLIENT", transient());
    if executor {
        acc.application = AppKind::Executor;
    }
    let venue = acceptor_engine(vapp, vec![acc]);
    let port = venue.listen_addr().unwrap().port();
    let (capp, crx) = Recorder::new();
    let client = EngineBuilder::new(engine_settings())
        .application(capp)
        .session(initiator("CLIENT", "CLIENT", "VENUE", port, transient()))
        .start()
        .unwrap();
    let c = client.session("CLIENT").unwrap();
    let v = venue.session("VENUE").unwrap();
    c.wait_for_state(SessionState::Established, WAIT).unwrap();
    v.wait_for_state(SessionState::Established, WAIT).unwrap();
    (venue, client, v, c, vrx, crx)
}

#[test]
fn orders_get_execution_reports_and_graceful_logout_ends_correctly_terminated() {
    let (_venue, _client, v, c, _vrx, crx) = venue_and_client(true);
    for i in 0..20 {
        let id = format!("ORD{i}");
        c.send(b"D", |e| order_body(e, id.as_bytes())).unwrap();
    }
    for i in 0..20 {
        let Seen::Message(_, m) = expect(
            &crx,
            "execution report",
            |e| matches!(e, Seen::Message(n, _) if n == "CLIENT"),
        ) else {
            unreachable!()
        };
        assert_eq!(field(&m, 35).as_deref(), Some("8"));
        assert_eq!(field(&m, 11), Some(format!("ORD{i}")), "replies keep order");
        assert_eq!(field(&m, 55).as_deref(), Some("EURUSD"));
        assert_eq!(field(&m, 54).as_deref(), Some("1"));
        assert_eq!(field(&m, 38).as_deref(), Some("1000"));
        assert_eq!(field(&m, 39).as_deref(), Some("0"));
    }
    // The venue's own application saw nothing (the executor answered), the venue side's
    // sequence numbers moved: Logon + 20 orders in, Logon + 20 reports out.
    assert_eq!(v.next_target_seq(), 22);
    assert_eq!(v.next_sender_seq(), 22);

    let stats = c.stats().unwrap();
    assert_eq!(stats.messages_out, 20);
    assert_eq!(stats.messages_in, 20);
    assert_eq!(stats.send_to_wire.len(), 20);
    assert_eq!(stats.inbound.len(), 20);

    let end = c.disconnect_and_wait("done", WAIT).unwrap();
    assert_eq!(end, SessionState::CorrectlyTerminated);
    assert_eq!(
        v.wait_terminated(WAIT).unwrap(),
        SessionState::CorrectlyTerminated
    );
    expect(&crx, "client state CORRECTLY_TERMINATED", |e| {
        matches!(
            e,
            Seen::State(
                _,
                SessionState::WaitForConfirmLogout,
                SessionState::CorrectlyTerminated
            )
        )
    });
    // A completed Logout exchange ends the sequence stream.
    assert_eq!(c.next_sender_seq(), 1);
    assert!(matches!(
        c.send(b"D", |_| {}),
        Err(EngineError::NotLoggedOn(SessionState::CorrectlyTerminated))
    ));
}

#[test]
fn non_graceful_disconnect_drops_tcp_and_the_acceptor_waits_for_logon() {
    let (_venue, _client, v, c, vrx, crx) = venue_and_client(false);
    c.disconnect_non_gracefully().unwrap();
    assert_eq!(
        c.wait_terminated(WAIT).unwrap(),
        SessionState::NonGracefullyTerminated
    );
    // The acceptor only sees the state change (no logout event) and waits for a new Logon.
    v.wait_for_state(SessionState::WaitForFirstLogon, WAIT)
        .unwrap();
    expect(
        &vrx,
        "venue connection lost",
        |e| matches!(e, Seen::Lost(n) if n == "VENUE"),
    );
    let events = drain_for(&vrx, Duration::from_millis(100));
    assert!(
        !events.iter().any(|e| matches!(e, Seen::Logout(..))),
        "{events:?}"
    );
    expect(&crx, "client state", |e| {
        matches!(
            e,
            Seen::State(
                _,
                SessionState::Established,
                SessionState::NonGracefullyTerminated
            )
        )
    });
}

#[test]
fn graceful_disconnect_from_the_acceptor_raises_logout_on_the_initiator() {
    let (_venue, _client, v, c, vrx, crx) = venue_and_client(false);
    expect(
        &vrx,
        "venue logon event",
        |e| matches!(e, Seen::Logon(n, false) if n == "VENUE"),
    );
    let end = v.disconnect_and_wait("closing time", WAIT).unwrap();
    assert_eq!(end, SessionState::CorrectlyTerminated);
    assert_eq!(
        c.wait_terminated(WAIT).unwrap(),
        SessionState::CorrectlyTerminated
    );
    expect(
        &crx,
        "logout event on the client",
        |e| matches!(e, Seen::Logout(n, t) if n == "CLIENT" && t == "closing time"),
    );
    let states: Vec<_> = drain_for(&vrx, Duration::from_millis(50))
        .into_iter()
        .filter_map(|e| match e {
            Seen::State(_, _, to) => Some(to),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        vec![
            SessionState::WaitForConfirmLogout,
            SessionState::CorrectlyTerminated
        ]
    );
}

#[test]
fn acceptor_resumes_numbers_when_the_initiator_reconnects() {
    let (_venue, client, v, c, _vrx, crx) = venue_and_client(true);
    for i in 0..3 {
        c.send(b"D", |e| {
            e.field(11, format!("A{i}").as_bytes())
                .field(55, b"X")
                .field(54, b"2")
                .field(38, b"5");
        })
        .unwrap();
    }
    for _ in 0..3 {
        expect(&crx, "report", |e| matches!(e, Seen::Message(..)));
    }
    c.disconnect_non_gracefully().unwrap();
    c.wait_terminated(WAIT).unwrap();
    v.wait_for_state(SessionState::WaitForFirstLogon, WAIT)
        .unwrap();
    let (out, inn) = (c.next_sender_seq(), c.next_target_seq());
    assert_eq!((out, inn), (5, 5));
    // Reconnect through the plumbing a reconnect loop uses.
    c.connect(None, fix_engine::ConnectPhase::Reconnect)
        .unwrap();
    expect(&crx, "RECONNECT state", |e| {
        matches!(e, Seen::State(_, _, SessionState::Reconnect))
    });
    c.wait_for_state(SessionState::Established, WAIT).unwrap();
    v.wait_for_state(SessionState::Established, WAIT).unwrap();
    // Numbers continued: the Logon used 5 on both sides.
    assert_eq!(c.next_sender_seq(), 6);
    assert_eq!(v.next_target_seq(), 6);
    c.send(b"D", |e| {
        e.field(11, b"AFTER")
            .field(55, b"X")
            .field(54, b"2")
            .field(38, b"5");
    })
    .unwrap();
    let Seen::Message(_, m) = expect(&crx, "report after resume", |e| {
        matches!(e, Seen::Message(..))
    }) else {
        unreachable!()
    };
    assert_eq!(field(&m, 11).as_deref(), Some("AFTER"));
    assert_eq!(field(&m, 34).as_deref(), Some("6"));
    drop(client);
}

#[test]
fn create_on_the_fly_release_and_recreate_continues_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let (vapp, _vrx) = Recorder::new();
    let venue = acceptor_engine(vapp, vec![]);
    let port = venue.listen_addr().unwrap().port();
    // Acceptor created through the API while the engine runs.
    let mut acc = acceptor("LATE", "V2", "C2", persistent(&dir.path().join("v")));
    acc.application = AppKind::Executor;
    let v = venue.create_session(acc.clone()).unwrap();
    // An acceptor waits for its Logon as soon as the engine listens for it.
    v.wait_for_state(SessionState::WaitForFirstLogon, Duration::from_secs(5))
        .unwrap();
    assert!(matches!(
        venue.create_session(acc.clone()),
        Err(EngineError::DuplicateSession(_))
    ));

    let (capp, crx) = Recorder::new();
    let client = EngineBuilder::new(engine_settings())
        .application(capp)
        .start()
        .unwrap();
    let ini = initiator("C2", "C2", "V2", port, persistent(&dir.path().join("c")));
    let c = client.create_session(ini.clone()).unwrap();
    c.wait_for_state(SessionState::Established, WAIT).unwrap();
    c.send(b"D", |e| {
        e.field(11, b"1")
            .field(55, b"Y")
            .field(54, b"1")
            .field(38, b"1");
    })
    .unwrap();
    expect(&crx, "report", |e| matches!(e, Seen::Message(..)));
    assert!(matches!(c.release(), Err(EngineError::WrongState(_))));
    c.disconnect_non_gracefully().unwrap();
    c.wait_terminated(WAIT).unwrap();
    v.wait_for_state(SessionState::WaitForFirstLogon, WAIT)
        .unwrap();
    let (out, inn) = (c.next_sender_seq(), c.next_target_seq());
    assert_eq!((out, inn), (3, 3));
    c.release().unwrap();
    assert!(c.is_released());
    assert!(matches!(
        c.send(b"D", |_| {}),
        Err(EngineError::Released(_))
    ));
    assert!(client.session("C2").is_none());
    // Same name and identity again: storage continues the numbers.
    let c = client.create_session(ini).unwrap();
    c.wait_for_state(SessionState::Established, WAIT).unwrap();
    assert_eq!(c.next_sender_seq(), 4);
    assert_eq!(v.next_target_seq(), 4);
    let _ = SessionSettings::clone(&acc);
    drop(Arc::new(()));
}

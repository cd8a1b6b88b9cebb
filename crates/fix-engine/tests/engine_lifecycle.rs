//! Engine lifecycle: restart with numbers continued from storage, many sessions on few I/O
//! threads, engines started from properties text (seed-style keys), stop logging out sessions.

mod engine_support;

use engine_support::*;
use fix_engine::config::{Application as AppKind, Config};
use fix_engine::{EngineBuilder, SessionState};

#[test]
fn restart_continues_sequence_numbers_from_storage() {
    let dir = tempfile::tempdir().unwrap();
    let mk_acc = || {
        let mut a = acceptor("V", "V", "C", persistent(&dir.path().join("venue")));
        a.application = AppKind::Executor;
        a.intraday_logout_tolerance = true;
        a
    };
    let mk_ini = |port| {
        let mut i = initiator("C", "C", "V", port, persistent(&dir.path().join("client")));
        i.intraday_logout_tolerance = true;
        i
    };
    let (vapp, _vrx) = Recorder::new();
    let mut venue = acceptor_engine(vapp, vec![mk_acc()]);
    let port = venue.listen_addr().unwrap().port();
    let (capp, crx) = Recorder::new();
    let mut client = EngineBuilder::new(engine_settings())
        .application(capp)
        .session(mk_ini(port))
        .start()
        .unwrap();
    let c = client.session("C").unwrap();
    c.wait_for_state(SessionState::Established, WAIT).unwrap();
    for i in 0..5 {
        c.send(b"D", |e| {
            e.field(11, format!("R{i}").as_bytes())
                .field(55, b"S")
                .field(54, b"1")
                .field(38, b"1");
        })
        .unwrap();
    }
    for _ in 0..5 {
        expect(&crx, "report", |e| matches!(e, Seen::Message(..)));
    }
    // Stop logs out gracefully; with IntradayLogoutTolerance the numbers continue.
    client.stop();
    assert_eq!(c.state(), SessionState::NonGracefullyTerminated);
    let (out, inn) = (c.next_sender_seq(), c.next_target_seq());
    assert_eq!((out, inn), (8, 8), "Logon, 5 orders, Logout each way");
    venue.stop();
    drop(venue);
    drop(client);

    let (vapp, _vrx) = Recorder::new();
    let venue = acceptor_engine(vapp, vec![mk_acc()]);
    let port = venue.listen_addr().unwrap().port();
    let (capp, _crx) = Recorder::new();
    let client = EngineBuilder::new(engine_settings())
        .application(capp)
        .session(mk_ini(port))
        .start()
        .unwrap();
    let c = client.session("C").unwrap();
    // Loaded from storage (the Logon may already have gone out with 8).
    assert!(c.next_sender_seq() >= 8, "{}", c.next_sender_seq());
    c.wait_for_state(SessionState::Established, WAIT).unwrap();
    let v = venue.session("V").unwrap();
    v.wait_for_state(SessionState::Established, WAIT).unwrap();
    assert_eq!(c.next_sender_seq(), 9);
    assert_eq!(v.next_target_seq(), 9);
    assert_eq!(v.next_sender_seq(), 9);
}

#[test]
fn many_sessions_on_few_io_threads() {
    const N: usize = 24;
    let (vapp, _vrx) = Recorder::new();
    let mut venue_b = EngineBuilder::new(engine_settings())
        .io_threads(2)
        .listen_port(Some(0))
        .application(vapp);
    for i in 0..N {
        let mut a = acceptor(&format!("A{i}"), "HUB", &format!("C{i}"), transient());
        a.application = AppKind::Executor;
        venue_b = venue_b.session(a);
    }
    let venue = venue_b.start().unwrap();
    let port = venue.listen_addr().unwrap().port();
    let (capp, crx) = Recorder::new();
    let mut client_b = EngineBuilder::new(engine_settings())
        .io_threads(2)
        .application(capp);
    for i in 0..N {
        client_b = client_b.session(initiator(
            &format!("I{i}"),
            &format!("C{i}"),
            "HUB",
            port,
            transient(),
        ));
    }
    let client = client_b.start().unwrap();
    let handles = client.sessions();
    assert_eq!(handles.len(), N);
    for h in &handles {
        h.wait_for_state(SessionState::Established, WAIT).unwrap();
    }
    let threads: std::collections::BTreeSet<_> =
        venue.sessions().iter().map(|h| h.io_thread()).collect();
    assert_eq!(threads.len(), 2, "acceptors spread over both I/O threads");
    let threads: std::collections::BTreeSet<_> = handles.iter().map(|h| h.io_thread()).collect();
    assert_eq!(threads.len(), 2, "initiators spread over both I/O threads");
    for h in &handles {
        let name = h.name().to_owned();
        h.send(b"D", |e| {
            e.field(11, name.as_bytes())
                .field(55, b"S")
                .field(54, b"1")
                .field(38, b"1");
        })
        .unwrap();
    }
    let mut got = std::collections::BTreeSet::new();
    for _ in 0..N {
        let Seen::Message(session, m) = expect(&crx, "report", |e| matches!(e, Seen::Message(..)))
        else {
            unreachable!()
        };
        assert_eq!(
            field(&m, 11).as_deref(),
            Some(session.as_str()),
            "routed to its own session"
        );
        got.insert(session);
    }
    assert_eq!(got.len(), N);
}

#[test]
fn engines_from_properties_text() {
    let venue_text = "\
# engine-wide (FIX Antenna style); the test replaces ListenPort with a free port
ListenPort = 1
IdleStrategy = block
Workers = 1
UnregisteredAcceptor.CreateSession = false
FixLayer.FixEngine.Sessions = Venue
FixLayer.FixEngine.Session.Venue.Role = Acceptor
FixLayer.FixEngine.Session.Venue.Version = FIX.4.2
FixLayer.FixEngine.Session.Venue.SenderCompID = EXCH
FixLayer.FixEngine.Session.Venue.TargetCompID = BROKER
FixLayer.FixEngine.Session.Venue.StorageType = transient
FixLayer.FixEngine.Session.Venue.Application = executor
";
    let mut resolved = Config::from_str(venue_text, "venue.properties")
        .and_then(|c| c.resolve())
        .unwrap();
    assert_eq!(
        resolved.engine.idle_strategy,
        fix_engine::config::IdleStrategy::Block
    );
    // The acceptor inherits ListenPort; point both at a free port chosen by the OS.
    assert_eq!(resolved.sessions[0].primary.port, 1);
    resolved.sessions[0].primary.port = 0;
    let venue = EngineBuilder::from_config(&resolved)
        .listen_port(Some(0))
        .start()
        .unwrap();
    let port = venue.listen_addr().unwrap().port();
    let client_text = format!(
        "\
IdleStrategy = block
ForcedReconnect = true
ReconnectMaxTries = -1
ReconnectInterval = 5
FixLayer.FixEngine.Sessions = Broker
FixLayer.FixEngine.Session.Broker.Role = Initiator
FixLayer.FixEngine.Session.Broker.Version = FIX.4.2
FixLayer.FixEngine.Session.Broker.SenderCompID = BROKER
FixLayer.FixEngine.Session.Broker.TargetCompID = EXCH
FixLayer.FixEngine.Session.Broker.Host = 127.0.0.1
FixLayer.FixEngine.Session.Broker.Port = {port}
FixLayer.FixEngine.Session.Broker.HeartBtInt = 5
FixLayer.FixEngine.Session.Broker.StorageType = transient
"
    );
    let resolved = Config::from_str(&client_text, "client.properties")
        .and_then(|c| c.resolve())
        .unwrap();
    let (capp, crx) = Recorder::new();
    let client = EngineBuilder::from_config(&resolved)
        .application(capp)
        .start()
        .unwrap();
    let b = client.session("Broker").unwrap();
    b.wait_for_state(SessionState::Established, WAIT).unwrap();
    b.send(b"D", |e| {
        e.field(11, b"CFG1")
            .field(21, b"1")
            .field(55, b"IBM")
            .field(54, b"2")
            .field(38, b"300")
            .field(40, b"1");
    })
    .unwrap();
    let Seen::Message(_, m) = expect(&crx, "report", |e| matches!(e, Seen::Message(..))) else {
        unreachable!()
    };
    assert_eq!(field(&m, 8).as_deref(), Some("FIX.4.2"));
    assert_eq!(field(&m, 11).as_deref(), Some("CFG1"));
    assert_eq!(field(&m, 20).as_deref(), Some("0"), "ExecTransType on 4.2");
    assert_eq!(field(&m, 150).as_deref(), Some("0"));
    assert_eq!(field(&m, 38).as_deref(), Some("300"));
}

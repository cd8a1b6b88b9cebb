//! A busy-spinning I/O thread with few connections reads them directly between `epoll_wait`
//! calls. Everything `epoll` would have told it must still happen: messages are answered, a new
//! connection is accepted while it spins, a counterparty that hangs up is noticed, and a graceful
//! logout completes. The spinning engine runs for well under a second (one core).

mod engine_support;

use std::time::Instant;

use engine_support::*;
use fix_engine::config::{Application as AppKind, IdleStrategy};
use fix_engine::{EngineBuilder, EngineError, SessionHandle, SessionState};

/// Sends `n` orders and waits until each has its ExecutionReport (the client's expected
/// incoming number moved past them).
fn orders_are_answered(c: &SessionHandle, n: u64) {
    let deadline = Instant::now() + WAIT;
    let start = c.next_target_seq();
    for i in 0..n {
        loop {
            match c.send(b"D", |e| order_body(e, i.to_string().as_bytes())) {
                Ok(()) => break,
                Err(EngineError::Backpressure) if Instant::now() < deadline => {
                    std::thread::yield_now()
                }
                Err(e) => panic!("order {i}: {e}"),
            }
        }
    }
    while c.next_target_seq() < start + n {
        assert!(
            Instant::now() < deadline,
            "{} of {n} reports",
            c.next_target_seq() - start
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[test]
fn a_spinning_io_thread_reading_directly_still_accepts_answers_and_notices_hang_ups() {
    // The sessions run the built-in executor; the recorder only sees engine-wide events.
    let (vapp, _vrx) = Recorder::new();
    let mut a = acceptor("A", "VENUE", "C1", transient());
    a.application = AppKind::Executor;
    let mut b = acceptor("B", "VENUE", "C2", transient());
    b.application = AppKind::Executor;
    let mut settings = engine_settings();
    settings.idle_strategy = IdleStrategy::BusySpin;
    let mut venue = EngineBuilder::new(settings)
        .listen_port(Some(0))
        .application(vapp)
        .session(a)
        .session(b)
        .start()
        .unwrap();
    let port = venue.listen_addr().unwrap().port();
    let (capp, _crx) = Recorder::new();
    let client = EngineBuilder::new(engine_settings())
        .application(capp)
        .session(initiator("C1", "C1", "VENUE", port, transient()))
        .session(initiator("C2", "C2", "VENUE", port, transient()))
        .start()
        .unwrap();
    let c1 = client.session("C1").unwrap();
    let c2 = client.session("C2").unwrap();
    // C1 first: the venue then reads one connection directly.
    c2.disconnect_non_gracefully().unwrap();
    c1.wait_for_state(SessionState::Established, WAIT).unwrap();
    orders_are_answered(&c1, 300);
    // A second connection arrives while the venue spins on direct reads of the first.
    c2.connect(None, fix_engine::ConnectPhase::Reconnect)
        .unwrap();
    c2.wait_for_state(SessionState::Established, WAIT).unwrap();
    orders_are_answered(&c2, 300);
    orders_are_answered(&c1, 100);
    // C2 hangs up without a Logout: the venue notices it (a direct read returns EOF).
    c2.disconnect_non_gracefully().unwrap();
    let vb = venue.session("B").unwrap();
    let deadline = Instant::now() + WAIT;
    while vb.state() == SessionState::Established {
        assert!(
            Instant::now() < deadline,
            "the venue did not notice C2's hang-up"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // C1 logs out gracefully through the spinning venue.
    c1.disconnect("done").unwrap();
    c1.wait_for_state(SessionState::CorrectlyTerminated, WAIT)
        .unwrap();
    let v = venue.session("A").unwrap();
    v.wait_for_state(SessionState::CorrectlyTerminated, WAIT)
        .unwrap();
    venue.stop();
}

/// A venue that busy-spins with one executor session per name, listening on loopback.
fn spinning_venue(names: &[(&str, &str)]) -> fix_engine::Engine {
    let (vapp, _vrx) = Recorder::new();
    let mut settings = engine_settings();
    settings.idle_strategy = IdleStrategy::BusySpin;
    let mut b = EngineBuilder::new(settings)
        .listen_port(Some(0))
        .application(vapp);
    for (name, theirs) in names {
        let mut s = acceptor(name, "VENUE", theirs, transient());
        s.application = AppKind::Executor;
        b = b.session(s);
    }
    b.start().unwrap()
}

#[test]
fn a_spinning_venue_keeps_answering_a_directly_read_connection_when_more_connections_arrive() {
    // One connection is read directly (and out of the poller); four more make five, beyond the
    // direct reads' limit: the first must be back in the poller, and every session answered.
    let names = [
        ("A1", "C1"),
        ("A2", "C2"),
        ("A3", "C3"),
        ("A4", "C4"),
        ("A5", "C5"),
    ];
    let mut venue = spinning_venue(&names);
    let port = venue.listen_addr().unwrap().port();
    let (capp, _crx) = Recorder::new();
    let mut b = EngineBuilder::new(engine_settings()).application(capp);
    for (_, c) in &names {
        b = b.session(initiator(c, c, "VENUE", port, transient()));
    }
    let client = b.start().unwrap();
    let handles: Vec<SessionHandle> = names
        .iter()
        .map(|(_, c)| client.session(c).unwrap())
        .collect();
    for h in &handles[1..] {
        h.disconnect_non_gracefully().unwrap();
    }
    handles[0]
        .wait_for_state(SessionState::Established, WAIT)
        .unwrap();
    orders_are_answered(&handles[0], 200);
    for h in &handles[1..] {
        h.connect(None, fix_engine::ConnectPhase::Reconnect)
            .unwrap();
        h.wait_for_state(SessionState::Established, WAIT).unwrap();
    }
    for h in &handles {
        orders_are_answered(h, 200);
    }
    // Back to one: the survivor is read directly again and still answered.
    for h in &handles[1..] {
        h.disconnect("done").unwrap();
        h.wait_for_state(SessionState::CorrectlyTerminated, WAIT)
            .unwrap();
    }
    orders_are_answered(&handles[0], 200);
    venue.stop();
}

#[test]
fn a_spinning_venue_whose_reader_stalls_delivers_every_report_once_it_reads_again() {
    // The counterparty sends orders without reading: the venue's socket fills, so its directly
    // read connection needs the poller again to learn when it may write.
    use std::io::Write;
    const ORDERS: u64 = 40_000;
    let mut venue = spinning_venue(&[("A", "C")]);
    let port = venue.listen_addr().unwrap().port();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_millis(50)))
        .unwrap();
    s.write_all(&raw_logon("C", "VENUE", 1, "30")).unwrap();
    let mut buf = Vec::new();
    let logon = read_msg(&mut s, &mut buf, WAIT).expect("logon answer");
    assert_eq!(field(&logon, 35).as_deref(), Some("A"));
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        for i in 0..ORDERS {
            w.write_all(&raw_order("C", "VENUE", i + 2, &format!("O{i}")))
                .unwrap();
        }
    });
    // Let the reports pile up until the venue cannot write.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let deadline = Instant::now() + WAIT;
    let mut reports = 0;
    while reports < ORDERS {
        assert!(
            Instant::now() < deadline,
            "{reports} of {ORDERS} execution reports"
        );
        if let Some(m) = read_msg(&mut s, &mut buf, WAIT) {
            assert_eq!(field(&m, 35).as_deref(), Some("8"), "{m:?}");
            assert_eq!(field(&m, 11), Some(format!("O{reports}")));
            reports += 1;
        }
    }
    writer.join().unwrap();
    venue.stop();
}

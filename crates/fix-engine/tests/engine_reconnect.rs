//! Initiator reconnection on real I/O threads over loopback, with a fault-injecting proxy in
//! front of our own acceptor: exact try counts, unlimited tries, the interval, what counts as a
//! failed attempt (refused, dropped, black-holed or rejected Logon), graceful ends that must not
//! reconnect, and `disconnect_non_gracefully()` interrupting the loop.

mod engine_failover_support;

use std::time::{Duration, Instant};

use engine_failover_support::*;
use fix_engine::SessionState;
use fix_engine::config::{SessionSettings, Tries};
use fix_testkit::proxy::{Mode, Proxy};

fn venue() -> Venue {
    Venue::start(vec![acceptor_settings("ACC", "VENUE", "CLIENT")])
}

fn initiator(port: u16, tries: Tries, interval: Duration) -> fix_engine::config::SessionBuilder {
    SessionSettings::initiator("INI", "FIX.4.4", "CLIENT", "VENUE", "127.0.0.1", port)
        .heart_bt_int(30)
        .storage(transient())
        .reconnect(true, tries, interval)
}

fn count(evs: &[Ev], pred: impl Fn(&Ev) -> bool) -> usize {
    evs.iter().filter(|e| pred(e)).count()
}

#[test]
fn max_tries_is_an_exact_count_with_the_interval_then_gives_up() {
    let v = venue();
    let p = Proxy::start_in(v.addr(), Mode::Refuse).unwrap();
    let (_e, h, rx) = client(
        initiator(p.port(), Tries::Limited(3), INTERVAL)
            .build()
            .unwrap(),
    );
    // Waiters see the terminated state only once the loop is over.
    assert_eq!(
        h.wait_terminated(WAIT).unwrap(),
        SessionState::NonGracefullyTerminated
    );
    let timed: Vec<(Instant, Ev)> = rx.try_iter().collect();
    let evs: Vec<Ev> = timed.iter().map(|(_, e)| e.clone()).collect();
    // The first connect plus exactly three retries.
    assert_eq!(
        count(&evs, |e| matches!(e, Ev::ConnectFailed(_))),
        4,
        "{evs:#?}"
    );
    assert!(evs.contains(&Ev::GaveUp(4)), "{evs:#?}");
    assert!(evs.contains(&Ev::Warning("reconnection gave up".into())));
    let retries: Vec<(usize, u32, Duration)> = evs
        .iter()
        .filter_map(|e| match e {
            Ev::Reconnecting {
                endpoint,
                attempt,
                delay,
            } => Some((*endpoint, *attempt, *delay)),
            _ => None,
        })
        .collect();
    assert_eq!(
        retries,
        [(0, 2, INTERVAL), (0, 3, INTERVAL), (0, 4, INTERVAL)]
    );
    assert_eq!(
        count(&evs, |e| matches!(e, Ev::State(_, SessionState::Reconnect))),
        3
    );
    // The interval separates consecutive attempts.
    let fails: Vec<Instant> = timed
        .iter()
        .filter(|(_, e)| matches!(e, Ev::ConnectFailed(_)))
        .map(|(t, _)| *t)
        .collect();
    for w in fails.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            gap >= INTERVAL && gap < INTERVAL + Duration::from_secs(2),
            "{gap:?}"
        );
    }
    // Nothing more afterwards.
    let later = drain_for(&rx, INTERVAL * 4);
    assert_eq!(
        count(&later, |e| matches!(e, Ev::ConnectFailed(_))),
        0,
        "{later:#?}"
    );
    assert_eq!(h.state(), SessionState::NonGracefullyTerminated);
}

#[test]
fn unlimited_tries_keep_going_until_the_server_returns_and_the_count_restarts() {
    let v = venue();
    let p = Proxy::start_in(v.addr(), Mode::Refuse).unwrap();
    let (_e, h, rx) = client(
        initiator(p.port(), Tries::Unlimited, Duration::from_millis(20))
            .build()
            .unwrap(),
    );
    let mut fails = 0;
    while fails < 6 {
        if let Ev::ConnectFailed(_) = expect(&rx, "failed attempts", |e| {
            matches!(e, Ev::ConnectFailed(_) | Ev::GaveUp(_))
        }) {
            fails += 1;
        } else {
            panic!("gave up with unlimited tries");
        }
    }
    assert!(!h.state().is_terminated());
    p.set_mode(Mode::Forward).unwrap();
    h.wait_for_state(SessionState::Established, WAIT).unwrap();
    let acc = v.session("ACC");
    acc.wait_for_state(SessionState::Established, WAIT).unwrap();

    // A loss after the logon: a new outage, retried on the same endpoint, numbers continued.
    order(&h, "A1");
    expect(&v.rx, "order", |e| matches!(e, Ev::Message(_)));
    let out = h.next_sender_seq();
    clear(&rx);
    p.cut();
    let evs = collect_until(&rx, "logon again", |e| matches!(e, Ev::Logon(_)));
    let evs: Vec<Ev> = evs.into_iter().map(|(_, e)| e).collect();
    assert!(evs.contains(&Ev::Lost), "{evs:#?}");
    assert!(
        evs.contains(&Ev::State(
            SessionState::NonGracefullyTerminated,
            SessionState::Reconnect
        )),
        "{evs:#?}"
    );
    assert!(evs.contains(&Ev::Logon(false)), "no reset: {evs:#?}");
    h.wait_for_state(SessionState::Established, WAIT).unwrap();
    // The Logon took the next number: nothing was reset.
    assert_eq!(h.next_sender_seq(), out + 1);
}

#[test]
fn a_peer_that_accepts_tcp_but_never_answers_the_logon_is_a_failed_attempt() {
    let v = venue();
    let p = Proxy::start_in(v.addr(), Mode::BlackHole).unwrap();
    let (_e, h, rx) = client(
        initiator(p.port(), Tries::Limited(2), INTERVAL)
            .logon_timeout(Duration::from_millis(200))
            .build()
            .unwrap(),
    );
    assert_eq!(
        h.wait_terminated(WAIT).unwrap(),
        SessionState::NonGracefullyTerminated
    );
    let evs: Vec<Ev> = rx.try_iter().map(|(_, e)| e).collect();
    assert_eq!(p.accepted(), 3, "TCP connected every time: {evs:#?}");
    assert!(evs.contains(&Ev::GaveUp(3)), "{evs:#?}");
    assert_eq!(
        count(&evs, |e| *e
            == Ev::Warning("timed out waiting for Logon".into())),
        3
    );
    assert_eq!(count(&evs, |e| matches!(e, Ev::SentLogon(_))), 3);
}

#[test]
fn a_peer_that_accepts_tcp_then_drops_is_a_failed_attempt() {
    let v = venue();
    let p = Proxy::start_in(v.addr(), Mode::Drop).unwrap();
    let (_e, h, rx) = client(
        initiator(p.port(), Tries::Limited(2), INTERVAL)
            .build()
            .unwrap(),
    );
    assert_eq!(
        h.wait_terminated(WAIT).unwrap(),
        SessionState::NonGracefullyTerminated
    );
    let evs: Vec<Ev> = rx.try_iter().map(|(_, e)| e).collect();
    assert_eq!(p.accepted(), 3, "{evs:#?}");
    assert!(evs.contains(&Ev::GaveUp(3)), "{evs:#?}");
}

#[test]
fn a_rejected_logon_is_a_failed_attempt_and_the_loop_goes_on() {
    let v = venue();
    let p = Proxy::start_in(
        v.addr(),
        Mode::Respond(logout_frame("VENUE", "CLIENT", "not today")),
    )
    .unwrap();
    let (_e, h, rx) = client(
        initiator(p.port(), Tries::Unlimited, INTERVAL)
            .build()
            .unwrap(),
    );
    for _ in 0..2 {
        expect(&rx, "rejection", |e| *e == Ev::Logout("not today".into()));
    }
    assert!(!h.state().is_terminated(), "{:?}", h.state());
    // The server starts accepting: the loop was still running.
    p.set_mode(Mode::Forward).unwrap();
    h.wait_for_state(SessionState::Established, WAIT).unwrap();
}

#[test]
fn graceful_logouts_do_not_reconnect() {
    for (ours, intraday) in [(true, false), (false, false), (false, true)] {
        let v = venue();
        let p = Proxy::start(v.addr()).unwrap();
        let (_e, h, rx) = client(
            initiator(p.port(), Tries::Unlimited, INTERVAL)
                .intraday_logout_tolerance(intraday)
                .build()
                .unwrap(),
        );
        h.wait_for_state(SessionState::Established, WAIT).unwrap();
        let acc = v.session("ACC");
        acc.wait_for_state(SessionState::Established, WAIT).unwrap();
        clear(&rx);
        if ours {
            h.disconnect("bye").unwrap();
        } else {
            acc.disconnect("end of day").unwrap();
        }
        let end = h.wait_terminated(WAIT).unwrap();
        let want = if intraday {
            SessionState::NonGracefullyTerminated
        } else {
            SessionState::CorrectlyTerminated
        };
        assert_eq!(end, want, "ours={ours} intraday={intraday}");
        let later = drain_for(&rx, INTERVAL * 5);
        assert!(
            !later.iter().any(|e| matches!(
                e,
                Ev::Reconnecting { .. } | Ev::Connected(_) | Ev::State(_, SessionState::Reconnect)
            )),
            "ours={ours} intraday={intraday}: {later:#?}"
        );
        assert_eq!(p.accepted(), 1);
    }
}

#[test]
fn disconnect_non_gracefully_stops_the_loop_while_sleeping_between_attempts() {
    let v = venue();
    let p = Proxy::start_in(v.addr(), Mode::Refuse).unwrap();
    let (_e, h, rx) = client(
        initiator(p.port(), Tries::Unlimited, Duration::from_secs(30))
            .build()
            .unwrap(),
    );
    expect(&rx, "first retry scheduled", |e| {
        matches!(e, Ev::Reconnecting { .. })
    });
    h.wait_for_state(SessionState::Reconnect, WAIT).unwrap();
    let t = Instant::now();
    h.disconnect_non_gracefully().unwrap();
    assert_eq!(
        h.wait_terminated(Duration::from_secs(2)).unwrap(),
        SessionState::NonGracefullyTerminated
    );
    assert!(t.elapsed() < Duration::from_secs(2));
    // The server comes back: nobody connects.
    p.set_mode(Mode::Forward).unwrap();
    let later = drain_for(&rx, Duration::from_millis(100));
    assert!(
        !later
            .iter()
            .any(|e| matches!(e, Ev::Connected(_) | Ev::GaveUp(_))),
        "{later:#?}"
    );
    assert_eq!(p.accepted(), 0);
}

#[test]
fn disconnect_non_gracefully_stops_the_loop_while_waiting_for_the_confirming_logon() {
    let v = venue();
    let p = Proxy::start_in(v.addr(), Mode::BlackHole).unwrap();
    let (_e, h, rx) = client(
        initiator(p.port(), Tries::Unlimited, INTERVAL)
            .logon_timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
    );
    h.wait_for_state(SessionState::WaitForConfirmLogon, WAIT)
        .unwrap();
    clear(&rx);
    h.disconnect_non_gracefully().unwrap();
    assert_eq!(
        h.wait_terminated(Duration::from_secs(2)).unwrap(),
        SessionState::NonGracefullyTerminated
    );
    p.set_mode(Mode::Forward).unwrap();
    let later = drain_for(&rx, INTERVAL * 5);
    assert!(
        !later
            .iter()
            .any(|e| matches!(e, Ev::Reconnecting { .. } | Ev::Connected(_))),
        "{later:#?}"
    );
    assert_eq!(p.accepted(), 1);
}

#[test]
fn disconnect_non_gracefully_stops_the_loop_after_a_loss_and_connect_restarts_it() {
    let v = venue();
    let p = Proxy::start(v.addr()).unwrap();
    let (_e, h, rx) = client(
        initiator(p.port(), Tries::Unlimited, Duration::from_secs(30))
            .build()
            .unwrap(),
    );
    h.wait_for_state(SessionState::Established, WAIT).unwrap();
    p.cut();
    // Lost while established: a retry is scheduled 30 s later; stop it.
    expect(&rx, "retry scheduled", |e| {
        matches!(e, Ev::Reconnecting { .. })
    });
    h.disconnect_non_gracefully().unwrap();
    assert_eq!(
        h.wait_terminated(Duration::from_secs(2)).unwrap(),
        SessionState::NonGracefullyTerminated
    );
    // An explicit connect starts a new loop at once.
    h.connect(None, fix_engine::ConnectPhase::Reconnect)
        .unwrap();
    h.wait_for_state(SessionState::Established, WAIT).unwrap();
    assert_eq!(p.accepted(), 2);
}

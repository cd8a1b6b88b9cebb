//! Backup connections on real I/O threads over loopback: the four FIXEdge configuration
//! examples verbatim (`../shared/seeds/fixedge-backup-connection.md`), `ForceSeqNumReset` 0 / 1 / 2
//! across switches, failover from a primary that black-holes or rejects the Logon, a backup with
//! its own CompIDs and HeartBtInt, and the `priority` / `round-robin` policies with three
//! endpoints. "Servers" are proxies in front of one test acceptor (our own engine), killed and
//! revived with `fix_testkit::proxy`.

mod engine_failover_support;

use std::time::Duration;

use engine_failover_support::*;
use fix_engine::SessionState;
use fix_engine::config::{Config, EndpointPolicy, SeqNumReset, SessionSettings, Tries};
use fix_testkit::proxy::{Mode, Proxy};

// The seed's four examples, verbatim but for the placeholders.
const SNIPPET_1: &str =
    "FixLayer.FixEngine.Session.MySession.EnableAutoSwitchToBackupConnection = true
FixLayer.FixEngine.Session.MySession.Backup.Host = <backup server host>
FixLayer.FixEngine.Session.MySession.Backup.Port = <backup server port>
";
const SNIPPET_2: &str =
    "FixLayer.FixEngine.Session.MySession.EnableAutoSwitchToBackupConnection = true
FixLayer.FixEngine.Session.MySession.Backup.EnableAutoSwitchToBackupConnection = true
FixLayer.FixEngine.Session.MySession.Backup.Host = <backup server host>
FixLayer.FixEngine.Session.MySession.Backup.Port = <backup server port>
";
const SNIPPET_3: &str =
    "FixLayer.FixEngine.Session.MySession.EnableAutoSwitchToBackupConnection = true
FixLayer.FixEngine.Session.MySession.EnableCyclicSwitchBackupConnection = true
FixLayer.FixEngine.Session.MySession.Backup.EnableAutoSwitchToBackupConnection = true
FixLayer.FixEngine.Session.MySession.Backup.EnableCyclicSwitchBackupConnection = true
FixLayer.FixEngine.Session.MySession.Backup.Host = <backup server host>
FixLayer.FixEngine.Session.MySession.Backup.Port = <backup server port>
";
const SNIPPET_4: &str =
    "FixLayer.FixEngine.Session.MySession.EnableAutoSwitchToBackupConnection = true
FixLayer.FixEngine.Session.MySession.EnableCyclicSwitchBackupConnection = true
FixLayer.FixEngine.Session.MySession.ForceSeqNumReset = 2
FixLayer.FixEngine.Session.MySession.Backup.EnableAutoSwitchToBackupConnection = true
FixLayer.FixEngine.Session.MySession.Backup.EnableCyclicSwitchBackupConnection = true
FixLayer.FixEngine.Session.MySession.Backup.ForceSeqNumReset = 2
FixLayer.FixEngine.Session.MySession.Backup.Host = <backup server host>
FixLayer.FixEngine.Session.MySession.Backup.Port = <backup server port>
";

/// The session `MySession` of a properties file: the keys the snippet needs around it (identity,
/// primary, transient storage, a millisecond interval so the test is quick), then the snippet.
fn fixedge(snippet: &str, primary: u16, backup: u16) -> SessionSettings {
    let p = "FixLayer.FixEngine.Session.MySession.";
    let text = format!(
        "Reconnect.Interval = 40
StorageType = transient
FixLayer.FixEngine.Sessions = MySession
{p}Role = Initiator
{p}Version = FIX.4.4
{p}SenderCompID = CLIENT
{p}TargetCompID = VENUE
{p}Host = 127.0.0.1
{p}Port = {primary}
{p}HeartBtInt = 30
{}",
        snippet
            .replace("<backup server host>", "127.0.0.1")
            .replace("<backup server port>", &backup.to_string())
    );
    Config::from_str(&text, "fixedge.properties")
        .and_then(|c| c.session("MySession"))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn venue() -> Venue {
    Venue::start(vec![acceptor_settings("ACC", "VENUE", "CLIENT")])
}

/// Kills a "server": refuses new connections and cuts the live ones. Nothing passes from the
/// first step on: closing the listener takes the accept thread a while, and a live connection
/// still forwarding meanwhile would let messages through that the test says were lost.
fn kill(p: &Proxy) {
    p.set_mode(Mode::BlackHole).unwrap();
    p.set_mode(Mode::Refuse).unwrap();
    p.cut();
}

fn revive(p: &Proxy) {
    p.set_mode(Mode::Forward).unwrap();
}

/// Waits until the session is logged on through endpoint `ep`.
fn established_on(h: &fix_engine::SessionHandle, ep: usize) {
    // The endpoint is stored before the connect starts, so it is current once ESTABLISHED is.
    let r = h.wait_for(WAIT, |s| {
        s == SessionState::Established && h.endpoint() == ep
    });
    assert!(
        r.is_ok(),
        "not established on {ep}: {r:?}, on {}",
        h.endpoint()
    );
}

/// Polls `cond` (bounded by [`WAIT`]): for numbers published by another engine's thread.
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let until = std::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            std::time::Instant::now() < until,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn logons(evs: &[Ev]) -> Vec<(String, String)> {
    evs.iter()
        .filter_map(|e| match e {
            Ev::SentLogon(m) => Some((
                field(m, 34).unwrap_or_default(),
                field(m, 141).unwrap_or_default(),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn fixedge_1_primary_lost_switches_to_the_backup_once() {
    let v = venue();
    let ps = proxies(v.addr(), 2);
    let (_e, h, rx) = client(fixedge(SNIPPET_1, ps[0].port(), ps[1].port()));
    established_on(&h, 0);
    // The logon callback follows the published state: take it before starting afresh.
    expect(&rx, "first logon", |e| matches!(e, Ev::Logon(_)));
    clear(&rx);
    kill(&ps[0]);
    let evs = collect_until(&rx, "logon on the backup", |e| matches!(e, Ev::Logon(_)));
    assert!(
        evs.iter().any(|(_, e)| *e
            == Ev::State(
                SessionState::NonGracefullyTerminated,
                SessionState::SwitchConnection
            )),
        "{evs:#?}"
    );
    established_on(&h, 1);
    assert_eq!(ps[1].accepted(), 1);
    // The backup does not switch back: losing it ends the session.
    clear(&rx);
    kill(&ps[1]);
    revive(&ps[0]);
    assert_eq!(
        h.wait_terminated(WAIT).unwrap(),
        SessionState::NonGracefullyTerminated
    );
    let evs: Vec<Ev> = rx.try_iter().map(|(_, e)| e).collect();
    assert!(evs.contains(&Ev::GaveUp(0)), "{evs:#?}");
    assert_eq!(ps[0].accepted(), 1, "never went back to the primary");
}

#[test]
fn fixedge_2_backup_lost_switches_back_to_the_primary() {
    let v = venue();
    let ps = proxies(v.addr(), 2);
    let (_e, h, _rx) = client(fixedge(SNIPPET_2, ps[0].port(), ps[1].port()));
    established_on(&h, 0);
    kill(&ps[0]);
    established_on(&h, 1);
    revive(&ps[0]);
    kill(&ps[1]);
    established_on(&h, 0);
    assert_eq!((ps[0].accepted(), ps[1].accepted()), (2, 1));
    v.session("ACC")
        .wait_for_state(SessionState::Established, WAIT)
        .unwrap();
}

#[test]
fn fixedge_2_without_cyclic_stops_when_both_are_down() {
    let v = venue();
    let ps = proxies(v.addr(), 2);
    let (_e, h, rx) = client(fixedge(SNIPPET_2, ps[0].port(), ps[1].port()));
    established_on(&h, 0);
    clear(&rx);
    kill(&ps[1]);
    kill(&ps[0]);
    assert_eq!(
        h.wait_terminated(WAIT).unwrap(),
        SessionState::NonGracefullyTerminated
    );
    let evs: Vec<Ev> = rx.try_iter().map(|(_, e)| e).collect();
    // One pass: the backup once, then give up (no retries without ForcedReconnect).
    let tried: Vec<usize> = evs
        .iter()
        .filter_map(|e| match e {
            Ev::Reconnecting { endpoint, .. } => Some(*endpoint),
            _ => None,
        })
        .collect();
    assert_eq!(tried, [1], "{evs:#?}");
    assert!(evs.contains(&Ev::GaveUp(1)), "{evs:#?}");
}

#[test]
fn fixedge_3_cyclic_alternates_until_one_returns() {
    let v = venue();
    let ps = proxies(v.addr(), 2);
    let (_e, h, rx) = client(fixedge(SNIPPET_3, ps[0].port(), ps[1].port()));
    established_on(&h, 0);
    clear(&rx);
    kill(&ps[0]);
    kill(&ps[1]);
    let mut tried = Vec::new();
    while tried.len() < 6 {
        match expect(&rx, "attempts", |e| {
            matches!(e, Ev::Reconnecting { .. } | Ev::GaveUp(_))
        }) {
            Ev::Reconnecting { endpoint, .. } => tried.push(endpoint),
            e => panic!("{e:?} with cyclic switching"),
        }
    }
    assert_eq!(tried, [1, 0, 1, 0, 1, 0]);
    revive(&ps[1]);
    established_on(&h, 1);
}

#[test]
fn fixedge_4_force_seq_num_reset_2_resets_at_every_logon_to_either_server() {
    let v = venue();
    let ps = proxies(v.addr(), 2);
    let (_e, h, rx) = client(fixedge(SNIPPET_4, ps[0].port(), ps[1].port()));
    let acc = v.session("ACC");
    established_on(&h, 0);
    order(&h, "A");
    order(&h, "B");
    wait_until("A and B sent", || h.next_sender_seq() == 4);
    expect(
        &v.rx,
        "B",
        |e| matches!(e, Ev::Message(m) if field(m, 11).as_deref() == Some("B")),
    );
    kill(&ps[0]);
    established_on(&h, 1);
    // Reset: the Logon was 1 on both sides.
    wait_until("the venue's reset", || acc.next_target_seq() == 2);
    assert_eq!(h.next_sender_seq(), 2);
    order(&h, "C");
    wait_until("C sent", || h.next_sender_seq() == 3);
    revive(&ps[0]);
    kill(&ps[1]);
    established_on(&h, 0);
    let mut evs = Vec::new();
    while count_logons(&evs, true) + count_logons(&evs, false) < 3 {
        evs.push(expect(&rx, "three logons", |_| true));
    }
    let l = logons(&evs);
    assert_eq!(l.len(), 3, "{evs:#?}");
    assert!(
        l.iter().all(|(seq, flag)| seq == "1" && flag == "Y"),
        "{l:?}"
    );
    assert_eq!(count_logons(&evs, true), 3);
}

fn count_logons(evs: &[Ev], reset: bool) -> usize {
    evs.iter().filter(|e| **e == Ev::Logon(reset)).count()
}

#[test]
fn force_seq_num_reset_0_continues_numbers_across_a_switch_and_resends_the_gap() {
    let v = venue();
    let ps = proxies(v.addr(), 2);
    let b = SessionSettings::initiator(
        "INI",
        "FIX.4.4",
        "CLIENT",
        "VENUE",
        "127.0.0.1",
        ps[0].port(),
    )
    .heart_bt_int(30)
    .storage(transient())
    .reconnect(false, Tries::Limited(0), INTERVAL)
    .switching(true, false);
    let mut backup = b.settings().backup_endpoint("127.0.0.1", ps[1].port());
    backup.auto_switch = true;
    let (_e, h, rx) = client(b.backup(backup).build().unwrap());
    established_on(&h, 0);
    order(&h, "A");
    expect(&v.rx, "A", |e| matches!(e, Ev::Message(_)));
    // The primary stops passing bytes: B and C are sent but never arrive; then it dies.
    ps[0].set_mode(Mode::BlackHole).unwrap();
    order(&h, "B");
    order(&h, "C");
    wait_until("B and C sent", || h.next_sender_seq() == 5);
    kill(&ps[0]);
    established_on(&h, 1);
    let evs: Vec<Ev> = collect_until(
        &v.rx,
        "C resent",
        |e| matches!(e, Ev::Message(m) if field(m, 11).as_deref() == Some("C")),
    )
    .into_iter()
    .map(|(_, e)| e)
    .collect();
    // The venue saw the gap and got B and C again, flagged as possible duplicates.
    assert!(evs.iter().any(|e| matches!(e, Ev::Gap(3, _))), "{evs:#?}");
    let resent: Vec<(String, String)> = evs
        .iter()
        .filter_map(|e| match e {
            Ev::Message(m) => Some((field(m, 11).unwrap(), field(m, 43).unwrap_or_default())),
            _ => None,
        })
        .collect();
    assert_eq!(resent, [("B".into(), "Y".into()), ("C".into(), "Y".into())]);
    // Numbers carried over the switch: the Logon took the next one, no reset anywhere.
    let client_evs: Vec<Ev> = rx.try_iter().map(|(_, e)| e).collect();
    let l = logons(&client_evs);
    assert_eq!(l.last().unwrap(), &("5".to_owned(), String::new()));
    assert_eq!(count_logons(&client_evs, true), 0);
}

#[test]
fn force_seq_num_reset_1_resets_only_the_first_logon() {
    let v = venue();
    let ps = proxies(v.addr(), 2);
    let b = SessionSettings::initiator(
        "INI",
        "FIX.4.4",
        "CLIENT",
        "VENUE",
        "127.0.0.1",
        ps[0].port(),
    )
    .heart_bt_int(30)
    .storage(transient())
    .force_seq_num_reset(SeqNumReset::FirstLogon)
    .reconnect(false, Tries::Limited(0), INTERVAL)
    .switching(true, false);
    let mut backup = b.settings().backup_endpoint("127.0.0.1", ps[1].port());
    backup.auto_switch = true;
    let (_e, h, rx) = client(b.backup(backup).build().unwrap());
    established_on(&h, 0);
    order(&h, "A");
    wait_until("A sent", || h.next_sender_seq() == 3);
    kill(&ps[0]);
    established_on(&h, 1);
    revive(&ps[0]);
    kill(&ps[1]);
    let r = h.wait_for(WAIT, |s| {
        s == SessionState::Established && h.endpoint() == 0
    });
    let evs: Vec<Ev> = rx.try_iter().map(|(_, e)| e).collect();
    let vevs: Vec<Ev> = v.rx.try_iter().map(|(_, e)| e).collect();
    assert!(r.is_ok(), "{evs:#?} {vevs:#?}");
    let l = logons(&evs);
    assert_eq!(
        l,
        [
            ("1".into(), "Y".into()),
            ("3".into(), String::new()),
            ("4".into(), String::new())
        ],
        "{evs:#?}"
    );
}

#[test]
fn failover_from_a_primary_that_black_holes_or_rejects_the_logon() {
    let modes = [
        Mode::BlackHole,
        Mode::Respond(logout_frame("VENUE", "CLIENT", "go away")),
    ];
    for mode in modes {
        let v = venue();
        let ps = proxies(v.addr(), 2);
        ps[0].set_mode(mode.clone()).unwrap();
        let b = SessionSettings::initiator(
            "INI",
            "FIX.4.4",
            "CLIENT",
            "VENUE",
            "127.0.0.1",
            ps[0].port(),
        )
        .heart_bt_int(30)
        .storage(transient())
        .logon_timeout(Duration::from_millis(200))
        .reconnect(true, Tries::Limited(1), INTERVAL)
        .switching(true, false);
        let backup = b.settings().backup_endpoint("127.0.0.1", ps[1].port());
        let (_e, h, _rx) = client(b.backup(backup).build().unwrap());
        // The first connect plus one retry on the primary, both failing at the Logon.
        established_on(&h, 1);
        assert_eq!(ps[0].accepted(), 2, "{mode:?}");
    }
}

#[test]
fn a_backup_with_its_own_comp_ids_and_heartbeat() {
    let v = Venue::start(vec![
        acceptor_settings("ACC", "VENUE", "CLIENT"),
        acceptor_settings("ACC2", "VENUE2", "CLIENT2"),
    ]);
    let ps = proxies(v.addr(), 2);
    let p = "FixLayer.FixEngine.Session.MySession.";
    // Two different counterparties: each Logon starts a new sequence (FIXEdge example 4).
    let extra = format!(
        "{p}Backup.SenderCompID = CLIENT2\n{p}Backup.TargetCompID = VENUE2\n{p}Backup.HeartBtInt = 7
{p}ForceSeqNumReset = 2\n{p}Backup.ForceSeqNumReset = 2\n"
    );
    let (_e, h, rx) = client(fixedge(
        &format!("{SNIPPET_2}{extra}"),
        ps[0].port(),
        ps[1].port(),
    ));
    established_on(&h, 0);
    kill(&ps[0]);
    established_on(&h, 1);
    v.session("ACC2")
        .wait_for_state(SessionState::Established, WAIT)
        .unwrap();
    revive(&ps[0]);
    kill(&ps[1]);
    established_on(&h, 0);
    v.session("ACC")
        .wait_for_state(SessionState::Established, WAIT)
        .unwrap();
    let sent: Vec<(String, String, String)> = rx
        .try_iter()
        .filter_map(|(_, e)| match e {
            Ev::SentLogon(m) => Some((
                field(&m, 49).unwrap(),
                field(&m, 56).unwrap(),
                field(&m, 108).unwrap(),
            )),
            _ => None,
        })
        .collect();
    let own = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
    assert_eq!(
        sent,
        [
            own("CLIENT", "VENUE", "30"),
            own("CLIENT2", "VENUE2", "7"),
            own("CLIENT", "VENUE", "30")
        ]
    );
}

/// Three endpoints, no retries on the same one, cycling, at most 5 attempts per outage; the
/// session is logged on to backup 1 when everything dies. Returns the endpoints tried.
fn three_endpoints(policy: EndpointPolicy) -> Vec<usize> {
    let v = venue();
    let ps = proxies(v.addr(), 3);
    let mut b = SessionSettings::initiator(
        "INI",
        "FIX.4.4",
        "CLIENT",
        "VENUE",
        "127.0.0.1",
        ps[0].port(),
    )
    .heart_bt_int(30)
    .storage(transient())
    .reconnect(true, Tries::Limited(0), INTERVAL)
    .switching(true, true)
    .endpoint_policy(policy, Tries::Limited(5));
    for p in &ps[1..] {
        let mut e = b.settings().backup_endpoint("127.0.0.1", p.port());
        e.auto_switch = true;
        e.cyclic_switch = true;
        b = b.backup(e);
    }
    ps[0].set_mode(Mode::Refuse).unwrap();
    let (_e, h, rx) = client(b.build().unwrap());
    established_on(&h, 1);
    clear(&rx);
    kill(&ps[1]);
    kill(&ps[2]);
    assert_eq!(
        h.wait_terminated(WAIT).unwrap(),
        SessionState::NonGracefullyTerminated
    );
    let evs: Vec<Ev> = rx.try_iter().map(|(_, e)| e).collect();
    assert!(evs.contains(&Ev::GaveUp(5)), "{evs:#?}");
    evs.iter()
        .filter_map(|e| match e {
            Ev::Reconnecting { endpoint, .. } => Some(*endpoint),
            _ => None,
        })
        .collect()
}

#[test]
fn priority_always_restarts_from_the_primary() {
    assert_eq!(three_endpoints(EndpointPolicy::Priority), [0, 2, 0, 1, 2]);
}

#[test]
fn round_robin_moves_on_to_the_next_endpoint() {
    assert_eq!(three_endpoints(EndpointPolicy::RoundRobin), [2, 0, 1, 2, 0]);
}

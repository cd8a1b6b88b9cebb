//! The endpoint selector: backup switching, cyclic reconnection, policies and caps, driven by
//! configurations written the way the seeds write them.

use std::time::Duration;

use fix_engine::config::{Attempt, Config, EndpointSelector, Next, SessionSettings};

const P: &str = "FixLayer.FixEngine.Session.S.";

fn session(extra: &str) -> SessionSettings {
    let text = format!(
        "{P}Role = Initiator
{P}Version = FIX.4.4
{P}SenderCompID = ME
{P}TargetCompID = THEM
{P}Host = 127.0.0.1
{P}Port = 9001
{extra}"
    );
    Config::from_str(&text, "t")
        .and_then(|c| c.session("S"))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The endpoints attempted after `lost()`, until give-up or `limit` attempts.
fn after_loss(sel: &mut EndpointSelector, limit: usize) -> (Vec<usize>, bool) {
    let mut seen = Vec::new();
    let mut next = sel.lost();
    while let Next::Attempt(a) = next {
        seen.push(a.endpoint);
        if seen.len() == limit {
            return (seen, false);
        }
        next = sel.failed();
    }
    (seen, true)
}

#[test]
fn no_forced_reconnect_and_no_backup_gives_up_at_once() {
    let s = session("");
    let mut sel = EndpointSelector::new(&s);
    assert_eq!(
        sel.start(),
        Attempt {
            endpoint: 0,
            delay: Duration::ZERO
        }
    );
    assert_eq!(sel.failed(), Next::GiveUp);
    sel.start();
    sel.connected();
    assert_eq!(after_loss(&mut sel, 10), (vec![], true));
}

#[test]
fn antenna_reconnect_retries_forever_with_the_interval_in_seconds() {
    let s = session("ForcedReconnect = true\nReconnectMaxTries = -1\nReconnectInterval = 5\n");
    let mut sel = EndpointSelector::new(&s);
    sel.start();
    sel.connected();
    let Next::Attempt(a) = sel.lost() else {
        panic!("must retry")
    };
    assert_eq!(a.endpoint, 0);
    assert_eq!(a.delay, Duration::from_secs(5));
    let (seen, gave_up) = after_loss(&mut sel, 1000);
    assert!(!gave_up && seen.iter().all(|&e| e == 0));
}

#[test]
fn limited_retries_then_give_up() {
    let s = session("ForcedReconnect = true\nReconnectMaxTries = 3\nReconnect.Interval = 250\n");
    let mut sel = EndpointSelector::new(&s);
    sel.start();
    sel.connected();
    assert_eq!(after_loss(&mut sel, 100), (vec![0, 0, 0], true));
    assert_eq!(sel.attempts(), 3);
}

#[test]
fn switch_to_backup_once_without_switching_back() {
    // FIXEdge snippet 1 with the built-in defaults (no ForcedReconnect): the primary is lost, the
    // backup gets one attempt, and as it does not switch back the session stops there.
    let s = session(&format!(
        "{P}EnableAutoSwitchToBackupConnection = true\n{P}Backup.Host = 127.0.0.2\n{P}Backup.Port = 9002\n"
    ));
    let mut sel = EndpointSelector::new(&s);
    sel.start();
    sel.connected();
    assert_eq!(after_loss(&mut sel, 100), (vec![1], true));
}

#[test]
fn switch_back_to_primary() {
    let s = session(&format!(
        "{P}EnableAutoSwitchToBackupConnection = true
{P}Backup.EnableAutoSwitchToBackupConnection = true
{P}Backup.Host = 127.0.0.2
{P}Backup.Port = 9002
"
    ));
    let mut sel = EndpointSelector::new(&s);
    sel.start();
    sel.connected();
    // Primary lost: backup; backup fails: not cyclic, one pass, stop.
    assert_eq!(after_loss(&mut sel, 100), (vec![1], true));
    // Connected to the backup, then it is lost: back to the primary.
    sel.start();
    let Next::Attempt(a) = sel.failed() else {
        panic!("switches to the backup")
    };
    assert_eq!(a.endpoint, 1);
    sel.connected();
    assert_eq!(after_loss(&mut sel, 100), (vec![0], true));
}

#[test]
fn cyclic_keeps_alternating_until_the_global_cap() {
    let text = format!(
        "ForcedReconnect = true
ReconnectMaxTries = -1
ReconnectInterval = 5
{P}EnableAutoSwitchToBackupConnection = true
{P}EnableCyclicSwitchBackupConnection = true
{P}ForceSeqNumReset = 2
{P}Backup.EnableAutoSwitchToBackupConnection = true
{P}Backup.EnableCyclicSwitchBackupConnection = true
{P}Backup.ForceSeqNumReset = 2
{P}Backup.Host = 127.0.0.2
{P}Backup.Port = 9002
"
    );
    let s = session(&text);
    let mut sel = EndpointSelector::new(&s);
    sel.start();
    sel.connected();
    let (seen, gave_up) = after_loss(&mut sel, 8);
    assert!(!gave_up);
    // Unlimited retries on switching endpoints count as one: retry the primary once, then alternate.
    assert_eq!(seen, [0, 1, 0, 1, 0, 1, 0, 1]);

    let s = session(&format!("{text}{P}MaxConnectAttempts = 5\n"));
    let mut sel = EndpointSelector::new(&s);
    sel.start();
    sel.connected();
    assert_eq!(after_loss(&mut sel, 100), (vec![0, 1, 0, 1, 0], true));
    // After a successful logon the cap starts again.
    sel.connected();
    assert_eq!(after_loss(&mut sel, 100).0.len(), 5);
}

#[test]
fn priority_and_round_robin_with_three_endpoints() {
    let mut text = String::from("ForcedReconnect = true\nReconnectMaxTries = 0\n");
    for (i, port) in [(0, 9001), (1, 9002), (2, 9003)] {
        let prefix = if i == 0 {
            P.to_owned()
        } else {
            format!("{P}Backup.{i}.")
        };
        if i > 0 {
            text += &format!("{prefix}Port = {port}\n");
        }
        text += &format!("{prefix}EnableAutoSwitchToBackupConnection = true\n");
        text += &format!("{prefix}EnableCyclicSwitchBackupConnection = true\n");
    }
    let priority = session(&text);
    let rr = session(&format!("{text}{P}EndpointPolicy = round-robin\n"));

    // Connected to backup 1, then lost it.
    let on_backup_1 = |s: &SessionSettings| {
        let mut sel = EndpointSelector::new(s);
        sel.start();
        assert!(matches!(
            sel.failed(),
            Next::Attempt(Attempt { endpoint: 1, .. })
        ));
        sel.connected();
        sel
    };
    assert_eq!(
        after_loss(&mut on_backup_1(&priority), 7).0,
        [0, 2, 0, 1, 2, 0, 1]
    );
    assert_eq!(
        after_loss(&mut on_backup_1(&rr), 7).0,
        [2, 0, 1, 2, 0, 1, 2]
    );
}

#[test]
fn endpoint_tries_and_per_endpoint_intervals() {
    let s = session(&format!(
        "ForcedReconnect = true
{P}ReconnectInterval = 2
{P}EndpointTries = 2
{P}EnableAutoSwitchToBackupConnection = true
{P}EnableCyclicSwitchBackupConnection = true
{P}Backup.Port = 9002
{P}Backup.Reconnect.Interval = 300
{P}Backup.EndpointTries = 3
{P}Backup.EnableAutoSwitchToBackupConnection = true
{P}Backup.EnableCyclicSwitchBackupConnection = true
{P}MaxConnectAttempts = 10
"
    ));
    let mut sel = EndpointSelector::new(&s);
    sel.start();
    sel.connected();
    let mut attempts = Vec::new();
    let mut next = sel.lost();
    while let Next::Attempt(a) = next {
        attempts.push((a.endpoint, a.delay.as_millis()));
        next = sel.failed();
    }
    assert_eq!(
        attempts,
        [
            (0, 2000),
            (0, 2000),
            (1, 300),
            (1, 300),
            (1, 300),
            (0, 2000),
            (0, 2000),
            (1, 300),
            (1, 300),
            (1, 300),
        ]
    );
}

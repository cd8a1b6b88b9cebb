//! The ResendRequest timeout: a ResendRequest (or its answer) lost on a connection that stays up
//! is asked for again, at most once per timeout, and only while the gap does not shrink.

use std::time::Duration;

use fix_session::{Role, SeqState, Session, SessionConfig, SessionState};
use fix_testkit::{EchoApp, NoApp, Recorded, ScriptedPeer, get};

const VERSIONS: [&str; 3] = ["FIX.4.2", "FIX.4.4", "FIXT.1.1"];

fn cfg(begin: &str) -> SessionConfig {
    let c = SessionConfig::new(begin, "ISLD", "TW", Role::Acceptor);
    if begin == "FIXT.1.1" {
        c.with_default_appl_ver_id("9")
    } else {
        c
    }
}

fn h(seq: u64) -> String {
    format!("34={seq}|49=TW|52=<TIME>|56=ISLD|")
}

fn e(begin: &str, rest: &str) -> String {
    format!("8={begin}|9=*|{rest}10=*|")
}

/// A logged-on acceptor (peer HeartBtInt 30 s) with the given configuration.
fn logged_on(c: SessionConfig) -> ScriptedPeer {
    let begin = c.begin_string.clone();
    let mut p = ScriptedPeer::new(Session::new(c, SeqState::default()).unwrap());
    p.connect();
    let appl = if begin == "FIXT.1.1" { "1137=9|" } else { "" };
    p.send(&format!("35=A|{}98=0|108=30|{appl}", h(1)), &mut NoApp);
    p.next_message().expect("logon reply");
    assert_eq!(p.state(), SessionState::Established);
    p
}

fn repeats(p: &ScriptedPeer) -> usize {
    // The testkit records events it does not know as `Other`; the gap events are counted
    // separately, so `Other` here is only the repeated-ResendRequest event.
    p.ep.io
        .events
        .iter()
        .filter(|e| matches!(e, Recorded::Other))
        .count()
}

/// Every message sent since the last call, as (MsgType, frame).
fn drain(p: &mut ScriptedPeer) -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    while let Some(m) = p.next_message() {
        v.push((get(&m, 35).unwrap(), m));
    }
    v
}

#[test]
fn a_lost_resend_request_is_repeated_once_per_timeout_until_answered() {
    for begin in VERSIONS {
        let c = cfg(begin).with_resend_request_timeout(Some(Duration::from_secs(5)));
        let mut p = logged_on(c);
        let mut app = EchoApp::default();
        p.send(&format!("35=D|{}11=B|", h(4)), &mut app);
        // The first ResendRequest: the peer never sees it.
        p.expect(&e(begin, "35=2|34=2|49=ISLD|52=*|56=TW|7=2|16=0|"));
        p.advance(Duration::from_millis(4_999));
        p.expect_nothing();
        assert_eq!(repeats(&p), 0);
        p.advance(Duration::from_millis(1));
        p.expect(&e(begin, "35=2|34=3|49=ISLD|52=*|56=TW|7=2|16=0|"));
        assert_eq!(repeats(&p), 1);
        // No storm: the next one only a full timeout later, even with a too-high message
        // (raising SequenceGap) in between.
        p.send(&format!("35=0|{}", h(5)), &mut app);
        p.advance(Duration::from_millis(4_999));
        p.expect_nothing();
        p.advance(Duration::from_millis(1));
        p.expect(&e(begin, "35=2|34=4|49=ISLD|52=*|56=TW|7=2|16=0|"));
        assert_eq!(repeats(&p), 2);
        // The answer arrives: the gap closes and nothing is re-requested any more.
        p.send(&format!("35=D|{}43=Y|122=<TIME>|11=A|", h(2)), &mut app);
        p.send(
            &format!("35=4|{}43=Y|122=<TIME>|36=4|123=Y|", h(3)),
            &mut app,
        );
        assert_eq!(p.ep.session.next_target_seq(), 6);
        let ids: Vec<_> =
            p.ep.io
                .app_messages()
                .iter()
                .map(|m| get(m, 11).unwrap())
                .collect();
        assert_eq!(ids, ["A", "B"]);
        drain(&mut p); // the echoes
        for _ in 0..3 {
            p.send(
                &format!("35=0|{}", h(p.ep.session.next_target_seq())),
                &mut app,
            );
            p.advance(Duration::from_secs(20));
        }
        assert!(
            drain(&mut p).iter().all(|(t, _)| t != "2"),
            "no ResendRequest once the gap is filled"
        );
        assert_eq!(repeats(&p), 2);
    }
}

#[test]
fn progress_restarts_the_timeout_and_the_repeat_asks_only_for_what_is_missing() {
    let begin = "FIX.4.4";
    let c = cfg(begin).with_resend_request_timeout(Some(Duration::from_secs(5)));
    let mut p = logged_on(c);
    let mut app = EchoApp::default();
    p.send(&format!("35=0|{}", h(6)), &mut app);
    p.expect(&e(begin, "35=2|34=2|49=ISLD|52=*|56=TW|7=2|16=0|"));
    p.advance(Duration::from_secs(3));
    // Part of the answer arrives, then the rest is lost.
    p.send(&format!("35=D|{}43=Y|122=<TIME>|11=A|", h(2)), &mut app);
    assert_eq!(p.ep.session.next_target_seq(), 3);
    drain(&mut p);
    p.advance(Duration::from_millis(4_999));
    p.expect_nothing();
    p.advance(Duration::from_millis(1));
    let rr = p.next_message().expect("repeated ResendRequest");
    assert_eq!(get(&rr, 35).as_deref(), Some("2"));
    assert_eq!(get(&rr, 7).as_deref(), Some("3"));
    assert_eq!(get(&rr, 16).as_deref(), Some("0"));
    // The rest: 3..=5, then the queued heartbeat 6 is processed.
    p.send(
        &format!("35=4|{}43=Y|122=<TIME>|36=6|123=Y|", h(3)),
        &mut app,
    );
    assert_eq!(p.ep.session.next_target_seq(), 7);
    p.advance(Duration::from_secs(25));
    assert!(drain(&mut p).iter().all(|(t, _)| t != "2"));
}

#[test]
fn fix40_repeat_uses_999999() {
    let begin = "FIX.4.0";
    let c = cfg(begin).with_resend_request_timeout(Some(Duration::from_secs(1)));
    let mut p = logged_on(c);
    p.send(&format!("35=0|{}", h(3)), &mut NoApp);
    p.expect(&e(begin, "35=2|34=2|49=ISLD|52=*|56=TW|7=2|16=999999|"));
    p.advance(Duration::from_secs(1));
    p.expect(&e(begin, "35=2|34=3|49=ISLD|52=*|56=TW|7=2|16=999999|"));
}

#[test]
fn default_timeout_is_twice_the_heartbeat_interval() {
    let begin = "FIX.4.2";
    let mut p = logged_on(cfg(begin));
    p.send(&format!("35=0|{}", h(3)), &mut NoApp);
    p.expect(&e(begin, "35=2|34=2|49=ISLD|52=*|56=TW|7=2|16=0|"));
    // The peer keeps heartbeating (too high, queued) so the connection stays up.
    for seq in 4..9 {
        p.advance(Duration::from_secs(11));
        p.send(&format!("35=0|{}", h(seq)), &mut NoApp);
    }
    p.advance(Duration::from_millis(4_999)); // 59.999 s after the ResendRequest
    assert!(drain(&mut p).iter().all(|(t, _)| t != "2"));
    p.advance(Duration::from_millis(1));
    let sent = drain(&mut p);
    let rr: Vec<_> = sent.iter().filter(|(t, _)| t == "2").collect();
    assert_eq!(rr.len(), 1, "one repeat at 2 x HeartBtInt");
    assert_eq!(get(&rr[0].1, 7).as_deref(), Some("2"));
    assert_eq!(p.state(), SessionState::Established);
}

#[test]
fn zero_turns_the_repeat_off() {
    let begin = "FIX.4.2";
    let c = cfg(begin).with_resend_request_timeout(Some(Duration::ZERO));
    let mut p = logged_on(c);
    p.send(&format!("35=0|{}", h(3)), &mut NoApp);
    p.expect(&e(begin, "35=2|34=2|49=ISLD|52=*|56=TW|7=2|16=0|"));
    for seq in 4..24 {
        p.advance(Duration::from_secs(10));
        p.send(&format!("35=0|{}", h(seq)), &mut NoApp);
    }
    assert!(drain(&mut p).iter().all(|(t, _)| t != "2"));
    assert_eq!(repeats(&p), 0);
    assert_eq!(p.state(), SessionState::Established);
}

#[test]
fn a_new_connection_forgets_the_outstanding_request() {
    let begin = "FIX.4.4";
    let c = cfg(begin).with_resend_request_timeout(Some(Duration::from_secs(5)));
    let mut p = logged_on(c);
    p.send(&format!("35=0|{}", h(3)), &mut NoApp);
    p.expect(&e(begin, "35=2|34=2|49=ISLD|52=*|56=TW|7=2|16=0|"));
    let now = p.clock.now();
    p.ep.drop_connection(now);
    p.advance(Duration::from_secs(60));
    p.expect_nothing();
    assert_eq!(repeats(&p), 0);
}

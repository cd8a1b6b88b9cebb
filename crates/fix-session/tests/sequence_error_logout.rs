//! A Logout sent for a sequence error ("MsgSeqNum too low") does not end the sequence stream on
//! the side that answers it: it ends `NON_GRACEFULLY_TERMINATED` and keeps its numbers, as the
//! side that sent it does, so the two never silently start disagreeing.

use fix_session::{Role, SeqState, Session, SessionConfig, SessionState};
use fix_testkit::{NoApp, Pair, Recorded, ScriptedPeer};

fn cfg(role: Role, me: &str, them: &str) -> SessionConfig {
    SessionConfig::new("FIX.4.4", me, them, role)
}

fn h(seq: u64) -> String {
    format!("34={seq}|49=TW|52=<TIME>|56=ISLD|")
}

fn e(rest: &str) -> String {
    format!("8=FIX.4.4|9=*|{rest}10=*|")
}

fn seq(next_sender: u64, next_target: u64) -> SeqState {
    SeqState {
        next_sender,
        next_target,
        first_logon: false,
    }
}

/// The crash-test case: an acceptor whose Logon reply carries a number the initiator has already
/// seen gets a "too low" Logout; it answers it but neither resets nor calls it a completed logout.
#[test]
fn acceptor_answering_a_too_low_logout_keeps_its_numbers() {
    let mut p =
        ScriptedPeer::new(Session::new(cfg(Role::Acceptor, "ISLD", "TW"), seq(4, 7)).unwrap());
    p.connect();
    p.send(&format!("35=A|{}98=0|108=30|", h(7)), &mut NoApp);
    p.expect(&e("35=A|34=4|49=ISLD|52=*|56=TW|98=0|108=30|"));
    p.send(
        &format!(
            "35=5|{}58=MsgSeqNum too low, expecting 6 but received 4|",
            h(8)
        ),
        &mut NoApp,
    );
    p.expect(&e("35=5|34=5|49=ISLD|52=*|56=TW|"));
    p.expect_disconnect();
    assert!(p.ep.io.saw(&Recorded::LoggedOut(
        "MsgSeqNum too low, expecting 6 but received 4".into()
    )));
    assert_eq!(p.state(), SessionState::NonGracefullyTerminated);
    assert_eq!(p.ep.io.store_resets, 0);
    assert_eq!(p.ep.session.next_sender_seq(), 6);
    assert_eq!(p.ep.session.next_target_seq(), 9);
    assert!(p.ep.io.events.iter().any(|e| matches!(
        e,
        Recorded::Warning(w) if w.starts_with("Logout for a sequence error")
    )));
    // The next Logon continues the numbers (no reset happened behind the peer's back).
    p.connect();
    p.send(&format!("35=A|{}98=0|108=30|", h(9)), &mut NoApp);
    p.expect(&e("35=A|34=6|49=ISLD|52=*|56=TW|98=0|108=30|"));
    assert_eq!(p.state(), SessionState::Established);
}

/// The same rule on the side that initiated the Logout exchange and on an initiator.
#[test]
fn a_too_low_logout_is_not_a_completed_exchange_in_any_role() {
    for role in [Role::Acceptor, Role::Initiator] {
        let mut p = ScriptedPeer::new(Session::new(cfg(role, "ISLD", "TW"), seq(1, 1)).unwrap());
        p.connect();
        if role == Role::Initiator {
            p.expect(&e("35=A|34=1|49=ISLD|52=*|56=TW|98=0|108=30|"));
            p.send(&format!("35=A|{}98=0|108=30|", h(1)), &mut NoApp);
        } else {
            p.send(&format!("35=A|{}98=0|108=30|", h(1)), &mut NoApp);
            p.expect(&e("35=A|34=1|49=ISLD|52=*|56=TW|98=0|108=30|"));
        }
        assert_eq!(p.state(), SessionState::Established);
        let now = p.clock.now();
        p.ep.session.disconnect("", now, &mut p.ep.io).unwrap();
        p.expect(&e("35=5|34=2|49=ISLD|52=*|56=TW|"));
        p.send(
            &format!("35=5|{}58=MsgSeqNum(34) too low, expecting 9|", h(2)),
            &mut NoApp,
        );
        p.expect_disconnect();
        assert_eq!(p.state(), SessionState::NonGracefullyTerminated, "{role:?}");
        assert_eq!(p.ep.io.store_resets, 0, "{role:?}");
        assert_eq!(p.ep.session.next_sender_seq(), 3, "{role:?}");
        assert_eq!(p.ep.session.next_target_seq(), 3, "{role:?}");
    }
}

/// Contrast: any other Logout is still a completed exchange that ends the stream.
#[test]
fn an_ordinary_logout_still_resets_without_intraday_tolerance() {
    let mut p =
        ScriptedPeer::new(Session::new(cfg(Role::Acceptor, "ISLD", "TW"), seq(4, 7)).unwrap());
    p.connect();
    p.send(&format!("35=A|{}98=0|108=30|", h(7)), &mut NoApp);
    p.next_message();
    p.send(
        &format!("35=5|{}58=too low volume today|", h(8)),
        &mut NoApp,
    );
    p.expect(&e("35=5|34=5|49=ISLD|52=*|56=TW|"));
    assert_eq!(p.state(), SessionState::CorrectlyTerminated);
    assert_eq!(p.ep.io.store_resets, 1);
    assert_eq!(p.ep.session.next_sender_seq(), 1);
}

/// Two sessions: the acceptor lost its last outgoing number (the crash-test situation). The
/// initiator refuses its Logon reply; afterwards both still hold their numbers, so the
/// disagreement stays visible (and fixable) instead of turning into a silent reset loop.
#[test]
fn both_sides_keep_their_numbers_after_a_too_low_logon() {
    let a = Session::new(cfg(Role::Initiator, "A", "B"), seq(5, 6)).unwrap();
    let b = Session::new(cfg(Role::Acceptor, "B", "A"), seq(5, 5)).unwrap();
    let mut pair = Pair::new(a, b);
    pair.connect();
    pair.pump(&mut NoApp, &mut NoApp);
    assert_eq!(
        pair.a.session.state(),
        SessionState::NonGracefullyTerminated
    );
    assert_eq!(
        pair.b.session.state(),
        SessionState::NonGracefullyTerminated
    );
    assert_eq!(pair.b.io.store_resets, 0);
    assert_eq!(pair.a.io.store_resets, 0);
    assert!(pair.b.io.events.iter().any(|e| matches!(
        e,
        Recorded::LoggedOut(t) if t.starts_with("MsgSeqNum too low")
    )));
    // Nothing was reset: the acceptor used 5 (Logon) and 6 (its Logout); the initiator still
    // expects 6 and sent 5 (Logon) and 6 (Logout).
    assert_eq!(pair.b.session.next_sender_seq(), 7);
    assert_eq!(pair.b.session.next_target_seq(), 7);
    assert_eq!(pair.a.session.next_sender_seq(), 7);
    assert_eq!(pair.a.session.next_target_seq(), 6);
    // So the next connection gets past it: the acceptor's Logon reply (7) is now too high for
    // the initiator, which asks for 6 and is gap-filled, instead of a reset loop.
    pair.connect();
    pair.pump(&mut NoApp, &mut NoApp);
    assert_eq!(pair.a.session.state(), SessionState::Established);
    assert_eq!(pair.b.session.state(), SessionState::Established);
    assert_eq!(
        pair.a.session.next_target_seq(),
        pair.b.session.next_sender_seq()
    );
    assert_eq!(
        pair.b.session.next_target_seq(),
        pair.a.session.next_sender_seq()
    );
    assert_eq!(pair.b.io.store_resets, 0);
}

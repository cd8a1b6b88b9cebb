//! Property tests: two sessions exchanging application messages through a faulty in-memory link
//! (message loss, duplicates, connection drops, delays) never lose a message, never deliver one
//! twice without PossDupFlag, and never move a sequence number back.

use std::collections::HashSet;
use std::time::Duration;

use fix_session::{Role, SeqState, Session, SessionConfig, SessionState};
use fix_testkit::{NoApp, Pair, get};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    SendA,
    SendB,
    DeliverAB,
    DeliverBA,
    LoseAB,
    LoseBA,
    DuplicateAB,
    DuplicateBA,
    DropLink,
    Reconnect,
    Delay(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::SendA),
        4 => Just(Op::SendB),
        6 => Just(Op::DeliverAB),
        6 => Just(Op::DeliverBA),
        1 => Just(Op::LoseAB),
        1 => Just(Op::LoseBA),
        1 => Just(Op::DuplicateAB),
        1 => Just(Op::DuplicateBA),
        1 => Just(Op::DropLink),
        2 => Just(Op::Reconnect),
        2 => (1u64..40).prop_map(Op::Delay),
    ]
}

fn session(begin: &str, sender: &str, target: &str, role: Role) -> Session {
    let c = SessionConfig::new(begin, sender, target, role)
        .with_heart_bt_int(10)
        .with_intraday_logout_tolerance(true);
    let c = if begin == "FIXT.1.1" {
        c.with_default_appl_ver_id("9")
    } else {
        c
    };
    Session::new(c, SeqState::default()).unwrap()
}

fn send(pair: &mut Pair, a_side: bool, id: &str) -> bool {
    let now = pair.clock.now();
    let ep = if a_side { &mut pair.a } else { &mut pair.b };
    ep.session
        .send_app(b"D", now, &mut ep.io, |e| {
            e.field(11, id.as_bytes());
        })
        .is_ok()
}

fn deliver(pair: &mut Pair, a_to_b: bool, duplicate: bool, lose: bool) {
    let now = pair.clock.now();
    let m = if a_to_b {
        pair.in_flight_a_to_b().pop_front()
    } else {
        pair.in_flight_b_to_a().pop_front()
    };
    let Some(m) = m else { return };
    if lose {
        return;
    }
    let ep = if a_to_b { &mut pair.b } else { &mut pair.a };
    if ep.session.is_connected() {
        ep.receive(&m, now, &mut NoApp);
        if duplicate && ep.session.is_connected() {
            ep.receive(&m, now, &mut NoApp);
        }
    }
    pair.handle_closes();
}

fn reconnect(pair: &mut Pair) {
    if !pair.a.session.is_connected() && !pair.b.session.is_connected() {
        pair.connect();
    }
}

/// Drop the link, reconnect, and let the sessions run until they are quiet.
fn heal(pair: &mut Pair) {
    for _ in 0..4 {
        pair.drop_link();
        pair.connect();
        pair.pump(&mut NoApp, &mut NoApp);
        // Long enough for heartbeats to reveal trailing gaps, and for resends to complete.
        for _ in 0..3 {
            pair.advance(Duration::from_secs(11), &mut NoApp, &mut NoApp);
            pair.pump(&mut NoApp, &mut NoApp);
        }
        if pair.a.session.state() == SessionState::Established
            && pair.b.session.state() == SessionState::Established
        {
            return;
        }
    }
}

fn check_side(sent: &[String], delivered: &[Vec<u8>], who: &str) -> Result<(), TestCaseError> {
    let mut seen = HashSet::new();
    for m in delivered {
        let id = get(m, 11).unwrap_or_default();
        let poss_dup = get(m, 43).as_deref() == Some("Y");
        let first = seen.insert(id.clone());
        prop_assert!(
            first || poss_dup,
            "{who}: {id} delivered twice without PossDup"
        );
    }
    for id in sent {
        prop_assert!(seen.contains(id), "{who}: {id} was lost");
    }
    Ok(())
}

fn non_decreasing(v: &[u64]) -> bool {
    v.windows(2).all(|w| w[0] <= w[1])
}

fn run(begin: &str, ops: &[Op]) -> Result<(), TestCaseError> {
    let a = session(begin, "A", "B", Role::Initiator);
    let b = session(begin, "B", "A", Role::Acceptor);
    let mut pair = Pair::new(a, b);
    pair.connect();
    let (mut sent_a, mut sent_b) = (Vec::new(), Vec::new());
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::SendA => {
                let id = format!("A{i}");
                if send(&mut pair, true, &id) {
                    sent_a.push(id);
                }
            }
            Op::SendB => {
                let id = format!("B{i}");
                if send(&mut pair, false, &id) {
                    sent_b.push(id);
                }
            }
            Op::DeliverAB => deliver(&mut pair, true, false, false),
            Op::DeliverBA => deliver(&mut pair, false, false, false),
            Op::LoseAB => deliver(&mut pair, true, false, true),
            Op::LoseBA => deliver(&mut pair, false, false, true),
            Op::DuplicateAB => deliver(&mut pair, true, true, false),
            Op::DuplicateBA => deliver(&mut pair, false, true, false),
            Op::DropLink => pair.drop_link(),
            Op::Reconnect => reconnect(&mut pair),
            Op::Delay(s) => {
                pair.advance(Duration::from_secs(*s), &mut NoApp, &mut NoApp);
                pair.handle_closes();
            }
        }
    }
    heal(&mut pair);
    prop_assert_eq!(pair.a.session.state(), SessionState::Established);
    prop_assert_eq!(pair.b.session.state(), SessionState::Established);
    check_side(&sent_a, &pair.b.io.app_messages(), "B")?;
    check_side(&sent_b, &pair.a.io.app_messages(), "A")?;
    for ep in [&pair.a, &pair.b] {
        prop_assert!(
            non_decreasing(&ep.io.target_history),
            "{:?}",
            ep.io.target_history
        );
        prop_assert!(
            non_decreasing(&ep.io.sender_history),
            "{:?}",
            ep.io.sender_history
        );
        prop_assert_eq!(ep.io.store_resets, 0);
        prop_assert!(ep.io.persisted_before_send);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn no_loss_no_unflagged_duplicate_fix44(ops in proptest::collection::vec(op(), 0..48)) {
        run("FIX.4.4", &ops)?;
    }

    #[test]
    fn no_loss_no_unflagged_duplicate_fix42(ops in proptest::collection::vec(op(), 0..48)) {
        run("FIX.4.2", &ops)?;
    }

    #[test]
    fn no_loss_no_unflagged_duplicate_fixt(ops in proptest::collection::vec(op(), 0..48)) {
        run("FIXT.1.1", &ops)?;
    }
}

#[test]
fn two_sessions_log_on_exchange_and_log_out() {
    for begin in ["FIX.4.2", "FIX.4.4", "FIXT.1.1"] {
        let a = session(begin, "A", "B", Role::Initiator);
        let b = session(begin, "B", "A", Role::Acceptor);
        let mut pair = Pair::new(a, b);
        pair.connect();
        pair.pump(&mut NoApp, &mut NoApp);
        assert_eq!(pair.a.session.state(), SessionState::Established);
        assert_eq!(pair.b.session.state(), SessionState::Established);
        assert!(send(&mut pair, true, "x"));
        assert!(send(&mut pair, false, "y"));
        pair.pump(&mut NoApp, &mut NoApp);
        assert_eq!(pair.b.io.app_messages().len(), 1);
        assert_eq!(pair.a.io.app_messages().len(), 1);
        // An hour of silence: heartbeats both ways keep the session up.
        pair.advance(Duration::from_secs(3600), &mut NoApp, &mut NoApp);
        assert_eq!(pair.a.session.state(), SessionState::Established);
        let now = pair.clock.now();
        pair.a
            .session
            .disconnect("eod", now, &mut pair.a.io)
            .unwrap();
        pair.pump(&mut NoApp, &mut NoApp);
        assert_eq!(
            pair.a.session.state(),
            SessionState::NonGracefullyTerminated
        );
        assert!(
            pair.b
                .io
                .saw(&fix_testkit::Recorded::LoggedOut("eod".into()))
        );
    }
}

/// Frames with random fields (valid framing, arbitrary content) and raw noise.
fn hostile_input() -> impl Strategy<Value = Vec<u8>> {
    let field = (
        prop_oneof![
            Just(34u32),
            Just(35),
            Just(36),
            Just(7),
            Just(16),
            Just(43),
            Just(52),
            Just(122),
            Just(141),
            Just(108),
            0u32..2000
        ],
        "[0-9A-Za-z=.:-]{0,12}",
    );
    prop_oneof![
        proptest::collection::vec(field, 0..12).prop_map(|fs| {
            let body: String = fs.iter().map(|(t, v)| format!("{t}={v}|")).collect();
            fix_testkit::build_frame("FIX.4.4", &format!("35=0|49=TW|56=ISLD|{body}"))
        }),
        proptest::collection::vec(any::<u8>(), 0..200),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn hostile_input_never_panics(inputs in proptest::collection::vec(hostile_input(), 1..20)) {
        let c = SessionConfig::new("FIX.4.4", "ISLD", "TW", Role::Acceptor).with_max_latency(None);
        let mut p = fix_testkit::ScriptedPeer::new(Session::new(c, SeqState::default()).unwrap());
        p.connect();
        p.send("35=A|34=1|49=TW|52=<TIME>|56=ISLD|98=0|108=30|", &mut NoApp);
        for i in inputs {
            p.send_raw(&i, &mut NoApp);
            p.advance(Duration::from_secs(1));
        }
        let hist = &p.ep.io.target_history;
        prop_assert!(hist.windows(2).all(|w| w[0] <= w[1] || w[1] == 1), "{hist:?}");
    }
}

//! Given/when/then scenarios against a scripted counterparty, with a manual clock.
//!
//! The session under test is `ISLD`; the scripted peer is `TW`. Expected messages are written as
//! `|`-separated fields; `52`, `122` and `10` match any value, `*` matches anything.

use std::sync::Arc;
use std::time::Duration;

use fix_session::{
    ForceSeqNumReset, MessageValidator, RejectReason, Role, SeqState, Session, SessionConfig,
    SessionState, Violation,
};
use fix_testkit::{EchoApp, NoApp, Recorded, ScriptedPeer, get};

const VERSIONS: [&str; 3] = ["FIX.4.2", "FIX.4.4", "FIXT.1.1"];

fn cfg(begin: &str, role: Role) -> SessionConfig {
    let c = SessionConfig::new(begin, "ISLD", "TW", role);
    if begin == "FIXT.1.1" {
        c.with_default_appl_ver_id("9")
    } else {
        c
    }
}

fn acceptor(begin: &str) -> ScriptedPeer {
    acceptor_with(cfg(begin, Role::Acceptor), SeqState::default())
}

fn acceptor_with(c: SessionConfig, seq: SeqState) -> ScriptedPeer {
    let mut p = ScriptedPeer::new(Session::new(c, seq).unwrap());
    p.connect();
    p
}

/// Peer header for message `seq`.
fn h(seq: u64) -> String {
    format!("34={seq}|49=TW|52=<TIME>|56=ISLD|")
}

fn logon_body(begin: &str, seq: u64, extra: &str) -> String {
    let appl = if begin == "FIXT.1.1" { "1137=9|" } else { "" };
    format!("35=A|{}98=0|108=30|{extra}{appl}", h(seq))
}

fn expected_logon_reply(begin: &str, extra: &str) -> String {
    let appl = if begin == "FIXT.1.1" { "1137=9|" } else { "" };
    format!("8={begin}|9=*|35=A|34=1|49=ISLD|52=*|56=TW|98=0|108=30|{extra}{appl}10=*|")
}

/// Given a logged-on acceptor.
fn logged_on(begin: &str) -> ScriptedPeer {
    let mut p = acceptor(begin);
    p.send(&logon_body(begin, 1, ""), &mut NoApp);
    p.expect(&expected_logon_reply(begin, ""));
    assert_eq!(p.state(), SessionState::Established);
    p
}

fn e(begin: &str, rest: &str) -> String {
    format!("8={begin}|9=*|{rest}10=*|")
}

// ------------------------------------------------------------------------------------------------
// Logon

#[test]
fn acceptor_answers_a_valid_logon_in_every_version() {
    for begin in [
        "FIX.4.0", "FIX.4.1", "FIX.4.2", "FIX.4.3", "FIX.4.4", "FIXT.1.1",
    ] {
        let mut p = acceptor(begin);
        assert_eq!(p.state(), SessionState::WaitForFirstLogon);
        p.send(&logon_body(begin, 1, ""), &mut NoApp);
        let reply = p.expect(&expected_logon_reply(begin, ""));
        let ts = get(&reply, 52).unwrap();
        let want_len = if begin < "FIX.4.2" { 17 } else { 21 };
        assert_eq!(ts.len(), want_len, "{begin} SendingTime precision");
        assert_eq!(p.state(), SessionState::Established);
        assert!(p.ep.io.saw(&Recorded::LoggedOn { reset: false }));
        assert_eq!(p.ep.io.next_target, 2);
        assert_eq!(p.ep.io.next_sender, 2);
    }
}

#[test]
fn acceptor_adopts_the_peers_heart_bt_int() {
    let mut p = acceptor("FIX.4.2");
    p.send(&format!("35=A|{}98=0|108=7|", h(1)), &mut NoApp);
    p.expect(&e("FIX.4.2", "35=A|34=1|49=ISLD|52=*|56=TW|98=0|108=7|"));
    assert_eq!(p.ep.session.heart_bt_int(), 7);
}

#[test]
fn initiator_sends_logon_and_is_established_by_the_confirmation() {
    for begin in VERSIONS {
        let mut p = ScriptedPeer::new(
            Session::new(cfg(begin, Role::Initiator), SeqState::default()).unwrap(),
        );
        p.connect();
        assert_eq!(p.state(), SessionState::WaitForConfirmLogon);
        p.expect(&expected_logon_reply(begin, ""));
        p.send(&logon_body(begin, 1, ""), &mut NoApp);
        assert_eq!(p.state(), SessionState::Established);
        p.expect_nothing();
        assert_eq!(
            p.ep.io.states(),
            vec![SessionState::WaitForConfirmLogon, SessionState::Established]
        );
    }
}

#[test]
fn initiator_gets_a_logout_instead_of_a_logon() {
    let mut p = ScriptedPeer::new(
        Session::new(cfg("FIX.4.4", Role::Initiator), SeqState::default()).unwrap(),
    );
    p.connect();
    p.next_message();
    p.send(&format!("35=5|{}58=go away|", h(1)), &mut NoApp);
    assert!(p.ep.io.saw(&Recorded::LoggedOut("go away".into())));
    assert_eq!(p.state(), SessionState::NonGracefullyTerminated);
    assert!(p.ep.io.closed);
}

#[test]
fn logon_failures_close_without_sending_anything() {
    for begin in VERSIONS {
        let cases: Vec<(&str, String)> = vec![
            (
                "bad SenderCompID",
                logon_body(begin, 1, "").replace("49=TW", "49=XX"),
            ),
            (
                "bad TargetCompID",
                logon_body(begin, 1, "").replace("56=ISLD", "56=XX"),
            ),
            (
                "bad SendingTime",
                logon_body(begin, 1, "").replace("52=<TIME>", "52=20010101-00:00:00"),
            ),
            ("not a Logon", format!("35=0|{}", h(1))),
            (
                "no HeartBtInt",
                logon_body(begin, 1, "").replace("108=30|", ""),
            ),
            ("141=Y but 34=2", logon_body(begin, 2, "141=Y|")),
            (
                "EncryptMethod 1",
                logon_body(begin, 1, "").replace("98=0", "98=1"),
            ),
        ];
        for (what, body) in cases {
            let mut p = acceptor(begin);
            p.send(&body, &mut NoApp);
            p.expect_disconnect();
            assert_eq!(p.state(), SessionState::WaitForFirstLogon, "{begin} {what}");
        }
        // Wrong BeginString.
        let mut p = acceptor(begin);
        p.begin = "FIX.4.3".into();
        p.send(&logon_body(begin, 1, ""), &mut NoApp);
        p.expect_disconnect();
    }
}

#[test]
fn fixt_logon_without_default_appl_ver_id_is_refused() {
    let mut p = acceptor("FIXT.1.1");
    p.send(&format!("35=A|{}98=0|108=30|", h(1)), &mut NoApp);
    p.expect_disconnect();
}

#[test]
fn logon_with_reset_flag_resets_both_numbers_and_is_answered_with_141() {
    for begin in VERSIONS {
        let mut p = acceptor_with(
            cfg(begin, Role::Acceptor),
            SeqState {
                next_sender: 40,
                next_target: 30,
                first_logon: false,
            },
        );
        p.send(&logon_body(begin, 1, "141=Y|"), &mut NoApp);
        p.expect(&expected_logon_reply(begin, "141=Y|"));
        assert!(p.ep.io.saw(&Recorded::LoggedOn { reset: true }));
        assert_eq!(p.ep.io.store_resets, 1);
        assert_eq!(p.ep.session.next_target_seq(), 2);
        assert_eq!(p.ep.session.next_sender_seq(), 2);
    }
}

#[test]
fn logon_timeout_closes_the_connection() {
    let mut p = acceptor("FIX.4.2");
    p.advance(Duration::from_secs(9));
    assert!(!p.ep.io.closed);
    p.advance(Duration::from_secs(2));
    p.expect_disconnect();
    assert_eq!(p.state(), SessionState::WaitForFirstLogon);

    let mut i = ScriptedPeer::new(
        Session::new(cfg("FIX.4.4", Role::Initiator), SeqState::default()).unwrap(),
    );
    i.connect();
    i.next_message();
    i.advance(Duration::from_secs(11));
    assert!(i.ep.io.closed);
    assert_eq!(i.state(), SessionState::NonGracefullyTerminated);
}

#[test]
fn credential_check_refuses_with_a_logout() {
    let c = cfg("FIX.4.4", Role::Acceptor).with_credential_check(Arc::new(|user, pass| {
        if user == Some(&b"u"[..]) && pass == Some(&b"p"[..]) {
            Ok(())
        } else {
            Err("bad credentials".into())
        }
    }));
    let mut p = acceptor_with(c.clone(), SeqState::default());
    p.send(&logon_body("FIX.4.4", 1, "553=u|554=x|"), &mut NoApp);
    p.expect(&e(
        "FIX.4.4",
        "35=5|34=1|49=ISLD|52=*|56=TW|58=bad credentials|",
    ));
    assert!(p.ep.io.closed);

    let mut p = acceptor_with(c, SeqState::default());
    p.send(&logon_body("FIX.4.4", 1, "553=u|554=p|"), &mut NoApp);
    p.expect(&expected_logon_reply("FIX.4.4", ""));
}

#[test]
fn initiator_sends_username_and_password_in_ascending_tag_order() {
    for begin in VERSIONS {
        let c = cfg(begin, Role::Initiator)
            .with_credentials(Some("alice".into()), Some("s3cret".into()))
            .with_next_expected_msg_seq_num(true)
            .with_force_seq_num_reset(ForceSeqNumReset::Always);
        let mut p = ScriptedPeer::new(Session::new(c, SeqState::default()).unwrap());
        p.connect();
        let next = if begin == "FIX.4.2" { "" } else { "789=1|" };
        p.expect(&expected_logon_reply(
            begin,
            &format!("141=Y|553=alice|554=s3cret|{next}"),
        ));
        p.send(&logon_body(begin, 1, "141=Y|"), &mut NoApp);
        assert_eq!(p.state(), SessionState::Established);
    }
    // Only the username: the password field is left out.
    let c = cfg("FIX.4.4", Role::Initiator).with_credentials(Some("bob".into()), None);
    let mut p = ScriptedPeer::new(Session::new(c, SeqState::default()).unwrap());
    p.connect();
    p.expect(&expected_logon_reply("FIX.4.4", "553=bob|"));
}

#[test]
fn credentials_survive_a_reconnect_and_are_never_sent_by_an_acceptor() {
    let c = cfg("FIX.4.4", Role::Initiator).with_credentials(Some("u".into()), Some("p".into()));
    let mut p = ScriptedPeer::new(Session::new(c, SeqState::default()).unwrap());
    p.connect();
    p.expect(&expected_logon_reply("FIX.4.4", "553=u|554=p|"));
    p.advance(Duration::from_secs(11));
    assert_eq!(p.state(), SessionState::NonGracefullyTerminated);
    p.connect();
    p.expect(&e(
        "FIX.4.4",
        "35=A|34=2|49=ISLD|52=*|56=TW|98=0|108=30|553=u|554=p|",
    ));

    let c = cfg("FIX.4.4", Role::Acceptor)
        .with_credentials(Some("u".into()), Some("p".into()))
        .with_credential_check(Arc::new(|_, _| Ok(())));
    let mut p = acceptor_with(c, SeqState::default());
    p.send(&logon_body("FIX.4.4", 1, "553=u|554=p|"), &mut NoApp);
    p.expect(&expected_logon_reply("FIX.4.4", ""));
}

#[test]
fn a_password_with_soh_is_refused_without_showing_it() {
    let c = cfg("FIX.4.4", Role::Initiator).with_credentials(None, Some("a\u{1}b".into()));
    let e = c.validate().unwrap_err();
    assert!(!format!("{e}").contains("a\u{1}b"), "{e}");
    let c = cfg("FIX.4.4", Role::Initiator).with_credentials(Some("a\u{1}b".into()), None);
    assert!(c.validate().is_err());
}

#[test]
fn logon_with_too_high_seq_is_answered_then_a_resend_request_follows() {
    let mut p = acceptor("FIX.4.2");
    p.send(&logon_body("FIX.4.2", 5, ""), &mut NoApp);
    p.expect(&expected_logon_reply("FIX.4.2", ""));
    p.expect(&e("FIX.4.2", "35=2|34=2|49=ISLD|52=*|56=TW|7=1|16=0|"));
    // Gap filled: 1..4, then the Logon's own number is consumed.
    p.send(
        &format!("35=4|{}43=Y|122=<TIME>|36=5|123=Y|", h(1)),
        &mut NoApp,
    );
    assert_eq!(p.ep.session.next_target_seq(), 6);
    p.send(&format!("35=1|{}112=X|", h(6)), &mut NoApp);
    p.expect(&e("FIX.4.2", "35=0|34=3|49=ISLD|52=*|56=TW|112=X|"));
}

#[test]
fn logon_with_too_low_seq_gets_a_logout() {
    let mut p = acceptor_with(
        cfg("FIX.4.4", Role::Acceptor),
        SeqState {
            next_sender: 3,
            next_target: 5,
            first_logon: false,
        },
    );
    p.send(&logon_body("FIX.4.4", 2, ""), &mut NoApp);
    p.expect(&e(
        "FIX.4.4",
        "35=5|34=3|49=ISLD|52=*|56=TW|58=MsgSeqNum too low, expecting 5 but received 2|",
    ));
    assert!(p.ep.io.closed);
}

#[test]
fn next_expected_msg_seq_num_is_sent_only_when_enabled() {
    let mut p = acceptor_with(
        cfg("FIX.4.4", Role::Acceptor).with_next_expected_msg_seq_num(true),
        SeqState::default(),
    );
    p.send(&logon_body("FIX.4.4", 1, ""), &mut NoApp);
    p.expect(&expected_logon_reply("FIX.4.4", "789=1|"));
}

#[test]
fn reset_on_logon_restarts_numbers_for_the_acceptor() {
    let mut p = acceptor_with(
        cfg("FIX.4.2", Role::Acceptor).with_reset_on_logon(true),
        SeqState {
            next_sender: 9,
            next_target: 9,
            first_logon: false,
        },
    );
    p.send(&logon_body("FIX.4.2", 1, ""), &mut NoApp);
    p.expect(&expected_logon_reply("FIX.4.2", ""));
    assert_eq!(p.ep.io.store_resets, 1);
}

#[test]
fn force_seq_num_reset_policies_on_the_initiator() {
    let stored = SeqState {
        next_sender: 10,
        next_target: 20,
        first_logon: false,
    };
    let fresh = SeqState::default();
    let cases = [
        (ForceSeqNumReset::Never, stored, false),
        (ForceSeqNumReset::FirstLogon, stored, false),
        (ForceSeqNumReset::FirstLogon, fresh, true),
        (ForceSeqNumReset::Always, stored, true),
    ];
    for (policy, seq, reset) in cases {
        let c = cfg("FIX.4.4", Role::Initiator).with_force_seq_num_reset(policy);
        let mut p = ScriptedPeer::new(Session::new(c, seq).unwrap());
        p.connect();
        let logon = p.next_message().unwrap();
        assert_eq!(get(&logon, 141).is_some(), reset, "{policy:?}");
        if reset {
            assert_eq!(get(&logon, 34).as_deref(), Some("1"));
        } else {
            assert_eq!(get(&logon, 34), Some(seq.next_sender.to_string()));
        }
    }
    // Always: again on a reconnection.
    let c = cfg("FIX.4.4", Role::Initiator).with_force_seq_num_reset(ForceSeqNumReset::Always);
    let mut p = ScriptedPeer::new(Session::new(c, stored).unwrap());
    p.connect();
    p.next_message();
    p.send(&logon_body("FIX.4.4", 1, "141=Y|"), &mut NoApp);
    assert_eq!(p.state(), SessionState::Established);
    p.send(&format!("35=0|{}", h(2)), &mut NoApp);
    let now = p.clock.now();
    p.ep.drop_connection(now);
    p.ep.connect(now);
    let logon = p.next_message().unwrap();
    assert_eq!(get(&logon, 141).as_deref(), Some("Y"));
    assert_eq!(get(&logon, 34).as_deref(), Some("1"));
}

// ------------------------------------------------------------------------------------------------
// Heartbeats and TestRequests

#[test]
fn heartbeat_test_request_and_timeout() {
    for begin in VERSIONS {
        let mut p = acceptor(begin);
        p.send(
            &format!(
                "35=A|{}98=0|108=10|{}",
                h(1),
                if begin == "FIXT.1.1" { "1137=9|" } else { "" }
            ),
            &mut NoApp,
        );
        p.next_message();
        // Heartbeat after HeartBtInt without sending.
        p.advance(Duration::from_millis(9_999));
        p.expect_nothing();
        p.advance(Duration::from_millis(1));
        p.expect(&e(begin, "35=0|34=2|49=ISLD|52=*|56=TW|"));
        // TestRequest after 1.2 x HeartBtInt without receiving.
        p.advance(Duration::from_secs(2));
        p.expect(&e(begin, "35=1|34=3|49=ISLD|52=*|56=TW|112=TEST|"));
        // No heartbeat while the TestRequest is outstanding; disconnect at 2.4 x.
        p.advance(Duration::from_millis(11_999));
        p.expect_nothing();
        assert!(!p.ep.io.closed);
        p.advance(Duration::from_millis(1));
        p.expect_disconnect();
        assert_eq!(p.state(), SessionState::WaitForFirstLogon);
        assert!(
            !p.ep
                .io
                .events
                .iter()
                .any(|e| matches!(e, Recorded::LoggedOut(_)))
        );
    }
}

#[test]
fn an_answer_to_the_test_request_keeps_the_session() {
    let mut p = logged_on("FIX.4.4");
    p.advance(Duration::from_secs(36));
    p.expect(&e("FIX.4.4", "35=0|34=2|49=ISLD|52=*|56=TW|"));
    p.expect(&e("FIX.4.4", "35=1|34=3|49=ISLD|52=*|56=TW|112=TEST|"));
    p.send(&format!("35=0|{}112=TEST|", h(2)), &mut NoApp);
    p.advance(Duration::from_secs(30));
    p.expect(&e("FIX.4.4", "35=0|34=4|49=ISLD|52=*|56=TW|"));
    assert_eq!(p.state(), SessionState::Established);
}

#[test]
fn test_request_is_answered_with_its_id() {
    for begin in VERSIONS {
        let mut p = logged_on(begin);
        p.send(&format!("35=1|{}112=HELLO|", h(2)), &mut NoApp);
        p.expect(&e(begin, "35=0|34=2|49=ISLD|52=*|56=TW|112=HELLO|"));
    }
}

// ------------------------------------------------------------------------------------------------
// Sequence numbers

#[test]
fn too_high_sends_one_resend_request_and_queues_what_follows() {
    for begin in VERSIONS {
        let mut p = logged_on(begin);
        let mut app = EchoApp::default();
        p.send(&format!("35=D|{}11=B|", h(4)), &mut app);
        p.expect(&e(begin, "35=2|34=2|49=ISLD|52=*|56=TW|7=2|16=0|"));
        assert!(p.ep.io.saw(&Recorded::Gap {
            expected: 2,
            received: 4
        }));
        p.send(&format!("35=D|{}11=C|", h(5)), &mut app);
        p.expect_nothing(); // one request outstanding
        assert!(p.ep.io.app_messages().is_empty());
        p.send(&format!("35=D|{}43=Y|122=<TIME>|11=A|", h(2)), &mut app);
        p.send(
            &format!("35=4|{}43=Y|122=<TIME>|36=4|123=Y|", h(3)),
            &mut app,
        );
        let ids: Vec<_> =
            p.ep.io
                .app_messages()
                .iter()
                .map(|m| get(m, 11).unwrap())
                .collect();
        assert_eq!(ids, ["A", "B", "C"]);
        assert_eq!(p.ep.session.next_target_seq(), 6);
        // Echoes in arrival order.
        for (n, id) in [(3, "A"), (4, "B"), (5, "C")] {
            p.expect(&e(
                begin,
                &format!("35=D|34={n}|49=ISLD|52=*|56=TW|11={id}|"),
            ));
        }
    }
}

#[test]
fn fix40_resend_request_uses_999999() {
    let mut p = logged_on("FIX.4.0");
    p.send(&format!("35=0|{}", h(3)), &mut NoApp);
    p.expect(&e("FIX.4.0", "35=2|34=2|49=ISLD|52=*|56=TW|7=2|16=999999|"));
}

#[test]
fn too_low_without_poss_dup_logs_out_and_disconnects() {
    for begin in VERSIONS {
        let mut p = logged_on(begin);
        p.send(&format!("35=0|{}", h(2)), &mut NoApp);
        p.send(&format!("35=0|{}", h(3)), &mut NoApp);
        p.send(&format!("35=0|{}", h(2)), &mut NoApp);
        p.expect(&e(
            begin,
            "35=5|34=2|49=ISLD|52=*|56=TW|58=MsgSeqNum too low, expecting 4 but received 2|",
        ));
        p.expect_disconnect();
        assert_eq!(p.state(), SessionState::WaitForFirstLogon);
    }
}

#[test]
fn too_low_with_poss_dup_is_ignored_after_checking_orig_sending_time() {
    for begin in VERSIONS {
        let mut p = logged_on(begin);
        let mut app = EchoApp::default();
        p.send(&format!("35=D|{}11=A|", h(2)), &mut app);
        p.expect(&e(begin, "35=D|34=2|49=ISLD|52=*|56=TW|11=A|"));
        // Duplicate with a valid OrigSendingTime: ignored, no number consumed.
        p.send(&format!("35=D|{}43=Y|122=<TIME-1>|11=A|", h(2)), &mut app);
        p.expect_nothing();
        assert_eq!(p.ep.io.app_messages().len(), 1);
        // Missing OrigSendingTime: Reject 373=1, 371=122.
        p.send(&format!("35=D|{}43=Y|11=A|", h(2)), &mut app);
        p.expect(&e(
            begin,
            "35=3|34=3|49=ISLD|52=*|56=TW|45=2|58=Required tag missing|371=122|372=D|373=1|",
        ));
        assert_eq!(p.ep.session.next_target_seq(), 3);
        // OrigSendingTime later than SendingTime: Reject 373=10, then Logout.
        p.send(&format!("35=D|{}43=Y|122=<TIME+10>|11=A|", h(2)), &mut app);
        p.expect(&e(
            begin,
            "35=3|34=4|49=ISLD|52=*|56=TW|45=2|58=SendingTime accuracy problem|372=D|373=10|",
        ));
        p.expect(&e(begin, "35=5|34=5|49=ISLD|52=*|56=TW|"));
        assert_eq!(p.state(), SessionState::WaitForConfirmLogout);
        p.send(&format!("35=5|{}", h(3)), &mut app);
        p.expect_disconnect();
    }
}

#[test]
fn garbled_messages_are_ignored_without_consuming_a_number() {
    let mut p = logged_on("FIX.4.2");
    let mut bad = fix_testkit::build_frame(
        "FIX.4.2",
        &fix_testkit::with_time(&format!("35=1|{}112=A|", h(2)), p.clock.now().utc),
    );
    let n = bad.len();
    bad[n - 2] = if bad[n - 2] == b'0' { b'1' } else { b'0' }; // wrong checksum
    p.send_raw(&bad, &mut NoApp);
    p.send_raw(b"garbage\x01", &mut NoApp);
    p.expect_nothing();
    p.send(&format!("35=1|{}112=B|", h(2)), &mut NoApp);
    p.expect(&e("FIX.4.2", "35=0|34=2|49=ISLD|52=*|56=TW|112=B|"));
}

#[test]
fn partial_and_batched_input_is_framed() {
    let mut p = logged_on("FIX.4.4");
    let now = p.clock.now().utc;
    let a = fix_testkit::fix!("FIX.4.4", &format!("35=1|{}112=A|", h(2)), now);
    let b = fix_testkit::fix!("FIX.4.4", &format!("35=1|{}112=B|", h(3)), now);
    let all = [a, b].concat();
    for chunk in all.chunks(7) {
        p.send_raw(chunk, &mut NoApp);
    }
    p.expect(&e("FIX.4.4", "35=0|34=2|49=ISLD|52=*|56=TW|112=A|"));
    p.expect(&e("FIX.4.4", "35=0|34=3|49=ISLD|52=*|56=TW|112=B|"));
}

// ------------------------------------------------------------------------------------------------
// Resends

/// Given a session that sent: Logon(1), 3 heartbeats (2-4), D(5), D(6), 2 heartbeats (7-8), D(9).
fn with_history(begin: &str) -> ScriptedPeer {
    let mut p = logged_on(begin);
    let mut app = EchoApp::default();
    for (seq, (t, extra)) in (2u64..).zip([
        ("1", "112=H|"),
        ("1", "112=H|"),
        ("1", "112=H|"),
        ("D", "11=A|"),
        ("D", "11=B|"),
        ("1", "112=H|"),
        ("1", "112=H|"),
        ("D", "11=C|"),
    ]) {
        p.send(&format!("35={t}|{}{extra}", h(seq)), &mut app);
    }
    while p.next_message().is_some() {}
    assert_eq!(p.ep.session.next_sender_seq(), 10);
    p
}

#[test]
fn resend_request_replays_app_messages_and_gap_fills_admin_runs() {
    for begin in VERSIONS {
        let mut p = with_history(begin);
        p.send(&format!("35=2|{}7=2|16=0|", h(10)), &mut NoApp);
        p.expect(&e(
            begin,
            "35=4|34=2|43=Y|49=ISLD|52=*|56=TW|122=*|36=5|123=Y|",
        ));
        let a = p.expect(&e(begin, "35=D|34=5|43=Y|49=ISLD|52=*|56=TW|122=*|11=A|"));
        assert_eq!(
            get(&a, 122),
            get(&p.ep.io.journal[&5], 52),
            "122 = original 52"
        );
        p.expect(&e(begin, "35=D|34=6|43=Y|49=ISLD|52=*|56=TW|122=*|11=B|"));
        p.expect(&e(
            begin,
            "35=4|34=7|43=Y|49=ISLD|52=*|56=TW|122=*|36=9|123=Y|",
        ));
        p.expect(&e(begin, "35=D|34=9|43=Y|49=ISLD|52=*|56=TW|122=*|11=C|"));
        p.expect_nothing();
        assert!(p.ep.io.saw(&Recorded::ResendRequested(2, 9)));
        // Numbers unaffected by the resend.
        p.send(&format!("35=1|{}112=X|", h(11)), &mut NoApp);
        p.expect(&e(begin, "35=0|34=10|49=ISLD|52=*|56=TW|112=X|"));
    }
}

#[test]
fn resend_of_a_bounded_range_ends_with_a_gap_fill_to_end_plus_one() {
    let mut p = with_history("FIX.4.2");
    p.send(&format!("35=2|{}7=2|16=4|", h(10)), &mut NoApp);
    p.expect(&e(
        "FIX.4.2",
        "35=4|34=2|43=Y|49=ISLD|52=*|56=TW|122=*|36=5|123=Y|",
    ));
    p.expect_nothing();
    p.send(&format!("35=2|{}7=6|16=8|", h(11)), &mut NoApp);
    p.expect(&e(
        "FIX.4.2",
        "35=D|34=6|43=Y|49=ISLD|52=*|56=TW|122=*|11=B|",
    ));
    p.expect(&e(
        "FIX.4.2",
        "35=4|34=7|43=Y|49=ISLD|52=*|56=TW|122=*|36=9|123=Y|",
    ));
    p.expect_nothing();
}

#[test]
fn chunked_resend_produces_the_same_messages() {
    let mut whole = with_history("FIX.4.4");
    whole.send(&format!("35=2|{}7=1|16=0|", h(10)), &mut NoApp);
    let mut chunked = acceptor_with(
        cfg("FIX.4.4", Role::Acceptor).with_resend_chunk_size(Some(2)),
        SeqState::default(),
    );
    // Same history on the chunked session.
    chunked.send(&logon_body("FIX.4.4", 1, ""), &mut NoApp);
    let mut app = EchoApp::default();
    for (i, (t, extra)) in [
        ("1", "112=H|"),
        ("1", "112=H|"),
        ("1", "112=H|"),
        ("D", "11=A|"),
        ("D", "11=B|"),
        ("1", "112=H|"),
        ("1", "112=H|"),
        ("D", "11=C|"),
    ]
    .iter()
    .enumerate()
    {
        chunked.send(&format!("35={t}|{}{extra}", h(i as u64 + 2)), &mut app);
    }
    while chunked.next_message().is_some() {}
    chunked.send(&format!("35=2|{}7=1|16=0|", h(10)), &mut NoApp);
    let strip = |m: Vec<u8>| {
        fix_testkit::fields(&m)
            .into_iter()
            .filter(|(t, _)| !matches!(t, 9 | 10 | 52 | 122))
            .collect::<Vec<_>>()
    };
    let mut n = 0;
    while let Some(a) = whole.next_message() {
        let b = chunked.next_message().expect("chunked resend is shorter");
        assert_eq!(strip(a), strip(b));
        n += 1;
    }
    assert!(chunked.next_message().is_none());
    assert_eq!(n, 5);
}

#[test]
fn resend_request_is_processed_even_when_its_number_is_too_high() {
    let mut p = logged_on("FIX.4.2");
    let mut app = EchoApp::default();
    p.send(&format!("35=D|{}11=A|", h(2)), &mut app);
    p.expect(&e("FIX.4.2", "35=D|34=2|49=ISLD|52=*|56=TW|11=A|"));
    p.send(&format!("35=0|{}", h(5)), &mut app);
    p.expect(&e("FIX.4.2", "35=2|34=3|49=ISLD|52=*|56=TW|7=3|16=0|"));
    p.send(&format!("35=2|{}7=2|16=2|", h(6)), &mut app);
    p.expect(&e(
        "FIX.4.2",
        "35=D|34=2|43=Y|49=ISLD|52=*|56=TW|122=*|11=A|",
    ));
    p.send(&format!("35=0|{}43=Y|122=<TIME>|", h(3)), &mut app);
    p.send(&format!("35=0|{}43=Y|122=<TIME>|", h(4)), &mut app);
    assert_eq!(p.ep.session.next_target_seq(), 7);
}

// ------------------------------------------------------------------------------------------------
// SequenceReset

#[test]
fn sequence_reset_reset_mode_ignores_msg_seq_num() {
    for begin in VERSIONS {
        let mut p = logged_on(begin);
        p.send(&format!("35=4|{}36=25|", h(0)), &mut NoApp);
        assert_eq!(p.ep.session.next_target_seq(), 25);
        assert!(p.ep.io.saw(&Recorded::SequenceReset(25, false)));
        p.send(&format!("35=1|{}112=X|", h(25)), &mut NoApp);
        p.expect(&e(begin, "35=0|34=2|49=ISLD|52=*|56=TW|112=X|"));
    }
}

#[test]
fn sequence_reset_to_a_lower_number_is_rejected_with_373_5() {
    let mut p = logged_on("FIX.4.2");
    p.send(&format!("35=4|{}36=1|", h(0)), &mut NoApp);
    p.expect(&e(
        "FIX.4.2",
        "35=3|34=2|49=ISLD|52=*|56=TW|45=0|58=Value is incorrect (out of range) for this tag|372=4|373=5|",
    ));
    assert_eq!(p.ep.session.next_target_seq(), 2);
    let mut p = logged_on("FIX.4.0");
    p.send(&format!("35=4|{}36=1|", h(0)), &mut NoApp);
    p.expect(&e(
        "FIX.4.0",
        "35=3|34=2|49=ISLD|52=*|56=TW|45=0|58=Value is incorrect (out of range) for this tag|",
    ));
}

#[test]
fn gap_fill_obeys_sequence_rules() {
    for begin in VERSIONS {
        // Too high: resend request, queued.
        let mut p = logged_on(begin);
        p.send(&format!("35=4|{}36=20|123=Y|", h(10)), &mut NoApp);
        p.expect(&e(begin, "35=2|34=2|49=ISLD|52=*|56=TW|7=2|16=0|"));
        // Too low with PossDup: ignored.
        let mut p = logged_on(begin);
        p.send(
            &format!("35=4|{}43=Y|122=<TIME>|36=20|123=Y|", h(1)),
            &mut NoApp,
        );
        p.expect_nothing();
        assert_eq!(p.ep.session.next_target_seq(), 2);
        // Too low without PossDup: Logout.
        p.send(&format!("35=4|{}36=20|123=Y|", h(1)), &mut NoApp);
        p.expect(&e(
            begin,
            "35=5|34=2|49=ISLD|52=*|56=TW|58=MsgSeqNum too low, expecting 2 but received 1|",
        ));
        // In sequence: moves the expected number.
        let mut p = logged_on(begin);
        p.send(&format!("35=4|{}36=7|123=Y|", h(2)), &mut NoApp);
        assert_eq!(p.ep.session.next_target_seq(), 7);
    }
}

// ------------------------------------------------------------------------------------------------
// Rejects and per-message checks

#[derive(Debug)]
struct RejectTag(u32, RejectReason);
impl MessageValidator for RejectTag {
    fn validate(&self, msg: &[u8]) -> Result<(), Violation> {
        if fix_codec::MessageRef::new(msg).get(self.0).is_some() {
            Err(Violation::tag(self.1, self.0))
        } else {
            Ok(())
        }
    }
}

fn validating(begin: &str, v: RejectTag) -> ScriptedPeer {
    let mut p = acceptor_with(
        cfg(begin, Role::Acceptor).with_validator(Arc::new(v)),
        SeqState::default(),
    );
    p.send(&logon_body(begin, 1, ""), &mut NoApp);
    p.next_message();
    p
}

#[test]
fn validation_failures_are_rejected_with_the_versions_format() {
    let mut p = validating("FIX.4.4", RejectTag(40, RejectReason::ValueIsIncorrect));
    p.send(&format!("35=D|{}11=A|40=w|", h(2)), &mut NoApp);
    p.expect(&e(
        "FIX.4.4",
        "35=3|34=2|49=ISLD|52=*|56=TW|45=2|58=Value is incorrect (out of range) for this tag|371=40|372=D|373=5|",
    ));
    assert!(p.ep.io.app_messages().is_empty());
    assert_eq!(p.ep.session.next_target_seq(), 3);
    assert!(p.ep.io.saw(&Recorded::RejectSent(2, 5, Some(40))));

    // FIX.4.2 omits 373 above 11.
    let mut p = validating(
        "FIX.4.2",
        RejectTag(55, RejectReason::TagAppearsMoreThanOnce),
    );
    p.send(&format!("35=D|{}11=A|55=X|", h(2)), &mut NoApp);
    p.expect(&e(
        "FIX.4.2",
        "35=3|34=2|49=ISLD|52=*|56=TW|45=2|58=Tag appears more than once|371=55|372=D|",
    ));

    // FIX.4.0: text with the tag in parentheses, no 371/372/373.
    let mut p = validating("FIX.4.0", RejectTag(40, RejectReason::ValueIsIncorrect));
    p.send(&format!("35=D|{}11=A|40=w|", h(2)), &mut NoApp);
    p.expect(&e(
        "FIX.4.0",
        "35=3|34=2|49=ISLD|52=*|56=TW|45=2|58=Value is incorrect (out of range) for this tag (40)|",
    ));

    // FIXT.1.1 behaves like 4.3+.
    let mut p = validating("FIXT.1.1", RejectTag(40, RejectReason::ValueIsIncorrect));
    p.send(&format!("35=D|{}11=A|40=w|", h(2)), &mut NoApp);
    p.expect(&e(
        "FIXT.1.1",
        "35=3|34=2|49=ISLD|52=*|56=TW|45=2|58=Value is incorrect (out of range) for this tag|371=40|372=D|373=5|",
    ));
}

#[test]
fn routing_tags_are_reversed_on_rejects() {
    let mut p = validating("FIX.4.2", RejectTag(40, RejectReason::ValueIsIncorrect));
    p.send(
        &format!("35=D|{}115=JCD|116=CS|144=CHI|11=A|40=w|", h(2)),
        &mut NoApp,
    );
    p.expect(&e(
        "FIX.4.2",
        "35=3|34=2|49=ISLD|52=*|56=TW|128=JCD|129=CS|145=CHI|45=2|58=Value is incorrect (out of range) for this tag|371=40|372=D|373=5|",
    ));
    p.send(&format!("35=D|{}128=JCD|129=|11=A|40=w|", h(3)), &mut NoApp);
    p.expect(&e(
        "FIX.4.2",
        "35=3|34=3|49=ISLD|52=*|56=TW|115=JCD|45=3|58=Value is incorrect (out of range) for this tag|371=40|372=D|373=5|",
    ));
}

#[test]
fn missing_required_header_field_is_rejected() {
    let mut p = logged_on("FIX.4.4");
    p.send("35=0|34=2|49=TW|56=ISLD|", &mut NoApp);
    p.expect(&e(
        "FIX.4.4",
        "35=3|34=2|49=ISLD|52=*|56=TW|45=2|58=Required tag missing|371=52|372=0|373=1|",
    ));
}

#[test]
fn sending_time_accuracy_is_checked_and_can_be_disabled() {
    for begin in VERSIONS {
        for shift in ["-121", "+121"] {
            let mut p = logged_on(begin);
            p.send(
                &format!("35=0|34=2|49=TW|52=<TIME{shift}>|56=ISLD|"),
                &mut NoApp,
            );
            p.expect(&e(
                begin,
                "35=3|34=2|49=ISLD|52=*|56=TW|45=2|58=SendingTime accuracy problem|372=0|373=10|",
            ));
            p.expect(&e(begin, "35=5|34=3|49=ISLD|52=*|56=TW|"));
            assert_eq!(p.state(), SessionState::WaitForConfirmLogout);
            p.send(&format!("35=5|{}", h(3)), &mut NoApp);
            p.expect_disconnect();
        }
        let mut p = acceptor_with(
            cfg(begin, Role::Acceptor).with_max_latency(None),
            SeqState::default(),
        );
        p.send(&logon_body(begin, 1, ""), &mut NoApp);
        p.next_message();
        p.send(
            "35=1|34=2|49=TW|52=20010101-00:00:00|56=ISLD|112=X|",
            &mut NoApp,
        );
        p.expect(&e(begin, "35=0|34=2|49=ISLD|52=*|56=TW|112=X|"));
    }
}

#[test]
fn comp_id_is_checked_on_every_message() {
    for begin in VERSIONS {
        for hdr in [
            "34=2|49=WT|52=<TIME>|56=ISLD|",
            "34=2|49=TW|52=<TIME>|56=DLSI|",
        ] {
            let mut p = logged_on(begin);
            let mut app = EchoApp::default();
            p.send(&format!("35=D|{hdr}11=A|"), &mut app);
            p.expect(&e(
                begin,
                "35=3|34=2|49=ISLD|52=*|56=TW|45=2|58=CompID problem|372=D|373=9|",
            ));
            p.expect(&e(begin, "35=5|34=3|49=ISLD|52=*|56=TW|"));
            assert!(p.ep.io.app_messages().is_empty());
        }
    }
}

#[test]
fn begin_string_change_mid_session_logs_out() {
    let mut p = logged_on("FIX.4.2");
    p.begin = "FIX.4.1".into();
    p.send(&format!("35=1|{}112=id|", h(2)), &mut NoApp);
    p.expect(&e(
        "FIX.4.2",
        "35=5|34=2|49=ISLD|52=*|56=TW|58=Incorrect BeginString|",
    ));
    p.expect_disconnect();
}

#[test]
fn rejects_received_are_reported_and_consume_a_number() {
    let mut p = logged_on("FIX.4.4");
    p.send(&format!("35=3|{}45=1|", h(2)), &mut NoApp);
    assert!(
        p.ep.io
            .events
            .iter()
            .any(|e| matches!(e, Recorded::RejectReceived(_)))
    );
    assert_eq!(p.ep.session.next_target_seq(), 3);
}

// ------------------------------------------------------------------------------------------------
// Logout

#[test]
fn initiated_logout_waits_for_the_confirmation() {
    for begin in VERSIONS {
        let mut p = logged_on(begin);
        let now = p.clock.now();
        p.ep.session.disconnect("bye", now, &mut p.ep.io).unwrap();
        p.expect(&e(begin, "35=5|34=2|49=ISLD|52=*|56=TW|58=bye|"));
        assert_eq!(p.state(), SessionState::WaitForConfirmLogout);
        p.send(&format!("35=5|{}", h(2)), &mut NoApp);
        p.expect_disconnect();
        assert_eq!(p.state(), SessionState::CorrectlyTerminated);
        assert_eq!(p.ep.session.next_sender_seq(), 1);
        assert_eq!(p.ep.io.store_resets, 1);
    }
}

#[test]
fn initiated_logout_times_out() {
    let mut p = logged_on("FIX.4.4");
    let now = p.clock.now();
    p.ep.session.disconnect("", now, &mut p.ep.io).unwrap();
    p.expect(&e("FIX.4.4", "35=5|34=2|49=ISLD|52=*|56=TW|"));
    p.advance(Duration::from_secs(5));
    p.expect_disconnect();
    assert_eq!(p.state(), SessionState::NonGracefullyTerminated);
    assert_eq!(p.ep.session.next_sender_seq(), 3, "numbers kept");
}

#[test]
fn received_logout_is_answered_and_ends_correctly() {
    for begin in VERSIONS {
        let mut p = logged_on(begin);
        p.send(&format!("35=5|{}58=done|", h(2)), &mut NoApp);
        p.expect(&e(begin, "35=5|34=2|49=ISLD|52=*|56=TW|"));
        p.expect_disconnect();
        assert!(p.ep.io.saw(&Recorded::LoggedOut("done".into())));
        assert_eq!(p.state(), SessionState::CorrectlyTerminated);
    }
}

#[test]
fn logout_is_processed_even_out_of_order() {
    let mut p = logged_on("FIX.4.2");
    p.send(&format!("35=0|{}", h(5)), &mut NoApp);
    p.expect(&e("FIX.4.2", "35=2|34=2|49=ISLD|52=*|56=TW|7=2|16=0|"));
    p.send(&format!("35=5|{}", h(6)), &mut NoApp);
    p.expect(&e("FIX.4.2", "35=5|34=3|49=ISLD|52=*|56=TW|"));
    p.expect_disconnect();
}

#[test]
fn intraday_logout_tolerance_keeps_numbers_and_ends_non_gracefully() {
    let mut p = acceptor_with(
        cfg("FIX.4.4", Role::Acceptor).with_intraday_logout_tolerance(true),
        SeqState::default(),
    );
    p.send(&logon_body("FIX.4.4", 1, ""), &mut NoApp);
    p.next_message();
    p.send(&format!("35=5|{}", h(2)), &mut NoApp);
    p.expect(&e("FIX.4.4", "35=5|34=2|49=ISLD|52=*|56=TW|"));
    assert_eq!(p.state(), SessionState::NonGracefullyTerminated);
    assert_eq!(p.ep.session.next_sender_seq(), 3);
    assert_eq!(p.ep.session.next_target_seq(), 3);
    assert_eq!(p.ep.io.store_resets, 0);
    // The next connection continues the numbers.
    p.connect();
    p.send(&logon_body("FIX.4.4", 3, ""), &mut NoApp);
    p.expect(&e("FIX.4.4", "35=A|34=3|49=ISLD|52=*|56=TW|98=0|108=30|"));
    assert_eq!(p.state(), SessionState::Established);
}

#[test]
fn dropped_connection_raises_only_the_state_event() {
    let mut p = logged_on("FIX.4.4");
    let now = p.clock.now();
    p.ep.drop_connection(now);
    assert_eq!(p.state(), SessionState::WaitForFirstLogon);
    assert!(
        !p.ep
            .io
            .events
            .iter()
            .any(|e| matches!(e, Recorded::LoggedOut(_)))
    );
    assert!(p.ep.io.saw(&Recorded::State(
        SessionState::Established,
        SessionState::WaitForFirstLogon
    )));
    // A Logon continuing the numbers resumes the session.
    p.connect();
    p.send(&logon_body("FIX.4.4", 2, ""), &mut NoApp);
    p.expect(&e("FIX.4.4", "35=A|34=2|49=ISLD|52=*|56=TW|98=0|108=30|"));

    let mut i = ScriptedPeer::new(
        Session::new(cfg("FIX.4.4", Role::Initiator), SeqState::default()).unwrap(),
    );
    i.connect();
    i.next_message();
    i.send(&logon_body("FIX.4.4", 1, ""), &mut NoApp);
    let now = i.clock.now();
    i.ep.drop_connection(now);
    assert_eq!(i.state(), SessionState::NonGracefullyTerminated);
}

#[test]
fn non_graceful_disconnect_closes_at_once() {
    let mut p = logged_on("FIX.4.2");
    let now = p.clock.now();
    p.ep.session.disconnect_non_gracefully(now, &mut p.ep.io);
    p.expect_disconnect();
    assert_eq!(p.state(), SessionState::NonGracefullyTerminated);
}

#[test]
fn engine_driven_states_raise_state_events() {
    let mut s = Session::new(cfg("FIX.4.4", Role::Initiator), SeqState::default()).unwrap();
    let mut io = fix_testkit::Recorder::new();
    s.connecting(&mut io);
    s.reconnecting(&mut io);
    s.switching_connection(&mut io);
    assert_eq!(
        io.states(),
        vec![
            SessionState::WaitForConnect,
            SessionState::Reconnect,
            SessionState::SwitchConnection
        ]
    );
    assert_eq!(SessionState::WaitForConnect.value(), 11);
    assert_eq!(SessionState::SwitchConnection.value(), 8);
}

// ------------------------------------------------------------------------------------------------
// API

#[test]
fn send_app_requires_a_logged_on_session_and_journals_first() {
    let mut p = acceptor("FIX.4.4");
    let now = p.clock.now();
    assert!(
        p.ep.session
            .send_app(b"D", now, &mut p.ep.io, |_| {})
            .is_err()
    );
    p.send(&logon_body("FIX.4.4", 1, ""), &mut NoApp);
    p.next_message();
    assert!(
        p.ep.session
            .send_app(b"0", now, &mut p.ep.io, |_| {})
            .is_err()
    );
    let seq =
        p.ep.session
            .send_app(b"D", now, &mut p.ep.io, |e| {
                e.field(11, b"X");
            })
            .unwrap();
    assert_eq!(seq, 2);
    assert!(p.ep.io.persisted_before_send);
    assert!(p.ep.io.journal.contains_key(&2));
    p.expect(&e("FIX.4.4", "35=D|34=2|49=ISLD|52=*|56=TW|11=X|"));
}

#[test]
fn reset_seq_nums_mid_session_sends_a_reset_logon() {
    let mut p = logged_on("FIX.4.4");
    p.send(&format!("35=0|{}", h(2)), &mut NoApp);
    let now = p.clock.now();
    p.ep.session.reset_seq_nums(now, &mut p.ep.io);
    p.expect(&e(
        "FIX.4.4",
        "35=A|34=1|49=ISLD|52=*|56=TW|98=0|108=30|141=Y|",
    ));
    p.send(&logon_body("FIX.4.4", 1, "141=Y|"), &mut NoApp);
    p.expect_nothing();
    assert_eq!(p.ep.session.next_target_seq(), 2);
    assert_eq!(p.ep.session.next_sender_seq(), 2);
    assert_eq!(p.state(), SessionState::Established);
}

#[test]
fn peer_reset_mid_session_is_answered() {
    let mut p = logged_on("FIX.4.4");
    for s in 2..=9 {
        p.send(&format!("35=0|{}", h(s)), &mut NoApp);
    }
    p.send(&logon_body("FIX.4.4", 1, "141=Y|"), &mut NoApp);
    p.expect(&expected_logon_reply("FIX.4.4", "141=Y|"));
    p.send(&format!("35=1|{}112=1|", h(2)), &mut NoApp);
    p.expect(&e("FIX.4.4", "35=0|34=2|49=ISLD|52=*|56=TW|112=1|"));
}

#[test]
fn reject_app_message_for_fix40_unsupported_types() {
    let mut p = logged_on("FIX.4.0");
    let mut app = EchoApp::default();
    p.send(&format!("35=8|{}11=id|", h(2)), &mut app);
    p.expect(&e(
        "FIX.4.0",
        "35=3|34=2|49=ISLD|52=*|56=TW|45=2|58=Unsupported message type|",
    ));
    assert_eq!(p.ep.session.next_target_seq(), 3);
}

#[test]
fn config_errors_are_typed() {
    assert!(
        Session::new(
            SessionConfig::new("FIX.9.9", "A", "B", Role::Acceptor),
            SeqState::default()
        )
        .is_err()
    );
    assert!(
        Session::new(
            SessionConfig::new("FIX.4.4", "", "B", Role::Acceptor),
            SeqState::default()
        )
        .is_err()
    );
    assert!(
        Session::new(
            SessionConfig::new("FIXT.1.1", "A", "B", Role::Initiator),
            SeqState::default()
        )
        .is_err()
    );
}

// ------------------------------------------------------------------------------------------------
// The same rules on the initiator side.

fn initiator_logged_on(begin: &str) -> ScriptedPeer {
    let mut p =
        ScriptedPeer::new(Session::new(cfg(begin, Role::Initiator), SeqState::default()).unwrap());
    p.connect();
    p.expect(&expected_logon_reply(begin, ""));
    p.send(&logon_body(begin, 1, ""), &mut NoApp);
    assert_eq!(p.state(), SessionState::Established);
    p
}

#[test]
fn initiator_heartbeats_test_requests_and_times_out() {
    for begin in VERSIONS {
        let mut p = initiator_logged_on(begin);
        p.advance(Duration::from_secs(30));
        p.expect(&e(begin, "35=0|34=2|49=ISLD|52=*|56=TW|"));
        p.advance(Duration::from_secs(6));
        p.expect(&e(begin, "35=1|34=3|49=ISLD|52=*|56=TW|112=TEST|"));
        p.advance(Duration::from_secs(36));
        p.expect_disconnect();
        assert_eq!(p.state(), SessionState::NonGracefullyTerminated);
    }
}

/// A resent message keeps the extra header fields it was sent with and its body byte for byte,
/// including a header tag the application put inside the body.
#[test]
fn resend_keeps_extra_header_fields_and_the_body() {
    for begin in VERSIONS {
        let mut p = initiator_logged_on(begin);
        let now = p.clock.now();
        p.ep.session
            .send_app_with_header(
                b"D",
                &[(115, b"OB"), (128, b"DT")],
                now,
                &mut p.ep.io,
                |e| {
                    e.field(11, b"Q").field(50, b"IN-BODY").field(38, b"100");
                },
            )
            .unwrap();
        p.expect(&e(
            begin,
            "35=D|34=2|49=ISLD|52=*|56=TW|115=OB|128=DT|11=Q|50=IN-BODY|38=100|",
        ));
        p.send(&format!("35=2|{}7=2|16=2|", h(2)), &mut NoApp);
        p.expect(&e(
            begin,
            "35=D|34=2|43=Y|49=ISLD|52=*|56=TW|115=OB|122=*|128=DT|11=Q|50=IN-BODY|38=100|",
        ));
    }
}

#[test]
fn initiator_sequence_rules_resend_and_logout() {
    for begin in VERSIONS {
        let mut p = initiator_logged_on(begin);
        let now = p.clock.now();
        p.ep.session
            .send_app(b"D", now, &mut p.ep.io, |e| {
                e.field(11, b"Q");
            })
            .unwrap();
        p.expect(&e(begin, "35=D|34=2|49=ISLD|52=*|56=TW|11=Q|"));
        // Gap: ResendRequest; the peer fills it.
        p.send(&format!("35=0|{}", h(4)), &mut NoApp);
        p.expect(&e(begin, "35=2|34=3|49=ISLD|52=*|56=TW|7=2|16=0|"));
        p.send(
            &format!("35=4|{}43=Y|122=<TIME>|36=4|123=Y|", h(2)),
            &mut NoApp,
        );
        assert_eq!(p.ep.session.next_target_seq(), 5);
        // The peer asks for our messages.
        p.send(&format!("35=2|{}7=1|16=0|", h(5)), &mut NoApp);
        p.expect(&e(
            begin,
            "35=4|34=1|43=Y|49=ISLD|52=*|56=TW|122=*|36=2|123=Y|",
        ));
        p.expect(&e(begin, "35=D|34=2|43=Y|49=ISLD|52=*|56=TW|122=*|11=Q|"));
        p.expect(&e(
            begin,
            "35=4|34=3|43=Y|49=ISLD|52=*|56=TW|122=*|36=4|123=Y|",
        ));
        // Too low without PossDup.
        p.send(&format!("35=0|{}", h(3)), &mut NoApp);
        p.expect(&e(
            begin,
            "35=5|34=4|49=ISLD|52=*|56=TW|58=MsgSeqNum too low, expecting 6 but received 3|",
        ));
        p.expect_disconnect();
        assert_eq!(p.state(), SessionState::NonGracefullyTerminated);
    }
}

#[test]
fn initiator_answers_a_logout() {
    for begin in VERSIONS {
        let mut p = initiator_logged_on(begin);
        p.send(&format!("35=5|{}", h(2)), &mut NoApp);
        p.expect(&e(begin, "35=5|34=2|49=ISLD|52=*|56=TW|"));
        p.expect_disconnect();
        assert_eq!(p.state(), SessionState::CorrectlyTerminated);
    }
}

// ------------------------------------------------------------------------------------------------
// Hostile input: extreme numbers never panic.

#[test]
fn extreme_numbers_do_not_panic() {
    let mut p = acceptor("FIX.4.4");
    p.send(&format!("35=A|{}98=0|108=4294967295|", h(1)), &mut NoApp);
    p.next_message();
    p.advance(Duration::from_secs(100));
    let _ = p.ep.session.next_deadline();
    let max = u64::MAX;
    p.send(&format!("35=4|{}36={max}|", h(0)), &mut NoApp);
    assert_eq!(p.ep.session.next_target_seq(), max);
    p.send(&format!("35=0|{}", h(max)), &mut NoApp);
    p.send(&format!("35=2|{}7=1|16={max}|", h(max)), &mut NoApp);
    p.send(&format!("35=2|{}7={max}|16=1|", h(max)), &mut NoApp);
    p.send(
        "35=0|34=99999999999999999999999|49=TW|52=<TIME>|56=ISLD|",
        &mut NoApp,
    );
    while p.next_message().is_some() {}
}

#[test]
fn fixt_acceptor_without_configured_appl_ver_echoes_the_peers() {
    let c = SessionConfig::new("FIXT.1.1", "ISLD", "TW", Role::Acceptor);
    let mut p = acceptor_with(c, SeqState::default());
    p.send(&format!("35=A|{}98=0|108=30|1137=8|", h(1)), &mut NoApp);
    p.expect(&e(
        "FIXT.1.1",
        "35=A|34=1|49=ISLD|52=*|56=TW|98=0|108=30|1137=8|",
    ));
}

#[test]
fn back_pressure_is_a_typed_error_that_consumes_no_number() {
    let mut p = logged_on("FIX.4.4");
    let now = p.clock.now();
    p.ep.io.full = true;
    let r = p.ep.session.send_app(b"D", now, &mut p.ep.io, |_| {});
    assert_eq!(r, Err(fix_session::SendError::BackPressure));
    assert_eq!(p.ep.session.next_sender_seq(), 2);
    p.expect_nothing();
    p.ep.io.full = false;
    assert_eq!(
        p.ep.session.send_app(b"D", now, &mut p.ep.io, |_| {}),
        Ok(2)
    );
}

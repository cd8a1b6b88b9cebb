//! Per-session FIX message logs (`MessageLog`): two engines over 127.0.0.1 log the Logon, the
//! orders, the execution reports and the Logout on both sides, in order, with directions and
//! timestamps; passwords are masked; files are appended across release / re-create and restarts.

mod engine_support;

use std::path::Path;

use engine_support::*;
use fix_codec::UtcTimestamp;
use fix_engine::config::{Application as AppKind, SessionSettings};
use fix_engine::{Engine, EngineBuilder, SessionHandle, SessionState};

/// One parsed log line: direction, MsgType, MsgSeqNum, the message with SOH as `|`.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    dir: String,
    msg_type: String,
    seq: u64,
    text: String,
}

fn read_log(path: &Path) -> Vec<Line> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(|l| {
            // `<24-byte timestamp> <IN |OUT> <message>`
            assert!(l.len() > 29, "short line {l:?}");
            assert!(
                UtcTimestamp::parse(&l.as_bytes()[..24]).is_some(),
                "timestamp of {l:?}"
            );
            let dir = match &l[24..29] {
                " IN  " => "IN",
                " OUT " => "OUT",
                other => panic!("direction {other:?} in {l:?}"),
            };
            let msg = &l.as_bytes()[29..];
            assert!(msg.starts_with(b"8=FIX.4.4\x01"), "{l:?}");
            assert!(msg.ends_with(b"\x01"), "SOH kept: {l:?}");
            Line {
                dir: dir.into(),
                msg_type: field(msg, 35).unwrap(),
                seq: field(msg, 34).unwrap().parse().unwrap(),
                text: String::from_utf8_lossy(msg).replace('\u{1}', "|"),
            }
        })
        .collect()
}

/// The log without heartbeats and test requests (their timing depends on the machine's load).
fn business(lines: &[Line]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter(|l| l.msg_type != "0" && l.msg_type != "1")
        .map(|l| (l.dir.clone(), l.msg_type.clone()))
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn send_order(c: &SessionHandle, id: &str) {
    c.send(b"D", |e| order_body(e, id.as_bytes())).unwrap();
}

fn wait_reports(rx: &crossbeam_channel::Receiver<Seen>, ids: &[&str]) {
    for id in ids {
        let Seen::Message(_, m) = expect(
            rx,
            "execution report",
            |e| matches!(e, Seen::Message(n, _) if n == "CLIENT"),
        ) else {
            unreachable!()
        };
        assert_eq!(field(&m, 11).as_deref(), Some(*id));
    }
}

fn venue_settings(log: &Path) -> SessionSettings {
    SessionSettings::acceptor("VENUE", "FIX.4.4", "VENUE", "CLIENT", 0)
        .heart_bt_int(5)
        .storage(transient())
        .credentials(Some("trader".into()), Some("hunter2".into()))
        .message_log(Some(log.to_owned()))
        .application(AppKind::Executor)
        .build()
        .unwrap()
}

fn client_settings(port: u16, log: &Path) -> SessionSettings {
    SessionSettings::initiator("CLIENT", "FIX.4.4", "CLIENT", "VENUE", "127.0.0.1", port)
        .heart_bt_int(5)
        .storage(transient())
        .credentials(Some("trader".into()), Some("hunter2".into()))
        .message_log(Some(log.to_owned()))
        .build()
        .unwrap()
}

#[test]
fn both_sides_log_logon_orders_reports_and_logout_in_order_with_directions() {
    let dir = tempfile::tempdir().unwrap();
    let (vlog, clog) = (dir.path().join("venue"), dir.path().join("client"));
    let (vapp, _vrx) = Recorder::new();
    let mut venue = acceptor_engine(vapp, vec![venue_settings(&vlog)]);
    let port = venue.listen_addr().unwrap().port();
    let (capp, crx) = Recorder::new();
    let mut client = EngineBuilder::new(engine_settings())
        .application(capp)
        .session(client_settings(port, &clog))
        .start()
        .unwrap();
    let c = client.session("CLIENT").unwrap();
    let v = venue.session("VENUE").unwrap();
    c.wait_for_state(SessionState::Established, WAIT).unwrap();
    v.wait_for_state(SessionState::Established, WAIT).unwrap();
    let ids = ["O1", "O2", "O3", "O4", "O5"];
    for id in ids {
        send_order(&c, id);
    }
    wait_reports(&crx, &ids);
    assert_eq!(
        c.disconnect_and_wait("done", WAIT).unwrap(),
        SessionState::CorrectlyTerminated
    );
    v.wait_terminated(WAIT).unwrap();
    assert_eq!(c.stats().unwrap().message_log_dropped, 0);
    assert_eq!(c.message_log_dropped(), 0);
    let cpath = c.message_log_path().unwrap().to_owned();
    let vpath = v.message_log_path().unwrap().to_owned();
    assert_eq!(
        cpath.file_name().unwrap(),
        "FIX.4.4-CLIENT-VENUE.messages.log"
    );
    assert_eq!(
        vpath.file_name().unwrap(),
        "FIX.4.4-VENUE-CLIENT.messages.log"
    );
    // Stopping writes out and closes every log.
    client.stop();
    venue.stop();
    assert_eq!(client.message_log_dropped(), 0);
    assert_eq!(venue.message_log_dropped(), 0);

    // The venue answers each order before it reads the next: a strict alternation.
    let vlines = read_log(&vpath);
    let mut want = vec![("IN", "A"), ("OUT", "A")];
    for _ in ids {
        want.extend([("IN", "D"), ("OUT", "8")]);
    }
    want.extend([("IN", "5"), ("OUT", "5")]);
    assert_eq!(business(&vlines), pairs(&want), "{vlines:#?}");

    // The client's orders and the reports overlap in time; per direction the order is exact.
    let clines = read_log(&cpath);
    let by_dir = |d: &str| -> Vec<String> {
        business(&clines)
            .into_iter()
            .filter(|(x, _)| x == d)
            .map(|(_, t)| t)
            .collect()
    };
    assert_eq!(by_dir("OUT"), ["A", "D", "D", "D", "D", "D", "5"]);
    assert_eq!(by_dir("IN"), ["A", "8", "8", "8", "8", "8", "5"]);
    for lines in [&clines, &vlines] {
        for d in ["IN", "OUT"] {
            let seqs: Vec<u64> = lines.iter().filter(|l| l.dir == d).map(|l| l.seq).collect();
            assert!(
                seqs.windows(2).all(|w| w[1] == w[0] + 1),
                "{d} numbers: {seqs:?}"
            );
            assert_eq!(seqs[0], 1);
        }
    }
    // Each report is logged after the order it answers; the first line is our Logon.
    assert_eq!(
        (clines[0].dir.as_str(), clines[0].msg_type.as_str()),
        ("OUT", "A")
    );
    for id in ids {
        let tag = format!("|11={id}|");
        let sent = clines
            .iter()
            .position(|l| l.dir == "OUT" && l.text.contains(&tag));
        let got = clines
            .iter()
            .position(|l| l.dir == "IN" && l.text.contains(&tag));
        assert!(sent.unwrap() < got.unwrap(), "{id}");
    }
    // Credentials: the username is logged, the password never.
    let logon_out = &clines[0].text;
    assert!(logon_out.contains("|553=trader|554=***|"), "{logon_out}");
    let logon_in = &vlines[0].text;
    assert!(logon_in.contains("|553=trader|554=***|"), "{logon_in}");
    for p in [&cpath, &vpath] {
        let raw = std::fs::read_to_string(p).unwrap();
        assert!(!raw.contains("hunter2"), "password in {}", p.display());
    }
}

fn logon_and_order(venue: &Engine, client: &Engine, log: &Path, id: &str) -> SessionHandle {
    let v = match venue.session("VENUE") {
        Some(v) => v,
        None => venue.create_session(venue_settings(log)).unwrap(),
    };
    let port = venue.listen_addr().unwrap().port();
    let (capp, crx) = Recorder::new();
    let c = client
        .create_session_with(client_settings(port, log), capp)
        .unwrap();
    c.wait_for_state(SessionState::Established, WAIT).unwrap();
    send_order(&c, id);
    wait_reports(&crx, &[id]);
    c.disconnect_and_wait("done", WAIT).unwrap();
    v.wait_for(WAIT, |s| s.is_terminated()).unwrap();
    c
}

#[test]
fn logs_are_appended_across_release_recreate_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("logs");
    for round in 0..2 {
        let (vapp, _vrx) = Recorder::new();
        let mut venue = acceptor_engine(vapp, vec![]);
        let (capp, _crx) = Recorder::new();
        let mut client = EngineBuilder::new(engine_settings())
            .application(capp)
            .start()
            .unwrap();
        let c = logon_and_order(&venue, &client, &log, &format!("R{round}A"));
        c.release().unwrap();
        venue.session("VENUE").unwrap().release().unwrap();
        // Same identity at once: the same file, continued in order.
        let c = logon_and_order(&venue, &client, &log, &format!("R{round}B"));
        assert!(
            c.message_log_path()
                .unwrap()
                .starts_with(std::fs::canonicalize(&log).unwrap())
        );
        client.stop();
        venue.stop();
    }
    let lines = read_log(&log.join("FIX.4.4-CLIENT-VENUE.messages.log"));
    let orders: Vec<&str> = lines
        .iter()
        .filter(|l| l.dir == "OUT" && l.msg_type == "D")
        .map(|l| {
            let at = l.text.find("|11=").unwrap() + 4;
            &l.text[at..at + 3]
        })
        .collect();
    assert_eq!(orders, ["R0A", "R0B", "R1A", "R1B"]);
    let logons = lines
        .iter()
        .filter(|l| l.dir == "OUT" && l.msg_type == "A")
        .count();
    assert_eq!(logons, 4);
    // Each session starts with its Logon and ends with the Logout exchange.
    let business = business(&lines);
    assert_eq!(business.len(), 4 * 6, "{business:?}");
    for chunk in business.chunks(6) {
        assert_eq!(
            chunk,
            pairs(&[
                ("OUT", "A"),
                ("IN", "A"),
                ("OUT", "D"),
                ("IN", "8"),
                ("OUT", "5"),
                ("IN", "5")
            ])
        );
    }
}

#[test]
fn an_unwritable_log_directory_refuses_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, b"x").unwrap();
    let (vapp, _vrx) = Recorder::new();
    let venue = acceptor_engine(vapp, vec![]);
    let e = venue
        .create_session(venue_settings(&file.join("sub")))
        .unwrap_err();
    assert!(e.to_string().contains("message log"), "{e}");
    // Nothing was registered: the name is free for a working configuration.
    venue
        .create_session(venue_settings(&dir.path().join("ok")))
        .unwrap();
}

//! Hostile and bad input over real loopback TCP, one test each: oversized frames and BodyLength
//! values, silent and never-finished Logons, floods of unknown CompIDs, bad Logon fields,
//! garbage between valid frames, and one misbehaving connection next to a good session on the
//! same I/O thread. The counterparty is a raw socket so the bytes are exactly the test's.

mod engine_support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use engine_support::*;
use fix_engine::{EngineBuilder, SessionState};

fn logon(sender: &str, target: &str, seq: u64, hb: &str) -> Vec<u8> {
    raw_logon(sender, target, seq, hb)
}

fn app_msg(seq: u64, clordid: &str) -> Vec<u8> {
    raw_order("CLI", "VENUE", seq, clordid)
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Waits for the engine to close the connection; returns the bytes it sent before closing, or
/// `None` when it is still open after `limit`.
fn wait_closed(s: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while Instant::now() < deadline {
        match s.read(&mut chunk) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Some(got),
        }
    }
    None
}

fn venue() -> (
    fix_engine::Engine,
    fix_engine::SessionHandle,
    crossbeam_channel::Receiver<Seen>,
) {
    let (app, rx) = Recorder::new();
    let e = acceptor_engine(app, vec![acceptor("VENUE", "VENUE", "CLI", transient())]);
    let h = e.session("VENUE").unwrap();
    (e, h, rx)
}

fn logged_on(port: u16, seq: u64) -> (TcpStream, Vec<u8>) {
    let mut s = connect(port);
    s.write_all(&logon("CLI", "VENUE", seq, "5")).unwrap();
    let mut buf = Vec::new();
    let reply = read_msg(&mut s, &mut buf, WAIT).expect("Logon reply");
    assert_eq!(field(&reply, 35).as_deref(), Some("A"), "{reply:?}");
    (s, buf)
}

/// Waits (bounded) until the session expects `seq` next; returns what it expects.
fn wait_target_seq(h: &fix_engine::SessionHandle, seq: u64) -> u64 {
    let deadline = Instant::now() + WAIT;
    while h.next_target_seq() != seq && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    h.next_target_seq()
}

/// Resident set size of this process in KiB (Linux).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace('\x01', "|")
}

#[test]
fn oversized_body_length_closes_the_connection_and_the_session_continues() {
    let (e, h, _rx) = venue();
    let port = e.listen_addr().unwrap().port();
    let (mut s, _) = logged_on(port, 1);
    h.wait_for_state(SessionState::Established, WAIT).unwrap();

    // BodyLength far above the 1 MiB frame bound, then the body keeps coming (40 MiB): the
    // engine closes the connection (it may read and discard during its 2 s close linger) and
    // buffers none of it.
    let rss_before = rss_kib();
    s.write_all(b"8=FIX.4.4\x019=50000000\x0135=D\x0134=2\x01")
        .unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    s.set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + WAIT;
    let mut written = 0usize;
    while written < 40 * 1024 * 1024 && Instant::now() < deadline {
        match s.write(&chunk) {
            Ok(n) => written += n,
            Err(_) => break,
        }
    }
    let grown = rss_kib().saturating_sub(rss_before);
    assert!(
        grown < 20 * 1024,
        "memory grew by {grown} KiB while {written} bytes of one oversized frame arrived"
    );
    assert!(
        wait_closed(&mut s, WAIT).is_some(),
        "connection still open after an oversized frame"
    );
    h.wait_for(WAIT, |st| st != SessionState::Established)
        .unwrap();

    // The session is not damaged: the same counterparty logs on again and continues its numbers.
    let (_s2, _) = logged_on(port, 2);
    h.wait_for_state(SessionState::Established, WAIT).unwrap();
    assert_eq!(
        wait_target_seq(&h, 3),
        3,
        "numbers continue after the bad frame"
    );
}

#[test]
fn oversized_first_frame_and_absurd_body_length_close_before_logon() {
    let (e, h, _rx) = venue();
    let port = e.listen_addr().unwrap().port();
    for first in [
        &b"8=FIX.4.4\x019=2000000\x0135=A\x01"[..],
        &b"8=FIX.4.4\x019=99999999999999999999999999\x0135=A\x01"[..],
        &b"8=FIX.4.4\x019=-5\x0135=A\x01"[..],
    ] {
        let mut s = connect(port);
        s.write_all(first).unwrap();
        let _ = s.write_all(&vec![b'y'; 256 * 1024]);
        let got =
            wait_closed(&mut s, WAIT).unwrap_or_else(|| panic!("still open after {}", text(first)));
        assert!(got.is_empty(), "answered {}", text(&got));
    }
    assert_ne!(h.state(), SessionState::Established);
    let _s = logged_on(port, 1);
    h.wait_for_state(SessionState::Established, WAIT).unwrap();
}

#[test]
fn silent_and_never_finished_logons_are_closed_by_the_pre_logon_timeout() {
    let (e, h, _rx) = venue();
    let port = e.listen_addr().unwrap().port();
    let started = Instant::now();
    let mut silent = connect(port);
    let mut partial = connect(port);
    partial
        .write_all(b"8=FIX.4.4\x019=70\x0135=A\x0134=1\x01")
        .unwrap();
    // A third one trickles a Logon one byte at a time and never finishes it: bytes arriving do
    // not extend the deadline.
    let trickle = std::thread::spawn(move || {
        let mut t = connect(port);
        let bytes = b"8=FIX.4.4\x019=1000\x0135=A\x0134=1\x0149=CLI\x0156=VENUE\x01".repeat(4);
        for b in bytes.iter().cycle().take(2000) {
            if t.write_all(&[*b]).is_err() {
                return Some(Instant::now());
            }
            let mut one = [0u8; 1];
            match t.read(&mut one) {
                Ok(0) => return Some(Instant::now()),
                Ok(_) => return None, // the engine answered something: wrong
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => return Some(Instant::now()),
            }
        }
        None
    });
    let limit = Duration::from_secs(20);
    assert_eq!(
        wait_closed(&mut silent, limit).as_deref(),
        Some(&b""[..]),
        "silent connection not closed"
    );
    assert_eq!(
        wait_closed(&mut partial, limit).as_deref(),
        Some(&b""[..]),
        "partial Logon not closed"
    );
    let closed = started.elapsed();
    assert!(
        closed >= Duration::from_secs(5),
        "closed after {closed:?}: before any sensible Logon timeout"
    );
    let t = trickle
        .join()
        .unwrap()
        .expect("trickling Logon never closed");
    assert!(t.duration_since(started) < limit);
    assert_ne!(h.state(), SessionState::Established);
}

fn storage_entries(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn unknown_flood(create: bool) {
    let dir = tempfile::tempdir().unwrap();
    // `Recorder::with(false)`: the callback refuses every unregistered Logon.
    let (app, rx) = Recorder::with(false);
    let mut settings = engine_settings();
    settings.unregistered_acceptor.create_session = create;
    settings.session_defaults.storage = persistent(dir.path());
    let e = EngineBuilder::new(settings)
        .listen_port(Some(0))
        .application(app)
        .session(acceptor(
            "VENUE",
            "VENUE",
            "CLI",
            persistent(&dir.path().join("known")),
        ))
        .start()
        .unwrap();
    let port = e.listen_addr().unwrap().port();
    const N: usize = 60;
    let mut conns: Vec<TcpStream> = (0..N)
        .map(|i| {
            let mut s = connect(port);
            s.write_all(&logon(&format!("STRANGER{i}"), "VENUE", 1, "5"))
                .unwrap();
            s
        })
        .collect();
    // Same CompIDs as the known session but addressed to another TargetCompID.
    let mut other = connect(port);
    other.write_all(&logon("CLI", "NOTVENUE", 1, "5")).unwrap();
    conns.push(other);
    for (i, s) in conns.iter_mut().enumerate() {
        let got = wait_closed(s, WAIT).unwrap_or_else(|| panic!("connection {i} left open"));
        assert!(got.is_empty(), "connection {i} answered: {}", text(&got));
    }
    let names: Vec<String> = e.sessions().iter().map(|s| s.name().to_owned()).collect();
    assert_eq!(names, ["VENUE"], "sessions created for strangers");
    assert_eq!(
        storage_entries(dir.path()),
        ["known"],
        "storage created for strangers"
    );
    let asked = drain_for(&rx, Duration::from_millis(50))
        .iter()
        .filter(|s| matches!(s, Seen::Unregistered { .. }))
        .count();
    if create {
        assert_eq!(asked, N + 1, "the callback decides every stranger");
    } else {
        assert_eq!(asked, 0, "the callback is not asked when creation is off");
    }
    // The registered session is unaffected.
    let _s = logged_on(port, 1);
    e.session("VENUE")
        .unwrap()
        .wait_for_state(SessionState::Established, WAIT)
        .unwrap();
}

#[test]
fn a_flood_of_unknown_comp_ids_creates_nothing_when_creation_is_off() {
    unknown_flood(false);
}

#[test]
fn a_flood_of_unknown_comp_ids_refused_by_the_callback_creates_nothing() {
    unknown_flood(true);
}

#[test]
fn bad_logon_fields_are_refused_and_a_good_logon_still_works() {
    let (e, h, _rx) = venue();
    let port = e.listen_addr().unwrap().port();
    let t = now();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("HeartBtInt negative", logon("CLI", "VENUE", 1, "-30")),
        (
            "HeartBtInt absurd",
            logon("CLI", "VENUE", 1, "99999999999999999999"),
        ),
        ("HeartBtInt not a number", logon("CLI", "VENUE", 1, "abc")),
        (
            "HeartBtInt missing",
            fix_msg(
                "FIX.4.4",
                &[
                    (35, "A"),
                    (34, "1"),
                    (49, "CLI"),
                    (52, &t),
                    (56, "VENUE"),
                    (98, "0"),
                ],
            ),
        ),
        (
            "SenderCompID missing",
            fix_msg(
                "FIX.4.4",
                &[
                    (35, "A"),
                    (34, "1"),
                    (52, &t),
                    (56, "VENUE"),
                    (98, "0"),
                    (108, "5"),
                ],
            ),
        ),
        (
            "TargetCompID missing",
            fix_msg(
                "FIX.4.4",
                &[
                    (35, "A"),
                    (34, "1"),
                    (49, "CLI"),
                    (52, &t),
                    (98, "0"),
                    (108, "5"),
                ],
            ),
        ),
        ("wrong SenderCompID", logon("NOTCLI", "VENUE", 1, "5")),
        (
            "wrong BeginString",
            fix_msg(
                "FIX.4.2",
                &[
                    (35, "A"),
                    (34, "1"),
                    (49, "CLI"),
                    (52, &t),
                    (56, "VENUE"),
                    (98, "0"),
                    (108, "5"),
                ],
            ),
        ),
    ];
    for (what, bytes) in &cases {
        let mut s = connect(port);
        s.write_all(bytes).unwrap();
        let got = wait_closed(&mut s, WAIT).unwrap_or_else(|| panic!("{what}: left open"));
        // Refused: closed with nothing, or with a Logout; never a Logon.
        let mut buf = got.clone();
        while let Some(m) = read_msg(&mut s, &mut buf, Duration::ZERO) {
            assert_ne!(
                field(&m, 35).as_deref(),
                Some("A"),
                "{what}: logged on: {}",
                text(&got)
            );
        }
        assert_ne!(h.state(), SessionState::Established, "{what}");
    }
    // None of them consumed the counterparty's first number.
    let _s = logged_on(port, 1);
    h.wait_for_state(SessionState::Established, WAIT).unwrap();
    assert_eq!(wait_target_seq(&h, 2), 2);
}

#[test]
fn logon_with_heartbtint_zero_means_no_heartbeats() {
    let (e, h, _rx) = venue();
    let port = e.listen_addr().unwrap().port();
    let mut s = connect(port);
    s.write_all(&logon("CLI", "VENUE", 1, "0")).unwrap();
    let mut buf = Vec::new();
    let reply = read_msg(&mut s, &mut buf, WAIT).expect("Logon reply to HeartBtInt 0");
    assert_eq!(field(&reply, 35).as_deref(), Some("A"));
    assert_eq!(field(&reply, 108).as_deref(), Some("0"));
    h.wait_for_state(SessionState::Established, WAIT).unwrap();
    // No heartbeat, no TestRequest, no disconnect while silent.
    assert!(
        read_msg(&mut s, &mut buf, Duration::from_millis(1500)).is_none(),
        "sent something: {}",
        text(&buf)
    );
    assert_eq!(h.state(), SessionState::Established);
}

#[test]
fn garbage_between_valid_frames_is_skipped_and_numbers_are_kept() {
    let (e, h, rx) = venue();
    let port = e.listen_addr().unwrap().port();
    let (mut s, mut buf) = logged_on(port, 1);
    h.wait_for_state(SessionState::Established, WAIT).unwrap();
    let good = app_msg(3, "BADSUM");
    let n = good.len();
    let mut bad_checksum = good.clone();
    let wrong: &[u8] = if good[n - 4..n - 1] == *b"000" {
        b"001"
    } else {
        b"000"
    };
    bad_checksum[n - 4..n - 1].copy_from_slice(wrong);
    let mut stream = Vec::new();
    stream.extend_from_slice(&app_msg(2, "O1"));
    stream.extend_from_slice(b"garbage \x01\x01=\x0199=x\x01 more garbage\x01");
    stream.extend_from_slice(&app_msg(3, "O2"));
    // Ignored without consuming a number: the next message is 4.
    stream.extend_from_slice(&bad_checksum);
    stream.extend_from_slice(&[0u8, 255, 1, 1, 7, 1]);
    stream.extend_from_slice(&app_msg(4, "O3"));
    s.write_all(&stream).unwrap();
    let mut ids = Vec::new();
    let deadline = Instant::now() + WAIT;
    while ids.len() < 3 && Instant::now() < deadline {
        if let Ok(Seen::Message(_, m)) = rx.recv_timeout(Duration::from_millis(100)) {
            ids.push(field(&m, 11).unwrap_or_default());
        }
    }
    assert_eq!(ids, ["O1", "O2", "O3"]);
    assert_eq!(h.state(), SessionState::Established);
    assert_eq!(wait_target_seq(&h, 5), 5);
    let later = drain_for(&rx, Duration::from_millis(100));
    assert!(
        !later.iter().any(|s| matches!(s, Seen::Gap(..))),
        "garbage caused a gap: {later:?}"
    );

    // Garbage glued to the next message without a SOH hides that message's `8=` (a frame starts
    // only at `8=` opening a field): it is lost like any garbled message, and the next one
    // reveals the gap, which the session recovers by a ResendRequest.
    let mut glued = b"junk".to_vec();
    glued.extend_from_slice(&app_msg(5, "LOST"));
    glued.extend_from_slice(&app_msg(6, "O5"));
    s.write_all(&glued).unwrap();
    let mut resend = None;
    while let Some(m) = read_msg(&mut s, &mut buf, WAIT) {
        if field(&m, 35).as_deref() == Some("2") {
            resend = Some(m);
            break;
        }
    }
    let resend = resend.expect("a ResendRequest for the lost message");
    assert_eq!(field(&resend, 7).as_deref(), Some("5"), "{}", text(&resend));
    assert_eq!(h.state(), SessionState::Established);
}

#[test]
fn a_flooding_connection_does_not_stall_a_session_on_the_same_io_thread() {
    let (app, _rx) = Recorder::new();
    let mut settings = engine_settings();
    settings.io_threads = 1;
    let e = EngineBuilder::new(settings)
        .listen_port(Some(0))
        .application(app)
        .session(acceptor("VENUE", "VENUE", "CLI", transient()))
        .session(acceptor("NOISY", "VENUE", "NOISY", transient()))
        .start()
        .unwrap();
    let port = e.listen_addr().unwrap().port();
    let (mut good, mut gbuf) = logged_on(port, 1);
    let mut noisy = connect(port);
    noisy.write_all(&logon("NOISY", "VENUE", 1, "5")).unwrap();
    e.session("NOISY")
        .unwrap()
        .wait_for_state(SessionState::Established, WAIT)
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let batches = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let flood = {
        let stop = stop.clone();
        let batches = batches.clone();
        std::thread::spawn(move || {
            // Valid Heartbeats in large batches: real work for the session, as fast as the
            // socket takes them, bounded in time.
            let t = now();
            let mut seq = 2u64;
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut sent = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline {
                let mut batch = Vec::with_capacity(64 * 1024);
                for _ in 0..500 {
                    batch.extend_from_slice(&fix_msg(
                        "FIX.4.4",
                        &[
                            (35, "0"),
                            (34, &seq.to_string()),
                            (49, "NOISY"),
                            (52, &t),
                            (56, "VENUE"),
                        ],
                    ));
                    seq += 1;
                }
                if noisy.write_all(&batch).is_err() {
                    break;
                }
                sent += 500;
                batches.fetch_add(1, std::sync::atomic::Ordering::Release);
            }
            sent
        })
    };
    // The round trips are measured under the flood, not before it started.
    let deadline = Instant::now() + WAIT;
    while batches.load(std::sync::atomic::Ordering::Acquire) == 0 {
        assert!(Instant::now() < deadline, "the flood did not start");
        std::thread::sleep(Duration::from_millis(1));
    }
    // Round trips on the good session while the other floods: TestRequest -> Heartbeat.
    let mut worst = Duration::ZERO;
    for i in 0..100u64 {
        let id = format!("T{i}");
        let t0 = Instant::now();
        good.write_all(&fix_msg(
            "FIX.4.4",
            &[
                (35, "1"),
                (34, &(i + 2).to_string()),
                (49, "CLI"),
                (52, &now()),
                (56, "VENUE"),
                (112, &id),
            ],
        ))
        .unwrap();
        loop {
            let m = read_msg(&mut good, &mut gbuf, Duration::from_secs(5))
                .unwrap_or_else(|| panic!("no Heartbeat for {id} within 5 s"));
            if field(&m, 112).as_deref() == Some(id.as_str()) {
                break;
            }
        }
        worst = worst.max(t0.elapsed());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let flooded = flood.join().unwrap();
    assert!(flooded > 0, "the flood did not run");
    eprintln!("worst round trip {worst:?} while {flooded} Heartbeats flooded in");
    assert!(
        worst < Duration::from_secs(2),
        "a round trip took {worst:?} while another connection flooded"
    );
}

#[test]
fn a_connection_cut_mid_message_loses_nothing_and_keeps_the_numbers() {
    let (e, h, rx) = venue();
    let port = e.listen_addr().unwrap().port();
    let (mut s, _) = logged_on(port, 1);
    h.wait_for_state(SessionState::Established, WAIT).unwrap();
    // Half of order 2, then the link dies.
    let order = app_msg(2, "HALF");
    s.write_all(&order[..order.len() / 2]).unwrap();
    drop(s);
    h.wait_for(WAIT, |st| st != SessionState::Established)
        .unwrap();
    assert_eq!(h.next_target_seq(), 2, "half a message consumed a number");

    // The counterparty journaled 2 before the cut, so it logs on with 3: the venue asks for 2.
    let mut s = connect(port);
    s.write_all(&logon("CLI", "VENUE", 3, "5")).unwrap();
    let mut buf = Vec::new();
    let mut resend = None;
    while let Some(m) = read_msg(&mut s, &mut buf, WAIT) {
        if field(&m, 35).as_deref() == Some("2") {
            resend = Some(m);
            break;
        }
    }
    let resend = resend.expect("a ResendRequest after the cut");
    assert_eq!(field(&resend, 7).as_deref(), Some("2"), "{}", text(&resend));
    let t = now();
    s.write_all(&fix_msg(
        "FIX.4.4",
        &[
            (35, "D"),
            (34, "2"),
            (43, "Y"),
            (49, "CLI"),
            (52, &t),
            (56, "VENUE"),
            (122, &t),
            (11, "HALF"),
            (21, "1"),
            (38, "100"),
            (40, "1"),
            (54, "1"),
            (55, "X"),
            (60, &t),
        ],
    ))
    .unwrap();
    let delivered = expect(&rx, "the resent order", |e| matches!(e, Seen::Message(..)));
    let Seen::Message(_, m) = delivered else {
        unreachable!()
    };
    assert_eq!(field(&m, 11).as_deref(), Some("HALF"));
    assert_eq!(wait_target_seq(&h, 4), 4, "2 resent, 3 was the Logon");
    assert_eq!(h.state(), SessionState::Established);
}

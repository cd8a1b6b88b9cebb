//! Start-up: a Logon that arrives the instant a listener accepts finds its session, and acceptors
//! wait for their Logon (`WAIT_FOR_FIRST_LOGON`) from the start.

mod engine_support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use engine_support::*;
use fix_codec::UtcTimestamp;
use fix_engine::config::SessionSettings;
use fix_engine::{EngineBuilder, SessionState};
use fix_testkit::{build_frame, get, split_frames, with_time};

/// Acceptors registered before the one the client logs on to, each with a store on disk:
/// creating them is what used to leave the listener accepting before the last session existed.
const SESSIONS: usize = 48;

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn now_utc() -> UtcTimestamp {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    UtcTimestamp::from_unix_secs(i64::try_from(secs).unwrap())
}

fn acceptor_on(
    i: usize,
    port: u16,
    storage: fix_engine::config::StorageSettings,
) -> SessionSettings {
    SessionSettings::acceptor(
        format!("S{i}"),
        "FIX.4.4",
        format!("V{i}"),
        format!("C{i}"),
        port,
    )
    .heart_bt_int(5)
    .storage(storage)
    .build()
    .unwrap()
}

/// Connects as soon as `port` accepts (bounded), sends a Logon to the last session at once, and
/// returns everything the engine sent back until it closed or answered.
fn early_logon(port: u16, last: usize) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + WAIT;
    let mut stream = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(_) if Instant::now() < deadline => thread::yield_now(),
            Err(e) => return Err(format!("never connected: {e}")),
        }
    };
    let logon = build_frame(
        "FIX.4.4",
        &with_time(
            &format!("35=A|49=C{last}|56=V{last}|34=1|52=<TIME>|98=0|108=5|"),
            now_utc(),
        ),
    );
    stream.write_all(&logon).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline && !split_frames(&got).iter().any(|f| get(f, 35).is_some()) {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    Ok(got)
}

#[test]
fn logon_the_instant_the_port_accepts_finds_its_session() {
    for round in 0..5 {
        let port = free_port();
        let last = SESSIONS - 1;
        let client = thread::spawn(move || early_logon(port, last));
        let dir = tempfile::tempdir().unwrap();
        let mut b = EngineBuilder::new(engine_settings());
        for i in 0..SESSIONS {
            b = b.session(acceptor_on(i, port, persistent(dir.path())));
        }
        let mut engine = b.start().unwrap();
        let got = client.join().unwrap().unwrap();
        let frames = split_frames(&got);
        assert!(
            frames.iter().any(|f| get(f, 35).as_deref() == Some("A")),
            "round {round}: no Logon answer, got {:?}",
            fix_testkit::show(&got)
        );
        let answer = frames
            .iter()
            .find(|f| get(f, 35).as_deref() == Some("A"))
            .unwrap();
        assert_eq!(get(answer, 56), Some(format!("C{last}")), "round {round}");
        engine.stop_with_timeout(Duration::from_millis(500));
    }
}

#[test]
fn acceptors_wait_for_their_first_logon_from_the_start() {
    let (app, rx) = Recorder::new();
    let engine = EngineBuilder::new(engine_settings())
        .application(app)
        .listen_port(Some(0))
        .session(acceptor_on(0, 0, transient()))
        .start()
        .unwrap();
    let h = engine.session("S0").unwrap();
    assert_eq!(
        h.wait_for_state(SessionState::WaitForFirstLogon, WAIT)
            .unwrap(),
        SessionState::WaitForFirstLogon
    );
    let events = drain_for(&rx, Duration::from_millis(50));
    assert!(
        events.iter().any(|e| matches!(
            e,
            Seen::State(_, SessionState::Initial, SessionState::WaitForFirstLogon)
        )),
        "no state event: {events:?}"
    );
    assert!(engine.listen_addr().is_some());
}

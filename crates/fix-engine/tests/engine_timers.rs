//! Timers on real I/O threads: heartbeats keep an idle session alive, and a graceful disconnect
//! whose Logout is never confirmed ends `NON_GRACEFULLY_TERMINATED` after the logout timeout.

mod engine_support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use engine_support::*;
use fix_engine::config::SessionSettings;
use fix_engine::{EngineBuilder, SessionState};

#[test]
fn heartbeats_flow_on_an_idle_session() {
    let (vapp, _vrx) = Recorder::new();
    let mut acc = acceptor("V", "V", "C", transient());
    acc.primary.heart_bt_int = 1;
    let venue = acceptor_engine(vapp, vec![acc]);
    let port = venue.listen_addr().unwrap().port();
    let (capp, _crx) = Recorder::new();
    let mut ini = initiator("C", "C", "V", port, transient());
    ini.primary.heart_bt_int = 1;
    let client = EngineBuilder::new(engine_settings())
        .application(capp)
        .session(ini)
        .start()
        .unwrap();
    let c = client.session("C").unwrap();
    let v = venue.session("V").unwrap();
    c.wait_for_state(SessionState::Established, WAIT).unwrap();
    // Nothing is sent by the application: only heartbeats move the numbers.
    let deadline = Instant::now() + WAIT;
    while (v.next_target_seq() < 4 || c.next_target_seq() < 4) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        v.next_target_seq() >= 4,
        "venue got heartbeats: {}",
        v.next_target_seq()
    );
    assert!(
        c.next_target_seq() >= 4,
        "client got heartbeats: {}",
        c.next_target_seq()
    );
    assert_eq!(c.state(), SessionState::Established);
    assert_eq!(v.state(), SessionState::Established);
}

fn frame(body: &str) -> Vec<u8> {
    let body = body.replace('|', "\x01");
    let mut m = format!("8=FIX.4.4\x019={}\x01", body.len()).into_bytes();
    m.extend_from_slice(body.as_bytes());
    let sum: u32 = m.iter().map(|&b| u32::from(b)).sum();
    m.extend_from_slice(format!("10={:03}\x01", sum % 256).as_bytes());
    m
}

#[test]
fn unconfirmed_logout_ends_non_gracefully_after_the_logout_timeout() {
    let peer = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = peer.local_addr().unwrap().port();
    let (capp, crx) = Recorder::new();
    let ini = SessionSettings::initiator("C", "FIX.4.4", "C", "V", "127.0.0.1", port)
        .heart_bt_int(30)
        .logout_timeout(Duration::from_millis(300))
        .storage(transient())
        .build()
        .unwrap();
    let client = EngineBuilder::new(engine_settings())
        .application(capp)
        .session(ini)
        .start()
        .unwrap();
    let (mut s, _) = peer.accept().unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    assert_eq!(field(&buf[..n], 35).as_deref(), Some("A"));
    let t = fix_codec::UtcTimestamp::from_unix_nanos(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i128,
    )
    .to_fix_string(fix_codec::TimePrecision::Millis);
    s.write_all(&frame(&format!("35=A|34=1|49=V|52={t}|56=C|98=0|108=30|")))
        .unwrap();
    let c = client.session("C").unwrap();
    c.wait_for_state(SessionState::Established, WAIT).unwrap();
    let started = Instant::now();
    c.disconnect("bye").unwrap();
    let n = s.read(&mut buf).unwrap();
    assert_eq!(field(&buf[..n], 35).as_deref(), Some("5"));
    assert_eq!(field(&buf[..n], 58).as_deref(), Some("bye"));
    // No confirmation: the engine gives up after LogoutTimeout and closes with FIN.
    assert_eq!(
        c.wait_terminated(WAIT).unwrap(),
        SessionState::NonGracefullyTerminated
    );
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(250), "{took:?}");
    assert_eq!(s.read(&mut buf).unwrap(), 0, "closed with FIN");
    expect(
        &crx,
        "timeout warning",
        |e| matches!(e, Seen::Warning(_, w) if w.contains("Logout")),
    );
}

//! Acceptance-suite behaviours of the acceptor over loopback TCP, checked byte for byte: a garbled
//! Logon closes the connection at once (1d_InvalidLogonLengthInvalid), bytes before `8=` do not,
//! and the echo application keeps `PossResend <97>=Y` in the header of its echo
//! (19b_PossResendMessageThatHasNotBeenSent).

mod engine_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine_support::*;
use fix_codec::{FrameStatus, Framer};
use fix_engine::SessionState;
use fix_engine::apps::EchoApp;

/// Well below the engine's 10 s pre-logon timeout, so only an immediate close passes, and still
/// generous on a loaded 2-core machine.
const PROMPT: Duration = Duration::from_secs(3);

fn frame_with_len(body: &str, declared: Option<usize>) -> Vec<u8> {
    let body = body.replace('|', "\x01");
    let len = declared.unwrap_or(body.len());
    let mut m = format!("8=FIX.4.4\x019={len}\x01").into_bytes();
    m.extend_from_slice(body.as_bytes());
    let sum: u32 = m.iter().map(|&b| u32::from(b)).sum();
    m.extend_from_slice(format!("10={:03}\x01", sum % 256).as_bytes());
    m
}

fn frame(body: &str) -> Vec<u8> {
    frame_with_len(body, None)
}

fn logon_body(seq: u32) -> String {
    format!("35=A|34={seq}|49=TW|52={}|56=HUB|98=0|108=30|", now())
}

/// Whether the engine closes `s` within `within` without sending anything.
fn closed_without_data(s: &mut TcpStream, within: Duration) -> Result<(), String> {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 512];
    match s.read(&mut buf) {
        Ok(0) => Ok(()),
        Ok(n) => Err(format!(
            "data: {:?}",
            String::from_utf8_lossy(&buf[..n]).replace('\x01', "|")
        )),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(()),
        Err(e) => Err(format!("still open after {within:?}: {e}")),
    }
}

/// Reads one complete message (bounded by `WAIT`).
fn read_message(s: &mut TcpStream, pending: &mut Vec<u8>) -> Vec<u8> {
    let framer = Framer::default();
    let deadline = Instant::now() + WAIT;
    loop {
        match framer.next_frame(pending) {
            FrameStatus::Complete { len } => return pending.drain(..len).collect(),
            FrameStatus::Garbled { error, .. } => panic!("garbled reply: {error}"),
            FrameStatus::NeedMore => {}
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no complete message within {WAIT:?}");
        s.set_read_timeout(Some(left)).unwrap();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "connection closed while waiting for a message");
        pending.extend_from_slice(&buf[..n]);
    }
}

/// The tags of a message in wire order.
fn tags(msg: &[u8]) -> Vec<u32> {
    fix_codec::FieldIter::new(msg)
        .map_while(Result::ok)
        .map(|f| f.tag)
        .collect()
}

fn hub() -> fix_engine::Engine {
    acceptor_engine(
        Arc::new(EchoApp::new(None)),
        vec![acceptor("ACC", "HUB", "TW", transient())],
    )
}

#[test]
fn logon_with_a_wrong_body_length_closes_the_connection_at_once() {
    let hub = hub();
    let port = hub.listen_addr().unwrap().port();
    for declared in [10, 40] {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(&frame_with_len(&logon_body(1), Some(declared)))
            .unwrap();
        closed_without_data(&mut s, PROMPT).unwrap_or_else(|e| panic!("9={declared}: {e}"));
    }
    // A bad CheckSum is as garbled as a bad BodyLength.
    let mut bad_sum = frame(&logon_body(1));
    let n = bad_sum.len();
    bad_sum[n - 2] = if bad_sum[n - 2] == b'0' { b'1' } else { b'0' };
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(&bad_sum).unwrap();
    closed_without_data(&mut s, PROMPT).unwrap();
    assert_ne!(
        hub.session("ACC").unwrap().state(),
        SessionState::Established
    );
}

#[test]
fn bytes_before_begin_string_do_not_prevent_the_logon() {
    let hub = hub();
    let port = hub.listen_addr().unwrap().port();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // The framer resynchronises on `SOH 8=`.
    let mut bytes = b"\r\nnoise\x01".to_vec();
    bytes.extend_from_slice(&frame(&logon_body(1)));
    s.write_all(&bytes).unwrap();
    let mut pending = Vec::new();
    let reply = read_message(&mut s, &mut pending);
    assert_eq!(field(&reply, 35).as_deref(), Some("A"));
    hub.session("ACC")
        .unwrap()
        .wait_for_state(SessionState::Established, WAIT)
        .unwrap();
}

#[test]
fn echo_keeps_poss_resend_in_the_header() {
    let hub = hub();
    let port = hub.listen_addr().unwrap().port();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut pending = Vec::new();
    s.write_all(&frame(&logon_body(1))).unwrap();
    assert_eq!(
        field(&read_message(&mut s, &mut pending), 35).as_deref(),
        Some("A")
    );
    let t = now();
    s.write_all(&frame(&format!(
        "35=D|34=2|49=TW|52={t}|56=HUB|97=Y|11=id|21=3|40=1|54=1|55=MSFT|60={t}|"
    )))
    .unwrap();
    let echo = read_message(&mut s, &mut pending);
    assert_eq!(
        tags(&echo),
        [8, 9, 35, 34, 49, 52, 56, 97, 11, 21, 40, 54, 55, 60, 10],
        "{}",
        String::from_utf8_lossy(&echo).replace('\x01', "|")
    );
    assert_eq!(field(&echo, 97).as_deref(), Some("Y"));
    // Without PossResend the echo has none.
    s.write_all(&frame(&format!(
        "35=D|34=3|49=TW|52={t}|56=HUB|11=id2|21=3|40=1|54=1|55=MSFT|60={t}|"
    )))
    .unwrap();
    let echo = read_message(&mut s, &mut pending);
    assert_eq!(field(&echo, 11).as_deref(), Some("id2"));
    assert_eq!(field(&echo, 97), None);
    // A PossResend order already seen in this session is dropped: the next reply is the
    // Heartbeat answering the TestRequest.
    s.write_all(&frame(&format!(
        "35=D|34=4|49=TW|52={t}|56=HUB|97=Y|11=id2|21=3|40=1|54=1|55=MSFT|60={t}|"
    )))
    .unwrap();
    s.write_all(&frame(&format!("35=1|34=5|49=TW|52={t}|56=HUB|112=PING|")))
        .unwrap();
    let hb = read_message(&mut s, &mut pending);
    assert_eq!(field(&hb, 35).as_deref(), Some("0"));
    assert_eq!(field(&hb, 112).as_deref(), Some("PING"));
}

//! `SessionHandle::send_with_header` over real loopback TCP: the counterparty is a raw socket so
//! the bytes on the wire are exactly checked: extra header fields merged in tag order, the
//! session's own header tags never duplicated, and a resend of the journaled message carrying
//! the extra fields again.

mod engine_support;

use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

use engine_support::*;
use fix_engine::{EngineBuilder, EngineError, SessionState};

/// `(tag, value)` pairs in wire order.
fn tags(m: &[u8]) -> Vec<(u32, String)> {
    fix_codec::MessageRef::new(m)
        .fields()
        .map_while(Result::ok)
        .map(|f| (f.tag, String::from_utf8_lossy(f.value).into_owned()))
        .collect()
}

fn show(m: &[u8]) -> String {
    String::from_utf8_lossy(m).replace('\x01', "|")
}

#[test]
fn send_with_header_merges_fields_in_tag_order_and_a_resend_keeps_them() {
    // The counterparty: a raw acceptor socket.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (app, _rx) = Recorder::new();
    let engine = EngineBuilder::new(engine_settings())
        .application(app)
        .session(initiator("CLI", "CLI", "VENUE", port, transient()))
        .start()
        .unwrap();
    let h = engine.session("CLI").unwrap();
    // Not logged on yet: refused before anything is encoded.
    assert!(matches!(
        h.send_with_header(b"D", &[(97, b"Y")], |_| {}),
        Err(EngineError::NotLoggedOn(_))
    ));

    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = Vec::new();
    let logon = read_msg(&mut peer, &mut buf, WAIT).expect("Logon");
    assert_eq!(field(&logon, 35).as_deref(), Some("A"), "{}", show(&logon));
    let t = now();
    peer.write_all(&fix_msg(
        "FIX.4.4",
        &[
            (35, "A"),
            (34, "1"),
            (49, "VENUE"),
            (52, &t),
            (56, "CLI"),
            (98, "0"),
            (108, "30"),
        ],
    ))
    .unwrap();
    h.wait_for_state(SessionState::Established, WAIT).unwrap();

    // Invalid extra fields are refused on the caller's thread; nothing is sent or numbered.
    let seq = h.next_sender_seq();
    for bad in [
        &[(0u32, &b"x"[..])][..],
        &[(115, &b""[..])][..],
        &[(115, &b"A\x01B"[..])][..],
    ] {
        assert!(
            matches!(
                h.send_with_header(b"D", bad, |_| {}),
                Err(EngineError::InvalidHeaderField { .. })
            ),
            "{bad:?}"
        );
    }
    let many = [(115u32, &b"X"[..]); fix_engine::app::MAX_HEADER_FIELDS + 1];
    assert!(matches!(
        h.send_with_header(b"D", &many, |_| {}),
        Err(EngineError::InvalidHeaderField { tag: None })
    ));
    assert!(matches!(
        h.send_with_header(b"0", &[(97, b"Y")], |_| {}),
        Err(EngineError::InvalidMsgType)
    ));
    assert_eq!(h.next_sender_seq(), seq);

    // Out of order, and with tags the session owns: those are ignored, the rest sorted.
    h.send_with_header(
        b"D",
        &[
            (128, b"DEST"),
            (34, b"999"),
            (97, b"Y"),
            (49, b"EVIL"),
            (52, b"19700101-00:00:00"),
            (115, b"X"),
            (56, b"NOBODY"),
            (43, b"Y"),
            (122, b"19700101-00:00:00"),
        ],
        |e| {
            e.field(11, b"ORD1").field(55, b"EURUSD").field(38, b"100");
        },
    )
    .unwrap();
    let m = read_msg(&mut peer, &mut buf, WAIT).expect("the order");
    let got: Vec<u32> = tags(&m).iter().map(|(t, _)| *t).collect();
    assert_eq!(
        got,
        [8, 9, 35, 34, 49, 52, 56, 97, 115, 128, 11, 55, 38, 10],
        "{}",
        show(&m)
    );
    assert_eq!(field(&m, 34), Some(seq.to_string()));
    assert_eq!(field(&m, 49).as_deref(), Some("CLI"));
    assert_eq!(field(&m, 56).as_deref(), Some("VENUE"));
    assert_eq!(field(&m, 97).as_deref(), Some("Y"));
    assert_eq!(field(&m, 115).as_deref(), Some("X"));
    assert_eq!(field(&m, 128).as_deref(), Some("DEST"));
    assert_ne!(field(&m, 52).as_deref(), Some("19700101-00:00:00"));
    assert_eq!(field(&m, 11).as_deref(), Some("ORD1"));
    assert_eq!(h.next_sender_seq(), seq + 1);

    // The message was journaled with its header: a ResendRequest brings it back with
    // PossDupFlag, OrigSendingTime = its SendingTime, and the same extra fields.
    let t = now();
    peer.write_all(&fix_msg(
        "FIX.4.4",
        &[
            (35, "2"),
            (34, "2"),
            (49, "VENUE"),
            (52, &t),
            (56, "CLI"),
            (7, &seq.to_string()),
            (16, "0"),
        ],
    ))
    .unwrap();
    let r = read_msg(&mut peer, &mut buf, WAIT).expect("the resent order");
    let got: Vec<u32> = tags(&r).iter().map(|(t, _)| *t).collect();
    assert_eq!(
        got,
        [
            8, 9, 35, 34, 43, 49, 52, 56, 97, 115, 122, 128, 11, 55, 38, 10
        ],
        "{}",
        show(&r)
    );
    assert_eq!(field(&r, 35).as_deref(), Some("D"));
    assert_eq!(field(&r, 34), Some(seq.to_string()));
    assert_eq!(field(&r, 43).as_deref(), Some("Y"));
    assert_eq!(field(&r, 122), field(&m, 52));
    for tag in [97, 115, 128, 11, 55, 38] {
        assert_eq!(field(&r, tag), field(&m, tag), "tag {tag}");
    }

    // Plain `send` still writes no extra header field.
    h.send(b"D", |e| {
        e.field(11, b"ORD2");
    })
    .unwrap();
    let p = read_msg(&mut peer, &mut buf, WAIT).expect("the plain order");
    let got: Vec<u32> = tags(&p).iter().map(|(t, _)| *t).collect();
    assert_eq!(got, [8, 9, 35, 34, 49, 52, 56, 11, 10], "{}", show(&p));
    h.disconnect_non_gracefully().unwrap();
    h.wait_terminated(WAIT).unwrap();
    drop(engine);
}

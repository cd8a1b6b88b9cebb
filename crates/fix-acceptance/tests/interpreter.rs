//! The interpreter against a fake, in-memory transport with a manual clock: what is sent, what is
//! compared, where a script stops.

use std::collections::VecDeque;
use std::time::Duration;

use fix_acceptance::{
    ConnId, FailureKind, MismatchKind, Received, Script, Transport, TransportError, run_script,
};
use fix_codec::UtcTimestamp;

/// Records every call; answers reads from queues filled by the test.
#[derive(Default)]
struct Fake {
    now: i64,
    open: Vec<ConnId>,
    log: Vec<String>,
    /// What `recv` / `expect_closed` return, per connection (1-based index - 1), in order.
    replies: Vec<VecDeque<Received>>,
    /// Manual clock: seconds advanced by every read that times out.
    waited: Duration,
}

impl Fake {
    fn reply(&mut self, conn: ConnId, r: Received) {
        let i = conn as usize - 1;
        if self.replies.len() <= i {
            self.replies.resize_with(i + 1, VecDeque::new);
        }
        self.replies[i].push_back(r);
    }

    fn next(&mut self, conn: ConnId, timeout: Duration) -> Received {
        let r = self
            .replies
            .get_mut(conn as usize - 1)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Received::TimedOut);
        if r == Received::TimedOut {
            self.waited += timeout;
        }
        r
    }

    fn check_open(&self, conn: ConnId) -> Result<(), TransportError> {
        if self.open.contains(&conn) {
            Ok(())
        } else {
            Err(TransportError::NotConnected(conn))
        }
    }
}

impl Transport for Fake {
    fn connect(&mut self, conn: ConnId) -> Result<(), TransportError> {
        self.open.push(conn);
        self.log.push(format!("connect {conn}"));
        Ok(())
    }

    fn disconnect(&mut self, conn: ConnId) -> Result<(), TransportError> {
        self.check_open(conn)?;
        self.open.retain(|&c| c != conn);
        self.log.push(format!("disconnect {conn}"));
        Ok(())
    }

    fn send(&mut self, conn: ConnId, bytes: &[u8]) -> Result<(), TransportError> {
        self.check_open(conn)?;
        let text = String::from_utf8_lossy(bytes).replace('\x01', "|");
        self.log.push(format!("send {conn} {text}"));
        Ok(())
    }

    fn recv(&mut self, conn: ConnId, timeout: Duration) -> Result<Received, TransportError> {
        self.check_open(conn)?;
        self.log.push(format!("recv {conn}"));
        Ok(self.next(conn, timeout))
    }

    fn expect_closed(
        &mut self,
        conn: ConnId,
        timeout: Duration,
    ) -> Result<Received, TransportError> {
        self.check_open(conn)?;
        self.log.push(format!("expect_closed {conn}"));
        let r = self.next(conn, timeout);
        if r == Received::Closed {
            self.open.retain(|&c| c != conn);
        }
        Ok(r)
    }

    fn now_utc(&mut self) -> UtcTimestamp {
        self.now += 1;
        // 2024-02-29 23:59:58 on the first call, one second later on each next call.
        UtcTimestamp::from_unix_secs(1_709_251_197 + self.now)
    }
}

fn soh(s: &str) -> Vec<u8> {
    s.replace('|', "\x01").into_bytes()
}

fn msg(s: &str) -> Received {
    Received::Message(soh(s))
}

const SCRIPT: &str = "\
# logon, heartbeat, a second connection refused
iCONNECT
I8=FIX.4.2|35=A|34=1|49=TW42|52=<TIME>|56=ISLD|98=0|108=2|
E8=FIX.4.2|9=62|35=A|34=1|49=ISLD|52=00000000-00:00:00.000|56=TW42|98=0|108=2|10=0|

i2,CONNECT
I2,8=FIX.4.2|35=A|34=1|49=TW42|52=<TIME+5>|56=ISLD|98=0|108=2|
e2,DISCONNECT
I1,8=FIX.4.2|9=5|35=0|10=000|
E1,8=FIX.4.2|35=0|34=2|49=ISLD|52=00000000-00:00:00.000|56=TW42|
i1,DISCONNECT
";

fn script(text: &str) -> Script {
    Script::parse("t.def", &soh(text)).unwrap()
}

const LOGON_REPLY: &str =
    "8=FIX.4.2|9=62|35=A|34=1|49=ISLD|52=20240229-23:59:59.500|56=TW42|98=0|108=2|10=077|";
const HEARTBEAT: &str = "8=FIX.4.2|9=51|35=0|34=2|49=ISLD|52=20240301-00:00:05.000|56=TW42|10=001|";

#[test]
fn passing_script_sends_transformed_lines_in_order() {
    let mut t = Fake::default();
    t.reply(1, msg(LOGON_REPLY));
    t.reply(2, Received::Closed);
    t.reply(1, msg(HEARTBEAT));
    run_script(&script(SCRIPT), &mut t).unwrap();
    assert_eq!(
        t.log,
        vec![
            "connect 1",
            // First now_utc(): 23:59:58. Body is 5+5+8+21+8+5+6 = 58 bytes.
            "send 1 8=FIX.4.2|9=58|35=A|34=1|49=TW42|52=20240229-23:59:58|56=ISLD|98=0|108=2|10=084|",
            "recv 1",
            "connect 2",
            // Third call (the second was for the E line): 2024-03-01 00:00:00, plus 5 s.
            "send 2 8=FIX.4.2|9=58|35=A|34=1|49=TW42|52=20240301-00:00:05|56=ISLD|98=0|108=2|10=048|",
            "expect_closed 2",
            // Explicit 9= and 10= : sent exactly as written.
            "send 1 8=FIX.4.2|9=5|35=0|10=000|",
            "recv 1",
            "disconnect 1",
        ]
    );
    assert!(t.open.is_empty());
}

#[test]
fn checksums_in_the_log_are_the_byte_sums() {
    // Cross-check the two constants above with the codec's checksum (itself unit-tested).
    for (prefix, sum) in [
        (
            "8=FIX.4.2|9=58|35=A|34=1|49=TW42|52=20240229-23:59:58|56=ISLD|98=0|108=2|",
            84,
        ),
        (
            "8=FIX.4.2|9=58|35=A|34=1|49=TW42|52=20240301-00:00:05|56=ISLD|98=0|108=2|",
            48,
        ),
    ] {
        assert_eq!(fix_codec::checksum(&soh(prefix)), sum, "{prefix}");
    }
}

#[test]
fn mismatch_names_the_line_and_the_field() {
    let mut t = Fake::default();
    t.reply(1, msg(&LOGON_REPLY.replace("108=2", "108=3")));
    let f = run_script(&script(SCRIPT), &mut t).unwrap_err();
    assert_eq!(f.line, 4);
    let FailureKind::Mismatch(m) = &f.kind else {
        panic!("{f}")
    };
    assert_eq!(
        *m.kind,
        MismatchKind::Value {
            index: 9,
            tag: "108".into(),
            expected: "2".into(),
            actual: "3".into()
        }
    );
    assert!(
        f.to_string().starts_with(
            "line 4: field 9 (tag 108): expected `2`, got `3`; expected `8=FIX.4.2|9=62|"
        ),
        "{f}"
    );
    // Stopped at the failure: nothing after line 4 was attempted.
    assert_eq!(t.log.last().unwrap(), "recv 1");
    assert_eq!(t.log.len(), 3);
}

#[test]
fn missing_reply_times_out_with_the_bound() {
    let mut t = Fake::default();
    let f = run_script(&script(SCRIPT), &mut t).unwrap_err();
    assert_eq!(f.line, 4);
    assert!(
        matches!(f.kind, FailureKind::NoMessage { timeout, .. } if timeout == Duration::from_secs(10))
    );
    assert_eq!(t.waited, Duration::from_secs(10));
    assert!(
        f.to_string()
            .starts_with("line 4: no message within 10 s; expected `8=FIX.4.2|9=62|35=A|"),
        "{f}"
    );
}

#[test]
fn close_instead_of_message_and_message_instead_of_close() {
    let mut t = Fake::default();
    t.reply(1, Received::Closed);
    let f = run_script(&script(SCRIPT), &mut t).unwrap_err();
    assert_eq!(f.line, 4);
    assert!(
        matches!(f.kind, FailureKind::ClosedInsteadOfMessage { .. }),
        "{f}"
    );

    let mut t = Fake::default();
    t.reply(1, msg(LOGON_REPLY));
    t.reply(2, msg("8=FIX.4.2|9=5|35=5|10=000|"));
    let f = run_script(&script(SCRIPT), &mut t).unwrap_err();
    assert_eq!(f.line, 8);
    assert_eq!(
        f.to_string(),
        "line 8: expected a disconnect, got `8=FIX.4.2|9=5|35=5|10=000|`"
    );

    let mut t = Fake::default();
    t.reply(1, msg(LOGON_REPLY));
    let f = run_script(&script(SCRIPT), &mut t).unwrap_err();
    assert_eq!(f.line, 8);
    assert!(matches!(f.kind, FailureKind::NotClosed { .. }), "{f}");
}

#[test]
fn transport_errors_fail_the_line() {
    let mut t = Fake::default();
    let f = run_script(&script("I8=FIX.4.2|35=0|\n"), &mut t).unwrap_err();
    assert_eq!(f.line, 1);
    assert_eq!(f.to_string(), "line 1: connection 1 is not open");
}

#[test]
fn received_message_with_wrong_field_count_fails() {
    let mut t = Fake::default();
    t.reply(1, msg(&LOGON_REPLY.replace("108=2|", "108=2|1137=7|")));
    let f = run_script(&script(SCRIPT), &mut t).unwrap_err();
    let FailureKind::Mismatch(m) = &f.kind else {
        panic!("{f}")
    };
    // Same BodyLength on both sides (both spell 62), so the first difference is the extra tag.
    assert_eq!(
        *m.kind,
        MismatchKind::Tag {
            index: 10,
            expected: "10".into(),
            actual: "1137".into()
        }
    );
}

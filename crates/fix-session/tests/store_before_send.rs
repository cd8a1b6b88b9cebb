//! Crash safety of outgoing numbers: every message's sequence number is stored (journal or
//! `next_sender_seq_changed`) before its bytes are handed to the transport. A process killed right
//! after a send must never restart with a number the peer has already seen (found by the crash
//! test of `docs/RELIABILITY.md`: an admin message or Reject went out before its number was stored).

use fix_codec::{MessageRef, UtcTimestamp};
use fix_session::{Event, MonoTime, Now, Role, SeqState, Session, SessionConfig, SessionIo};

/// Records the stored next number and checks each sent message against it.
#[derive(Default)]
struct OrderCheckingIo {
    stored_next_sender: u64,
    sent: Vec<(u64, Vec<u8>)>,
    violations: Vec<String>,
}

impl SessionIo for OrderCheckingIo {
    fn send(&mut self, bytes: &[u8]) {
        let m = MessageRef::new(bytes);
        let seq = m.seq_num().unwrap_or(0);
        let poss_dup = m.get_bool(43) == Some(true);
        // Resends and gap fills reuse old numbers by design; everything else is new.
        if !poss_dup && seq >= self.stored_next_sender {
            self.violations.push(format!(
                "sent {} with 34={seq} while the stored next number was {}",
                String::from_utf8_lossy(m.msg_type().unwrap_or(b"?")),
                self.stored_next_sender
            ));
        }
        self.sent.push((seq, bytes.to_vec()));
    }
    fn close(&mut self) {}
    fn persist_outbound(&mut self, seq: u64, _bytes: &[u8]) {
        self.stored_next_sender = self.stored_next_sender.max(seq + 1);
    }
    fn next_sender_seq_changed(&mut self, next: u64) {
        self.stored_next_sender = next;
    }
    fn next_target_seq_changed(&mut self, _next: u64) {}
    fn read_outbound(&mut self, _b: u64, _e: u64, _f: &mut dyn FnMut(u64, &[u8])) {}
    fn reset_store(&mut self) {
        self.stored_next_sender = 1;
    }
    fn event(&mut self, _event: Event<'_>) {}
}

fn frame(body: &str) -> Vec<u8> {
    fix_testkit::build_frame("FIX.4.4", body)
}

#[test]
fn every_new_number_is_stored_before_it_is_sent() {
    let cfg = SessionConfig::new("FIX.4.4", "ISLD", "TW", Role::Acceptor);
    let mut s = Session::new(cfg, SeqState::default()).unwrap();
    let mut io = OrderCheckingIo {
        stored_next_sender: 1,
        ..Default::default()
    };
    let utc = UtcTimestamp::from_unix_secs(1_704_164_645);
    let ts = utc.to_fix_string(fix_codec::TimePrecision::Seconds);
    let at = |secs| Now::new(MonoTime::from_secs(secs), utc);

    s.connected(at(1), &mut io);
    // Logon (admin reply), TestRequest (Heartbeat reply), a message with a bad value that draws a
    // session Reject, an application message answered by the application, and a gap that draws a
    // ResendRequest; then a heartbeat timer and a Logout exchange.
    let inputs = [
        format!("35=A|34=1|49=TW|52={ts}|56=ISLD|98=0|108=30|"),
        format!("35=1|34=2|49=TW|52={ts}|56=ISLD|112=PING|"),
        format!("35=0|34=3|49=TW|52={ts}|56=ISLD|112=|"),
        format!("35=D|34=4|49=TW|52={ts}|56=ISLD|11=A|21=1|38=1|40=1|54=1|55=X|60={ts}|"),
        format!("35=0|34=9|49=TW|52={ts}|56=ISLD|"),
    ];
    for body in &inputs {
        s.handle_input(&frame(body), at(1), &mut io);
    }
    s.send_app(b"8", at(1), &mut io, |e| {
        e.field(37, b"X");
    })
    .unwrap();
    s.handle_timeout(at(40), &mut io);
    s.disconnect("done", at(41), &mut io).unwrap();

    let types: Vec<String> = io
        .sent
        .iter()
        .map(|(_, b)| {
            String::from_utf8_lossy(MessageRef::new(b).msg_type().unwrap_or(b"?")).into_owned()
        })
        .collect();
    for needed in ["A", "0", "2", "8", "5"] {
        assert!(
            types.iter().any(|t| t == needed),
            "no {needed} among {types:?}"
        );
    }
    assert!(io.violations.is_empty(), "{:#?}", io.violations);
}

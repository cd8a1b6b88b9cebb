//! A large resend to a slow reader over loopback: the engine replays it in batches while the
//! connection's outbound buffer is below its watermark, so the counterparty gets every message,
//! in order, and is not dropped as a slow consumer; another session of the same I/O thread keeps
//! answering TestRequests during the replay.

mod engine_support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use engine_support::*;
use fix_codec::{FrameStatus, Framer, MessageRef};
use fix_engine::{EngineError, SessionState};

/// Stored messages asked for again.
const MESSAGES: u64 = 50_000;
/// `Text <58>` of each: about 330 bytes a message, 16 MB for the replay, twice the 8 MiB
/// slow-consumer limit (an unpaced replay queued it all at once).
const PAD: usize = 250;
/// Bound on one TestRequest's answer during the replay (generous for a loaded 2-core machine;
/// the whole replay takes seconds at the reader's pace).
const PROMPT: Duration = Duration::from_secs(3);

fn frame(body: &str) -> Vec<u8> {
    let body = body.replace('|', "\x01");
    let mut m = format!("8=FIX.4.4\x019={}\x01", body.len()).into_bytes();
    m.extend_from_slice(body.as_bytes());
    let sum: u32 = m.iter().map(|&b| u32::from(b)).sum();
    m.extend_from_slice(format!("10={:03}\x01", sum % 256).as_bytes());
    m
}

/// A raw-socket counterparty.
struct Peer {
    s: TcpStream,
    comp: &'static str,
    seq: u64,
    pending: Vec<u8>,
}

impl Peer {
    fn logon(port: u16, comp: &'static str) -> Self {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_nodelay(true).unwrap();
        let mut p = Self {
            s,
            comp,
            seq: 0,
            pending: Vec::new(),
        };
        p.send("35=A|", "98=0|108=30|");
        let m = p.next(WAIT).expect("no Logon answer");
        assert_eq!(field(&m, 35).as_deref(), Some("A"));
        p
    }

    fn send(&mut self, head: &str, body: &str) {
        self.seq += 1;
        let f = frame(&format!(
            "{head}34={}|49={}|52={}|56=HUB|{body}",
            self.seq,
            self.comp,
            now()
        ));
        self.s.write_all(&f).unwrap();
    }

    /// A complete message already read, if any.
    fn take(&mut self) -> Option<Vec<u8>> {
        match Framer::default().next_frame(&self.pending) {
            FrameStatus::Complete { len } => Some(self.pending.drain(..len).collect()),
            FrameStatus::Garbled { error, .. } => panic!("garbled: {error}"),
            FrameStatus::NeedMore => None,
        }
    }

    /// One read of at most `max` bytes, waiting at most `within`. False on timeout.
    fn read_some(&mut self, max: usize, within: Duration) -> bool {
        self.s.set_read_timeout(Some(within)).unwrap();
        let mut buf = vec![0u8; max];
        match self.s.read(&mut buf) {
            Ok(0) => panic!("{}: connection closed by the engine", self.comp),
            Ok(n) => {
                self.pending.extend_from_slice(&buf[..n]);
                true
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
            Err(e) => panic!("{}: read failed: {e}", self.comp),
        }
    }

    /// The next message, waiting at most `within`.
    fn next(&mut self, within: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(m) = self.take() {
                return Some(m);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !self.read_some(64 << 10, left) {
                return None;
            }
        }
    }
}

#[test]
fn a_slow_reader_gets_a_large_resend_in_order_and_other_sessions_stay_responsive() {
    let (app, rx) = Recorder::new();
    let hub = acceptor_engine(
        app,
        vec![
            acceptor("A", "HUB", "TW", transient()),
            acceptor("B", "HUB", "TW2", transient()),
        ],
    );
    let port = hub.listen_addr().unwrap().port();
    let a = hub.session("A").unwrap();
    let b = hub.session("B").unwrap();
    assert_eq!(a.io_thread(), b.io_thread());
    let mut pa = Peer::logon(port, "TW");
    let mut pb = Peer::logon(port, "TW2");
    a.wait_for_state(SessionState::Established, WAIT).unwrap();
    b.wait_for_state(SessionState::Established, WAIT).unwrap();

    // History: MESSAGES application messages (2..=MESSAGES+1), read as they come.
    let pad = "x".repeat(PAD);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut received = 0u64;
    for i in 0..MESSAGES {
        loop {
            match a.send(b"B", |e| {
                e.field_u64(148, i).field(58, pad.as_bytes());
            }) {
                Ok(()) => break,
                Err(EngineError::Backpressure) if Instant::now() < deadline => {
                    while pa.read_some(1 << 20, Duration::from_millis(1)) {}
                    while pa.take().is_some() {
                        received += 1;
                    }
                }
                Err(e) => panic!("send {i}: {e}"),
            }
        }
        if (i + 1).is_multiple_of(256) {
            while pa.read_some(1 << 20, Duration::from_micros(100)) {}
            while pa.take().is_some() {
                received += 1;
            }
        }
    }
    while received < MESSAGES {
        assert!(
            Instant::now() < deadline,
            "history: {received} of {MESSAGES}"
        );
        pa.next(WAIT).expect("history did not arrive");
        received += 1;
    }
    assert_eq!(a.dropped_sends(), 0);
    let last = MESSAGES + 1;
    assert_eq!(a.next_sender_seq(), last + 1);

    // Ask for all of it again and read slowly: at most 16 KiB per read, a pause between reads.
    pa.send("35=2|", "7=2|16=0|");
    let mut next_dup = 2u64;
    let mut probes = 0;
    let mut worst = Duration::ZERO;
    let mut reads = 0u64;
    while next_dup <= last {
        assert!(
            Instant::now() < deadline,
            "replay stalled at {next_dup} of {last}"
        );
        assert!(pa.read_some(16 << 10, WAIT), "replay stalled at {next_dup}");
        reads += 1;
        while let Some(m) = pa.take() {
            let seq: u64 = field(&m, 34).unwrap().parse().unwrap();
            assert_eq!(seq, next_dup, "out of order");
            assert_eq!(field(&m, 43).as_deref(), Some("Y"), "no PossDup on {seq}");
            assert_eq!(field(&m, 35).as_deref(), Some("B"));
            assert_eq!(
                MessageRef::new(&m).get(148),
                Some((seq - 2).to_string().as_bytes())
            );
            next_dup += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
        if reads.is_multiple_of(64) && next_dup <= last {
            // The other session of the same I/O thread answers while the replay runs.
            let t0 = Instant::now();
            let id = format!("P{reads}");
            pb.send("35=1|", &format!("112={id}|"));
            let hb = pb
                .next(PROMPT)
                .expect("TestRequest not answered during the replay");
            worst = worst.max(t0.elapsed());
            assert_eq!(field(&hb, 35).as_deref(), Some("0"));
            assert_eq!(field(&hb, 112), Some(id));
            probes += 1;
        }
    }
    assert!(probes >= 3, "only {probes} probes during the replay");
    eprintln!("replay of {MESSAGES} read in {reads} reads; {probes} TestRequests, worst {worst:?}");

    // Still connected and in sequence: new messages follow the replay.
    assert_eq!(a.state(), SessionState::Established);
    pa.send("35=1|", "112=AFTER|");
    let hb = pa.next(WAIT).expect("no answer after the replay");
    assert_eq!(field(&hb, 35).as_deref(), Some("0"));
    assert_eq!(field(&hb, 34), Some((last + 1).to_string()));
    assert!(
        !drain_for(&rx, Duration::ZERO)
            .iter()
            .any(|e| matches!(e, Seen::Lost(n) if n == "A")),
        "session A lost its connection"
    );
    assert_eq!(a.dropped_sends(), 0);
}

#[test]
fn application_sends_to_a_reader_that_stalls_are_refused_at_the_watermark_not_disconnected() {
    let (app, rx) = Recorder::new();
    let hub = acceptor_engine(app, vec![acceptor("A", "HUB", "TW", transient())]);
    let port = hub.listen_addr().unwrap().port();
    let a = hub.session("A").unwrap();
    let mut pa = Peer::logon(port, "TW");
    a.wait_for_state(SessionState::Established, WAIT).unwrap();
    // 60,000 messages of about 330 bytes (20 MB) offered once each to a counterparty that reads
    // nothing: the socket takes a few MB, then `send` itself refuses with Backpressure once the
    // outbound buffer passes the send watermark (2 MiB). Nothing accepted is dropped later, and
    // the 8 MiB slow-consumer limit is never reached.
    let pad = "x".repeat(PAD);
    let total = 60_000u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut accepted = 0u64;
    let mut refused = 0u64;
    for i in 0..total {
        match a.send(b"B", |e| {
            e.field_u64(148, i).field(58, pad.as_bytes());
        }) {
            Ok(()) => accepted += 1,
            Err(EngineError::Backpressure) => {
                refused += 1;
                // Gives the I/O thread time to take what was accepted (and publish the flag).
                if refused.is_multiple_of(256) {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
            Err(e) => panic!("send {i}: {e}"),
        }
    }
    assert!(
        refused > 0,
        "nothing refused: the reader never stalled the socket"
    );
    // Every accepted send is handled once the numbers stop moving and the counts add up.
    let handled = |a: &fix_engine::SessionHandle| a.next_sender_seq() - 2 + a.dropped_sends();
    while handled(&a) < accepted {
        assert!(Instant::now() < deadline, "sends not handled");
        std::thread::sleep(Duration::from_millis(2));
    }
    let dropped = a.dropped_sends();
    assert_eq!(dropped, 0, "accepted sends were dropped by the I/O thread");
    assert_eq!(a.next_sender_seq() - 2, accepted);
    assert_eq!(a.state(), SessionState::Established);
    // Everything accepted arrives, numbers contiguous (a refused send consumed none).
    let mut next = 2u64;
    while next < 2 + accepted {
        let m = pa.next(WAIT).expect("accepted message did not arrive");
        assert_eq!(field(&m, 34), Some(next.to_string()));
        next += 1;
    }
    assert!(
        !drain_for(&rx, Duration::ZERO)
            .iter()
            .any(|e| matches!(e, Seen::Lost(n) if n == "A")),
        "session A was dropped as a slow consumer"
    );
    eprintln!("{accepted} accepted, {refused} refused by send");
}

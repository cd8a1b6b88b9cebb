//! The end of a connection seen in time when the I/O thread was busy as it came: a message and
//! the peer's FIN arriving together (one edge-triggered event), and a Logon on a new connection
//! handed over by another I/O thread before the session's thread read the end of the old one.
//! The venue's application blocks its I/O thread on demand so that both orders are forced.

mod engine_support;

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use engine_support::*;
use fix_codec::MessageRef;
use fix_engine::{
    Application, ConnectionEvent, EngineBuilder, Replies, SessionHandle, SessionState,
};

/// Records like [`Recorder`]; an order with `ClOrdID <11>` `HOLD` blocks the I/O thread until
/// the test releases it (bounded by [`WAIT`]).
struct Gate {
    record: Arc<Recorder>,
    held: Sender<()>,
    release: Receiver<()>,
}

impl Application for Gate {
    fn on_state_change(&self, s: &SessionHandle, from: SessionState, to: SessionState) {
        self.record.on_state_change(s, from, to);
    }
    fn on_message(&self, s: &SessionHandle, msg: MessageRef<'_>, r: &mut Replies<'_>) {
        let hold = msg.get(11) == Some(b"HOLD".as_slice());
        self.record.on_message(s, msg, r);
        if hold {
            let _ = self.held.send(());
            let _ = self.release.recv_timeout(WAIT);
        }
    }
    fn on_connection_event(&self, s: &SessionHandle, e: ConnectionEvent<'_>) {
        self.record.on_connection_event(s, e);
    }
}

struct Venue {
    engine: fix_engine::Engine,
    rx: Receiver<Seen>,
    held: Receiver<()>,
    release: Sender<()>,
}

/// A venue with `io_threads` I/O threads and acceptors `OTHER0`..`OTHER<others-1>` (counterparties
/// `C0`..) then `VENUE` (counterparty `CLI`), HeartBtInt 30 s so that no timer can stand in for
/// reading a FIN.
fn venue(io_threads: usize, others: usize) -> Venue {
    let (record, rx) = Recorder::new();
    let (held_tx, held) = crossbeam_channel::unbounded();
    let (release, release_rx) = crossbeam_channel::unbounded();
    let app = Arc::new(Gate {
        record,
        held: held_tx,
        release: release_rx,
    });
    let mut settings = engine_settings();
    settings.io_threads = io_threads;
    let session = |name: &str, theirs: &str| {
        fix_engine::config::SessionSettings::acceptor(name, "FIX.4.4", "VENUE", theirs, 0)
            .heart_bt_int(30)
            .storage(transient())
            .build()
            .unwrap()
    };
    let mut b = EngineBuilder::new(settings)
        .listen_port(Some(0))
        .application(app);
    for i in 0..others {
        b = b.session(session(&format!("OTHER{i}"), &format!("C{i}")));
    }
    let engine = b.session(session("VENUE", "CLI")).start().unwrap();
    Venue {
        engine,
        rx,
        held,
        release,
    }
}

impl Venue {
    fn port(&self) -> u16 {
        self.engine.listen_addr().unwrap().port()
    }

    /// Waits until an order `HOLD` blocks the session's I/O thread.
    fn wait_held(&self) {
        self.held
            .recv_timeout(WAIT)
            .expect("the HOLD order reached the application");
    }

    fn release(&self) {
        self.release.send(()).unwrap();
    }
}

fn logon(seq: u64) -> Vec<u8> {
    raw_logon("CLI", "VENUE", seq, "30")
}

fn order(seq: u64, clordid: &str) -> Vec<u8> {
    raw_order("CLI", "VENUE", seq, clordid)
}

/// Connects and logs on as `CLI` with `seq`; returns the socket once the venue answered.
fn logged_on(port: u16, seq: u64) -> TcpStream {
    logged_on_as(port, "CLI", seq)
}

fn logged_on_as(port: u16, sender: &str, seq: u64) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(&raw_logon(sender, "VENUE", seq, "30")).unwrap();
    let mut buf = Vec::new();
    let reply = read_msg(&mut s, &mut buf, WAIT).expect("a Logon reply");
    assert_eq!(field(&reply, 35).as_deref(), Some("A"), "{reply:?}");
    s
}

fn is_order(e: &Seen, clordid: &str) -> bool {
    matches!(e, Seen::Message(_, m) if field(m, 11).as_deref() == Some(clordid))
}

#[test]
fn a_message_and_the_fin_right_behind_it_are_both_read() {
    // Four more live connections on the one I/O thread: more than a spinning thread reads
    // directly, so every read follows an event.
    let v = venue(1, 4);
    let _others: Vec<TcpStream> = (0..4)
        .map(|i| logged_on_as(v.port(), &format!("C{i}"), 1))
        .collect();
    let mut s = logged_on(v.port(), 1);
    s.write_all(&order(2, "HOLD")).unwrap();
    v.wait_held();
    // While the I/O thread is busy, the last order and the FIN land in its socket together.
    s.write_all(&order(3, "LAST")).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    v.release();
    expect(&v.rx, "the last order", |e| is_order(e, "LAST"));
    // Seen from the FIN itself: with HeartBtInt 30 no timer could notice before WAIT.
    expect(
        &v.rx,
        "the connection's loss",
        |e| matches!(e, Seen::Lost(n) if n == "VENUE"),
    );
    let h = v.engine.session("VENUE").unwrap();
    h.wait_for(WAIT, |st| st != SessionState::Established)
        .expect("the session left ESTABLISHED");
    assert_eq!(h.next_target_seq(), 4);
}

#[test]
fn a_logon_handed_over_before_the_old_connection_end_was_read_is_accepted() {
    let v = venue(2, 1);
    let h = v.engine.session("VENUE").unwrap();
    let other = v.engine.session("OTHER0").unwrap();
    // The listener runs on the first I/O thread: VENUE's connections are handed over to it.
    assert_ne!(h.io_thread(), other.io_thread());
    assert_ne!(h.io_thread(), 0);
    let mut old = logged_on(v.port(), 1);
    old.write_all(&order(2, "HOLD")).unwrap();
    v.wait_held();
    // The counterparty drops the old connection and logs on again while VENUE's thread is
    // blocked: the Logon is read on thread 0 and handed over with the old FIN still unread.
    drop(old);
    let mut new = TcpStream::connect(("127.0.0.1", v.port())).unwrap();
    new.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    new.write_all(&logon(3)).unwrap();
    // Bounded: long enough for thread 0 to route the Logon, not a condition of the outcome.
    std::thread::sleep(Duration::from_millis(200));
    v.release();
    let mut buf = Vec::new();
    let reply = read_msg(&mut new, &mut buf, WAIT).expect("a Logon reply on the new connection");
    assert_eq!(field(&reply, 35).as_deref(), Some("A"), "{reply:?}");
    h.wait_for_state(SessionState::Established, WAIT).unwrap();
    assert_eq!(h.next_target_seq(), 4);
}

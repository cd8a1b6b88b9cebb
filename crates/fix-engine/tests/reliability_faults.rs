//! Network faults in the middle of an order stream: an initiator of our engine sends numbered
//! orders through `fix_testkit::proxy::Proxy` to an acceptor running the `executor` application,
//! both on memory-mapped stores. The proxy cuts connections mid-stream (often mid-message),
//! half-closes, black-holes a live connection (found dead by the heartbeat timeout), refuses and
//! drops new connections. A delaying proxy (`fix_testkit::proxy_delay`) adds latency both ways
//! and cuts only the client's side, so an old connection's bytes arrive after the reconnect. The initiator must reconnect each time, the numbering must never be
//! corrupted (no number reused or skipped unrecovered, no reset), and every order must be answered
//! exactly once.

mod engine_support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use engine_support::*;
use fix_codec::MessageRef;
use fix_engine::apps::ExecutorApp;
use fix_engine::config::{SessionSettings, Tries};
use fix_engine::{Application, EngineBuilder, Replies, SessionHandle, SessionState};
use fix_testkit::proxy::{Mode, Proxy};
use fix_testkit::proxy_delay::DelayProxy;

#[derive(Default)]
struct Client {
    /// (ClOrdID, MsgSeqNum, PossDup) of every ExecutionReport.
    answers: Mutex<Vec<(u64, u64, bool)>>,
    /// (ClOrdID, MsgSeqNum, PossDup) of every order handed to the socket.
    sent: Mutex<Vec<(u64, u64, bool)>>,
    max_sent: AtomicU64,
    logons: Mutex<Vec<(u64, u64, bool)>>,
}

fn num(v: Option<&[u8]>) -> u64 {
    v.and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

impl Application for Client {
    fn on_logon(&self, s: &SessionHandle, reset: bool) {
        self.logons
            .lock()
            .unwrap()
            .push((s.next_sender_seq(), s.next_target_seq(), reset));
    }
    fn on_message(&self, _: &SessionHandle, msg: MessageRef<'_>, _: &mut Replies<'_>) {
        if msg.msg_type() == Some(b"8") {
            self.answers.lock().unwrap().push((
                num(msg.get(11)),
                msg.seq_num().unwrap_or(0),
                msg.get(43) == Some(b"Y"),
            ));
        }
    }
    fn on_before_send(&self, _: &SessionHandle, bytes: &[u8]) {
        let m = MessageRef::new(bytes);
        if m.msg_type() == Some(b"D") {
            let k = num(m.get(11));
            self.sent
                .lock()
                .unwrap()
                .push((k, m.seq_num().unwrap_or(0), m.get(43) == Some(b"Y")));
            self.max_sent.fetch_max(k, Ordering::SeqCst);
        }
    }
}

impl Client {
    fn answered(&self) -> usize {
        let a = self.answers.lock().unwrap();
        let mut ks: Vec<u64> = a.iter().map(|x| x.0).collect();
        ks.sort_unstable();
        ks.dedup();
        ks.len()
    }
}

/// One fault, applied when this many orders have been answered.
#[derive(Debug, Clone, Copy)]
enum Fault {
    Cut,
    HalfClose,
    BlackHoleLive,
    RefuseThenForward,
    DropThenForward,
}

struct Pair {
    _acc: fix_engine::Engine,
    _ini: fix_engine::Engine,
    venue: SessionHandle,
    h: SessionHandle,
    client: Arc<Client>,
    _dir: tempfile::TempDir,
}

/// An acceptor running `ExecutorApp` and an initiator reaching it at `port_of(acceptor address)`
/// (a proxy in front of it), both on memory-mapped stores; logged on.
fn pair(port_of: impl FnOnce(std::net::SocketAddr) -> u16) -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let acc_settings = SessionSettings::acceptor("VENUE", "FIX.4.4", "VENUE", "CLI", 0)
        .storage(persistent(&dir.path().join("venue")))
        .build()
        .unwrap();
    let acc = EngineBuilder::new(engine_settings())
        .listen_port(Some(0))
        .session_with_app(acc_settings, Arc::new(ExecutorApp::new()))
        .start()
        .unwrap();
    let venue = acc.session("VENUE").unwrap();
    let port = port_of(acc.listen_addr().unwrap());
    let client = Arc::new(Client::default());
    let ini_settings =
        SessionSettings::initiator("CLI", "FIX.4.4", "CLI", "VENUE", "127.0.0.1", port)
            .heart_bt_int(1)
            .reconnect(true, Tries::Unlimited, Duration::from_millis(20))
            .logon_timeout(Duration::from_millis(500))
            .storage(persistent(&dir.path().join("client")))
            .build()
            .unwrap();
    let ini = EngineBuilder::new(engine_settings())
        .session_with_app(ini_settings, client.clone())
        .start()
        .unwrap();
    let h = ini.session("CLI").unwrap();
    h.wait_for_state(SessionState::Established, WAIT).unwrap();
    Pair {
        _acc: acc,
        _ini: ini,
        venue,
        h,
        client,
        _dir: dir,
    }
}

/// Sends orders `1..=orders` (at most `window` unanswered, each order handed to the engine again
/// only if the engine dropped it unsent) until all are answered; `fault(answered)` runs before
/// each step and may break the network.
fn stream(p: &Pair, orders: u64, window: u64, mut fault: impl FnMut(u64)) {
    let (h, client) = (&p.h, &p.client);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut pending: Option<(u64, u64)> = None;
    while (client.answered() as u64) < orders {
        assert!(
            Instant::now() < deadline,
            "stuck: {} answered, state {:?}",
            client.answered(),
            h.state()
        );
        let answered = client.answered() as u64;
        fault(answered);
        let sent = client.max_sent.load(Ordering::SeqCst);
        if let Some((k, dropped)) = pending {
            if sent >= k || h.dropped_sends() > dropped {
                pending = None;
            } else {
                std::thread::sleep(Duration::from_micros(200));
                continue;
            }
        }
        let next = client.max_sent.load(Ordering::SeqCst) + 1;
        if next > orders || next - 1 - answered.min(next - 1) >= window {
            std::thread::sleep(Duration::from_micros(300));
            continue;
        }
        if h.state() != SessionState::Established {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        let dropped = h.dropped_sends();
        let id = next.to_string();
        let r = h.send(b"D", |e| {
            e.field(11, id.as_bytes())
                .field(21, b"1")
                .field(38, b"100")
                .field(40, b"1")
                .field(54, b"1")
                .field(55, b"NET")
                .field(60, b"20260101-00:00:00");
        });
        if r.is_ok() {
            pending = Some((next, dropped));
        }
    }
}

/// Exactly-once answers, numbers strictly increasing both ways, no reset, at least `min_logons`
/// logons, both ends agreeing on the numbers and `ESTABLISHED`.
fn check(p: &Pair, orders: u64, min_logons: usize) {
    let (h, venue, client) = (&p.h, &p.venue, &p.client);
    let answers = client.answers.lock().unwrap().clone();
    let mut fresh: HashMap<u64, u32> = HashMap::new();
    let mut last = 0;
    for &(k, seq, dup) in &answers {
        if dup {
            continue;
        }
        *fresh.entry(k).or_default() += 1;
        assert!(
            seq > last,
            "venue's numbers went backwards: {last} then {seq}"
        );
        last = seq;
    }
    for k in 1..=orders {
        let n = fresh.get(&k).copied().unwrap_or(0);
        let any = answers.iter().any(|a| a.0 == k);
        assert!(n == 1 || (n == 0 && any), "order {k}: {n} fresh answers");
    }
    let sent = client.sent.lock().unwrap().clone();
    let mut last = 0;
    let mut fresh_sent: HashMap<u64, u32> = HashMap::new();
    for &(k, seq, dup) in &sent {
        if dup {
            continue;
        }
        *fresh_sent.entry(k).or_default() += 1;
        assert!(
            seq > last,
            "client's numbers went backwards: {last} then {seq}"
        );
        last = seq;
    }
    assert!(
        fresh_sent.values().all(|&n| n == 1),
        "an order was sent fresh twice"
    );
    let logons = client.logons.lock().unwrap().clone();
    assert!(logons.len() >= min_logons, "logons: {logons:?}");
    assert!(
        logons.iter().all(|l| !l.2),
        "a logon reset the numbers: {logons:?}"
    );
    assert!(
        logons
            .windows(2)
            .all(|w| w[1].0 >= w[0].0 && w[1].1 >= w[0].1),
        "{logons:?}"
    );
    let agree = Instant::now() + WAIT;
    while (h.next_sender_seq() != venue.next_target_seq()
        || venue.next_sender_seq() != h.next_target_seq())
        && Instant::now() < agree
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(h.next_sender_seq(), venue.next_target_seq());
    assert_eq!(venue.next_sender_seq(), h.next_target_seq());
    assert_eq!(h.state(), SessionState::Established);
    assert_eq!(venue.state(), SessionState::Established);
}

#[test]
fn faults_mid_stream_never_corrupt_the_numbering() {
    const ORDERS: u64 = 400;
    let mut proxy = None;
    let p = pair(|up| {
        let px = Proxy::start(up).unwrap();
        let port = px.port();
        proxy = Some(px);
        port
    });
    let proxy = proxy.unwrap();
    let h = p.h.clone();
    let faults = [
        (40, Fault::Cut),
        (90, Fault::HalfClose),
        (140, Fault::Cut),
        (190, Fault::RefuseThenForward),
        (240, Fault::BlackHoleLive),
        (300, Fault::DropThenForward),
        (350, Fault::Cut),
    ];
    let mut next_fault = 0;
    stream(&p, ORDERS, 16, |answered| {
        let Some(&(at, fault)) = faults.get(next_fault) else {
            return;
        };
        if answered < at {
            return;
        }
        next_fault += 1;
        match fault {
            Fault::Cut => proxy.cut(),
            Fault::HalfClose => proxy.half_close(),
            Fault::BlackHoleLive => {
                proxy.set_mode(Mode::BlackHole).unwrap();
                // Nothing flows: only the heartbeat timeout (2.4 x 1 s) can notice.
                h.wait_for(WAIT, |s| s != SessionState::Established)
                    .unwrap();
                proxy.set_mode(Mode::Forward).unwrap();
                proxy.cut();
            }
            Fault::RefuseThenForward => {
                proxy.set_mode(Mode::Refuse).unwrap();
                proxy.cut();
                h.wait_for(WAIT, |s| s != SessionState::Established)
                    .unwrap();
                proxy.set_mode(Mode::Forward).unwrap();
            }
            Fault::DropThenForward => {
                proxy.set_mode(Mode::Drop).unwrap();
                proxy.cut();
                let seen = proxy.accepted();
                assert!(
                    proxy.wait_accepted(seen + 2, WAIT),
                    "no reconnect attempt against a dropping server"
                );
                proxy.set_mode(Mode::Forward).unwrap();
            }
        }
    });
    assert_eq!(next_fault, faults.len(), "every fault was applied");
    check(&p, ORDERS, faults.len() + 1);
}

/// A slow link (delay both ways) cut while orders are in flight, with the cut closing only the
/// client's side: the orders the client had sent still reach the venue on the old connection,
/// late, while the client is already reconnecting (the venue refuses the new Logon until the old
/// connection is gone). Then the delay changes and the link is cut outright.
#[test]
fn delayed_link_and_late_bytes_across_reconnects_keep_the_numbering() {
    const ORDERS: u64 = 300;
    let mut proxy = None;
    let p = pair(|up| {
        let px = DelayProxy::start(up, Duration::from_millis(15)).unwrap();
        let port = px.port();
        proxy = Some(px);
        port
    });
    let proxy = proxy.unwrap();
    let mut step = 0;
    stream(&p, ORDERS, 32, |answered| {
        let at = [60, 130, 200];
        if step < at.len() && answered >= at[step] {
            match step {
                0 => proxy.cut_client_side(),
                1 => {
                    proxy.set_delay(Duration::from_millis(40));
                    proxy.cut_client_side();
                }
                _ => {
                    proxy.set_delay(Duration::from_millis(5));
                    proxy.cut();
                }
            }
            step += 1;
        }
    });
    assert_eq!(step, 3, "every fault was applied");
    assert!(
        proxy.accepted() >= 4,
        "reconnected {} times",
        proxy.accepted()
    );
    check(&p, ORDERS, 4);
}

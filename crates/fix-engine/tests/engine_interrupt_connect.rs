//! Interrupting an initiator's connection attempts: `disconnect(reason)` and
//! `disconnect_non_gracefully()` while the TCP connect itself is pending (`WAIT_FOR_CONNECT`) and
//! while the loop waits between attempts (`RECONNECT`). Each must end the loop at once, in
//! `NON_GRACEFULLY_TERMINATED` (there is no connection, so no Logout exchange can complete), with
//! no connection attempt afterwards; `SessionHandle::connect` starts again.
//!
//! A loopback connect completes or fails at once, so `WAIT_FOR_CONNECT` is held with a listener
//! whose accept queue is full: the kernel drops further SYNs and the connect stays pending.

mod engine_failover_support;

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use engine_failover_support::*;
use fix_engine::config::{SessionSettings, Tries};
use fix_engine::{ConnectPhase, SessionState};
use fix_testkit::proxy::{Mode, Proxy};

/// How long a stopped session must stay quiet: several reconnect intervals.
const QUIET: Duration = Duration::from_millis(300);
/// Bound on the interruption itself.
const PROMPT: Duration = Duration::from_secs(1);

/// A loopback listener that never accepts until told to, with its accept queue filled.
struct Stalled {
    listener: TcpListener,
    fillers: Vec<SocketAddr>,
    _held: Vec<TcpStream>,
}

impl Stalled {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut held = Vec::new();
        let mut timeouts = 0;
        // The queue holds the listen backlog (+1) connections; bounded well above any backlog.
        for _ in 0..8192 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
                Ok(s) => held.push(s),
                Err(e) if e.kind() == ErrorKind::TimedOut => {
                    timeouts += 1;
                    // Twice in a row: the queue is full, not a slow scheduler.
                    if timeouts == 2 {
                        break;
                    }
                }
                Err(e) => panic!("filling the accept queue: {e}"),
            }
        }
        assert_eq!(timeouts, 2, "the accept queue never filled");
        let fillers = held.iter().map(|s| s.local_addr().unwrap()).collect();
        listener.set_nonblocking(true).unwrap();
        Self {
            listener,
            fillers,
            _held: held,
        }
    }

    fn port(&self) -> u16 {
        self.listener.local_addr().unwrap().port()
    }

    /// Accepts the connections that filled the queue, so that any later SYN would connect.
    fn unblock(&mut self) {
        let mut n = 0;
        let deadline = Instant::now() + WAIT;
        while n < self.fillers.len() && Instant::now() < deadline {
            match self.listener.accept() {
                Ok((_, peer)) => {
                    assert!(
                        self.fillers.contains(&peer),
                        "unexpected connection from {peer}"
                    );
                    n += 1;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
        assert_eq!(n, self.fillers.len());
    }

    /// A connection other than the fillers, waited for up to `limit`.
    fn accept_within(&self, limit: Duration) -> Option<TcpStream> {
        let deadline = Instant::now() + limit;
        loop {
            match self.listener.accept() {
                Ok((s, peer)) if !self.fillers.contains(&peer) => return Some(s),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return None;
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
    }
}

/// Sockets of this machine in `SYN_SENT` towards loopback `port` (`None` without
/// `/proc/net/tcp`): a pending connect the engine still holds.
fn syn_sent_to(port: u16) -> Option<usize> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let want = format!(":{port:04X}");
    Some(
        table
            .lines()
            .skip(1)
            .filter(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() > 3 && f[2].ends_with(&want) && f[3] == "02"
            })
            .count(),
    )
}

/// [`syn_sent_to`] once it equals `n`, or its last value after `limit`.
fn syn_sent_becomes(port: u16, n: usize, limit: Duration) -> Option<usize> {
    let deadline = Instant::now() + limit;
    loop {
        let got = syn_sent_to(port)?;
        if got == n || Instant::now() >= deadline {
            return Some(got);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn initiator(port: u16, interval: Duration) -> SessionSettings {
    SessionSettings::initiator("INI", "FIX.4.4", "CLIENT", "VENUE", "127.0.0.1", port)
        .heart_bt_int(30)
        .storage(transient())
        .reconnect(true, Tries::Unlimited, interval)
        // Also the connect deadline: without an interruption the attempt would hang this long.
        .logon_timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn is_attempt(e: &Ev) -> bool {
    matches!(
        e,
        Ev::Connected(_)
            | Ev::ConnectFailed(_)
            | Ev::Reconnecting { .. }
            | Ev::GaveUp(_)
            | Ev::SentLogon(_)
            | Ev::State(_, SessionState::WaitForConnect | SessionState::Reconnect)
    )
}

#[test]
fn disconnects_stop_a_pending_tcp_connect_and_connect_starts_again() {
    for graceful in [false, true] {
        let mut l = Stalled::start();
        let port = l.port();
        let (_e, h, rx) = client(initiator(port, INTERVAL));
        // The connect starts after this: its SYN would be sent again 1 s (the initial
        // retransmission timeout) after it.
        let retransmit = Instant::now() + Duration::from_millis(1300);
        // Its event, not only the published state, so that nothing of it is left in `rx`.
        expect(&rx, "connecting", |e| {
            matches!(e, Ev::State(_, SessionState::WaitForConnect))
        });
        assert_eq!(h.state(), SessionState::WaitForConnect);
        // The state is shown just before the connect starts.
        if let Some(n) = syn_sent_becomes(port, 1, WAIT) {
            assert_eq!(n, 1, "graceful={graceful}: the connect is not pending");
        }
        disconnect_promptly(&h, graceful, &format!("graceful={graceful}"));
        let later = drain_for(&rx, QUIET);
        assert!(
            !later.iter().any(is_attempt),
            "graceful={graceful}: {later:#?}"
        );
        // The pending socket is gone, not left to complete on a SYN retransmission.
        if let Some(n) = syn_sent_to(port) {
            assert_eq!(n, 0, "graceful={graceful}: the connect is still pending");
        }
        // Room in the queue now: nothing connects, not even past a SYN retransmission (the one
        // check that does not need /proc).
        l.unblock();
        let quiet = retransmit
            .saturating_duration_since(Instant::now())
            .max(QUIET);
        assert!(
            l.accept_within(quiet).is_none(),
            "graceful={graceful}: connected after the disconnect"
        );
        let later = drain_for(&rx, Duration::from_millis(20));
        assert!(
            !later.iter().any(is_attempt),
            "graceful={graceful}: {later:#?}"
        );
        assert_eq!(h.state(), SessionState::NonGracefullyTerminated);

        // An explicit connect starts a new attempt at once, and it goes as far as the Logon.
        h.connect(None, ConnectPhase::Initial).unwrap();
        let mut s = l
            .accept_within(WAIT)
            .expect("no connection after connect()");
        h.wait_for_state(SessionState::WaitForConfirmLogon, WAIT)
            .unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let deadline = Instant::now() + WAIT;
        let mut got = Vec::new();
        while !got.windows(5).any(|w| w == b"\x0135=A") && Instant::now() < deadline {
            let mut chunk = [0u8; 1024];
            match s.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("read: {e}"),
            }
        }
        assert!(
            got.windows(5).any(|w| w == b"\x0135=A"),
            "graceful={graceful}: no Logon: {}",
            String::from_utf8_lossy(&got)
        );
        h.disconnect_non_gracefully().unwrap();
        assert_eq!(
            h.wait_terminated(PROMPT).unwrap(),
            SessionState::NonGracefullyTerminated
        );
    }
}

/// Disconnects (gracefully or not) and checks that the session ends NON_GRACEFULLY_TERMINATED
/// (no Logon exchange happened to end correctly) within [`PROMPT`].
fn disconnect_promptly(h: &fix_engine::SessionHandle, graceful: bool, what: &str) {
    let t = Instant::now();
    if graceful {
        h.disconnect("bye").unwrap();
    } else {
        h.disconnect_non_gracefully().unwrap();
    }
    assert_eq!(
        h.wait_terminated(PROMPT).unwrap(),
        SessionState::NonGracefullyTerminated,
        "{what}"
    );
    assert!(t.elapsed() < PROMPT, "{what}: {:?}", t.elapsed());
}

#[test]
fn disconnects_stop_the_wait_between_attempts_and_connect_starts_again() {
    let v = Venue::start(vec![acceptor_settings("ACC", "VENUE", "CLIENT")]);
    // 30 s: without the interruption the session would sit in RECONNECT for the whole test; 100
    // ms: an un-stopped loop would try again within the quiet period.
    for interval in [Duration::from_secs(30), Duration::from_millis(100)] {
        for graceful in [false, true] {
            let what = format!("interval={interval:?} graceful={graceful}");
            let p = Proxy::start_in(v.addr(), Mode::Refuse).unwrap();
            let (_e, h, rx) = client(initiator(p.port(), interval));
            expect(&rx, "first retry scheduled", |e| {
                matches!(e, Ev::Reconnecting { .. })
            });
            expect(&rx, "waiting to retry", |e| {
                matches!(e, Ev::State(_, SessionState::Reconnect))
            });
            assert_eq!(h.state(), SessionState::Reconnect, "{what}");
            disconnect_promptly(&h, graceful, &what);
            // The server comes back: nobody connects.
            p.set_mode(Mode::Forward).unwrap();
            let later = drain_for(&rx, QUIET);
            assert!(!later.iter().any(is_attempt), "{what}: {later:#?}");
            assert_eq!(p.accepted(), 0, "{what}");
            assert_eq!(h.state(), SessionState::NonGracefullyTerminated, "{what}");

            // An explicit connect starts a new loop at once.
            h.connect(None, ConnectPhase::Reconnect).unwrap();
            h.wait_for_state(SessionState::Established, WAIT)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(p.accepted(), 1, "{what}");
            h.disconnect("done").unwrap();
            assert_eq!(
                h.wait_terminated(WAIT).unwrap(),
                SessionState::CorrectlyTerminated,
                "{what}"
            );
        }
    }
}

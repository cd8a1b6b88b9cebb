//! `fixd demo`: an acceptor (the built-in `executor`, a simulated venue) and an initiator in one
//! process, on an embedded configuration and a free loopback port. The initiator logs on, sends
//! NewOrderSingles (one at a time, or a window of them), measures each round trip to its
//! ExecutionReport, logs out, and the demo prints the sessions' states and the latency
//! percentiles.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender};
use fix_codec::{MessageRef, TimePrecision, UtcTimestamp};
use fix_engine::config::Config;
use fix_engine::{Application, EngineBuilder, EngineError, Replies, SessionHandle, SessionState};
use hdrhistogram::Histogram;

use crate::CommandError;
use crate::status;

/// The embedded configuration.
pub const DEMO_CONFIG: &str = include_str!("demo.properties");
/// Orders sent when `--orders` is not given.
pub const DEFAULT_ORDERS: u64 = 10_000;
/// Most orders one run accepts (bounds the run time).
pub const MAX_ORDERS: u64 = 10_000_000;
/// Most orders in flight (`--window`): the engine's bound on a session's queued sends.
pub const MAX_WINDOW: usize = fix_engine::MAX_SEND_BUFFERS;
/// How long the demo waits for the next execution report before it fails.
pub const REPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the logon and the logout may take.
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);

/// What the demo measured.
#[derive(Debug)]
pub struct DemoReport {
    /// The text printed to stdout.
    pub text: String,
    /// Orders sent.
    pub orders: u64,
    /// Execution reports matched to their order.
    pub reports: u64,
    /// Round-trip times in nanoseconds.
    pub round_trip: Histogram<u64>,
    /// `(session name, final state)` after the logout.
    pub final_states: Vec<(String, SessionState)>,
}

/// `(order number, arrival time)` of an execution report.
type Arrival = (u64, Instant);

/// The initiator's application: timestamps each ExecutionReport on the I/O thread and passes
/// `(order number, arrival)` to the sending thread. The channel is bounded and never full (it has
/// room for every order in flight), so the callback never blocks.
struct Client {
    tx: Sender<Arrival>,
    unmatched: AtomicU64,
}

impl Application for Client {
    fn on_message(&self, _: &SessionHandle, msg: MessageRef<'_>, _: &mut Replies<'_>) {
        let at = Instant::now();
        if msg.msg_type() != Some(b"8") {
            return;
        }
        match msg
            .get(11)
            .and_then(|v| v.strip_prefix(b"ORD"))
            .and_then(parse_u64)
        {
            Some(n) if self.tx.try_send((n, at)).is_ok() => {}
            _ => {
                self.unmatched.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn parse_u64(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 {
        return None;
    }
    v.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// Writes `prefix` and the decimal digits of `n` into `out`; returns the length.
fn id_into(out: &mut [u8; 32], prefix: &[u8], mut n: u64) -> usize {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let d = &digits[i..];
    out[..prefix.len()].copy_from_slice(prefix);
    out[prefix.len()..prefix.len() + d.len()].copy_from_slice(d);
    prefix.len() + d.len()
}

fn now_utc() -> UtcTimestamp {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(UtcTimestamp::UNIX_EPOCH, |d| {
            UtcTimestamp::from_unix_nanos(d.as_nanos() as i128)
        })
}

const SYMBOLS: [&[u8]; 4] = [b"EUR/USD", b"AAPL", b"MSFT", b"VOD.L"];

/// Sends order `i` (retrying briefly on back-pressure, which one order in flight never causes).
fn send_order(client: &SessionHandle, i: u64) -> Result<(), EngineError> {
    let mut id = [0u8; 32];
    let id_len = id_into(&mut id, b"ORD", i);
    let mut ts = [0u8; 32];
    let ts_len = now_utc().format_into(TimePrecision::Millis, &mut ts);
    let mut tries = 0u32;
    loop {
        let r = client.send(b"D", |e| {
            e.field(11, &id[..id_len])
                .field(21, b"1")
                .field_u64(38, 100 + (i % 10) * 100)
                .field(40, b"1")
                .field(54, if i.is_multiple_of(2) { b"1" } else { b"2" })
                .field(55, SYMBOLS[(i % SYMBOLS.len() as u64) as usize])
                .field(60, &ts[..ts_len]);
        });
        match r {
            Err(EngineError::Backpressure) if tries < 10_000 => {
                tries += 1;
                std::thread::yield_now();
            }
            other => return other,
        }
    }
}

/// Runs the demo: `orders` orders, at most `window` of them unanswered at any time (1 = one at a
/// time, the pure round trip; more = a pipelined stream, where queueing adds to the round trip).
///
/// # Errors
/// [`CommandError::failure`] when the engine cannot start, the logon or an execution report
/// does not arrive in time, or the configuration does not resolve (a bug in the embedded text).
pub fn run(orders: u64, window: usize) -> Result<DemoReport, CommandError> {
    let orders = orders.clamp(1, MAX_ORDERS);
    let window = window.clamp(1, MAX_WINDOW);
    let fail =
        |what: &str, e: &dyn std::fmt::Display| CommandError::failure(format!("{what}: {e}"));
    let config = Config::from_str(DEMO_CONFIG, "<embedded demo configuration>")
        .map_err(|e| fail("demo configuration", &e))?;
    let mut resolved = config
        .resolve()
        .map_err(|e| fail("demo configuration", &e))?;
    // Port 0 everywhere: the operating system picks a free loopback port, so the demo runs on a
    // machine where anything else already listens.
    resolved.engine.listen_port = Some(0);
    for s in &mut resolved.sessions {
        s.primary.port = 0;
    }
    let mut client_settings = resolved
        .deferred
        .iter()
        .find(|s| s.name == "CLIENT")
        .cloned()
        .ok_or_else(|| CommandError::failure("demo configuration has no CLIENT session"))?;

    let mut engine = EngineBuilder::from_config(&resolved)
        .start()
        .map_err(|e| fail("cannot start the engine", &e))?;
    let addr = engine
        .listen_addr()
        .ok_or_else(|| CommandError::failure("the engine does not listen"))?;
    client_settings.primary.port = addr.port();

    // Room for every order in flight: the callback's `try_send` never finds it full.
    let (tx, rx): (Sender<Arrival>, Receiver<Arrival>) = crossbeam_channel::bounded(window + 16);
    let app = Arc::new(Client {
        tx,
        unmatched: AtomicU64::new(0),
    });
    let started = Instant::now();
    let client = engine
        .create_session_with(client_settings, app.clone())
        .map_err(|e| fail("cannot create the CLIENT session", &e))?;
    client
        .wait_for_state(SessionState::Established, SESSION_TIMEOUT)
        .map_err(|e| fail("CLIENT did not log on", &e))?;
    let logon_time = started.elapsed();

    let mut out = String::new();
    let _ = writeln!(
        out,
        "fixd demo: VENUE (acceptor, executor) listening on {addr}; CLIENT (initiator) FIX.4.4, idle strategy block"
    );
    let _ = writeln!(
        out,
        "CLIENT logged on in {:.1} ms",
        logon_time.as_secs_f64() * 1e3
    );

    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)
        .map_err(|e| fail("histogram", &e))?;
    let mut reports = 0u64;
    let mut sent = 0u64;
    // Send time of each order in flight, in slot `order % window`: a report whose order is not
    // in its slot (there are none unless the venue misbehaves) is ignored.
    let mut in_flight: Vec<Option<(u64, Instant)>> = vec![None; window];
    let mut outstanding = 0usize;
    let run_start = Instant::now();
    let mut error = None;
    'run: while reports < orders {
        while sent < orders && outstanding < window {
            let t0 = Instant::now();
            if let Err(e) = send_order(&client, sent) {
                error = Some(format!("order {sent} not sent: {e}"));
                break 'run;
            }
            in_flight[(sent % window as u64) as usize] = Some((sent, t0));
            sent += 1;
            outstanding += 1;
        }
        let Ok((n, at)) = rx.recv_timeout(REPORT_TIMEOUT) else {
            error = Some(format!(
                "no execution report within {REPORT_TIMEOUT:?} ({outstanding} outstanding, CLIENT is {})",
                client.state()
            ));
            break;
        };
        let slot = &mut in_flight[(n % window as u64) as usize];
        match slot.take() {
            Some((m, t0)) if m == n => {
                reports += 1;
                outstanding -= 1;
                let rtt = at.saturating_duration_since(t0).as_nanos() as u64;
                hist.saturating_record(rtt.clamp(1, 60_000_000_000));
            }
            other => *slot = other,
        }
    }
    let elapsed = run_start.elapsed();

    let _ = writeln!(
        out,
        "orders sent: {sent}, execution reports received: {reports}"
    );
    let _ = writeln!(
        out,
        "round-trip latency NewOrderSingle -> ExecutionReport ({} in flight): {}",
        if window == 1 {
            "one".to_owned()
        } else {
            format!("up to {window}")
        },
        status::percentiles(&hist)
    );
    let _ = writeln!(
        out,
        "throughput: {:.0} round trips/s over {:.3} s",
        reports as f64 / elapsed.as_secs_f64().max(1e-9),
        elapsed.as_secs_f64()
    );
    let _ = writeln!(out, "engine statistics (per session, on its I/O thread):");
    for h in engine.sessions() {
        let _ = writeln!(out, "  {}", status::session_line(&h));
    }

    let _ = client.disconnect_and_wait("demo finished", SESSION_TIMEOUT);
    let venue = engine.session("VENUE");
    if let Some(v) = &venue {
        // The acceptor confirms the Logout and then either terminates or waits for the next Logon.
        let _ = v.wait_for(SESSION_TIMEOUT, |s| {
            s.is_terminated() || s == SessionState::WaitForFirstLogon
        });
    }
    let final_states: Vec<(String, SessionState)> = engine
        .sessions()
        .iter()
        .map(|h| (h.name().to_owned(), h.state()))
        .collect();
    let _ = writeln!(out, "sessions after logout:");
    for (name, state) in &final_states {
        let _ = writeln!(out, "  {name:<8} {state}");
    }
    engine.stop();
    let unmatched = app.unmatched.load(Ordering::Relaxed);
    if unmatched > 0 {
        let _ = writeln!(out, "unmatched execution reports: {unmatched}");
    }
    if let Some(e) = error {
        return Err(CommandError::failure(format!("{out}demo failed: {e}")));
    }
    Ok(DemoReport {
        text: out,
        orders: sent,
        reports,
        round_trip: hist,
        final_states,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_numbers_round_trip() {
        let mut b = [0u8; 32];
        let n = id_into(&mut b, b"ORD", 0);
        assert_eq!(&b[..n], b"ORD0");
        let n = id_into(&mut b, b"ORD", u64::MAX);
        assert_eq!(&b[..n], b"ORD18446744073709551615");
        assert_eq!(parse_u64(b"12345"), Some(12345));
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"12a"), None);
        assert_eq!(parse_u64(b"99999999999999999999"), None);
    }

    #[test]
    fn the_embedded_configuration_resolves() {
        let r = Config::from_str(DEMO_CONFIG, "demo")
            .unwrap()
            .resolve()
            .unwrap();
        assert_eq!(r.sessions.len(), 1);
        assert_eq!(r.sessions[0].name, "VENUE");
        assert_eq!(r.deferred.len(), 1);
        assert_eq!(r.deferred[0].name, "CLIENT");
    }
}

//! `fixd client`: fixd as an order-sending initiator, the counterpart of `qf_peer --role
//! initiator` in the interop runs (`docs/INTEROP.md`). It starts the engine with the one initiator
//! session of a configuration, logs on, sends NewOrderSingles with `ClOrdID` `1..=N`, waits
//! (bounded) for their ExecutionReports, checks that each order was answered exactly once, logs
//! out, and prints qf_peer's summary line:
//! `orders_sent=N reports_received=M duplicates=D missing=K ...`.
//!
//! With `--state FILE` a run continues an earlier one that stopped without Logout: the progress
//! (orders sent, which were answered, the counters) is saved at the end of every run, and the
//! next run logs on without reset (the store keeps the numbers) and continues at `sent + 1`; the
//! gap is recovered by the sessions' resend requests.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender};
use fix_codec::{MessageRef, TimePrecision, UtcTimestamp};
use fix_engine::config::Role;
use fix_engine::{
    Application, EngineBuilder, EngineError, RejectInfo, Replies, SessionHandle, SessionState,
};

use crate::CommandError;
use crate::signals::TermSignals;

/// Most orders one run sends (bounds the memory of answered ClOrdIDs).
pub const MAX_ORDERS: u64 = 10_000_000;
/// Exit status when a check failed (a duplicate, a missing or mismatched report, ...).
pub const EXIT_CHECK_FAILED: i32 = 1;
/// Exit status when the Logon or the reports did not arrive in time.
pub const EXIT_TIMEOUT: i32 = 3;
/// `Price <44>` of every order (a limit order, as qf_peer sends).
const PRICE: &[u8] = b"101.25";

/// What to do on SIGTERM / SIGINT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnTerm {
    /// Stop sending, log out, report.
    Logout,
    /// Stop at once without Logout (between two orders), save the state, report `aborted=1`.
    Abrupt,
}

/// What `fixd client` was asked to do.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The properties file (one initiator session, or name it with `session`).
    pub config: PathBuf,
    /// `KEY=VALUE` overrides.
    pub sets: Vec<String>,
    /// The initiator session to use (default: the only one).
    pub session: Option<String>,
    /// N: ClOrdIDs `1..=N` over all runs sharing a state file.
    pub orders: u64,
    /// Orders in flight at most.
    pub window: usize,
    /// Orders per second (0: as fast as the window allows).
    pub rate: u64,
    /// Stop without Logout right after the K-th order was sent.
    pub stop_after: Option<u64>,
    /// Progress file shared by consecutive runs.
    pub state: Option<PathBuf>,
    /// Where the summary line is also written.
    pub report: Option<PathBuf>,
    /// Bound on the Logon and on waiting for all reports.
    pub timeout: Duration,
    /// Extra wait after the last report, for late duplicates.
    pub grace: Duration,
    /// `Symbol <55>` of every order.
    pub symbol: String,
    /// SIGTERM / SIGINT behaviour.
    pub on_term: OnTerm,
}

/// The counters of the summary line, shared by the I/O thread (callbacks) and the main thread.
#[derive(Debug, Default)]
struct Counters {
    duplicates: AtomicU64,
    possdup_repeats: AtomicU64,
    mismatched: AtomicU64,
    unexpected: AtomicU64,
    reports_total: AtomicU64,
    send_failures: AtomicU64,
    logons: AtomicU64,
    resend_requests_sent: AtomicU64,
    resend_requests_received: AtomicU64,
    seq_resets_received: AtomicU64,
    reset_logons_sent: AtomicU64,
    session_rejects_received: AtomicU64,
    session_rejects_sent: AtomicU64,
}

/// Names of the counters carried in the state file and printed in the summary, in qf_peer's order
/// (after `orders_sent reports_received duplicates missing unsent`).
const CARRIED: [&str; 13] = [
    "duplicates",
    "possdup_repeats",
    "mismatched",
    "unexpected",
    "reports_total",
    "send_failures",
    "logons",
    "resend_requests_sent",
    "resend_requests_received",
    "seq_resets_received",
    "reset_logons_sent",
    "session_rejects_received",
    "session_rejects_sent",
];

impl Counters {
    fn by_name(&self, name: &str) -> Option<&AtomicU64> {
        Some(match name {
            "duplicates" => &self.duplicates,
            "possdup_repeats" => &self.possdup_repeats,
            "mismatched" => &self.mismatched,
            "unexpected" => &self.unexpected,
            "reports_total" => &self.reports_total,
            "send_failures" => &self.send_failures,
            "logons" => &self.logons,
            "resend_requests_sent" => &self.resend_requests_sent,
            "resend_requests_received" => &self.resend_requests_received,
            "seq_resets_received" => &self.seq_resets_received,
            "reset_logons_sent" => &self.reset_logons_sent,
            "session_rejects_received" => &self.session_rejects_received,
            "session_rejects_sent" => &self.session_rejects_sent,
            _ => return None,
        })
    }

    fn get(&self, name: &str) -> u64 {
        self.by_name(name).map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

/// Progress: which orders were sent and answered.
struct Book {
    orders: u64,
    symbol: Vec<u8>,
    /// Highest ClOrdID handed to the engine; orders are `1..=sent`.
    sent: AtomicU64,
    /// Per ClOrdID (index `id - 1`): 1 once answered.
    answered: Vec<AtomicU8>,
    distinct: AtomicU64,
    counters: Counters,
    /// Wakes the sender when an order is answered for the first time; never blocks the callback
    /// (a full channel already means the sender has something to read).
    wake: Sender<()>,
}

fn parse_u64(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 {
        return None;
    }
    v.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// `Side <54>` of order `id`: 1 (buy) for odd, 2 (sell) for even, as qf_peer.
fn side(id: u64) -> &'static [u8] {
    if id % 2 == 1 { b"1" } else { b"2" }
}

/// `OrderQty <38>` of order `id`, as qf_peer.
fn qty(id: u64) -> u64 {
    100 + id % 900
}

impl Book {
    fn report(&self, msg: &MessageRef<'_>) {
        let c = &self.counters;
        c.reports_total.fetch_add(1, Ordering::Relaxed);
        let id = msg.get(11).and_then(parse_u64).unwrap_or(0);
        if id == 0 || id > self.sent.load(Ordering::Acquire) || id > self.orders {
            c.unexpected.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let ok = msg.get(55) == Some(&self.symbol[..])
            && msg.get(54) == Some(side(id))
            && msg.get(38).and_then(parse_u64) == Some(qty(id));
        if !ok {
            c.mismatched.fetch_add(1, Ordering::Relaxed);
        }
        let slot = &self.answered[(id - 1) as usize];
        if slot.swap(1, Ordering::AcqRel) == 0 {
            self.distinct.fetch_add(1, Ordering::AcqRel);
            let _ = self.wake.try_send(());
        } else if msg.get(43) == Some(b"Y") {
            c.possdup_repeats.fetch_add(1, Ordering::Relaxed);
        } else {
            c.duplicates.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The initiator's application: records reports and the session-level traffic.
struct ClientApp(Arc<Book>);

impl Application for ClientApp {
    fn on_logon(&self, _: &SessionHandle, _: bool) {
        self.0.counters.logons.fetch_add(1, Ordering::Relaxed);
    }

    fn on_message(&self, _: &SessionHandle, msg: MessageRef<'_>, _: &mut Replies<'_>) {
        if msg.msg_type() == Some(b"8") {
            self.0.report(&msg);
        }
    }

    fn on_admin_message(&self, _: &SessionHandle, msg: MessageRef<'_>) {
        let c = &self.0.counters;
        match msg.msg_type() {
            Some(b"2") => c.resend_requests_received.fetch_add(1, Ordering::Relaxed),
            Some(b"4") => c.seq_resets_received.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }

    fn on_before_send(&self, _: &SessionHandle, msg: &[u8]) {
        let c = &self.0.counters;
        let m = MessageRef::new(msg);
        match m.msg_type() {
            Some(b"2") => {
                c.resend_requests_sent.fetch_add(1, Ordering::Relaxed);
            }
            Some(b"A") if m.get(141) == Some(b"Y") => {
                c.reset_logons_sent.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    fn on_reject(&self, _: &SessionHandle, reject: RejectInfo<'_>) {
        let c = &self.0.counters;
        match reject {
            RejectInfo::Sent { .. } => c.session_rejects_sent.fetch_add(1, Ordering::Relaxed),
            RejectInfo::Received(_) => c.session_rejects_received.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
    }
}

fn now_utc() -> UtcTimestamp {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(UtcTimestamp::UNIX_EPOCH, |d| {
            UtcTimestamp::from_unix_nanos(d.as_nanos() as i128)
        })
}

fn send_order(h: &SessionHandle, id: u64, symbol: &[u8]) -> Result<(), EngineError> {
    let mut digits = [0u8; 20];
    let mut ts = [0u8; 32];
    let ts_len = now_utc().format_into(TimePrecision::Millis, &mut ts);
    let id_text = {
        let mut i = digits.len();
        let mut n = id;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        &digits[i..]
    };
    h.send(b"D", |e| {
        e.field(11, id_text)
            .field(21, b"1")
            .field(55, symbol)
            .field(54, side(id))
            .field(60, &ts[..ts_len])
            .field_u64(38, qty(id))
            .field(40, b"2")
            .field(44, PRICE);
    })
}

/// Reads a state file: `sent`, the answered ClOrdIDs (a string of `0`/`1`), the counters.
fn load_state(path: &Path, book: &Book) -> Result<(), CommandError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(CommandError::failure(format!("{}: {e}", path.display()))),
    };
    let bad = |what: &str| CommandError::config(format!("{}: bad {what}", path.display()));
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k {
            "sent" => {
                let n = parse_u64(v.as_bytes()).ok_or_else(|| bad("sent"))?;
                book.sent.store(n.min(book.orders), Ordering::Release);
            }
            "answered" => {
                for (i, b) in v.bytes().enumerate().take(book.answered.len()) {
                    if b == b'1' {
                        book.answered[i].store(1, Ordering::Relaxed);
                        book.distinct.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            _ => {
                if let Some(c) = book.counters.by_name(k) {
                    c.store(
                        parse_u64(v.as_bytes()).ok_or_else(|| bad(k))?,
                        Ordering::Relaxed,
                    );
                }
            }
        }
    }
    Ok(())
}

fn state_text(book: &Book) -> String {
    let mut s = format!("sent={}\nanswered=", book.sent.load(Ordering::Acquire));
    for a in &book.answered {
        s.push(if a.load(Ordering::Acquire) == 1 {
            '1'
        } else {
            '0'
        });
    }
    s.push('\n');
    for k in CARRIED {
        let _ = writeln!(s, "{k}={}", book.counters.get(k));
    }
    s
}

/// The summary line (qf_peer's fields, same order) and whether every check passed.
fn summary(book: &Book, aborted: bool) -> (String, bool) {
    let sent = book.sent.load(Ordering::Acquire);
    let received = book.distinct.load(Ordering::Acquire);
    let missing = sent.saturating_sub(received);
    let unsent = book.orders - sent;
    let c = &book.counters;
    let mut line = format!(
        "orders_sent={sent} reports_received={received} duplicates={} missing={missing} unsent={unsent}",
        c.get("duplicates")
    );
    for k in &CARRIED[1..] {
        let _ = write!(line, " {k}={}", c.get(k));
    }
    let _ = write!(line, " aborted={}", u8::from(aborted));
    let ok = sent == book.orders
        && received == book.orders
        && c.get("duplicates") == 0
        && c.get("mismatched") == 0
        && c.get("unexpected") == 0;
    (line, ok)
}

fn write_file(path: &Path, text: &str) -> Result<(), CommandError> {
    std::fs::write(path, text)
        .map_err(|e| CommandError::failure(format!("{}: {e}", path.display())))
}

/// The outcome of `fixd client`: the summary line and the exit status.
#[derive(Debug)]
pub struct ClientReport {
    /// qf_peer's summary line.
    pub line: String,
    /// 0 all answered once; [`EXIT_CHECK_FAILED`]; [`EXIT_TIMEOUT`].
    pub code: i32,
    /// The run stopped without Logout (`--stop-after`, abrupt SIGTERM).
    pub aborted: bool,
}

/// Runs `fixd client`. `signals` (blocked before any thread started) are watched for SIGTERM /
/// SIGINT. On an abrupt stop the engine is left without a Logout: the caller must exit the process
/// without dropping anything that would log out (this function `forget`s the engine itself).
///
/// # Errors
/// Configuration errors (no initiator session, a bad state file) and engine start failures.
pub fn run(
    opts: &ClientOptions,
    signals: Option<TermSignals>,
) -> Result<ClientReport, CommandError> {
    let orders = opts.orders.clamp(1, MAX_ORDERS);
    let window = opts.window.clamp(1, fix_engine::MAX_SEND_BUFFERS);
    let loaded = crate::settings::load(&opts.config, &opts.sets)?;
    let resolved = loaded.resolved;
    let initiators: Vec<_> = resolved
        .sessions
        .iter()
        .filter(|s| s.role == Role::Initiator)
        .filter(|s| opts.session.as_deref().is_none_or(|n| n == s.name))
        .collect();
    let [settings] = initiators.as_slice() else {
        return Err(CommandError::config(format!(
            "{}: fixd client needs exactly one initiator session{}, found {}",
            opts.config.display(),
            opts.session
                .as_deref()
                .map(|n| format!(" named {n}"))
                .unwrap_or_default(),
            initiators.len()
        )));
    };
    let (wake_tx, wake_rx): (Sender<()>, Receiver<()>) = crossbeam_channel::bounded(1);
    let book = Arc::new(Book {
        orders,
        symbol: opts.symbol.clone().into_bytes(),
        sent: AtomicU64::new(0),
        answered: (0..orders).map(|_| AtomicU8::new(0)).collect(),
        distinct: AtomicU64::new(0),
        counters: Counters::default(),
        wake: wake_tx,
    });
    if let Some(p) = &opts.state {
        load_state(p, &book)?;
    }
    let term = Arc::new(AtomicBool::new(false));
    if let Some(sig) = signals {
        let term = Arc::clone(&term);
        // Detached: it only sets a flag, and ends with the process.
        let _ = std::thread::Builder::new()
            .name("fixd-signals".into())
            .spawn(move || {
                loop {
                    if sig.wait(Duration::from_millis(200)).is_some() {
                        term.store(true, Ordering::Release);
                        return;
                    }
                }
            });
    }
    let mut engine = EngineBuilder::new(resolved.engine.clone())
        .session_with_app((*settings).clone(), Arc::new(ClientApp(Arc::clone(&book))))
        .start()
        .map_err(|e| CommandError::failure(format!("cannot start the engine: {e}")))?;
    let h = engine
        .session(&settings.name)
        .ok_or_else(|| CommandError::failure("the initiator session is gone"))?;

    let finish =
        |book: &Book, aborted: bool, timed_out: bool| -> Result<ClientReport, CommandError> {
            if let Some(p) = &opts.state {
                write_file(p, &state_text(book))?;
            }
            let (line, ok) = summary(book, aborted);
            if let Some(p) = &opts.report {
                write_file(p, &format!("{line}\n"))?;
            }
            let code = if aborted || ok {
                0
            } else if timed_out {
                EXIT_TIMEOUT
            } else {
                EXIT_CHECK_FAILED
            };
            Ok(ClientReport {
                line,
                code,
                aborted,
            })
        };

    let deadline = Instant::now() + opts.timeout;
    if h.wait_for_state(SessionState::Established, opts.timeout)
        .is_err()
    {
        tracing::error!("no Logon within {:?}", opts.timeout);
        engine.stop_with_timeout(Duration::from_secs(1));
        return finish(&book, false, true);
    }
    let started = Instant::now();
    let mut sent_this_run = 0u64;
    // Orders whose send was dropped by the I/O thread because the session had just left
    // ESTABLISHED: never numbered, so they are sent again (same ClOrdID) once logged on again.
    let mut retry: Vec<u64> = Vec::new();
    let mut dropped_seen = h.dropped_sends();
    let mut abrupt = false;
    loop {
        if term.load(Ordering::Acquire) {
            abrupt = opts.on_term == OnTerm::Abrupt;
            break;
        }
        let established = h.state() == SessionState::Established;
        if established {
            let dropped = h.dropped_sends();
            if dropped > dropped_seen {
                let sent = book.sent.load(Ordering::Acquire);
                let n = (dropped - dropped_seen).min(sent);
                // An order answered meanwhile was not the one dropped.
                retry.extend(
                    (sent + 1 - n..=sent).rev().filter(|&id| {
                        book.answered[(id - 1) as usize].load(Ordering::Acquire) == 0
                    }),
                );
                dropped_seen = dropped;
            }
            loop {
                let sent = book.sent.load(Ordering::Acquire);
                let in_flight = sent.saturating_sub(book.distinct.load(Ordering::Acquire));
                if in_flight >= window as u64 {
                    break;
                }
                if opts.rate > 0
                    && sent_this_run * 1_000_000 / opts.rate
                        > u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX)
                {
                    break;
                }
                let (id, fresh) = match retry.pop() {
                    Some(id) => (id, false),
                    None if sent < orders => (sent + 1, true),
                    None => break,
                };
                if fresh {
                    // Before the send: a report can only come back after it.
                    book.sent.store(id, Ordering::Release);
                }
                if send_order(&h, id, &book.symbol).is_err() {
                    book.counters.send_failures.fetch_add(1, Ordering::Relaxed);
                    retry.push(id);
                    break;
                }
                sent_this_run += 1;
                if fresh && opts.stop_after == Some(id) {
                    abrupt = true;
                    break;
                }
            }
            if abrupt {
                break;
            }
        }
        if book.distinct.load(Ordering::Acquire) >= orders {
            break;
        }
        if Instant::now() >= deadline {
            break;
        }
        let _ = wake_rx.recv_timeout(Duration::from_millis(if opts.rate > 0 { 1 } else { 10 }));
    }

    if abrupt {
        // The sends queued so far are numbered, journaled and written before the drop, which the
        // I/O thread handles after them; once it is done no callback runs any more, so the state
        // saved next matches the store.
        let _ = h.disconnect_non_gracefully();
        let _ = h.wait_for(Duration::from_secs(5), |s| s != SessionState::Established);
        let report = finish(&book, true, false);
        // No Logout: the engine must not be stopped (that would log out).
        std::mem::forget(engine);
        return report;
    }
    let all = book.distinct.load(Ordering::Acquire) >= orders;
    if all {
        // Late reports (resends of earlier runs' orders, duplicates) still count.
        std::thread::sleep(opts.grace);
    }
    engine.stop_with_timeout(Duration::from_secs(5));
    finish(&book, false, !all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(orders: u64) -> (Book, Receiver<()>) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        (
            Book {
                orders,
                symbol: b"MSFT".to_vec(),
                sent: AtomicU64::new(0),
                answered: (0..orders).map(|_| AtomicU8::new(0)).collect(),
                distinct: AtomicU64::new(0),
                counters: Counters::default(),
                wake: tx,
            },
            rx,
        )
    }

    fn er(id: u64, possdup: bool) -> Vec<u8> {
        let body = format!(
            "35=8|34=2|49=A|52=20261123-12:00:00|56=B|{}11={id}|17=1|37=1|39=2|54={}|55=MSFT|38={}|",
            if possdup { "43=Y|" } else { "" },
            if id % 2 == 1 { 1 } else { 2 },
            qty(id)
        )
        .replace('|', "\x01");
        let mut m = format!("8=FIX.4.4\x019={}\x01", body.len()).into_bytes();
        m.extend_from_slice(body.as_bytes());
        let sum = m.iter().map(|&b| u32::from(b)).sum::<u32>() % 256;
        m.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
        m
    }

    fn feed(b: &Book, id: u64, possdup: bool) {
        let m = er(id, possdup);
        b.report(&MessageRef::new(&m));
    }

    #[test]
    fn exactly_once_passes_and_a_duplicate_or_gap_fails() {
        let (b, _rx) = book(3);
        b.sent.store(3, Ordering::Release);
        for id in 1..=3 {
            feed(&b, id, false);
        }
        let (line, ok) = summary(&b, false);
        assert!(ok, "{line}");
        assert!(
            line.starts_with("orders_sent=3 reports_received=3 duplicates=0 missing=0 unsent=0")
        );
        feed(&b, 2, true);
        assert!(summary(&b, false).1, "a PossDup repeat is legitimate");
        assert_eq!(b.counters.get("possdup_repeats"), 1);
        feed(&b, 2, false);
        let (line, ok) = summary(&b, false);
        assert!(!ok && line.contains(" duplicates=1 "), "{line}");

        let (b, _rx) = book(3);
        b.sent.store(3, Ordering::Release);
        feed(&b, 1, false);
        feed(&b, 3, false);
        let (line, ok) = summary(&b, false);
        assert!(!ok && line.contains(" missing=1 "), "{line}");
        feed(&b, 4, false);
        assert_eq!(b.counters.get("unexpected"), 1);
    }

    #[test]
    fn a_report_with_other_fields_is_mismatched() {
        let (b, _rx) = book(2);
        b.sent.store(2, Ordering::Release);
        let m = String::from_utf8(er(1, false))
            .unwrap()
            .replace("55=MSFT", "55=IBMM");
        let m = {
            // Same length, so only the checksum changes.
            let mut v = m.into_bytes();
            let end = v.len() - 7;
            let sum = v[..end].iter().map(|&b| u32::from(b)).sum::<u32>() % 256;
            v.truncate(end);
            v.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
            v
        };
        b.report(&MessageRef::new(&m));
        assert_eq!(b.counters.get("mismatched"), 1);
    }

    #[test]
    fn state_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state");
        let (b, _rx) = book(5);
        b.sent.store(3, Ordering::Release);
        feed(&b, 1, false);
        feed(&b, 3, false);
        feed(&b, 3, true);
        write_file(&p, &state_text(&b)).unwrap();
        let (c, _rx) = book(5);
        load_state(&p, &c).unwrap();
        assert_eq!(c.sent.load(Ordering::Acquire), 3);
        assert_eq!(c.distinct.load(Ordering::Acquire), 2);
        assert_eq!(c.counters.get("possdup_repeats"), 1);
        assert_eq!(summary(&b, true).0, summary(&c, true).0);
    }
}

//! End-to-end benchmark harness (`scripts/bench.sh` runs it): one sub-command per measure, each
//! printing `key=value` lines on stdout that the script collects into `target/bench/summary.json`.
//!
//! ```text
//! fixbench codec      [--iters N] [--batches B]
//! fixbench floor      [--orders N] [--warmup W]
//! fixbench rtt        [--orders N] [--warmup W] [--store memory|mmap]
//! fixbench throughput [--secs S]
//! fixbench idle       [--sessions N] [--secs S]
//! fixbench storm      [--sessions N]
//! fixbench resend     [--messages N]
//! ```
//!
//! Latency runs pin each side's busy-spinning thread to its own core (cores 0 and 1); the
//! harness's own thread parks while it waits, so nothing else spins.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::Thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fix_benches::alloc::{CountingAllocator, assert_no_alloc};
use fix_benches::{data_file, encode_execution_report, fix44_validator, receive, receive_indexed};
use fix_codec::time::TimestampFormatter;
use fix_codec::{
    EncodeBuffer, Encoder, FieldIndex, FrameStatus, Framer, MessageRef, TimePrecision, UtcTimestamp,
};
use fix_engine::apps::ExecutorApp;
use fix_engine::config::{
    DictionarySettings, DurabilityMode, EngineSettings, IdleStrategy, SessionSettings,
    StorageSettings, StorageType,
};
use fix_engine::{Application, EngineBuilder, EngineError, Replies, SessionHandle};
use fix_engine::{SessionState, UnregisteredLogon};
use hdrhistogram::Histogram;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

/// Bound on every wait for a session state or a reply.
const WAIT: Duration = Duration::from_secs(20);

type Res<T> = Result<T, String>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first().cloned() else {
        eprintln!("usage: fixbench codec|floor|rtt|throughput|idle|storm|resend [options]");
        std::process::exit(2);
    };
    let opts = Opts(args[1..].to_vec());
    let r = match cmd.as_str() {
        "codec" => codec(&opts),
        "floor" => floor(&opts),
        "rtt" => rtt(&opts),
        "throughput" => throughput(&opts),
        "idle" => idle(&opts),
        "storm" => storm(&opts),
        "resend" => resend(&opts),
        other => Err(format!("unknown sub-command {other}")),
    };
    // Stores of failed runs too: the storm's alone pre-allocate about 17 GB.
    let _ = std::fs::remove_dir_all(work_root());
    if let Err(e) = r {
        eprintln!("fixbench {cmd}: {e}");
        std::process::exit(1);
    }
}

/// `--name value` options.
struct Opts(Vec<String>);

impl Opts {
    fn get(&self, name: &str) -> Option<&str> {
        let i = self.0.iter().position(|a| a == name)?;
        self.0.get(i + 1).map(String::as_str)
    }
    fn num(&self, name: &str, default: u64) -> u64 {
        self.get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }
}

fn spec(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../spec")
        .join(name)
}

/// This process's scratch directory: per process, so that concurrent runs (the tests) never
/// delete each other's stores.
fn work_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/bench/work")
        .join(std::process::id().to_string())
}

fn work_dir(name: &str) -> Res<PathBuf> {
    let dir = work_root().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

// ---- codec --------------------------------------------------------------------------------------

/// Same method as `benches/qf/qf_codec_bench.cpp`: warm-up, then the median over batches of the
/// mean time per message; every counted batch asserts zero allocations.
fn codec(o: &Opts) -> Res<()> {
    let iters = o.num("--iters", 20_000).max(1);
    let batches = o.num("--batches", 21).max(1);
    let nos = data_file("nos44.fix");
    let framer = Framer::default();
    let validator = fix44_validator();
    let mut parse = Vec::new();
    let mut ok = 0u64;
    for b in 0..=batches {
        let ns = assert_no_alloc("parse", if b == 0 { iters } else { 0 }, iters, || {
            let r = receive(
                std::hint::black_box(&framer),
                &validator,
                std::hint::black_box(&nos),
            );
            ok += u64::from(matches!(r, Ok(Some(_))));
        });
        if b > 0 {
            parse.push(ns);
        }
    }
    if ok != iters * (batches + 2) {
        return Err(format!("nos44.fix did not validate ({ok} ok)"));
    }
    // The same through the field index a session keeps (its steady state: a known layout).
    let mut index = FieldIndex::new();
    let mut session = Vec::new();
    ok = 0;
    for b in 0..=batches {
        let ns = assert_no_alloc(
            "parse (session)",
            if b == 0 { iters } else { 0 },
            iters,
            || {
                let r = receive_indexed(
                    std::hint::black_box(&framer),
                    &validator,
                    &mut index,
                    std::hint::black_box(&nos),
                );
                ok += u64::from(matches!(r, Ok(Some(_))));
            },
        );
        if b > 0 {
            session.push(ns);
        }
    }
    if ok != iters * (batches + 2) {
        return Err(format!(
            "nos44.fix did not validate through the index ({ok} ok)"
        ));
    }
    let mut out = EncodeBuffer::with_capacity(512);
    let mut formatter = TimestampFormatter::new();
    let mut now = UtcTimestamp::from_unix_secs(1_795_428_930);
    let mut seq = 1u64;
    let mut len = 0usize;
    let mut encode = Vec::new();
    for b in 0..=batches {
        let ns = assert_no_alloc("encode", if b == 0 { iters } else { 0 }, iters, || {
            now = now.add_nanos(1_000);
            seq += 1;
            len += encode_execution_report(&mut out, &mut formatter, seq, now).len();
        });
        if b > 0 {
            encode.push(ns);
        }
    }
    std::hint::black_box(len);
    println!(
        "codec_parse_ns={:.1} codec_encode_ns={:.1} codec_parse_session_ns={:.1} allocations=0 \
         iters={iters} batches={batches}",
        median(&mut parse),
        median(&mut encode),
        median(&mut session)
    );
    Ok(())
}

// ---- the physical floor -------------------------------------------------------------------------

fn pin(core: usize) -> bool {
    core_affinity::set_for_current(core_affinity::CoreId { id: core })
}

/// Busy-polls a non-blocking socket until `buf` is full; `false` on EOF, error or `deadline`.
fn read_full_spin(s: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> bool {
    let mut got = 0;
    while got < buf.len() {
        match s.read(&mut buf[got..]) {
            Ok(0) => return false,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if Instant::now() > deadline {
                    return false;
                }
                std::hint::spin_loop();
            }
            Err(_) => return false,
        }
    }
    true
}

fn write_full_spin(s: &mut TcpStream, buf: &[u8]) -> bool {
    let mut put = 0;
    while put < buf.len() {
        match s.write(&buf[put..]) {
            Ok(0) => return false,
            Ok(n) => put += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(_) => return false,
        }
    }
    true
}

/// Raw TCP ping-pong over loopback, the message sizes of `nos44.fix` and `er44.fix`, both sides
/// busy-polling non-blocking sockets with `TCP_NODELAY`, each pinned to its own core.
fn floor(o: &Opts) -> Res<()> {
    let orders = o.num("--orders", 100_000).max(1);
    let warmup = o.num("--warmup", 10_000);
    let total = orders + warmup;
    let nos = data_file("nos44.fix");
    let er = data_file("er44.fix");
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (req_len, er2) = (nos.len(), er.clone());
    let server = std::thread::spawn(move || -> bool {
        pin(1);
        let Ok((mut s, _)) = listener.accept() else {
            return false;
        };
        if s.set_nodelay(true).is_err() || s.set_nonblocking(true).is_err() {
            return false;
        }
        let mut buf = vec![0u8; req_len];
        for _ in 0..total {
            let deadline = Instant::now() + WAIT;
            if !read_full_spin(&mut s, &mut buf, deadline) || !write_full_spin(&mut s, &er2) {
                return false;
            }
        }
        true
    });
    pin(0);
    let mut c = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    c.set_nodelay(true).map_err(|e| e.to_string())?;
    c.set_nonblocking(true).map_err(|e| e.to_string())?;
    let mut hist = histogram()?;
    let mut buf = vec![0u8; er.len()];
    let base = Instant::now();
    for i in 0..total {
        let t0 = base.elapsed();
        if !write_full_spin(&mut c, &nos)
            || !read_full_spin(&mut c, &mut buf, Instant::now() + WAIT)
        {
            return Err(format!("ping-pong broke at {i}"));
        }
        if i >= warmup {
            record(&mut hist, (base.elapsed() - t0).as_nanos() as u64);
        }
    }
    drop(c);
    if !server.join().unwrap_or(false) {
        return Err("server side failed".into());
    }
    print_hist("floor", &hist, nos.len(), er.len());
    Ok(())
}

fn histogram() -> Res<Histogram<u64>> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).map_err(|e| e.to_string())
}

fn record(h: &mut Histogram<u64>, ns: u64) {
    h.saturating_record(ns.max(1));
}

fn print_hist(prefix: &str, h: &Histogram<u64>, req: usize, rep: usize) {
    let us = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let sizes = if req > 0 {
        format!(" request_bytes={req} reply_bytes={rep}")
    } else {
        String::new()
    };
    println!(
        "{prefix}_samples={} {prefix}_p50_us={:.2} {prefix}_p99_us={:.2} {prefix}_p999_us={:.2} \
         {prefix}_max_us={:.2}{sizes}",
        h.len(),
        us(0.5),
        us(0.99),
        us(0.999),
        h.max() as f64 / 1000.0
    );
}

// ---- our engine: round trip ---------------------------------------------------------------------

fn engine_settings(idle: IdleStrategy, cpu: Option<usize>) -> EngineSettings {
    let mut s = EngineSettings::default();
    s.idle_strategy = idle;
    s.io_threads = 1;
    s.io_cpus = vec![cpu];
    s.workers = 1;
    s
}

fn storage(kind: &str, dir: &std::path::Path) -> StorageSettings {
    let mut st = StorageSettings::default();
    if kind == "mmap" {
        st.kind = StorageType::Persistent;
        st.directory = dir.to_owned();
        st.durability = DurabilityMode::None;
    } else {
        st.kind = StorageType::Transient;
    }
    st
}

fn fix44_dictionaries() -> DictionarySettings {
    let mut d = DictionarySettings::default();
    d.data_dictionary = Some(spec("FIX44.xml"));
    d
}

fn acceptor_settings(name: &str, st: StorageSettings) -> Res<SessionSettings> {
    SessionSettings::acceptor(name, "FIX.4.4", "V", "C", 0)
        .heart_bt_int(30)
        .reset_on_logon(true)
        .storage(st)
        .dictionaries(fix44_dictionaries())
        .build()
        .map_err(|e| e.to_string())
}

fn initiator_settings(port: u16, ours: &str, st: StorageSettings) -> Res<SessionSettings> {
    SessionSettings::initiator(ours, "FIX.4.4", ours, "V", "127.0.0.1", port)
        .heart_bt_int(30)
        .reset_on_logon(true)
        .storage(st)
        .dictionaries(fix44_dictionaries())
        .build()
        .map_err(|e| e.to_string())
}

/// Initiator-side application, the trading-system model (and the QuickFIX peer's): the strategy
/// runs in the I/O thread's callback, so the report of order `i` is stamped and order `i + 1` is
/// sent from the same callback, with no thread hand-off in the measured path. The harness thread
/// only sends the first order and waits for the last report.
struct Chain {
    base: Instant,
    total: u64,
    warmup: u64,
    /// Stamp of the order in flight (ns since `base`).
    sent_at: AtomicU64,
    reports: AtomicU64,
    hist: parking_lot::Mutex<Histogram<u64>>,
    harness: Thread,
}

impl Application for Chain {
    fn on_message(&self, _: &SessionHandle, msg: MessageRef<'_>, replies: &mut Replies<'_>) {
        if msg.msg_type() != Some(b"8") {
            return;
        }
        let t = self.base.elapsed().as_nanos() as u64;
        let n = self.reports.fetch_add(1, Ordering::AcqRel) + 1;
        if n > self.warmup {
            record(
                &mut self.hist.lock(),
                t.saturating_sub(self.sent_at.load(Ordering::Acquire)),
            );
        }
        if n < self.total {
            self.sent_at
                .store(self.base.elapsed().as_nanos() as u64, Ordering::Release);
            if replies.send(b"D", |e| order(e, n + 1)).is_err() {
                self.harness.unpark();
            }
        } else {
            self.harness.unpark();
        }
    }
}

fn order(e: &mut Encoder<'_>, id: u64) {
    e.field_u64(11, id)
        .field(21, b"1")
        .field(38, b"100")
        .field(40, b"2")
        .field(44, b"101.25")
        .field(54, b"1")
        .field(55, b"MSFT")
        .field(60, b"20261123-10:15:30.125");
}

fn send_retry(h: &SessionHandle, id: u64, deadline: Instant) -> Res<()> {
    loop {
        match h.send(b"D", |e| order(e, id)) {
            Ok(()) => return Ok(()),
            Err(EngineError::Backpressure) if Instant::now() < deadline => std::thread::yield_now(),
            Err(e) => return Err(format!("send {id}: {e}")),
        }
    }
}

fn rtt(o: &Opts) -> Res<()> {
    let orders = o.num("--orders", 100_000).max(1);
    let warmup = o.num("--warmup", 10_000);
    let kind = o.get("--store").unwrap_or("mmap").to_owned();
    let dir = work_dir(&format!("rtt-{kind}"))?;
    let mut venue = EngineBuilder::new(engine_settings(IdleStrategy::BusySpin, Some(1)))
        .listen_port(Some(0))
        .session_with_app(
            acceptor_settings("V", storage(&kind, &dir.join("v")))?,
            Arc::new(ExecutorApp::new()),
        )
        .start()
        .map_err(|e| e.to_string())?;
    let port = venue.listen_addr().ok_or("no listener")?.port();
    let app = Arc::new(Chain {
        base: Instant::now(),
        total: orders + warmup,
        warmup,
        sent_at: AtomicU64::new(0),
        reports: AtomicU64::new(0),
        hist: parking_lot::Mutex::new(histogram()?),
        harness: std::thread::current(),
    });
    let mut client = EngineBuilder::new(engine_settings(IdleStrategy::BusySpin, Some(0)))
        .session_with_app(
            initiator_settings(port, "C", storage(&kind, &dir.join("c")))?,
            app.clone(),
        )
        .start()
        .map_err(|e| e.to_string())?;
    let c = client.session("C").ok_or("no session C")?;
    let r = (|| -> Res<Histogram<u64>> {
        c.wait_for_state(SessionState::Established, WAIT)
            .map_err(|e| format!("logon: {e}"))?;
        c.prewarm_send_buffers(4, 256);
        // Bounded: a lost report ends the wait at the deadline (about 100 us per order is
        // already 10x slower than any run seen).
        let deadline = Instant::now() + WAIT + Duration::from_micros(100 * (orders + warmup));
        app.sent_at
            .store(app.base.elapsed().as_nanos() as u64, Ordering::Release);
        send_retry(&c, 1, deadline)?;
        while app.reports.load(Ordering::Acquire) < orders + warmup {
            if Instant::now() > deadline {
                return Err(format!(
                    "{} of {} reports",
                    app.reports.load(Ordering::Acquire),
                    orders + warmup
                ));
            }
            std::thread::park_timeout(Duration::from_millis(5));
        }
        // Where the time goes, as the engine's own statistics see it (p50 in ns).
        let p50 = |h: &Histogram<u64>| h.value_at_quantile(0.5);
        if let (Ok(cs), Some(Ok(vs))) = (c.stats(), venue.session("V").map(|v| v.stats())) {
            println!(
                "client_send_to_wire_p50_ns={} client_inbound_p50_ns={} \
                 venue_send_to_wire_p50_ns={} venue_inbound_p50_ns={}",
                p50(&cs.send_to_wire),
                p50(&cs.inbound),
                p50(&vs.send_to_wire),
                p50(&vs.inbound)
            );
        }
        Ok(app.hist.lock().clone())
    })();
    client.stop();
    venue.stop();
    let _ = std::fs::remove_dir_all(&dir);
    let hist = r?;
    let prefix = if kind == "mmap" {
        "rtt"
    } else {
        "rtt_mem_store"
    };
    print_hist(prefix, &hist, 0, 0);
    Ok(())
}

// ---- throughput ---------------------------------------------------------------------------------

/// Far-side application: counts orders and stamps the first and the last.
struct Counter {
    base: Instant,
    orders: AtomicU64,
    first: AtomicU64,
    last: AtomicU64,
}

impl Application for Counter {
    fn on_message(&self, _: &SessionHandle, msg: MessageRef<'_>, _: &mut Replies<'_>) {
        if msg.msg_type() == Some(b"D") {
            let t = self.base.elapsed().as_nanos() as u64;
            if self.orders.fetch_add(1, Ordering::Relaxed) == 0 {
                self.first.store(t, Ordering::Relaxed);
            }
            self.last.store(t, Ordering::Relaxed);
        }
    }
}

fn idle_strategy(o: &Opts, default: IdleStrategy) -> IdleStrategy {
    match o.get("--idle") {
        Some("busy-spin") => IdleStrategy::BusySpin,
        Some("backoff") => IdleStrategy::Backoff,
        Some("block") => IdleStrategy::Block,
        _ => default,
    }
}

fn throughput(o: &Opts) -> Res<()> {
    let secs = o.num("--secs", 5).max(1);
    // The engine's default (`IdleStrategy::Backoff`): spinning while busy, parked when idle, so
    // the sending thread gets a core whenever an I/O thread has nothing to do.
    let idle = idle_strategy(o, IdleStrategy::Backoff);
    let dir = work_dir("throughput")?;
    let app = Arc::new(Counter {
        base: Instant::now(),
        orders: AtomicU64::new(0),
        first: AtomicU64::new(0),
        last: AtomicU64::new(0),
    });
    let mut venue = EngineBuilder::new(engine_settings(idle, Some(1)))
        .listen_port(Some(0))
        .session_with_app(
            acceptor_settings("V", storage("memory", &dir))?,
            app.clone(),
        )
        .start()
        .map_err(|e| e.to_string())?;
    let port = venue.listen_addr().ok_or("no listener")?.port();
    let mut client = EngineBuilder::new(engine_settings(idle, Some(0)))
        .session(initiator_settings(port, "C", storage("memory", &dir))?)
        .start()
        .map_err(|e| e.to_string())?;
    let c = client.session("C").ok_or("no session C")?;
    let r = (|| -> Res<(u64, u64)> {
        c.wait_for_state(SessionState::Established, WAIT)
            .map_err(|e| format!("logon: {e}"))?;
        c.prewarm_send_buffers(1024, 256);
        let end = Instant::now() + Duration::from_secs(secs);
        let mut sent = 0u64;
        while Instant::now() < end {
            // No window of our own: when the connection holds 2 MiB unsent, `send` answers
            // `Backpressure` and `send_retry` yields until it takes the order.
            // Batches keep the clock read off the per-message cost.
            for _ in 0..64 {
                send_retry(&c, sent + 1, end + WAIT)?;
                sent += 1;
            }
        }
        let deadline = Instant::now() + WAIT;
        while app.orders.load(Ordering::Relaxed) < sent && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok((sent, app.orders.load(Ordering::Relaxed)))
    })();
    client.stop();
    venue.stop();
    let (sent, got) = r?;
    let span = app
        .last
        .load(Ordering::Relaxed)
        .saturating_sub(app.first.load(Ordering::Relaxed))
        .max(1);
    println!(
        "throughput_msgs_per_s={:.0} sent={sent} received={got} span_s={:.3}",
        got as f64 * 1e9 / span as f64,
        span as f64 / 1e9
    );
    if got != sent {
        return Err(format!("{sent} sent, {got} received"));
    }
    Ok(())
}

// ---- scale --------------------------------------------------------------------------------------

/// `(VmRSS in KiB, utime + stime in clock ticks)` of this process.
fn proc_self() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let ticks = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            let f: Vec<&str> = rest.split_whitespace().collect();
            let p = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            p(11) + p(12)
        })
        .unwrap_or(0);
    (rss, ticks)
}

fn idle(o: &Opts) -> Res<()> {
    let n = o.num("--sessions", 10_000).max(1) as usize;
    let secs = o.num("--secs", 10).max(1);
    // Transient by default: a persistent store pre-allocates a 16 MiB journal segment per
    // session, 160 GB for 10,000 sessions (see docs/PERFORMANCE.md).
    let kind = o.get("--store").unwrap_or("memory").to_owned();
    let dir = work_dir("idle")?;
    // The configuration a user would write for N acceptors, generated here as settings values.
    let mut settings = Vec::with_capacity(n);
    for i in 0..n {
        let s =
            SessionSettings::acceptor(format!("S{i}"), "FIX.4.4", "V", format!("C{i}").as_str(), 0)
                .heart_bt_int(30)
                .storage(storage(&kind, &dir))
                .build()
                .map_err(|e| e.to_string())?;
        settings.push(s);
    }
    let (rss0, _) = proc_self();
    let t0 = Instant::now();
    let mut b = EngineBuilder::new(engine_settings(IdleStrategy::Block, None)).listen_port(Some(0));
    for s in settings {
        b = b.session(s);
    }
    let mut engine = b.start().map_err(|e| e.to_string())?;
    let created = engine.sessions().len();
    let start_s = t0.elapsed().as_secs_f64();
    // Idle means after set-up: the I/O thread registers the sessions after `start` returns
    // (seconds under load), so wait (at most 30 s) for a quiet half-second first.
    let settle = Instant::now();
    let mut last = proc_self().1;
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = proc_self().1;
        if now == last || settle.elapsed() > Duration::from_secs(30) {
            break;
        }
        last = now;
    }
    let settle_s = settle.elapsed().as_secs_f64();
    let (rss1, ticks0) = proc_self();
    let w0 = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let (_, ticks1) = proc_self();
    let wall = w0.elapsed().as_secs_f64();
    engine.stop();
    let _ = std::fs::remove_dir_all(&dir);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc_sysconf_clk_tck() }.max(1) as f64;
    let cpu = (ticks1 - ticks0) as f64 / hz / wall * 100.0;
    println!(
        "idle_rss_kib_per_session={:.2} idle_cpu_percent={:.2} sessions={created} store={kind} \
         rss_before_kib={rss0} rss_after_kib={rss1} start_s={start_s:.2} settle_s={settle_s:.1}",
        rss1.saturating_sub(rss0) as f64 / n as f64,
        cpu
    );
    if created != n {
        return Err(format!("{created} of {n} sessions created"));
    }
    Ok(())
}

unsafe extern "C" {
    fn sysconf(name: i32) -> i64;
}

/// `sysconf(_SC_CLK_TCK)`.
unsafe fn libc_sysconf_clk_tck() -> i64 {
    const SC_CLK_TCK: i32 = 2;
    // SAFETY: sysconf reads a constant; the caller's contract is empty.
    unsafe { sysconf(SC_CLK_TCK) }
}

/// Acceptor-side application for the storm: accepts every unregistered Logon and counts logons.
struct Storm {
    logons: AtomicU64,
    done: AtomicBool,
}

impl Application for Storm {
    fn on_logon(&self, _: &SessionHandle, _: bool) {
        self.logons.fetch_add(1, Ordering::Relaxed);
    }
    fn on_unregistered_acceptor(&self, _: &UnregisteredLogon) -> bool {
        !self.done.load(Ordering::Relaxed)
    }
}

fn storm(o: &Opts) -> Res<()> {
    let n = o.num("--sessions", 1_000).max(1) as usize;
    let kind = o.get("--store").unwrap_or("mmap").to_owned();
    let dir = work_dir("storm")?;
    let app = Arc::new(Storm {
        logons: AtomicU64::new(0),
        done: AtomicBool::new(false),
    });
    let mut es = engine_settings(IdleStrategy::Block, None);
    es.workers = 2;
    es.listen_port = Some(0);
    es.unregistered_acceptor.create_session = true;
    es.unregistered_acceptor.max_sessions = n + 16;
    es.session_defaults.storage = storage(&kind, &dir.join("acceptors"));
    let mut venue = EngineBuilder::new(es)
        .application(app.clone())
        .start()
        .map_err(|e| e.to_string())?;
    let port = venue.listen_addr().ok_or("no listener")?.port();
    let mut b = EngineBuilder::new(engine_settings(IdleStrategy::Block, None));
    for i in 0..n {
        let s = SessionSettings::initiator(
            format!("C{i}"),
            "FIX.4.4",
            format!("C{i}").as_str(),
            "V",
            "127.0.0.1",
            port,
        )
        .heart_bt_int(30)
        .storage(storage("memory", &dir))
        .build()
        .map_err(|e| e.to_string())?;
        b = b.session(s);
    }
    let t0 = Instant::now();
    let mut clients = b.start().map_err(|e| e.to_string())?;
    let deadline = t0 + Duration::from_secs(60);
    while (app.logons.load(Ordering::Relaxed) as usize) < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    let got = app.logons.load(Ordering::Relaxed) as usize;
    app.done.store(true, Ordering::Relaxed);
    clients.stop();
    venue.stop();
    // 1,000 persistent stores pre-allocate about 17 GB: give the disk back at once.
    let _ = std::fs::remove_dir_all(&dir);
    println!("logon_storm_ms={ms:.1} sessions={n} established={got} store={kind}");
    if got < n {
        return Err(format!("{got} of {n} established within 60 s"));
    }
    Ok(())
}

// ---- resend -------------------------------------------------------------------------------------

fn utc_now() -> UtcTimestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    UtcTimestamp::from_unix_nanos(d.as_nanos() as i128)
}

/// What the raw client's reader thread saw.
struct Seen {
    /// Highest `MsgSeqNum <34>` received without `PossDupFlag <43>=Y`.
    last_new: AtomicU64,
    /// Highest `MsgSeqNum <34>` received with `PossDupFlag <43>=Y`, and when (ns since `base`).
    last_dup: AtomicU64,
    last_dup_at: AtomicU64,
    dups: AtomicU64,
    base: Instant,
}

fn reader(mut s: TcpStream, seen: Arc<Seen>, stop: Arc<AtomicBool>) {
    let framer = Framer::default();
    let mut buf = vec![0u8; 1 << 20];
    let mut have = 0usize;
    while !stop.load(Ordering::Relaxed) {
        match s.read(&mut buf[have..]) {
            Ok(0) => return,
            Ok(n) => have += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                continue;
            }
            Err(_) => return,
        }
        // When these bytes arrived: one clock read per read, not per message (the harness is
        // the slower side of a 100,000-message replay otherwise).
        let arrived = seen.base.elapsed().as_nanos() as u64;
        let mut at = 0;
        while let FrameStatus::Complete { len } = framer.next_frame(&buf[at..have]) {
            let m = MessageRef::new(&buf[at..at + len]);
            let seq = m.get(34).and_then(fix_codec::field::parse_u64).unwrap_or(0);
            if m.get(43) == Some(b"Y") {
                seen.dups.fetch_add(1, Ordering::Relaxed);
                seen.last_dup_at.store(arrived, Ordering::Relaxed);
                seen.last_dup.store(seq, Ordering::Release);
            } else {
                seen.last_new.store(seq, Ordering::Release);
            }
            at += len;
        }
        if at == 0 && have == buf.len() {
            return;
        }
        buf.copy_within(at..have, 0);
        have -= at;
    }
}

/// A raw-socket counterparty logs on to our acceptor (mmap store), receives `N` application
/// messages, then asks for all of them again; measured from writing the ResendRequest until the
/// last resent message has arrived.
fn resend(o: &Opts) -> Res<()> {
    let n = o.num("--messages", 100_000).max(1);
    let dir = work_dir("resend")?;
    let mut venue = EngineBuilder::new(engine_settings(IdleStrategy::Block, None))
        .listen_port(Some(0))
        .session(
            SessionSettings::acceptor("V", "FIX.4.4", "V", "C", 0)
                .heart_bt_int(30)
                .storage(storage("mmap", &dir))
                .build()
                .map_err(|e| e.to_string())?,
        )
        .start()
        .map_err(|e| e.to_string())?;
    let port = venue.listen_addr().ok_or("no listener")?.port();
    let v = venue.session("V").ok_or("no session V")?;
    let r = (|| -> Res<(f64, u64)> {
        let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        s.set_nodelay(true).map_err(|e| e.to_string())?;
        let rs = s.try_clone().map_err(|e| e.to_string())?;
        rs.set_read_timeout(Some(Duration::from_millis(20)))
            .map_err(|e| e.to_string())?;
        let seen = Arc::new(Seen {
            last_new: AtomicU64::new(0),
            last_dup: AtomicU64::new(0),
            last_dup_at: AtomicU64::new(0),
            dups: AtomicU64::new(0),
            base: Instant::now(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let th = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || reader(rs, seen, stop))
        };
        let mut out = EncodeBuffer::with_capacity(256);
        let mut f = TimestampFormatter::new();
        let mut e = out.encoder(b"FIX.4.4", b"A");
        e.field_u64(34, 1).field(49, b"C");
        e.field_timestamp(52, utc_now(), TimePrecision::Millis, &mut f);
        e.field(56, b"V")
            .field(98, b"0")
            .field(108, b"30")
            .field(141, b"Y");
        s.write_all(e.finish()).map_err(|e| e.to_string())?;
        v.wait_for_state(SessionState::Established, WAIT)
            .map_err(|e| format!("logon: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(120);
        for i in 0..n {
            loop {
                match v.send(b"8", |e| {
                    e.field(6, b"101.25")
                        .field_u64(11, i + 1)
                        .field(14, b"0")
                        .field_u64(17, i + 1)
                        .field_u64(37, i + 1)
                        .field(38, b"100")
                        .field(39, b"0")
                        .field(54, b"1")
                        .field(55, b"MSFT")
                        .field(150, b"0")
                        .field(151, b"100");
                }) {
                    Ok(()) => break,
                    Err(EngineError::Backpressure) if Instant::now() < deadline => {
                        std::thread::yield_now()
                    }
                    Err(e) => return Err(format!("send {i}: {e}")),
                }
            }
        }
        // The Logon answer is 1; the application messages are 2..=n+1.
        let last = n + 1;
        while seen.last_new.load(Ordering::Acquire) < last {
            if Instant::now() > deadline {
                return Err("the stream did not arrive".into());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let mut e = out.encoder(b"FIX.4.4", b"2");
        e.field_u64(34, 2).field(49, b"C");
        e.field_timestamp(52, utc_now(), TimePrecision::Millis, &mut f);
        e.field(56, b"V").field(7, b"1").field(16, b"0");
        let msg = e.finish();
        let t0 = seen.base.elapsed().as_nanos() as u64;
        s.write_all(msg).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while seen.last_dup.load(Ordering::Acquire) < last {
            if Instant::now() > deadline {
                return Err(format!(
                    "resend incomplete: last PossDup seq {}",
                    seen.last_dup.load(Ordering::Relaxed)
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let ms = seen.last_dup_at.load(Ordering::Relaxed).saturating_sub(t0) as f64 / 1e6;
        stop.store(true, Ordering::Relaxed);
        let dups = seen.dups.load(Ordering::Relaxed);
        drop(s);
        let _ = th.join();
        Ok((ms, dups))
    })();
    venue.stop();
    let _ = std::fs::remove_dir_all(&dir);
    let (ms, dups) = r?;
    println!("resend_100k_ms={ms:.1} messages={n} possdup_received={dups}");
    Ok(())
}

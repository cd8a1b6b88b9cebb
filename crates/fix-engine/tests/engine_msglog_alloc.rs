//! With message logs on, the I/O threads allocate nothing per message once warmed up: every
//! message in and out is copied into a pre-allocated buffer for the log writer (its own test
//! binary, because it installs a counting global allocator; counts are per thread, read on the
//! I/O threads from inside the application callbacks). Persistent (memory-mapped) storage: the
//! transient store's journal is a growing `Vec`, which allocates now and then by design.

mod engine_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use engine_support::*;
use fix_codec::MessageRef;
use fix_engine::config::SessionSettings;
use fix_engine::{Application, EngineBuilder, Replies, SessionHandle, SessionState};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the thread-local counter does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const BURST: u64 = 64;
const WARM_UP_ROUNDS: u64 = 3;
const ROUNDS: u64 = 13;

/// Counts application messages on the I/O thread and reads that thread's allocation counter at
/// the first and the last measured message; optionally answers each order with a report.
struct Probe {
    reply: bool,
    seen: AtomicU64,
    first: AtomicU64,
    last: AtomicU64,
}

impl Probe {
    fn new(reply: bool) -> Arc<Self> {
        Arc::new(Self {
            reply,
            seen: AtomicU64::new(0),
            first: AtomicU64::new(u64::MAX),
            last: AtomicU64::new(u64::MAX),
        })
    }
    fn measured(&self) -> u64 {
        self.last.load(Ordering::Acquire) - self.first.load(Ordering::Acquire)
    }
}

impl Application for Probe {
    fn on_message(&self, _: &SessionHandle, msg: MessageRef<'_>, replies: &mut Replies<'_>) {
        let n = self.seen.fetch_add(1, Ordering::AcqRel) + 1;
        let allocs = ALLOCS.with(Cell::get);
        if n == WARM_UP_ROUNDS * BURST + 1 {
            self.first.store(allocs, Ordering::Release);
        }
        if n == ROUNDS * BURST {
            self.last.store(allocs, Ordering::Release);
        }
        if self.reply {
            let id = msg.get(11).unwrap_or(b"");
            let _ = replies.send(b"8", |e| {
                e.field(37, id)
                    .field(11, id)
                    .field(17, id)
                    .field(150, b"0")
                    .field(39, b"0")
                    .field(55, b"EURUSD")
                    .field(54, b"1");
            });
        }
    }
}

#[test]
fn message_logs_allocate_nothing_on_the_io_threads_after_warm_up() {
    let dir = tempfile::tempdir().unwrap();
    let venue_probe = Probe::new(true);
    let acc = SessionSettings::acceptor("V", "FIX.4.4", "V", "C", 0)
        .heart_bt_int(30)
        .storage(persistent(&dir.path().join("venue-store")))
        .message_log(Some(dir.path().join("venue")))
        .build()
        .unwrap();
    let venue = EngineBuilder::new(engine_settings())
        .listen_port(Some(0))
        .session_with_app(acc, venue_probe.clone())
        .start()
        .unwrap();
    let port = venue.listen_addr().unwrap().port();
    let client_probe = Probe::new(false);
    let ini = SessionSettings::initiator("C", "FIX.4.4", "C", "V", "127.0.0.1", port)
        .heart_bt_int(30)
        .storage(persistent(&dir.path().join("client-store")))
        .message_log(Some(dir.path().join("client")))
        .build()
        .unwrap();
    let client = EngineBuilder::new(engine_settings())
        .session_with_app(ini, client_probe.clone())
        .start()
        .unwrap();
    let c = client.session("C").unwrap();
    c.wait_for_state(SessionState::Established, WAIT).unwrap();
    assert_eq!(c.prewarm_send_buffers(BURST as usize, 256), BURST as usize);
    for round in 1..=ROUNDS {
        for i in 0..BURST {
            c.send(b"D", |e| {
                // Same width every time, so no buffer ever needs to grow after warm-up.
                e.field_u64(11, 100_000 + round * 1000 + i)
                    .field(55, b"EURUSD")
                    .field(54, b"1")
                    .field(38, b"1000000")
                    .field(40, b"2")
                    .field(44, b"1.08765");
            })
            .unwrap();
        }
        // Each round is answered in full before the next, so nothing piles up.
        let deadline = Instant::now() + WAIT;
        while client_probe.seen.load(Ordering::Acquire) < round * BURST {
            assert!(Instant::now() < deadline, "reports of round {round}");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    let (venue_allocs, client_allocs) = (venue_probe.measured(), client_probe.measured());
    assert_eq!(
        venue_allocs, 0,
        "venue I/O thread allocated {venue_allocs} times"
    );
    assert_eq!(
        client_allocs, 0,
        "client I/O thread allocated {client_allocs} times"
    );
    assert_eq!(c.message_log_dropped(), 0);
    drop(client);
    drop(venue);
    // And the lines did reach the files: every order in and out on both sides.
    for (side, dir_word) in [("client", " OUT "), ("venue", " IN  ")] {
        let name = if side == "client" {
            "FIX.4.4-C-V.messages.log"
        } else {
            "FIX.4.4-V-C.messages.log"
        };
        let text = std::fs::read_to_string(dir.path().join(side).join(name)).unwrap();
        let orders = text
            .lines()
            .filter(|l| l.contains(dir_word) && l.contains("\u{1}35=D\u{1}"))
            .count() as u64;
        assert_eq!(orders, ROUNDS * BURST, "{side}");
    }
}

//! The established hot path allocates nothing: receiving an in-sequence application message
//! (framing, header checks, dictionary validation, delivery, sequence commit) and sending one.
//!
//! A counting global allocator counts allocations made by this thread while `COUNTING` is set.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::PathBuf;
use std::sync::Arc;

use fix_codec::{Dictionary, MessageRef, UtcTimestamp, ValidationOptions, Validator};
use fix_session::{Event, MonoTime, Now, Role, SeqState, Session, SessionConfig, SessionIo};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: delegates to the system allocator; the counters are thread-local cells that never
// allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCS.with(|a| a.set(a.get() + 1));
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCS.with(|a| a.set(a.get() + 1));
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A `SessionIo` that writes into preallocated memory, as an engine's would.
struct FixedIo {
    out: Vec<u8>,
    delivered: u64,
    /// Of them, delivered with the index of their fields that validation recorded.
    indexed: u64,
    next_target: u64,
}

impl SessionIo for FixedIo {
    fn send(&mut self, bytes: &[u8]) {
        self.out.clear();
        self.out.extend_from_slice(bytes);
    }
    fn close(&mut self) {}
    fn persist_outbound(&mut self, _seq: u64, _bytes: &[u8]) {}
    fn next_sender_seq_changed(&mut self, _next: u64) {}
    fn next_target_seq_changed(&mut self, next: u64) {
        self.next_target = next;
    }
    fn read_outbound(&mut self, _b: u64, _e: u64, _f: &mut dyn FnMut(u64, &[u8])) {}
    fn reset_store(&mut self) {}
    fn event(&mut self, event: Event<'_>) {
        if let Event::AppMessage(m) = event {
            assert_eq!(m.msg_type(), Some(&b"D"[..]));
            // Indexed or not, lookups find what a scan of the bytes finds.
            let tags = [11, 55, 38, 34, 10, 43, 9999];
            assert_eq!(
                m.get_many(tags),
                MessageRef::new(m.as_bytes()).get_many(tags)
            );
            for t in tags {
                assert_eq!(m.get(t), MessageRef::new(m.as_bytes()).get(t));
            }
            self.indexed += u64::from(m.is_indexed());
            self.delivered += 1;
        }
    }
}

/// A session of `cfg`, logged on at a fixed time (also returned, with its `SendingTime` text).
fn logged_on(cfg: SessionConfig) -> (Session, FixedIo, UtcTimestamp, String) {
    let mut s = Session::new(cfg, SeqState::default()).unwrap();
    let mut io = FixedIo {
        out: Vec::with_capacity(4096),
        delivered: 0,
        indexed: 0,
        next_target: 1,
    };
    let utc = UtcTimestamp::from_unix_secs(1_704_164_645);
    let ts = utc.to_fix_string(fix_codec::TimePrecision::Seconds);
    let now = Now::new(MonoTime::from_secs(1), utc);
    s.connected(now, &mut io);
    let logon = frame(&format!("35=A|34=1|49=TW|52={ts}|56=ISLD|98=0|108=30|"));
    s.handle_input(&logon, now, &mut io);
    (s, io, utc, ts)
}

fn frame(body: &str) -> Vec<u8> {
    fix_testkit::build_frame("FIX.4.4", body)
}

#[test]
fn established_receive_and_send_do_not_allocate() {
    let spec = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../spec/FIX44.xml");
    let dict = Arc::new(Dictionary::from_file(&spec).expect("FIX44 dictionary"));
    let validator = Arc::new(Validator::new(dict, None, ValidationOptions::default()));
    let cfg = SessionConfig::new("FIX.4.4", "ISLD", "TW", Role::Acceptor).with_validator(validator);
    let (mut s, mut io, utc, ts) = logged_on(cfg);
    let mut mono = MonoTime::from_secs(1);
    let now = |m| Now::new(m, utc);
    assert!(s.is_logged_on());

    // Prebuilt orders, several per read buffer.
    let orders: Vec<Vec<u8>> = (2..202)
        .map(|n| {
            frame(&format!(
                "35=D|34={n}|49=TW|52={ts}|56=ISLD|11=ORD{n}|21=1|38=100|40=2|44=10.5|54=1|55=IBM|60={ts}|"
            ))
        })
        .collect();
    // Warm up the encoder's buffer and formatter once.
    s.send_app(b"8", now(mono), &mut io, |e| {
        e.field(37, b"warmup");
    })
    .unwrap();

    // The counter itself works.
    COUNTING.with(|c| c.set(true));
    drop(std::hint::black_box(Vec::<u8>::with_capacity(8)));
    COUNTING.with(|c| c.set(false));
    assert_eq!(ALLOCS.with(|a| a.replace(0)), 1);

    COUNTING.with(|c| c.set(true));
    for chunk in orders.chunks(4) {
        let buf: &[u8] = &chunk.concat_uncounted();
        let mut off = 0;
        while off < buf.len() {
            let st = s.handle_input(&buf[off..], now(mono), &mut io);
            off += st.consumed;
            s.send_app(b"8", now(mono), &mut io, |e| {
                e.field(37, b"X").field(39, b"0");
            })
            .unwrap();
            if !st.yielded {
                break;
            }
        }
        mono = mono.add_nanos(1_000_000);
    }
    COUNTING.with(|c| c.set(false));
    let allocs = ALLOCS.with(Cell::get);
    assert_eq!(io.delivered, 200);
    assert_eq!(
        io.indexed, 200,
        "a validating session delivers indexed messages"
    );
    assert_eq!(io.next_target, 202);
    assert_eq!(MessageRef::new(&io.out).msg_type(), Some(&b"8"[..]));
    assert_eq!(allocs, 0, "the hot path allocated {allocs} times");
}

/// Concatenating frames into a read buffer is test setup: not counted.
trait ConcatUncounted {
    fn concat_uncounted(&self) -> Vec<u8>;
}
impl ConcatUncounted for [Vec<u8>] {
    fn concat_uncounted(&self) -> Vec<u8> {
        let was = COUNTING.with(|c| c.replace(false));
        let v = self.concat();
        COUNTING.with(|c| c.set(was));
        v
    }
}

#[test]
fn without_a_dictionary_delivered_messages_are_read_by_scanning() {
    let (mut s, mut io, utc, ts) =
        logged_on(SessionConfig::new("FIX.4.4", "ISLD", "TW", Role::Acceptor));
    let now = Now::new(MonoTime::from_secs(1), utc);
    let order = frame(&format!(
        "35=D|34=2|49=TW|52={ts}|56=ISLD|11=A|21=1|38=100|40=2|44=10.5|54=1|55=IBM|60={ts}|"
    ));
    s.handle_input(&order, now, &mut io);
    assert_eq!((io.delivered, io.indexed), (1, 0));
}

//! `SessionHandle::send` and `send_with_header` allocate nothing on the calling thread once
//! warmed up (the extra header fields travel in the same pooled buffer as the body). Its own
//! test binary, because it installs a counting global allocator; the count is per thread, so
//! the tests may run in parallel.

mod engine_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use engine_support::*;
use fix_engine::config::Application as AppKind;
use fix_engine::{EngineBuilder, SessionState};

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

fn allocations() -> u64 {
    ALLOCS.with(Cell::get)
}

/// PossResend, OnBehalfOfCompID, DeliverToCompID.
const HEADER: &[(u32, &[u8])] = &[(97, b"Y"), (115, b"DESK"), (128, b"DEST")];

#[test]
fn send_does_not_allocate_after_warm_up() {
    sends_do_not_allocate_after_warm_up(&[]);
}

#[test]
fn send_with_header_does_not_allocate_after_warm_up() {
    sends_do_not_allocate_after_warm_up(HEADER);
}

/// Sends with `send` (no header fields) or `send_with_header`.
fn sends_do_not_allocate_after_warm_up(header: &[(u32, &[u8])]) {
    let (vapp, _vrx) = Recorder::new();
    let mut acc = acceptor("V", "V", "C", transient());
    acc.application = AppKind::None;
    let venue = acceptor_engine(vapp, vec![acc]);
    let port = venue.listen_addr().unwrap().port();
    let (capp, _crx) = Recorder::new();
    let client = EngineBuilder::new(engine_settings())
        .application(capp)
        .session(initiator("C", "C", "V", port, transient()))
        .start()
        .unwrap();
    let c = client.session("C").unwrap();
    c.wait_for_state(SessionState::Established, WAIT).unwrap();
    let _venue_session = venue.session("V").unwrap();
    let order = |i: u64| {
        move |e: &mut fix_codec::Encoder<'_>| {
            e.field_u64(11, i)
                .field(55, b"EURUSD")
                .field(54, b"1")
                .field(38, b"1000000")
                .field(40, b"2")
                .field(44, b"1.08765");
        }
    };
    // Rounds of BURST sends, each waited for, so the pool never needs more than BURST buffers
    // (pre-allocated): the first round warms the buffers up to the message's size, the others
    // must not allocate at all.
    const BURST: u64 = 64;
    assert_eq!(c.prewarm_send_buffers(BURST as usize, 256), BURST as usize);
    let mut expected = 2; // after the Logon
    let mut round = |first: bool| -> u64 {
        let before = allocations();
        for i in 0..BURST {
            if header.is_empty() {
                c.send(b"D", order(i)).unwrap();
            } else {
                c.send_with_header(b"D", header, order(i)).unwrap();
            }
        }
        let after = allocations();
        expected += BURST;
        // A stats request is queued behind the sends on the same I/O thread: when it answers,
        // every buffer of this round is back in the pool.
        let stats = c.stats().unwrap();
        assert_eq!(stats.messages_out, expected - 2, "orders sent");
        if first { 0 } else { after - before }
    };
    round(true);
    let mut allocated = 0;
    let mut sent = 0;
    for _ in 0..10 {
        allocated += round(false);
        sent += BURST;
    }
    assert_eq!(
        allocated,
        0,
        "sending with {} header fields allocated {allocated} times",
        header.len()
    );
    assert_eq!(sent, 640);
}

//! A counting global allocator, so that a benchmark or test binary can prove that a hot path does
//! not allocate. Install it with `#[global_allocator] static A: CountingAllocator = CountingAllocator;`
//! in the binary, then wrap the measured loop in [`assert_no_alloc`].

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    // Per thread, so that allocations made by other threads (a test harness, a timer) do not
    // count; `const` so that touching it never allocates.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static DEALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Forwards to the system allocator and counts calls on the calling thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

#[inline]
fn bump(counter: &'static std::thread::LocalKey<Cell<u64>>) {
    // `try_with`: during thread teardown the counter may be gone; the allocation must still work.
    let _ = counter.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is exactly the system allocator's; counting touches only a thread-local
// `Cell`, which neither allocates nor unwinds.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump(&ALLOCATIONS);
        // SAFETY: forwarded under the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump(&ALLOCATIONS);
        // SAFETY: forwarded under the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump(&ALLOCATIONS);
        // SAFETY: forwarded under the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        bump(&DEALLOCATIONS);
        // SAFETY: forwarded under the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocation calls (`alloc`, `alloc_zeroed`, `realloc`) and deallocations so far on this thread.
/// Only meaningful in a binary whose global allocator is [`CountingAllocator`].
pub fn thread_counts() -> (u64, u64) {
    (ALLOCATIONS.with(Cell::get), DEALLOCATIONS.with(Cell::get))
}

/// Run `f` `warm_up` times, then `iterations` times while counting; panics if any allocation or
/// deallocation happened in the counted loop. Returns the mean nanoseconds per iteration of the
/// counted loop (a rough figure: criterion gives the careful one).
pub fn assert_no_alloc<F: FnMut()>(name: &str, warm_up: u64, iterations: u64, mut f: F) -> f64 {
    for _ in 0..warm_up {
        f();
    }
    let (allocs_before, deallocs_before) = thread_counts();
    let start = std::time::Instant::now();
    for _ in 0..iterations {
        f();
    }
    let elapsed = start.elapsed();
    let (allocs_after, deallocs_after) = thread_counts();
    let (allocs, deallocs) = (
        allocs_after - allocs_before,
        deallocs_after - deallocs_before,
    );
    assert!(
        allocs == 0 && deallocs == 0,
        "{name}: {allocs} allocations and {deallocs} deallocations in {iterations} iterations \
         (the hot path must not allocate)"
    );
    elapsed.as_nanos() as f64 / iterations.max(1) as f64
}

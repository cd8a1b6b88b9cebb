//! Store benchmarks: a sequence-number update, a 200-byte journal append, and reading back a
//! 100k-message range, on the file store with `Durability::None` (the hot-path configuration).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_main};
use fix_store::{MmapStore, SessionStore, StoreOptions};

const NOW: u64 = 1_700_000_000_000_000_000;

fn open(dir: &std::path::Path, name: &str) -> MmapStore {
    MmapStore::open(dir, name, StoreOptions::default(), NOW).expect("open store")
}

fn seq_update(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = open(dir.path(), "seq");
    let mut n = 1u64;
    c.bench_function("store/set_next_incoming", |b| {
        b.iter(|| {
            n = if n >= 1 << 30 { 1 } else { n + 1 };
            s.set_next_incoming(black_box(n)).expect("set");
        })
    });
}

fn append(c: &mut Criterion) {
    append_with(c, "store/append_outbound_200B", false);
    append_with(c, "store/append_outbound_200B_populated", true);
}

/// `populate`: segments are pre-faulted (`MAP_POPULATE`), so the cost is the copy and the stores
/// rather than a page fault every ~20 messages.
fn append_with(c: &mut Criterion, name: &str, populate: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = StoreOptions {
        populate,
        ..StoreOptions::default()
    };
    let mut s = MmapStore::open(dir.path(), "append", opts, NOW).expect("open store");
    let msg = [b'x'; 200];
    // Bound the files on disk: reset (untimed) every RESET_EVERY appends. Segment rolls (one per
    // ~80k messages with 16 MiB segments) happen inside the measurement, as they would on the
    // I/O thread without a maintenance worker.
    const RESET_EVERY: u64 = 500_000;
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                if s.next_outgoing() > RESET_EVERY {
                    s.reset(NOW).expect("reset");
                }
                let room = (RESET_EVERY + 1 - s.next_outgoing()).min(left);
                let start = Instant::now();
                for _ in 0..room {
                    let seq = s.next_outgoing();
                    s.append_outbound(seq, black_box(&msg)).expect("append");
                }
                total += start.elapsed();
                left -= room;
            }
            total
        })
    });
}

fn read_range(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = open(dir.path(), "read");
    let msg = [b'y'; 200];
    for seq in 1..=100_000 {
        s.append_outbound(seq, &msg).expect("append");
    }
    let mut g = c.benchmark_group("store");
    g.sample_size(20);
    g.bench_function("read_outbound_100k", |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            let n = s
                .read_outbound(1, 100_000, &mut |_, m| bytes += m.len())
                .expect("read");
            assert_eq!(n, 100_000);
            black_box(bytes)
        })
    });
    g.finish();
}

mod group {
    #![allow(missing_docs)] // criterion_group! generates an undocumented pub fn
    use super::{append, read_range, seq_update};
    criterion::criterion_group!(benches, seq_update, append, read_range);
}
criterion_main!(group::benches);

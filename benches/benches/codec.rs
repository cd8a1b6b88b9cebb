//! Codec benchmarks: the receive path (frame + scan every field of a FIX.4.4 NewOrderSingle;
//! frame + validate + read the header, as the session does) and the send path (encode a FIX.4.4
//! ExecutionReport of about 200 bytes). One iteration is one
//! message, so criterion's time per iteration is the time per message.
//!
//! Before measuring, each benchmark runs its workload under a counting global allocator and panics
//! if a single allocation happens after warm-up: "no allocation per message" is checked, not hoped.

use criterion::{Criterion, Throughput};
use fix_benches::alloc::{CountingAllocator, assert_no_alloc};
use fix_benches::{
    data_file, encode_execution_report, fix44_validator, frame_and_scan, frame_scan_validate,
    receive as receive_nos,
};
use fix_codec::time::TimestampFormatter;
use fix_codec::{EncodeBuffer, Framer, UtcTimestamp};
use std::hint::black_box;
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Iterations of the counted loop that must not allocate. `cargo test --all-targets` runs this
/// binary without `--bench`, unoptimised: a short check is enough there.
fn alloc_check_iterations() -> u64 {
    if std::env::args().any(|a| a == "--bench") {
        100_000
    } else {
        1_000
    }
}
/// Iterations run first, so that buffers reach their final size.
const ALLOC_CHECK_WARM_UP: u64 = 1_000;

fn receive(c: &mut Criterion) {
    let iterations = alloc_check_iterations();
    let nos = data_file("nos44.fix");
    let framer = Framer::default();
    let expected = frame_and_scan(&framer, &nos).expect("nos44.fix is a valid frame");
    let ns = assert_no_alloc("frame+scan nos44", ALLOC_CHECK_WARM_UP, iterations, || {
        let s = frame_and_scan(black_box(&framer), black_box(&nos));
        assert_eq!(s, Some(expected));
    });
    eprintln!("frame+scan nos44: 0 allocations in {iterations} messages, ~{ns:.0} ns/message");

    let mut g = c.benchmark_group("receive");
    g.throughput(Throughput::Elements(1));
    g.bench_function("frame_scan_nos44", |b| {
        b.iter(|| frame_and_scan(black_box(&framer), black_box(&nos)))
    });

    let validator = fix44_validator();
    let expected = frame_scan_validate(&framer, &validator, &nos);
    assert_eq!(expected, Ok(Some(frame_and_scan(&framer, &nos).unwrap())));
    let ns = assert_no_alloc(
        "frame+scan+validate nos44",
        ALLOC_CHECK_WARM_UP,
        iterations,
        || {
            let s = frame_scan_validate(black_box(&framer), black_box(&validator), black_box(&nos));
            assert_eq!(s, expected);
        },
    );
    eprintln!(
        "frame+scan+validate nos44: 0 allocations in {iterations} messages, ~{ns:.0} ns/message"
    );
    g.bench_function("frame_scan_validate_nos44", |b| {
        b.iter(|| frame_scan_validate(black_box(&framer), black_box(&validator), black_box(&nos)))
    });

    // The session's receive path: frame, validate in one pass, read the header fields.
    let expected = receive_nos(&framer, &validator, &nos);
    assert!(
        matches!(expected, Ok(Some(_))),
        "nos44.fix is valid FIX.4.4"
    );
    let ns = assert_no_alloc(
        "frame+validate+header nos44",
        ALLOC_CHECK_WARM_UP,
        iterations,
        || {
            let r = receive_nos(black_box(&framer), black_box(&validator), black_box(&nos));
            assert_eq!(r, expected);
        },
    );
    eprintln!(
        "frame+validate+header nos44: 0 allocations in {iterations} messages, ~{ns:.0} ns/message"
    );
    g.bench_function("frame_validate_nos44", |b| {
        b.iter(|| receive_nos(black_box(&framer), black_box(&validator), black_box(&nos)))
    });

    // The general validation algorithm alone (what every message cost before the fast path).
    let frame_len = expected.ok().flatten().map_or(nos.len(), |r| r.frame_len);
    g.bench_function("validate_reference_nos44", |b| {
        b.iter(|| black_box(&validator).validate_reference(black_box(&nos[..frame_len])))
    });
    g.finish();
}

fn send(c: &mut Criterion) {
    let iterations = alloc_check_iterations();
    let mut out = EncodeBuffer::default();
    let mut formatter = TimestampFormatter::new();
    let start = UtcTimestamp::from_unix_secs(1_795_428_930);
    let mut seq = 0u64;
    let mut now = start;
    // 1 us between messages: the formatter's cached second changes once per million messages,
    // as it would for a busy session.
    let mut next = move || {
        seq += 1;
        now = now.add_nanos(1_000);
        (seq, now)
    };
    let ns = assert_no_alloc("encode er44", ALLOC_CHECK_WARM_UP, iterations, || {
        let (seq, now) = next();
        black_box(encode_execution_report(
            &mut out,
            &mut formatter,
            black_box(seq),
            black_box(now),
        ));
    });
    eprintln!("encode er44: 0 allocations in {iterations} messages, ~{ns:.0} ns/message");

    let mut g = c.benchmark_group("send");
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode_er44", |b| {
        b.iter(|| {
            let (seq, now) = next();
            encode_execution_report(&mut out, &mut formatter, black_box(seq), black_box(now)).len()
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

fn main() {
    // What `criterion_group!`/`criterion_main!` expand to, written out because the macro's
    // generated `pub fn` has no doc comment and the workspace denies missing docs under clippy.
    let mut c = config().configure_from_args();
    receive(&mut c);
    send(&mut c);
    c.final_summary();
}

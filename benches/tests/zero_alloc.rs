//! The hot paths the benchmarks measure do not allocate. Runs under `cargo test` so that CI
//! catches an allocation without running the benchmarks.

use fix_benches::alloc::{CountingAllocator, assert_no_alloc, thread_counts};
use fix_benches::{
    data_file, encode_execution_report, fix44_validator, frame_and_scan, frame_scan_validate,
    receive,
};
use fix_codec::time::TimestampFormatter;
use fix_codec::{EncodeBuffer, Framer, UtcTimestamp};
use std::hint::black_box;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[test]
fn the_counter_sees_allocations() {
    // Guards the guard: if counting broke, the other tests would pass vacuously.
    let (before, _) = thread_counts();
    let v = black_box(vec![1u8; 64]);
    drop(v);
    let (after, _) = thread_counts();
    assert!(after > before);
    let caught = std::panic::catch_unwind(|| {
        assert_no_alloc("allocating", 1, 10, || {
            black_box(Box::new(7u64));
        })
    });
    assert!(caught.is_err(), "an allocating closure must fail the check");
}

#[test]
fn frame_and_scan_does_not_allocate() {
    let nos = data_file("nos44.fix");
    let framer = Framer::default();
    assert_no_alloc("frame+scan", 100, 2_000, || {
        let s = frame_and_scan(black_box(&framer), black_box(&nos));
        assert_eq!(black_box(s).map(|s| s.fields), Some(18));
    });
}

#[test]
fn encode_does_not_allocate_once_warm() {
    let mut out = EncodeBuffer::default();
    let mut formatter = TimestampFormatter::new();
    let mut seq = 1u64;
    let mut now = UtcTimestamp::from_unix_secs(1_795_428_930);
    assert_no_alloc("encode", 100, 2_000, || {
        seq += 1;
        // 1.3 ms steps: the formatter's cached second changes every few hundred messages.
        now = now.add_nanos(1_300_000);
        let m = encode_execution_report(&mut out, &mut formatter, seq, black_box(now));
        black_box(m);
    });
}

#[test]
fn frame_scan_validate_does_not_allocate() {
    let nos = data_file("nos44.fix");
    let er = data_file("er44.fix");
    let framer = Framer::default();
    let validator = fix44_validator();
    assert_no_alloc("frame+scan+validate", 100, 2_000, || {
        let s = frame_scan_validate(black_box(&framer), black_box(&validator), black_box(&nos));
        assert_eq!(black_box(s).map(|s| s.map(|s| s.fields)), Ok(Some(18)));
        assert_eq!(validator.validate(black_box(&er)), Ok(()));
    });
}

#[test]
fn receive_path_does_not_allocate() {
    let nos = data_file("nos44.fix");
    let framer = Framer::default();
    let validator = fix44_validator();
    // An invalid order too: the general algorithm behind the fast path must not allocate either.
    let bad: Vec<u8> = {
        let text = String::from_utf8(nos.clone()).expect("ASCII");
        let body_start = text.find("35=").expect("MsgType");
        let body = text[body_start..text.find("10=").expect("CheckSum")].replace("40=2", "40=Z");
        let mut m = format!("8=FIX.4.4\x019={}\x01{body}", body.len()).into_bytes();
        let sum = fix_codec::checksum(&m);
        m.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
        m
    };
    assert_no_alloc("receive", 100, 2_000, || {
        let r = receive(black_box(&framer), black_box(&validator), black_box(&nos));
        assert_eq!(black_box(r).map(|r| r.map(|r| r.seq_num)), Ok(Some(1234)));
        let e = receive(black_box(&framer), black_box(&validator), black_box(&bad));
        assert_eq!(e.map_err(|e| e.tag), Err(Some(40)));
    });
}

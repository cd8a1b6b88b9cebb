//! Runs one codec workload in a loop, for profilers that count instructions
//! (`valgrind --tool=callgrind`) or sample (`perf record`). Criterion's timing loop would
//! drown the workload in harness code; this loop is as thin as the workload allows.
//!
//! ```sh
//! cargo build --release -p fix-benches --example profile
//! valgrind --tool=callgrind target/release/examples/profile receive 20000
//! ```
//!
//! Per-message instruction counts: run twice with different iteration counts and divide the
//! difference in `Ir` by the difference in iterations (this removes start-up and dictionary
//! loading).

use fix_benches::{
    data_file, encode_execution_report, fix44_validator, frame_and_scan, frame_scan_validate,
    receive, receive_indexed,
};
use fix_codec::time::TimestampFormatter;
use fix_codec::{EncodeBuffer, Framer, UtcTimestamp};
use std::hint::black_box;

fn main() {
    let mut args = std::env::args().skip(1);
    let workload = args.next().unwrap_or_else(|| "receive".to_owned());
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let nos = data_file("nos44.fix");
    let framer = Framer::default();
    let validator = fix44_validator();
    let mut out = EncodeBuffer::default();
    let mut formatter = TimestampFormatter::new();
    let mut now = UtcTimestamp::from_unix_secs(1_795_428_930);
    let mut ok = 0u64;
    match workload.as_str() {
        "scan" => {
            for _ in 0..n {
                ok += u64::from(frame_and_scan(black_box(&framer), black_box(&nos)).is_some());
            }
        }
        "validate" => {
            for _ in 0..n {
                let r =
                    frame_scan_validate(black_box(&framer), black_box(&validator), black_box(&nos));
                ok += u64::from(matches!(r, Ok(Some(_))));
            }
        }
        "receive" => {
            for _ in 0..n {
                let r = receive(black_box(&framer), black_box(&validator), black_box(&nos));
                ok += u64::from(matches!(r, Ok(Some(_))));
            }
        }
        "receive_indexed" => {
            // As a session receives: through its field index (known layouts after the first).
            let mut index = fix_codec::FieldIndex::new();
            for _ in 0..n {
                let r = receive_indexed(
                    black_box(&framer),
                    black_box(&validator),
                    &mut index,
                    black_box(&nos),
                );
                ok += u64::from(matches!(r, Ok(Some(_))));
            }
        }
        "reference" => {
            // frame + scan + the general validation algorithm alone (no fast path).
            for _ in 0..n {
                let s = frame_and_scan(black_box(&framer), black_box(&nos));
                let r = s.map(|s| black_box(&validator).validate_reference(&nos[..s.frame_len]));
                ok += u64::from(matches!(r, Some(Ok(()))));
            }
        }
        "encode" => {
            for seq in 0..n {
                now = now.add_nanos(1_000);
                let m = encode_execution_report(&mut out, &mut formatter, black_box(seq), now);
                ok += u64::from(!black_box(m).is_empty());
            }
        }
        other => {
            eprintln!(
                "unknown workload {other}: scan, validate, receive, receive_indexed, reference, encode"
            );
            std::process::exit(2);
        }
    }
    assert_eq!(ok, n, "every message must pass");
    println!("{workload}: {n} messages");
}

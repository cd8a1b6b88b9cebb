//! The harness binary behind `scripts/bench.sh`: each measure that does not busy-spin runs at a
//! small size and prints the keys the script collects, with plausible values. (`floor` and `rtt`
//! spin two threads, which tests on a shared 2-core machine must not do; `bench.sh --quick`
//! covers them.)

use std::collections::HashMap;
use std::process::Command;

/// Runs `fixbench ARGS`, requires success, and returns every `key=value` it printed.
fn run(args: &[&str]) -> HashMap<String, f64> {
    let out = Command::new(env!("CARGO_BIN_EXE_fixbench"))
        .args(args)
        .output()
        .expect("fixbench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "fixbench {args:?} failed: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .split_whitespace()
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect()
}

#[test]
fn codec_reports_both_figures_without_allocating() {
    let v = run(&["codec", "--iters", "200", "--batches", "3"]);
    assert!(v["codec_parse_ns"] > 0.0, "{v:?}");
    assert!(v["codec_encode_ns"] > 0.0, "{v:?}");
    assert_eq!(v["allocations"], 0.0);
}

#[test]
fn throughput_delivers_every_order_sent() {
    let v = run(&["throughput", "--secs", "1"]);
    assert!(v["received"] > 0.0 && v["received"] == v["sent"], "{v:?}");
    assert!(v["throughput_msgs_per_s"] > 0.0, "{v:?}");
}

#[test]
fn resend_brings_back_every_message() {
    let v = run(&["resend", "--messages", "500"]);
    // 500 application messages plus the gap fill over the Logon, all with PossDupFlag.
    assert_eq!(v["possdup_received"], 501.0, "{v:?}");
    assert!(v["resend_100k_ms"] > 0.0, "{v:?}");
}

#[test]
fn storm_establishes_every_unregistered_session() {
    let v = run(&["storm", "--sessions", "20", "--store", "memory"]);
    assert_eq!(v["established"], 20.0, "{v:?}");
    assert!(v["logon_storm_ms"] > 0.0, "{v:?}");
}

#[test]
fn idle_sessions_are_created_and_measured() {
    let v = run(&["idle", "--sessions", "200", "--secs", "1"]);
    assert_eq!(v["sessions"], 200.0, "{v:?}");
    assert!(v["idle_rss_kib_per_session"] > 0.0, "{v:?}");
    assert!(v["idle_cpu_percent"] >= 0.0, "{v:?}");
}

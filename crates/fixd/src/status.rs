//! Status of live sessions: state, sequence numbers and latency percentiles.

use std::fmt::Write as _;

use fix_engine::{Engine, SessionHandle, StatsSnapshot};
use hdrhistogram::Histogram;

/// `n=.. p50=.. p90=.. p99=.. p99.9=.. max=..` of a histogram of nanoseconds, in microseconds.
pub fn percentiles(h: &Histogram<u64>) -> String {
    if h.is_empty() {
        return "n=0".to_owned();
    }
    let us = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    format!(
        "n={} p50={:.1}us p90={:.1}us p99={:.1}us p99.9={:.1}us max={:.1}us",
        h.len(),
        us(0.5),
        us(0.9),
        us(0.99),
        us(0.999),
        h.max() as f64 / 1000.0
    )
}

/// One line for one session, e.g.
/// `TW44 ESTABLISHED seq out=5 in=7 | inbound n=3 p50=4.1us ... | send-to-wire n=0`.
///
/// Latency comes from the session's I/O thread ([`SessionHandle::stats`]); when it cannot be
/// had (the engine is stopping, the thread is busy) the line says so instead of waiting.
pub fn session_line(h: &SessionHandle) -> String {
    let mut line = format!(
        "{} {} seq out={} in={}",
        h.name(),
        h.state(),
        h.next_sender_seq(),
        h.next_target_seq()
    );
    let dropped = h.message_log_dropped();
    if dropped > 0 {
        let _ = write!(line, " log-dropped={dropped}");
    }
    match h.stats() {
        Ok(s) => {
            let _ = write!(line, " | {}", stats_text(&s));
        }
        Err(e) => {
            let _ = write!(line, " | stats unavailable: {e}");
        }
    }
    line
}

/// `inbound <percentiles> | send-to-wire <percentiles>` of a snapshot.
pub fn stats_text(s: &StatsSnapshot) -> String {
    format!(
        "inbound {} | send-to-wire {}",
        percentiles(&s.inbound),
        percentiles(&s.send_to_wire)
    )
}

/// One line per live session, sorted by name.
pub fn lines(engine: &Engine) -> Vec<String> {
    engine.sessions().iter().map(session_line).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_an_empty_and_a_filled_histogram() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        assert_eq!(percentiles(&h), "n=0");
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let p = percentiles(&h);
        assert!(
            p.starts_with("n=1000 p50=500.") || p.starts_with("n=1000 p50=499."),
            "{p}"
        );
        assert!(p.contains(" p99.9=999."), "{p}");
        assert!(
            p.ends_with(" max=1000.0us") || p.contains("max=1000."),
            "{p}"
        );
    }
}

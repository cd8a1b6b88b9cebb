//! Per-session latency statistics (`hdrhistogram`), owned by the I/O thread and copied out on
//! request, so recording takes no lock.

use hdrhistogram::Histogram;

/// Highest value recorded, in nanoseconds (one minute); larger values are clamped.
const MAX_NANOS: u64 = 60_000_000_000;

/// Significant digits kept: 2 (1 % precision) is plenty for a per-session view and makes a
/// histogram about 30 KiB instead of 216 KiB at 3 digits.
const SIGNIFICANT_DIGITS: u8 = 2;

/// The I/O thread's recording side.
///
/// The histograms are allocated on the first recorded sample: most sessions of a large
/// deployment sit idle (or never log on), and two eager histograms were most of an idle
/// session's memory.
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionStats {
    inbound: Option<Box<Histogram<u64>>>,
    to_wire: Option<Box<Histogram<u64>>>,
    pub messages_in: u64,
    pub messages_out: u64,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_NANOS, SIGNIFICANT_DIGITS).unwrap_or_else(|_| {
        // Unreachable with these constant bounds; a plain auto-resizing histogram is the fallback.
        Histogram::new(SIGNIFICANT_DIGITS)
            .unwrap_or_else(|_| Histogram::new(1).expect("1 significant digit"))
    })
}

#[inline]
fn record(h: &mut Option<Box<Histogram<u64>>>, nanos: u64) {
    // One allocation per session lifetime, on its first sample, not per message.
    h.get_or_insert_with(|| Box::new(histogram()))
        .saturating_record(nanos.clamp(1, MAX_NANOS));
}

fn copy(h: &Option<Box<Histogram<u64>>>) -> Histogram<u64> {
    match h {
        Some(h) => (**h).clone(),
        None => histogram(),
    }
}

impl SessionStats {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    #[inline]
    pub(crate) fn record_inbound(&mut self, nanos: u64) {
        self.messages_in += 1;
        record(&mut self.inbound, nanos);
    }

    #[inline]
    pub(crate) fn record_to_wire(&mut self, nanos: u64) {
        self.messages_out += 1;
        record(&mut self.to_wire, nanos);
    }

    /// Whether any histogram has been allocated yet (idle sessions own none).
    #[cfg(test)]
    fn allocated(&self) -> bool {
        self.inbound.is_some() || self.to_wire.is_some()
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            inbound: copy(&self.inbound),
            send_to_wire: copy(&self.to_wire),
            messages_in: self.messages_in,
            messages_out: self.messages_out,
            message_log_dropped: 0,
        }
    }
}

/// A copy of one session's statistics. Times are in nanoseconds.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Inbound processing time: from the start of the session's handling of received bytes to
    /// the end of the application's callback, per application message.
    pub inbound: Histogram<u64>,
    /// Send-to-wire time: from [`crate::SessionHandle::send`] to the bytes being handed to the
    /// socket (or queued in the connection's outbound buffer when the socket is full).
    pub send_to_wire: Histogram<u64>,
    /// Application messages received.
    pub messages_in: u64,
    /// Application messages sent through the API.
    pub messages_out: u64,
    /// Message log lines dropped because the log writer fell behind (see
    /// [`crate::SessionHandle::message_log_dropped`]).
    pub message_log_dropped: u64,
}

impl StatsSnapshot {
    /// `(p50, p99, p99.9, max)` of a histogram in nanoseconds; zeros when it is empty.
    pub fn percentiles(h: &Histogram<u64>) -> (u64, u64, u64, u64) {
        if h.is_empty() {
            return (0, 0, 0, 0);
        }
        (
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max(),
        )
    }

    /// One line, e.g. `in n=10 p50=1.2us p99=3.4us p99.9=5.0us max=7.1us | out ...`.
    pub fn summary(&self) -> String {
        fn one(h: &Histogram<u64>) -> String {
            let (p50, p99, p999, max) = StatsSnapshot::percentiles(h);
            let us = |n: u64| n as f64 / 1000.0;
            format!(
                "n={} p50={:.1}us p99={:.1}us p99.9={:.1}us max={:.1}us",
                h.len(),
                us(p50),
                us(p99),
                us(p999),
                us(max)
            )
        }
        format!(
            "in {} | out {}",
            one(&self.inbound),
            one(&self.send_to_wire)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_clamp_and_summarise() {
        let mut s = SessionStats::new();
        assert!(!s.allocated(), "an idle session owns no histogram");
        s.record_inbound(0);
        assert!(s.allocated());
        s.record_inbound(1_000);
        s.record_to_wire(u64::MAX);
        let snap = s.snapshot();
        assert_eq!(snap.messages_in, 2);
        assert_eq!(snap.inbound.len(), 2);
        let (p50, _, _, _) = StatsSnapshot::percentiles(&snap.inbound);
        assert!(p50 <= 1, "{p50}");
        let (_, _, _, max) = StatsSnapshot::percentiles(&snap.send_to_wire);
        // 2 significant digits: within 1 % of the clamp value.
        assert!(
            (MAX_NANOS..=MAX_NANOS + MAX_NANOS / 100).contains(&max),
            "{max}"
        );
        assert!(snap.summary().starts_with("in n=2 "), "{}", snap.summary());
        let idle = SessionStats::new().snapshot();
        assert_eq!(StatsSnapshot::percentiles(&idle.inbound), (0, 0, 0, 0));
        assert_eq!(idle.send_to_wire.len(), 0);
    }

    #[test]
    fn two_digit_precision_at_microseconds() {
        let mut s = SessionStats::new();
        for _ in 0..100 {
            s.record_to_wire(12_345);
        }
        let (p50, _, _, max) = StatsSnapshot::percentiles(&s.snapshot().send_to_wire);
        assert!(
            (12_345 * 99 / 100..=12_345 * 101 / 100).contains(&p50),
            "{p50}"
        );
        assert!((12_345..=12_345 * 101 / 100).contains(&max), "{max}");
    }
}

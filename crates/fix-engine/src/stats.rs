//! Per-session latency statistics (`hdrhistogram`), owned by the I/O thread and copied out on
//! request, so recording takes no lock.

use hdrhistogram::Histogram;

/// Highest value recorded, in nanoseconds (one minute); larger values are clamped.
const MAX_NANOS: u64 = 60_000_000_000;

/// The I/O thread's recording side.
#[derive(Debug, Clone)]
pub(crate) struct SessionStats {
    pub inbound: Histogram<u64>,
    pub to_wire: Histogram<u64>,
    pub messages_in: u64,
    pub messages_out: u64,
}

fn histogram() -> Histogram<u64> {
    // 3 significant digits over 1 ns..60 s: about 30 KiB, allocated once per session.
    Histogram::new_with_bounds(1, MAX_NANOS, 3).unwrap_or_else(|_| {
        // Unreachable with these constant bounds; a plain auto-resizing histogram is the fallback.
        Histogram::new(3).unwrap_or_else(|_| Histogram::new(1).expect("1 significant digit"))
    })
}

impl SessionStats {
    pub(crate) fn new() -> Self {
        Self {
            inbound: histogram(),
            to_wire: histogram(),
            messages_in: 0,
            messages_out: 0,
        }
    }

    #[inline]
    pub(crate) fn record_inbound(&mut self, nanos: u64) {
        self.messages_in += 1;
        self.inbound.saturating_record(nanos.clamp(1, MAX_NANOS));
    }

    #[inline]
    pub(crate) fn record_to_wire(&mut self, nanos: u64) {
        self.messages_out += 1;
        self.to_wire.saturating_record(nanos.clamp(1, MAX_NANOS));
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            inbound: self.inbound.clone(),
            send_to_wire: self.to_wire.clone(),
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
        s.record_inbound(0);
        s.record_inbound(1_000);
        s.record_to_wire(u64::MAX);
        let snap = s.snapshot();
        assert_eq!(snap.messages_in, 2);
        assert_eq!(snap.inbound.len(), 2);
        let (_, _, _, max) = StatsSnapshot::percentiles(&snap.send_to_wire);
        assert!(
            (MAX_NANOS..=MAX_NANOS + MAX_NANOS / 500).contains(&max),
            "{max}"
        );
        assert!(snap.summary().starts_with("in n=2 "), "{}", snap.summary());
        assert_eq!(
            StatsSnapshot::percentiles(&SessionStats::new().inbound),
            (0, 0, 0, 0)
        );
    }
}

//! The real clocks, turned into the session's [`Now`].

use std::cell::Cell;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fix_codec::UtcTimestamp;
use fix_session::{MonoTime, Now};

/// A monotonic origin shared by every thread of one engine, so deadlines computed on one thread
/// mean the same on another.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    origin: Instant,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }

    /// Monotonic time since the engine started.
    pub(crate) fn mono(&self) -> MonoTime {
        self.mono_of(Instant::now())
    }

    /// `at` on this clock (the origin when `at` is earlier).
    pub(crate) fn mono_of(&self, at: Instant) -> MonoTime {
        nanos(at.saturating_duration_since(self.origin))
    }
}

fn nanos(d: Duration) -> MonoTime {
    MonoTime::from_nanos(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// How often [`WallClock`] re-reads the system's wall clock.
pub(crate) const WALL_RESYNC: Duration = Duration::from_millis(100);

/// Both clocks for one thread at the price of one read: UTC is the monotonic time plus an offset
/// taken from the system's wall clock at most every [`WALL_RESYNC`]. A clock read costs 25-30 ns
/// on the virtual machines we measure on, and the hot path used to take two per `Now`. Both
/// clocks are slewed alike by NTP, so the offset holds between re-reads; a step of the wall clock
/// shows within [`WALL_RESYNC`].
#[derive(Debug)]
pub(crate) struct WallClock {
    clock: Clock,
    /// UTC minus monotonic, in nanoseconds.
    offset: Cell<i128>,
    /// Monotonic nanoseconds of the last re-read (`None` before the first).
    synced_at: Cell<Option<u64>>,
}

impl WallClock {
    pub(crate) fn new(clock: Clock) -> Self {
        Self {
            clock,
            offset: Cell::new(0),
            synced_at: Cell::new(None),
        }
    }

    /// Monotonic time, one read.
    pub(crate) fn mono(&self) -> MonoTime {
        self.clock.mono()
    }

    /// `at` on the monotonic clock.
    pub(crate) fn mono_of(&self, at: Instant) -> MonoTime {
        self.clock.mono_of(at)
    }

    /// Both clocks, one read (two when the offset is due for a re-read).
    pub(crate) fn now(&self) -> Now {
        self.now_at(self.clock.mono())
    }

    /// Both clocks at monotonic time `mono`, read by the caller just now.
    pub(crate) fn now_at(&self, mono: MonoTime) -> Now {
        let m = mono.as_nanos();
        let due = self
            .synced_at
            .get()
            .is_none_or(|t| m.saturating_sub(t) >= WALL_RESYNC.as_nanos() as u64 || m < t);
        if due {
            self.offset.set(i128::from(unix_nanos()) - i128::from(m));
            self.synced_at.set(Some(m));
        }
        Now::new(
            mono,
            UtcTimestamp::from_unix_nanos(i128::from(m) + self.offset.get()),
        )
    }
}

/// Unix time in nanoseconds (0 if the clock is before 1970).
pub(crate) fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derived_wall_clock_follows_the_system_one() {
        let w = WallClock::new(Clock::new());
        for _ in 0..3 {
            let before = unix_nanos() as i128;
            let now = w.now();
            let after = unix_nanos() as i128;
            let utc = now.utc.unix_nanos();
            // Within the reads around it, give or take what the offset's own reads took.
            assert!(
                utc >= before - 1_000_000 && utc <= after + 1_000_000,
                "{before} <= {utc} <= {after}"
            );
            std::thread::sleep(WALL_RESYNC / 2);
        }
        // The same monotonic instant gives the same UTC: one offset between re-reads.
        let m = w.mono();
        assert_eq!(w.now_at(m).utc, w.now_at(m).utc);
    }
}

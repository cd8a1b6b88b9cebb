//! The real clocks, turned into the session's [`Now`].

use std::time::{Instant, SystemTime, UNIX_EPOCH};

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
        MonoTime::from_nanos(u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    /// Both clocks.
    pub(crate) fn now(&self) -> Now {
        Now::new(self.mono(), utc_now())
    }
}

/// The wall clock as a FIX timestamp.
pub(crate) fn utc_now() -> UtcTimestamp {
    UtcTimestamp::from_unix_nanos(unix_nanos() as i128)
}

/// Unix time in nanoseconds (0 if the clock is before 1970).
pub(crate) fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

//! Time as the session sees it: a monotonic instant for timers and a UTC timestamp for the wire.
//!
//! The two are distinct types on purpose: timers must never jump when the wall clock is stepped, and
//! `SendingTime <52>` must never be derived from a monotonic counter.

use fix_codec::UtcTimestamp;

/// A monotonic instant: nanoseconds from an arbitrary, fixed origin chosen by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MonoTime(pub u64);

impl MonoTime {
    /// The origin.
    pub const ZERO: Self = Self(0);

    /// From nanoseconds.
    pub const fn from_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// From milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms.saturating_mul(1_000_000))
    }

    /// From whole seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs.saturating_mul(1_000_000_000))
    }

    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// `self + nanos`, saturating (a deadline at the end of time is "never").
    pub const fn add_nanos(self, nanos: u64) -> Self {
        Self(self.0.saturating_add(nanos))
    }

    /// Nanoseconds elapsed from `earlier` to `self` (zero if `earlier` is later).
    pub const fn since(self, earlier: Self) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// The current time, passed into every session call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// For timers (heartbeats, timeouts).
    pub mono: MonoTime,
    /// For `SendingTime <52>` and the SendingTime accuracy check.
    pub utc: UtcTimestamp,
}

impl Now {
    /// Both clocks.
    pub const fn new(mono: MonoTime, utc: UtcTimestamp) -> Self {
        Self { mono, utc }
    }
}

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
///
/// The monotonic time itself comes from the CPU's time-stamp counter when it is invariant (it
/// ticks at a constant rate whatever the power state: CPUID `0x8000_0007` EDX bit 8, Linux's
/// `nonstop_tsc`): one `rdtsc` (10 ns here) scaled by a rate measured against the system's
/// monotonic clock, instead of `Instant::now` and its conversion (26 ns). The rate is measured
/// again at every re-read of the system clock, at most [`WALL_RESYNC`] apart, and the derived
/// time never goes backwards; until the first measurement (the first 10 ms of the thread),
/// and on CPUs without an invariant counter, every read is the system's.
#[derive(Debug)]
pub(crate) struct WallClock {
    clock: Clock,
    /// UTC minus monotonic, in nanoseconds.
    offset: Cell<i128>,
    /// Monotonic nanoseconds of the last re-read (`None` before the first).
    synced_at: Cell<Option<u64>>,
    tsc: Cell<TscScale>,
    /// The last monotonic time this clock gave (what it never goes below).
    last: Cell<u64>,
}

/// The counter at a point of the system's monotonic clock, and the counter's rate.
#[derive(Debug, Clone, Copy)]
struct TscScale {
    /// No invariant counter: always read the system clock.
    usable: bool,
    /// Counter and monotonic nanoseconds at the last calibration point (`mono == u64::MAX`:
    /// none yet).
    tsc: u64,
    mono: u64,
    /// Nanoseconds per tick, as a 32.32 fixed-point number; 0 until measured.
    mult: u64,
    /// Ticks after `tsc` within which the rate is used without looking at the system clock.
    span: u64,
}

/// Most ticks between the two counter reads around a system clock read for the pair to count
/// (about 4 - 8 us at 2.5 - 5 GHz; the read itself takes 26 ns).
const MAX_PAIR_TICKS: u64 = 20_000;

/// Shortest interval over which the counter's rate is measured: 10 ms makes a rate whose error
/// is a few parts per million, a few hundred nanoseconds over a [`WALL_RESYNC`].
const MIN_CALIBRATION: Duration = Duration::from_millis(10);

#[cfg(target_arch = "x86_64")]
fn invariant_tsc() -> bool {
    let max_ext = std::arch::x86_64::__cpuid(0x8000_0000).eax;
    max_ext >= 0x8000_0007 && std::arch::x86_64::__cpuid(0x8000_0007).edx & (1 << 8) != 0
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn rdtsc() -> u64 {
    // SAFETY: RDTSC exists on every x86_64 CPU and has no side effect.
    unsafe { std::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
fn invariant_tsc() -> bool {
    false
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn rdtsc() -> u64 {
    0
}

impl WallClock {
    pub(crate) fn new(clock: Clock) -> Self {
        Self {
            clock,
            offset: Cell::new(0),
            synced_at: Cell::new(None),
            tsc: Cell::new(TscScale {
                usable: invariant_tsc(),
                tsc: 0,
                mono: u64::MAX,
                mult: 0,
                span: 0,
            }),
            last: Cell::new(0),
        }
    }

    /// Monotonic time, one read (of the time-stamp counter, when it can stand for the clock).
    #[inline]
    pub(crate) fn mono(&self) -> MonoTime {
        let sc = self.tsc.get();
        if !sc.usable {
            return self.clock.mono();
        }
        let dt = rdtsc().wrapping_sub(sc.tsc);
        let m = if sc.mult != 0 && dt < sc.span {
            sc.mono + ((u128::from(dt) * u128::from(sc.mult)) >> 32) as u64
        } else {
            self.calibrate(sc)
        };
        let m = m.max(self.last.get());
        self.last.set(m);
        MonoTime::from_nanos(m)
    }

    /// Reads the system clock, measures the counter's rate since the last calibration point
    /// when that lies far enough back, and makes this the new point. Returns the system's time.
    #[cold]
    fn calibrate(&self, mut sc: TscScale) -> u64 {
        // The counter read just around the system clock: a pair taken across a preemption
        // would give a wrong rate, so a loose one only reports the time.
        let t0 = rdtsc();
        let m = self.clock.mono().as_nanos();
        let t1 = rdtsc();
        if t1.wrapping_sub(t0) > MAX_PAIR_TICKS {
            return m;
        }
        let t = t0 + (t1 - t0) / 2;
        let min = MIN_CALIBRATION.as_nanos() as u64;
        if sc.mono == u64::MAX || m < sc.mono || t <= sc.tsc {
            // First call, or something moved backwards: start over from here.
            sc.tsc = t;
            sc.mono = m;
            sc.mult = 0;
        } else if m - sc.mono >= min {
            let mult = (u128::from(m - sc.mono) << 32) / u128::from(t - sc.tsc);
            sc.mult = u64::try_from(mult).unwrap_or(0);
            sc.tsc = t;
            sc.mono = m;
            // Ticks in one re-read interval, at this rate.
            sc.span = if sc.mult == 0 {
                0
            } else {
                u64::try_from(
                    (u128::from(WALL_RESYNC.as_nanos() as u64) << 32) / u128::from(sc.mult),
                )
                .unwrap_or(0)
            };
        } else {
            // Too close to the last point to measure a rate: keep it, and the rate, as they are.
            sc.mult = if t.wrapping_sub(sc.tsc) < sc.span {
                sc.mult
            } else {
                0
            };
        }
        self.tsc.set(sc);
        m
    }

    /// `at` on the monotonic clock.
    pub(crate) fn mono_of(&self, at: Instant) -> MonoTime {
        self.clock.mono_of(at)
    }

    /// Both clocks, one read (two when the offset is due for a re-read).
    pub(crate) fn now(&self) -> Now {
        self.now_at(self.mono())
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

    #[test]
    fn the_counter_derived_clock_follows_the_system_one_and_never_goes_back() {
        let clock = Clock::new();
        let w = WallClock::new(clock);
        let end = Instant::now() + Duration::from_millis(350);
        let (mut last, mut reads, mut worst) = (0u64, 0u64, 0u64);
        // Bounded by time: over three re-read intervals, so the rate is measured and re-measured.
        while Instant::now() < end {
            let before = clock.mono().as_nanos();
            let m = w.mono().as_nanos();
            let after = clock.mono().as_nanos();
            assert!(m >= last, "went back: {m} < {last}");
            last = m;
            // Within the system reads around it, give or take the rate's error.
            let off = before.saturating_sub(m).max(m.saturating_sub(after));
            worst = worst.max(off);
            reads += 1;
            if reads % 1024 == 0 {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        assert!(worst < 50_000, "derived clock off by {worst} ns");
        assert!(reads > 1000);
    }

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

//! What an I/O thread does when an iteration of its loop found no work.

use crate::config::IdleStrategy;

/// Spins of the backoff strategy before it starts yielding.
const BACKOFF_SPINS: u32 = 200;
/// Yields of the backoff strategy before it parks (blocks in the poller).
const BACKOFF_YIELDS: u32 = 50;

/// Per-thread idle state: turns "no work this iteration" into a poll timeout.
#[derive(Debug)]
pub(crate) struct Idle {
    strategy: IdleStrategy,
    idle_iterations: u32,
}

/// How the next poll should wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Poll with a zero timeout.
    Spin,
    /// Yield the CPU, then poll with a zero timeout.
    Yield,
    /// Block in the poller until an event, a wake-up, or the next timer.
    Park,
}

impl Idle {
    pub(crate) fn new(strategy: IdleStrategy) -> Self {
        Self {
            strategy,
            idle_iterations: 0,
        }
    }

    /// The thread never blocks in the poller (`BusySpin`).
    pub(crate) fn is_busy_spin(&self) -> bool {
        self.strategy == IdleStrategy::BusySpin
    }

    /// Called after each iteration with whether it did any work.
    pub(crate) fn next(&mut self, worked: bool) -> Wait {
        if worked {
            self.idle_iterations = 0;
            // Work tends to come in bursts: look again at once whatever the strategy.
            return Wait::Spin;
        }
        self.idle_iterations = self.idle_iterations.saturating_add(1);
        match self.strategy {
            IdleStrategy::BusySpin => Wait::Spin,
            IdleStrategy::Block => Wait::Park,
            IdleStrategy::Backoff => {
                if self.idle_iterations <= BACKOFF_SPINS {
                    Wait::Spin
                } else if self.idle_iterations <= BACKOFF_SPINS + BACKOFF_YIELDS {
                    Wait::Yield
                } else {
                    Wait::Park
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_spins_then_yields_then_parks_and_resets_on_work() {
        let mut i = Idle::new(IdleStrategy::Backoff);
        for _ in 0..BACKOFF_SPINS {
            assert_eq!(i.next(false), Wait::Spin);
        }
        for _ in 0..BACKOFF_YIELDS {
            assert_eq!(i.next(false), Wait::Yield);
        }
        assert_eq!(i.next(false), Wait::Park);
        assert_eq!(i.next(true), Wait::Spin);
        assert_eq!(i.next(false), Wait::Spin);
    }

    #[test]
    fn block_parks_and_busy_spin_never_does() {
        let mut b = Idle::new(IdleStrategy::Block);
        assert_eq!(b.next(false), Wait::Park);
        let mut s = Idle::new(IdleStrategy::BusySpin);
        for _ in 0..10_000 {
            assert_eq!(s.next(false), Wait::Spin);
        }
    }
}

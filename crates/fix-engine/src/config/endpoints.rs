//! Which endpoint an initiator connects to next: the backup and reconnection settings turned into a
//! small deterministic state machine, so the engine's I/O code only asks and obeys.
//!
//! No clock and no I/O: the engine reports what happened (`connected`, `lost`, `failed`) and gets
//! back the next [`Attempt`] (endpoint index and the delay to wait before it) or [`Next::GiveUp`].
//! The rules are those of `docs/CONFIG.md`, "What the engine does with them".

use std::time::Duration;

use super::settings::SessionSettings;
use super::types::{EndpointPolicy, Tries};

/// One connection attempt to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// Index into [`SessionSettings::endpoints`]: 0 is the primary, 1.. the backups.
    pub endpoint: usize,
    /// How long to wait before connecting.
    pub delay: Duration,
}

/// What to do after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Connect (after the delay).
    Attempt(Attempt),
    /// Stop trying: the session terminates.
    GiveUp,
}

#[derive(Debug, Clone, Copy)]
struct Ep {
    tries: Tries,
    interval: Duration,
    auto_switch: bool,
    cyclic: bool,
}

/// Chooses endpoints for one initiator session. Every step is O(number of endpoints), and the
/// number of attempts is bounded by the settings (unbounded only when they ask for it: unlimited
/// tries or cyclic switching with unlimited `MaxConnectAttempts`).
#[derive(Debug, Clone)]
pub struct EndpointSelector {
    eps: Vec<Ep>,
    policy: EndpointPolicy,
    max_attempts: Tries,
    current: usize,
    /// Attempts allowed on `current` in this stint.
    budget: Tries,
    /// Attempts made on `current` in this stint.
    used: u32,
    /// Attempts in this outage, over all endpoints.
    attempts: u32,
    /// Endpoints visited in the current pass (bit i = endpoint i).
    tried: u32,
}

impl EndpointSelector {
    /// A selector for `session`'s endpoints (primary, then backups).
    pub fn new(session: &SessionSettings) -> Self {
        let eps = session
            .endpoints()
            .take(super::MAX_BACKUPS + 1)
            .map(|e| Ep {
                tries: e.tries_before_switch(),
                interval: e.reconnect.interval,
                auto_switch: e.auto_switch,
                cyclic: e.cyclic_switch,
            })
            .collect();
        Self {
            eps,
            policy: session.endpoint_policy,
            max_attempts: session.max_connect_attempts,
            current: 0,
            budget: Tries::Limited(1),
            used: 0,
            attempts: 0,
            tried: 0,
        }
    }

    /// The endpoint of the current (or last) attempt.
    pub fn current(&self) -> usize {
        self.current
    }

    /// Attempts made since the last established connection.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The session starts: connect to the primary at once. If that first attempt fails, the
    /// primary gets its retries ([`super::EndpointSettings::tries_before_switch`]) as after a
    /// loss, then the switching rules apply.
    pub fn start(&mut self) -> Attempt {
        self.start_at(0)
    }

    /// Like [`EndpointSelector::start`], on endpoint `j` (an explicit connect to a backup);
    /// an index out of range means the primary.
    pub fn start_at(&mut self, j: usize) -> Attempt {
        let j = if j < self.eps.len() { j } else { 0 };
        self.current = j;
        self.tried = bit(j);
        self.budget = self.eps.get(j).map_or(Tries::Limited(0), |e| e.tries);
        self.used = 0;
        self.attempts = 1;
        Attempt {
            endpoint: j,
            delay: Duration::ZERO,
        }
    }

    /// The Logon exchange on the current endpoint completed: the outage (if any) is over.
    pub fn connected(&mut self) {
        self.attempts = 0;
        self.used = 0;
        self.tried = 0;
    }

    /// An established connection to the current endpoint was lost (non-gracefully).
    pub fn lost(&mut self) -> Next {
        self.attempts = 0;
        self.used = 0;
        self.tried = bit(self.current);
        // Retries on the endpoint just lost are its own budget, which may be zero.
        self.budget = self
            .eps
            .get(self.current)
            .map_or(Tries::Limited(0), |e| e.tries);
        self.advance()
    }

    /// The attempt on the current endpoint failed (TCP refused, Logon rejected or timed out).
    pub fn failed(&mut self) -> Next {
        self.advance()
    }

    fn advance(&mut self) -> Next {
        if self.max_attempts.exhausted(self.attempts) {
            return Next::GiveUp;
        }
        let Some(&ep) = self.eps.get(self.current) else {
            return Next::GiveUp;
        };
        if !self.budget.exhausted(self.used) {
            self.used += 1;
            self.attempts += 1;
            return Next::Attempt(Attempt {
                endpoint: self.current,
                delay: ep.interval,
            });
        }
        if !ep.auto_switch || self.eps.len() < 2 {
            return Next::GiveUp;
        }
        let next = match self.unvisited() {
            Some(j) => j,
            None => {
                if !ep.cyclic {
                    return Next::GiveUp;
                }
                self.tried = 0;
                match self.policy {
                    EndpointPolicy::Priority => 0,
                    EndpointPolicy::RoundRobin => (self.current + 1) % self.eps.len(),
                }
            }
        };
        let delay = self.eps[next].interval;
        Next::Attempt(self.arrive(next, delay))
    }

    /// Moves to endpoint `j` for a new stint: at least one attempt there, whatever its retry budget.
    fn arrive(&mut self, j: usize, delay: Duration) -> Attempt {
        self.current = j;
        self.tried |= bit(j);
        self.budget = match self.eps[j].tries {
            Tries::Limited(0) => Tries::Limited(1),
            t => t,
        };
        self.used = 1;
        self.attempts += 1;
        Attempt { endpoint: j, delay }
    }

    /// The next endpoint not yet visited in this pass, in policy order.
    fn unvisited(&self) -> Option<usize> {
        let n = self.eps.len();
        let visited = |j: usize| self.tried & bit(j) != 0;
        match self.policy {
            EndpointPolicy::Priority => (0..n).find(|&j| !visited(j)),
            EndpointPolicy::RoundRobin => (1..n)
                .map(|k| (self.current + k) % n)
                .find(|&j| !visited(j)),
        }
    }
}

fn bit(i: usize) -> u32 {
    // At most MAX_BACKUPS + 1 = 17 endpoints, so the shift never overflows.
    1u32 << (i as u32 & 31)
}

//! The initiator's reconnection and backup-connection loop, run by the I/O thread that owns the
//! session: [`EndpointSelector`] decides, this module obeys with the thread's timer heap (a
//! thread never sleeps) and the session's connection phases.
//!
//! Rules (`docs/ENGINE.md`, "Reconnection and backup connections"):
//! * an attempt succeeds only when the Logon exchange completes (`ESTABLISHED`); a refused
//!   connect, a peer that accepts TCP and then drops, rejects or never answers the Logon is a
//!   failed attempt;
//! * a graceful end (a completed Logout exchange, ours or the counterparty's) and any
//!   disconnect asked by the application stop the loop in every phase;
//! * while the loop runs, the terminated state of a failed attempt reaches
//!   [`Application::on_state_change`](crate::Application::on_state_change) but is not published
//!   to waiters: `SessionHandle::wait_terminated` returns when the loop is over.

use std::sync::atomic::Ordering;
use std::time::Duration;

use fix_session::{MonoTime, SeqState, Session, SessionConfig, SessionState};

use super::{ConnectPhase, IoThread, TimerKey, dur_nanos};
use crate::app::ConnectionEvent;
use crate::config::{Attempt, EndpointSelector, EndpointSettings, Next, SeqNumReset};
use crate::handle::SessionHandle;
use crate::store_io::Outcome;

/// Where the loop is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No loop: the session waits for an explicit connect.
    Idle,
    /// An attempt is in progress: TCP connect, or the Logon exchange.
    Attempting,
    /// The Logon exchange completed on the current endpoint.
    Up,
    /// Waiting for the next attempt, on `endpoint`, at `due`.
    Waiting { due: MonoTime, endpoint: usize },
}

/// The loop's state for one initiator session.
pub(super) struct Reconnect {
    selector: EndpointSelector,
    /// The session configuration for each endpoint (primary, then backups): own CompIDs,
    /// HeartBtInt, ForceSeqNumReset, LogonTimeout and credentials.
    configs: Vec<SessionConfig>,
    phase: Phase,
    /// Endpoint whose configuration the session currently runs with.
    session_endpoint: usize,
    /// The application asked to disconnect, or the counterparty logged out: no more attempts.
    stopped: bool,
    logged_on_once: bool,
    /// Some endpoint reconnects or switches: giving up is worth a warning.
    configured: bool,
}

impl Reconnect {
    /// The loop for an initiator (`None` for acceptors).
    pub(super) fn for_session(handle: &SessionHandle, session: &Session) -> Option<Box<Self>> {
        let settings = handle.settings();
        if settings.role != crate::config::Role::Initiator {
            return None;
        }
        let base = session.config();
        let configs = settings
            .endpoints()
            .enumerate()
            .map(|(i, ep)| {
                if i == 0 {
                    base.clone()
                } else {
                    endpoint_config(base, ep)
                }
            })
            .collect();
        let configured = settings
            .endpoints()
            .any(|e| e.reconnect.forced || e.auto_switch);
        Some(Box::new(Self {
            configured,
            selector: EndpointSelector::new(settings),
            configs,
            phase: Phase::Idle,
            session_endpoint: 0,
            stopped: false,
            logged_on_once: false,
        }))
    }
}

/// `base` (the primary's configuration) with the settings a backup endpoint may override.
fn endpoint_config(base: &SessionConfig, ep: &EndpointSettings) -> SessionConfig {
    let mut c = base.clone();
    c.sender_comp_id.clone_from(&ep.ids.sender_comp_id);
    c.target_comp_id.clone_from(&ep.ids.target_comp_id);
    c.sender_sub_id.clone_from(&ep.ids.sender_sub_id);
    c.target_sub_id.clone_from(&ep.ids.target_sub_id);
    c.sender_location_id.clone_from(&ep.ids.sender_location_id);
    c.target_location_id.clone_from(&ep.ids.target_location_id);
    c.heart_bt_int = ep.heart_bt_int;
    c.force_seq_num_reset = match ep.force_seq_num_reset {
        SeqNumReset::Never => fix_session::ForceSeqNumReset::Never,
        SeqNumReset::FirstLogon => fix_session::ForceSeqNumReset::FirstLogon,
        SeqNumReset::EveryLogon => fix_session::ForceSeqNumReset::Always,
    };
    c.logon_timeout = ep.logon_timeout;
    c.username.clone_from(&ep.credentials.username);
    c.password.clone_from(&ep.credentials.password);
    c
}

/// Whether two endpoint configurations need different `Session`s.
fn same_session(a: &SessionConfig, b: &SessionConfig) -> bool {
    a.sender_comp_id == b.sender_comp_id
        && a.target_comp_id == b.target_comp_id
        && a.sender_sub_id == b.sender_sub_id
        && a.target_sub_id == b.target_sub_id
        && a.sender_location_id == b.sender_location_id
        && a.target_location_id == b.target_location_id
        && a.heart_bt_int == b.heart_bt_int
        && a.force_seq_num_reset == b.force_seq_num_reset
        && a.logon_timeout == b.logon_timeout
        && a.username == b.username
        && a.password == b.password
}

impl IoThread {
    /// Starts (or restarts) the loop with an attempt on `endpoint` now: at session start and on
    /// an explicit [`SessionHandle::connect`].
    pub(super) fn loop_start(&mut self, s: usize, endpoint: Option<usize>, phase: ConnectPhase) {
        let Some(slot) = self.slots[s].as_mut() else {
            return;
        };
        let busy = slot.conn.is_some() || slot.session.is_connected();
        let j = endpoint.unwrap_or(slot.endpoint);
        if let Some(rc) = slot.reconnect.as_mut()
            && !busy
        {
            let a = rc.selector.start_at(j);
            rc.phase = Phase::Attempting;
            rc.stopped = false;
            slot.handle
                .shared
                .hold_terminal
                .store(true, Ordering::Relaxed);
            self.use_endpoint_config(s, a.endpoint);
            self.start_connect(s, Some(a.endpoint), phase);
            return;
        }
        self.start_connect(s, endpoint, phase);
    }

    /// The application asked to disconnect (gracefully or not): whatever phase the loop is in,
    /// this is its end. Called before the session hears of it, so its terminated state is
    /// published.
    pub(super) fn loop_stop(&mut self, s: usize) {
        let Some(slot) = self.slots[s].as_mut() else {
            return;
        };
        let Some(rc) = slot.reconnect.as_mut() else {
            return;
        };
        rc.stopped = true;
        if matches!(rc.phase, Phase::Waiting { .. }) {
            // The pending timer entry is ignored once the phase no longer matches it.
            rc.phase = Phase::Idle;
        }
        slot.handle
            .shared
            .hold_terminal
            .store(false, Ordering::Relaxed);
    }

    /// After every session call: notices a completed Logon, and the end of an attempt or of an
    /// established connection, and decides what comes next.
    pub(super) fn loop_after_call(&mut self, s: usize, outcome: &Outcome) {
        let Some(slot) = self.slots[s].as_mut() else {
            return;
        };
        let Some(rc) = slot.reconnect.as_mut() else {
            return;
        };
        let state = slot.session.state();
        match rc.phase {
            Phase::Attempting if state == SessionState::Established => {
                rc.phase = Phase::Up;
                rc.logged_on_once = true;
                rc.selector.connected();
            }
            Phase::Attempting | Phase::Up if state.is_terminated() && slot.conn.is_none() => {
                let was_up = rc.phase == Phase::Up;
                // Logout from the counterparty: graceful once logged on; before, it is a
                // rejected Logon, which is a failed attempt.
                let graceful = state == SessionState::CorrectlyTerminated
                    || (was_up && outcome.logout_received);
                if rc.stopped || graceful {
                    self.loop_end(s, None);
                    return;
                }
                let next = if was_up {
                    rc.selector.lost()
                } else {
                    rc.selector.failed()
                };
                match next {
                    Next::Attempt(a) => self.loop_wait(s, a),
                    Next::GiveUp => {
                        let n = rc.selector.attempts();
                        self.loop_end(s, Some(n));
                    }
                }
            }
            _ => {}
        }
    }

    /// Schedules attempt `a`: shows `RECONNECT` (same endpoint) or `SWITCH_CONNECTION`, and arms
    /// the thread's timer.
    fn loop_wait(&mut self, s: usize, a: Attempt) {
        let due = self.engine.clock.mono().add_nanos(dur_nanos(a.delay));
        let Some(slot) = self.slots[s].as_mut() else {
            return;
        };
        let Some(rc) = slot.reconnect.as_mut() else {
            return;
        };
        // Set before the session calls below, whose follow-up must see the loop waiting.
        rc.phase = Phase::Waiting {
            due,
            endpoint: a.endpoint,
        };
        let attempt = rc.selector.attempts();
        let switch = a.endpoint != slot.endpoint;
        let id = slot.id;
        let (app, handle) = (slot.app.clone(), slot.handle.clone());
        if let Some(&addr) = slot.endpoints.get(a.endpoint) {
            app.on_connection_event(
                &handle,
                ConnectionEvent::Reconnecting {
                    endpoint: a.endpoint,
                    addr,
                    attempt,
                    delay: a.delay,
                },
            );
        }
        if switch {
            self.use_endpoint_config(s, a.endpoint);
            self.call(s, |sess, io| sess.switching_connection(io));
        } else {
            self.call(s, |sess, io| sess.reconnecting(io));
        }
        self.timers.push(std::cmp::Reverse((
            due,
            TimerKey::Reconnect { slot: s, id },
        )));
    }

    /// A reconnect timer fired.
    pub(super) fn loop_due(&mut self, s: usize, id: u64, t: MonoTime) {
        let Some(slot) = self.slots.get_mut(s).and_then(Option::as_mut) else {
            return;
        };
        if slot.id != id {
            return;
        }
        let Some(rc) = slot.reconnect.as_mut() else {
            return;
        };
        let Phase::Waiting { due, endpoint } = rc.phase else {
            return;
        };
        if due != t {
            return;
        }
        rc.phase = Phase::Attempting;
        // The state already shows RECONNECT / SWITCH_CONNECTION: go straight to the connect.
        self.start_connect(s, Some(endpoint), ConnectPhase::Initial);
    }

    /// The loop is over: publish the session's final state; tell the application if it gave up.
    fn loop_end(&mut self, s: usize, gave_up: Option<u32>) {
        let Some(slot) = self.slots[s].as_mut() else {
            return;
        };
        let mut configured = false;
        if let Some(rc) = slot.reconnect.as_mut() {
            rc.phase = Phase::Idle;
            configured = rc.configured;
        }
        let (app, handle) = (slot.app.clone(), slot.handle.clone());
        let state = slot.session.state();
        // The application hears why before waiters see the final state.
        if let Some(attempts) = gave_up {
            tracing::warn!(session = %handle.name(), attempts, "reconnection gave up");
            app.on_connection_event(&handle, ConnectionEvent::GaveUp { attempts });
            if configured {
                app.on_warning(&handle, "reconnection gave up");
            }
        }
        handle.shared.hold_terminal.store(false, Ordering::Relaxed);
        handle.shared.publish_state(state);
    }

    /// Makes the session run with endpoint `j`'s configuration, rebuilding it (same store, same
    /// numbers) when that differs from the current one.
    fn use_endpoint_config(&mut self, s: usize, j: usize) {
        let Some(slot) = self.slots[s].as_mut() else {
            return;
        };
        let Some(rc) = slot.reconnect.as_mut() else {
            return;
        };
        if rc.session_endpoint == j {
            return;
        }
        let Some(cfg) = rc.configs.get(j) else {
            return;
        };
        if !same_session(cfg, slot.session.config()) {
            let seq = SeqState {
                next_sender: slot.store.next_outgoing(),
                next_target: slot.store.next_incoming(),
                first_logon: !slot.store.existed_before() && !rc.logged_on_once,
            };
            match Session::new(cfg.clone(), seq) {
                Ok(session) => slot.session = session,
                Err(e) => {
                    tracing::warn!(session = %slot.handle.name(), endpoint = j, error = %e,
                        "endpoint configuration refused: keeping the current one");
                    return;
                }
            }
        }
        rc.session_endpoint = j;
    }

    /// The connect/Logon deadline of endpoint `j`.
    pub(super) fn endpoint_logon_timeout(&self, s: usize, j: usize) -> Duration {
        self.slots[s]
            .as_ref()
            .and_then(|slot| slot.handle.settings().endpoints().nth(j))
            .map_or(Duration::from_secs(10), |e| e.logon_timeout)
    }
}

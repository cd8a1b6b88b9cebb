//! Resolution: built-in defaults, then engine-wide keys, then per-session keys, then per-backup keys.

use std::collections::HashMap;

use super::error::{ConfigError, Location};
use super::keys::{self, Key, Value};
use super::settings::{EndpointSettings, EngineSettings, SessionSettings};
use super::types::{BeginString, Role};
use super::{Config, Entry, MAX_BACKUPS, SESSION_PREFIX, Scope, Slot};

/// A whole configuration, resolved.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Resolved {
    /// Engine-wide settings.
    pub engine: EngineSettings,
    /// The sessions named in `FixLayer.FixEngine.Sessions`, in that order: created at start.
    pub sessions: Vec<SessionSettings>,
    /// Sessions that have keys but are not listed: the API can create them later by name.
    pub deferred: Vec<SessionSettings>,
}

impl Resolved {
    /// A session by name, listed or deferred.
    pub fn session(&self, name: &str) -> Option<&SessionSettings> {
        self.sessions
            .iter()
            .chain(&self.deferred)
            .find(|s| s.name == name)
    }
}

impl Config {
    /// Resolves everything: engine settings, the sessions to start, and the deferred sessions.
    ///
    /// # Errors
    /// A listed session without keys, a missing required key (naming session and key), settings
    /// that contradict each other, or two sessions with the same `BeginString`, `SenderCompID` and
    /// `TargetCompID`.
    pub fn resolve(&self) -> Result<Resolved, ConfigError> {
        let engine = self.engine_settings()?;
        let mut sessions = Vec::with_capacity(engine.sessions.len());
        for name in &engine.sessions {
            if !self.sessions.contains(name) {
                return Err(ConfigError::EmptySession {
                    at: self.engine_loc(Key::Sessions),
                    session: name.clone(),
                });
            }
            sessions.push(self.resolve_session(name, &engine)?);
        }
        let mut deferred = Vec::new();
        for name in &self.sessions {
            if !engine.sessions.contains(name) {
                deferred.push(self.resolve_session(name, &engine)?);
            }
        }
        let mut identities: HashMap<(BeginString, &str, &str), &str> = HashMap::new();
        for s in sessions.iter().chain(&deferred) {
            let id = (
                s.begin_string,
                s.primary.ids.sender_comp_id.as_str(),
                s.primary.ids.target_comp_id.as_str(),
            );
            if let Some(other) = identities.insert(id, &s.name) {
                return Err(ConfigError::Conflict {
                    at: self.session_key_loc(&s.name, Key::TargetCompId),
                    key: format!("{SESSION_PREFIX}{}.TargetCompID", s.name),
                    message: format!(
                        "session {other} has the same Version, SenderCompID and TargetCompID"
                    ),
                });
            }
        }
        Ok(Resolved {
            engine,
            sessions,
            deferred,
        })
    }

    /// The engine-wide settings alone.
    ///
    /// # Errors
    /// I/O thread and CPU keys that contradict each other.
    pub fn engine_settings(&self) -> Result<EngineSettings, ConfigError> {
        let mut e = EngineSettings::default();
        let mut defaults = SessionSettings::template();
        let mut thread_cpus: Vec<(u16, usize, &Entry)> = Vec::new();
        for (slot, entry) in self.scope_entries(&Scope::Engine) {
            match (slot.key, &entry.value) {
                (Key::Sessions, Value::Names(n)) => e.sessions.clone_from(n),
                (Key::ListenPort, Value::Int(p)) => e.listen_port = Some(*p as u16),
                (Key::IoThreads, Value::Int(n)) => e.io_threads = *n as usize,
                (Key::IdleStrategy, Value::Idle(i)) => e.idle_strategy = *i,
                (Key::Workers, Value::Int(n)) => e.workers = *n as usize,
                (Key::UnregisteredCreateSession, Value::Bool(b)) => {
                    e.unregistered_acceptor.create_session = *b;
                }
                (Key::UnregisteredMaxSessions, Value::Int(n)) => {
                    e.unregistered_acceptor.max_sessions = *n as usize;
                }
                (Key::IoCpus, _) => {}
                (Key::IoThreadCpu, Value::Int(c)) => {
                    thread_cpus.push((slot.index, *c as usize, entry))
                }
                (key, value) => apply_session(&mut defaults, key, value),
            }
        }
        e.listen_address = defaults.listen_address;
        e.io_cpus = vec![None; e.io_threads];
        let cpus_slot = Slot {
            scope: Scope::Engine,
            key: Key::IoCpus,
            index: 0,
        };
        if let Some(entry) = self.entries.get(&cpus_slot) {
            let Value::Cpus(list) = &entry.value else {
                unreachable!("IoCpus always parses to a CPU list")
            };
            if let Some((_, _, other)) = thread_cpus.first() {
                return Err(conflict(
                    entry,
                    format!(
                        "set together with {} (at {}): use one form",
                        other.written, other.at
                    ),
                ));
            }
            if list.len() != e.io_threads {
                return Err(conflict(
                    entry,
                    format!(
                        "lists {} CPUs but IoThreads is {}: give one CPU per I/O thread",
                        list.len(),
                        e.io_threads
                    ),
                ));
            }
            e.io_cpus = list.iter().copied().map(Some).collect();
        }
        for (index, cpu, entry) in thread_cpus {
            let slot = e.io_cpus.get_mut(usize::from(index)).ok_or_else(|| {
                conflict(
                    entry,
                    format!(
                        "thread index {index} is out of range: IoThreads is {} (indexes start at 0)",
                        e.io_threads
                    ),
                )
            })?;
            *slot = Some(cpu);
        }
        e.session_defaults = defaults;
        Ok(e)
    }

    /// One session by name (listed or not), resolved.
    ///
    /// # Errors
    /// [`ConfigError::NoSuchSession`] when it has no keys; otherwise as [`Config::resolve`] for
    /// this session alone.
    pub fn session(&self, name: &str) -> Result<SessionSettings, ConfigError> {
        if !self.sessions.contains(name) {
            return Err(ConfigError::NoSuchSession {
                session: name.to_owned(),
            });
        }
        let engine = self.engine_settings()?;
        self.resolve_session(name, &engine)
    }

    fn resolve_session(
        &self,
        name: &str,
        engine: &EngineSettings,
    ) -> Result<SessionSettings, ConfigError> {
        let scope = Scope::Session(name.to_owned());
        let own: Vec<(&Slot, &Entry)> = self.scope_entries(&scope).collect();
        let has = |key: Key| own.iter().any(|(s, _)| s.key == key);
        let engine_has = |key: Key| {
            self.entries.contains_key(&Slot {
                scope: Scope::Engine,
                key,
                index: 0,
            })
        };
        let at = self.session_loc(name);
        let missing = |key: Key, message: &str| ConfigError::Missing {
            at: at.clone(),
            session: name.to_owned(),
            key: format!("{SESSION_PREFIX}{name}.{}", keys::name(key)),
            message: message.to_owned(),
        };

        let mut s = engine.session_defaults.clone();
        s.name = name.to_owned();
        for (slot, entry) in &own {
            apply_session(&mut s, slot.key, &entry.value);
        }

        for key in [Key::Role, Key::Version, Key::SenderCompId] {
            if !has(key) && !engine_has(key) {
                return Err(missing(key, "required (here or engine-wide)"));
            }
        }
        if !has(Key::TargetCompId) {
            return Err(missing(Key::TargetCompId, "required"));
        }
        if s.begin_string.is_fixt() && s.default_appl_ver_id.is_none() {
            return Err(missing(
                Key::DefaultApplVerId,
                "required when Version is FIXT.1.1",
            ));
        }
        if !s.begin_string.is_fixt() && s.default_appl_ver_id.is_some() {
            return Err(self.session_conflict(
                name,
                Key::DefaultApplVerId,
                format!("only allowed with Version FIXT.1.1, not {}", s.begin_string),
            ));
        }
        match s.role {
            Role::Initiator => {
                if !has(Key::Host) {
                    return Err(missing(Key::Host, "required for an initiator"));
                }
                if !has(Key::Port) {
                    return Err(missing(Key::Port, "required for an initiator"));
                }
            }
            Role::Acceptor => {
                if has(Key::Host) {
                    return Err(self.session_conflict(
                        name,
                        Key::Host,
                        "an acceptor does not connect: Host is for initiators (use ListenAddress)"
                            .into(),
                    ));
                }
                if !has(Key::Port) {
                    s.primary.port = engine.listen_port.ok_or_else(|| {
                        missing(
                            Key::Port,
                            "an acceptor needs its own Port or the engine-wide ListenPort",
                        )
                    })?;
                }
            }
        }

        self.resolve_backups(name, &mut s)?;
        if has(Key::AutoSwitch) && s.primary.auto_switch && s.backups.is_empty() {
            return Err(self.session_conflict(
                name,
                Key::AutoSwitch,
                format!(
                    "no backup endpoint to switch to: set {SESSION_PREFIX}{name}.Backup.Host / Backup.Port"
                ),
            ));
        }
        s.check().map_err(|(key, message)| ConfigError::Conflict {
            at: at.clone(),
            key: format!("{SESSION_PREFIX}{name}.{key}"),
            message,
        })?;
        Ok(s)
    }

    fn resolve_backups(&self, name: &str, s: &mut SessionSettings) -> Result<(), ConfigError> {
        let mut by_index: Vec<Vec<(&Slot, &Entry)>> = vec![Vec::new(); MAX_BACKUPS];
        let start = Slot {
            scope: Scope::Backup(name.to_owned(), 0),
            key: Key::Sessions,
            index: 0,
        };
        for (slot, entry) in self.entries.range(start..) {
            let Scope::Backup(n, i) = &slot.scope else {
                break;
            };
            if n != name {
                break;
            }
            if let Some(v) = by_index.get_mut(usize::from(*i).wrapping_sub(1)) {
                v.push((slot, entry));
            }
        }
        let count = by_index.iter().take_while(|v| !v.is_empty()).count();
        if let Some(v) = by_index.iter().skip(count).find(|v| !v.is_empty()) {
            let entry = v[0].1;
            return Err(conflict(
                entry,
                format!(
                    "backup endpoints must be numbered from 1 without gaps (Backup.{} has no keys)",
                    count + 1
                ),
            ));
        }
        if count > 0 && s.role == Role::Acceptor {
            return Err(conflict(
                by_index[0][0].1,
                "backup endpoints are for initiators only (Role is Acceptor)".into(),
            ));
        }
        for entries in by_index.iter().take(count) {
            let mut ep = s.primary.clone();
            // The vendor requires the switch flags to be set on Backup. explicitly.
            ep.auto_switch = false;
            ep.cyclic_switch = false;
            for (slot, entry) in entries {
                apply_endpoint(&mut ep, slot.key, &entry.value);
            }
            s.backups.push(ep);
        }
        Ok(())
    }

    fn scope_entries<'a>(
        &'a self,
        scope: &Scope,
    ) -> impl Iterator<Item = (&'a Slot, &'a Entry)> + 'a {
        let scope = scope.clone();
        let start = Slot {
            scope: scope.clone(),
            key: Key::Sessions,
            index: 0,
        };
        self.entries
            .range(start..)
            .take_while(move |(s, _)| s.scope == scope)
    }

    fn engine_loc(&self, key: Key) -> Location {
        self.entries
            .get(&Slot {
                scope: Scope::Engine,
                key,
                index: 0,
            })
            .map_or_else(unknown_loc, |e| e.at.clone())
    }

    /// The first line (in reading order) of a session's keys.
    fn session_loc(&self, name: &str) -> Location {
        self.entries
            .iter()
            .filter(
                |(s, _)| matches!(&s.scope, Scope::Session(n) | Scope::Backup(n, _) if n == name),
            )
            .min_by_key(|(_, e)| e.seq)
            .map_or_else(unknown_loc, |(_, e)| e.at.clone())
    }

    fn session_key_loc(&self, name: &str, key: Key) -> Location {
        self.entries
            .get(&Slot {
                scope: Scope::Session(name.to_owned()),
                key,
                index: 0,
            })
            .map_or_else(|| self.session_loc(name), |e| e.at.clone())
    }

    fn session_conflict(&self, name: &str, key: Key, message: String) -> ConfigError {
        let slot = Slot {
            scope: Scope::Session(name.to_owned()),
            key,
            index: 0,
        };
        match self.entries.get(&slot) {
            Some(entry) => conflict(entry, message),
            None => ConfigError::Conflict {
                at: self.session_loc(name),
                key: format!("{SESSION_PREFIX}{name}.{}", keys::name(key)),
                message,
            },
        }
    }
}

fn unknown_loc() -> Location {
    Location {
        source: std::sync::Arc::from("<defaults>"),
        line: 0,
    }
}

fn conflict(entry: &Entry, message: String) -> ConfigError {
    ConfigError::Conflict {
        at: entry.at.clone(),
        key: entry.written.clone(),
        message,
    }
}

/// Applies an endpoint-level key; false if `key` is not one.
fn apply_endpoint(ep: &mut EndpointSettings, key: Key, value: &Value) -> bool {
    let text = |v: &Value| match v {
        Value::Text(t) => t.clone(),
        _ => String::new(),
    };
    match (key, value) {
        (Key::Host, _) => ep.host = Some(text(value)),
        (Key::Port, Value::Int(p)) => ep.port = *p as u16,
        (Key::SenderCompId, _) => ep.ids.sender_comp_id = text(value),
        (Key::TargetCompId, _) => ep.ids.target_comp_id = text(value),
        (Key::SenderSubId, _) => ep.ids.sender_sub_id = Some(text(value)),
        (Key::TargetSubId, _) => ep.ids.target_sub_id = Some(text(value)),
        (Key::SenderLocationId, _) => ep.ids.sender_location_id = Some(text(value)),
        (Key::TargetLocationId, _) => ep.ids.target_location_id = Some(text(value)),
        (Key::Username, _) => ep.credentials.username = Some(text(value)),
        (Key::Password, _) => ep.credentials.password = Some(text(value)),
        (Key::HeartBtInt, Value::Duration(d)) => {
            ep.heart_bt_int = u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
        }
        (Key::ForceSeqNumReset, Value::Reset(r)) => ep.force_seq_num_reset = *r,
        (Key::ForcedReconnect, Value::Bool(b)) => ep.reconnect.forced = *b,
        (Key::ReconnectMaxTries, Value::Tries(t)) => ep.reconnect.max_tries = *t,
        (Key::ReconnectInterval, Value::Duration(d)) => ep.reconnect.interval = *d,
        (Key::LogonTimeout, Value::Duration(d)) => ep.logon_timeout = *d,
        (Key::AutoSwitch, Value::Bool(b)) => ep.auto_switch = *b,
        (Key::CyclicSwitch, Value::Bool(b)) => ep.cyclic_switch = *b,
        (Key::EndpointTries, Value::Tries(t)) => ep.endpoint_tries = Some(*t),
        _ => return false,
    }
    true
}

/// Applies a session-level (or endpoint-level, to the primary) key.
fn apply_session(s: &mut SessionSettings, key: Key, value: &Value) {
    if apply_endpoint(&mut s.primary, key, value) {
        return;
    }
    match (key, value) {
        (Key::Role, Value::Role(r)) => s.role = *r,
        (Key::Version, Value::Version(v)) => s.begin_string = *v,
        (Key::DefaultApplVerId, Value::ApplVer(v)) => s.default_appl_ver_id = Some(*v),
        (Key::ListenAddress, Value::Ip(ip)) => s.listen_address = *ip,
        (Key::IntradayLogoutTolerance, Value::Bool(b)) => s.intraday_logout_tolerance = *b,
        (Key::ResetOnLogon, Value::Bool(b)) => s.reset_on_logon = *b,
        (Key::EndpointPolicy, Value::Policy(p)) => s.endpoint_policy = *p,
        (Key::MaxConnectAttempts, Value::Tries(t)) => s.max_connect_attempts = *t,
        (Key::LogoutTimeout, Value::Duration(d)) => s.logout_timeout = *d,
        (Key::SendNextExpectedMsgSeqNum, Value::Bool(b)) => s.send_next_expected_msg_seq_num = *b,
        (Key::MaxMessageSize, Value::Int(n)) => s.max_message_size = *n as usize,
        (Key::ResendBatch, Value::Int(n)) => s.resend_batch = *n,
        (Key::MaxHeldBytes, Value::Int(n)) => s.max_held_bytes = *n as usize,
        (Key::ResendRequestTimeout, Value::Duration(d)) => s.resend_request_timeout = Some(*d),
        (Key::StorageDirectory, Value::Path(p)) => s.storage.directory.clone_from(p),
        (Key::StorageType, Value::Storage(t)) => s.storage.kind = *t,
        (Key::Durability, Value::Durability(d)) => s.storage.durability = *d,
        (Key::DurabilityIntervalMs, Value::Duration(d)) => s.storage.durability_interval = *d,
        (Key::MessageLog, Value::OptPath(p)) => s.message_log.clone_from(p),
        (Key::Application, Value::App(a)) => s.application = *a,
        (Key::DataDictionary, Value::Path(p)) => s.dictionaries.data_dictionary = Some(p.clone()),
        (Key::TransportDataDictionary, Value::Path(p)) => {
            s.dictionaries.transport_data_dictionary = Some(p.clone());
        }
        (Key::AppDataDictionary, Value::Path(p)) => {
            s.dictionaries.app_data_dictionary = Some(p.clone());
        }
        (Key::UseDataDictionary, Value::Bool(b)) => s.validation.use_data_dictionary = *b,
        (Key::ValidateFieldsOutOfOrder, Value::Bool(b)) => s.validation.fields_out_of_order = *b,
        (Key::ValidateFieldsHaveValues, Value::Bool(b)) => s.validation.fields_have_values = *b,
        (Key::ValidateUserDefinedFields, Value::Bool(b)) => s.validation.user_defined_fields = *b,
        (Key::AllowUnknownMsgFields, Value::Bool(b)) => s.validation.allow_unknown_msg_fields = *b,
        (Key::CheckLatency, Value::Bool(b)) => s.validation.check_latency = *b,
        (Key::MaxLatency, Value::Duration(d)) => s.validation.max_latency = *d,
        // Engine-only keys never reach here; the table's scopes guarantee it.
        _ => debug_assert!(false, "unhandled key {key:?} = {value:?}"),
    }
}

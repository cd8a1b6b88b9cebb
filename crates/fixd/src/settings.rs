//! Reading, resolving and checking a configuration, and loading the dictionaries it names.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fix_codec::{Dictionary, ValidationOptions, Validator};
use std::time::Duration;

use fix_engine::config::{
    self, Config, EndpointSettings, Resolved, Role, SESSION_PREFIX, SessionSettings, StorageType,
};

use crate::CommandError;

/// A configuration read from a file, with overrides applied, resolved and checked.
#[derive(Debug)]
pub struct Loaded {
    /// The file as given on the command line.
    pub path: PathBuf,
    /// The settings as read (kept for error locations).
    pub config: Config,
    /// The resolved engine and sessions.
    pub resolved: Resolved,
    /// Every dictionary the sessions name, loaded once.
    pub dictionaries: Dictionaries,
}

/// Reads `path`, applies `sets` (`KEY=VALUE`, in order), resolves, and loads every data
/// dictionary a session names, so that nothing starts half-configured.
///
/// # Errors
/// A [`CommandError::config`] whose message is `FILE:LINE: KEY: message` (or `--set:N: ...`
/// for an override).
pub fn load(path: &Path, sets: &[String]) -> Result<Loaded, CommandError> {
    let mut config = Config::from_file(path).map_err(|e| CommandError::config(e.to_string()))?;
    for s in sets {
        config
            .set_override_arg(s)
            .map_err(|e| CommandError::config(e.to_string()))?;
    }
    let resolved = config
        .resolve()
        .map_err(|e| CommandError::config(e.to_string()))?;
    let mut dictionaries = Dictionaries::default();
    for s in resolved.sessions.iter().chain(&resolved.deferred) {
        if !s.validation.use_data_dictionary {
            continue;
        }
        let d = &s.dictionaries;
        for (key, p) in [
            ("DataDictionary", &d.data_dictionary),
            ("TransportDataDictionary", &d.transport_data_dictionary),
            ("AppDataDictionary", &d.app_data_dictionary),
        ] {
            if let Some(p) = p
                && let Err(e) = dictionaries.get(p)
            {
                return Err(CommandError::config(format!(
                    "{}: cannot load `{}`: {e}",
                    key_location(&config, &s.name, key),
                    p.display()
                )));
            }
        }
    }
    Ok(Loaded {
        path: path.to_owned(),
        config,
        resolved,
        dictionaries,
    })
}

/// `FILE:LINE: KEY` of a session key as written (per session, else engine-wide), or
/// `session NAME: KEY` when it was not written anywhere.
pub fn key_location(config: &Config, session: &str, key: &str) -> String {
    let own = format!("{SESSION_PREFIX}{session}.{key}");
    let found = config
        .keys()
        .find(|(k, _)| *k == own)
        .or_else(|| config.keys().find(|(k, _)| *k == key));
    match found {
        Some((k, at)) => format!("{at}: {k}"),
        None => format!("session {session}: {key}"),
    }
}

/// Data dictionaries by path, each loaded once and shared.
#[derive(Debug, Default)]
pub struct Dictionaries {
    by_path: HashMap<PathBuf, Arc<Dictionary>>,
}

impl Dictionaries {
    /// The dictionary at `path`, loading it on first use.
    ///
    /// # Errors
    /// The file cannot be read or is not a QuickFIX XML dictionary.
    pub fn get(&mut self, path: &Path) -> Result<Arc<Dictionary>, fix_codec::DictError> {
        if let Some(d) = self.by_path.get(path) {
            return Ok(Arc::clone(d));
        }
        let d = Arc::new(Dictionary::from_file(path)?);
        self.by_path.insert(path.to_owned(), Arc::clone(&d));
        Ok(d)
    }

    /// The validator a session's settings describe, exactly as the engine builds its own
    /// (`None` when the session does not validate against a dictionary). The `echo` application
    /// needs it to write echoed bodies in dictionary order.
    ///
    /// # Errors
    /// As [`Dictionaries::get`].
    pub fn validator(
        &mut self,
        s: &SessionSettings,
    ) -> Result<Option<Arc<Validator>>, fix_codec::DictError> {
        if !s.validation.use_data_dictionary {
            return Ok(None);
        }
        let d = &s.dictionaries;
        let (transport, app) = if s.begin_string.is_fixt() {
            (
                d.transport_data_dictionary.as_ref(),
                d.app_data_dictionary.as_ref(),
            )
        } else {
            (d.data_dictionary.as_ref(), None)
        };
        let Some(transport) = transport else {
            return Ok(None);
        };
        let transport = self.get(transport)?;
        let app = app.map(|p| self.get(p)).transpose()?;
        let o = ValidationOptions {
            check_fields_out_of_order: s.validation.fields_out_of_order,
            check_fields_have_values: s.validation.fields_have_values,
            check_user_defined_fields: s.validation.user_defined_fields,
            allow_unknown_message_fields: s.validation.allow_unknown_msg_fields,
            ..ValidationOptions::default()
        };
        Ok(Some(Arc::new(Validator::new(transport, app, o))))
    }
}

/// The name of a built-in application as written in the configuration.
pub fn application_name(a: config::Application) -> &'static str {
    match a {
        config::Application::Echo => "echo",
        config::Application::Executor => "executor",
        _ => "none",
    }
}

/// One line describing a resolved session (`fixd check-config`).
pub fn describe_session(s: &SessionSettings) -> String {
    let mut out = String::new();
    let ids = &s.primary.ids;
    let _ = write!(
        out,
        "{} {} {} {}->{}",
        s.name,
        match s.role {
            Role::Initiator => "initiator",
            Role::Acceptor => "acceptor",
        },
        s.begin_string,
        ids.sender_comp_id,
        ids.target_comp_id
    );
    if let Some(v) = s.default_appl_ver_id {
        let _ = write!(out, " DefaultApplVerID={v}");
    }
    match s.role {
        Role::Acceptor => {
            let _ = write!(out, " listen={}:{}", s.listen_address, s.primary.port);
        }
        Role::Initiator => {
            let _ = write!(out, " connect={}", s.primary.address());
            for b in &s.backups {
                let _ = write!(out, " backup={}", b.address());
            }
        }
    }
    let _ = write!(
        out,
        " app={} HeartBtInt={}s",
        application_name(s.application),
        s.primary.heart_bt_int
    );
    if s.reset_on_logon {
        out.push_str(" ResetOnLogon");
    }
    let d = &s.dictionaries;
    if !s.validation.use_data_dictionary {
        out.push_str(" dictionary=off");
    } else if s.begin_string.is_fixt() {
        for (k, p) in [
            ("transport", &d.transport_data_dictionary),
            ("app", &d.app_data_dictionary),
        ] {
            if let Some(p) = p {
                let _ = write!(out, " {k}-dictionary={}", p.display());
            }
        }
    } else if let Some(p) = &d.data_dictionary {
        let _ = write!(out, " dictionary={}", p.display());
    } else {
        out.push_str(" dictionary=none");
    }
    if !s.validation.fields_have_values {
        out.push_str(" ValidateFieldsHaveValues=N");
    }
    match s.storage.kind {
        StorageType::Transient => out.push_str(" storage=transient"),
        _ => {
            let _ = write!(out, " storage={}", s.storage.directory.display());
        }
    }
    match &s.message_log {
        Some(p) => {
            let _ = write!(out, " message-log={}", p.display());
        }
        None => out.push_str(" message-log=off"),
    }
    out
}

/// A duration as a file would give it: whole seconds, else milliseconds.
fn duration_text(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "Y" } else { "N" }
}

/// The connection keys of one initiator endpoint, as a properties file spells them.
fn describe_endpoint(out: &mut String, e: &EndpointSettings) {
    let r = &e.reconnect;
    let _ = write!(
        out,
        " ForcedReconnect={} ReconnectMaxTries={} ReconnectInterval={} LogonTimeout={} \
         ForceSeqNumReset={} EnableAutoSwitchToBackupConnection={} \
         EnableCyclicSwitchBackupConnection={} tries-before-switch={}",
        yes_no(r.forced),
        r.max_tries,
        duration_text(r.interval),
        duration_text(e.logon_timeout),
        e.force_seq_num_reset,
        yes_no(e.auto_switch),
        yes_no(e.cyclic_switch),
        e.tries_before_switch(),
    );
}

/// The lines under a session's line in `fixd check-config`: the effective timing, resend and
/// reconnection values (defaults included), so an operator sees what the engine will do without
/// reading the defaults up in the documentation.
pub fn describe_session_details(s: &SessionSettings) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "  timing: LogonTimeout={} LogoutTimeout={} ResendRequestTimeout={} ResendBatch={} \
         MaxHeldBytes={} MaxMessageSize={} IntradayLogoutTolerance={}",
        duration_text(s.primary.logon_timeout),
        duration_text(s.logout_timeout),
        match s.resend_request_timeout {
            None => "2xHeartBtInt".to_owned(),
            Some(Duration::ZERO) => "off".to_owned(),
            Some(d) => duration_text(d),
        },
        s.resend_batch,
        s.max_held_bytes,
        s.max_message_size,
        yes_no(s.intraday_logout_tolerance),
    );
    if s.role == Role::Initiator {
        let _ = write!(
            out,
            "\n  connect: EndpointPolicy={} MaxConnectAttempts={}",
            s.endpoint_policy, s.max_connect_attempts
        );
        let _ = write!(out, "\n  primary {}:", s.primary.address());
        describe_endpoint(&mut out, &s.primary);
        for (i, b) in s.backups.iter().enumerate() {
            let _ = write!(
                out,
                "\n  backup.{} {} {}->{} HeartBtInt={}s:",
                i + 1,
                b.address(),
                b.ids.sender_comp_id,
                b.ids.target_comp_id,
                b.heart_bt_int
            );
            describe_endpoint(&mut out, b);
        }
    }
    out
}

/// The whole `fixd check-config` report.
pub fn describe(loaded: &Loaded) -> String {
    let r = &loaded.resolved;
    let e = &r.engine;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: OK: {} session(s) started at start, {} deferred",
        loaded.path.display(),
        r.sessions.len(),
        r.deferred.len()
    );
    let _ = writeln!(
        out,
        "engine: ListenPort={} ListenAddress={} IoThreads={} IdleStrategy={:?} Workers={} UnregisteredAcceptor.CreateSession={}",
        e.listen_port
            .map_or_else(|| "none".to_owned(), |p| p.to_string()),
        e.listen_address,
        e.io_threads,
        e.idle_strategy,
        e.workers,
        e.unregistered_acceptor.create_session
    );
    for s in &r.sessions {
        let _ = writeln!(out, "session {}", describe_session(s));
        let _ = writeln!(out, "{}", describe_session_details(s));
    }
    for s in &r.deferred {
        let _ = writeln!(out, "deferred {}", describe_session(s));
        let _ = writeln!(out, "{}", describe_session_details(s));
    }
    out
}

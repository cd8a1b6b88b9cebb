//! `fixd run`: the engine with the sessions of a file until SIGINT/SIGTERM, then a graceful
//! logout of every session.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fix_engine::apps::NoneApp;
use fix_engine::config::Resolved;
use fix_engine::{Engine, EngineBuilder, SessionHandle};

use crate::CommandError;
use crate::admin::{AdminSocket, DEFAULT_SOCKET_NAME};
use crate::app::{FixdApp, builtin};
use crate::settings::{self, key_location};
use crate::signals::TermSignals;
use crate::status;

/// Longest graceful-logout wait at shutdown, whatever the sessions' `LogoutTimeout`.
pub const MAX_STOP_WAIT: Duration = Duration::from_secs(30);

/// Where the admin socket goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminSocketOption {
    /// [`default_admin_socket`].
    Default,
    /// This path.
    Path(PathBuf),
    /// No admin socket.
    Off,
}

/// What `fixd run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The properties file.
    pub config: PathBuf,
    /// `KEY=VALUE` overrides, applied in order after the file.
    pub sets: Vec<String>,
    /// Period of the status lines; `None` turns them off.
    pub status_interval: Option<Duration>,
    /// The admin socket.
    pub admin_socket: AdminSocketOption,
}

/// The default admin socket of a resolved configuration: `fixd.sock` in the `StorageDirectory`
/// of the first session started (the engine-wide one when there is none).
pub fn default_admin_socket(resolved: &Resolved) -> PathBuf {
    resolved
        .sessions
        .first()
        .map_or(&resolved.engine.session_defaults.storage.directory, |s| {
            &s.storage.directory
        })
        .join(DEFAULT_SOCKET_NAME)
}

/// The engine, shared with the admin thread until shutdown takes it.
type SharedEngine = Arc<Mutex<Option<Engine>>>;

/// The live sessions and the engine's count of dropped message-log lines.
fn live_sessions(engine: &SharedEngine) -> (Vec<SessionHandle>, u64) {
    // Held only to copy the handles: statistics are gathered after it is released.
    let read = |e: &Option<Engine>| {
        e.as_ref()
            .map(|e| (e.sessions(), e.message_log_dropped()))
            .unwrap_or_default()
    };
    match engine.lock() {
        Ok(g) => read(&g),
        Err(p) => read(&p.into_inner()),
    }
}

/// The admin socket's answer: a header and one [`status::session_line`] per live session.
fn status_report(engine: &SharedEngine, started: Instant) -> String {
    let (sessions, dropped) = live_sessions(engine);
    let mut out = format!(
        "fixd pid {} up {} s, {} session(s), message log lines dropped: {dropped}\n",
        std::process::id(),
        started.elapsed().as_secs(),
        sessions.len(),
    );
    for h in &sessions {
        let _ = writeln!(out, "{}", status::session_line(h));
    }
    out
}

/// Runs until SIGINT or SIGTERM arrives on `signals`, then logs out every session (waiting at
/// most the longest `LogoutTimeout`, bounded by [`MAX_STOP_WAIT`]) and stops.
///
/// # Errors
/// A configuration error ([`crate::EXIT_CONFIG`]: nothing was started), or a failure to start
/// (a port in use, a message log or an explicit admin socket that cannot be opened:
/// [`crate::EXIT_FAILURE`]).
pub fn run(opts: &RunOptions, signals: &TermSignals) -> Result<(), CommandError> {
    let started = Instant::now();
    let mut loaded = settings::load(&opts.config, &opts.sets)?;
    let sessions = loaded.resolved.sessions.clone();

    let none: Arc<dyn fix_engine::Application> = Arc::new(FixdApp::new(Arc::new(NoneApp)));
    let mut builder = EngineBuilder::new(loaded.resolved.engine.clone()).application(none);
    for s in &sessions {
        let validator = loaded.dictionaries.validator(s).map_err(|e| {
            CommandError::config(format!(
                "{}: {e}",
                key_location(&loaded.config, &s.name, "DataDictionary")
            ))
        })?;
        let app = FixdApp::new(builtin(s.application, validator));
        builder = builder.session_with_app(s.clone(), Arc::new(app));
    }
    let admin_path = match &opts.admin_socket {
        AdminSocketOption::Default => Some(default_admin_socket(&loaded.resolved)),
        AdminSocketOption::Path(p) => Some(p.clone()),
        AdminSocketOption::Off => None,
    };
    let engine = builder
        .start()
        .map_err(|e| CommandError::failure(format!("cannot start the engine: {e}")))?;
    let addrs: Vec<String> = engine
        .listen_addrs()
        .iter()
        .map(ToString::to_string)
        .collect();
    let log_files: Vec<(String, PathBuf)> = engine
        .sessions()
        .iter()
        .filter_map(|h| {
            h.message_log_path()
                .map(|p| (h.name().to_owned(), p.to_owned()))
        })
        .collect();
    let engine: SharedEngine = Arc::new(Mutex::new(Some(engine)));

    let explicit = matches!(opts.admin_socket, AdminSocketOption::Path(_));
    let mut admin = match admin_path {
        Some(p) => {
            let e = Arc::clone(&engine);
            match AdminSocket::start(&p, move || status_report(&e, started)) {
                Ok(a) => Some(a),
                // The default place may simply not suit (a long storage path): run without.
                Err(msg) if !explicit => {
                    tracing::warn!("{msg}; running without an admin socket");
                    None
                }
                Err(msg) => {
                    stop_engine(&engine, Duration::ZERO);
                    return Err(CommandError::failure(format!(
                        "{msg} (choose another with --admin-socket PATH, or --admin-socket off)"
                    )));
                }
            }
        }
        None => None,
    };

    tracing::info!(
        config = %opts.config.display(),
        sessions = sessions.len(),
        admin_socket = %admin.as_ref().map_or_else(|| "off".to_owned(), |a| a.path().display().to_string()),
        "fixd running; listening on {}",
        if addrs.is_empty() { "nothing".to_owned() } else { addrs.join(", ") }
    );
    for (session, file) in &log_files {
        tracing::info!(session = %session, file = %file.display(), "message log");
    }

    // Without status lines the wait only needs to wake for signals; an hour keeps it bounded.
    let period = opts.status_interval.unwrap_or(Duration::from_secs(3600));
    let mut next_status = Instant::now() + period;
    let signal = loop {
        let left = next_status.saturating_duration_since(Instant::now());
        if let Some(sig) = signals.wait(left) {
            break sig;
        }
        if Instant::now() >= next_status {
            next_status = Instant::now() + period;
            if opts.status_interval.is_some() {
                let (handles, dropped) = live_sessions(&engine);
                for h in handles {
                    tracing::info!(target: "fixd::status", "{}", status::session_line(&h));
                }
                if dropped > 0 {
                    tracing::warn!(target: "fixd::status", dropped, "message log lines dropped");
                }
            }
        }
    };

    if let Some(a) = &mut admin {
        a.stop();
    }
    let wait = sessions
        .iter()
        .map(|s| s.logout_timeout)
        .max()
        .unwrap_or(fix_engine::DEFAULT_STOP_TIMEOUT)
        .min(MAX_STOP_WAIT);
    tracing::info!(
        signal = %signal,
        "stopping: logging out every session (waiting at most {wait:?})"
    );
    let (handles, _) = live_sessions(&engine);
    stop_engine(&engine, wait);
    for h in &handles {
        tracing::info!(
            target: "fixd::status",
            session = %h.name(),
            state = %h.state(),
            next_out = h.next_sender_seq(),
            next_in = h.next_target_seq(),
            "final state"
        );
    }
    let dropped: u64 = handles.iter().map(SessionHandle::message_log_dropped).sum();
    if dropped > 0 {
        tracing::warn!(dropped, "message log lines dropped");
    }
    tracing::info!("fixd stopped");
    Ok(())
}

/// Takes the engine out of the shared slot and stops it (graceful logout bounded by `wait`).
fn stop_engine(engine: &SharedEngine, wait: Duration) {
    let taken = match engine.lock() {
        Ok(mut g) => g.take(),
        Err(p) => p.into_inner().take(),
    };
    if let Some(mut e) = taken {
        e.stop_with_timeout(wait);
    }
}

/// The admin socket `fixd status` should ask: `socket` if given, else the default of the
/// configuration `config` (with `sets`), else `store/fixd.sock` (the built-in storage directory).
///
/// # Errors
/// The configuration does not resolve ([`crate::EXIT_CONFIG`]).
pub fn status_socket(
    socket: Option<&Path>,
    config: Option<&Path>,
    sets: &[String],
) -> Result<PathBuf, CommandError> {
    if let Some(s) = socket {
        return Ok(s.to_owned());
    }
    let mut c = match config {
        Some(p) => fix_engine::config::Config::from_file(p)
            .map_err(|e| CommandError::config(e.to_string()))?,
        None => fix_engine::config::Config::new(),
    };
    for s in sets {
        c.set_override_arg(s)
            .map_err(|e| CommandError::config(e.to_string()))?;
    }
    let e = c
        .engine_settings()
        .map_err(|e| CommandError::config(e.to_string()))?;
    Ok(e.session_defaults
        .storage
        .directory
        .join(DEFAULT_SOCKET_NAME))
}

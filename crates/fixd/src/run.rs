//! `fixd run`: the engine with the sessions of a file until SIGINT/SIGTERM, then a graceful
//! logout of every session.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fix_engine::EngineBuilder;
use fix_engine::apps::NoneApp;

use crate::CommandError;
use crate::app::{FixdApp, builtin};
use crate::msglog::MessageLogs;
use crate::settings::{self, key_location};
use crate::signals::TermSignals;
use crate::status;

/// Longest graceful-logout wait at shutdown, whatever the sessions' `LogoutTimeout`.
pub const MAX_STOP_WAIT: Duration = Duration::from_secs(30);

/// What `fixd run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The properties file.
    pub config: PathBuf,
    /// `KEY=VALUE` overrides, applied in order after the file.
    pub sets: Vec<String>,
    /// Period of the status lines; `None` turns them off.
    pub status_interval: Option<Duration>,
}

/// Runs until SIGINT or SIGTERM arrives on `signals`, then logs out every session (waiting at
/// most the longest `LogoutTimeout`, bounded by [`MAX_STOP_WAIT`]) and stops.
///
/// # Errors
/// A configuration error ([`crate::EXIT_CONFIG`]: nothing was started), or a failure to start
/// (a port in use, a message log that cannot be opened: [`crate::EXIT_FAILURE`]).
pub fn run(opts: &RunOptions, signals: &TermSignals) -> Result<(), CommandError> {
    let mut loaded = settings::load(&opts.config, &opts.sets)?;
    let sessions = loaded.resolved.sessions.clone();

    let wanted: Vec<(PathBuf, String)> = sessions
        .iter()
        .filter_map(|s| s.message_log.clone().map(|d| (d, s.name.clone())))
        .collect();
    let (mut logs, mut loggers) = MessageLogs::start(&wanted).map_err(CommandError::failure)?;
    loggers.reverse();

    let none: Arc<dyn fix_engine::Application> = Arc::new(FixdApp::new(Arc::new(NoneApp), None));
    let mut builder = EngineBuilder::new(loaded.resolved.engine.clone()).application(none);
    for s in &sessions {
        let validator = loaded.dictionaries.validator(s).map_err(|e| {
            CommandError::config(format!(
                "{}: {e}",
                key_location(&loaded.config, &s.name, "DataDictionary")
            ))
        })?;
        let log = if s.message_log.is_some() {
            loggers.pop()
        } else {
            None
        };
        let app = FixdApp::new(builtin(s.application, validator), log);
        builder = builder.session_with_app(s.clone(), Arc::new(app));
    }
    let mut engine = builder
        .start()
        .map_err(|e| CommandError::failure(format!("cannot start the engine: {e}")))?;

    let addrs: Vec<String> = engine
        .listen_addrs()
        .iter()
        .map(ToString::to_string)
        .collect();
    tracing::info!(
        config = %opts.config.display(),
        sessions = sessions.len(),
        "fixd running; listening on {}",
        if addrs.is_empty() { "nothing".to_owned() } else { addrs.join(", ") }
    );
    for p in logs.paths() {
        tracing::info!(file = %p.display(), "message log");
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
                for line in status::lines(&engine) {
                    tracing::info!(target: "fixd::status", "{line}");
                }
                if logs.dropped() > 0 {
                    tracing::warn!(target: "fixd::status", dropped = logs.dropped(), "message log lines dropped");
                }
            }
        }
    };

    let wait = sessions
        .iter()
        .map(|s| s.logout_timeout)
        .max()
        .unwrap_or(fix_engine::DEFAULT_STOP_TIMEOUT)
        .min(MAX_STOP_WAIT);
    tracing::info!(
        signal,
        "stopping: logging out every session (waiting at most {wait:?})"
    );
    engine.stop_with_timeout(wait);
    for h in engine.sessions() {
        tracing::info!(
            target: "fixd::status",
            session = %h.name(),
            state = %h.state(),
            next_out = h.next_sender_seq(),
            next_in = h.next_target_seq(),
            "final state"
        );
    }
    logs.stop();
    if logs.dropped() > 0 {
        tracing::warn!(dropped = logs.dropped(), "message log lines dropped");
    }
    tracing::info!("fixd stopped");
    Ok(())
}

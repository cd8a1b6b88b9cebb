//! `fixd`: the FIX server binary's library side.
//!
//! * [`settings`]: reads a properties file with `--set` overrides, resolves it, loads the data
//!   dictionaries it names, and describes the result (`fixd check-config`).
//! * [`app`]: the application `fixd` gives each session: the built-in application the
//!   configuration chose (`none`, `echo`, `executor`), wrapped to report engine events through
//!   `tracing`. (FIX message logs, `MessageLog`, are the engine's.)
//! * [`run`]: `fixd run`: the engine until SIGINT/SIGTERM, periodic status lines, graceful logout.
//! * [`admin`]: the admin socket `fixd run` answers with the status of its sessions, and the
//!   `fixd status` client.
//! * [`status`]: the status line of a session (state, sequence numbers, latency percentiles).
//! * [`client`]: `fixd client`: an initiator that sends N orders and checks each is answered
//!   exactly once (the fixd side of the QuickFIX interop runs).
//! * [`demo`]: `fixd demo`: an acceptor and an initiator in one process exchanging orders and
//!   execution reports, with round-trip latency percentiles.
//!
//! `docs/FIXD.md` describes the commands.

pub mod admin;
pub mod app;
pub mod client;
pub mod demo;
pub mod run;
pub mod settings;
pub mod signals;
pub mod status;

/// Exit status for a configuration error (nothing was started).
pub const EXIT_CONFIG: i32 = 2;
/// Exit status for a failure after the configuration was accepted (a port in use, ...).
pub const EXIT_FAILURE: i32 = 1;

/// A failure of a `fixd` command: the message to print and the exit status.
#[derive(Debug)]
pub struct CommandError {
    /// The exit status ([`EXIT_CONFIG`] or [`EXIT_FAILURE`]).
    pub code: i32,
    /// What to print (one or more lines, without the `fixd: ` prefix).
    pub message: String,
}

impl CommandError {
    /// A configuration error (exit status [`EXIT_CONFIG`]).
    pub fn config(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_CONFIG,
            message: message.into(),
        }
    }

    /// A runtime failure (exit status [`EXIT_FAILURE`]).
    pub fn failure(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_FAILURE,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CommandError {}

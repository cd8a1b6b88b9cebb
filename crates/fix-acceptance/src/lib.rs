//! Runner for QuickFIX-format acceptance scripts (`.def`).
//!
//! The format, the line transform and the comparison rules are those of
//! `../shared/acceptance/README.md`; `docs/conformance.md` summarises them.
//!
//! * [`Script::parse`] reads a script into [`Step`]s.
//! * [`transform`] applies `<TIME>`, the `9=` insertion and the `10=` appending to a template.
//! * [`compare`] checks a received message against an `E` line with [`FieldFormats`].
//! * [`run_script`] plays a script against any [`Transport`]: [`TcpTransport`] for a running
//!   engine, or an in-process transport with a manual clock (the session crate's tests).
//! * [`run_tcp_script`] adds the probe connection and the clean-up between scripts.
//!
//! This is test tooling, not the hot path: it allocates freely.

pub mod compare;
pub mod script;
pub mod suite;
pub mod transform;
pub mod transport;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

pub use compare::{
    DEFAULT_FIELDS_FMT, FieldFormats, FormatsError, Mismatch, MismatchKind, compare,
};
pub use script::{
    ConnId, DEFAULT_CONN, MAX_CONNECTIONS, ParseError, ParseErrorReason, Script, ScriptLine, Step,
};
pub use transform::transform;
pub use transport::{Received, TcpTransport, Transport, TransportError, system_now_utc};

/// Bound on every read (an `E` line) and on waiting for a close (`eDISCONNECT`).
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Bound on waiting for the engine to close connections left open when a script ends.
pub const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// How a script is run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Bound on every read and on every wait for a close.
    pub read_timeout: Duration,
    /// Tags compared by pattern.
    pub formats: FieldFormats,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            read_timeout: READ_TIMEOUT,
            formats: FieldFormats::default(),
        }
    }
}

/// Why a script failed: the first failing line and what went wrong there.
#[derive(Debug)]
pub struct ScriptFailure {
    /// 1-based line number in the script; 0 for failures before the first line (the probe).
    pub line: usize,
    /// What went wrong.
    pub kind: FailureKind,
}

/// What went wrong on the failing line.
#[derive(Debug)]
#[non_exhaustive]
pub enum FailureKind {
    /// `E`: the message differs from the expected one.
    Mismatch(Mismatch),
    /// `E`: no complete message within the read bound.
    NoMessage {
        /// The expected message, SOH shown as `|`.
        expected: String,
        /// The bound that expired.
        timeout: Duration,
    },
    /// `E`: the engine closed the connection instead.
    ClosedInsteadOfMessage {
        /// The expected message, SOH shown as `|`.
        expected: String,
    },
    /// `eDISCONNECT`: the engine sent something instead of closing.
    DataInsteadOfClose {
        /// What it sent, SOH shown as `|`.
        got: String,
    },
    /// `eDISCONNECT`: the connection was still open when the bound expired.
    NotClosed {
        /// The bound that expired.
        timeout: Duration,
    },
    /// Connecting, sending or reading failed.
    Transport(TransportError),
    /// The probe connection before the script failed.
    Probe(TransportError),
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mismatch(m) => write!(f, "{m}"),
            Self::NoMessage { expected, timeout } => write!(
                f,
                "no message within {} s; expected `{expected}`",
                timeout.as_secs_f64()
            ),
            Self::ClosedInsteadOfMessage { expected } => {
                write!(f, "connection closed; expected `{expected}`")
            }
            Self::DataInsteadOfClose { got } => {
                write!(f, "expected a disconnect, got `{got}`")
            }
            Self::NotClosed { timeout } => write!(
                f,
                "expected a disconnect, connection still open after {} s",
                timeout.as_secs_f64()
            ),
            Self::Transport(e) => write!(f, "{e}"),
            Self::Probe(e) => write!(f, "probe connection: {e}"),
        }
    }
}

impl fmt::Display for ScriptFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "line {}: {}", self.line, self.kind)
        }
    }
}

impl std::error::Error for ScriptFailure {}

/// Longest message text kept in a failure (characters).
const SHOW_MESSAGE: usize = 400;

/// Play `script` against `transport` with the default configuration (10 s bound, QuickFIX's
/// `fields.fmt`). Stops at the first failure.
pub fn run_script<T: Transport + ?Sized>(
    script: &Script,
    transport: &mut T,
) -> Result<(), ScriptFailure> {
    run_script_with(script, transport, &RunConfig::default())
}

/// Play `script` against `transport`. Stops at the first failure, which names its line.
/// Leaves connections as the script left them (see [`TcpTransport::close_all`]).
pub fn run_script_with<T: Transport + ?Sized>(
    script: &Script,
    transport: &mut T,
    config: &RunConfig,
) -> Result<(), ScriptFailure> {
    for ScriptLine { line, step } in &script.steps {
        let fail = |kind| ScriptFailure { line: *line, kind };
        let io = |e| fail(FailureKind::Transport(e));
        match step {
            Step::Connect(n) => transport.connect(*n).map_err(io)?,
            Step::Disconnect(n) => transport.disconnect(*n).map_err(io)?,
            Step::Send(n, template) => {
                let bytes = transform(template, transport.now_utc());
                transport.send(*n, &bytes).map_err(io)?;
            }
            Step::Expect(n, template) => {
                let received = transport.recv(*n, config.read_timeout).map_err(io)?;
                // Transformed after the read: `<TIME>` in an `E` line is compared by pattern, and
                // the engine's clock is the one that counts.
                let expected = transform(template, transport.now_utc());
                let show = || script::printable(&expected, SHOW_MESSAGE);
                match received {
                    Received::Message(got) => compare(&expected, &got, &config.formats)
                        .map_err(|m| fail(FailureKind::Mismatch(m)))?,
                    Received::Closed => {
                        return Err(fail(FailureKind::ClosedInsteadOfMessage {
                            expected: show(),
                        }));
                    }
                    Received::TimedOut => {
                        return Err(fail(FailureKind::NoMessage {
                            expected: show(),
                            timeout: config.read_timeout,
                        }));
                    }
                }
            }
            Step::ExpectDisconnect(n) => {
                match transport
                    .expect_closed(*n, config.read_timeout)
                    .map_err(io)?
                {
                    Received::Closed => {}
                    Received::Message(got) => {
                        return Err(fail(FailureKind::DataInsteadOfClose {
                            got: script::printable(&got, SHOW_MESSAGE),
                        }));
                    }
                    Received::TimedOut => {
                        return Err(fail(FailureKind::NotClosed {
                            timeout: config.read_timeout,
                        }));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Run one script against the engine at `addr` as the reference runner does: a probe connection
/// opened and closed without data, then the script on fresh connections, then every connection
/// still open is closed and the engine given [`CLOSE_GRACE`] to close its side.
pub fn run_tcp_script(
    script: &Script,
    addr: SocketAddr,
    config: &RunConfig,
) -> Result<(), ScriptFailure> {
    let mut transport = TcpTransport::new(addr, config.read_timeout);
    transport.probe().map_err(|e| ScriptFailure {
        line: 0,
        kind: FailureKind::Probe(e),
    })?;
    let result = run_script_with(script, &mut transport, config);
    transport.close_all(CLOSE_GRACE);
    result
}

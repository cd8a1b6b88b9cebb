//! The engine's error type.

use std::time::Duration;

use fix_session::SessionState;

/// Everything the engine API can refuse or fail with. Sorted roughly by blame: caller misuse,
/// back-pressure, then environment (I/O, storage, configuration).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A session with this name already exists.
    #[error("a session named {0:?} already exists")]
    DuplicateSession(String),
    /// Another session already has this `BeginString`, `SenderCompID` and `TargetCompID`.
    #[error("session {existing:?} already has the identity {identity}")]
    DuplicateIdentity {
        /// The identity (`BeginString-SenderCompID-TargetCompID`).
        identity: String,
        /// The session that has it.
        existing: String,
    },
    /// No session with this name.
    #[error("no session named {0:?}")]
    UnknownSession(String),
    /// The session was released: its handle is dead.
    #[error("session {0:?} was released")]
    Released(String),
    /// The session is not logged on, so application messages cannot be sent.
    #[error("session is not logged on (state {0})")]
    NotLoggedOn(SessionState),
    /// The operation is not possible in the session's current state.
    #[error("not possible in state {0}")]
    WrongState(SessionState),
    /// The owning I/O thread's command queue or the session's send buffers are exhausted, or
    /// the connection is congested (its outbound buffer is past the send watermark because the
    /// counterparty reads slower than we send, or a resend is being replayed): retry later.
    /// Never a block.
    #[error(
        "back-pressure: the session cannot take more messages now (queue full or connection congested)"
    )]
    Backpressure,
    /// A message body does not fit a send buffer.
    #[error("message body of {len} bytes exceeds the limit of {max}")]
    MessageTooLarge {
        /// The body's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The MsgType is empty, contains SOH or `=`, or is an admin type.
    #[error("invalid application MsgType")]
    InvalidMsgType,
    /// An extra header field cannot be sent: a zero tag, an empty value or one containing SOH
    /// (`tag` says which), or more than [`crate::app::MAX_HEADER_FIELDS`] fields (`tag` is `None`).
    #[error("invalid extra header field (tag {tag:?})")]
    InvalidHeaderField {
        /// The offending tag, if one field is to blame.
        tag: Option<u32>,
    },
    /// A wait ran out of time; the last state seen is given.
    #[error("timed out after {timeout:?} (state {state})")]
    Timeout {
        /// How long the caller waited.
        timeout: Duration,
        /// The state when the wait ended.
        state: SessionState,
    },
    /// The engine is stopped (or stopping): its threads no longer take commands.
    #[error("the engine is stopped")]
    Stopped,
    /// The session settings cannot be turned into a session.
    #[error("invalid session settings: {0}")]
    Session(#[from] fix_session::ConfigError),
    /// Invalid configuration.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Storage failed to open or to write.
    #[error("storage: {0}")]
    Store(#[from] fix_store::StoreError),
    /// A data dictionary failed to load.
    #[error("data dictionary: {0}")]
    Dictionary(#[from] fix_codec::DictError),
    /// A socket or thread operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The counterparty address could not be resolved.
    #[error("cannot resolve {0}")]
    Resolve(String),
}

impl EngineError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

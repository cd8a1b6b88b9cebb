//! The configuration error: every variant names where the problem is and which key.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Where a setting came from: a file (or other named source) and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file path as given, `--set` for command-line overrides, or the name passed to
    /// [`Config::from_str`](super::Config::from_str).
    pub source: Arc<str>,
    /// 1-based line number; for `--set` the ordinal of the override.
    pub line: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source, self.line)
    }
}

/// Everything that can be wrong with a configuration.
///
/// The `Display` of every variant tied to a file starts with `FILE:LINE: KEY: `.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path as given.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is larger than the bound this parser accepts.
    #[error("{}: file larger than {max} bytes", path.display())]
    TooLarge {
        /// The path as given.
        path: PathBuf,
        /// The bound in bytes.
        max: u64,
    },
    /// A non-comment line without `=`, or with an empty key.
    #[error("{at}: {text}: expected `key = value`")]
    Syntax {
        /// Where.
        at: Location,
        /// The offending line, trimmed (and shortened).
        text: String,
    },
    /// A key this engine does not know (or knows, but not in this place).
    #[error("{at}: {key}: {message}")]
    UnknownKey {
        /// Where.
        at: Location,
        /// The key as written.
        key: String,
        /// Why it is unknown, with a suggestion when one is close.
        message: String,
    },
    /// A value that does not parse or is out of range for its key.
    #[error("{at}: {key}: invalid value `{value}`: expected {expected}")]
    InvalidValue {
        /// Where.
        at: Location,
        /// The key as written.
        key: String,
        /// The value as written.
        value: String,
        /// What the key accepts.
        expected: String,
    },
    /// The same setting twice in one file (possibly under two spellings).
    #[error("{at}: {key}: duplicate key (first set at {first})")]
    Duplicate {
        /// The second occurrence.
        at: Location,
        /// The key as written at the second occurrence.
        key: String,
        /// The first occurrence.
        first: Location,
    },
    /// A required key is absent for a session.
    #[error("{at}: {key}: missing for session {session}: {message}")]
    Missing {
        /// Where the session is defined (its first key, or the session list naming it).
        at: Location,
        /// The session's name.
        session: String,
        /// The full key that is missing.
        key: String,
        /// Why it is required.
        message: String,
    },
    /// A value that is valid alone but contradicts another setting.
    #[error("{at}: {key}: {message}")]
    Conflict {
        /// Where.
        at: Location,
        /// The key as written.
        key: String,
        /// What contradicts it.
        message: String,
    },
    /// A session named in `FixLayer.FixEngine.Sessions` has no keys at all.
    #[error(
        "{at}: FixLayer.FixEngine.Sessions: session {session} is listed but has no FixLayer.FixEngine.Session.{session}.* keys"
    )]
    EmptySession {
        /// The session list's location.
        at: Location,
        /// The listed name.
        session: String,
    },
    /// A session that does not exist was requested by name.
    #[error("no session named {session} is configured")]
    NoSuchSession {
        /// The requested name.
        session: String,
    },
    /// Settings built through the API are inconsistent.
    #[error("session {session}: {key}: {message}")]
    Invalid {
        /// The session's name.
        session: String,
        /// The key (properties-file name) of the offending setting.
        key: String,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// The location in a file this error points at, if any.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Self::Syntax { at, .. }
            | Self::UnknownKey { at, .. }
            | Self::InvalidValue { at, .. }
            | Self::Duplicate { at, .. }
            | Self::Missing { at, .. }
            | Self::Conflict { at, .. }
            | Self::EmptySession { at, .. } => Some(at),
            _ => None,
        }
    }
}

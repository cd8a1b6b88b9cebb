//! Configuration: properties files and the typed settings they resolve to.
//!
//! The file format is the FIX Antenna `engine.properties` / FIXEdge `FIXEdge.properties` one:
//!
//! ```text
//! # engine-wide (FIX Antenna style)
//! ForcedReconnect = true
//! ReconnectMaxTries = -1
//! ReconnectInterval = 5
//! FixLayer.FixEngine.Sessions = MySession
//! # per session (FIXEdge style), with a backup endpoint
//! FixLayer.FixEngine.Session.MySession.Role = Initiator
//! FixLayer.FixEngine.Session.MySession.Version = FIX.4.4
//! FixLayer.FixEngine.Session.MySession.SenderCompID = ME
//! FixLayer.FixEngine.Session.MySession.TargetCompID = THEM
//! FixLayer.FixEngine.Session.MySession.Host = 127.0.0.1
//! FixLayer.FixEngine.Session.MySession.Port = 9001
//! FixLayer.FixEngine.Session.MySession.EnableAutoSwitchToBackupConnection = true
//! FixLayer.FixEngine.Session.MySession.Backup.Host = 127.0.0.1
//! FixLayer.FixEngine.Session.MySession.Backup.Port = 9002
//! ```
//!
//! ```
//! use fix_engine::config::Config;
//! # let text = "FixLayer.FixEngine.Sessions = S\n\
//! #   FixLayer.FixEngine.Session.S.Role = Acceptor\n\
//! #   FixLayer.FixEngine.Session.S.Version = FIX.4.2\n\
//! #   FixLayer.FixEngine.Session.S.SenderCompID = A\n\
//! #   FixLayer.FixEngine.Session.S.TargetCompID = B\n\
//! #   FixLayer.FixEngine.Session.S.Port = 9000\n";
//! let mut config = Config::from_str(text, "fixd.properties")?;
//! config.set_override("HeartBtInt", "5")?; // fixd run --set HeartBtInt=5
//! let resolved = config.resolve()?;
//! assert_eq!(resolved.sessions[0].primary.heart_bt_int, 5);
//! # Ok::<(), fix_engine::config::ConfigError>(())
//! ```
//!
//! Parsing validates every value against its key as it is read; [`Config::resolve`] then applies
//! defaults (built-in, then engine-wide, then per session, then per backup endpoint) and checks
//! what is required. Every error names `FILE:LINE: KEY`. `docs/CONFIG.md` lists every key.
//!
//! [`EndpointSelector`] turns a session's backup and reconnection settings into decisions: which
//! endpoint to try next and after what delay, or give up.

mod endpoints;
mod error;
mod keys;
mod resolve;
mod settings;
mod types;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

pub use endpoints::{Attempt, EndpointSelector, Next};
pub use error::{ConfigError, Location};
pub use keys::all_key_names;
pub use resolve::Resolved;
pub use settings::{
    Credentials, DEFAULT_LISTEN_ADDRESS, DEFAULT_MAX_HELD_BYTES, DictionarySettings,
    EndpointSettings, EngineSettings, ReconnectSettings, SessionBuilder, SessionIds,
    SessionSettings, StorageSettings, UnregisteredAcceptorSettings, ValidationSettings,
};
pub use types::{
    ApplVerId, Application, BeginString, DurabilityMode, EndpointPolicy, IdleStrategy, Role,
    SeqNumReset, StorageType, Tries, parse_bool,
};

use keys::{Key, Kind, Value};

/// Prefix of every per-session key.
pub const SESSION_PREFIX: &str = "FixLayer.FixEngine.Session.";
/// The key listing the sessions to create at start.
pub const SESSIONS_KEY: &str = "FixLayer.FixEngine.Sessions";
/// Most sessions one configuration may define.
pub const MAX_SESSIONS: usize = 4096;
/// Most backup endpoints per session (`Backup.1.` .. `Backup.16.`).
pub const MAX_BACKUPS: usize = 16;
/// Largest properties file accepted.
pub const MAX_FILE_BYTES: u64 = 4 << 20;
/// Name of the source of [`Config::set_override`] settings.
pub const OVERRIDE_SOURCE: &str = "--set";

/// Which part of the configuration a key belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Scope {
    Engine,
    Session(String),
    /// A session's backup endpoint, 1-based (`Backup.` is `Backup.1.`).
    Backup(String, u8),
}

/// One setting's identity, independent of spelling.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Slot {
    pub scope: Scope,
    pub key: Key,
    /// `IoThread.<i>.Cpu`'s thread index; 0 otherwise.
    pub index: u16,
}

/// One setting as read.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub value: Value,
    /// The key as written (with prefix).
    pub written: String,
    pub at: Location,
    /// Order of arrival, to find a session's first line.
    pub seq: u64,
}

/// A set of settings read from properties files and overrides, not yet resolved.
///
/// Within one source a setting may appear once (under any of its spellings); a later source
/// replaces an earlier one's value, which is how `--set` overrides a file.
#[derive(Debug, Clone, Default)]
pub struct Config {
    entries: BTreeMap<Slot, Entry>,
    /// Every session with at least one key.
    sessions: BTreeSet<String>,
    seq: u64,
    overrides: u32,
}

impl Config {
    /// An empty configuration (every setting at its default, no sessions).
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a properties file.
    ///
    /// # Errors
    /// I/O errors, files over [`MAX_FILE_BYTES`], and every syntax, key or value error, as
    /// `FILE:LINE: KEY: message`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let mut c = Self::new();
        c.load_file(path)?;
        Ok(c)
    }

    /// Parses properties text; `source_name` stands for the file name in errors.
    ///
    /// # Errors
    /// Every syntax, key or value error, as `SOURCE:LINE: KEY: message`.
    pub fn from_str(text: &str, source_name: &str) -> Result<Self, ConfigError> {
        let mut c = Self::new();
        c.load_str(text, source_name)?;
        Ok(c)
    }

    /// Reads another properties file on top of this configuration: its settings replace earlier ones.
    ///
    /// # Errors
    /// As [`Config::from_file`]. On error `self` is unchanged.
    pub fn load_file(&mut self, path: impl AsRef<Path>) -> Result<(), ConfigError> {
        let path = path.as_ref();
        let io = |source| ConfigError::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut bytes = Vec::new();
        // Read one byte past the bound so an oversized file is detected without reading it all.
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(ConfigError::TooLarge {
                path: path.to_owned(),
                max: MAX_FILE_BYTES,
            });
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not UTF-8: {e}"),
            ))
        })?;
        self.load_str(&text, &path.display().to_string())
    }

    /// Parses properties text on top of this configuration: its settings replace earlier ones.
    ///
    /// # Errors
    /// As [`Config::from_str`]. On error `self` is unchanged.
    pub fn load_str(&mut self, text: &str, source_name: &str) -> Result<(), ConfigError> {
        let source: Arc<str> = Arc::from(source_name);
        let mut staged = self.clone();
        let mut seen: HashMap<Slot, Location> = HashMap::new();
        // A BOM would otherwise glue itself to the first key.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (i, line) in text.lines().enumerate() {
            let at = Location {
                source: source.clone(),
                line: u32::try_from(i + 1).unwrap_or(u32::MAX),
            };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(syntax(at, line));
            };
            let (key, value) = (key.trim(), value.trim());
            if key.is_empty() {
                return Err(syntax(at, line));
            }
            let slot = staged.insert(key, value, at.clone())?;
            if let Some(first) = seen.get(&slot) {
                return Err(ConfigError::Duplicate {
                    at,
                    key: key.to_owned(),
                    first: first.clone(),
                });
            }
            seen.insert(slot, at);
        }
        *self = staged;
        Ok(())
    }

    /// Sets one key as if from the command line (`fixd run --set KEY=VALUE`): replaces any value
    /// from a file; errors name the source `--set` and the override's ordinal as the line.
    ///
    /// # Errors
    /// Unknown key or invalid value.
    pub fn set_override(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        self.overrides = self.overrides.saturating_add(1);
        let at = Location {
            source: Arc::from(OVERRIDE_SOURCE),
            line: self.overrides,
        };
        self.insert(key.trim(), value.trim(), at).map(|_| ())
    }

    /// [`Config::set_override`] for one `KEY=VALUE` argument.
    ///
    /// # Errors
    /// No `=`, unknown key or invalid value.
    pub fn set_override_arg(&mut self, arg: &str) -> Result<(), ConfigError> {
        match arg.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => self.set_override(k, v),
            _ => {
                self.overrides = self.overrides.saturating_add(1);
                Err(syntax(
                    Location {
                        source: Arc::from(OVERRIDE_SOURCE),
                        line: self.overrides,
                    },
                    arg,
                ))
            }
        }
    }

    /// Every setting as written: `(key, location)`, in key order.
    pub fn keys(&self) -> impl Iterator<Item = (&str, &Location)> {
        self.entries.values().map(|e| (e.written.as_str(), &e.at))
    }

    /// Validates and stores one setting, replacing an earlier one. Returns its slot.
    fn insert(&mut self, key: &str, raw: &str, at: Location) -> Result<Slot, ConfigError> {
        let (slot, kind) = classify(key).map_err(|message| ConfigError::UnknownKey {
            at: at.clone(),
            key: key.to_owned(),
            message,
        })?;
        let value = if raw.is_empty() {
            Err("a value (it is empty)".to_owned())
        } else {
            keys::parse_value(kind, raw)
        }
        .map_err(|expected| ConfigError::InvalidValue {
            at: at.clone(),
            key: key.to_owned(),
            value: raw.to_owned(),
            expected,
        })?;
        if let Scope::Session(name) | Scope::Backup(name, _) = &slot.scope
            && !self.sessions.contains(name)
        {
            if self.sessions.len() >= MAX_SESSIONS {
                return Err(ConfigError::Conflict {
                    at,
                    key: key.to_owned(),
                    message: format!("more than {MAX_SESSIONS} sessions"),
                });
            }
            self.sessions.insert(name.clone());
        }
        self.seq += 1;
        self.entries.insert(
            slot.clone(),
            Entry {
                value,
                written: key.to_owned(),
                at,
                seq: self.seq,
            },
        );
        Ok(slot)
    }

    /// Names of every session that has at least one key, sorted.
    pub fn session_names(&self) -> Vec<String> {
        self.sessions.iter().cloned().collect()
    }
}

fn syntax(at: Location, line: &str) -> ConfigError {
    let text: String = line.chars().take(80).collect();
    ConfigError::Syntax { at, text }
}

/// Maps a key as written to its slot and the parser for its value; on failure, says why.
fn classify(full: &str) -> Result<(Slot, Kind), String> {
    if let Some(rest) = full.strip_prefix(SESSION_PREFIX) {
        let Some((name, sub)) = rest.split_once('.') else {
            return Err(format!(
                "expected {SESSION_PREFIX}<Name>.<Key>, found no key after the session name"
            ));
        };
        if !keys::valid_session_name(name) {
            return Err(format!(
                "`{name}` is not a valid session name (letters, digits, _ and -, at most 64)"
            ));
        }
        if let Some(b) = sub.strip_prefix("Backup.") {
            let (index, key) = match b.split_once('.') {
                Some((n, k)) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => {
                    let index = n
                        .parse::<usize>()
                        .ok()
                        .filter(|i| (1..=MAX_BACKUPS).contains(i))
                        .ok_or_else(|| format!("backup index must be 1..={MAX_BACKUPS}"))?;
                    (index, k)
                }
                _ => (1, b),
            };
            let sp = keys::lookup(key).ok_or_else(|| unknown(key))?;
            if !sp.def.backup {
                return Err(format!(
                    "{} cannot be set per backup endpoint (it is the session's; set it without Backup.)",
                    sp.def.name
                ));
            }
            let slot = Slot {
                scope: Scope::Backup(name.to_owned(), index as u8),
                key: sp.def.key,
                index: 0,
            };
            return Ok((slot, sp.kind));
        }
        let sp = keys::lookup(sub).ok_or_else(|| unknown(sub))?;
        if sp.def.scope == keys::Scope::Engine {
            return Err(format!(
                "{} is engine-wide: write it without the {SESSION_PREFIX}{name}. prefix",
                sp.def.name
            ));
        }
        let slot = Slot {
            scope: Scope::Session(name.to_owned()),
            key: sp.def.key,
            index: 0,
        };
        return Ok((slot, sp.kind));
    }
    let sp = keys::lookup(full).ok_or_else(|| {
        if full.starts_with("Backup.") {
            format!("backup keys belong to a session: write {SESSION_PREFIX}<Name>.{full}")
        } else {
            unknown(full)
        }
    })?;
    if sp.def.scope == keys::Scope::Session {
        return Err(format!(
            "{} is per session: write {SESSION_PREFIX}<Name>.{full}",
            sp.def.name
        ));
    }
    let slot = Slot {
        scope: Scope::Engine,
        key: sp.def.key,
        index: sp.index,
    };
    Ok((slot, sp.kind))
}

fn unknown(key: &str) -> String {
    match keys::suggest(key) {
        Some(s) => format!("unknown key (did you mean {s}?)"),
        None => "unknown key".to_owned(),
    }
}

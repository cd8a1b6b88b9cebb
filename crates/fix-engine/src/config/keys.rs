//! The table of every key: name, aliases, where it may appear, how its value is parsed.
//!
//! One table drives parsing, validation and the documentation test (every name listed here must
//! appear in `docs/CONFIG.md`).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::types::{
    ApplVerId, Application, BeginString, DurabilityMode, EndpointPolicy, IdleStrategy, Role,
    SeqNumReset, StorageType, Tries, parse_bool,
};

/// Every setting, independent of its spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Key {
    // Engine only.
    Sessions,
    ListenPort,
    IoThreads,
    IoCpus,
    IoThreadCpu,
    IdleStrategy,
    Workers,
    UnregisteredCreateSession,
    UnregisteredMaxSessions,
    // Engine-wide default with per-session override.
    Role,
    Version,
    DefaultApplVerId,
    SenderCompId,
    SenderSubId,
    SenderLocationId,
    HeartBtInt,
    ForcedReconnect,
    ReconnectMaxTries,
    ReconnectInterval,
    IntradayLogoutTolerance,
    ForceSeqNumReset,
    ResetOnLogon,
    StorageDirectory,
    StorageType,
    Durability,
    DurabilityIntervalMs,
    MessageLog,
    Application,
    DataDictionary,
    TransportDataDictionary,
    AppDataDictionary,
    UseDataDictionary,
    ValidateFieldsOutOfOrder,
    ValidateFieldsHaveValues,
    ValidateUserDefinedFields,
    AllowUnknownMsgFields,
    CheckLatency,
    MaxLatency,
    LogonTimeout,
    LogoutTimeout,
    SendNextExpectedMsgSeqNum,
    MaxMessageSize,
    ResendBatch,
    MaxHeldBytes,
    ResendRequestTimeout,
    ListenAddress,
    AutoSwitch,
    CyclicSwitch,
    EndpointPolicy,
    EndpointTries,
    MaxConnectAttempts,
    // Session only.
    TargetCompId,
    TargetSubId,
    TargetLocationId,
    Host,
    Port,
    Username,
    Password,
}

/// Where a key may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Only engine-wide (no prefix).
    Engine,
    /// Only under `FixLayer.FixEngine.Session.<Name>.`.
    Session,
    /// Engine-wide as the default for every session, and per session as an override.
    Both,
}

/// How a value is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Bool,
    Int {
        min: u64,
        max: u64,
    },
    /// 0..=65535; 0 lets the OS choose a listen port (acceptors and `ListenPort` only: an
    /// initiator with port 0 is refused when the session is checked).
    Port,
    Seconds {
        min: u64,
        max: u64,
    },
    Millis {
        min: u64,
        max: u64,
    },
    Tries,
    /// A CompID, SubID, LocationID or user name: printable ASCII without spaces.
    Id,
    Host,
    /// Free text (a password): any characters but control characters.
    Secret,
    Path,
    PathOrOff,
    Ip,
    Role,
    Version,
    ApplVer,
    Reset,
    Idle,
    Storage,
    Durability,
    App,
    Policy,
    CpuList,
    Names,
}

/// A parsed, validated value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Bool(bool),
    Int(u64),
    Duration(Duration),
    Tries(Tries),
    Text(String),
    Path(PathBuf),
    OptPath(Option<PathBuf>),
    Ip(IpAddr),
    Role(Role),
    Version(BeginString),
    ApplVer(ApplVerId),
    Reset(SeqNumReset),
    Idle(IdleStrategy),
    Storage(StorageType),
    Durability(DurabilityMode),
    App(Application),
    Policy(EndpointPolicy),
    Cpus(Vec<usize>),
    Names(Vec<String>),
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyDef {
    pub key: Key,
    /// The canonical spelling.
    pub name: &'static str,
    /// Other spellings; each may parse differently (`Reconnect.Interval` is milliseconds).
    pub aliases: &'static [(&'static str, Kind)],
    pub scope: Scope,
    /// Allowed under `Backup.` / `Backup.<n>.` (an endpoint's own setting).
    pub backup: bool,
    pub kind: Kind,
}

const SECS_DAY: u64 = 86_400;
/// Largest CPU index accepted; the engine checks against the real machine.
const MAX_CPU: u64 = 4095;
/// Largest number of I/O threads or workers.
pub(crate) const MAX_THREADS: u64 = 64;
/// Largest `IoThread.<i>.Cpu` index + 1.
pub(crate) const MAX_IO_THREAD_INDEX: u64 = MAX_THREADS - 1;
/// Largest `ResendBatch`: beyond this one replay turn holds its I/O thread too long to be a batch.
pub(crate) const MAX_RESEND_BATCH: u64 = 1_000_000;
/// Largest `MaxHeldBytes` (64 MiB): the bytes held per session during a replay are memory the
/// engine commits to a slow counterparty.
pub(crate) const MAX_HELD_BYTES: u64 = 64 << 20;
/// Largest `ResendRequestTimeout` in seconds.
pub(crate) const MAX_RESEND_REQUEST_TIMEOUT_SECS: u64 = SECS_DAY;

macro_rules! def {
    ($key:ident, $name:literal, $scope:ident, $backup:literal, $kind:expr) => {
        def!($key, $name, [], $scope, $backup, $kind)
    };
    ($key:ident, $name:literal, [$(($alias:literal, $akind:expr)),*], $scope:ident, $backup:literal, $kind:expr) => {
        KeyDef {
            key: Key::$key,
            name: $name,
            aliases: &[$(($alias, $akind)),*],
            scope: Scope::$scope,
            backup: $backup,
            kind: $kind,
        }
    };
}

/// Every key. Order is the documentation's order.
pub(crate) const KEYS: &[KeyDef] = &[
    def!(
        Sessions,
        "FixLayer.FixEngine.Sessions",
        Engine,
        false,
        Kind::Names
    ),
    def!(ListenPort, "ListenPort", Engine, false, Kind::Port),
    def!(
        IoThreads,
        "IoThreads",
        [(
            "Engine.IoThreads",
            Kind::Int {
                min: 1,
                max: MAX_THREADS
            }
        )],
        Engine,
        false,
        Kind::Int {
            min: 1,
            max: MAX_THREADS
        }
    ),
    def!(
        IoCpus,
        "IoCpus",
        [("Engine.IoCpus", Kind::CpuList)],
        Engine,
        false,
        Kind::CpuList
    ),
    def!(
        IoThreadCpu,
        "IoThread.<i>.Cpu",
        Engine,
        false,
        Kind::Int {
            min: 0,
            max: MAX_CPU
        }
    ),
    def!(
        IdleStrategy,
        "IdleStrategy",
        [("Engine.IdleStrategy", Kind::Idle)],
        Engine,
        false,
        Kind::Idle
    ),
    def!(
        Workers,
        "Workers",
        [(
            "Engine.Workers",
            Kind::Int {
                min: 1,
                max: MAX_THREADS
            }
        )],
        Engine,
        false,
        Kind::Int {
            min: 1,
            max: MAX_THREADS
        }
    ),
    def!(
        UnregisteredCreateSession,
        "UnregisteredAcceptor.CreateSession",
        Engine,
        false,
        Kind::Bool
    ),
    def!(
        UnregisteredMaxSessions,
        "UnregisteredAcceptor.MaxSessions",
        Engine,
        false,
        Kind::Int {
            min: 0,
            max: 65_535
        }
    ),
    def!(
        Role,
        "Role",
        [("ConnectionType", Kind::Role)],
        Both,
        false,
        Kind::Role
    ),
    def!(
        Version,
        "Version",
        [("BeginString", Kind::Version)],
        Both,
        false,
        Kind::Version
    ),
    def!(
        DefaultApplVerId,
        "DefaultApplVerID",
        Both,
        false,
        Kind::ApplVer
    ),
    def!(SenderCompId, "SenderCompID", Both, true, Kind::Id),
    def!(SenderSubId, "SenderSubID", Both, true, Kind::Id),
    def!(SenderLocationId, "SenderLocationID", Both, true, Kind::Id),
    def!(TargetCompId, "TargetCompID", Session, true, Kind::Id),
    def!(TargetSubId, "TargetSubID", Session, true, Kind::Id),
    def!(
        TargetLocationId,
        "TargetLocationID",
        Session,
        true,
        Kind::Id
    ),
    def!(
        Host,
        "Host",
        [("SocketConnectHost", Kind::Host)],
        Session,
        true,
        Kind::Host
    ),
    def!(
        Port,
        "Port",
        [
            ("SocketConnectPort", Kind::Port),
            ("SocketAcceptPort", Kind::Port)
        ],
        Session,
        true,
        Kind::Port
    ),
    def!(ListenAddress, "ListenAddress", Both, false, Kind::Ip),
    def!(Username, "Username", Session, true, Kind::Id),
    def!(Password, "Password", Session, true, Kind::Secret),
    def!(
        HeartBtInt,
        "HeartBtInt",
        Both,
        true,
        Kind::Seconds {
            min: 0,
            max: SECS_DAY
        }
    ),
    def!(ForcedReconnect, "ForcedReconnect", Both, true, Kind::Bool),
    def!(
        ReconnectMaxTries,
        "ReconnectMaxTries",
        [("Reconnect.MaxTries", Kind::Tries)],
        Both,
        true,
        Kind::Tries
    ),
    def!(
        ReconnectInterval,
        "ReconnectInterval",
        [(
            "Reconnect.Interval",
            Kind::Millis {
                min: 1,
                max: SECS_DAY * 1000
            }
        )],
        Both,
        true,
        Kind::Seconds {
            min: 1,
            max: SECS_DAY
        }
    ),
    def!(
        IntradayLogoutTolerance,
        "IntradayLogoutTolerance",
        Both,
        false,
        Kind::Bool
    ),
    def!(
        ForceSeqNumReset,
        "ForceSeqNumReset",
        Both,
        true,
        Kind::Reset
    ),
    def!(ResetOnLogon, "ResetOnLogon", Both, false, Kind::Bool),
    def!(
        AutoSwitch,
        "EnableAutoSwitchToBackupConnection",
        Both,
        true,
        Kind::Bool
    ),
    def!(
        CyclicSwitch,
        "EnableCyclicSwitchBackupConnection",
        Both,
        true,
        Kind::Bool
    ),
    def!(EndpointPolicy, "EndpointPolicy", Both, false, Kind::Policy),
    def!(EndpointTries, "EndpointTries", Both, true, Kind::Tries),
    def!(
        MaxConnectAttempts,
        "MaxConnectAttempts",
        Both,
        false,
        Kind::Tries
    ),
    def!(
        LogonTimeout,
        "LogonTimeout",
        Both,
        true,
        Kind::Seconds { min: 1, max: 3600 }
    ),
    def!(
        LogoutTimeout,
        "LogoutTimeout",
        Both,
        false,
        Kind::Seconds { min: 1, max: 3600 }
    ),
    def!(
        StorageDirectory,
        "StorageDirectory",
        [("FileStorePath", Kind::Path)],
        Both,
        false,
        Kind::Path
    ),
    def!(StorageType, "StorageType", Both, false, Kind::Storage),
    def!(Durability, "Durability", Both, false, Kind::Durability),
    def!(
        DurabilityIntervalMs,
        "DurabilityIntervalMs",
        Both,
        false,
        Kind::Millis {
            min: 1,
            max: 60_000
        }
    ),
    def!(MessageLog, "MessageLog", Both, false, Kind::PathOrOff),
    def!(Application, "Application", Both, false, Kind::App),
    def!(DataDictionary, "DataDictionary", Both, false, Kind::Path),
    def!(
        TransportDataDictionary,
        "TransportDataDictionary",
        Both,
        false,
        Kind::Path
    ),
    def!(
        AppDataDictionary,
        "AppDataDictionary",
        Both,
        false,
        Kind::Path
    ),
    def!(
        UseDataDictionary,
        "UseDataDictionary",
        Both,
        false,
        Kind::Bool
    ),
    def!(
        ValidateFieldsOutOfOrder,
        "ValidateFieldsOutOfOrder",
        Both,
        false,
        Kind::Bool
    ),
    def!(
        ValidateFieldsHaveValues,
        "ValidateFieldsHaveValues",
        Both,
        false,
        Kind::Bool
    ),
    def!(
        ValidateUserDefinedFields,
        "ValidateUserDefinedFields",
        Both,
        false,
        Kind::Bool
    ),
    def!(
        AllowUnknownMsgFields,
        "AllowUnknownMsgFields",
        Both,
        false,
        Kind::Bool
    ),
    def!(CheckLatency, "CheckLatency", Both, false, Kind::Bool),
    def!(
        MaxLatency,
        "MaxLatency",
        Both,
        false,
        Kind::Seconds {
            min: 1,
            max: SECS_DAY
        }
    ),
    def!(
        SendNextExpectedMsgSeqNum,
        "SendNextExpectedMsgSeqNum",
        Both,
        false,
        Kind::Bool
    ),
    def!(
        MaxMessageSize,
        "MaxMessageSize",
        Both,
        false,
        Kind::Int {
            min: 64,
            max: 64 << 20
        }
    ),
    def!(
        ResendBatch,
        "ResendBatch",
        Both,
        false,
        Kind::Int {
            min: 0,
            max: MAX_RESEND_BATCH
        }
    ),
    def!(
        MaxHeldBytes,
        "MaxHeldBytes",
        Both,
        false,
        Kind::Int {
            min: 0,
            max: MAX_HELD_BYTES
        }
    ),
    def!(
        ResendRequestTimeout,
        "ResendRequestTimeout",
        Both,
        false,
        Kind::Seconds {
            min: 0,
            max: MAX_RESEND_REQUEST_TIMEOUT_SECS
        }
    ),
];

/// The definition of `key`.
pub(crate) fn def(key: Key) -> &'static KeyDef {
    KEYS.iter()
        .find(|d| d.key == key)
        .expect("every Key has a row in KEYS")
}

/// The canonical name of `key`.
pub(crate) fn name(key: Key) -> &'static str {
    def(key).name
}

/// A key name (without any session prefix) resolved to its setting.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spelling {
    pub def: &'static KeyDef,
    pub kind: Kind,
    /// For `IoThread.<i>.Cpu`: the thread index.
    pub index: u16,
}

/// Looks a key name up among all spellings (exact, case-sensitive).
pub(crate) fn lookup(name: &str) -> Option<Spelling> {
    if let Some(rest) = name.strip_prefix("IoThread.")
        && let Some(idx) = rest.strip_suffix(".Cpu")
    {
        let index = parse_decimal(idx).filter(|&i| i <= MAX_IO_THREAD_INDEX)?;
        return Some(Spelling {
            def: def(Key::IoThreadCpu),
            kind: def(Key::IoThreadCpu).kind,
            index: index as u16,
        });
    }
    for d in KEYS {
        if d.key == Key::IoThreadCpu {
            continue;
        }
        if d.name == name {
            return Some(Spelling {
                def: d,
                kind: d.kind,
                index: 0,
            });
        }
        if let Some((_, kind)) = d.aliases.iter().find(|(a, _)| *a == name) {
            return Some(Spelling {
                def: d,
                kind: *kind,
                index: 0,
            });
        }
    }
    None
}

/// A known spelling equal to `name` ignoring ASCII case, for "did you mean" hints.
pub(crate) fn suggest(name: &str) -> Option<&'static str> {
    KEYS.iter()
        .flat_map(|d| std::iter::once(d.name).chain(d.aliases.iter().map(|(a, _)| *a)))
        .find(|n| n.eq_ignore_ascii_case(name))
}

/// Every spelling of every key, for documentation checks.
pub fn all_key_names() -> impl Iterator<Item = &'static str> {
    KEYS.iter()
        .flat_map(|d| std::iter::once(d.name).chain(d.aliases.iter().map(|(a, _)| *a)))
}

/// Strict unsigned decimal: digits only, no sign, no leading/trailing space, at most 18 digits.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A valid session name: what may stand between `Session.` and the next `.`.
pub(crate) fn valid_session_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn valid_id(s: &str) -> bool {
    s.len() <= 64 && s.bytes().all(|b| b.is_ascii_graphic())
}

fn valid_host(s: &str) -> bool {
    s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
}

/// Parses `raw` (already trimmed, non-empty) for `kind`; on failure, says what was expected.
pub(crate) fn parse_value(kind: Kind, raw: &str) -> Result<Value, String> {
    fn ranged(raw: &str, min: u64, max: u64, unit: &str) -> Result<u64, String> {
        parse_decimal(raw)
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| format!("an integer {min}..={max}{unit}"))
    }
    fn opt<T>(v: Option<T>, expected: &str) -> Result<T, String> {
        v.ok_or_else(|| expected.to_owned())
    }
    Ok(match kind {
        Kind::Bool => Value::Bool(opt(parse_bool(raw), "true/false, Y/N, yes/no or 1/0")?),
        Kind::Int { min, max } => Value::Int(ranged(raw, min, max, "")?),
        Kind::Port => Value::Int(ranged(
            raw,
            0,
            65_535,
            " (0: the OS chooses a listen port)",
        )?),
        Kind::Seconds { min, max } => {
            Value::Duration(Duration::from_secs(ranged(raw, min, max, " (seconds)")?))
        }
        Kind::Millis { min, max } => Value::Duration(Duration::from_millis(ranged(
            raw,
            min,
            max,
            " (milliseconds)",
        )?)),
        Kind::Tries => Value::Tries(opt(
            Tries::parse(raw),
            "-1 (unlimited) or an integer 0..=1000000",
        )?),
        Kind::Id => {
            if !valid_id(raw) {
                return Err("printable ASCII without spaces, at most 64 characters".into());
            }
            Value::Text(raw.to_owned())
        }
        Kind::Host => {
            if !valid_host(raw) {
                return Err("a host name or IP address".into());
            }
            Value::Text(raw.to_owned())
        }
        Kind::Secret => {
            if raw.len() > 256 || raw.chars().any(char::is_control) {
                return Err("text without control characters, at most 256 bytes".into());
            }
            Value::Text(raw.to_owned())
        }
        Kind::Path => Value::Path(PathBuf::from(raw)),
        Kind::PathOrOff => {
            if ["off", "none", "false", "n", "no"]
                .iter()
                .any(|o| raw.eq_ignore_ascii_case(o))
            {
                Value::OptPath(None)
            } else {
                Value::OptPath(Some(PathBuf::from(raw)))
            }
        }
        Kind::Ip => Value::Ip(opt(raw.parse().ok(), "an IP address such as 127.0.0.1")?),
        Kind::Role => Value::Role(opt(Role::parse(raw), "Initiator or Acceptor")?),
        Kind::Version => Value::Version(opt(
            BeginString::parse(raw),
            "FIX.4.0, FIX.4.1, FIX.4.2, FIX.4.3, FIX.4.4 or FIXT.1.1",
        )?),
        Kind::ApplVer => Value::ApplVer(opt(
            ApplVerId::parse(raw),
            "an ApplVerID code 2..9 or a name FIX.4.0 .. FIX.5.0SP2",
        )?),
        Kind::Reset => Value::Reset(opt(SeqNumReset::parse(raw), "0, 1, 2, false or true")?),
        Kind::Idle => Value::Idle(opt(
            IdleStrategy::parse(raw),
            "busy-spin, backoff or block",
        )?),
        Kind::Storage => Value::Storage(opt(StorageType::parse(raw), "persistent or transient")?),
        Kind::Durability => {
            Value::Durability(opt(DurabilityMode::parse(raw), "none, interval or every")?)
        }
        Kind::App => Value::App(opt(Application::parse(raw), "none, echo or executor")?),
        Kind::Policy => Value::Policy(opt(EndpointPolicy::parse(raw), "priority or round-robin")?),
        Kind::CpuList => {
            let expected = || format!("a comma-separated list of CPU numbers 0..={MAX_CPU}");
            let mut cpus = Vec::new();
            for item in raw.split(',') {
                let cpu = parse_decimal(item.trim())
                    .filter(|&c| c <= MAX_CPU)
                    .ok_or_else(expected)?;
                if cpus.len() as u64 >= MAX_THREADS {
                    return Err(format!("at most {MAX_THREADS} CPUs"));
                }
                cpus.push(cpu as usize);
            }
            Value::Cpus(cpus)
        }
        Kind::Names => {
            let mut names: Vec<String> = Vec::new();
            for item in raw.split(',') {
                let item = item.trim();
                if !valid_session_name(item) {
                    return Err(
                        "a comma-separated list of session names (letters, digits, _ and -)".into(),
                    );
                }
                if names.iter().any(|n| n == item) {
                    return Err(format!("distinct session names ({item} is listed twice)"));
                }
                if names.len() >= super::MAX_SESSIONS {
                    return Err(format!("at most {} sessions", super::MAX_SESSIONS));
                }
                names.push(item.to_owned());
            }
            Value::Names(names)
        }
    })
}

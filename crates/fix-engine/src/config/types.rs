//! Plain value types of the configuration: roles, versions, policies.
//!
//! These are deliberately the configuration's own enums: the session and storage crates define their
//! own types, and the engine maps between them, so configuration never depends on them.

use std::fmt;

/// Which side opens the TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Connects to the counterparty and sends the first Logon.
    Initiator,
    /// Listens and waits for the counterparty's Logon.
    Acceptor,
}

impl Role {
    /// Parses `Initiator` / `Acceptor` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("initiator") {
            Some(Self::Initiator)
        } else if s.eq_ignore_ascii_case("acceptor") {
            Some(Self::Acceptor)
        } else {
            None
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Initiator => "Initiator",
            Self::Acceptor => "Acceptor",
        })
    }
}

/// The session protocol version, as carried in `BeginString <8>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BeginString {
    /// `FIX.4.0`
    Fix40,
    /// `FIX.4.1`
    Fix41,
    /// `FIX.4.2`
    Fix42,
    /// `FIX.4.3`
    Fix43,
    /// `FIX.4.4`
    Fix44,
    /// `FIXT.1.1` (FIX 5.0 and later application versions, see [`ApplVerId`]).
    Fixt11,
}

impl BeginString {
    /// Parses the exact `BeginString <8>` text, e.g. `FIX.4.4` or `FIXT.1.1`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "FIX.4.0" => Self::Fix40,
            "FIX.4.1" => Self::Fix41,
            "FIX.4.2" => Self::Fix42,
            "FIX.4.3" => Self::Fix43,
            "FIX.4.4" => Self::Fix44,
            "FIXT.1.1" => Self::Fixt11,
            _ => return None,
        })
    }

    /// The `BeginString <8>` text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Fix40 => "FIX.4.0",
            Self::Fix41 => "FIX.4.1",
            Self::Fix42 => "FIX.4.2",
            Self::Fix43 => "FIX.4.3",
            Self::Fix44 => "FIX.4.4",
            Self::Fixt11 => "FIXT.1.1",
        }
    }

    /// True for `FIXT.1.1`, which needs a `DefaultApplVerID`.
    pub const fn is_fixt(self) -> bool {
        matches!(self, Self::Fixt11)
    }
}

impl fmt::Display for BeginString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The application version of a FIXT session, `DefaultApplVerID <1137>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApplVerId {
    /// `2`, FIX.4.0
    Fix40,
    /// `3`, FIX.4.1
    Fix41,
    /// `4`, FIX.4.2
    Fix42,
    /// `5`, FIX.4.3
    Fix43,
    /// `6`, FIX.4.4
    Fix44,
    /// `7`, FIX.5.0
    Fix50,
    /// `8`, FIX.5.0SP1
    Fix50Sp1,
    /// `9`, FIX.5.0SP2
    Fix50Sp2,
}

impl ApplVerId {
    const ALL: [(Self, &'static str, &'static str); 8] = [
        (Self::Fix40, "2", "FIX.4.0"),
        (Self::Fix41, "3", "FIX.4.1"),
        (Self::Fix42, "4", "FIX.4.2"),
        (Self::Fix43, "5", "FIX.4.3"),
        (Self::Fix44, "6", "FIX.4.4"),
        (Self::Fix50, "7", "FIX.5.0"),
        (Self::Fix50Sp1, "8", "FIX.5.0SP1"),
        (Self::Fix50Sp2, "9", "FIX.5.0SP2"),
    ];

    /// Parses either the wire code (`7`, `8`, `9`, ...) or the name (`FIX.5.0SP2`, as QuickFIX writes it).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, code, name)| s == *code || s == *name)
            .map(|(v, _, _)| *v)
    }

    /// The value sent in `DefaultApplVerID <1137>`, e.g. `9`.
    pub fn code(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(v, _, _)| *v == self)
            .map_or("", |(_, c, _)| c)
    }

    /// The version's name, e.g. `FIX.5.0SP2`.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(v, _, _)| *v == self)
            .map_or("", |(_, _, n)| n)
    }
}

impl fmt::Display for ApplVerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `ForceSeqNumReset`: when to reset both sequence numbers at logon by sending
/// `ResetSeqNumFlag <141>=Y` with `MsgSeqNum <34>=1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SeqNumReset {
    /// `0` / `false`: never.
    #[default]
    Never,
    /// `1` / `true`: only the first time the session is initiated (no storage exists for it yet).
    FirstLogon,
    /// `2`: at every logon, to primary or backup, on every reconnection.
    EveryLogon,
}

impl SeqNumReset {
    /// Parses `0`/`1`/`2` and the boolean spellings `false`/`true`/`N`/`Y` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "0" => Some(Self::Never),
            "1" => Some(Self::FirstLogon),
            "2" => Some(Self::EveryLogon),
            _ => parse_bool(s).map(|b| if b { Self::FirstLogon } else { Self::Never }),
        }
    }
}

/// As a properties file spells it: `0` / `1` / `2` (what [`SeqNumReset::parse`] reads back).
impl fmt::Display for SeqNumReset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Never => "0",
            Self::FirstLogon => "1",
            Self::EveryLogon => "2",
        })
    }
}

/// How an I/O thread waits when it has no work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IdleStrategy {
    /// Poll with a zero timeout forever: lowest latency, burns a core per I/O thread.
    BusySpin,
    /// Spin, then yield, then park briefly: the default, safe on small machines.
    #[default]
    Backoff,
    /// Block in the poller until the next event or timer: for tests and machines with few cores.
    Block,
}

impl IdleStrategy {
    /// Parses `busy-spin` / `backoff` / `block` (case-insensitive; `busyspin` and `busy_spin` accepted).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.to_ascii_lowercase();
        match s.as_str() {
            "busy-spin" | "busyspin" | "busy_spin" => Some(Self::BusySpin),
            "backoff" => Some(Self::Backoff),
            "block" => Some(Self::Block),
            _ => None,
        }
    }
}

/// `StorageType`: whether sequence numbers and the outbound journal survive a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StorageType {
    /// Memory-mapped files under the storage directory: numbering continues after a restart.
    #[default]
    Persistent,
    /// In memory only: every start begins at sequence number 1.
    Transient,
}

impl StorageType {
    /// Parses `persistent` / `transient` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("persistent") {
            Some(Self::Persistent)
        } else if s.eq_ignore_ascii_case("transient") {
            Some(Self::Transient)
        } else {
            None
        }
    }
}

/// `Durability`: when persistent storage is flushed to disk (`msync`).
///
/// A process crash loses nothing in any mode (the pages are in the kernel); the mode only matters
/// when the machine itself goes down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DurabilityMode {
    /// Never flush explicitly; the kernel writes back when it likes.
    None,
    /// Flush every `DurabilityIntervalMs`.
    #[default]
    Interval,
    /// Flush after every message (slow).
    Every,
}

impl DurabilityMode {
    /// Parses `none` / `interval` / `every` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.to_ascii_lowercase();
        match s.as_str() {
            "none" => Some(Self::None),
            "interval" => Some(Self::Interval),
            "every" => Some(Self::Every),
            _ => None,
        }
    }
}

/// `Application`: the built-in application a session runs when the API attaches none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Application {
    /// Application messages are delivered to the API only.
    #[default]
    None,
    /// Echo application messages back (the QuickFIX acceptance test application).
    Echo,
    /// A toy order executor that fills orders.
    Executor,
}

impl Application {
    /// Parses `none` / `echo` / `executor` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.to_ascii_lowercase();
        match s.as_str() {
            "none" => Some(Self::None),
            "echo" => Some(Self::Echo),
            "executor" => Some(Self::Executor),
            _ => None,
        }
    }
}

/// `EndpointPolicy`: which endpoint an initiator with backups tries after losing a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EndpointPolicy {
    /// Always start again from the first endpoint (the primary) after a connection is lost.
    #[default]
    Priority,
    /// Start from the endpoint after the one that was lost, wrapping around.
    RoundRobin,
}

impl EndpointPolicy {
    /// Parses `priority` / `round-robin` (case-insensitive; `roundrobin` and `round_robin` accepted).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.to_ascii_lowercase();
        match s.as_str() {
            "priority" => Some(Self::Priority),
            "round-robin" | "roundrobin" | "round_robin" => Some(Self::RoundRobin),
            _ => None,
        }
    }
}

/// As a properties file spells it: `priority` / `round-robin` (what [`EndpointPolicy::parse`]
/// reads back).
impl fmt::Display for EndpointPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Priority => "priority",
            Self::RoundRobin => "round-robin",
        })
    }
}

/// A number of attempts that may be unlimited (`-1` in properties files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tries {
    /// `-1`: no limit.
    Unlimited,
    /// At most this many attempts (`0` = none).
    Limited(u32),
}

impl Tries {
    /// Parses `-1` (unlimited) or `0..=1000000`.
    pub fn parse(s: &str) -> Option<Self> {
        if s == "-1" {
            return Some(Self::Unlimited);
        }
        match s.parse::<u32>() {
            Ok(n) if n <= MAX_TRIES && !s.starts_with('+') => Some(Self::Limited(n)),
            _ => None,
        }
    }

    /// True when `done` attempts have used up this budget.
    pub const fn exhausted(self, done: u32) -> bool {
        match self {
            Self::Unlimited => false,
            Self::Limited(n) => done >= n,
        }
    }
}

impl fmt::Display for Tries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unlimited => f.write_str("-1"),
            Self::Limited(n) => write!(f, "{n}"),
        }
    }
}

/// The largest finite number of tries a file may ask for; more is a typo for `-1`.
pub(crate) const MAX_TRIES: u32 = 1_000_000;

/// Parses the configuration's booleans: `true`/`false`, `Y`/`N`, `yes`/`no`, `1`/`0`, case-insensitive.
pub fn parse_bool(s: &str) -> Option<bool> {
    const TRUE: [&str; 4] = ["true", "y", "yes", "1"];
    const FALSE: [&str; 4] = ["false", "n", "no", "0"];
    if TRUE.iter().any(|t| s.eq_ignore_ascii_case(t)) {
        Some(true)
    } else if FALSE.iter().any(|t| s.eq_ignore_ascii_case(t)) {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_what_parse_reads_back() {
        for v in [
            SeqNumReset::Never,
            SeqNumReset::FirstLogon,
            SeqNumReset::EveryLogon,
        ] {
            assert_eq!(SeqNumReset::parse(&v.to_string()), Some(v));
        }
        for v in [EndpointPolicy::Priority, EndpointPolicy::RoundRobin] {
            assert_eq!(EndpointPolicy::parse(&v.to_string()), Some(v));
        }
        for v in [Tries::Unlimited, Tries::Limited(0), Tries::Limited(7)] {
            assert_eq!(Tries::parse(&v.to_string()), Some(v));
        }
    }
}

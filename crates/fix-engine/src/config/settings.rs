//! The resolved, typed settings and the builder the API uses to make them without a file.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use super::error::ConfigError;
use super::types::{
    ApplVerId, Application, BeginString, DurabilityMode, EndpointPolicy, IdleStrategy, Role,
    SeqNumReset, StorageType, Tries,
};

/// The default listen address: loopback, so nothing is exposed unless asked for.
pub const DEFAULT_LISTEN_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Default [`SessionSettings::max_held_bytes`] (`MaxHeldBytes`): 1 MiB, the session's default.
pub const DEFAULT_MAX_HELD_BYTES: usize = 1 << 20;

/// Engine-wide settings (keys without the session prefix).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EngineSettings {
    /// `ListenPort`: the port acceptor sessions without their own `Port` (and unregistered
    /// acceptors) listen on. `None`: no engine-wide listener; `Some(0)`: a free port chosen by
    /// the OS (see `Engine::listen_addr`).
    pub listen_port: Option<u16>,
    /// `ListenAddress`: the address the engine-wide listener binds (default 127.0.0.1).
    pub listen_address: IpAddr,
    /// `IoThreads`: number of I/O threads (1..=64, default 1).
    pub io_threads: usize,
    /// `IoCpus` / `IoThread.<i>.Cpu`: the CPU each I/O thread is pinned to; always `io_threads`
    /// long, `None` = not pinned.
    pub io_cpus: Vec<Option<usize>>,
    /// `IdleStrategy`: what an I/O thread does without work (default backoff).
    pub idle_strategy: IdleStrategy,
    /// `Workers`: size of the general-purpose worker pool (1..=64, default 2).
    pub workers: usize,
    /// `UnregisteredAcceptor.*`.
    pub unregistered_acceptor: UnregisteredAcceptorSettings,
    /// `FixLayer.FixEngine.Sessions`: the sessions to create at start, in order.
    pub sessions: Vec<String>,
    /// The session defaults (every engine-wide session key resolved over the built-in defaults),
    /// used for unregistered acceptors; see [`EngineSettings::unregistered_acceptor`].
    pub session_defaults: SessionSettings,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            listen_port: None,
            listen_address: DEFAULT_LISTEN_ADDRESS,
            io_threads: 1,
            io_cpus: vec![None],
            idle_strategy: IdleStrategy::default(),
            workers: 2,
            unregistered_acceptor: UnregisteredAcceptorSettings::default(),
            sessions: Vec::new(),
            session_defaults: SessionSettings::template(),
        }
    }
}

impl EngineSettings {
    /// The settings of an acceptor session created on the fly for an unregistered counterparty:
    /// the engine-wide defaults with the identity taken from its Logon. `sender` is this engine's
    /// CompID (the Logon's `TargetCompID <56>`), `target` the counterparty's.
    pub fn unregistered_acceptor(
        &self,
        name: impl Into<String>,
        begin_string: BeginString,
        sender: impl Into<String>,
        target: impl Into<String>,
    ) -> SessionSettings {
        let mut s = self.session_defaults.clone();
        s.name = name.into();
        s.role = Role::Acceptor;
        s.begin_string = begin_string;
        s.primary.ids.sender_comp_id = sender.into();
        s.primary.ids.target_comp_id = target.into();
        s.primary.host = None;
        s.primary.port = self.listen_port.unwrap_or(0);
        s.listen_address = self.listen_address;
        s.backups.clear();
        s
    }
}

/// `UnregisteredAcceptor.*` keys.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnregisteredAcceptorSettings {
    /// `UnregisteredAcceptor.CreateSession`: create a session for a Logon from an unknown
    /// counterparty (default false: such connections are closed).
    pub create_session: bool,
    /// `UnregisteredAcceptor.MaxSessions`: bound on sessions created that way (default 64).
    pub max_sessions: usize,
}

impl Default for UnregisteredAcceptorSettings {
    fn default() -> Self {
        Self {
            create_session: false,
            max_sessions: 64,
        }
    }
}

/// The identity fields of the standard header for one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SessionIds {
    /// `SenderCompID <49>`.
    pub sender_comp_id: String,
    /// `TargetCompID <56>`.
    pub target_comp_id: String,
    /// `SenderSubID <50>`.
    pub sender_sub_id: Option<String>,
    /// `TargetSubID <57>`.
    pub target_sub_id: Option<String>,
    /// `SenderLocationID <142>`.
    pub sender_location_id: Option<String>,
    /// `TargetLocationID <143>`.
    pub target_location_id: Option<String>,
}

/// `Username <553>` / `Password <554>` sent in the Logon. `Debug` never prints the password.
#[derive(Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Credentials {
    /// `Username <553>`.
    pub username: Option<String>,
    /// `Password <554>`.
    pub password: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Initiator reconnection (`ForcedReconnect`, `ReconnectMaxTries`, `ReconnectInterval`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReconnectSettings {
    /// `ForcedReconnect`: reconnect after a non-graceful disconnect, a rejected or missing
    /// confirming Logon (default false).
    pub forced: bool,
    /// `ReconnectMaxTries` / `Reconnect.MaxTries`: attempts to restore the connection; an attempt
    /// succeeds only when TCP connects and the Logon exchange completes (default 3).
    pub max_tries: Tries,
    /// `ReconnectInterval` (seconds) / `Reconnect.Interval` (milliseconds): pause between attempts
    /// (default 5 s).
    pub interval: Duration,
}

impl Default for ReconnectSettings {
    fn default() -> Self {
        Self {
            forced: false,
            max_tries: Tries::Limited(3),
            interval: Duration::from_secs(5),
        }
    }
}

/// One place an initiator can connect to, with the settings that may differ per endpoint.
///
/// For an acceptor, only the identity, heartbeat and reset fields matter; `port` is its listen port.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EndpointSettings {
    /// `Host`: where to connect (initiators); `None` for acceptors.
    pub host: Option<String>,
    /// `Port`: the port to connect to (initiator) or listen on (acceptor). An acceptor's 0 means
    /// the engine-wide listener when there is one, else a listener of its own on a free port
    /// chosen by the OS (`SessionHandle::listen_addr`); an initiator's 0 is invalid.
    pub port: u16,
    /// CompIDs, SubIDs, LocationIDs.
    pub ids: SessionIds,
    /// `Username` / `Password`: sent in an initiator's Logon; what an acceptor requires.
    pub credentials: Credentials,
    /// `HeartBtInt <108>` in seconds (default 30).
    pub heart_bt_int: u32,
    /// `ForceSeqNumReset` (default never).
    pub force_seq_num_reset: SeqNumReset,
    /// Reconnection to this endpoint.
    pub reconnect: ReconnectSettings,
    /// `LogonTimeout`: how long to wait for the confirming Logon (default 10 s).
    pub logon_timeout: Duration,
    /// `EnableAutoSwitchToBackupConnection`: when this endpoint is lost and its tries are spent,
    /// move on to the next endpoint (for the last one: back to the primary). Default false; on
    /// `Backup.` endpoints it is not inherited from the session (the vendor requires it explicitly).
    pub auto_switch: bool,
    /// `EnableCyclicSwitchBackupConnection`: keep cycling through the endpoints while none
    /// accepts. Not inherited by `Backup.` endpoints either.
    pub cyclic_switch: bool,
    /// `EndpointTries`: attempts on this endpoint before moving on; `None` = derived, see
    /// [`EndpointSettings::tries_before_switch`].
    pub endpoint_tries: Option<Tries>,
}

impl EndpointSettings {
    /// Attempts on this endpoint after losing it (or failing to reach it) before the engine moves
    /// to the next endpoint (when `auto_switch`) or gives up.
    ///
    /// `EndpointTries` when set. Otherwise `ReconnectMaxTries` when `ForcedReconnect` is on and
    /// `0` when it is off; except that an unlimited count on a switching endpoint becomes `1`,
    /// because unlimited retries would mean the switch never happens.
    pub fn tries_before_switch(&self) -> Tries {
        if let Some(t) = self.endpoint_tries {
            return t;
        }
        if !self.reconnect.forced {
            return Tries::Limited(0);
        }
        match self.reconnect.max_tries {
            Tries::Unlimited if self.auto_switch => Tries::Limited(1),
            t => t,
        }
    }

    /// `host:port` for logs; the port alone for acceptors.
    pub fn address(&self) -> String {
        match &self.host {
            Some(h) => format!("{h}:{}", self.port),
            None => format!(":{}", self.port),
        }
    }
}

/// Storage of sequence numbers and the outbound journal.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StorageSettings {
    /// `StorageType` (default persistent).
    pub kind: StorageType,
    /// `StorageDirectory` (default `store`, relative to the working directory).
    pub directory: PathBuf,
    /// `Durability` (default interval).
    pub durability: DurabilityMode,
    /// `DurabilityIntervalMs` (default 100 ms); used when `durability` is `Interval`.
    pub durability_interval: Duration,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            kind: StorageType::Persistent,
            directory: PathBuf::from("store"),
            durability: DurabilityMode::Interval,
            durability_interval: Duration::from_millis(100),
        }
    }
}

/// Data dictionary files.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DictionarySettings {
    /// `DataDictionary`: the dictionary for FIX.4.x sessions.
    pub data_dictionary: Option<PathBuf>,
    /// `TransportDataDictionary`: the FIXT.1.1 session-layer dictionary.
    pub transport_data_dictionary: Option<PathBuf>,
    /// `AppDataDictionary`: the application dictionary of a FIXT.1.1 session.
    pub app_data_dictionary: Option<PathBuf>,
}

/// Validation switches (QuickFIX names and defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidationSettings {
    /// `UseDataDictionary` (default true).
    pub use_data_dictionary: bool,
    /// `ValidateFieldsOutOfOrder` (default true).
    pub fields_out_of_order: bool,
    /// `ValidateFieldsHaveValues` (default true).
    pub fields_have_values: bool,
    /// `ValidateUserDefinedFields` (default true).
    pub user_defined_fields: bool,
    /// `AllowUnknownMsgFields` (default false).
    pub allow_unknown_msg_fields: bool,
    /// `CheckLatency`: check `SendingTime <52>` against `max_latency` (default true).
    pub check_latency: bool,
    /// `MaxLatency`: allowed distance of `SendingTime <52>` from now (default 120 s).
    pub max_latency: Duration,
}

impl Default for ValidationSettings {
    fn default() -> Self {
        Self {
            use_data_dictionary: true,
            fields_out_of_order: true,
            fields_have_values: true,
            user_defined_fields: true,
            allow_unknown_msg_fields: false,
            check_latency: true,
            max_latency: Duration::from_secs(120),
        }
    }
}

/// Everything about one session, resolved.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SessionSettings {
    /// The `<Name>` in `FixLayer.FixEngine.Session.<Name>.`.
    pub name: String,
    /// `Role`.
    pub role: Role,
    /// `Version`.
    pub begin_string: BeginString,
    /// `DefaultApplVerID` (required for FIXT.1.1, rejected otherwise).
    pub default_appl_ver_id: Option<ApplVerId>,
    /// `ListenAddress` for an acceptor with its own `Port` (default 127.0.0.1).
    pub listen_address: IpAddr,
    /// The primary endpoint (the session's own keys).
    pub primary: EndpointSettings,
    /// `Backup.` (= `Backup.1.`), `Backup.2.`, ...: further endpoints, in order.
    pub backups: Vec<EndpointSettings>,
    /// `EndpointPolicy` (default priority).
    pub endpoint_policy: EndpointPolicy,
    /// `MaxConnectAttempts`: global cap on connection attempts per outage over all endpoints
    /// (default unlimited).
    pub max_connect_attempts: Tries,
    /// `IntradayLogoutTolerance` (default false).
    pub intraday_logout_tolerance: bool,
    /// `ResetOnLogon`: reset sequence numbers when a Logon is received (acceptors; default false).
    pub reset_on_logon: bool,
    /// `LogoutTimeout`: wait for the confirming Logout (default 5 s).
    pub logout_timeout: Duration,
    /// `SendNextExpectedMsgSeqNum`: send `NextExpectedMsgSeqNum <789>` in Logon (default false).
    pub send_next_expected_msg_seq_num: bool,
    /// `MaxMessageSize` in bytes (default 1 MiB, the framer's default).
    pub max_message_size: usize,
    /// `ResendBatch`: most sequence numbers replayed per I/O-loop turn when answering a
    /// ResendRequest; `0` replays the whole range at once (default
    /// [`fix_session::DEFAULT_RESEND_BATCH`], 1024; at most 1,000,000).
    pub resend_batch: u64,
    /// `MaxHeldBytes`: most bytes of new application messages a session holds back while a
    /// replay is in progress; beyond, sends are back-pressured. `0`: every send during a replay
    /// is back-pressured (default [`DEFAULT_MAX_HELD_BYTES`], 1 MiB; at most 64 MiB).
    pub max_held_bytes: usize,
    /// `ResendRequestTimeout`: how long an unanswered ResendRequest waits before it is repeated
    /// for what is still missing. `None` (the default, key unset): the session's own default,
    /// twice the `HeartBtInt` in force (off when that is 0); `Some(Duration::ZERO)`: never
    /// repeat. At most 86400 s (whole seconds from a file; the builder takes any duration).
    pub resend_request_timeout: Option<Duration>,
    /// Storage.
    pub storage: StorageSettings,
    /// `MessageLog`: directory for message logs; `None` = off (default).
    pub message_log: Option<PathBuf>,
    /// `Application` (default none).
    pub application: Application,
    /// Dictionary files.
    pub dictionaries: DictionarySettings,
    /// Validation switches.
    pub validation: ValidationSettings,
}

impl SessionSettings {
    /// The built-in defaults, with empty identity: the base every session is resolved on.
    pub(crate) fn template() -> Self {
        Self {
            name: String::new(),
            role: Role::Acceptor,
            begin_string: BeginString::Fix44,
            default_appl_ver_id: None,
            listen_address: DEFAULT_LISTEN_ADDRESS,
            primary: EndpointSettings {
                host: None,
                port: 0,
                ids: SessionIds::default(),
                credentials: Credentials::default(),
                heart_bt_int: 30,
                force_seq_num_reset: SeqNumReset::Never,
                reconnect: ReconnectSettings::default(),
                logon_timeout: Duration::from_secs(10),
                auto_switch: false,
                cyclic_switch: false,
                endpoint_tries: None,
            },
            backups: Vec::new(),
            endpoint_policy: EndpointPolicy::Priority,
            max_connect_attempts: Tries::Unlimited,
            intraday_logout_tolerance: false,
            reset_on_logon: false,
            logout_timeout: Duration::from_secs(5),
            send_next_expected_msg_seq_num: false,
            max_message_size: fix_codec::Framer::DEFAULT_MAX_FRAME_LEN,
            resend_batch: fix_session::DEFAULT_RESEND_BATCH,
            max_held_bytes: DEFAULT_MAX_HELD_BYTES,
            resend_request_timeout: None,
            storage: StorageSettings::default(),
            message_log: None,
            application: Application::None,
            dictionaries: DictionarySettings::default(),
            validation: ValidationSettings::default(),
        }
    }

    /// Starts building an initiator connecting to `host:port`, with the built-in defaults.
    /// `version` is a `BeginString` such as `FIX.4.4`; it is checked by [`SessionBuilder::build`].
    pub fn initiator(
        name: impl Into<String>,
        version: &str,
        sender: impl Into<String>,
        target: impl Into<String>,
        host: impl Into<String>,
        port: u16,
    ) -> SessionBuilder {
        SessionBuilder::new(
            Self::template(),
            name.into(),
            Role::Initiator,
            version,
            sender.into(),
            target.into(),
            Some(host.into()),
            port,
        )
    }

    /// Starts building an acceptor listening on `port`, with the built-in defaults.
    pub fn acceptor(
        name: impl Into<String>,
        version: &str,
        sender: impl Into<String>,
        target: impl Into<String>,
        port: u16,
    ) -> SessionBuilder {
        SessionBuilder::new(
            Self::template(),
            name.into(),
            Role::Acceptor,
            version,
            sender.into(),
            target.into(),
            None,
            port,
        )
    }

    /// The primary followed by the backups.
    pub fn endpoints(&self) -> impl Iterator<Item = &EndpointSettings> {
        std::iter::once(&self.primary).chain(&self.backups)
    }

    /// A backup endpoint at `host:port` inheriting everything else from the primary, except the
    /// switch flags, which start false (set them on the result before [`SessionBuilder::backup`]).
    pub fn backup_endpoint(&self, host: impl Into<String>, port: u16) -> EndpointSettings {
        let mut ep = self.primary.clone();
        ep.host = Some(host.into());
        ep.port = port;
        ep.auto_switch = false;
        ep.cyclic_switch = false;
        ep
    }

    /// Checks the settings for consistency; returns the offending key and why.
    pub(crate) fn check(&self) -> Result<(), (&'static str, String)> {
        if !super::keys::valid_session_name(&self.name) {
            return Err((
                "Name",
                format!(
                    "`{}` is not a valid session name (letters, digits, _ and -)",
                    self.name
                ),
            ));
        }
        match (self.begin_string.is_fixt(), self.default_appl_ver_id) {
            (true, None) => {
                return Err((
                    "DefaultApplVerID",
                    "required when Version is FIXT.1.1".into(),
                ));
            }
            (false, Some(_)) => {
                return Err((
                    "DefaultApplVerID",
                    format!(
                        "only allowed with Version FIXT.1.1, not {}",
                        self.begin_string
                    ),
                ));
            }
            _ => {}
        }
        for (i, ep) in self.endpoints().enumerate() {
            let ids = &ep.ids;
            if ids.sender_comp_id.is_empty() {
                return Err(("SenderCompID", format!("empty on endpoint {i}")));
            }
            if ids.target_comp_id.is_empty() {
                return Err(("TargetCompID", format!("empty on endpoint {i}")));
            }
            if self.role == Role::Initiator {
                if ep.host.as_deref().is_none_or(str::is_empty) {
                    return Err(("Host", format!("required for an initiator (endpoint {i})")));
                }
                if ep.port == 0 {
                    return Err((
                        "Port",
                        format!(
                            "required for an initiator (endpoint {i}); port 0 (the OS chooses) is for listening only"
                        ),
                    ));
                }
            }
        }
        if self.role == Role::Acceptor && !self.backups.is_empty() {
            return Err((
                "Backup.Host",
                "backup endpoints are for initiators only".into(),
            ));
        }
        if self.backups.len() > super::MAX_BACKUPS {
            return Err((
                "Backup.Host",
                format!("at most {} backup endpoints", super::MAX_BACKUPS),
            ));
        }
        if self.max_message_size < 64 {
            return Err(("MaxMessageSize", "at least 64 bytes".into()));
        }
        if self.resend_batch > super::keys::MAX_RESEND_BATCH {
            return Err((
                "ResendBatch",
                format!("at most {}", super::keys::MAX_RESEND_BATCH),
            ));
        }
        if self.max_held_bytes as u64 > super::keys::MAX_HELD_BYTES {
            return Err((
                "MaxHeldBytes",
                format!("at most {} bytes", super::keys::MAX_HELD_BYTES),
            ));
        }
        if let Some(t) = self.resend_request_timeout
            && t > Duration::from_secs(super::keys::MAX_RESEND_REQUEST_TIMEOUT_SECS)
        {
            return Err((
                "ResendRequestTimeout",
                format!(
                    "at most {} seconds",
                    super::keys::MAX_RESEND_REQUEST_TIMEOUT_SECS
                ),
            ));
        }
        Ok(())
    }
}

/// Builds a [`SessionSettings`] through the API; [`SessionBuilder::build`] checks the result with
/// the same rules as the properties file.
#[derive(Debug, Clone)]
#[must_use]
pub struct SessionBuilder {
    settings: SessionSettings,
    version: String,
}

impl SessionBuilder {
    #[allow(clippy::too_many_arguments)]
    fn new(
        mut settings: SessionSettings,
        name: String,
        role: Role,
        version: &str,
        sender: String,
        target: String,
        host: Option<String>,
        port: u16,
    ) -> Self {
        settings.name = name;
        settings.role = role;
        settings.primary.ids.sender_comp_id = sender;
        settings.primary.ids.target_comp_id = target;
        settings.primary.host = host;
        settings.primary.port = port;
        Self {
            settings,
            version: version.to_owned(),
        }
    }

    /// Starts from `defaults` (for example [`EngineSettings::session_defaults`]) instead of the
    /// built-in defaults, keeping this builder's name, role, version, identity, host and port.
    pub fn with_defaults(mut self, defaults: &SessionSettings) -> Self {
        let mut s = defaults.clone();
        s.name = std::mem::take(&mut self.settings.name);
        s.role = self.settings.role;
        s.primary.ids = std::mem::take(&mut self.settings.primary.ids);
        s.primary.host = self.settings.primary.host.take();
        s.primary.port = self.settings.primary.port;
        s.backups = std::mem::take(&mut self.settings.backups);
        self.settings = s;
        self
    }

    /// The settings as built so far (for example to derive a backup with
    /// [`SessionSettings::backup_endpoint`]).
    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    /// `DefaultApplVerID` (FIXT.1.1 only).
    pub fn default_appl_ver_id(mut self, v: ApplVerId) -> Self {
        self.settings.default_appl_ver_id = Some(v);
        self
    }

    /// `HeartBtInt` in seconds.
    pub fn heart_bt_int(mut self, secs: u32) -> Self {
        self.settings.primary.heart_bt_int = secs;
        self
    }

    /// `SenderSubID`, `TargetSubID`, `SenderLocationID`, `TargetLocationID` (and CompIDs).
    pub fn ids(mut self, ids: SessionIds) -> Self {
        self.settings.primary.ids = ids;
        self
    }

    /// `Username` / `Password`.
    pub fn credentials(mut self, username: Option<String>, password: Option<String>) -> Self {
        self.settings.primary.credentials = Credentials { username, password };
        self
    }

    /// `ForcedReconnect`, `ReconnectMaxTries`, `ReconnectInterval` of the primary.
    pub fn reconnect(mut self, forced: bool, max_tries: Tries, interval: Duration) -> Self {
        self.settings.primary.reconnect = ReconnectSettings {
            forced,
            max_tries,
            interval,
        };
        self
    }

    /// `ForceSeqNumReset` of the primary.
    pub fn force_seq_num_reset(mut self, reset: SeqNumReset) -> Self {
        self.settings.primary.force_seq_num_reset = reset;
        self
    }

    /// `LogonTimeout`.
    pub fn logon_timeout(mut self, t: Duration) -> Self {
        self.settings.primary.logon_timeout = t;
        self
    }

    /// `LogoutTimeout`.
    pub fn logout_timeout(mut self, t: Duration) -> Self {
        self.settings.logout_timeout = t;
        self
    }

    /// `EnableAutoSwitchToBackupConnection` and `EnableCyclicSwitchBackupConnection` of the primary.
    pub fn switching(mut self, auto_switch: bool, cyclic: bool) -> Self {
        self.settings.primary.auto_switch = auto_switch;
        self.settings.primary.cyclic_switch = cyclic;
        self
    }

    /// `EndpointTries` of the primary.
    pub fn endpoint_tries(mut self, tries: Tries) -> Self {
        self.settings.primary.endpoint_tries = Some(tries);
        self
    }

    /// Appends a backup endpoint (see [`SessionSettings::backup_endpoint`]).
    pub fn backup(mut self, endpoint: EndpointSettings) -> Self {
        self.settings.backups.push(endpoint);
        self
    }

    /// `EndpointPolicy` and `MaxConnectAttempts`.
    pub fn endpoint_policy(mut self, policy: EndpointPolicy, max_connect_attempts: Tries) -> Self {
        self.settings.endpoint_policy = policy;
        self.settings.max_connect_attempts = max_connect_attempts;
        self
    }

    /// `IntradayLogoutTolerance`.
    pub fn intraday_logout_tolerance(mut self, on: bool) -> Self {
        self.settings.intraday_logout_tolerance = on;
        self
    }

    /// `ResetOnLogon`.
    pub fn reset_on_logon(mut self, on: bool) -> Self {
        self.settings.reset_on_logon = on;
        self
    }

    /// `SendNextExpectedMsgSeqNum`.
    pub fn send_next_expected_msg_seq_num(mut self, on: bool) -> Self {
        self.settings.send_next_expected_msg_seq_num = on;
        self
    }

    /// `MaxMessageSize` in bytes.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.settings.max_message_size = bytes;
        self
    }

    /// `ResendBatch`: sequence numbers replayed per I/O-loop turn (`0`: the whole range at once).
    pub fn resend_batch(mut self, numbers: u64) -> Self {
        self.settings.resend_batch = numbers;
        self
    }

    /// `MaxHeldBytes`: bytes of new messages held while a replay is in progress (`0`: none).
    pub fn max_held_bytes(mut self, bytes: usize) -> Self {
        self.settings.max_held_bytes = bytes;
        self
    }

    /// `ResendRequestTimeout` (`None`: the session default, twice `HeartBtInt`;
    /// `Some(Duration::ZERO)`: never repeat a ResendRequest).
    pub fn resend_request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.resend_request_timeout = timeout;
        self
    }

    /// `ListenAddress` (acceptors).
    pub fn listen_address(mut self, addr: IpAddr) -> Self {
        self.settings.listen_address = addr;
        self
    }

    /// `StorageType`, `StorageDirectory`, `Durability`, `DurabilityIntervalMs`.
    pub fn storage(mut self, storage: StorageSettings) -> Self {
        self.settings.storage = storage;
        self
    }

    /// `MessageLog` (`None` = off).
    pub fn message_log(mut self, dir: Option<PathBuf>) -> Self {
        self.settings.message_log = dir;
        self
    }

    /// `Application`.
    pub fn application(mut self, app: Application) -> Self {
        self.settings.application = app;
        self
    }

    /// `DataDictionary`, `TransportDataDictionary`, `AppDataDictionary`.
    pub fn dictionaries(mut self, d: DictionarySettings) -> Self {
        self.settings.dictionaries = d;
        self
    }

    /// The validation switches.
    pub fn validation(mut self, v: ValidationSettings) -> Self {
        self.settings.validation = v;
        self
    }

    /// Checks and returns the settings.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the key when the version does not parse, FIXT lacks a
    /// `DefaultApplVerID`, an identity field is empty, an initiator endpoint lacks host or port, or
    /// an acceptor has backups.
    pub fn build(mut self) -> Result<SessionSettings, ConfigError> {
        let invalid = |session: &str, key: &str, message: String| ConfigError::Invalid {
            session: session.to_owned(),
            key: key.to_owned(),
            message,
        };
        self.settings.begin_string = BeginString::parse(&self.version).ok_or_else(|| {
            invalid(
                &self.settings.name,
                "Version",
                format!(
                    "`{}` is not FIX.4.0, FIX.4.1, FIX.4.2, FIX.4.3, FIX.4.4 or FIXT.1.1",
                    self.version
                ),
            )
        })?;
        self.settings
            .check()
            .map_err(|(key, message)| invalid(&self.settings.name, key, message))?;
        Ok(self.settings)
    }
}

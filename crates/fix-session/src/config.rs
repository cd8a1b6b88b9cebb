//! Session configuration, with QuickFIX / FIX Antenna defaults and a chainable builder.

use std::sync::Arc;
use std::time::Duration;

use crate::reject::MessageValidator;

/// Which side opens the connection and sends the first Logon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Connects and sends the first Logon.
    Initiator,
    /// Accepts connections and answers the Logon.
    Acceptor,
}

/// `ForceSeqNumReset` (FIX Antenna): reset both sequence numbers at logon and make the counterparty
/// do the same with `ResetSeqNumFlag <141>=Y` and `MsgSeqNum <34>=1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ForceSeqNumReset {
    /// `0` / `false`: never.
    #[default]
    Never,
    /// `1` / `true`: only at the first logon of the session (no storage existed for it).
    FirstLogon,
    /// `2`: at every logon, on every (re)connection, to primary or backup.
    Always,
}

/// FIX protocol version of the session layer, derived from `BeginString <8>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FixVersion {
    /// `FIX.4.0`.
    Fix40,
    /// `FIX.4.1`.
    Fix41,
    /// `FIX.4.2`.
    Fix42,
    /// `FIX.4.3`.
    Fix43,
    /// `FIX.4.4`.
    Fix44,
    /// `FIXT.1.1` (FIX 5.0 and later application versions).
    Fixt11,
}

impl FixVersion {
    /// From a `BeginString <8>` value.
    pub fn from_begin_string(s: &str) -> Option<Self> {
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
}

/// Checks `Username <553>` / `Password <554>` of a received Logon. `Err(text)` refuses the logon:
/// the session answers with a Logout carrying `text` and closes.
pub type CredentialCheck =
    Arc<dyn Fn(Option<&[u8]>, Option<&[u8]>) -> Result<(), String> + Send + Sync>;

/// Everything a [`crate::Session`] needs to know about itself. Build with [`SessionConfig::new`] and
/// the `with_*` methods; every field has the QuickFIX / FIX Antenna default.
#[derive(Clone)]
pub struct SessionConfig {
    /// `BeginString <8>`: `FIX.4.0` .. `FIX.4.4` or `FIXT.1.1`.
    pub begin_string: String,
    /// Our `SenderCompID <49>` (the peer's `TargetCompID <56>`).
    pub sender_comp_id: String,
    /// Our `SenderSubID <50>`, sent on every message when set.
    pub sender_sub_id: Option<String>,
    /// Our `SenderLocationID <142>`, sent on every message when set.
    pub sender_location_id: Option<String>,
    /// The peer's `SenderCompID <49>` (our `TargetCompID <56>`).
    pub target_comp_id: String,
    /// `TargetSubID <57>`, sent on every message when set.
    pub target_sub_id: Option<String>,
    /// `TargetLocationID <143>`, sent on every message when set.
    pub target_location_id: Option<String>,
    /// Initiator or acceptor.
    pub role: Role,
    /// `HeartBtInt <108>` in seconds that an initiator proposes (an acceptor adopts the peer's).
    pub heart_bt_int: u32,
    /// `DefaultApplVerID <1137>` sent in an initiator's Logon on FIXT (e.g. `9` for FIX 5.0 SP2).
    pub default_appl_ver_id: Option<String>,
    /// Data-dictionary validation of received messages; `None` disables it.
    pub validator: Option<Arc<dyn MessageValidator>>,
    /// Validate received messages with [`SessionConfig::validator`] (QuickFIX `UseDataDictionary`).
    pub validate_incoming: bool,
    /// `ForceSeqNumReset`.
    pub force_seq_num_reset: ForceSeqNumReset,
    /// QuickFIX `ResetOnLogon`: an acceptor resets both numbers when it receives a Logon.
    pub reset_on_logon: bool,
    /// `IntradayLogoutTolerance`: keep the numbers after a completed Logout exchange.
    pub intraday_logout_tolerance: bool,
    /// SendingTime accuracy window (QuickFIX `MaxLatency`); `None` disables the check.
    pub max_latency: Option<Duration>,
    /// Check `SenderCompID <49>` / `TargetCompID <56>` on every message (QuickFIX `CheckCompID`).
    pub check_comp_id: bool,
    /// How long to wait for a Logon once connected.
    pub logon_timeout: Duration,
    /// How long to wait for the confirming Logout.
    pub logout_timeout: Duration,
    /// Send `NextExpectedMsgSeqNum <789>` in our Logon (FIX 4.4 and FIXT only).
    pub send_next_expected_msg_seq_num: bool,
    /// Largest accepted message; larger ones close the connection.
    pub max_frame_len: usize,
    /// Bound on the bytes of out-of-order messages kept while a gap is being filled. Beyond it
    /// messages are dropped: the outstanding ResendRequest runs to infinity, so they come again.
    pub max_queued_bytes: usize,
    /// Most numbers asked from the store in one [`crate::SessionIo::read_outbound`] while
    /// answering a ResendRequest (`None`: up to [`SessionConfig::resend_batch`], the whole batch
    /// in one read). Only changes how the store is read, never what is sent.
    pub resend_chunk_size: Option<u64>,
    /// Most sequence numbers one call replays when answering a ResendRequest (the call that
    /// processes the request, then each [`crate::Session::resume_output`]); `0`: the whole range
    /// in one call. Bounds the time one session holds its thread and, with
    /// [`crate::SessionIo::can_send`], the bytes a replay queues for a slow reader. Default
    /// [`DEFAULT_RESEND_BATCH`].
    pub resend_batch: u64,
    /// Most bytes of new application messages [`crate::Session::send_app`] accepts while a
    /// replay is in progress: they are journaled and numbered at once but sent only when the
    /// replay ends, so they never overtake it. Beyond: [`crate::SendError::BackPressure`] (no
    /// number consumed). `0`: always back-pressure during a replay. Default 1 MiB.
    pub max_held_bytes: usize,
    /// Optional Logon credential check (acceptors: called with the received `Username <553>` and
    /// `Password <554>` before the Logon is answered).
    pub credential_check: Option<CredentialCheck>,
    /// `Username <553>` an initiator sends in its Logon (never sent by an acceptor).
    pub username: Option<String>,
    /// `Password <554>` an initiator sends in its Logon (never sent by an acceptor). Not shown by
    /// `Debug`.
    pub password: Option<String>,
    /// How long an outstanding ResendRequest may go without the expected incoming number
    /// advancing before it is sent again for what is still missing (at most once per timeout, so
    /// a lost request or a lost answer on a connection that stays up cannot leave a gap open
    /// forever). `None` (the default): twice the `HeartBtInt` in force (off when it is 0).
    /// `Some(Duration::ZERO)`: never repeat (one ResendRequest per gap, as QuickFIX).
    pub resend_request_timeout: Option<Duration>,
    /// Milliseconds in `SendingTime <52>` on FIX 4.2 and later (QuickFIX `MillisecondsInTimeStamp`).
    pub millis_in_timestamp: bool,
}

impl std::fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionConfig")
            .field("begin_string", &self.begin_string)
            .field("sender_comp_id", &self.sender_comp_id)
            .field("target_comp_id", &self.target_comp_id)
            .field("role", &self.role)
            .field("heart_bt_int", &self.heart_bt_int)
            .finish_non_exhaustive()
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Not one of `FIX.4.0` .. `FIX.4.4`, `FIXT.1.1`.
    #[error("unsupported BeginString {0:?}")]
    UnsupportedBeginString(String),
    /// Empty SenderCompID or TargetCompID.
    #[error("SenderCompID and TargetCompID must not be empty")]
    EmptyCompId,
    /// A FIXT initiator needs `DefaultApplVerID`.
    #[error("a FIXT.1.1 initiator needs DefaultApplVerID")]
    MissingDefaultApplVerId,
    /// A value contains SOH or `=` in a place that would corrupt the wire format.
    #[error("configuration value {0:?} contains SOH")]
    BadValue(String),
}

impl SessionConfig {
    /// A configuration with every default: heartbeat 30 s, validation on (when a validator is
    /// given), SendingTime window 120 s, logon timeout 10 s, logout timeout 5 s, no forced resets.
    pub fn new(
        begin_string: impl Into<String>,
        sender_comp_id: impl Into<String>,
        target_comp_id: impl Into<String>,
        role: Role,
    ) -> Self {
        Self {
            begin_string: begin_string.into(),
            sender_comp_id: sender_comp_id.into(),
            sender_sub_id: None,
            sender_location_id: None,
            target_comp_id: target_comp_id.into(),
            target_sub_id: None,
            target_location_id: None,
            role,
            heart_bt_int: 30,
            default_appl_ver_id: None,
            validator: None,
            validate_incoming: true,
            force_seq_num_reset: ForceSeqNumReset::Never,
            reset_on_logon: false,
            intraday_logout_tolerance: false,
            max_latency: Some(Duration::from_secs(120)),
            check_comp_id: true,
            logon_timeout: Duration::from_secs(10),
            logout_timeout: Duration::from_secs(5),
            send_next_expected_msg_seq_num: false,
            max_frame_len: fix_codec::Framer::DEFAULT_MAX_FRAME_LEN,
            max_queued_bytes: 16 << 20,
            resend_chunk_size: None,
            resend_batch: DEFAULT_RESEND_BATCH,
            max_held_bytes: 1 << 20,
            credential_check: None,
            username: None,
            password: None,
            millis_in_timestamp: true,
            resend_request_timeout: None,
        }
    }

    /// Set `HeartBtInt <108>` (seconds).
    pub fn with_heart_bt_int(mut self, secs: u32) -> Self {
        self.heart_bt_int = secs;
        self
    }
    /// Set `DefaultApplVerID <1137>`.
    pub fn with_default_appl_ver_id(mut self, v: impl Into<String>) -> Self {
        self.default_appl_ver_id = Some(v.into());
        self
    }
    /// Set the validator.
    pub fn with_validator(mut self, v: Arc<dyn MessageValidator>) -> Self {
        self.validator = Some(v);
        self
    }
    /// Set `ForceSeqNumReset`.
    pub fn with_force_seq_num_reset(mut self, v: ForceSeqNumReset) -> Self {
        self.force_seq_num_reset = v;
        self
    }
    /// Set QuickFIX `ResetOnLogon`.
    pub fn with_reset_on_logon(mut self, v: bool) -> Self {
        self.reset_on_logon = v;
        self
    }
    /// Set `IntradayLogoutTolerance`.
    pub fn with_intraday_logout_tolerance(mut self, v: bool) -> Self {
        self.intraday_logout_tolerance = v;
        self
    }
    /// Set the SendingTime window (`None` disables the check).
    pub fn with_max_latency(mut self, v: Option<Duration>) -> Self {
        self.max_latency = v;
        self
    }
    /// Set the logon timeout.
    pub fn with_logon_timeout(mut self, v: Duration) -> Self {
        self.logon_timeout = v;
        self
    }
    /// Set the logout timeout.
    pub fn with_logout_timeout(mut self, v: Duration) -> Self {
        self.logout_timeout = v;
        self
    }
    /// Send `NextExpectedMsgSeqNum <789>` on Logon.
    pub fn with_next_expected_msg_seq_num(mut self, v: bool) -> Self {
        self.send_next_expected_msg_seq_num = v;
        self
    }
    /// Set the resend chunk size.
    pub fn with_resend_chunk_size(mut self, v: Option<u64>) -> Self {
        self.resend_chunk_size = v.filter(|&n| n > 0);
        self
    }
    /// Set [`SessionConfig::resend_batch`] (`0`: unpaced).
    pub fn with_resend_batch(mut self, v: u64) -> Self {
        self.resend_batch = v;
        self
    }
    /// Set [`SessionConfig::max_held_bytes`].
    pub fn with_max_held_bytes(mut self, v: usize) -> Self {
        self.max_held_bytes = v;
        self
    }
    /// Set the ResendRequest timeout (`None`: 2 x HeartBtInt; `Some(Duration::ZERO)`: off).
    pub fn with_resend_request_timeout(mut self, v: Option<Duration>) -> Self {
        self.resend_request_timeout = v;
        self
    }
    /// Set the credential check.
    pub fn with_credential_check(mut self, v: CredentialCheck) -> Self {
        self.credential_check = Some(v);
        self
    }
    /// Set the `Username <553>` / `Password <554>` an initiator sends in its Logon.
    pub fn with_credentials(mut self, username: Option<String>, password: Option<String>) -> Self {
        self.username = username;
        self.password = password;
        self
    }
    /// Set the sub and location IDs (`50`, `142`, `57`, `143`).
    pub fn with_sub_ids(
        mut self,
        sender_sub_id: Option<String>,
        sender_location_id: Option<String>,
        target_sub_id: Option<String>,
        target_location_id: Option<String>,
    ) -> Self {
        self.sender_sub_id = sender_sub_id;
        self.sender_location_id = sender_location_id;
        self.target_sub_id = target_sub_id;
        self.target_location_id = target_location_id;
        self
    }

    /// The protocol version, or an error for an unknown BeginString.
    pub fn version(&self) -> Result<FixVersion, ConfigError> {
        FixVersion::from_begin_string(&self.begin_string)
            .ok_or_else(|| ConfigError::UnsupportedBeginString(self.begin_string.clone()))
    }

    /// Check the configuration for values the session cannot work with.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let v = self.version()?;
        if self.sender_comp_id.is_empty() || self.target_comp_id.is_empty() {
            return Err(ConfigError::EmptyCompId);
        }
        if v == FixVersion::Fixt11
            && self.role == Role::Initiator
            && self.default_appl_ver_id.is_none()
        {
            return Err(ConfigError::MissingDefaultApplVerId);
        }
        let all = [
            Some(&self.sender_comp_id),
            Some(&self.target_comp_id),
            self.sender_sub_id.as_ref(),
            self.sender_location_id.as_ref(),
            self.target_sub_id.as_ref(),
            self.target_location_id.as_ref(),
            self.default_appl_ver_id.as_ref(),
            self.username.as_ref(),
        ];
        for s in all.into_iter().flatten() {
            if s.bytes().any(|b| b == fix_codec::SOH) {
                return Err(ConfigError::BadValue(s.clone()));
            }
        }
        if self
            .password
            .as_ref()
            .is_some_and(|p| p.bytes().any(|b| b == fix_codec::SOH))
        {
            // The value itself is a secret: never put it in an error message.
            return Err(ConfigError::BadValue("<password>".into()));
        }
        Ok(())
    }
}

/// Default [`SessionConfig::resend_batch`]: large enough that the per-call overhead (one store
/// read, one check of the transport) is noise, small enough that one call stays well under a
/// millisecond (about 256 KiB of typical orders).
pub const DEFAULT_RESEND_BATCH: u64 = 1024;

/// Sequence numbers loaded by the caller (from `fix-store`) when the session is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqState {
    /// `MsgSeqNum <34>` of the next message we send.
    pub next_sender: u64,
    /// `MsgSeqNum <34>` we expect next from the peer.
    pub next_target: u64,
    /// No storage existed for this session: this is its first logon (`ForceSeqNumReset = 1`).
    pub first_logon: bool,
}

impl Default for SeqState {
    fn default() -> Self {
        Self {
            next_sender: 1,
            next_target: 1,
            first_logon: true,
        }
    }
}

//! The public session state: FIX Antenna's `Session::State`, with the vendor's numeric values.

/// Session state, numbered as FIX Antenna exposes it (`docs/SESSION.md` has the diagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SessionState {
    /// Logon exchange complete, session active.
    Established = 0,
    /// Created, not connected yet.
    Initial = 1,
    /// Ended without a completed Logout exchange (or an intraday-tolerant logout).
    NonGracefullyTerminated = 2,
    /// Initiator lost its link and the engine is re-establishing it.
    Reconnect = 3,
    /// Ended by a completed Logout exchange; sequence numbers will not be continued.
    CorrectlyTerminated = 4,
    /// Initiator connected, Logon sent, waiting for the confirming Logon.
    WaitForConfirmLogon = 5,
    /// Logout sent, waiting for the confirming Logout.
    WaitForConfirmLogout = 6,
    /// Acceptor waiting for the counterparty's Logon.
    WaitForFirstLogon = 7,
    /// The engine is switching between primary and backup endpoints.
    SwitchConnection = 8,
    /// Initiator waiting for a TCP connect to complete.
    WaitForConnect = 11,
}

impl SessionState {
    /// The vendor's numeric value.
    pub const fn value(self) -> u8 {
        self as u8
    }

    /// The vendor's name (`ESTABLISHED`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Established => "ESTABLISHED",
            Self::Initial => "INITIAL",
            Self::NonGracefullyTerminated => "NON_GRACEFULLY_TERMINATED",
            Self::Reconnect => "RECONNECT",
            Self::CorrectlyTerminated => "CORRECTLY_TERMINATED",
            Self::WaitForConfirmLogon => "WAIT_FOR_CONFIRM_LOGON",
            Self::WaitForConfirmLogout => "WAIT_FOR_CONFIRM_LOGOUT",
            Self::WaitForFirstLogon => "WAIT_FOR_FIRST_LOGON",
            Self::SwitchConnection => "SWITCH_CONNECTION",
            Self::WaitForConnect => "WAIT_FOR_CONNECT",
        }
    }

    /// From the vendor's numeric value.
    pub const fn from_value(v: u8) -> Option<Self> {
        Some(match v {
            0 => Self::Established,
            1 => Self::Initial,
            2 => Self::NonGracefullyTerminated,
            3 => Self::Reconnect,
            4 => Self::CorrectlyTerminated,
            5 => Self::WaitForConfirmLogon,
            6 => Self::WaitForConfirmLogout,
            7 => Self::WaitForFirstLogon,
            8 => Self::SwitchConnection,
            11 => Self::WaitForConnect,
            _ => return None,
        })
    }

    /// Whether the session has ended (a new connection may start it again).
    pub const fn is_terminated(self) -> bool {
        matches!(
            self,
            Self::CorrectlyTerminated | Self::NonGracefullyTerminated
        )
    }
}

impl std::fmt::Display for SessionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

//! The FIX session layer as a sans-IO state machine (FIX 4.0-4.4, FIXT.1.1).
//!
//! A [`Session`] never touches a socket, a thread, a clock or a store. The engine feeds it
//! received bytes ([`Session::handle_input`]), the passage of time ([`Session::handle_timeout`],
//! [`Session::next_deadline`]), connection changes and API calls; the session answers through a
//! caller-provided [`SessionIo`]: bytes to send, the transport to close, store operations to carry
//! out, and [`Event`]s. Sequence numbers come in at construction ([`SeqState`]) and go out through
//! [`SessionIo::next_sender_seq_changed`] / [`SessionIo::next_target_seq_changed`], so a store
//! plugs in without the session depending on it.
//!
//! # Hot path
//! An established session receiving an in-sequence application message validates it, hands the
//! application a [`fix_codec::MessageRef`] borrowing the caller's read buffer, and commits the
//! incoming number: no allocation, no copy, no lock. Sending encodes into a reusable buffer.
//! Out-of-order messages (a gap) and resends are the cold path and may allocate, within the bounds
//! set in [`SessionConfig`].
//!
//! # Replying from an event
//! The session is not reentrant: [`SessionIo::event`] must not call the session. An application
//! that answers an [`Event::AppMessage`] records its reply and sends it once the call returns;
//! [`Session::handle_input`] stops after each delivered application message
//! ([`InputStatus::yielded`]) so that replies go out in the order the messages arrived.
//!
//! `docs/SESSION.md` has the state diagram and the protocol rules with the tests that cover them.

mod config;
mod io;
mod reject;
mod session;
mod state;
mod time;

pub use config::{
    ConfigError, CredentialCheck, DEFAULT_RESEND_BATCH, FixVersion, ForceSeqNumReset, Role,
    SeqState, SessionConfig,
};
pub use io::{Event, SessionIo};
pub use reject::{MessageValidator, RejectReason, Violation};
pub use session::{InputStatus, MAX_HEADER_FIELDS, SendError, Session};
pub use state::SessionState;
pub use time::{MonoTime, Now};

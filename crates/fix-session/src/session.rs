//! The session state machine.

use std::collections::BTreeMap;

use fix_codec::field::parse_u64;
use fix_codec::time::TimestampFormatter;
use fix_codec::{
    EncodeBuffer, Encoder, FieldIndex, FrameStatus, Framer, HeaderFields, MessageRef,
    TimePrecision, UtcTimestamp, tags,
};

use crate::config::{ConfigError, FixVersion, ForceSeqNumReset, Role, SeqState, SessionConfig};
use crate::io::{Event, SessionIo};
use crate::reject::{RejectReason, Violation};
use crate::state::SessionState;
use crate::time::{MonoTime, Now};

const NANOS_PER_SEC: u64 = 1_000_000_000;
/// Most out-of-order messages kept while a gap is filled (with [`SessionConfig::max_queued_bytes`]).
const MAX_QUEUED_MESSAGES: usize = 100_000;
/// Bytes of admin messages held during a replay beyond [`SessionConfig::max_held_bytes`]: room
/// for the heartbeats and TestRequest answers of a long replay. A peer that makes us produce more
/// gets them out of order rather than unbounded memory.
const ADMIN_HOLD_SLACK: usize = 64 << 10;
/// Most extra header fields one message carries: those [`Session::send_app_with_header`] keeps,
/// and those copied from a journaled message into its resend; more are dropped.
pub const MAX_HEADER_FIELDS: usize = 24;
fn is_admin_msg_type(t: &[u8]) -> bool {
    matches!(t, b"0" | b"1" | b"2" | b"3" | b"4" | b"5" | b"A")
}

/// Where `CheckSum <10>` starts in a stored message: the journal holds whole frames, which end
/// with `SOH 10=nnn SOH`; anything else is searched field by field (the message's length when it
/// has no CheckSum).
fn trailer_start(stored: &[u8]) -> usize {
    let n = stored.len();
    if n >= 8 && stored[n - 8] == fix_codec::SOH && stored[n - 7..n - 4] == *b"10=" {
        return n - 7;
    }
    MessageRef::new(stored)
        .fields()
        .map_while(Result::ok)
        .find(|f| f.tag == tags::CHECK_SUM)
        .map_or(n, |f| f.offset)
}

/// What [`Session::handle_input`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputStatus {
    /// Bytes of the input consumed; the caller keeps the rest and passes it again with more data.
    pub consumed: usize,
    /// The session stopped after delivering an application message: let the application send its
    /// replies, then call again (with the unconsumed bytes, possibly none) until this is false.
    pub yielded: bool,
}

/// Why an API call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// Application messages can only be sent while `ESTABLISHED`.
    #[error("session is not logged on (state {0})")]
    NotLoggedOn(SessionState),
    /// The message type is empty, contains SOH, or is an admin type (the session sends those).
    #[error("invalid application MsgType")]
    InvalidMsgType,
    /// The transport's outbound buffer is full ([`SessionIo::can_send`]): try again later.
    #[error("back-pressure: the transport cannot take more now")]
    BackPressure,
    /// The call makes no sense in this state (e.g. disconnecting a terminated session).
    #[error("not possible in state {0}")]
    WrongState(SessionState),
}

/// Header fields of a received message (see [`HeaderFields`]), with the data dictionary's
/// verdict on the message, both from one pass over the frame when a validator is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hdr<'a> {
    begin: &'a [u8],
    msg_type: &'a [u8],
    seq_raw: Option<&'a [u8]>,
    seq: Option<u64>,
    sender: Option<&'a [u8]>,
    target: Option<&'a [u8]>,
    sending_time: Option<&'a [u8]>,
    orig_sending_time: Option<&'a [u8]>,
    poss_dup: bool,
    /// 115, 116, 144, 128, 129, 145.
    routing: [Option<&'a [u8]>; 6],
    /// What [`SessionConfig::validator`] said, when validation is on (`Ok` when it is off): it
    /// is asked once, with the header, and [`Session::validate`] reports this.
    dict: Result<(), Violation>,
}

impl<'a> From<HeaderFields<'a>> for Hdr<'a> {
    #[inline]
    fn from(h: HeaderFields<'a>) -> Self {
        Hdr {
            begin: h.begin_string,
            msg_type: h.msg_type,
            seq_raw: h.msg_seq_num,
            seq: h.seq_num,
            sender: h.sender_comp_id,
            target: h.target_comp_id,
            sending_time: h.sending_time,
            orig_sending_time: h.orig_sending_time,
            poss_dup: h.poss_dup(),
            routing: h.routing,
            dict: Ok(()),
        }
    }
}

const ROUTING_TAGS: [u32; 6] = fix_codec::header::ROUTING_TAGS;
/// Where each routing field goes on a reply (115 <-> 128, 116 <-> 129, 144 <-> 145).
const REVERSED_ROUTING_TAGS: [u32; 6] = [
    tags::DELIVER_TO_COMP_ID,
    tags::DELIVER_TO_SUB_ID,
    tags::DELIVER_TO_LOCATION_ID,
    tags::ON_BEHALF_OF_COMP_ID,
    tags::ON_BEHALF_OF_SUB_ID,
    tags::ON_BEHALF_OF_LOCATION_ID,
];

/// The header of a received frame and, when validation is on, the dictionary's verdict
/// (reported later by [`Session::validate`], whose checks come after those on the header): the
/// validator reads the header in the pass that validates, so the frame is read once, and
/// records where every field lies in `fields` when it can. `None` when the first three fields
/// are not `8`, `9`, `35`, as [`parse_header`].
fn read_header<'m>(
    cfg: &SessionConfig,
    frame: &'m [u8],
    fields: &mut FieldIndex,
) -> Option<Hdr<'m>> {
    if cfg.validate_incoming
        && let Some(v) = &cfg.validator
    {
        // Every frame here came from the session's framer, which verified BodyLength and
        // CheckSum.
        return match v.validate_framed_indexed(frame, fields) {
            Ok(h) => h.map(Hdr::from),
            // Rare: an invalid message is read a second time, for the Reject.
            Err(e) => parse_header(frame).map(|h| Hdr { dict: Err(e), ..h }),
        };
    }
    fields.clear();
    parse_header(frame)
}

/// Parse the header. `None` when the first three fields are not `8`, `9`, `35` (the message is
/// garbled and ignored, as QuickFIX does) or a field cannot be read. No dictionary verdict.
fn parse_header(frame: &[u8]) -> Option<Hdr<'_>> {
    HeaderFields::scan(frame).map(Hdr::from)
}

/// Per-connection state: cleared by every connect and disconnect.
#[derive(Debug, Default, Clone)]
struct Conn {
    connected: bool,
    logon_sent: bool,
    logon_received: bool,
    logout_sent: bool,
    reset_sent: bool,
    last_sent: MonoTime,
    last_received: MonoTime,
    test_request_sent: bool,
    logon_deadline: Option<MonoTime>,
    logout_deadline: Option<MonoTime>,
    /// Outstanding ResendRequest: first and last number asked for.
    resend_range: Option<(u64, u64)>,
    /// While a ResendRequest is outstanding: when it was sent or the expected number last
    /// advanced. The ResendRequest timeout runs from here.
    resend_progress_at: MonoTime,
    /// The answer to the peer's ResendRequest still to be sent (paced replay).
    replay: Option<Replay>,
    /// Newly numbered messages (application and admin) produced during a replay, sent in order
    /// once it ends: encoded back to back.
    held: Vec<u8>,
    /// End offset in `held` of each held message.
    held_ends: Vec<usize>,
    /// Held messages already sent.
    held_sent: usize,
    /// An admin message went out past a full hold (warned once per connection).
    held_overflowed: bool,
}

/// Where a paced answer to a ResendRequest stands: `next..=end` is still to be replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Replay {
    next: u64,
    end: u64,
    /// First number of a run of admin or missing messages not gap-filled yet: the run may go on
    /// past the end of a call, and must still become one SequenceReset-GapFill.
    gap_start: Option<u64>,
}

/// Outcome of the common checks on a received message.
enum Verdict {
    Accept,
    Stop,
}

/// One FIX session. See the crate documentation for the calling contract.
#[derive(Debug)]
pub struct Session {
    cfg: SessionConfig,
    version: FixVersion,
    precision: TimePrecision,
    state: SessionState,
    next_sender: u64,
    next_target: u64,
    first_logon: bool,
    heart_bt_int: u32,
    framer: Framer,
    enc: EncodeBuffer,
    ts: TimestampFormatter,
    conn: Conn,
    /// Too-high messages by number; an empty entry stands for a Logon or ResendRequest that only
    /// consumes its number.
    queue: BTreeMap<u64, Vec<u8>>,
    queued_bytes: usize,
    /// Journaled messages read for a replay, reused so that a paced replay does not allocate
    /// once per call.
    replay_bytes: Vec<u8>,
    /// `(seq, offset, len)` of each message in `replay_bytes`.
    replay_index: Vec<(u64, usize, usize)>,
    /// Where the fields of the frame being processed lie, when the validator recorded them:
    /// the application's lookups in it scan this instead of the bytes.
    fields: FieldIndex,
}

impl Session {
    /// A session in state `INITIAL` with the sequence numbers the caller loaded.
    pub fn new(cfg: SessionConfig, seq: SeqState) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let version = cfg.version()?;
        let precision = if version >= FixVersion::Fix42 && cfg.millis_in_timestamp {
            TimePrecision::Millis
        } else {
            TimePrecision::Seconds
        };
        Ok(Self {
            version,
            precision,
            state: SessionState::Initial,
            next_sender: seq.next_sender.max(1),
            next_target: seq.next_target.max(1),
            first_logon: seq.first_logon,
            heart_bt_int: cfg.heart_bt_int,
            framer: Framer::new(cfg.max_frame_len),
            enc: EncodeBuffer::with_capacity(1024),
            ts: TimestampFormatter::new(),
            conn: Conn::default(),
            queue: BTreeMap::new(),
            queued_bytes: 0,
            replay_bytes: Vec::new(),
            replay_index: Vec::new(),
            fields: FieldIndex::new(),
            cfg,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }
    /// The current state.
    pub fn state(&self) -> SessionState {
        self.state
    }
    /// The protocol version.
    pub fn version(&self) -> FixVersion {
        self.version
    }
    /// `MsgSeqNum <34>` of the next message we send.
    pub fn next_sender_seq(&self) -> u64 {
        self.next_sender
    }
    /// `MsgSeqNum <34>` expected next from the peer.
    pub fn next_target_seq(&self) -> u64 {
        self.next_target
    }
    /// The heartbeat interval in force (the peer's for an acceptor), in seconds.
    pub fn heart_bt_int(&self) -> u32 {
        self.heart_bt_int
    }
    /// Whether a transport is attached. An engine refuses a second connection's Logon for a
    /// session that is connected (duplicate logon) without passing it to the session.
    pub fn is_connected(&self) -> bool {
        self.conn.connected
    }
    /// Whether the Logon exchange completed on the current connection.
    pub fn is_logged_on(&self) -> bool {
        self.conn.connected && self.conn.logon_received && self.conn.logon_sent
    }
    /// Whether a queued out-of-order message can now be processed: call
    /// [`Session::handle_input`] (with an empty buffer if need be).
    pub fn has_ready_queued_input(&self) -> bool {
        self.queue
            .first_key_value()
            .is_some_and(|(&k, _)| k <= self.next_target)
    }

    /// Whether the session holds output back until the transport can take it: an answer to a
    /// ResendRequest is being replayed in batches ([`SessionConfig::resend_batch`], and only
    /// while [`SessionIo::can_send`]), or messages numbered during the replay are not all sent
    /// yet. Call [`Session::resume_output`] when the transport has room. Until it returns false,
    /// new messages are held behind the replay (application ones within
    /// [`SessionConfig::max_held_bytes`], then [`SendError::BackPressure`]).
    pub fn wants_output(&self) -> bool {
        self.is_holding()
    }

    /// Whether newly numbered messages wait behind a replay (in progress, or ended with held
    /// messages not all sent yet).
    fn is_holding(&self) -> bool {
        self.conn.replay.is_some() || self.conn.held_sent < self.conn.held_ends.len()
    }

    /// Continue a paced replay (see [`Session::wants_output`]): replays at most
    /// [`SessionConfig::resend_batch`] more numbers, stopping early when
    /// [`SessionIo::can_send`] turns false. Messages go out exactly as an unpaced replay would
    /// send them (same order, same gap fills, stamped with `now`). Does nothing when no replay is
    /// in progress, so calling it early or often is harmless.
    pub fn resume_output(&mut self, now: Now, io: &mut impl SessionIo) {
        if self.conn.connected {
            self.replay_batch(now, io);
            self.send_held(now, io);
        }
    }

    // ----------------------------------------------------------------------------------------
    // Engine-driven connection phases.

    /// The engine started a TCP connect (initiator): `WAIT_FOR_CONNECT`.
    pub fn connecting(&mut self, io: &mut impl SessionIo) {
        self.set_state(SessionState::WaitForConnect, io);
    }
    /// The engine is waiting to reconnect (initiator): `RECONNECT`.
    pub fn reconnecting(&mut self, io: &mut impl SessionIo) {
        self.set_state(SessionState::Reconnect, io);
    }
    /// The engine is switching to another endpoint (primary / backup): `SWITCH_CONNECTION`.
    pub fn switching_connection(&mut self, io: &mut impl SessionIo) {
        self.set_state(SessionState::SwitchConnection, io);
    }
    /// The engine listens for this acceptor: `INITIAL` -> `WAIT_FOR_FIRST_LOGON`, as after a
    /// disconnect. Does nothing for an initiator or once the session has left `INITIAL`.
    pub fn listening(&mut self, io: &mut impl SessionIo) {
        if self.cfg.role == Role::Acceptor && self.state == SessionState::Initial {
            self.set_state(SessionState::WaitForFirstLogon, io);
        }
    }

    /// A transport is attached. An initiator sends its Logon (`WAIT_FOR_CONFIRM_LOGON`); an
    /// acceptor waits for one (`WAIT_FOR_FIRST_LOGON`). Allowed from any state without a
    /// transport, including the terminated ones (the session starts again).
    pub fn connected(&mut self, now: Now, io: &mut impl SessionIo) {
        if self.conn.connected {
            // A second transport for a connected session: the engine must not do this.
            io.event(Event::Warning(
                "connected() while already connected: ignored",
            ));
            return;
        }
        self.clear_connection();
        self.conn.connected = true;
        self.conn.last_sent = now.mono;
        self.conn.last_received = now.mono;
        self.conn.logon_deadline = Some(now.mono.add_nanos(dur_nanos(self.cfg.logon_timeout)));
        match self.cfg.role {
            Role::Initiator => {
                self.heart_bt_int = self.cfg.heart_bt_int;
                let reset = match self.cfg.force_seq_num_reset {
                    ForceSeqNumReset::Never => false,
                    ForceSeqNumReset::FirstLogon => self.first_logon,
                    ForceSeqNumReset::Always => true,
                };
                if reset {
                    self.reset_numbers(io);
                }
                self.set_state(SessionState::WaitForConfirmLogon, io);
                self.send_logon(reset, now, io);
            }
            Role::Acceptor => self.set_state(SessionState::WaitForFirstLogon, io),
        }
    }

    /// The transport is gone (closed by the peer, an I/O error, or after [`SessionIo::close`]).
    /// Raises only the state event: a drop without Logout is not a logout.
    pub fn disconnected(&mut self, _now: Now, io: &mut impl SessionIo) {
        if !self.conn.connected {
            return;
        }
        self.clear_connection();
        let to = match (self.state, self.cfg.role) {
            (SessionState::Established, Role::Acceptor) => SessionState::WaitForFirstLogon,
            (SessionState::WaitForFirstLogon, _) => SessionState::WaitForFirstLogon,
            (s, _) if s.is_terminated() => s,
            _ => SessionState::NonGracefullyTerminated,
        };
        self.set_state(to, io);
    }

    // ----------------------------------------------------------------------------------------
    // API calls.

    /// Graceful disconnect: send `Logout <5>` with `Text <58>` = `reason` (omitted when empty)
    /// and wait for the confirming Logout (at most [`SessionConfig::logout_timeout`]). Without a
    /// completed Logon there is nothing to exchange: the transport is closed at once.
    pub fn disconnect(
        &mut self,
        reason: &str,
        now: Now,
        io: &mut impl SessionIo,
    ) -> Result<(), SendError> {
        match self.state {
            SessionState::Established => {
                self.send_logout(reason.as_bytes(), now, io);
                self.conn.logout_deadline =
                    Some(now.mono.add_nanos(dur_nanos(self.cfg.logout_timeout)));
                self.set_state(SessionState::WaitForConfirmLogout, io);
                Ok(())
            }
            SessionState::WaitForConfirmLogout => Ok(()),
            s if s.is_terminated() => Err(SendError::WrongState(s)),
            _ => {
                self.close(io);
                self.set_state(SessionState::NonGracefullyTerminated, io);
                Ok(())
            }
        }
    }

    /// Close the transport at once, without Logout. Ends in `NON_GRACEFULLY_TERMINATED` (which
    /// also tells the engine to stop reconnecting).
    pub fn disconnect_non_gracefully(&mut self, _now: Now, io: &mut impl SessionIo) {
        if self.conn.connected {
            self.close(io);
        }
        self.set_state(SessionState::NonGracefullyTerminated, io);
    }

    /// Reset both sequence numbers to 1. While logged on, a Logon with `ResetSeqNumFlag <141>=Y`
    /// and `MsgSeqNum <34>=1` tells the peer to do the same; otherwise the numbers are reset locally.
    pub fn reset_seq_nums(&mut self, now: Now, io: &mut impl SessionIo) {
        self.reset_numbers(io);
        if self.state == SessionState::Established {
            self.conn.reset_sent = true;
            self.send_logon(true, now, io);
        }
    }

    /// Send an application message: the session writes the header, `body` writes the body fields
    /// (in the order they must appear). Journaled through [`SessionIo::persist_outbound`], then
    /// sent. Returns its `MsgSeqNum <34>`.
    pub fn send_app(
        &mut self,
        msg_type: &[u8],
        now: Now,
        io: &mut impl SessionIo,
        body: impl FnOnce(&mut Encoder<'_>),
    ) -> Result<u64, SendError> {
        self.send_app_with_header(msg_type, &[], now, io, body)
    }

    /// [`Session::send_app`] with more header fields (`PossResend <97>`, routing `115`/`128`, ...),
    /// merged into the header in ascending tag order. Fields the session writes itself
    /// (`8`, `9`, `35`, `34`, `43`, `49`, `52`, `56`, `122`, `10`) are ignored; at most
    /// [`MAX_HEADER_FIELDS`] are kept.
    pub fn send_app_with_header(
        &mut self,
        msg_type: &[u8],
        header: &[(u32, &[u8])],
        now: Now,
        io: &mut impl SessionIo,
        body: impl FnOnce(&mut Encoder<'_>),
    ) -> Result<u64, SendError> {
        if self.state != SessionState::Established {
            return Err(SendError::NotLoggedOn(self.state));
        }
        if msg_type.is_empty()
            || msg_type.contains(&fix_codec::SOH)
            || msg_type.contains(&b'=')
            || is_admin_msg_type(msg_type)
        {
            return Err(SendError::InvalidMsgType);
        }
        // During a replay a new message must not overtake the numbers still to be resent: it
        // is held (journaled and numbered now, sent when the replay ends), within
        // `max_held_bytes`.
        let hold = self.is_holding();
        if !hold && !io.can_send() {
            return Err(SendError::BackPressure);
        }
        let seq = self.next_sender;
        let mut e = self.enc.encoder(self.cfg.begin_string.as_bytes(), msg_type);
        let mut args = HeaderArgs::new(seq, now.utc);
        if header.is_empty() {
            // The common case skips the scratch array's initialisation.
            write_header(&mut e, &self.cfg, &mut self.ts, self.precision, args);
        } else {
            let mut extra: [(u32, &[u8]); MAX_HEADER_FIELDS] = [(0, b""); MAX_HEADER_FIELDS];
            let mut n_extra = 0;
            for &(t, v) in header {
                let own = matches!(t, 8 | 9 | 10 | 34 | 35 | 43 | 49 | 52 | 56 | 122);
                if !own && n_extra < MAX_HEADER_FIELDS {
                    extra[n_extra] = (t, v);
                    n_extra += 1;
                }
            }
            args.extra = &extra[..n_extra];
            write_header(&mut e, &self.cfg, &mut self.ts, self.precision, args);
        }
        body(&mut e);
        let bytes = e.finish();
        if hold && self.conn.held.len() + bytes.len() > self.cfg.max_held_bytes {
            return Err(SendError::BackPressure);
        }
        io.persist_outbound(seq, bytes);
        self.next_sender = self.next_sender.saturating_add(1);
        io.next_sender_seq_changed(self.next_sender);
        emit(&mut self.conn, self.cfg.max_held_bytes, bytes, io);
        self.conn.last_sent = now.mono;
        Ok(seq)
    }

    /// Send a session-level `Reject <3>` about a message already delivered to the application
    /// (e.g. "Unsupported message type" on FIX 4.0/4.1). `text` replaces the reason's text when
    /// given. The incoming number is not touched: the message was already accepted.
    pub fn reject_app_message(
        &mut self,
        msg: &[u8],
        reason: Option<RejectReason>,
        tag: Option<u32>,
        text: Option<&str>,
        now: Now,
        io: &mut impl SessionIo,
    ) -> Result<(), SendError> {
        if self.state != SessionState::Established {
            return Err(SendError::NotLoggedOn(self.state));
        }
        let Some(h) = parse_header(msg) else {
            return Err(SendError::InvalidMsgType);
        };
        self.write_reject(msg, &h, (reason, tag, text.map(str::as_bytes)), now, io);
        Ok(())
    }

    // ----------------------------------------------------------------------------------------
    // Time.

    /// The next instant at which [`Session::handle_timeout`] must be called, if any.
    pub fn next_deadline(&self) -> Option<MonoTime> {
        if !self.conn.connected {
            return None;
        }
        match self.state {
            SessionState::WaitForConfirmLogon | SessionState::WaitForFirstLogon => {
                self.conn.logon_deadline
            }
            SessionState::WaitForConfirmLogout => self.conn.logout_deadline,
            SessionState::Established => {
                let resend = self.resend_request_deadline();
                if self.heart_bt_int == 0 {
                    return resend;
                }
                let hb = u64::from(self.heart_bt_int).saturating_mul(NANOS_PER_SEC);
                let timeout = self.conn.last_received.add_nanos(hb.saturating_mul(12) / 5);
                let heartbeat = if self.conn.test_request_sent {
                    timeout
                } else {
                    let heartbeat = self.conn.last_sent.add_nanos(hb);
                    let test = self.conn.last_received.add_nanos(hb.saturating_mul(6) / 5);
                    heartbeat.min(test).min(timeout)
                };
                Some(resend.map_or(heartbeat, |r| r.min(heartbeat)))
            }
            _ => None,
        }
    }

    /// Act on timers: heartbeat, TestRequest, heartbeat timeout, logon and logout timeouts.
    /// Calling it early or often is harmless.
    pub fn handle_timeout(&mut self, now: Now, io: &mut impl SessionIo) {
        if !self.conn.connected {
            return;
        }
        match self.state {
            SessionState::WaitForConfirmLogon | SessionState::WaitForFirstLogon
                if self.conn.logon_deadline.is_some_and(|d| now.mono >= d) =>
            {
                io.event(Event::Warning("timed out waiting for Logon"));
                self.close(io);
                let to = match self.cfg.role {
                    Role::Initiator => SessionState::NonGracefullyTerminated,
                    Role::Acceptor => SessionState::WaitForFirstLogon,
                };
                self.set_state(to, io);
            }
            SessionState::WaitForConfirmLogout
                if self.conn.logout_deadline.is_some_and(|d| now.mono >= d) =>
            {
                io.event(Event::Warning(
                    "timed out waiting for the confirming Logout",
                ));
                self.close(io);
                self.set_state(SessionState::NonGracefullyTerminated, io);
            }
            SessionState::Established => {
                if self
                    .resend_request_deadline()
                    .is_some_and(|d| now.mono >= d)
                {
                    self.repeat_resend_request(now, io);
                }
                if self.heart_bt_int == 0 {
                    return;
                }
                let hb = u64::from(self.heart_bt_int).saturating_mul(NANOS_PER_SEC);
                let since_recv = now.mono.since(self.conn.last_received);
                let since_sent = now.mono.since(self.conn.last_sent);
                if since_recv >= hb.saturating_mul(12) / 5 {
                    io.event(Event::Warning("timed out waiting for heartbeat"));
                    self.close(io);
                    self.dropped(io);
                } else if !self.conn.test_request_sent && since_recv >= hb.saturating_mul(6) / 5 {
                    self.conn.test_request_sent = true;
                    self.send_admin(b"1", now, io, |e| {
                        e.field(tags::TEST_REQ_ID, b"TEST");
                    });
                } else if !self.conn.test_request_sent && since_sent >= hb {
                    self.send_admin(b"0", now, io, |_| {});
                }
            }
            _ => {}
        }
    }

    // ----------------------------------------------------------------------------------------
    // Input.

    /// Feed received bytes (any split: partial messages, several at once). Frames, validates and
    /// processes complete messages; stops after each delivered application message (see
    /// [`InputStatus`]). Queued out-of-order messages that became processable go first.
    pub fn handle_input(&mut self, buf: &[u8], now: Now, io: &mut impl SessionIo) -> InputStatus {
        let mut off = 0;
        // Bounded: every iteration consumes input, shrinks the queue, or returns.
        loop {
            if !self.conn.connected {
                return InputStatus {
                    consumed: buf.len(),
                    yielded: false,
                };
            }
            if self.has_ready_queued_input() {
                if self.process_one_queued(now, io) {
                    return InputStatus {
                        consumed: off,
                        yielded: true,
                    };
                }
                continue;
            }
            match self.framer.next_frame(&buf[off..]) {
                FrameStatus::NeedMore => {
                    return InputStatus {
                        consumed: off,
                        yielded: false,
                    };
                }
                FrameStatus::Garbled { skip, error } => {
                    io.event(Event::Garbled(error));
                    let before_logon = matches!(
                        self.state,
                        SessionState::WaitForFirstLogon | SessionState::WaitForConfirmLogon
                    );
                    if before_logon {
                        // QuickFIX drops a connection that sends an invalid message before the
                        // Logon exchange completed (e.g. a Logon with a wrong BodyLength).
                        io.event(Event::Warning("garbled message before Logon"));
                        self.close(io);
                        let to = match self.cfg.role {
                            Role::Initiator => SessionState::NonGracefullyTerminated,
                            Role::Acceptor => SessionState::WaitForFirstLogon,
                        };
                        self.set_state(to, io);
                        return InputStatus {
                            consumed: buf.len(),
                            yielded: false,
                        };
                    }
                    if error.is_fatal() {
                        self.close(io);
                        self.dropped(io);
                        return InputStatus {
                            consumed: buf.len(),
                            yielded: false,
                        };
                    }
                    off += skip.max(1).min(buf.len() - off);
                }
                FrameStatus::Complete { len } => {
                    let frame = &buf[off..off + len];
                    off += len;
                    io.received(frame);
                    if self.process(frame, now, io) {
                        return InputStatus {
                            consumed: off,
                            yielded: true,
                        };
                    }
                }
            }
        }
    }

    /// Process the lowest queued message if it is due. Returns whether an application message
    /// was delivered.
    fn process_one_queued(&mut self, now: Now, io: &mut impl SessionIo) -> bool {
        let Some((seq, frame)) = self.queue.pop_first() else {
            return false;
        };
        self.queued_bytes -= frame.len();
        if seq < self.next_target {
            return false; // Superseded by a SequenceReset: stale.
        }
        if frame.is_empty() {
            // A Logon or ResendRequest already acted upon: it only consumes its number.
            self.incr_target(io);
            return false;
        }
        self.process(&frame, now, io)
    }

    /// Process one complete frame. Returns whether an application message was delivered.
    fn process(&mut self, frame: &[u8], now: Now, io: &mut impl SessionIo) -> bool {
        let Some(h) = read_header(&self.cfg, frame, &mut self.fields) else {
            io.event(Event::Ignored("first fields are not 8, 9, 35"));
            return false;
        };
        match self.state {
            SessionState::WaitForFirstLogon => {
                self.on_first_logon(frame, &h, now, io);
                return false;
            }
            SessionState::WaitForConfirmLogon => {
                self.on_confirm_logon(frame, &h, now, io);
                return false;
            }
            SessionState::Established | SessionState::WaitForConfirmLogout => {}
            _ => {
                io.event(Event::Ignored("message received while not connected"));
                return false;
            }
        }
        if h.begin != self.cfg.begin_string.as_bytes() {
            if h.msg_type == b"5" {
                self.on_logout(&h, frame, now, io);
            } else {
                self.send_logout(b"Incorrect BeginString", now, io);
                self.close(io);
                self.dropped(io);
            }
            return false;
        }
        if let Err(v) = self.validate(frame, &h) {
            if v.is_garbled() {
                io.event(Event::Ignored("garbled message"));
            } else {
                self.reject_and_maybe_incr(frame, &h, v, now, io);
            }
            return false;
        }
        match h.msg_type {
            b"0" => {
                if let Verdict::Accept = self.verify(frame, &h, true, true, now, io) {
                    io.event(Event::AdminMessage(MessageRef::new(frame)));
                    self.incr_target(io);
                }
                false
            }
            b"1" => {
                if let Verdict::Accept = self.verify(frame, &h, true, true, now, io) {
                    io.event(Event::AdminMessage(MessageRef::new(frame)));
                    let id = MessageRef::new(frame).get(tags::TEST_REQ_ID);
                    self.send_admin(b"0", now, io, |e| {
                        if let Some(id) = id {
                            e.field(tags::TEST_REQ_ID, id);
                        }
                    });
                    self.incr_target(io);
                }
                false
            }
            b"2" => {
                self.on_resend_request(frame, &h, now, io);
                false
            }
            b"3" => {
                if let Verdict::Accept = self.verify(frame, &h, true, true, now, io) {
                    io.event(Event::RejectReceived(MessageRef::new(frame)));
                    self.incr_target(io);
                }
                false
            }
            b"4" => {
                self.on_sequence_reset(frame, &h, now, io);
                false
            }
            b"5" => {
                self.on_logout(&h, frame, now, io);
                false
            }
            b"A" => {
                self.on_logon_in_session(frame, &h, now, io);
                false
            }
            _ => {
                if let Verdict::Accept = self.verify(frame, &h, true, true, now, io) {
                    io.event(Event::AppMessage(MessageRef::with_index(
                        frame,
                        &self.fields,
                    )));
                    // The buffer may hold other bytes of the same length at the same address
                    // next time: the index describes this frame only.
                    self.fields.clear();
                    self.incr_target(io);
                    true
                } else {
                    false
                }
            }
        }
    }

    /// Dictionary validation (when configured: its verdict came with `h`) and the session's own
    /// required-field checks.
    fn validate(&self, frame: &[u8], h: &Hdr<'_>) -> Result<(), Violation> {
        h.dict?;
        let required: &[u32] = &[
            tags::MSG_SEQ_NUM,
            tags::SENDER_COMP_ID,
            tags::TARGET_COMP_ID,
            tags::SENDING_TIME,
        ];
        for &t in required {
            let present = match t {
                tags::MSG_SEQ_NUM => h.seq_raw.is_some(),
                tags::SENDER_COMP_ID => h.sender.is_some(),
                tags::TARGET_COMP_ID => h.target.is_some(),
                _ => h.sending_time.is_some(),
            };
            if !present {
                return Err(Violation::tag(RejectReason::RequiredTagMissing, t));
            }
        }
        if h.seq.is_none() {
            return Err(Violation::tag(
                RejectReason::IncorrectDataFormat,
                tags::MSG_SEQ_NUM,
            ));
        }
        let body_required: &[u32] = match h.msg_type {
            b"2" => &[tags::BEGIN_SEQ_NO, tags::END_SEQ_NO],
            b"4" => &[tags::NEW_SEQ_NO],
            _ => &[],
        };
        let m = MessageRef::new(frame);
        for &t in body_required {
            match m.get(t) {
                None => return Err(Violation::tag(RejectReason::RequiredTagMissing, t)),
                Some(v) if parse_u64(v).is_none() => {
                    return Err(Violation::tag(RejectReason::IncorrectDataFormat, t));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// SendingTime and CompID checks, then the sequence checks asked for.
    fn verify(
        &mut self,
        frame: &[u8],
        h: &Hdr<'_>,
        check_high: bool,
        check_low: bool,
        now: Now,
        io: &mut impl SessionIo,
    ) -> Verdict {
        if !self.sending_time_ok(h, now) {
            self.reject_and_maybe_incr(
                frame,
                h,
                Violation::plain(RejectReason::SendingTimeAccuracyProblem),
                now,
                io,
            );
            self.start_logout(b"", now, io);
            return Verdict::Stop;
        }
        if !self.comp_ids_ok(h) {
            self.reject_and_maybe_incr(
                frame,
                h,
                Violation::plain(RejectReason::CompIdProblem),
                now,
                io,
            );
            self.start_logout(b"", now, io);
            return Verdict::Stop;
        }
        self.conn.last_received = now.mono;
        self.conn.test_request_sent = false;
        let seq = h.seq.unwrap_or(0);
        if check_high && seq > self.next_target {
            self.target_too_high(frame, seq, now, io);
            return Verdict::Stop;
        }
        if check_low && seq < self.next_target {
            self.target_too_low(frame, h, seq, now, io);
            return Verdict::Stop;
        }
        if check_high || check_low {
            match self.conn.resend_range {
                Some((_, end)) if seq >= end => self.conn.resend_range = None,
                // In sequence while a gap is being filled: the answer is flowing.
                Some(_) => self.conn.resend_progress_at = now.mono,
                None => {}
            }
        }
        Verdict::Accept
    }

    fn sending_time_ok(&self, h: &Hdr<'_>, now: Now) -> bool {
        let Some(max) = self.cfg.max_latency else {
            return true;
        };
        match h.sending_time.and_then(UtcTimestamp::parse) {
            Some(t) => t.abs_diff_nanos(now.utc) <= max.as_nanos(),
            None => false,
        }
    }

    fn comp_ids_ok(&self, h: &Hdr<'_>) -> bool {
        !self.cfg.check_comp_id
            || (h.sender == Some(self.cfg.target_comp_id.as_bytes())
                && h.target == Some(self.cfg.sender_comp_id.as_bytes()))
    }

    fn target_too_high(&mut self, frame: &[u8], seq: u64, now: Now, io: &mut impl SessionIo) {
        io.event(Event::SequenceGap {
            expected: self.next_target,
            received: seq,
        });
        let is_marker = matches!(MessageRef::new(frame).msg_type(), Some(b"A" | b"2"));
        self.enqueue(seq, if is_marker { &[] } else { frame });
        if self.conn.resend_range.is_none() {
            self.send_resend_request(seq, now, io);
        }
    }

    fn enqueue(&mut self, seq: u64, frame: &[u8]) {
        if self.queue.contains_key(&seq) {
            return;
        }
        if self.queued_bytes + frame.len() > self.cfg.max_queued_bytes
            || self.queue.len() >= MAX_QUEUED_MESSAGES
        {
            // Dropped: the outstanding ResendRequest runs to infinity, so it will come again.
            return;
        }
        self.queued_bytes += frame.len();
        self.queue.insert(seq, frame.to_vec());
    }

    fn send_resend_request(&mut self, received: u64, now: Now, io: &mut impl SessionIo) {
        let begin = self.next_target;
        let end: u64 = if self.version <= FixVersion::Fix41 {
            999_999
        } else {
            0
        };
        self.conn.resend_range = Some((begin, received - 1));
        self.conn.resend_progress_at = now.mono;
        self.send_admin(b"2", now, io, |e| {
            e.field_u64(tags::BEGIN_SEQ_NO, begin)
                .field_u64(tags::END_SEQ_NO, end);
        });
    }

    /// The ResendRequest timeout in force, in nanoseconds (`None`: off).
    fn resend_request_timeout(&self) -> Option<u64> {
        match self.cfg.resend_request_timeout {
            Some(d) if d.is_zero() => None,
            Some(d) => Some(dur_nanos(d)),
            None if self.heart_bt_int == 0 => None,
            None => Some(
                u64::from(self.heart_bt_int)
                    .saturating_mul(NANOS_PER_SEC)
                    .saturating_mul(2),
            ),
        }
    }

    /// When an outstanding ResendRequest is to be sent again, if one is outstanding.
    fn resend_request_deadline(&self) -> Option<MonoTime> {
        self.conn.resend_range?;
        let t = self.resend_request_timeout()?;
        Some(self.conn.resend_progress_at.add_nanos(t))
    }

    /// The outstanding ResendRequest (or its answer) went unanswered: ask again from the expected
    /// number. The deadline restarts from now, so this happens at most once per timeout.
    fn repeat_resend_request(&mut self, now: Now, io: &mut impl SessionIo) {
        let Some((_, end)) = self.conn.resend_range else {
            return;
        };
        let begin = self.next_target;
        io.event(Event::ResendRequestRepeated { begin, end });
        self.send_resend_request(end.saturating_add(1), now, io);
    }

    fn target_too_low(
        &mut self,
        frame: &[u8],
        h: &Hdr<'_>,
        seq: u64,
        now: Now,
        io: &mut impl SessionIo,
    ) {
        if !h.poss_dup {
            let mut text = [0u8; 96];
            let n = too_low_text(&mut text, self.next_target, seq);
            self.send_logout(&text[..n], now, io);
            self.close(io);
            self.dropped(io);
            return;
        }
        if h.msg_type != b"4" {
            match (
                h.orig_sending_time,
                h.orig_sending_time.and_then(UtcTimestamp::parse),
            ) {
                (None, _) => {
                    self.reject_and_maybe_incr(
                        frame,
                        h,
                        Violation::tag(RejectReason::RequiredTagMissing, tags::ORIG_SENDING_TIME),
                        now,
                        io,
                    );
                    return;
                }
                (Some(_), None) => {
                    self.reject_and_maybe_incr(
                        frame,
                        h,
                        Violation::tag(RejectReason::IncorrectDataFormat, tags::ORIG_SENDING_TIME),
                        now,
                        io,
                    );
                    return;
                }
                (Some(_), Some(orig)) => {
                    let sent = h.sending_time.and_then(UtcTimestamp::parse);
                    if sent.is_some_and(|s| orig > s) {
                        self.reject_and_maybe_incr(
                            frame,
                            h,
                            Violation::plain(RejectReason::SendingTimeAccuracyProblem),
                            now,
                            io,
                        );
                        self.start_logout(b"", now, io);
                        return;
                    }
                }
            }
        }
        io.event(Event::Ignored("duplicate with PossDupFlag=Y"));
    }

    fn on_resend_request(&mut self, frame: &[u8], h: &Hdr<'_>, now: Now, io: &mut impl SessionIo) {
        if let Verdict::Stop = self.verify(frame, h, false, false, now, io) {
            return;
        }
        let m = MessageRef::new(frame);
        let begin = m.get_u64(tags::BEGIN_SEQ_NO).unwrap_or(0);
        let end = m.get_u64(tags::END_SEQ_NO).unwrap_or(0);
        self.resend(begin, end, now, io);
        let seq = h.seq.unwrap_or(0);
        if seq == self.next_target {
            self.incr_target(io);
        } else if seq > self.next_target {
            // Acted upon already; it still needs its number to be filled in order.
            self.target_too_high(frame, seq, now, io);
        }
    }

    fn on_sequence_reset(&mut self, frame: &[u8], h: &Hdr<'_>, now: Now, io: &mut impl SessionIo) {
        let m = MessageRef::new(frame);
        let gap_fill = m.get_bool(tags::GAP_FILL_FLAG) == Some(true);
        if let Verdict::Stop = self.verify(frame, h, gap_fill, gap_fill, now, io) {
            return;
        }
        let Some(new_seq_no) = m.get_u64(tags::NEW_SEQ_NO) else {
            return;
        };
        if new_seq_no > self.next_target {
            self.next_target = new_seq_no;
            io.event(Event::SequenceReset {
                new_seq_no,
                gap_fill,
            });
            io.next_target_seq_changed(self.next_target);
            match self.conn.resend_range {
                Some((_, end)) if new_seq_no > end => self.conn.resend_range = None,
                Some(_) => self.conn.resend_progress_at = now.mono,
                None => {}
            }
        } else if new_seq_no < self.next_target {
            self.reject_and_maybe_incr(
                frame,
                h,
                Violation::plain(RejectReason::ValueIsIncorrect),
                now,
                io,
            );
        }
    }

    fn on_logout(&mut self, h: &Hdr<'_>, frame: &[u8], now: Now, io: &mut impl SessionIo) {
        if let Verdict::Stop = self.verify(frame, h, false, false, now, io) {
            return;
        }
        let text = MessageRef::new(frame).get(tags::TEXT).unwrap_or(b"");
        io.event(Event::LoggedOut { text });
        let confirming = self.conn.logout_sent;
        if !confirming {
            self.send_logout(b"", now, io);
        }
        if h.seq == Some(self.next_target) {
            self.incr_target(io);
        }
        self.close(io);
        if is_sequence_error_text(text) {
            // The peer refused our numbers and keeps its own: ending the stream here (a reset)
            // would make the two sides disagree forever. Only an operator or a 141=Y Logon can
            // settle which numbers are right.
            io.event(Event::Warning(
                "Logout for a sequence error: numbers kept (fix them, or log on with 141=Y)",
            ));
            self.set_state(SessionState::NonGracefullyTerminated, io);
        } else {
            self.finish_graceful(io);
        }
    }

    /// A Logon on an established session: a sequence reset (`141=Y`, `34=1`), the peer's answer to
    /// ours, or a protocol violation that ends the connection.
    fn on_logon_in_session(
        &mut self,
        frame: &[u8],
        h: &Hdr<'_>,
        now: Now,
        io: &mut impl SessionIo,
    ) {
        let m = MessageRef::new(frame);
        let reset = m.get_bool(tags::RESET_SEQ_NUM_FLAG) == Some(true);
        if !reset || h.seq != Some(1) {
            io.event(Event::Warning("Logon received on an established session"));
            self.close(io);
            self.dropped(io);
            return;
        }
        if let Verdict::Stop = self.verify(frame, h, false, false, now, io) {
            return;
        }
        if self.conn.reset_sent {
            self.conn.reset_sent = false;
        } else {
            self.reset_numbers(io);
            self.send_logon(true, now, io);
        }
        self.next_target = 1;
        self.incr_target(io);
        io.event(Event::LoggedOn { reset: true });
    }

    /// Acceptor: the first message on a connection.
    fn on_first_logon(&mut self, frame: &[u8], h: &Hdr<'_>, now: Now, io: &mut impl SessionIo) {
        let Some(logon) = self.check_logon(frame, h, now, io) else {
            return;
        };
        if let Some(check) = self.cfg.credential_check.clone() {
            let m = MessageRef::new(frame);
            if let Err(text) = check(m.get(tags::USERNAME), m.get(tags::PASSWORD)) {
                io.event(Event::Warning("Logon refused by the credential check"));
                self.send_logout(text.as_bytes(), now, io);
                self.close(io);
                self.set_state(SessionState::WaitForFirstLogon, io);
                return;
            }
        }
        let reset = logon.reset_flag
            || self.cfg.reset_on_logon
            || match self.cfg.force_seq_num_reset {
                ForceSeqNumReset::Never => false,
                ForceSeqNumReset::FirstLogon => self.first_logon,
                ForceSeqNumReset::Always => true,
            };
        if reset {
            self.reset_numbers(io);
        }
        let seq = h.seq.unwrap_or(0);
        if seq < self.next_target {
            let mut text = [0u8; 96];
            let n = too_low_text(&mut text, self.next_target, seq);
            self.send_logout(&text[..n], now, io);
            self.close(io);
            self.set_state(SessionState::WaitForFirstLogon, io);
            return;
        }
        self.heart_bt_int = logon.heart_bt_int;
        self.conn.logon_received = true;
        self.conn.last_received = now.mono;
        let peer_appl_ver = MessageRef::new(frame).get(tags::DEFAULT_APPL_VER_ID);
        self.send_logon_reply(logon.reset_flag, peer_appl_ver, now, io);
        self.logged_on(reset, io);
        self.after_logon_seq(frame, seq, now, io);
    }

    /// Initiator: the answer to our Logon.
    fn on_confirm_logon(&mut self, frame: &[u8], h: &Hdr<'_>, now: Now, io: &mut impl SessionIo) {
        if h.msg_type == b"5" {
            let text = MessageRef::new(frame).get(tags::TEXT).unwrap_or(b"");
            io.event(Event::LoggedOut { text });
            self.close(io);
            self.set_state(SessionState::NonGracefullyTerminated, io);
            return;
        }
        let Some(logon) = self.check_logon(frame, h, now, io) else {
            return;
        };
        let mut reset = self.conn.reset_sent;
        if logon.reset_flag && !self.conn.reset_sent {
            // The peer reset: its numbering starts again at 1.
            self.next_target = 1;
            io.next_target_seq_changed(1);
            reset = true;
        }
        let seq = h.seq.unwrap_or(0);
        if seq < self.next_target {
            let mut text = [0u8; 96];
            let n = too_low_text(&mut text, self.next_target, seq);
            self.send_logout(&text[..n], now, io);
            self.close(io);
            self.set_state(SessionState::NonGracefullyTerminated, io);
            return;
        }
        self.conn.logon_received = true;
        self.conn.reset_sent = false;
        self.conn.last_received = now.mono;
        self.logged_on(reset, io);
        self.after_logon_seq(frame, seq, now, io);
    }

    fn after_logon_seq(&mut self, frame: &[u8], seq: u64, now: Now, io: &mut impl SessionIo) {
        if seq > self.next_target {
            self.target_too_high(frame, seq, now, io);
        } else {
            self.incr_target(io);
        }
    }

    fn logged_on(&mut self, reset: bool, io: &mut impl SessionIo) {
        self.first_logon = false;
        self.conn.logon_deadline = None;
        self.set_state(SessionState::Established, io);
        io.event(Event::LoggedOn { reset });
    }

    /// The checks every Logon passes before the session answers it. On failure the connection
    /// is closed without sending anything.
    fn check_logon(
        &mut self,
        frame: &[u8],
        h: &Hdr<'_>,
        now: Now,
        io: &mut impl SessionIo,
    ) -> Option<LogonInfo> {
        let refuse = |s: &mut Self, io: &mut _, why: &'static str| {
            io_warning(io, why);
            s.close(io);
            let to = match s.cfg.role {
                Role::Initiator => SessionState::NonGracefullyTerminated,
                Role::Acceptor => SessionState::WaitForFirstLogon,
            };
            s.set_state(to, io);
            None
        };
        if h.msg_type != b"A" {
            return refuse(self, io, "first message is not a Logon");
        }
        if h.begin != self.cfg.begin_string.as_bytes() {
            return refuse(self, io, "Logon with an unexpected BeginString");
        }
        if self.validate(frame, h).is_err() {
            return refuse(self, io, "invalid Logon");
        }
        if !self.comp_ids_ok(h) {
            return refuse(self, io, "Logon with unexpected CompIDs");
        }
        if !self.sending_time_ok(h, now) {
            return refuse(self, io, "Logon SendingTime out of range");
        }
        let m = MessageRef::new(frame);
        let Some(heart_bt_int) = m
            .get_u64(tags::HEART_BT_INT)
            .and_then(|v| u32::try_from(v).ok())
        else {
            return refuse(self, io, "Logon without a valid HeartBtInt");
        };
        if m.get(tags::ENCRYPT_METHOD).is_some_and(|v| v != b"0") {
            return refuse(self, io, "Logon with an unsupported EncryptMethod");
        }
        if self.version == FixVersion::Fixt11 && m.get(tags::DEFAULT_APPL_VER_ID).is_none() {
            return refuse(self, io, "FIXT Logon without DefaultApplVerID");
        }
        let reset_flag = m.get_bool(tags::RESET_SEQ_NUM_FLAG) == Some(true);
        if reset_flag && h.seq != Some(1) {
            return refuse(
                self,
                io,
                "Logon with ResetSeqNumFlag=Y but MsgSeqNum is not 1",
            );
        }
        Some(LogonInfo {
            heart_bt_int,
            reset_flag,
        })
    }

    /// A completed Logout exchange.
    fn finish_graceful(&mut self, io: &mut impl SessionIo) {
        if self.cfg.intraday_logout_tolerance {
            self.set_state(SessionState::NonGracefullyTerminated, io);
        } else {
            self.reset_numbers(io);
            self.set_state(SessionState::CorrectlyTerminated, io);
        }
    }

    /// The connection ended without a Logout exchange.
    fn dropped(&mut self, io: &mut impl SessionIo) {
        let to = match self.cfg.role {
            Role::Acceptor if self.state == SessionState::Established => {
                SessionState::WaitForFirstLogon
            }
            _ => SessionState::NonGracefullyTerminated,
        };
        self.set_state(to, io);
    }

    // ----------------------------------------------------------------------------------------
    // Output.

    /// Send our Logout and wait for the confirmation (used after a Reject that ends the session).
    fn start_logout(&mut self, text: &[u8], now: Now, io: &mut impl SessionIo) {
        if self.conn.logout_sent || !self.conn.connected {
            return;
        }
        self.send_logout(text, now, io);
        self.conn.logout_deadline = Some(now.mono.add_nanos(dur_nanos(self.cfg.logout_timeout)));
        if self.state == SessionState::Established {
            self.set_state(SessionState::WaitForConfirmLogout, io);
        }
    }

    fn send_logout(&mut self, text: &[u8], now: Now, io: &mut impl SessionIo) {
        self.conn.logout_sent = true;
        // The session is ending: the rest of a replay would follow our Logout, which the peer
        // answers by closing. Its next connection asks again for what it still misses (held
        // messages are journaled, so they are part of that answer).
        self.cancel_replay();
        self.send_admin(b"5", now, io, |e| {
            if !text.is_empty() {
                e.field(tags::TEXT, text);
            }
        });
    }

    fn send_logon(&mut self, reset: bool, now: Now, io: &mut impl SessionIo) {
        self.send_logon_with(reset, None, now, io);
    }

    /// Our Logon. `peer_appl_ver` is the peer's `DefaultApplVerID <1137>`, echoed on FIXT when
    /// none is configured.
    fn send_logon_with(
        &mut self,
        reset: bool,
        peer_appl_ver: Option<&[u8]>,
        now: Now,
        io: &mut impl SessionIo,
    ) {
        self.conn.logon_sent = true;
        self.conn.reset_sent = reset;
        let hb = self.heart_bt_int;
        let next_expected = self.next_expected_field();
        let configured = self.cfg.default_appl_ver_id.clone();
        let appl_ver: Option<&[u8]> = configured.as_deref().map(str::as_bytes).or(peer_appl_ver);
        let fixt = self.version == FixVersion::Fixt11;
        // Only an initiator presents credentials; taken out for the call (no copy) and put back.
        let (user, pass) = match self.cfg.role {
            Role::Initiator => (self.cfg.username.take(), self.cfg.password.take()),
            Role::Acceptor => (None, None),
        };
        self.send_admin(b"A", now, io, |e| {
            e.field(tags::ENCRYPT_METHOD, b"0")
                .field_u64(tags::HEART_BT_INT, u64::from(hb));
            if reset {
                e.field_bool(tags::RESET_SEQ_NUM_FLAG, true);
            }
            if let Some(u) = &user {
                e.field(tags::USERNAME, u.as_bytes());
            }
            if let Some(p) = &pass {
                e.field(tags::PASSWORD, p.as_bytes());
            }
            if let Some(n) = next_expected {
                e.field_u64(tags::NEXT_EXPECTED_MSG_SEQ_NUM, n);
            }
            if fixt && let Some(v) = appl_ver {
                e.field(tags::DEFAULT_APPL_VER_ID, v);
            }
        });
        if self.cfg.role == Role::Initiator {
            self.cfg.username = user;
            self.cfg.password = pass;
        }
    }

    fn send_logon_reply(
        &mut self,
        reset_flag: bool,
        peer_appl_ver: Option<&[u8]>,
        now: Now,
        io: &mut impl SessionIo,
    ) {
        self.send_logon_with(reset_flag, peer_appl_ver, now, io);
        self.conn.reset_sent = false;
    }

    fn next_expected_field(&self) -> Option<u64> {
        (self.cfg.send_next_expected_msg_seq_num && self.version >= FixVersion::Fix44)
            .then_some(self.next_target)
    }

    /// Encode and send an admin message with the next sequence number.
    fn send_admin(
        &mut self,
        msg_type: &[u8],
        now: Now,
        io: &mut impl SessionIo,
        body: impl FnOnce(&mut Encoder<'_>),
    ) {
        let seq = self.next_sender;
        let mut e = self.enc.encoder(self.cfg.begin_string.as_bytes(), msg_type);
        write_header(
            &mut e,
            &self.cfg,
            &mut self.ts,
            self.precision,
            HeaderArgs::new(seq, now.utc),
        );
        body(&mut e);
        let bytes = e.finish();
        // Store the next number before the bytes leave: a crash after the send must not make a
        // restarted session reuse a number the peer has already seen.
        self.next_sender = self.next_sender.saturating_add(1);
        io.next_sender_seq_changed(self.next_sender);
        emit(&mut self.conn, self.cfg.max_held_bytes, bytes, io);
        self.conn.last_sent = now.mono;
    }

    /// Reject `h` and consume its number when QuickFIX would (not for Logon and SequenceReset, and
    /// only when it is the expected one).
    fn reject_and_maybe_incr(
        &mut self,
        frame: &[u8],
        h: &Hdr<'_>,
        v: Violation,
        now: Now,
        io: &mut impl SessionIo,
    ) {
        self.write_reject(frame, h, (Some(v.reason), v.tag, None), now, io);
        if h.msg_type != b"A" && h.msg_type != b"4" && h.seq == Some(self.next_target) {
            self.incr_target(io);
        }
    }

    fn write_reject(
        &mut self,
        frame: &[u8],
        h: &Hdr<'_>,
        (reason, tag, text_override): (Option<RejectReason>, Option<u32>, Option<&[u8]>),
        now: Now,
        io: &mut impl SessionIo,
    ) {
        let seq = self.next_sender;
        let v42 = self.version >= FixVersion::Fix42;
        let mut routing: [(u32, &[u8]); 6] = [(0, b""); 6];
        for (i, slot) in routing.iter_mut().enumerate() {
            // Location IDs (144/145) exist from FIX 4.1 on; QuickFIX reverses them only there.
            let location = matches!(ROUTING_TAGS[i], 144 | 145);
            if location && self.version < FixVersion::Fix41 {
                continue;
            }
            if let Some(v) = h.routing[i].filter(|v| !v.is_empty()) {
                *slot = (REVERSED_ROUTING_TAGS[i], v);
            }
        }
        // RefTagID as text: a number, or the raw text of a malformed tag (`-1=x`).
        let mut tag_digits = [0u8; 20];
        let tag_text: Option<&[u8]> = match (tag, reason) {
            (Some(t), _) => Some(u64_text(u64::from(t), &mut tag_digits)),
            (None, Some(RejectReason::InvalidTagNumber)) => {
                fix_codec::dict::first_malformed_tag(frame)
            }
            _ => None,
        };
        let mut text_buf = [0u8; 128];
        let text: &[u8] = match (text_override, reason) {
            (Some(t), _) => t,
            (None, Some(r)) => {
                let base = r.text().as_bytes();
                match tag_text {
                    Some(t) if !v42 => {
                        let mut w = ByteWriter::new(&mut text_buf);
                        w.put(base);
                        w.put(b" (");
                        w.put(t);
                        w.put(b")");
                        let n = w.len();
                        &text_buf[..n]
                    }
                    _ => base,
                }
            }
            (None, None) => b"",
        };
        let mut e = self.enc.encoder(self.cfg.begin_string.as_bytes(), b"3");
        let mut args = HeaderArgs::new(seq, now.utc);
        args.extra = &routing;
        write_header(&mut e, &self.cfg, &mut self.ts, self.precision, args);
        if let Some(raw) = h.seq_raw.filter(|v| !v.is_empty()) {
            e.field(tags::REF_SEQ_NUM, raw);
        }
        if !text.is_empty() {
            e.field(tags::TEXT, text);
        }
        if v42 {
            if let Some(t) = tag_text {
                e.field(tags::REF_TAG_ID, t);
            }
            e.field(tags::REF_MSG_TYPE, h.msg_type);
            if let Some(r) = reason
                && (self.version > FixVersion::Fix42 || r.code() <= 11)
            {
                e.field_u64(tags::SESSION_REJECT_REASON, u64::from(r.code()));
            }
        }
        let bytes = e.finish();
        // The number is stored before the send, as in `send_admin`.
        self.next_sender = self.next_sender.saturating_add(1);
        io.next_sender_seq_changed(self.next_sender);
        emit(&mut self.conn, self.cfg.max_held_bytes, bytes, io);
        self.conn.last_sent = now.mono;
        io.event(Event::RejectSent {
            ref_seq_num: h.seq.unwrap_or(0),
            reason: reason.unwrap_or(RejectReason::Other),
            tag,
        });
    }

    /// Answer a ResendRequest: replay journaled application messages, gap-fill the rest. A new
    /// request replaces a replay in progress: the peer asks from what it has, and what we were
    /// still going to send is inside its range.
    ///
    /// Held messages are dropped too: their numbers are at most the last one sent, so the new
    /// range (to infinity, or up to what the peer still misses) replays or gap-fills them; sending
    /// them afterwards as well would repeat numbers without PossDup.
    fn resend(&mut self, begin: u64, end: u64, now: Now, io: &mut impl SessionIo) {
        let last = self.next_sender.saturating_sub(1);
        let infinite = end == 0 || (self.version <= FixVersion::Fix42 && end == 999_999);
        let end = if infinite || end > last { last } else { end };
        if begin == 0 || begin > end {
            // Asks for nothing: a replay in progress goes on.
            io.event(Event::Warning("ResendRequest for nothing we sent"));
            return;
        }
        self.cancel_replay();
        io.event(Event::ResendRequested { begin, end });
        self.conn.replay = Some(Replay {
            next: begin,
            end,
            gap_start: None,
        });
        self.replay_batch(now, io);
        self.send_held(now, io);
    }

    fn cancel_replay(&mut self) {
        self.conn.replay = None;
        self.conn.held = Vec::new();
        self.conn.held_ends = Vec::new();
        self.conn.held_sent = 0;
    }

    /// Sends what was held behind a finished replay, in order, while the transport takes it.
    fn send_held(&mut self, now: Now, io: &mut impl SessionIo) {
        if self.conn.replay.is_some() || self.conn.held_ends.is_empty() {
            return;
        }
        // Bounded: one held message per iteration.
        while self.conn.held_sent < self.conn.held_ends.len() {
            if !io.can_send() {
                return;
            }
            let i = self.conn.held_sent;
            let start = if i == 0 {
                0
            } else {
                self.conn.held_ends[i - 1]
            };
            let end = self.conn.held_ends[i];
            io.send(&self.conn.held[start..end]);
            self.conn.held_sent = i + 1;
            self.conn.last_sent = now.mono;
        }
        self.conn.held = Vec::new();
        self.conn.held_ends = Vec::new();
        self.conn.held_sent = 0;
    }

    /// One batch of the replay in progress: at most `resend_batch` numbers, and no application
    /// message once the transport cannot take it.
    fn replay_batch(&mut self, now: Now, io: &mut impl SessionIo) {
        let Some(mut r) = self.conn.replay else {
            return;
        };
        let budget = match self.cfg.resend_batch {
            0 => u64::MAX,
            n => n,
        };
        let chunk = self.cfg.resend_chunk_size.unwrap_or(u64::MAX).max(1);
        let mut scratch = std::mem::take(&mut self.replay_bytes);
        let mut index = std::mem::take(&mut self.replay_index);
        let mut covered: u64 = 0;
        let mut blocked = !io.can_send();
        // Bounded: `r.next` advances by at least one per iteration up to `r.end` (`end` is below
        // `next_sender`, so `to + 1` cannot overflow), and `covered` grows to `budget`.
        while !blocked && r.next <= r.end && covered < budget {
            let from = r.next;
            let to = from
                .saturating_add(chunk.min(budget - covered) - 1)
                .min(r.end);
            scratch.clear();
            index.clear();
            let mut last_seq = from - 1;
            io.read_outbound(from, to, &mut |seq, bytes| {
                if seq > last_seq && seq <= to {
                    last_seq = seq;
                    index.push((seq, scratch.len(), bytes.len()));
                    scratch.extend_from_slice(bytes);
                }
            });
            let mut cur = from;
            for &(seq, start, len) in &index {
                let stored = &scratch[start..start + len];
                let msg_type = MessageRef::new(stored)
                    .msg_type()
                    .filter(|t| !is_admin_msg_type(t));
                if seq > cur {
                    r.gap_start.get_or_insert(cur);
                }
                if let Some(msg_type) = msg_type {
                    if !io.can_send() {
                        // Resumes at `seq` with the run before it still open: the gap fill
                        // goes out right before `seq`, as in one unpaced pass.
                        blocked = true;
                        cur = seq;
                        break;
                    }
                    if let Some(g) = r.gap_start.take() {
                        self.send_gap_fill(g, seq, now, io);
                    }
                    self.resend_one(seq, msg_type, stored, now, io);
                } else {
                    r.gap_start.get_or_insert(seq);
                }
                cur = seq + 1;
            }
            if !blocked && cur <= to {
                r.gap_start.get_or_insert(cur);
                cur = to + 1;
            }
            covered += cur - from;
            r.next = cur;
        }
        if r.next > r.end {
            if let Some(g) = r.gap_start {
                self.send_gap_fill(g, r.end + 1, now, io);
            }
            self.conn.replay = None;
            // Done: a replay is rare, and an unpaced one may have read megabytes; do not keep
            // them for the life of the session.
            self.replay_bytes = Vec::new();
            self.replay_index = Vec::new();
        } else {
            self.replay_bytes = scratch;
            self.replay_index = index;
            self.conn.replay = Some(r);
        }
    }

    fn send_gap_fill(&mut self, seq: u64, new_seq_no: u64, now: Now, io: &mut impl SessionIo) {
        let mut e = self.enc.encoder(self.cfg.begin_string.as_bytes(), b"4");
        let mut args = HeaderArgs::new(seq, now.utc);
        args.poss_dup_orig = Some(OrigTime::Utc(now.utc));
        write_header(&mut e, &self.cfg, &mut self.ts, self.precision, args);
        e.field_u64(tags::NEW_SEQ_NO, new_seq_no)
            .field_bool(tags::GAP_FILL_FLAG, true);
        io.send(e.finish());
        self.conn.last_sent = now.mono;
    }

    /// Resend one journaled message: original number and body, `43=Y`, `122` = its `52`, new `52`.
    fn resend_one(
        &mut self,
        seq: u64,
        msg_type: &[u8],
        stored: &[u8],
        now: Now,
        io: &mut impl SessionIo,
    ) {
        let m = MessageRef::new(stored);
        let mut extra: [(u32, &[u8]); MAX_HEADER_FIELDS] = [(0, b""); MAX_HEADER_FIELDS];
        let mut n_extra = 0;
        let mut orig: &[u8] = b"";
        let trailer_start = trailer_start(stored);
        let mut body_start = trailer_start;
        // Only the header is read field by field: on a long replay this loop is most of the
        // I/O thread's work, and the body is copied as it is.
        for f in m.fields().map_while(Result::ok).skip(3) {
            if f.tag == tags::CHECK_SUM || !tags::is_standard_header(f.tag) {
                body_start = f.offset;
                break;
            }
            match f.tag {
                tags::SENDING_TIME => orig = f.value,
                tags::MSG_SEQ_NUM
                | tags::POSS_DUP_FLAG
                | tags::ORIG_SENDING_TIME
                | tags::SENDER_COMP_ID
                | tags::TARGET_COMP_ID
                | tags::SENDER_SUB_ID
                | tags::TARGET_SUB_ID
                | tags::SENDER_LOCATION_ID
                | tags::TARGET_LOCATION_ID => {}
                t if n_extra < MAX_HEADER_FIELDS => {
                    extra[n_extra] = (t, f.value);
                    n_extra += 1;
                }
                _ => {}
            }
        }
        let body = &stored[body_start.min(trailer_start)..trailer_start];
        let mut e = self.enc.encoder(self.cfg.begin_string.as_bytes(), msg_type);
        let mut args = HeaderArgs::new(seq, now.utc);
        args.poss_dup_orig = Some(OrigTime::Raw(orig));
        args.extra = &extra[..n_extra];
        write_header(&mut e, &self.cfg, &mut self.ts, self.precision, args);
        e.raw(body);
        io.send(e.finish());
        self.conn.last_sent = now.mono;
    }

    // ----------------------------------------------------------------------------------------
    // Bookkeeping.

    fn incr_target(&mut self, io: &mut impl SessionIo) {
        self.next_target = self.next_target.saturating_add(1);
        io.next_target_seq_changed(self.next_target);
    }

    fn reset_numbers(&mut self, io: &mut impl SessionIo) {
        self.next_sender = 1;
        self.next_target = 1;
        self.queue.clear();
        self.queued_bytes = 0;
        self.conn.resend_range = None;
        // The journal is about to go: the old numbers mean nothing to the peer any more.
        self.cancel_replay();
        io.reset_store();
        io.next_sender_seq_changed(1);
        io.next_target_seq_changed(1);
    }

    fn close(&mut self, io: &mut impl SessionIo) {
        if self.conn.connected {
            io.close();
        }
        self.clear_connection();
    }

    fn clear_connection(&mut self) {
        self.conn = Conn::default();
        self.queue.clear();
        self.queued_bytes = 0;
    }

    fn set_state(&mut self, to: SessionState, io: &mut impl SessionIo) {
        if self.state != to {
            let from = self.state;
            self.state = to;
            io.event(Event::StateChanged { from, to });
        }
    }
}

/// Sends a newly numbered message, or holds it behind a replay in progress (see
/// [`Session::wants_output`]) so that the peer gets our numbers in order.
fn emit(conn: &mut Conn, max_held: usize, bytes: &[u8], io: &mut impl SessionIo) {
    let holding = conn.replay.is_some() || conn.held_sent < conn.held_ends.len();
    if !holding {
        io.send(bytes);
        return;
    }
    // Application messages were checked against `max_held` by `send_app`; admin ones get
    // some slack past it, and beyond that go out at once rather than grow the hold.
    if conn.held.len() + bytes.len() > max_held.saturating_add(ADMIN_HOLD_SLACK) {
        if !conn.held_overflowed {
            conn.held_overflowed = true;
            io.event(Event::Warning(
                "output held during a replay is full: an admin message was sent out of order",
            ));
        }
        io.send(bytes);
        return;
    }
    conn.held.extend_from_slice(bytes);
    conn.held_ends.push(conn.held.len());
}

fn io_warning(io: &mut impl SessionIo, why: &'static str) {
    io.event(Event::Warning(why));
}

#[derive(Debug, Clone, Copy)]
struct LogonInfo {
    heart_bt_int: u32,
    reset_flag: bool,
}

/// `OrigSendingTime <122>`: copied from a journaled message or formatted from a time.
#[derive(Debug, Clone, Copy)]
enum OrigTime<'a> {
    Raw(&'a [u8]),
    Utc(UtcTimestamp),
}

/// What varies in a header the session writes.
struct HeaderArgs<'a> {
    seq: u64,
    utc: UtcTimestamp,
    /// `Some`: a possible duplicate: `43=Y` and this `122`.
    poss_dup_orig: Option<OrigTime<'a>>,
    /// More header fields (routing, copied fields); `(0, _)` entries are skipped.
    extra: &'a [(u32, &'a [u8])],
}

impl<'a> HeaderArgs<'a> {
    fn new(seq: u64, utc: UtcTimestamp) -> Self {
        Self {
            seq,
            utc,
            poss_dup_orig: None,
            extra: &[],
        }
    }
}

/// Write the standard header after `35`, every field in ascending tag order.
fn write_header(
    e: &mut Encoder<'_>,
    cfg: &SessionConfig,
    ts: &mut TimestampFormatter,
    precision: TimePrecision,
    args: HeaderArgs<'_>,
) {
    let mut sending = [0u8; 32];
    let n = ts.format(args.utc, precision, &mut sending);
    let mut orig_buf = [0u8; 32];
    let orig: Option<&[u8]> = match args.poss_dup_orig {
        None => None,
        Some(OrigTime::Raw(v)) => Some(v),
        Some(OrigTime::Utc(t)) => {
            let k = ts.format(t, precision, &mut orig_buf);
            Some(&orig_buf[..k])
        }
    };
    let mut seq_digits = [0u8; 20];
    let seq = u64_text(args.seq, &mut seq_digits);
    // In ascending tag order, as they go on the wire.
    let own: [(u32, Option<&[u8]>); 10] = [
        (tags::MSG_SEQ_NUM, Some(seq)),
        (tags::POSS_DUP_FLAG, orig.map(|_| &b"Y"[..])),
        (tags::SENDER_COMP_ID, Some(cfg.sender_comp_id.as_bytes())),
        (
            tags::SENDER_SUB_ID,
            cfg.sender_sub_id.as_deref().map(str::as_bytes),
        ),
        (tags::SENDING_TIME, Some(&sending[..n])),
        (tags::TARGET_COMP_ID, Some(cfg.target_comp_id.as_bytes())),
        (
            tags::TARGET_SUB_ID,
            cfg.target_sub_id.as_deref().map(str::as_bytes),
        ),
        (tags::ORIG_SENDING_TIME, orig),
        (
            tags::SENDER_LOCATION_ID,
            cfg.sender_location_id.as_deref().map(str::as_bytes),
        ),
        (
            tags::TARGET_LOCATION_ID,
            cfg.target_location_id.as_deref().map(str::as_bytes),
        ),
    ];
    debug_assert!(own.is_sorted_by_key(|f| f.0));
    if args.extra.is_empty() {
        // The common case: nothing to merge, so no sort.
        for (t, v) in own {
            if let Some(v) = v {
                e.field(t, v);
            }
        }
        return;
    }
    // Fixed-size, sorted on the stack: no allocation per message.
    let mut fields: [(u32, &[u8]); MAX_HEADER_FIELDS + 12] = [(0, b""); MAX_HEADER_FIELDS + 12];
    let mut k = 0;
    for (t, v) in own {
        if let Some(v) = v {
            fields[k] = (t, v);
            k += 1;
        }
    }
    for &(t, v) in args.extra {
        if t != 0 && k < fields.len() {
            fields[k] = (t, v);
            k += 1;
        }
    }
    let fields = &mut fields[..k];
    fields.sort_unstable_by_key(|f| f.0);
    for &(t, v) in fields.iter() {
        e.field(t, v);
    }
}

fn u64_text(mut n: u64, out: &mut [u8; 20]) -> &[u8] {
    let mut i = out.len();
    loop {
        i -= 1;
        out[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &out[i..]
}

/// Whether a Logout's `Text <58>` says it was sent for a sequence error: `MsgSeqNum too low`
/// (QuickFIX's and our text; `MsgSeqNum(34) too low` and any case also match).
fn is_sequence_error_text(text: &[u8]) -> bool {
    const SEQ: &[u8] = b"msgseqnum";
    const LOW: &[u8] = b"too low";
    let contains = |needle: &[u8]| {
        text.windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    };
    contains(SEQ) && contains(LOW)
}

/// `MsgSeqNum too low, expecting X but received Y` into `out`; returns the length.
fn too_low_text(out: &mut [u8; 96], expected: u64, received: u64) -> usize {
    let mut w = ByteWriter::new(out);
    w.put(b"MsgSeqNum too low, expecting ");
    w.put_u64(expected);
    w.put(b" but received ");
    w.put_u64(received);
    w.len()
}

/// Appends to a fixed buffer, truncating silently (the texts written are far shorter).
struct ByteWriter<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl<'a> ByteWriter<'a> {
    fn new(out: &'a mut [u8]) -> Self {
        Self { out, len: 0 }
    }
    fn put(&mut self, b: &[u8]) {
        let n = b.len().min(self.out.len() - self.len);
        self.out[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
    }
    fn put_u64(&mut self, v: u64) {
        let mut d = [0u8; 20];
        let t = u64_text(v, &mut d);
        self.put(t);
    }
    fn len(&self) -> usize {
        self.len
    }
}

fn dur_nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_start_of_whole_frames_and_of_anything_else() {
        let frame = b"8=FIX.4.4\x019=5\x0135=0\x0110=123\x01";
        assert_eq!(trailer_start(frame), frame.len() - 7);
        assert_eq!(&frame[trailer_start(frame)..][..3], b"10=");
        // No CheckSum: the whole message is header and body.
        let bare = b"8=FIX.4.4\x019=5\x0135=0\x01";
        assert_eq!(trailer_start(bare), bare.len());
        // A CheckSum that is not the last field is found by the scan.
        let odd = b"8=FIX.4.4\x019=5\x0135=0\x0110=123\x01999=x\x01";
        assert_eq!(trailer_start(odd), 19);
        // A value that only looks like the trailer is not taken for it.
        let fake = b"8=FIX.4.4\x0135=0\x0158=a\x0110=12\x01";
        assert_eq!(trailer_start(fake), fake.len() - 6);
    }

    #[test]
    fn header_parse_finds_fields_and_routing() {
        let m = b"8=FIX.4.2\x019=10\x0135=D\x0134=7\x0149=A\x0156=B\x0152=20200101-00:00:00\x01115=X\x0143=Y\x0110=000\x01";
        let h = parse_header(m).unwrap();
        assert_eq!(h.msg_type, b"D");
        assert_eq!(h.seq, Some(7));
        assert_eq!(h.sender, Some(&b"A"[..]));
        assert_eq!(h.routing[0], Some(&b"X"[..]));
        assert!(h.poss_dup);
        assert!(parse_header(b"8=FIX.4.2\x0135=D\x019=10\x0110=000\x01").is_none());
    }

    /// What the session read before the validator returned the header: `parse_header`, then
    /// (later, but it has no side effects) the validator's verdict.
    fn old_read(s: &Session, frame: &[u8]) -> Option<Hdr<'static>> {
        let frame: &'static [u8] = Vec::leak(frame.to_vec());
        let mut h = parse_header(frame)?;
        if s.cfg.validate_incoming
            && let Some(v) = &s.cfg.validator
        {
            h.dict = v.validate(frame);
        }
        Some(h)
    }

    /// A validator that only has `validate`: the session gets the header by the default method.
    #[derive(Debug)]
    struct NoLimitOrder;
    impl crate::reject::MessageValidator for NoLimitOrder {
        fn validate(&self, msg: &[u8]) -> Result<(), Violation> {
            match MessageRef::new(msg).get(40) {
                Some(b"2") => Err(Violation::tag(RejectReason::ValueIsIncorrect, 40)),
                _ => Ok(()),
            }
        }
    }

    #[test]
    fn read_header_is_parse_header_and_the_validators_verdict() {
        use std::sync::Arc;
        let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/../../spec/FIX42.xml");
        let dict = Arc::new(fix_codec::Dictionary::from_file(std::path::Path::new(spec)).unwrap());
        let dv = fix_codec::Validator::new(dict, None, fix_codec::ValidationOptions::default());
        let cfg = || SessionConfig::new("FIX.4.2", "ISLD", "TW", Role::Acceptor);
        let sessions = [
            Session::new(cfg().with_validator(Arc::new(dv)), SeqState::default()).unwrap(),
            Session::new(
                cfg().with_validator(Arc::new(NoLimitOrder)),
                SeqState::default(),
            )
            .unwrap(),
            Session::new(cfg(), SeqState::default()).unwrap(),
            Session::new(
                SessionConfig {
                    validate_incoming: false,
                    ..cfg().with_validator(Arc::new(NoLimitOrder))
                },
                SeqState::default(),
            )
            .unwrap(),
        ];
        let frame = |body: &str| {
            let body = body.replace('|', "\x01");
            let mut m = format!("8=FIX.4.2\x019={}\x01{body}", body.len()).into_bytes();
            let sum = fix_codec::checksum(&m);
            m.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
            m
        };
        let order = "11=X|21=1|38=100|40=1|54=1|55=M|";
        let bodies = [
            format!("35=D|34=7|49=TW|52=20261123-10:15:30|56=ISLD|{order}"),
            format!(
                "35=D|34=7|49=TW|52=20261123-10:15:30|56=ISLD|115=OB|43=Y|\
                 122=20261123-10:15:29|{order}"
            ),
            format!("35=D|34=7|49=TW|52=20261123-10:15:30|56=ISLD|{order}").replace("40=1", "40=2"),
            format!("35=D|34=x|49=TW|52=20261123-10:15:30|56=ISLD|{order}"),
            format!("34=7|35=D|49=TW|52=20261123-10:15:30|56=ISLD|{order}"),
            "35=0|34=7|49=TW|52=20261123-10:15:30|56=ISLD|999=1|".to_owned(),
            "35=0|34=7|49=TW|56=ISLD|".to_owned(),
            "35=|34=7|49=TW|52=20261123-10:15:30|56=ISLD|".to_owned(),
        ];
        let mut outcomes = std::collections::BTreeSet::new();
        for s in &sessions {
            for b in &bodies {
                let f = frame(b);
                let new = read_header(&s.cfg, &f, &mut FieldIndex::new());
                assert_eq!(new, old_read(s, &f), "{b}");
                outcomes.insert(match new {
                    None => "garbled",
                    Some(h) if h.dict.is_ok() => "valid",
                    Some(_) => "invalid",
                });
            }
        }
        assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    }

    #[test]
    fn too_low_text_is_quickfix_text() {
        let mut b = [0u8; 96];
        let n = too_low_text(&mut b, 5, 2);
        assert_eq!(&b[..n], b"MsgSeqNum too low, expecting 5 but received 2");
    }

    #[test]
    fn sequence_error_texts_are_recognised() {
        let mut b = [0u8; 96];
        let n = too_low_text(&mut b, 5, 2);
        assert!(is_sequence_error_text(&b[..n]));
        assert!(is_sequence_error_text(
            b"MsgSeqNum(34) too low, expecting 7"
        ));
        assert!(is_sequence_error_text(b"msgseqnum TOO LOW"));
        assert!(!is_sequence_error_text(b""));
        assert!(!is_sequence_error_text(b"end of day"));
        assert!(!is_sequence_error_text(b"too low"));
    }

    #[test]
    fn state_values_are_the_vendor_values() {
        for v in 0..=20u8 {
            if let Some(s) = SessionState::from_value(v) {
                assert_eq!(s.value(), v);
            }
        }
        assert_eq!(SessionState::WaitForConnect.value(), 11);
        assert_eq!(SessionState::from_value(9), None);
    }
}

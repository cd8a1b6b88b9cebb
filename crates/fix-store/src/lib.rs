//! Crash-safe session storage for the FIX engine: bytes and `u64` sequence numbers, no FIX.
//!
//! Per session, a [`SessionStore`] keeps the next outgoing and next expected incoming sequence
//! numbers, a journal of outbound messages for resends, and a little metadata (creation time, last
//! reset time, whether the session ended correctly terminated). Two implementations:
//!
//! * [`MmapStore`]: memory-mapped files in a per-session directory; survives process crashes
//!   without any syscall per message, and power cuts according to its [`Durability`].
//! * [`MemoryStore`]: the same contract in memory, for tests and `transient` sessions.
//!
//! # Contract with the engine
//!
//! * Outbound: encode with `next_outgoing()`, then [`SessionStore::append_outbound`] (which also
//!   advances `next_outgoing`) for an application message, or [`SessionStore::set_next_outgoing`]
//!   for one that is not journaled, and only then send. A crash after the store but before the
//!   send makes the peer see a gap, which it resolves with a resend request; a number is never
//!   reused.
//! * Inbound: call [`SessionStore::set_next_incoming`] *after* the message was processed. A crash
//!   in between makes the store's number too low, so the peer is asked to resend: nothing is lost.
//! * Everything is single-owner (`&mut self`): the I/O thread owns the store. The only thing that
//!   crosses threads is the [`FlushHandle`], for `interval` durability and segment pre-allocation.
//!
//! # Durability
//!
//! See [`Durability`] and `docs/STORAGE.md` for what each setting survives.

mod error;
mod fsutil;
mod hash;
mod identity;
mod journal;
mod memory;
mod mmap;
mod state;

pub use error::StoreError;
pub use identity::{decode_identity, encode_identity};
pub use journal::{INITIAL_SEGMENT_SIZE, MAX_SEGMENT_SIZE, MIN_SEGMENT_SIZE};
pub use memory::MemoryStore;
pub use mmap::{FlushHandle, MmapStore, Recovery, StoreOptions};

use std::time::Duration;

/// Largest sequence number a store holds (2^40 - 1): a sequence-number update is one 8-byte store
/// that also carries a write counter and a check, which leaves 40 bits for the number.
pub const MAX_SEQ_NUM: u64 = (1 << 40) - 1;

/// When written data reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// The OS writes dirty pages back in its own time. Survives a crash of the process (the data
    /// is in the page cache the moment it is stored), not a kernel crash or a power cut. No
    /// syscall per message.
    #[default]
    None,
    /// Like `None` on the hot path; in addition the engine calls [`FlushHandle::flush`] every
    /// `interval` from a background worker (never the I/O thread), bounding what a power cut can
    /// lose to about one interval.
    Interval(Duration),
    /// `msync` the record and the sequence numbers before each mutating call returns, so before
    /// the message is sent. Survives a power cut with nothing acknowledged lost, at the cost of
    /// one or two synchronous disk writes per message.
    EveryMessage,
}

/// Session metadata kept next to the sequence numbers. Times are Unix nanoseconds, as passed in
/// by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionMetadata {
    /// When the store was first created.
    pub creation_time: u64,
    /// When the sequence numbers were last reset (the creation time if never).
    pub last_reset_time: u64,
    /// Whether the last connection ended with a completed Logout exchange (and the numbers are
    /// therefore not to be continued, unless `IntradayLogoutTolerance` says otherwise).
    pub correctly_terminated: bool,
    /// How many times the store was reset, plus one: identifies the journal generation.
    pub generation: u64,
}

/// Storage for one FIX session. Object safe, so the engine can hold `Box<dyn SessionStore>`.
///
/// No method allocates per message. [`MmapStore`] makes no syscall in `append_outbound` /
/// `set_next_*` under [`Durability::None`] and [`Durability::Interval`] except when a journal
/// segment fills up or the index doubles.
pub trait SessionStore: Send {
    /// Whether the store already existed when it was opened (false on the first start: this is
    /// what `ForceSeqNumReset=1` "first logon" looks at).
    fn existed_before(&self) -> bool;

    /// The sequence number the next outgoing message gets.
    fn next_outgoing(&self) -> u64;

    /// The sequence number expected on the next incoming message.
    fn next_incoming(&self) -> u64;

    /// Records that the next outgoing message gets `seq` (for messages that are not journaled).
    /// `seq` must be in `1..=MAX_SEQ_NUM` and above the last journaled number.
    fn set_next_outgoing(&mut self, seq: u64) -> Result<(), StoreError>;

    /// Commits the next expected incoming number; call after the message was processed.
    fn set_next_incoming(&mut self, seq: u64) -> Result<(), StoreError>;

    /// Journals an outgoing message (the complete encoded bytes) under `seq`, which must be above
    /// the last journaled number, and raises `next_outgoing` to `seq + 1` if it is lower.
    fn append_outbound(&mut self, seq: u64, message: &[u8]) -> Result<(), StoreError>;

    /// The highest journaled sequence number, if any.
    fn last_outbound_seq(&self) -> Option<u64>;

    /// Calls `f(seq, bytes)` for every journaled message with `from <= seq <= to`, in ascending
    /// order, borrowing the stored bytes (no copy, no allocation). Numbers that were never
    /// journaled (admin messages) or dropped (a bounded [`MemoryStore`]) are skipped: the caller
    /// gap-fills them. Returns how many messages were passed to `f`. `to = u64::MAX` means "to the
    /// end".
    fn read_outbound(
        &self,
        from: u64,
        to: u64,
        f: &mut dyn FnMut(u64, &[u8]),
    ) -> Result<u64, StoreError>;

    /// Creation time, last reset time, correctly-terminated flag.
    fn metadata(&self) -> SessionMetadata;

    /// Records how the session ended (or clears it at a new start).
    fn set_correctly_terminated(&mut self, yes: bool) -> Result<(), StoreError>;

    /// Starts a new sequence stream: both numbers to 1, the outbound journal emptied (its files
    /// deleted or archived), the last reset time set to `now_nanos`.
    fn reset(&mut self, now_nanos: u64) -> Result<(), StoreError>;

    /// Writes everything back to disk now (for instance at logout), whatever the durability.
    fn sync(&mut self) -> Result<(), StoreError>;

    /// The durability setting.
    fn durability(&self) -> Durability;

    /// A handle another thread can use to flush and to pre-allocate; `None` when there is nothing
    /// to flush (in-memory stores).
    fn flush_handle(&self) -> Option<FlushHandle>;

    /// Whether the store would like [`FlushHandle::prepare_next_segment`] called now (its active
    /// journal segment just passed half full). True at most once per segment; the caller hands
    /// the work to another thread so the segment roll finds its file ready.
    fn take_segment_request(&mut self) -> bool {
        false
    }
}

#[inline]
pub(crate) fn check_seq(seq: u64) -> Result<(), StoreError> {
    if seq == 0 || seq > MAX_SEQ_NUM {
        return Err(StoreError::SeqNumOutOfRange(seq));
    }
    Ok(())
}

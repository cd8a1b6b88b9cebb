//! [`MemoryStore`]: the same contract as the file store, in memory.

use std::collections::VecDeque;

use crate::{
    Durability, FlushHandle, MAX_SEQ_NUM, SessionMetadata, SessionStore, StoreError, check_seq,
};

/// An in-memory [`SessionStore`] for tests and `transient` sessions. Nothing survives the process.
///
/// The journal is bounded: when it exceeds `max_bytes`, the oldest messages are dropped (a resend
/// of them becomes a gap fill). Appends copy into one growing buffer, so allocation happens only
/// when it grows or is compacted, not per message once it has reached its working size.
#[derive(Debug)]
pub struct MemoryStore {
    next_out: u64,
    next_in: u64,
    data: Vec<u8>,
    /// `(seq, start, len)` in ascending `seq`; `start` indexes `data`.
    records: VecDeque<(u64, usize, usize)>,
    /// Bytes at the front of `data` that belong to dropped records.
    dead: usize,
    max_bytes: usize,
    last_seq: u64,
    meta: SessionMetadata,
}

impl MemoryStore {
    /// Default journal bound: 64 MiB.
    pub const DEFAULT_MAX_BYTES: usize = 64 << 20;

    /// A fresh store created at `now_nanos`, with the default journal bound.
    pub fn new(now_nanos: u64) -> Self {
        Self::with_max_bytes(now_nanos, Self::DEFAULT_MAX_BYTES)
    }

    /// A fresh store whose journal keeps at most `max_bytes` of message bytes.
    pub fn with_max_bytes(now_nanos: u64, max_bytes: usize) -> Self {
        MemoryStore {
            next_out: 1,
            next_in: 1,
            data: Vec::new(),
            records: VecDeque::new(),
            dead: 0,
            max_bytes: max_bytes.max(1),
            last_seq: 0,
            meta: SessionMetadata {
                creation_time: now_nanos,
                last_reset_time: now_nanos,
                correctly_terminated: false,
                generation: 1,
            },
        }
    }

    fn live_bytes(&self) -> usize {
        self.data.len() - self.dead
    }

    fn compact(&mut self) {
        let dead = self.dead;
        self.data.drain(..dead);
        for r in &mut self.records {
            r.1 -= dead;
        }
        self.dead = 0;
    }
}

impl SessionStore for MemoryStore {
    fn existed_before(&self) -> bool {
        false
    }

    fn next_outgoing(&self) -> u64 {
        self.next_out
    }

    fn next_incoming(&self) -> u64 {
        self.next_in
    }

    fn set_next_outgoing(&mut self, seq: u64) -> Result<(), StoreError> {
        check_seq(seq)?;
        if seq <= self.last_seq {
            return Err(StoreError::SeqNumNotIncreasing {
                seq,
                last: self.last_seq,
            });
        }
        self.next_out = seq;
        Ok(())
    }

    fn set_next_incoming(&mut self, seq: u64) -> Result<(), StoreError> {
        check_seq(seq)?;
        self.next_in = seq;
        Ok(())
    }

    fn append_outbound(&mut self, seq: u64, message: &[u8]) -> Result<(), StoreError> {
        if message.is_empty() || message.len() > self.max_bytes {
            return Err(StoreError::MessageSize {
                len: message.len(),
                max: self.max_bytes,
            });
        }
        check_seq(seq)?;
        if seq <= self.last_seq {
            return Err(StoreError::SeqNumNotIncreasing {
                seq,
                last: self.last_seq,
            });
        }
        while self.live_bytes() + message.len() > self.max_bytes {
            let Some((_, start, len)) = self.records.pop_front() else {
                break;
            };
            self.dead = start + len;
        }
        if self.records.is_empty() {
            self.data.clear();
            self.dead = 0;
        } else if self.dead > self.data.len() / 2 {
            self.compact();
        }
        let start = self.data.len();
        self.data.extend_from_slice(message);
        let spare = self.data.spare_capacity_mut();
        crate::fsutil::prefetch_for_write(
            spare.as_ptr().cast(),
            spare.len().min(crate::fsutil::NEXT_RECORD_BYTES),
        );
        self.records.push_back((seq, start, message.len()));
        self.last_seq = seq;
        if seq < MAX_SEQ_NUM && seq + 1 > self.next_out {
            self.next_out = seq + 1;
        }
        Ok(())
    }

    fn last_outbound_seq(&self) -> Option<u64> {
        (self.last_seq != 0).then_some(self.last_seq)
    }

    fn read_outbound(
        &self,
        from: u64,
        to: u64,
        f: &mut dyn FnMut(u64, &[u8]),
    ) -> Result<u64, StoreError> {
        let first = self.records.partition_point(|r| r.0 < from);
        let mut n = 0;
        for &(seq, start, len) in self.records.range(first..) {
            if seq > to {
                break;
            }
            f(seq, &self.data[start..start + len]);
            n += 1;
        }
        Ok(n)
    }

    fn metadata(&self) -> SessionMetadata {
        self.meta
    }

    fn set_correctly_terminated(&mut self, yes: bool) -> Result<(), StoreError> {
        self.meta.correctly_terminated = yes;
        Ok(())
    }

    fn reset(&mut self, now_nanos: u64) -> Result<(), StoreError> {
        self.records.clear();
        self.data.clear();
        self.dead = 0;
        self.last_seq = 0;
        self.next_out = 1;
        self.next_in = 1;
        self.meta.last_reset_time = now_nanos;
        self.meta.generation += 1;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    fn durability(&self) -> Durability {
        Durability::None
    }

    fn flush_handle(&self) -> Option<FlushHandle> {
        None
    }
}

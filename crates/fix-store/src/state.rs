//! The state file: both sequence numbers and the session metadata, in one mapped page.
//!
//! Each sequence number lives in two 8-byte slots written alternately. A slot is self-validating:
//! `seq` (40 bits) | write counter (8 bits) | check (16 bits), so an update is one aligned 8-byte
//! store, which no crash can tear. On open the slot with the newer counter wins; if it fails its
//! check, the other slot is used and the fallback is reported. The metadata record (rarely written)
//! has the same A/B scheme with a full 64-bit checksum. Layout: `docs/STORAGE.md`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::MmapRaw;

use crate::fsutil::{self, load, store};
use crate::hash::{hash64, mix};
use crate::{MAX_SEQ_NUM, StoreError};

pub(crate) const STATE_FILE: &str = "state";
pub(crate) const STATE_LEN: usize = 4096;
pub(crate) const STATE_MAGIC: u64 = u64::from_le_bytes(*b"FIXSSTAT");
pub(crate) const FORMAT_VERSION: u32 = 1;

const HDR_VERSION: usize = 8;
const HDR_SEGMENT_SIZE: usize = 16;
const HDR_CHECK: usize = 56;
pub(crate) const OUT_SLOTS: usize = 64;
pub(crate) const IN_SLOTS: usize = 80;
pub(crate) const META_SLOTS: usize = 128;
const META_LEN: usize = 64;
const SEQ_BITS: u32 = 40;

/// Metadata flag: the session ended with a completed Logout exchange.
pub(crate) const FLAG_CORRECTLY_TERMINATED: u64 = 1;

#[inline(always)]
fn seq_check(payload: u64, slot_id: u64) -> u64 {
    mix(payload, 0x5EC0_0000 + slot_id) >> 48
}

#[inline(always)]
pub(crate) fn encode_seq(seq: u64, ctr: u8, slot_id: u64) -> u64 {
    let payload = seq | (u64::from(ctr) << SEQ_BITS);
    payload | (seq_check(payload, slot_id) << 48)
}

/// `(seq, ctr)` if the word is a valid slot content.
#[inline]
pub(crate) fn decode_seq(word: u64, slot_id: u64) -> Option<(u64, u8)> {
    let payload = word & ((1 << 48) - 1);
    let seq = payload & MAX_SEQ_NUM;
    if seq == 0 || word >> 48 != seq_check(payload, slot_id) {
        return None;
    }
    Some((seq, (payload >> SEQ_BITS) as u8))
}

/// Which value to take when both slots are valid but not one write apart (never produced by this
/// code; only by corruption that happens to pass both checks).
#[derive(Clone, Copy)]
pub(crate) enum Prefer {
    /// Outgoing: a number must never go backwards.
    Higher,
    /// Incoming: a number must never skip a message; too low only causes a resend.
    Lower,
}

/// One sequence number: its two slots and the in-memory copy.
#[derive(Debug)]
pub(crate) struct SeqCell {
    off: usize,
    slot_base: u64,
    ctr: u8,
    value: u64,
}

impl SeqCell {
    /// Recovers the number from its slots; `fallback` is true when the newer slot was invalid.
    fn recover(map: &MmapRaw, off: usize, slot_base: u64, prefer: Prefer) -> Option<(Self, bool)> {
        let a = decode_seq(load(map, off), slot_base);
        let b = decode_seq(load(map, off + 8), slot_base + 1);
        let (value, ctr, fallback) = match (a, b) {
            (Some((sa, ca)), Some((sb, cb))) => {
                if cb == ca.wrapping_add(1) {
                    (sb, cb, false)
                } else if ca == cb.wrapping_add(1) {
                    (sa, ca, false)
                } else {
                    let pick_a = match prefer {
                        Prefer::Higher => sa >= sb,
                        Prefer::Lower => sa <= sb,
                    };
                    if pick_a {
                        (sa, ca, true)
                    } else {
                        (sb, cb, true)
                    }
                }
            }
            // Slot choice is `ctr & 1`, so a lone valid slot whose successor is the invalid one
            // is the normal "newest write torn" case; either way the survivor is all we have.
            // A fresh file has one written slot (counter 0) and one zero slot: not a fallback.
            (Some((s, c)), None) => (s, c, c != 0 || load(map, off + 8) != 0),
            (None, Some((s, c))) => (s, c, true),
            (None, None) => return None,
        };
        Some((
            SeqCell {
                off,
                slot_base,
                ctr,
                value,
            },
            fallback,
        ))
    }

    #[inline(always)]
    pub(crate) fn get(&self) -> u64 {
        self.value
    }

    #[inline(always)]
    pub(crate) fn set(&mut self, map: &MmapRaw, seq: u64) {
        debug_assert!((1..=MAX_SEQ_NUM).contains(&seq));
        let ctr = self.ctr.wrapping_add(1);
        let slot = u64::from(ctr & 1);
        store(
            map,
            self.off + 8 * slot as usize,
            encode_seq(seq, ctr, self.slot_base + slot),
        );
        self.ctr = ctr;
        self.value = seq;
    }
}

/// The session metadata record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MetaRecord {
    pub(crate) generation: u64,
    pub(crate) creation_time: u64,
    pub(crate) last_reset_time: u64,
    pub(crate) flags: u64,
}

fn meta_check(words: &[u64; 7], slot: usize) -> u64 {
    let mut bytes = [0u8; 56];
    for (i, w) in words.iter().enumerate() {
        bytes[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    hash64(0x4D45_5441 + slot as u64, &bytes)
}

fn header_check(bytes: &[u8]) -> u64 {
    hash64(STATE_MAGIC, &bytes[..HDR_CHECK])
}

/// What opening the state file had to repair.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct StateRecovery {
    pub(crate) seq_fallbacks: u32,
    pub(crate) meta_fallback: bool,
}

#[derive(Debug)]
pub(crate) struct StateFile {
    pub(crate) path: PathBuf,
    pub(crate) map: Arc<MmapRaw>,
    pub(crate) out: SeqCell,
    pub(crate) inc: SeqCell,
    meta: MetaRecord,
    meta_ctr: u64,
    pub(crate) segment_size: u64,
}

impl StateFile {
    /// Writes a fresh state file atomically (temp file, fsync, rename, fsync directory; the
    /// fsyncs only when `durable`: without them a power cut may lose the file, never a process
    /// crash) and opens it (through the descriptor it wrote with: no second lookup).
    pub(crate) fn create(
        dir: &Path,
        segment_size: u64,
        now: u64,
        durable: bool,
    ) -> Result<(Self, StateRecovery), StoreError> {
        let mut page = vec![0u8; STATE_LEN];
        page[0..8].copy_from_slice(&STATE_MAGIC.to_le_bytes());
        let ver = u64::from(FORMAT_VERSION) | ((STATE_LEN as u64) << 32);
        page[HDR_VERSION..HDR_VERSION + 8].copy_from_slice(&ver.to_le_bytes());
        page[HDR_SEGMENT_SIZE..HDR_SEGMENT_SIZE + 8].copy_from_slice(&segment_size.to_le_bytes());
        let hc = header_check(&page);
        page[HDR_CHECK..HDR_CHECK + 8].copy_from_slice(&hc.to_le_bytes());
        for (off, base) in [(OUT_SLOTS, 0u64), (IN_SLOTS, 2u64)] {
            page[off..off + 8].copy_from_slice(&encode_seq(1, 0, base).to_le_bytes());
        }
        let words = [1, 1, now, now, 0, 0, 0];
        let base = META_SLOTS + slot_of(1) * META_LEN;
        for (i, w) in words.iter().enumerate() {
            let o = base + i * 8;
            page[o..o + 8].copy_from_slice(&w.to_le_bytes());
        }
        let c = meta_check(&words, slot_of(1));
        page[base + 56..base + 64].copy_from_slice(&c.to_le_bytes());

        let tmp = dir.join("state.tmp");
        // A leftover of a creation that crashed before its rename is truncated. No
        // `posix_fallocate`: the write below allocates the page (or fails with ENOSPC).
        let mut f = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| StoreError::io("create", &tmp, e))?;
        f.write_all(&page)
            .map_err(|e| StoreError::io("write", &tmp, e))?;
        if durable {
            f.sync_all().map_err(|e| StoreError::io("fsync", &tmp, e))?;
        }
        let path = dir.join(STATE_FILE);
        fs::rename(&tmp, &path).map_err(|e| StoreError::io("rename", &path, e))?;
        if durable {
            fsutil::sync_dir(dir)?;
        }
        Self::from_file(&f, path)
    }

    pub(crate) fn open(dir: &Path) -> Result<(Self, StateRecovery), StoreError> {
        let path = dir.join(STATE_FILE);
        let file = fsutil::open_rw(&path)?;
        Self::from_file(&file, path)
    }

    fn from_file(file: &fs::File, path: PathBuf) -> Result<(Self, StateRecovery), StoreError> {
        if fsutil::file_len(file, &path)? != STATE_LEN as u64 {
            return Err(StoreError::corrupt(
                &path,
                "state file has the wrong length",
            ));
        }
        let map = fsutil::map(file, &path, STATE_LEN as u64, false)?;
        if load(&map, 0) != STATE_MAGIC {
            return Err(StoreError::corrupt(&path, "bad magic"));
        }
        let header = fsutil::bytes(&map, 0, 64);
        if load(&map, HDR_CHECK) != header_check(header) {
            return Err(StoreError::corrupt(&path, "header checksum mismatch"));
        }
        let ver = load(&map, HDR_VERSION);
        if ver as u32 != FORMAT_VERSION || (ver >> 32) as usize != STATE_LEN {
            return Err(StoreError::Version {
                path,
                found: ver as u32,
                expected: FORMAT_VERSION,
            });
        }
        let segment_size = load(&map, HDR_SEGMENT_SIZE);
        let mut rec = StateRecovery::default();
        let (out, fb) = SeqCell::recover(&map, OUT_SLOTS, 0, Prefer::Higher)
            .ok_or_else(|| StoreError::corrupt(&path, "no valid outgoing sequence number slot"))?;
        rec.seq_fallbacks += u32::from(fb);
        let (inc, fb) = SeqCell::recover(&map, IN_SLOTS, 2, Prefer::Lower)
            .ok_or_else(|| StoreError::corrupt(&path, "no valid incoming sequence number slot"))?;
        rec.seq_fallbacks += u32::from(fb);

        let mut best: Option<(u64, MetaRecord)> = None;
        let mut valid = 0;
        for slot in 0..2 {
            let base = META_SLOTS + slot * META_LEN;
            let mut w = [0u64; 7];
            for (i, x) in w.iter_mut().enumerate() {
                *x = load(&map, base + i * 8);
            }
            if w[0] == 0 || load(&map, base + 56) != meta_check(&w, slot) {
                continue;
            }
            valid += 1;
            let m = MetaRecord {
                generation: w[1],
                creation_time: w[2],
                last_reset_time: w[3],
                flags: w[4],
            };
            if best.is_none_or(|(c, _)| w[0] > c) {
                best = Some((w[0], m));
            }
        }
        let (meta_ctr, meta) =
            best.ok_or_else(|| StoreError::corrupt(&path, "no valid metadata record"))?;
        // A single valid slot is normal until the second write; it is a fallback only if the
        // invalid slot is the one the newest write would have gone to.
        rec.meta_fallback = valid == 1 && meta_ctr >= 2;
        Ok((
            StateFile {
                path,
                map: Arc::new(map),
                out,
                inc,
                meta,
                meta_ctr,
                segment_size,
            },
            rec,
        ))
    }

    pub(crate) fn meta(&self) -> MetaRecord {
        self.meta
    }

    /// Writes a new metadata record into the older slot, checksum last.
    pub(crate) fn set_meta(&mut self, meta: MetaRecord) {
        let ctr = self.meta_ctr + 1;
        let slot = slot_of(ctr);
        let base = META_SLOTS + slot * META_LEN;
        let words = [
            ctr,
            meta.generation,
            meta.creation_time,
            meta.last_reset_time,
            meta.flags,
            0,
            0,
        ];
        // Invalidate first so a crash mid-write cannot leave a record whose old checksum matches.
        store(&self.map, base + 56, 0);
        for (i, w) in words.iter().enumerate() {
            store(&self.map, base + i * 8, *w);
        }
        store(&self.map, base + 56, meta_check(&words, slot));
        self.meta = meta;
        self.meta_ctr = ctr;
    }

    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        self.map
            .flush()
            .map_err(|e| StoreError::io("msync", &self.path, e))
    }
}

fn slot_of(ctr: u64) -> usize {
    (ctr % 2) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_words_validate() {
        for slot in 0..4 {
            assert_eq!(decode_seq(0, slot), None);
            let w = encode_seq(12345, 7, slot);
            assert_eq!(decode_seq(w, slot), Some((12345, 7)));
            assert_eq!(decode_seq(w, slot ^ 1), None, "a word is bound to its slot");
            for bit in 0..64 {
                assert_eq!(decode_seq(w ^ (1 << bit), slot), None, "bit {bit}");
            }
        }
        assert_eq!(
            decode_seq(encode_seq(MAX_SEQ_NUM, 255, 0), 0),
            Some((MAX_SEQ_NUM, 255))
        );
    }
}

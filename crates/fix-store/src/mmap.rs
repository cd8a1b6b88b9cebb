//! [`MmapStore`]: the file-backed store.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use memmap2::MmapRaw;

use crate::fsutil::LockFile;
use crate::journal::{self, Journal, lock};
use crate::state::{FLAG_CORRECTLY_TERMINATED, STATE_FILE, StateFile};
use crate::{
    Durability, MAX_SEGMENT_SIZE, MIN_SEGMENT_SIZE, SessionMetadata, SessionStore, StoreError,
    check_seq, encode_identity,
};

const ARCHIVE_DIR: &str = "archive";

/// How to open a [`MmapStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// When data reaches the disk.
    pub durability: Durability,
    /// Size of each journal segment file in bytes: a multiple of 4096 within
    /// [`MIN_SEGMENT_SIZE`]..=[`MAX_SEGMENT_SIZE`]. Fixed when the store is created; an existing
    /// store keeps its own. The largest message is this minus 80 bytes. A generation starts with
    /// a segment of [`crate::INITIAL_SEGMENT_SIZE`] (or this, if smaller) and each next
    /// one doubles up to this size.
    pub segment_size: u64,
    /// Initial capacity of the index in sequence numbers (it doubles when needed). The default,
    /// 1,024 (8 KiB), keeps an idle store small.
    pub index_entries: u64,
    /// At a reset, move the old journal to `archive/` instead of deleting it.
    pub archive_on_reset: bool,
    /// Pre-fault segment mappings (`MAP_POPULATE`) so the first write to each page does not take
    /// a page fault on the I/O thread. Best combined with [`FlushHandle::prepare_next_segment`].
    pub populate: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            durability: Durability::None,
            segment_size: 16 << 20,
            index_entries: 1 << 10,
            archive_on_reset: false,
            populate: false,
        }
    }
}

impl StoreOptions {
    /// Options with the given durability and defaults otherwise.
    pub fn with_durability(durability: Durability) -> Self {
        StoreOptions {
            durability,
            ..Self::default()
        }
    }

    fn validate(&self) -> Result<(), StoreError> {
        if !(MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&self.segment_size)
            || !self.segment_size.is_multiple_of(4096)
        {
            return Err(StoreError::InvalidOptions("segment_size"));
        }
        if self.index_entries == 0 || self.index_entries > 1 << 32 {
            return Err(StoreError::InvalidOptions("index_entries"));
        }
        if matches!(self.durability, Durability::Interval(d) if d.is_zero()) {
            return Err(StoreError::InvalidOptions("durability interval is zero"));
        }
        Ok(())
    }
}

/// What opening a store found and repaired. Anything repaired is reported here, never silently
/// accepted; an unrecoverable file is an error instead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovery {
    /// The store existed before this open.
    pub existed: bool,
    /// Valid records found in the outbound journal.
    pub journal_records: u64,
    /// Bytes of a partially written record (or other garbage) cleared after the journal's end.
    pub tail_bytes_zeroed: u64,
    /// Segment files removed because they were invalid or came after the journal's end.
    pub segments_discarded: u32,
    /// The index was missing or did not match and was rebuilt from the segments.
    pub index_rebuilt: bool,
    /// Index entries corrected to match the segments.
    pub index_entries_repaired: u64,
    /// Sequence numbers read from their older slot because the newer one was invalid.
    pub seq_slot_fallbacks: u32,
    /// The metadata record was read from its older slot.
    pub meta_slot_fallback: bool,
    /// `next_outgoing` was behind the journal and was raised past its last record.
    pub outgoing_raised_from_journal: bool,
    /// Journal generations left by an interrupted reset, removed (or archived).
    pub stale_generations_removed: u32,
}

impl Recovery {
    /// True when nothing had to be repaired, not even a torn tail.
    pub fn is_clean(&self) -> bool {
        self.tail_bytes_zeroed == 0
            && self.segments_discarded == 0
            && !self.index_rebuilt
            && self.index_entries_repaired == 0
            && self.seq_slot_fallbacks == 0
            && !self.meta_slot_fallback
            && !self.outgoing_raised_from_journal
            && self.stale_generations_removed == 0
    }
}

/// What the flush handle shares with the store.
#[derive(Debug)]
struct FlushShared {
    state: Arc<MmapRaw>,
    state_path: PathBuf,
    journal: Arc<journal::Shared>,
    /// `(generation, position)` flushed so far; its lock also serialises concurrent flushes.
    flushed: Mutex<(u64, u64)>,
    interval: Option<Duration>,
}

/// A `Send + Sync + Clone` handle through which a background worker makes the store durable
/// (`msync` of what was written since the last call) and creates journal segments ahead of need.
///
/// With [`Durability::Interval`] the engine calls [`FlushHandle::flush`] every
/// [`FlushHandle::interval`]; the store spawns no thread of its own. The handle stays valid after
/// the store is dropped (it keeps the mappings alive) and across resets.
#[derive(Debug, Clone)]
pub struct FlushHandle {
    inner: Arc<FlushShared>,
}

impl FlushHandle {
    /// The period the store was configured with (`Some` only for [`Durability::Interval`]).
    pub fn interval(&self) -> Option<Duration> {
        self.inner.interval
    }

    /// Synchronously writes back the sequence numbers, metadata and every journal byte appended
    /// since the previous call. Never blocks the store's owner beyond a few instructions: the
    /// `msync` calls run outside any lock the owner takes.
    pub fn flush(&self) -> Result<(), StoreError> {
        let mut flushed = lock(&self.inner.flushed);
        let (generation, dir, size, segments, to) = {
            let v = lock(&self.inner.journal.view);
            let to = self
                .inner
                .journal
                .write_pos
                .load(std::sync::atomic::Ordering::Acquire);
            let (from_no, _) = journal::pos_parts(if flushed.0 == v.generation {
                flushed.1
            } else {
                0
            });
            let segs: Vec<_> = v
                .segments
                .iter()
                .filter(|s| s.no >= from_no)
                .cloned()
                .collect();
            (v.generation, v.dir.clone(), v.segment_size, segs, to)
        };
        let from = if flushed.0 == generation {
            flushed.1
        } else {
            0
        };
        let view = journal::View {
            generation,
            dir,
            segment_size: size,
            index_entries: 0,
            segments,
        };
        journal::flush_range(&view, from, to)?;
        self.inner
            .state
            .flush()
            .map_err(|e| StoreError::io("msync", &self.inner.state_path, e))?;
        *flushed = (generation, to);
        Ok(())
    }

    /// Creates the next journal segment if the current one is at least half full, so the writer
    /// switches to it without creating a file on its own thread. Also does what
    /// [`FlushHandle::prepare_journal`] does, so one maintenance call serves both. Returns
    /// whether it created anything.
    pub fn prepare_next_segment(&self) -> Result<bool, StoreError> {
        if self.inner.journal.prepare_generation()? {
            return Ok(true);
        }
        self.inner.journal.prepare_next()
    }

    /// Creates the current journal generation's files (directory, first segment, index) if they
    /// do not exist yet: a new store, and a store after a reset, create them only when first
    /// needed, so that opening a store (a new session's Logon) does not wait for them. Called
    /// from a maintenance thread right after the store is opened, the writer's first
    /// [`SessionStore::append_outbound`] finds them ready; if nobody calls it, that append
    /// creates them itself. Returns whether it created them.
    pub fn prepare_journal(&self) -> Result<bool, StoreError> {
        self.inner.journal.prepare_generation()
    }
}

/// A session store in memory-mapped files under `<root>/<encoded identity>/`.
///
/// Dropping it (releasing the session) closes the files and releases the lock; they stay on disk
/// and the next [`MmapStore::open`] continues the numbers. [`MmapStore::destroy`] deletes them.
#[derive(Debug)]
pub struct MmapStore {
    dir: PathBuf,
    options: StoreOptions,
    state: StateFile,
    journal: Journal,
    flush: Arc<FlushShared>,
    existed: bool,
    recovery: Recovery,
    sync_each: bool,
    // Dropped last: the lock outlives every mapping. `None` only inside `destroy`.
    lock: Option<LockFile>,
}

impl Drop for MmapStore {
    fn drop(&mut self) {
        // Before the lock goes: a flush handle may outlive the store, and once another process
        // can own the directory, it must not create files there.
        self.journal.close();
    }
}

impl MmapStore {
    /// The directory a store for `identity` uses under `root`.
    pub fn dir_for(root: &Path, identity: &str) -> Result<PathBuf, StoreError> {
        Ok(root.join(encode_identity(identity)?))
    }

    /// Opens the store for `identity` under `root`, creating it (with creation time `now_nanos`)
    /// if it does not exist, and recovering it if it does. Refused with [`StoreError::Locked`]
    /// while another process or handle has it open. Heavy (files, scans): call it from a worker.
    pub fn open(
        root: &Path,
        identity: &str,
        options: StoreOptions,
        now_nanos: u64,
    ) -> Result<Self, StoreError> {
        options.validate()?;
        let dir = Self::dir_for(root, identity)?;
        // Each metadata operation costs ~0.4 ms on some file systems (ext4 on a VM), and a logon
        // storm of new sessions pays them per session: a new store makes only the ones it needs.
        let made_dir = match fs::create_dir(&dir) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir_all(&dir).map_err(|e| StoreError::io("create_dir", &dir, e))?;
                true
            }
            Err(e) => return Err(StoreError::io("create_dir", &dir, e)),
        };
        let lock_file = LockFile::acquire(&dir)?;

        // Checked under the lock even when the directory was just made: another process may
        // have created, used and released the store between the mkdir and the lock.
        let existed = dir.join(STATE_FILE).exists();
        let (mut state, srec) = if existed {
            StateFile::open(&dir)?
        } else {
            // A `state.tmp` left by a creation that crashed before its rename is truncated by
            // the creation. fsyncs only protect the creation against a power cut, which
            // `Durability::None` does not promise to survive.
            let durable = options.durability != Durability::None;
            StateFile::create(&dir, options.segment_size, now_nanos, durable)?
        };
        if !(MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&state.segment_size)
            || !state.segment_size.is_multiple_of(4096)
        {
            return Err(StoreError::corrupt(
                &state.path,
                "segment size out of range",
            ));
        }
        let meta = state.meta();
        let sync_each = options.durability == Durability::EveryMessage;
        let shared = Arc::new(journal::Shared::new(options.populate));
        // A directory this call made holds nothing but what it just wrote, unless another
        // process got in between (then the state existed); no scan can find anything there.
        let (stale, journal, jrec) = if made_dir && !existed {
            let j = Journal::empty(
                &dir,
                meta.generation,
                state.segment_size,
                options.index_entries,
                sync_each,
                Arc::clone(&shared),
            );
            (0, j, Default::default())
        } else {
            let stale =
                Self::remove_stale_generations(&dir, meta.generation, options.archive_on_reset)?;
            let (j, jrec) = Journal::open(
                &dir,
                meta.generation,
                state.segment_size,
                options.index_entries,
                sync_each,
                Arc::clone(&shared),
            )?;
            (stale, j, jrec)
        };

        let mut raised = false;
        if journal.last_seq() >= state.out.get() {
            // The record was stored but the process died before the number was: never reuse it.
            state.out.set(&state.map, journal.last_seq() + 1);
            raised = true;
        }
        let recovery = Recovery {
            existed,
            journal_records: jrec.records,
            tail_bytes_zeroed: jrec.tail_bytes_zeroed,
            segments_discarded: jrec.segments_discarded,
            index_rebuilt: jrec.index_rebuilt && existed,
            index_entries_repaired: jrec.index_entries_repaired,
            seq_slot_fallbacks: srec.seq_fallbacks,
            meta_slot_fallback: srec.meta_fallback,
            outgoing_raised_from_journal: raised,
            stale_generations_removed: stale,
        };
        let interval = match options.durability {
            Durability::Interval(d) => Some(d),
            _ => None,
        };
        let flush = Arc::new(FlushShared {
            state: Arc::clone(&state.map),
            state_path: state.path.clone(),
            journal: shared,
            flushed: Mutex::new((0, 0)),
            interval,
        });
        let store = MmapStore {
            dir,
            options,
            state,
            journal,
            flush,
            existed,
            recovery,
            sync_each,
            lock: Some(lock_file),
        };
        if sync_each && (raised || !existed) {
            store.state.sync()?;
        }
        Ok(store)
    }

    fn remove_stale_generations(
        dir: &Path,
        current: u64,
        archive: bool,
    ) -> Result<u32, StoreError> {
        let keep = journal::generation_dir(dir, current);
        let mut removed = 0;
        let rd = fs::read_dir(dir).map_err(|e| StoreError::io("read_dir", dir, e))?;
        for entry in rd {
            let entry = entry.map_err(|e| StoreError::io("read_dir", dir, e))?;
            let path = entry.path();
            let is_journal = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with("journal."));
            if is_journal && path != keep {
                Self::retire(dir, &path, archive, 0)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Deletes a journal generation directory, or moves it to `archive/` with a timestamp suffix.
    fn retire(dir: &Path, gen_dir: &Path, archive: bool, now: u64) -> Result<(), StoreError> {
        if archive {
            let adir = dir.join(ARCHIVE_DIR);
            fs::create_dir_all(&adir).map_err(|e| StoreError::io("create_dir", &adir, e))?;
            let name = gen_dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("journal");
            let target = adir.join(format!("{name}.{now}"));
            fs::rename(gen_dir, &target).map_err(|e| StoreError::io("rename", gen_dir, e))
        } else {
            fs::remove_dir_all(gen_dir).map_err(|e| StoreError::io("remove", gen_dir, e))
        }
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What the open found and repaired.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    /// A handle for flushing and segment pre-allocation from another thread.
    pub fn handle(&self) -> FlushHandle {
        FlushHandle {
            inner: Arc::clone(&self.flush),
        }
    }

    /// Closes the store and deletes all its files.
    pub fn destroy(self) -> Result<(), StoreError> {
        let mut this = self;
        let dir = this.dir.clone();
        let lock = this.lock.take();
        drop(this);
        // Mappings are gone (dropped above); the lock is still held while deleting.
        let r = fs::remove_dir_all(&dir).map_err(|e| StoreError::io("remove", &dir, e));
        drop(lock);
        r
    }

    #[inline]
    fn sync_state_if_every(&self) -> Result<(), StoreError> {
        if self.sync_each {
            self.state.sync()
        } else {
            Ok(())
        }
    }
}

impl SessionStore for MmapStore {
    fn existed_before(&self) -> bool {
        self.existed
    }

    #[inline]
    fn next_outgoing(&self) -> u64 {
        self.state.out.get()
    }

    #[inline]
    fn next_incoming(&self) -> u64 {
        self.state.inc.get()
    }

    #[inline]
    fn set_next_outgoing(&mut self, seq: u64) -> Result<(), StoreError> {
        check_seq(seq)?;
        let last = self.journal.last_seq();
        if seq <= last {
            return Err(StoreError::SeqNumNotIncreasing { seq, last });
        }
        self.state.out.set(&self.state.map, seq);
        self.sync_state_if_every()
    }

    #[inline]
    fn set_next_incoming(&mut self, seq: u64) -> Result<(), StoreError> {
        check_seq(seq)?;
        self.state.inc.set(&self.state.map, seq);
        self.sync_state_if_every()
    }

    #[inline]
    fn append_outbound(&mut self, seq: u64, message: &[u8]) -> Result<(), StoreError> {
        self.journal.append(seq, message)?;
        // `append` bounded seq to MAX_SEQ_NUM; seq + 1 may be one past it only at the very limit.
        let next = seq + 1;
        if next > self.state.out.get() && next <= crate::MAX_SEQ_NUM {
            self.state.out.set(&self.state.map, next);
        }
        self.sync_state_if_every()
    }

    fn last_outbound_seq(&self) -> Option<u64> {
        match self.journal.last_seq() {
            0 => None,
            n => Some(n),
        }
    }

    fn read_outbound(
        &self,
        from: u64,
        to: u64,
        f: &mut dyn FnMut(u64, &[u8]),
    ) -> Result<u64, StoreError> {
        self.journal.read(from, to, f)
    }

    fn metadata(&self) -> SessionMetadata {
        let m = self.state.meta();
        SessionMetadata {
            creation_time: m.creation_time,
            last_reset_time: m.last_reset_time,
            correctly_terminated: m.flags & FLAG_CORRECTLY_TERMINATED != 0,
            generation: m.generation,
        }
    }

    fn set_correctly_terminated(&mut self, yes: bool) -> Result<(), StoreError> {
        let mut m = self.state.meta();
        m.flags = if yes {
            m.flags | FLAG_CORRECTLY_TERMINATED
        } else {
            m.flags & !FLAG_CORRECTLY_TERMINATED
        };
        self.state.set_meta(m);
        self.sync_state_if_every()
    }

    fn reset(&mut self, now_nanos: u64) -> Result<(), StoreError> {
        let mut m = self.state.meta();
        if self.journal.last_seq() == 0 && self.state.out.get() == 1 && self.state.inc.get() == 1 {
            // Already a fresh stream (a new session's first Logon with 141=Y): a new generation
            // would only create and delete files, on the I/O thread.
            m.last_reset_time = now_nanos;
            self.state.set_meta(m);
            return self.sync_state_if_every();
        }
        let old_dir = self.journal.dir().to_path_buf();
        let old_on_disk = self.journal.is_materialized() || old_dir.exists();
        let new_gen = m.generation + 1;
        // 1. An empty journal for the new generation: nothing on disk until its first append
        //    (or `FlushHandle::prepare_journal`). Files a crash leaves for it before step 2 are a
        //    stale generation, removed at open.
        self.journal = Journal::empty(
            &self.dir,
            new_gen,
            self.state.segment_size,
            self.options.index_entries,
            self.sync_each,
            Arc::clone(self.journal.shared()),
        );
        // 2. The switch is one checksummed metadata record. A crash after it but before step 3
        //    continues the old numbers with an empty journal: resends become gap fills, nothing
        //    goes backwards.
        m.generation = new_gen;
        m.last_reset_time = now_nanos;
        self.state.set_meta(m);
        // 3. Numbers back to 1.
        self.state.out.set(&self.state.map, 1);
        self.state.inc.set(&self.state.map, 1);
        // A reset is rare; make it durable whatever the setting so that it is never half-seen.
        self.state.sync()?;
        // 4. The old generation is no longer referenced.
        if !old_on_disk {
            return Ok(());
        }
        Self::retire(
            &self.dir,
            &old_dir,
            self.options.archive_on_reset,
            now_nanos,
        )
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        self.journal.sync_all()?;
        self.state.sync()
    }

    fn durability(&self) -> Durability {
        self.options.durability
    }

    fn flush_handle(&self) -> Option<FlushHandle> {
        Some(self.handle())
    }

    #[inline]
    fn take_segment_request(&mut self) -> bool {
        self.journal.take_segment_request()
    }
}

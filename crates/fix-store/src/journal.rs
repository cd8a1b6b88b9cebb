//! The outbound journal: segmented, append-only, memory-mapped, indexed by sequence number.
//!
//! A journal generation lives in `journal.<generation>/` and holds segment files `<n>.seg` of a fixed
//! size (numbered from 0, contiguous) and one `index` file. A record is a 16-byte header (sequence
//! number, then a commit word holding length and checksum) and the message, padded to 16 bytes.
//! The commit word is stored last, so a record either exists completely or its commit word is zero;
//! the checksum additionally catches pages the OS wrote back out of order before a power cut.
//! The index maps `seq - base` to the record's position; it is derived data, verified and repaired
//! against the segments on every open. Layout: `docs/STORAGE.md`.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use memmap2::MmapRaw;

use crate::fsutil::{self, load, store};
use crate::hash::{hash64, mix};
use crate::state::FORMAT_VERSION;
use crate::{MAX_SEQ_NUM, StoreError};

pub(crate) const SEG_HEADER: usize = 64;
pub(crate) const REC_HEADER: usize = 16;
const ALIGN: usize = 16;
const SEG_MAGIC: u64 = u64::from_le_bytes(*b"FIXSJRNL");
const IDX_MAGIC: u64 = u64::from_le_bytes(*b"FIXSINDX");
const IDX_HEADER: usize = 64;
const PAD_LEN: u32 = u32::MAX;
const PRESENT: u64 = 1 << 63;
const PREPARED_NAME: &str = "next.seg.tmp";
const INDEX_NAME: &str = "index";

/// Smallest segment size accepted.
pub const MIN_SEGMENT_SIZE: u64 = 4096;
/// Largest segment size accepted (positions keep the in-segment offset in 32 bits).
pub const MAX_SEGMENT_SIZE: u64 = 1 << 30;

/// Size of a generation's first segment (or the configured size, if smaller). Each later segment
/// doubles the previous one up to the configured size: an idle session's journal costs 64 KiB of
/// disk instead of a full segment, and a busy one reaches full-size segments after a few rolls.
pub const INITIAL_SEGMENT_SIZE: u64 = 64 << 10;

/// Size of the segment after one of `prev` bytes that must hold a record of `need` bytes: double,
/// or more when the record needs it, never above `max`.
fn next_segment_size(prev: u64, need: usize, max: u64) -> u64 {
    let want = (SEG_HEADER + need) as u64;
    let mut size = prev.saturating_mul(2).max(MIN_SEGMENT_SIZE);
    while size < want && size < max {
        size = size.saturating_mul(2);
    }
    size.min(max)
}

/// Size of a generation's first segment.
fn first_segment_size(max: u64) -> u64 {
    INITIAL_SEGMENT_SIZE.min(max)
}

#[inline(always)]
fn align(n: usize) -> usize {
    (n + ALIGN - 1) & !(ALIGN - 1)
}

#[inline(always)]
pub(crate) fn pos(segno: u32, off: usize) -> u64 {
    (u64::from(segno) << 32) | off as u64
}

#[inline(always)]
pub(crate) fn pos_parts(p: u64) -> (u32, usize) {
    ((p >> 32) as u32, (p & 0xffff_ffff) as usize)
}

#[inline(always)]
fn record_commit(seq: u64, msg: &[u8]) -> u64 {
    let len = msg.len() as u64;
    let check = hash64(mix(seq, len), msg) >> 32;
    len | (check << 32)
}

#[inline(always)]
fn pad_commit(generation: u64, segno: u32, off: usize) -> u64 {
    let check = mix(generation ^ 0x0050_4144, pos(segno, off)) >> 32;
    u64::from(PAD_LEN) | (check << 32)
}

fn header_words(magic: u64, generation: u64, a: u64, b: u64) -> [u64; 7] {
    [
        magic,
        u64::from(FORMAT_VERSION) | (64 << 32),
        generation,
        a,
        b,
        0,
        0,
    ]
}

fn header_check(words: &[u64; 7]) -> u64 {
    let mut bytes = [0u8; 56];
    for (i, w) in words.iter().enumerate() {
        bytes[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    hash64(words[0], &bytes)
}

fn write_header(map: &MmapRaw, words: &[u64; 7]) {
    for (i, w) in words.iter().enumerate() {
        store(map, i * 8, *w);
    }
    store(map, 56, header_check(words));
}

fn header_valid(map: &MmapRaw, expected: &[u64; 7]) -> bool {
    (0..7).all(|i| load(map, i * 8) == expected[i]) && load(map, 56) == header_check(expected)
}

pub(crate) fn generation_dir(store_dir: &Path, generation: u64) -> PathBuf {
    store_dir.join(format!("journal.{generation:010}"))
}

fn segment_path(dir: &Path, segno: u32) -> PathBuf {
    dir.join(format!("{segno:08}.seg"))
}

/// One mapped segment file.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub(crate) no: u32,
    pub(crate) map: Arc<MmapRaw>,
}

impl Segment {
    /// This segment's size: segments of one generation grow, so each has its own.
    #[inline(always)]
    fn size(&self) -> usize {
        self.map.len()
    }
}

/// Creates and maps a segment file at `path` with a valid header and zeroed records.
fn create_segment(
    path: &Path,
    generation: u64,
    segno: u32,
    size: u64,
    populate: bool,
) -> Result<Segment, StoreError> {
    let file = fsutil::create_allocated(path, size)?;
    let map = fsutil::map(&file, path, size, populate)?;
    write_header(
        &map,
        &header_words(SEG_MAGIC, generation, u64::from(segno), size),
    );
    Ok(Segment {
        no: segno,
        map: Arc::new(map),
    })
}

/// Creates a generation's directory, first segment and index (in that order: a crash in between
/// leaves a directory that recovery reads as an empty journal).
fn create_generation(
    dir: &Path,
    generation: u64,
    segment_size: u64,
    index_entries: u64,
    populate: bool,
    sync_each: bool,
) -> Result<(Segment, Index), StoreError> {
    if let Err(e) = fs::create_dir(dir)
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        return Err(StoreError::io("create_dir", dir, e));
    }
    let seg_path = segment_path(dir, 0);
    let segment = create_segment(
        &seg_path,
        generation,
        0,
        first_segment_size(segment_size),
        populate,
    )?;
    let index = Index::create(dir.join(INDEX_NAME), generation, 0, index_entries.max(1))?;
    if sync_each {
        segment
            .map
            .flush_range(0, SEG_HEADER)
            .map_err(|e| StoreError::io("msync", &seg_path, e))?;
        index
            .map
            .flush_range(0, IDX_HEADER)
            .map_err(|e| StoreError::io("msync", &index.path, e))?;
    }
    Ok((segment, index))
}

/// What the flush handle needs to see of the journal; changed only at a segment roll or a reset.
#[derive(Debug)]
pub(crate) struct View {
    pub(crate) generation: u64,
    pub(crate) dir: PathBuf,
    /// The configured (largest) segment size.
    pub(crate) segment_size: u64,
    /// Initial index capacity, for a generation created by a maintenance call.
    pub(crate) index_entries: u64,
    /// Empty while the generation's files do not exist yet (see [`Shared::prepare_generation`]).
    pub(crate) segments: Vec<Segment>,
}

/// A segment created ahead of need by a maintenance call, waiting to be taken by the writer.
#[derive(Debug)]
pub(crate) struct Prepared {
    generation: u64,
    segment: Segment,
    tmp_path: PathBuf,
    /// Where the writer renames it to: computed here so taking it allocates nothing.
    final_path: PathBuf,
}

/// A generation's files (directory, first segment, index) created ahead of the first append by
/// a maintenance call, waiting to be taken by the writer.
#[derive(Debug)]
pub(crate) struct PreparedGeneration {
    generation: u64,
    segment: Segment,
    index: Index,
}

/// State shared between the writer and any number of flush handles.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) view: Mutex<View>,
    /// Position just past the last complete record (`pos` encoding); published after each append.
    pub(crate) write_pos: AtomicU64,
    pub(crate) prepared: Mutex<Option<Prepared>>,
    /// Whoever creates a generation's files holds this until the view lists its first segment,
    /// so the writer and a maintenance call never both create (and truncate) the same files.
    /// Lock order: `first` before `view`.
    pub(crate) first: Mutex<Option<PreparedGeneration>>,
    /// The store was dropped and its lock released: a maintenance call must create nothing
    /// more (another process may own the directory now). Set while holding `first`, which every
    /// maintenance call holds while it creates files.
    pub(crate) closed: AtomicBool,
    pub(crate) populate: bool,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere cannot leave these plain values half-updated in a way that matters.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(populate: bool) -> Self {
        Shared {
            view: Mutex::new(View {
                generation: 0,
                dir: PathBuf::new(),
                segment_size: 0,
                index_entries: 0,
                segments: Vec::new(),
            }),
            write_pos: AtomicU64::new(0),
            prepared: Mutex::new(None),
            first: Mutex::new(None),
            closed: AtomicBool::new(false),
            populate,
        }
    }

    /// Creates the current generation's files if they do not exist yet (a new store, or the
    /// first append after a reset), so that the writer's first append finds them ready. Returns
    /// whether it created them. Called from a maintenance thread, never the writer.
    pub(crate) fn prepare_generation(&self) -> Result<bool, StoreError> {
        let mut first = lock(&self.first);
        if self.closed.load(Ordering::Acquire) {
            return Ok(false);
        }
        let (generation, dir, size, entries) = {
            let v = lock(&self.view);
            if !v.segments.is_empty() || v.dir.as_os_str().is_empty() {
                return Ok(false);
            }
            (v.generation, v.dir.clone(), v.segment_size, v.index_entries)
        };
        if first.as_ref().is_some_and(|p| p.generation == generation) {
            return Ok(false);
        }
        let (segment, index) =
            create_generation(&dir, generation, size, entries, self.populate, false)?;
        // The writer cannot have created this generation meanwhile (it would have needed
        // `first`), but it may have reset to the next one: then these files are stale.
        if lock(&self.view).generation != generation {
            drop((segment, index));
            let _ = fs::remove_dir_all(&dir);
            *first = None;
            return Ok(false);
        }
        *first = Some(PreparedGeneration {
            generation,
            segment,
            index,
        });
        Ok(true)
    }

    /// Creates the next segment ahead of need if the active one is past half full.
    /// Returns whether it created one. Called from a maintenance thread, never the writer.
    pub(crate) fn prepare_next(&self) -> Result<bool, StoreError> {
        // Held while creating: the store's drop waits for it, and nothing is created after.
        let _first = lock(&self.first);
        if self.closed.load(Ordering::Acquire) {
            return Ok(false);
        }
        let (generation, dir, size, next_no) = {
            let v = lock(&self.view);
            let (no, off) = pos_parts(self.write_pos.load(Ordering::Acquire));
            let Some(last) = v.segments.last() else {
                return Ok(false);
            };
            if no != last.no || off < last.size() / 2 {
                return Ok(false);
            }
            let size = next_segment_size(last.size() as u64, 0, v.segment_size);
            (v.generation, v.dir.clone(), size, last.no + 1)
        };
        {
            let p = lock(&self.prepared);
            if p.as_ref()
                .is_some_and(|p| p.generation == generation && p.segment.no == next_no)
            {
                return Ok(false);
            }
        }
        let tmp_path = dir.join(PREPARED_NAME);
        let final_path = segment_path(&dir, next_no);
        let segment = create_segment(&tmp_path, generation, next_no, size, self.populate)?;
        // Here rather than on the writer's thread: its appends then take no page faults.
        fsutil::prefault_writable(&segment.map, SEG_HEADER);
        let v = lock(&self.view);
        let still_needed =
            v.generation == generation && v.segments.last().is_some_and(|s| s.no + 1 == next_no);
        if !still_needed {
            drop(v);
            let _ = fs::remove_file(&tmp_path);
            return Ok(false);
        }
        // Lock order is view -> prepared here; the writer never holds prepared while taking view.
        *lock(&self.prepared) = Some(Prepared {
            generation,
            segment,
            tmp_path,
            final_path,
        });
        Ok(true)
    }
}

/// The index file: `u64` entries at `IDX_HEADER + (seq - base) * 8`.
#[derive(Debug)]
struct Index {
    path: PathBuf,
    file: File,
    map: MmapRaw,
    generation: u64,
    base: u64,
    cap: u64,
}

impl Index {
    fn create(path: PathBuf, generation: u64, base: u64, cap: u64) -> Result<Self, StoreError> {
        let len = IDX_HEADER as u64 + cap * 8;
        let file = fsutil::create_allocated(&path, len)?;
        let map = fsutil::map(&file, &path, len, false)?;
        write_header(&map, &header_words(IDX_MAGIC, generation, base, 0));
        Ok(Index {
            path,
            file,
            map,
            generation,
            base,
            cap,
        })
    }

    /// Opens an index whose header matches; `None` if missing or not matching (to be rebuilt).
    fn open(path: PathBuf, generation: u64, base: u64) -> Option<Self> {
        let file = fsutil::open_rw(&path).ok()?;
        let len = fsutil::file_len(&file, &path).ok()?;
        if len < IDX_HEADER as u64 + 8 || !(len - IDX_HEADER as u64).is_multiple_of(8) {
            return None;
        }
        let map = fsutil::map(&file, &path, len, false).ok()?;
        if !header_valid(&map, &header_words(IDX_MAGIC, generation, base, 0)) {
            return None;
        }
        let cap = (len - IDX_HEADER as u64) / 8;
        Some(Index {
            path,
            file,
            map,
            generation,
            base,
            cap,
        })
    }

    fn set_base(&mut self, base: u64) {
        self.base = base;
        write_header(
            &self.map,
            &header_words(IDX_MAGIC, self.generation, base, 0),
        );
    }

    #[inline(always)]
    fn get(&self, seq: u64) -> u64 {
        match seq.checked_sub(self.base) {
            Some(i) if i < self.cap && self.base != 0 => {
                load(&self.map, IDX_HEADER + i as usize * 8)
            }
            _ => 0,
        }
    }

    /// Stores an entry, growing the file when needed (the only syscall; amortised by doubling).
    #[inline]
    fn set(&mut self, seq: u64, entry: u64) -> Result<(), StoreError> {
        let i = seq - self.base;
        if i >= self.cap {
            self.grow(i + 1)?;
        }
        store(&self.map, IDX_HEADER + i as usize * 8, entry);
        Ok(())
    }

    #[cold]
    fn grow(&mut self, need: u64) -> Result<(), StoreError> {
        let cap = need.max(self.cap.saturating_mul(2));
        let len = IDX_HEADER as u64 + cap * 8;
        fsutil::allocate(&self.file, &self.path, len)?;
        self.map = fsutil::map(&self.file, &self.path, len, false)?;
        self.cap = cap;
        Ok(())
    }
}

/// What opening the journal found and repaired.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct JournalRecovery {
    pub(crate) records: u64,
    pub(crate) tail_bytes_zeroed: u64,
    pub(crate) segments_discarded: u32,
    pub(crate) index_rebuilt: bool,
    pub(crate) index_entries_repaired: u64,
}

/// The writer side of a journal generation. Owned by the store (the I/O thread).
#[derive(Debug)]
pub(crate) struct Journal {
    dir: PathBuf,
    generation: u64,
    segment_size: u64,
    sync_each: bool,
    /// Contiguously numbered; `segments[i].no == segments[0].no + i`.
    segments: Vec<Segment>,
    off: usize,
    first_seq: u64,
    last_seq: u64,
    /// `None` (and `segments` empty) until the generation's files exist.
    index: Option<Index>,
    index_entries: u64,
    shared: Arc<Shared>,
    /// The active segment passed half full and the writer has not yet said so through
    /// [`Journal::take_segment_request`].
    segment_request: bool,
    /// A request was already made for the active segment.
    segment_requested: bool,
}

/// Segment slots reserved up front, so a roll does not grow the segment lists on the hot path
/// (a generation with more segments than this still works; its lists grow then).
const RESERVED_SEGMENTS: usize = 64;

struct ScanEnd {
    seg_idx: usize,
    off: usize,
    first_seq: u64,
    last_seq: u64,
    records: u64,
}

impl Journal {
    /// Largest message a journal with this segment size accepts.
    pub(crate) fn max_message(segment_size: u64) -> usize {
        segment_size as usize - SEG_HEADER - REC_HEADER
    }

    /// A generation whose files do not exist yet: nothing is created until the first append
    /// (or [`Shared::prepare_generation`]). No file-system call.
    pub(crate) fn empty(
        store_dir: &Path,
        generation: u64,
        segment_size: u64,
        index_entries: u64,
        sync_each: bool,
        shared: Arc<Shared>,
    ) -> Self {
        let journal = Journal {
            dir: generation_dir(store_dir, generation),
            generation,
            segment_size,
            sync_each,
            segments: Vec::with_capacity(RESERVED_SEGMENTS),
            off: SEG_HEADER,
            first_seq: 0,
            last_seq: 0,
            index: None,
            index_entries,
            shared,
            segment_request: false,
            segment_requested: false,
        };
        journal.publish_view();
        journal
    }

    /// Opens generation `generation` under `store_dir`, recovering its end. A missing directory,
    /// or one without a valid first segment, is an empty journal whose files are created at the
    /// first append.
    pub(crate) fn open(
        store_dir: &Path,
        generation: u64,
        segment_size: u64,
        index_entries: u64,
        sync_each: bool,
        shared: Arc<Shared>,
    ) -> Result<(Self, JournalRecovery), StoreError> {
        let dir = generation_dir(store_dir, generation);
        let mut rec = JournalRecovery::default();
        // What a store without a valid segment opens as (created again at the first append).
        let empty = || {
            Self::empty(
                store_dir,
                generation,
                segment_size,
                index_entries,
                sync_each,
                Arc::clone(&shared),
            )
        };

        // Segment numbers present, sorted.
        let mut numbers: Vec<u32> = Vec::new();
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((empty(), rec)),
            Err(e) => return Err(StoreError::io("read_dir", &dir, e)),
        };
        for entry in rd {
            let entry = entry.map_err(|e| StoreError::io("read_dir", &dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name == PREPARED_NAME {
                let p = dir.join(PREPARED_NAME);
                fs::remove_file(&p).map_err(|e| StoreError::io("remove", &p, e))?;
            } else if let Some(n) = name
                .strip_suffix(".seg")
                .and_then(|n| n.parse::<u32>().ok())
            {
                numbers.push(n);
            }
        }
        numbers.sort_unstable();

        // Map the valid, contiguous prefix.
        let mut segments: Vec<Segment> = Vec::new();
        let mut discard: Vec<u32> = Vec::new();
        for &n in &numbers {
            let contiguous = segments.last().is_none_or(|s: &Segment| s.no + 1 == n);
            let seg = if contiguous && discard.is_empty() {
                Self::open_segment(&dir, generation, n, segment_size)
            } else {
                None
            };
            match seg {
                Some(s) => segments.push(s),
                None => discard.push(n),
            }
        }

        // Scan records to find the true end.
        let end = Self::scan(&segments, generation);
        if let Some(end) = &end {
            for s in segments.drain(end.seg_idx + 1..) {
                discard.push(s.no);
            }
        }
        for n in discard {
            let p = segment_path(&dir, n);
            fs::remove_file(&p).map_err(|e| StoreError::io("remove", &p, e))?;
            rec.segments_discarded += 1;
        }
        let Some(end) = end else {
            // No valid segment (a creation interrupted by a crash).
            return Ok((empty(), rec));
        };
        rec.records = end.records;
        rec.tail_bytes_zeroed = zero_tail(&segments[end.seg_idx].map, end.off);
        let (off, first_seq, last_seq) = (end.off, end.first_seq, end.last_seq);

        // Index: reuse if its header matches, else rebuild; then verify every entry.
        let ipath = dir.join(INDEX_NAME);
        let base = first_seq;
        let index = match Index::open(ipath.clone(), generation, base) {
            Some(ix) => ix,
            None => {
                rec.index_rebuilt = true;
                let need = last_seq.saturating_sub(base) + 1;
                Index::create(ipath, generation, base, need.max(index_entries).max(1))?
            }
        };
        let mut segments = segments;
        segments.reserve(RESERVED_SEGMENTS);
        let mut journal = Journal {
            dir,
            generation,
            segment_size,
            sync_each,
            segments,
            off,
            first_seq,
            last_seq,
            index: Some(index),
            index_entries,
            shared,
            segment_request: false,
            segment_requested: false,
        };
        rec.index_entries_repaired = journal.repair_index()?;
        journal.publish_view();
        Ok((journal, rec))
    }

    /// Makes this journal what the flush handles see, and drops anything a maintenance call
    /// prepared for another generation.
    fn publish_view(&self) {
        {
            let mut v = lock(&self.shared.view);
            v.generation = self.generation;
            v.dir = self.dir.clone();
            v.segment_size = self.segment_size;
            v.index_entries = self.index_entries;
            v.segments.clear();
            v.segments.reserve(RESERVED_SEGMENTS);
            v.segments.extend(self.segments.iter().cloned());
            self.publish_pos();
        }
        // A segment prepared for another generation (before a reset) is of no use now.
        if let Some(p) = lock(&self.shared.prepared).take_if(|p| p.generation != self.generation) {
            let _ = fs::remove_file(&p.tmp_path);
        }
        // try_lock: never wait for a preparation in progress; it sees the new generation when
        // it finishes and discards its files itself. Files of an older generation are removed
        // with its directory.
        if let Ok(mut f) = self.shared.first.try_lock() {
            f.take_if(|p| p.generation != self.generation);
        }
    }

    /// Creates this generation's files, or takes those a maintenance call prepared. Cold: once
    /// per generation, at its first append. Waits only for a preparation already in progress,
    /// which costs no more than creating the files here.
    #[cold]
    fn materialize(&mut self) -> Result<(), StoreError> {
        let mut first = lock(&self.shared.first);
        let (segment, index) = match first.take() {
            Some(p) if p.generation == self.generation => {
                if self.sync_each {
                    p.segment
                        .map
                        .flush_range(0, SEG_HEADER)
                        .map_err(|e| StoreError::io("msync", segment_path(&self.dir, 0), e))?;
                    p.index
                        .map
                        .flush_range(0, IDX_HEADER)
                        .map_err(|e| StoreError::io("msync", &p.index.path, e))?;
                }
                (p.segment, p.index)
            }
            _ => create_generation(
                &self.dir,
                self.generation,
                self.segment_size,
                self.index_entries,
                self.shared.populate,
                self.sync_each,
            )?,
        };
        self.segments.push(segment.clone());
        self.index = Some(index);
        self.off = SEG_HEADER;
        // Still holding `first`: a maintenance call sees the generation exists once it can look.
        lock(&self.shared.view).segments.push(segment);
        self.publish_pos();
        drop(first);
        Ok(())
    }

    /// Marks the store closed for maintenance calls, waiting for one in progress; called while
    /// the store still holds its lock.
    pub(crate) fn close(&self) {
        let mut first = lock(&self.shared.first);
        self.shared.closed.store(true, Ordering::Release);
        *first = None;
    }

    /// Whether the generation's files exist.
    pub(crate) fn is_materialized(&self) -> bool {
        !self.segments.is_empty()
    }

    /// Maps segment `n` if its header is valid. Its size is its file length (up to `max`), which
    /// the header, covered by its checksum, must repeat.
    fn open_segment(dir: &Path, generation: u64, n: u32, max: u64) -> Option<Segment> {
        let path = segment_path(dir, n);
        let file = fsutil::open_rw(&path).ok()?;
        let size = fsutil::file_len(&file, &path).ok()?;
        if !(MIN_SEGMENT_SIZE..=max).contains(&size) {
            return None;
        }
        let map = fsutil::map(&file, &path, size, false).ok()?;
        header_valid(
            &map,
            &header_words(SEG_MAGIC, generation, u64::from(n), size),
        )
        .then(|| Segment {
            no: n,
            map: Arc::new(map),
        })
    }

    /// Walks every record, verifying checksums and increasing sequence numbers. `None` when there
    /// is no segment at all. Each iteration advances by at least 16 bytes within a bounded segment.
    fn scan(segments: &[Segment], generation: u64) -> Option<ScanEnd> {
        let mut end = ScanEnd {
            seg_idx: 0,
            off: SEG_HEADER,
            first_seq: 0,
            last_seq: 0,
            records: 0,
        };
        if segments.is_empty() {
            return None;
        }
        'segments: for (i, seg) in segments.iter().enumerate() {
            end.seg_idx = i;
            end.off = SEG_HEADER;
            let map = &seg.map;
            let size = seg.size();
            let mut off = SEG_HEADER;
            while off + REC_HEADER <= size {
                let commit = load(map, off + 8);
                let len = commit as u32;
                if commit == 0 {
                    return Some(end);
                }
                if len == PAD_LEN {
                    if commit != pad_commit(generation, seg.no, off) {
                        return Some(end);
                    }
                    continue 'segments;
                }
                let len = len as usize;
                if off + REC_HEADER + len > size {
                    return Some(end);
                }
                let seq = load(map, off);
                if seq <= end.last_seq || seq > MAX_SEQ_NUM {
                    return Some(end);
                }
                let msg = fsutil::bytes(map, off + REC_HEADER, len);
                if commit != record_commit(seq, msg) {
                    return Some(end);
                }
                if end.records == 0 {
                    end.first_seq = seq;
                }
                end.last_seq = seq;
                end.records += 1;
                off += align(REC_HEADER + len);
                end.off = off;
            }
            // Segment exactly full: the end is here unless a next segment holds records.
        }
        Some(end)
    }

    /// Makes every index entry agree with the segments. Returns how many entries changed.
    fn repair_index(&mut self) -> Result<u64, StoreError> {
        let mut repaired = 0;
        let Some(index) = self.index.as_mut() else {
            return Ok(0);
        };
        let mut expect_seq = self.first_seq;
        let mut seg_walk = 0;
        let mut off = SEG_HEADER;
        if self.last_seq != 0 {
            // Records were validated by `scan`; only headers are read here.
            loop {
                if seg_walk >= self.segments.len() {
                    break;
                }
                if off + REC_HEADER > self.segments[seg_walk].size()
                    || (seg_walk + 1 == self.segments.len() && off >= self.off)
                {
                    if seg_walk + 1 == self.segments.len() {
                        break;
                    }
                    seg_walk += 1;
                    off = SEG_HEADER;
                    continue;
                }
                let seg = &self.segments[seg_walk];
                let commit = load(&seg.map, off + 8);
                if commit as u32 == PAD_LEN || commit == 0 {
                    seg_walk += 1;
                    off = SEG_HEADER;
                    continue;
                }
                let seq = load(&seg.map, off);
                for gap in expect_seq..seq {
                    if index.get(gap) != 0 {
                        index.set(gap, 0)?;
                        repaired += 1;
                    }
                }
                let want = PRESENT | pos(seg.no, off);
                if index.get(seq) != want {
                    index.set(seq, want)?;
                    repaired += 1;
                }
                expect_seq = seq + 1;
                off += align(REC_HEADER + commit as u32 as usize);
            }
        }
        // Entries past the end can only be left by records that did not survive.
        if index.base != 0 {
            let from = expect_seq.max(index.base) - index.base;
            for i in from..index.cap {
                let o = IDX_HEADER + i as usize * 8;
                if load(&index.map, o) != 0 {
                    store(&index.map, o, 0);
                    repaired += 1;
                }
            }
        }
        Ok(repaired)
    }

    fn publish_pos(&self) {
        let no = self.segments.last().map_or(0, |s| s.no);
        self.shared
            .write_pos
            .store(pos(no, self.off), Ordering::Release);
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Appends one record. Hot path: a memcpy, three stores and an index store; a syscall only
    /// when the segment is full or the index must grow.
    #[inline]
    pub(crate) fn append(&mut self, seq: u64, msg: &[u8]) -> Result<(), StoreError> {
        let max = Self::max_message(self.segment_size);
        if msg.is_empty() || msg.len() > max {
            return Err(StoreError::MessageSize {
                len: msg.len(),
                max,
            });
        }
        if seq == 0 || seq > MAX_SEQ_NUM {
            return Err(StoreError::SeqNumOutOfRange(seq));
        }
        if seq <= self.last_seq {
            return Err(StoreError::SeqNumNotIncreasing {
                seq,
                last: self.last_seq,
            });
        }
        let need = align(REC_HEADER + msg.len());
        if self.segments.is_empty() {
            self.materialize()?;
        }
        if self.off + need > self.segments.last().map_or(0, Segment::size) {
            self.roll(need)?;
        }
        let (Some(seg), Some(index)) = (self.segments.last(), self.index.as_mut()) else {
            return Err(StoreError::corrupt(&self.dir, "journal has no segment"));
        };
        if index.base == 0 {
            index.set_base(seq);
            self.first_seq = seq;
        }
        let off = self.off;
        let seg_size = seg.size();
        fsutil::write_bytes(&seg.map, off + REC_HEADER, msg);
        store(&seg.map, off, seq);
        store(&seg.map, off + 8, record_commit(seq, msg));
        let entry = PRESENT | pos(seg.no, off);
        if self.sync_each {
            seg.map
                .flush_range(off, need)
                .map_err(|e| StoreError::io("msync", segment_path(&self.dir, seg.no), e))?;
        }
        index.set(seq, entry)?;
        self.off = off + need;
        self.last_seq = seq;
        self.publish_pos();
        // The next record's lines, requested now (off the critical path of the next append,
        // which would otherwise stall on fetching never-written lines).
        let ahead = (seg_size - self.off).min(fsutil::NEXT_RECORD_BYTES);
        // SAFETY: `self.off + ahead <= seg_size`, within the mapping.
        fsutil::prefetch_for_write(unsafe { seg.map.as_mut_ptr().add(self.off) }, ahead);
        if !self.segment_requested && self.off >= seg_size / 2 {
            self.segment_requested = true;
            self.segment_request = true;
        }
        Ok(())
    }

    /// Whether the active segment passed half full since the last call: the moment to have a
    /// maintenance thread create the next one ([`Shared::prepare_next`]), so the roll does not
    /// create a file on the writer's thread. True once per segment.
    #[inline]
    pub(crate) fn take_segment_request(&mut self) -> bool {
        std::mem::take(&mut self.segment_request)
    }

    /// Moves to the next segment, which must hold a record of `need` bytes: takes the prepared
    /// one if a maintenance call made it (and it is big enough), else creates it here.
    #[cold]
    fn roll(&mut self, need: usize) -> Result<(), StoreError> {
        let Some(cur) = self.segments.last() else {
            return Err(StoreError::corrupt(&self.dir, "journal has no segment"));
        };
        let size = cur.size();
        let next_no = cur.no + 1;
        let next_size = next_segment_size(size as u64, need, self.segment_size);
        // try_lock: the writer never waits for a maintenance thread.
        let prepared = match self.shared.prepared.try_lock() {
            Ok(mut p) => p.take(),
            Err(_) => None,
        };
        let seg = match prepared {
            Some(p)
                if p.generation == self.generation
                    && p.segment.no == next_no
                    && p.segment.size() >= SEG_HEADER + need =>
            {
                fs::rename(&p.tmp_path, &p.final_path)
                    .map_err(|e| StoreError::io("rename", &p.final_path, e))?;
                p.segment
            }
            other => {
                if let Some(p) = other {
                    let _ = fs::remove_file(&p.tmp_path);
                }
                create_segment(
                    &segment_path(&self.dir, next_no),
                    self.generation,
                    next_no,
                    next_size,
                    self.shared.populate,
                )?
            }
        };
        if self.sync_each {
            seg.map
                .flush_range(0, SEG_HEADER)
                .map_err(|e| StoreError::io("msync", segment_path(&self.dir, next_no), e))?;
        }
        // The next segment exists before the pad marker claims it does.
        if self.off + REC_HEADER <= size {
            let cur = &self.segments[self.segments.len() - 1];
            store(
                &cur.map,
                self.off + 8,
                pad_commit(self.generation, cur.no, self.off),
            );
        }
        lock(&self.shared.view).segments.push(seg.clone());
        self.segments.push(seg);
        self.off = SEG_HEADER;
        self.segment_requested = false;
        Ok(())
    }

    /// Calls `f` for each journaled record with `from <= seq <= to`, in order.
    pub(crate) fn read(
        &self,
        from: u64,
        to: u64,
        f: &mut dyn FnMut(u64, &[u8]),
    ) -> Result<u64, StoreError> {
        let Some(index) = self.index.as_ref().filter(|_| self.last_seq != 0) else {
            return Ok(0);
        };
        let start = from.max(self.first_seq);
        let end = to.min(self.last_seq);
        let first_no = self.segments[0].no;
        let mut n = 0;
        for seq in start..=end {
            let entry = index.get(seq);
            if entry & PRESENT == 0 {
                continue;
            }
            let (no, off) = pos_parts(entry & !PRESENT);
            let seg = no
                .checked_sub(first_no)
                .and_then(|i| self.segments.get(i as usize))
                .ok_or_else(|| {
                    StoreError::corrupt(&index.path, "index entry names a missing segment")
                })?;
            let size = seg.size();
            if off + REC_HEADER > size {
                return Err(StoreError::corrupt(
                    &index.path,
                    "index entry out of segment bounds",
                ));
            }
            let commit = load(&seg.map, off + 8);
            let len = commit as u32 as usize;
            if load(&seg.map, off) != seq || off + REC_HEADER + len > size {
                return Err(StoreError::corrupt(
                    segment_path(&self.dir, no),
                    "record does not match index",
                ));
            }
            let msg = fsutil::bytes(&seg.map, off + REC_HEADER, len);
            if commit != record_commit(seq, msg) {
                return Err(StoreError::corrupt(
                    segment_path(&self.dir, no),
                    "record checksum mismatch",
                ));
            }
            f(seq, msg);
            n += 1;
        }
        Ok(n)
    }

    /// Synchronously writes back everything appended so far.
    pub(crate) fn sync_all(&self) -> Result<(), StoreError> {
        for s in &self.segments {
            s.map
                .flush()
                .map_err(|e| StoreError::io("msync", segment_path(&self.dir, s.no), e))?;
        }
        Ok(())
    }
}

/// Zeroes any non-zero bytes from `off` to the end of the segment (leftovers of a record that was
/// being written when the process died), so a later append can never be followed by stale bytes
/// that happen to look like a record. Only pages that hold something are written.
fn zero_tail(map: &MmapRaw, off: usize) -> u64 {
    const CHUNK: usize = 4096;
    let size = map.len();
    let mut zeroed = 0;
    let mut at = off;
    while at < size {
        let chunk_end = ((at / CHUNK) + 1) * CHUNK;
        let end = chunk_end.min(size);
        if fsutil::bytes(map, at, end - at).iter().any(|&b| b != 0) {
            fsutil::zero_bytes(map, at, end - at);
            zeroed += (end - at) as u64;
        }
        at = end;
    }
    zeroed
}

/// Flushes the journal range written since the last call. Used by the flush handle.
pub(crate) fn flush_range(view: &View, from: u64, to: u64) -> Result<(), StoreError> {
    let (from_no, from_off) = pos_parts(from);
    let (to_no, to_off) = pos_parts(to);
    for s in &view.segments {
        if s.no < from_no || s.no > to_no {
            continue;
        }
        let start = if s.no == from_no { from_off } else { 0 };
        let end = if s.no == to_no { to_off } else { s.size() };
        let end = end.min(s.map.len());
        if end > start {
            s.map
                .flush_range(start, end - start)
                .map_err(|e| StoreError::io("msync", segment_path(&view.dir, s.no), e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod growth_tests {
    use super::*;
    use crate::{MmapStore, SessionStore, StoreOptions};

    const NOW: u64 = 1_700_000_000_000_000_000;
    const ID: &str = "FIX.4.4-SENDER-TARGET";
    const MAX: u64 = 1 << 20;

    fn opts() -> StoreOptions {
        StoreOptions {
            segment_size: MAX,
            ..StoreOptions::default()
        }
    }

    fn msg(seq: u64, len: usize) -> Vec<u8> {
        let mut m = format!("8=FIX.4.4\x0134={seq}\x0158=").into_bytes();
        m.extend((0..len.saturating_sub(m.len())).map(|i| b'a' + ((seq as usize + i) % 26) as u8));
        m
    }

    fn segment_sizes(s: &MmapStore) -> Vec<u64> {
        let dir = generation_dir(s.dir(), s.metadata().generation);
        let mut v: Vec<(u32, u64)> = fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| {
                let e = e.unwrap();
                let name = e.file_name().into_string().unwrap();
                let n = name.strip_suffix(".seg")?.parse::<u32>().ok()?;
                Some((n, e.metadata().unwrap().len()))
            })
            .collect();
        v.sort_unstable();
        v.into_iter().map(|(_, len)| len).collect()
    }

    fn check_all(s: &MmapStore, lens: &[(u64, usize)]) {
        let mut got = Vec::new();
        s.read_outbound(1, u64::MAX, &mut |seq, b| {
            got.push(seq);
            let len = lens.iter().find(|(q, _)| *q == seq).unwrap().1;
            assert_eq!(b, msg(seq, len), "seq {seq}");
        })
        .unwrap();
        assert_eq!(got, lens.iter().map(|(q, _)| *q).collect::<Vec<_>>());
    }

    #[test]
    fn size_sequence_doubles_and_fits_the_record() {
        assert_eq!(first_segment_size(MAX), INITIAL_SEGMENT_SIZE);
        assert_eq!(first_segment_size(8192), 8192);
        assert_eq!(next_segment_size(64 << 10, 100, MAX), 128 << 10);
        assert_eq!(next_segment_size(64 << 10, 300 << 10, MAX), 512 << 10);
        assert_eq!(next_segment_size(512 << 10, 100, MAX), MAX);
        assert_eq!(next_segment_size(MAX, 100, MAX), MAX);
        // A configured size that is not a power of two caps the doubling.
        assert_eq!(next_segment_size(64 << 10, 100, 100 << 12), 128 << 10);
        assert_eq!(next_segment_size(256 << 10, 100, 100 << 12), 100 << 12);
    }

    #[test]
    fn a_new_store_is_small_and_segments_grow_to_the_configured_size() {
        let root = tempfile::tempdir().unwrap();
        let mut s = MmapStore::open(root.path(), ID, opts(), NOW).unwrap();
        // Nothing of the journal exists until it is needed.
        assert!(!generation_dir(s.dir(), 1).exists());
        assert!(s.handle().prepare_journal().unwrap());
        assert_eq!(segment_sizes(&s), vec![INITIAL_SEGMENT_SIZE]);
        let index = generation_dir(s.dir(), 1).join("index");
        assert!(fs::metadata(&index).unwrap().len() <= 16 << 10);

        let mut lens = Vec::new();
        for seq in 1..=3000u64 {
            let len = 200 + (seq as usize * 37) % 1500;
            s.append_outbound(seq, &msg(seq, len)).unwrap();
            lens.push((seq, len));
        }
        let sizes = segment_sizes(&s);
        assert_eq!(
            &sizes[..5],
            &[64 << 10, 128 << 10, 256 << 10, 512 << 10, MAX],
            "{sizes:?}"
        );
        assert!(sizes[5..].iter().all(|&l| l == MAX), "{sizes:?}");
        check_all(&s, &lens);

        drop(s);
        let mut s = MmapStore::open(root.path(), ID, opts(), NOW).unwrap();
        assert!(s.recovery().is_clean(), "{:?}", s.recovery());
        check_all(&s, &lens);
        s.append_outbound(3001, &msg(3001, 500)).unwrap();
        lens.push((3001, 500));
        check_all(&s, &lens);
    }

    #[test]
    fn a_record_larger_than_the_next_doubling_gets_a_segment_that_holds_it() {
        let root = tempfile::tempdir().unwrap();
        let mut s = MmapStore::open(root.path(), ID, opts(), NOW).unwrap();
        let h = s.handle();
        let mut lens = vec![(1, 40 << 10)];
        s.append_outbound(1, &msg(1, 40 << 10)).unwrap();
        // The prepared (doubled, 128 KiB) segment is too small for the next record.
        assert!(h.prepare_next_segment().unwrap());
        lens.push((2, 300 << 10));
        s.append_outbound(2, &msg(2, 300 << 10)).unwrap();
        assert_eq!(segment_sizes(&s), vec![64 << 10, 512 << 10]);
        // The largest message still fits: a full-size segment.
        let max = Journal::max_message(MAX);
        lens.push((3, max));
        s.append_outbound(3, &msg(3, max)).unwrap();
        assert_eq!(segment_sizes(&s), vec![64 << 10, 512 << 10, MAX]);
        assert!(s.append_outbound(4, &msg(4, max + 1)).is_err());
        drop(s);
        let s = MmapStore::open(root.path(), ID, opts(), NOW).unwrap();
        assert!(s.recovery().is_clean(), "{:?}", s.recovery());
        check_all(&s, &lens);
    }
}

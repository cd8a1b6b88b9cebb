//! File-system helpers: store lock, pre-allocated files, raw mappings, word access in a mapping.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::{MmapOptions, MmapRaw};

use crate::StoreError;

/// Exclusive `flock`s on a store's directory and, for a store made by an earlier version, on its
/// `lock` file; released when dropped (the kernel releases them when the descriptors close,
/// including when the process dies, so a crash never leaves a stale lock).
#[derive(Debug)]
pub(crate) struct LockFile {
    _dir: File,
    _legacy: Option<File>,
}

/// The lock file earlier versions of this crate created and locked in every store directory.
pub(crate) const LEGACY_LOCK_FILE: &str = "lock";

impl LockFile {
    /// Locks the store directory `dir`. Locking the directory itself (open is a lookup) instead
    /// of a file in it (a file creation, ~0.4 ms of kernel time on ext4 in a VM) keeps a new
    /// store to the metadata operations it needs. A `lock` file left by an earlier version is
    /// locked too, so a process of that version still refuses and is refused.
    pub(crate) fn acquire(dir: &Path) -> Result<Self, StoreError> {
        let d = File::open(dir).map_err(|e| StoreError::io("open", dir, e))?;
        flock_exclusive(&d, dir)?;
        let legacy_path = dir.join(LEGACY_LOCK_FILE);
        let legacy = match OpenOptions::new().read(true).write(true).open(&legacy_path) {
            Ok(f) => {
                flock_exclusive(&f, &legacy_path)?;
                Some(f)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(StoreError::io("open", &legacy_path, e)),
        };
        Ok(LockFile {
            _dir: d,
            _legacy: legacy,
        })
    }
}

fn flock_exclusive(file: &File, path: &Path) -> Result<(), StoreError> {
    // SAFETY: flock on a descriptor we own; no memory is passed.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Err(StoreError::Locked {
                path: path.to_path_buf(),
            });
        }
        return Err(StoreError::io("flock", path, err));
    }
    Ok(())
}

/// Creates (or truncates) `path` with `len` bytes whose blocks are reserved up front, so that a
/// full disk surfaces here as an error instead of as SIGBUS on a later store into the mapping.
pub(crate) fn create_allocated(path: &Path, len: u64) -> Result<File, StoreError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| StoreError::io("create", path, e))?;
    allocate(&file, path, len)?;
    Ok(file)
}

/// Grows `file` to `len` bytes with reserved blocks.
pub(crate) fn allocate(file: &File, path: &Path, len: u64) -> Result<(), StoreError> {
    file.set_len(len)
        .map_err(|e| StoreError::io("set_len", path, e))?;
    let len_off = libc::off_t::try_from(len)
        .map_err(|_| StoreError::InvalidOptions("file size does not fit off_t"))?;
    // SAFETY: plain syscall on a descriptor we own.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len_off) };
    // Some file systems (tmpfs on old kernels, some network FS) do not support it; the file is
    // still sized by set_len, only the early ENOSPC guarantee is lost.
    if rc != 0 && rc != libc::EOPNOTSUPP && rc != libc::EINVAL {
        return Err(StoreError::io(
            "posix_fallocate",
            path,
            std::io::Error::from_raw_os_error(rc),
        ));
    }
    Ok(())
}

pub(crate) fn open_rw(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| StoreError::io("open", path, e))
}

pub(crate) fn file_len(file: &File, path: &Path) -> Result<u64, StoreError> {
    Ok(file
        .metadata()
        .map_err(|e| StoreError::io("stat", path, e))?
        .len())
}

pub(crate) fn map(
    file: &File,
    path: &Path,
    len: u64,
    populate: bool,
) -> Result<MmapRaw, StoreError> {
    let len = usize::try_from(len).map_err(|_| StoreError::InvalidOptions("mapping too large"))?;
    let mut opts = MmapOptions::new();
    opts.len(len);
    if populate {
        opts.populate();
    }
    opts.map_raw(file)
        .map_err(|e| StoreError::io("mmap", path, e))
}

/// Faults in every page of `map` from byte `from` on, writable, so that the writer's appends
/// take no page faults: on a shared file mapping the first write to each page faults even after
/// `MAP_POPULATE`, which maps pages read-only (measured on this class of virtual machine: a
/// 256-byte append into a fresh 16 MiB segment costs 150 - 200 ns on average without this, 134 -
/// 171 ns with `MAP_POPULATE`, 5 - 7 ns after this, which takes about 9 ms per 16 MiB). For a
/// maintenance thread, on a segment the writer does not see yet. `MADV_POPULATE_WRITE` (Linux
/// 5.14); before that, one write per page of the byte already there.
pub(crate) fn prefault_writable(map: &MmapRaw, from: usize) {
    const PAGE: usize = 4096;
    let len = map.len();
    let start = from.next_multiple_of(PAGE).min(len);
    if start == len {
        return;
    }
    // SAFETY: the range lies within the mapping, which outlives the call; the advice changes
    // no contents.
    let rc = unsafe {
        libc::madvise(
            map.as_mut_ptr().add(start).cast(),
            len - start,
            libc::MADV_POPULATE_WRITE,
        )
    };
    if rc == 0 {
        return;
    }
    for off in (start..len).step_by(PAGE) {
        // SAFETY: within the mapping; nothing else writes to this segment yet (the caller's
        // contract), and the byte written is the byte read.
        unsafe {
            let p = map.as_mut_ptr().add(off);
            p.write_volatile(p.read_volatile());
        }
    }
}

/// How far ahead of a journal's write position [`prefetch_for_write`] asks for lines: one
/// typical record (an order or execution report and its header).
pub(crate) const NEXT_RECORD_BYTES: usize = 320;

/// Asks the CPU to fetch the cache lines of `len` bytes at `p` for writing, without waiting: an
/// append into lines never written before otherwise stalls on fetching them (measured in the
/// round-trip benchmark: the journal append took 430 - 620 cycles per message, 290 - 340 with
/// this). A hint: it faults nothing and changes no memory.
#[inline]
pub(crate) fn prefetch_for_write(p: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let start = p as usize & !63;
        let end = p as usize + len;
        let mut line = start;
        while line < end {
            // SAFETY: a prefetch is a hint that never faults, whatever the address.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_ET0 }>(
                    line as *const i8,
                );
            }
            line += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, len);
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    let d = File::open(dir).map_err(|e| StoreError::io("open", dir, e))?;
    d.sync_all().map_err(|e| StoreError::io("fsync", dir, e))
}

/// The `AtomicU64` at byte `off` of a mapping.
///
/// Callers guarantee `off + 8 <= map.len()` and `off % 8 == 0` (all layouts in this crate are
/// 8-aligned and mappings are page-aligned); this is checked in debug builds.
#[inline(always)]
pub(crate) fn word(map: &MmapRaw, off: usize) -> &AtomicU64 {
    debug_assert!(off.is_multiple_of(8) && off + 8 <= map.len());
    // SAFETY: in bounds and 8-aligned (above); the mapping lives as long as `map`, and every
    // access in this process to these bytes goes through atomics or through the single owner
    // of the store (the flock keeps other processes out).
    unsafe { &*(map.as_mut_ptr().add(off) as *const AtomicU64) }
}

#[inline(always)]
pub(crate) fn load(map: &MmapRaw, off: usize) -> u64 {
    word(map, off).load(Ordering::Acquire)
}

#[inline(always)]
pub(crate) fn store(map: &MmapRaw, off: usize, v: u64) {
    word(map, off).store(v, Ordering::Release)
}

/// Borrow of `len` bytes at `off` of a mapping. Callers guarantee the range is in bounds.
#[inline(always)]
pub(crate) fn bytes(map: &MmapRaw, off: usize, len: usize) -> &[u8] {
    assert!(off.checked_add(len).is_some_and(|end| end <= map.len()));
    // SAFETY: in bounds (asserted); lifetime tied to `map`. Only the owning store writes here and
    // it does not write while this borrow is alive (reads and writes both need the store).
    unsafe { std::slice::from_raw_parts(map.as_ptr().add(off), len) }
}

#[inline(always)]
pub(crate) fn write_bytes(map: &MmapRaw, off: usize, src: &[u8]) {
    assert!(
        off.checked_add(src.len())
            .is_some_and(|end| end <= map.len())
    );
    // SAFETY: in bounds (asserted); `src` cannot alias the mapping's bytes being written because
    // callers pass message buffers owned by the engine.
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), map.as_mut_ptr().add(off), src.len()) }
}

pub(crate) fn zero_bytes(map: &MmapRaw, off: usize, len: usize) {
    assert!(off.checked_add(len).is_some_and(|end| end <= map.len()));
    // SAFETY: in bounds (asserted).
    unsafe { std::ptr::write_bytes(map.as_mut_ptr().add(off), 0, len) }
}

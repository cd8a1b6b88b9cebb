//! FIX message logs: one file per session, one message per line, in and out.
//!
//! A line is `<UTC timestamp, microseconds> <IN|OUT> <the message as on the wire>`; fields stay
//! separated by SOH (`tr '\001' '|' < FILE` shows them). Files are opened in append mode at
//! `<MessageLog>/<session name>.messages.log`.
//!
//! Recording runs on the engine's I/O threads, so it must neither block nor touch the disk nor
//! allocate once warmed up: a message is copied into a recycled buffer and handed to the single
//! writer thread (`fixd-msglog`) through a bounded queue. When the queue or the buffer pool is
//! exhausted the line is dropped and counted ([`MessageLogs::dropped`]); the FIX session never
//! waits for its log.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use fix_codec::{TimePrecision, UtcTimestamp};

/// Most lines queued for the writer thread (and most buffers ever allocated).
pub const QUEUE_CAPACITY: usize = 8192;
/// Buffers grown beyond this are freed after use instead of recycled, bounding retained memory.
pub const MAX_RETAINED_BUFFER: usize = 64 * 1024;
/// How often the writer flushes its files while lines keep coming (and at once when idle).
const FLUSH_INTERVAL: Duration = Duration::from_millis(200);

/// Direction of a logged message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received from the counterparty.
    In,
    /// Sent to the counterparty.
    Out,
}

struct Record {
    file: usize,
    dir: Direction,
    at: UtcTimestamp,
    buf: Vec<u8>,
}

struct Shared {
    tx: Sender<Record>,
    pool_tx: Sender<Vec<u8>>,
    pool_rx: Receiver<Vec<u8>>,
    allocated: AtomicUsize,
    dropped: AtomicU64,
    written: AtomicU64,
    stop: AtomicBool,
}

impl Shared {
    fn recycle(&self, mut buf: Vec<u8>) {
        if buf.capacity() > MAX_RETAINED_BUFFER {
            self.allocated.fetch_sub(1, Ordering::AcqRel);
            return;
        }
        buf.clear();
        // The pool can hold every buffer ever allocated, so this never fails for lack of room.
        let _ = self.pool_tx.try_send(buf);
    }
}

/// The writer thread and the files it owns. [`MessageLogs::stop`] (or dropping it) writes out
/// every queued line and closes the files.
pub struct MessageLogs {
    shared: Arc<Shared>,
    paths: Vec<PathBuf>,
    join: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MessageLogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageLogs")
            .field("files", &self.paths)
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

/// The message logs' counters, shareable with other threads.
#[derive(Clone)]
pub struct LogCounters(Arc<Shared>);

impl std::fmt::Debug for LogCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogCounters")
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl LogCounters {
    /// Lines dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.0.dropped.load(Ordering::Relaxed)
    }

    /// Lines written so far.
    pub fn written(&self) -> u64 {
        self.0.written.load(Ordering::Relaxed)
    }
}

/// One session's side of the message log: cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct SessionLog {
    shared: Arc<Shared>,
    file: usize,
}

impl std::fmt::Debug for SessionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionLog")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// The log file of session `name` under `dir`.
pub fn log_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.messages.log"))
}

impl MessageLogs {
    /// Opens (creating directories, appending) one file per `(directory, session name)` and
    /// starts the writer thread. Returns the per-session loggers in the same order.
    ///
    /// # Errors
    /// A directory or file that cannot be created or opened, naming its path.
    pub fn start(sessions: &[(PathBuf, String)]) -> Result<(Self, Vec<SessionLog>), String> {
        let mut files = Vec::with_capacity(sessions.len());
        let mut paths = Vec::with_capacity(sessions.len());
        for (dir, name) in sessions {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("message log directory {}: {e}", dir.display()))?;
            let path = log_path(dir, name);
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| format!("message log {}: {e}", path.display()))?;
            files.push(BufWriter::with_capacity(64 * 1024, f));
            paths.push(path);
        }
        let (tx, rx) = crossbeam_channel::bounded(QUEUE_CAPACITY);
        let (pool_tx, pool_rx) = crossbeam_channel::bounded(QUEUE_CAPACITY);
        let shared = Arc::new(Shared {
            tx,
            pool_tx,
            pool_rx,
            allocated: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            written: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let writer = Arc::clone(&shared);
        let names = paths.clone();
        let join = std::thread::Builder::new()
            .name("fixd-msglog".into())
            .spawn(move || write_loop(&writer, &rx, files, &names))
            .map_err(|e| format!("cannot start the message log thread: {e}"))?;
        let logs = (0..sessions.len())
            .map(|file| SessionLog {
                shared: Arc::clone(&shared),
                file,
            })
            .collect();
        Ok((
            Self {
                shared,
                paths,
                join: Some(join),
            },
            logs,
        ))
    }

    /// The files being written, in the order given to [`MessageLogs::start`].
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Counters that outlive a borrow of this value (for status reports on other threads).
    pub fn counters(&self) -> LogCounters {
        LogCounters(Arc::clone(&self.shared))
    }

    /// Lines dropped because the writer fell behind (queue or buffer pool exhausted).
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Lines written so far.
    pub fn written(&self) -> u64 {
        self.shared.written.load(Ordering::Relaxed)
    }

    /// Writes out what is queued, flushes and closes every file, and joins the writer. Call it
    /// after the engine stopped, so no more lines arrive. Idempotent.
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

impl Drop for MessageLogs {
    fn drop(&mut self) {
        self.stop();
    }
}

fn write_loop(
    shared: &Shared,
    rx: &Receiver<Record>,
    mut files: Vec<BufWriter<File>>,
    paths: &[PathBuf],
) {
    let mut dirty = false;
    let mut last_flush = std::time::Instant::now();
    let mut failed = vec![false; files.len()];
    let mut ts = [0u8; 32];
    loop {
        match rx.recv_timeout(FLUSH_INTERVAL) {
            Ok(r) => {
                if let Some(f) = files.get_mut(r.file)
                    && !failed[r.file]
                {
                    let n = r.at.format_into(TimePrecision::Micros, &mut ts);
                    let dir: &[u8] = match r.dir {
                        Direction::In => b" IN  ",
                        Direction::Out => b" OUT ",
                    };
                    let res = f
                        .write_all(&ts[..n])
                        .and_then(|()| f.write_all(dir))
                        .and_then(|()| f.write_all(&r.buf))
                        .and_then(|()| f.write_all(b"\n"));
                    if let Err(e) = res {
                        // One warning per file, not one per line: the disk is full or gone.
                        tracing::warn!(
                            file = %paths[r.file].display(),
                            error = %e,
                            "message log write failed; this file is no longer written"
                        );
                        failed[r.file] = true;
                    } else {
                        shared.written.fetch_add(1, Ordering::Relaxed);
                    }
                    dirty = true;
                }
                shared.recycle(r.buf);
                if dirty && last_flush.elapsed() >= FLUSH_INTERVAL {
                    flush_all(&mut files);
                    dirty = false;
                    last_flush = std::time::Instant::now();
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                if dirty {
                    flush_all(&mut files);
                    dirty = false;
                    last_flush = std::time::Instant::now();
                }
                if shared.stop.load(Ordering::Acquire) {
                    break;
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if shared.stop.load(Ordering::Acquire) && rx.is_empty() {
            break;
        }
    }
    flush_all(&mut files);
}

fn flush_all(files: &mut [BufWriter<File>]) {
    for f in files {
        let _ = f.flush();
    }
}

impl SessionLog {
    /// Queues one message for the log. Never blocks; allocation-free once the buffer pool is
    /// warm. A message that cannot be queued is counted as dropped.
    pub fn record(&self, dir: Direction, msg: &[u8]) {
        let s = &*self.shared;
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(UtcTimestamp::UNIX_EPOCH, |d| {
                UtcTimestamp::from_unix_nanos(d.as_nanos() as i128)
            });
        let mut buf = match s.pool_rx.try_recv() {
            Ok(b) => b,
            Err(_) => {
                if s.allocated.fetch_add(1, Ordering::AcqRel) >= QUEUE_CAPACITY {
                    s.allocated.fetch_sub(1, Ordering::AcqRel);
                    s.dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Vec::with_capacity(512)
            }
        };
        buf.extend_from_slice(msg);
        let rec = Record {
            file: self.file,
            dir,
            at,
            buf,
        };
        match s.tx.try_send(rec) {
            Ok(()) => {}
            Err(TrySendError::Full(r) | TrySendError::Disconnected(r)) => {
                s.dropped.fetch_add(1, Ordering::Relaxed);
                s.recycle(r.buf);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_one_line_per_message_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let sessions = vec![
            (dir.path().join("logs"), "A".to_owned()),
            (dir.path().join("logs"), "B".to_owned()),
        ];
        let (mut logs, loggers) = MessageLogs::start(&sessions).unwrap();
        loggers[0].record(Direction::Out, b"8=FIX.4.4\x0135=A\x01");
        loggers[1].record(Direction::In, b"8=FIX.4.2\x0135=0\x01");
        loggers[0].record(Direction::In, b"8=FIX.4.4\x0135=A\x01");
        logs.stop();
        assert_eq!(logs.written(), 3);
        assert_eq!(logs.dropped(), 0);
        let a = std::fs::read(log_path(&dir.path().join("logs"), "A")).unwrap();
        let lines: Vec<&[u8]> = a.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].ends_with(b" OUT 8=FIX.4.4\x0135=A\x01"));
        assert!(lines[1].ends_with(b" IN  8=FIX.4.4\x0135=A\x01"));
        // `YYYYMMDD-HH:MM:SS.ssssss` then the direction.
        assert_eq!(lines[0][8], b'-');
        assert_eq!(lines[0][24], b' ');
        let b = std::fs::read(log_path(&dir.path().join("logs"), "B")).unwrap();
        assert!(b.ends_with(b" IN  8=FIX.4.2\x0135=0\x01\n"));
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let (mut logs, loggers) =
            MessageLogs::start(&[(dir.path().to_owned(), "S".to_owned())]).unwrap();
        // Far more than the queue holds, faster than any disk: some may drop, none may block.
        let n = QUEUE_CAPACITY * 4;
        for _ in 0..n {
            loggers[0].record(Direction::Out, b"8=FIX.4.4\x0135=0\x01");
        }
        logs.stop();
        assert_eq!(logs.written() + logs.dropped(), n as u64);
        let text = std::fs::read(log_path(dir.path(), "S")).unwrap();
        assert_eq!(
            text.iter().filter(|&&b| b == b'\n').count() as u64,
            logs.written()
        );
    }

    #[test]
    fn an_unwritable_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain-file");
        std::fs::write(&file, b"x").unwrap();
        let e = MessageLogs::start(&[(file.join("sub"), "S".to_owned())]).unwrap_err();
        assert!(e.contains("plain-file"), "{e}");
    }
}

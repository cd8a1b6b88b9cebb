//! Per-session FIX message logs (`MessageLog = <directory>`).
//!
//! # Format
//! One file per session identity, `<MessageLog>/<encoded identity>.messages.log` (the identity is
//! `BeginString-SenderCompID-TargetCompID`, encoded as for storage directories by
//! [`fix_store::encode_identity`]), opened in append mode: a session released and created again,
//! or an engine restarted, continues the same file. One message per line:
//!
//! ```text
//! 20240102-09:30:00.123456 IN  8=FIX.4.4^A9=...^A35=A^A...^A10=123^A
//! 20240102-09:30:00.123789 OUT 8=FIX.4.4^A9=...^A35=A^A...^A10=045^A
//! ```
//!
//! a UTC timestamp with microseconds (taken on the I/O thread when the message was sent or
//! received), the direction (`IN ` or `OUT`, padded to the same width), and the message exactly as
//! on the wire with its SOH separators kept (`tr '\001' '|' < FILE` shows them), except that the
//! values of `Password <554>`, `NewPassword <925>`, `EncryptedPassword <1402>` and
//! `EncryptedNewPassword <1404>` are replaced by `***`. `IN` lines are every complete frame the
//! session took from the connection, including messages it then rejected or ignored; `OUT` lines
//! are every message written to a connection, resends included.
//!
//! # Threads and bounds
//! The I/O thread never touches the disk and never waits for the log: it copies the message into
//! a buffer taken from a pre-allocated free list and pushes it on a bounded lock-free queue
//! ([`MESSAGE_LOG_QUEUE`] entries per engine). One writer thread per engine (`fix-msglog`,
//! started with the first session that logs) writes through a `BufWriter` and flushes every
//! [`FLUSH_INTERVAL`] and when idle. When the queue or the free list is exhausted the line is
//! dropped and counted (per session and per engine; the writer warns through `tracing`), never
//! waited for. Buffers start at [`MESSAGE_LOG_BUFFER`] bytes; one grows (allocates) only for a
//! larger message and keeps that size up to [`MAX_RETAINED_BUFFER`], so after warm-up logging
//! allocates nothing on the I/O thread.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use fix_codec::{TimePrecision, UtcTimestamp};
use parking_lot::Mutex;

use crate::error::EngineError;

/// Lines queued for the writer (and buffers pre-allocated) per engine.
pub const MESSAGE_LOG_QUEUE: usize = 4096;
/// Initial capacity of each pre-allocated line buffer.
pub const MESSAGE_LOG_BUFFER: usize = 512;
/// A buffer grown beyond this is shrunk back (on the writer thread) before it is reused.
pub const MAX_RETAINED_BUFFER: usize = 64 << 10;
/// How often the writer flushes while lines keep coming; it also flushes whenever it runs idle.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// Most lines the writer handles before it looks at the clock again.
const BATCH: usize = 1024;
/// Tags whose values never reach a log file.
const SECRET_TAGS: [&[u8]; 4] = [b"554=", b"925=", b"1402=", b"1404="];

/// Direction of a logged message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Received from the counterparty.
    In,
    /// Sent to the counterparty.
    Out,
}

/// One open log file, shared by the sessions (one at a time) with its identity.
struct LogFile {
    path: PathBuf,
    /// Only the writer thread locks it (and `open` never does), so it is never contended.
    out: Mutex<FileOut>,
    dropped: AtomicU64,
}

struct FileOut {
    w: BufWriter<File>,
    failed: bool,
}

struct Line {
    file: Arc<LogFile>,
    dir: Direction,
    unix_nanos: u64,
    buf: Vec<u8>,
}

enum Msg {
    Line(Line),
    /// Makes the writer look at its stop flag now.
    Wake,
}

struct Writer {
    tx: Sender<Msg>,
    pool_tx: Sender<Vec<u8>>,
    pool_rx: Receiver<Vec<u8>>,
    /// Every open file; the writer closes those nobody else refers to any more.
    files: Mutex<Vec<Arc<LogFile>>>,
    dropped: AtomicU64,
    written: AtomicU64,
    stop: AtomicBool,
}

/// The running writer, and its thread until [`MessageLogs::stop`] joined it.
type Running = (Arc<Writer>, Option<JoinHandle<()>>);

/// The engine's message logs: the writer thread and its files. Started on first use.
#[derive(Default)]
pub(crate) struct MessageLogs {
    inner: Mutex<Option<Running>>,
}

impl std::fmt::Debug for MessageLogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageLogs")
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

/// The log file name for a session identity.
pub(crate) fn log_file_name(identity: &str) -> Result<String, EngineError> {
    Ok(format!(
        "{}.messages.log",
        fix_store::encode_identity(identity)?
    ))
}

impl MessageLogs {
    /// Opens (appending, creating the directory) the log of `identity` under `dir`, starting the
    /// writer thread if needed. Touches the disk: never call it on an I/O thread.
    pub(crate) fn open(&self, dir: &Path, identity: &str) -> Result<SessionLog, EngineError> {
        let mut inner = self.inner.lock();
        let writer = match &*inner {
            Some((w, Some(_))) => Arc::clone(w),
            Some((_, None)) => return Err(EngineError::Stopped),
            None => {
                let (w, j) = start_writer()?;
                *inner = Some((Arc::clone(&w), Some(j)));
                w
            }
        };
        drop(inner);
        std::fs::create_dir_all(dir)
            .map_err(|e| EngineError::io(format!("message log directory {}", dir.display()), e))?;
        // One `LogFile` per path, so a re-created session appends through the same buffer and
        // its lines stay in order behind the ones of its predecessor.
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
        let path = dir.join(log_file_name(identity)?);
        let mut files = writer.files.lock();
        let file = match files.iter().find(|f| f.path == path) {
            Some(f) => Arc::clone(f),
            None => {
                let f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|e| EngineError::io(format!("message log {}", path.display()), e))?;
                let f = Arc::new(LogFile {
                    path,
                    out: Mutex::new(FileOut {
                        w: BufWriter::with_capacity(64 << 10, f),
                        failed: false,
                    }),
                    dropped: AtomicU64::new(0),
                });
                files.push(Arc::clone(&f));
                f
            }
        };
        drop(files);
        Ok(SessionLog { writer, file })
    }

    /// Lines dropped by every session of this engine because the writer fell behind.
    pub(crate) fn dropped(&self) -> u64 {
        self.inner
            .lock()
            .as_ref()
            .map_or(0, |(w, _)| w.dropped.load(Ordering::Relaxed))
    }

    /// Writes out what is queued, flushes and closes the files, joins the writer. Call it once
    /// the I/O threads are gone. Idempotent; `open` fails afterwards.
    pub(crate) fn stop(&self) {
        let join = {
            let mut inner = self.inner.lock();
            match inner.as_mut() {
                Some((w, j)) => {
                    w.stop.store(true, Ordering::Release);
                    let _ = w.tx.try_send(Msg::Wake);
                    j.take()
                }
                None => None,
            }
        };
        if let Some(j) = join {
            let _ = j.join();
        }
    }
}

impl Drop for MessageLogs {
    fn drop(&mut self) {
        self.stop();
    }
}

fn start_writer() -> Result<(Arc<Writer>, JoinHandle<()>), EngineError> {
    let (tx, rx) = crossbeam_channel::bounded(MESSAGE_LOG_QUEUE);
    let (pool_tx, pool_rx) = crossbeam_channel::bounded(MESSAGE_LOG_QUEUE);
    for _ in 0..MESSAGE_LOG_QUEUE {
        let _ = pool_tx.try_send(Vec::with_capacity(MESSAGE_LOG_BUFFER));
    }
    let w = Arc::new(Writer {
        tx,
        pool_tx,
        pool_rx,
        files: Mutex::new(Vec::new()),
        dropped: AtomicU64::new(0),
        written: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let writer = Arc::clone(&w);
    let j = std::thread::Builder::new()
        .name("fix-msglog".into())
        .spawn(move || write_loop(&writer, &rx))
        .map_err(|e| EngineError::io("spawn message log thread", e))?;
    Ok((w, j))
}

fn write_loop(w: &Writer, rx: &Receiver<Msg>) {
    let mut ts = [0u8; 32];
    let mut last_flush = Instant::now();
    let mut reported_drops = 0;
    loop {
        let mut idle = false;
        match rx.recv_timeout(FLUSH_INTERVAL) {
            Ok(m) => {
                w.handle(m, &mut ts);
                // Bounded batch: the clock and the stop flag are looked at between batches.
                for _ in 0..BATCH {
                    match rx.try_recv() {
                        Ok(m) => w.handle(m, &mut ts),
                        Err(_) => {
                            idle = true;
                            break;
                        }
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => idle = true,
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if idle || last_flush.elapsed() >= FLUSH_INTERVAL {
            w.flush_and_reap();
            last_flush = Instant::now();
            let dropped = w.dropped.load(Ordering::Relaxed);
            if dropped != reported_drops {
                tracing::warn!(
                    dropped = dropped - reported_drops,
                    total = dropped,
                    "message log lines dropped: the log writer fell behind"
                );
                reported_drops = dropped;
            }
        }
        if w.stop.load(Ordering::Acquire) && rx.is_empty() {
            break;
        }
    }
    // Whatever the I/O threads queued before they stopped.
    while let Ok(m) = rx.try_recv() {
        w.handle(m, &mut ts);
    }
    w.flush_and_reap();
    w.files.lock().clear();
}

impl Writer {
    fn handle(&self, m: Msg, ts: &mut [u8; 32]) {
        let Msg::Line(line) = m else { return };
        {
            let mut out = line.file.out.lock();
            if !out.failed {
                let at = UtcTimestamp::from_unix_nanos(i128::from(line.unix_nanos));
                let n = at.format_into(TimePrecision::Micros, ts);
                let dir: &[u8] = match line.dir {
                    Direction::In => b" IN  ",
                    Direction::Out => b" OUT ",
                };
                let w = &mut out.w;
                let r = w
                    .write_all(&ts[..n])
                    .and_then(|()| w.write_all(dir))
                    .and_then(|()| write_masked(w, &line.buf))
                    .and_then(|()| w.write_all(b"\n"));
                match r {
                    Ok(()) => {
                        self.written.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        // Once per file: the disk is full or gone; the session goes on unlogged.
                        tracing::error!(file = %line.file.path.display(), error = %e,
                            "message log write failed; this file is no longer written");
                        out.failed = true;
                    }
                }
            }
        }
        self.recycle(line.buf);
    }

    fn recycle(&self, mut buf: Vec<u8>) {
        buf.clear();
        if buf.capacity() > MAX_RETAINED_BUFFER {
            buf.shrink_to(MESSAGE_LOG_BUFFER);
        }
        // The free list has room for every buffer there is.
        let _ = self.pool_tx.try_send(buf);
    }

    /// Flushes every file, and closes those no session (and no queued line) refers to any more.
    fn flush_and_reap(&self) {
        let mut files = self.files.lock();
        files.retain(|f| {
            let mut out = f.out.lock();
            if !out.failed && out.w.flush().is_err() {
                out.failed = true;
            }
            Arc::strong_count(f) > 1
        });
    }
}

/// Writes `msg` with the values of [`SECRET_TAGS`] replaced by `***`.
fn write_masked(w: &mut impl Write, msg: &[u8]) -> std::io::Result<()> {
    let mut start = 0; // first byte not yet written
    let mut field = 0; // start of the current field
    while field < msg.len() {
        let end = msg[field..]
            .iter()
            .position(|&b| b == fix_codec::SOH)
            .map_or(msg.len(), |p| field + p);
        let f = &msg[field..end];
        if let Some(tag) = SECRET_TAGS.iter().find(|t| f.starts_with(t)) {
            let value = field + tag.len();
            w.write_all(&msg[start..value])?;
            w.write_all(b"***")?;
            start = end;
        }
        field = end + 1;
    }
    w.write_all(&msg[start.min(msg.len())..])
}

/// One session's side of the message log. Recording never blocks and, once the free list is
/// warm, never allocates.
pub(crate) struct SessionLog {
    writer: Arc<Writer>,
    file: Arc<LogFile>,
}

impl std::fmt::Debug for SessionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionLog")
            .field("path", &self.file.path)
            .finish_non_exhaustive()
    }
}

impl SessionLog {
    /// Queues one message. Called on the I/O thread.
    #[inline]
    pub(crate) fn record(&self, dir: Direction, msg: &[u8]) {
        let w = &*self.writer;
        let Ok(mut buf) = w.pool_rx.try_recv() else {
            self.drop_line();
            return;
        };
        buf.extend_from_slice(msg);
        let line = Line {
            file: Arc::clone(&self.file),
            dir,
            unix_nanos: crate::clock::unix_nanos(),
            buf,
        };
        match w.tx.try_send(Msg::Line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(m) | TrySendError::Disconnected(m)) => {
                self.drop_line();
                if let Msg::Line(l) = m {
                    let mut b = l.buf;
                    b.clear();
                    let _ = w.pool_tx.try_send(b);
                }
            }
        }
    }

    #[cold]
    fn drop_line(&self) {
        self.file.dropped.fetch_add(1, Ordering::Relaxed);
        self.writer.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Lines of this session's file dropped so far (also those of earlier sessions with the same
    /// identity in this engine while the file stayed open).
    pub(crate) fn dropped(&self) -> u64 {
        self.file.dropped.load(Ordering::Relaxed)
    }

    /// The file.
    pub(crate) fn path(&self) -> &Path {
        &self.file.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(s: &str) -> String {
        let msg = s.replace('|', "\u{1}");
        let mut out = Vec::new();
        write_masked(&mut out, msg.as_bytes()).unwrap();
        String::from_utf8(out).unwrap().replace('\u{1}', "|")
    }

    #[test]
    fn secrets_are_masked_and_everything_else_is_kept() {
        assert_eq!(
            masked("8=FIX.4.4|35=A|553=user|554=pa=ss|98=0|10=000|"),
            "8=FIX.4.4|35=A|553=user|554=***|98=0|10=000|"
        );
        assert_eq!(
            masked("554=x|925=y|1402=z|1404=w|"),
            "554=***|925=***|1402=***|1404=***|"
        );
        // Tags that merely contain the digits, values that look like tags, a secret at the end
        // without SOH.
        assert_eq!(
            masked("1554=a|5540=b|58=554=c|554=end"),
            "1554=a|5540=b|58=554=c|554=***"
        );
        assert_eq!(masked(""), "");
        assert_eq!(masked("|||"), "|||");
    }

    #[test]
    fn lines_are_written_in_order_with_direction_and_time() {
        let dir = tempfile::tempdir().unwrap();
        let logs = MessageLogs::default();
        let a = logs.open(dir.path(), "FIX.4.4-A-B").unwrap();
        a.record(Direction::Out, b"8=FIX.4.4\x0135=A\x01554=secret\x01");
        a.record(Direction::In, b"8=FIX.4.4\x0135=A\x01");
        // The same identity again (a re-created session) shares the file and its order.
        let again = logs.open(dir.path(), "FIX.4.4-A-B").unwrap();
        assert_eq!(again.path(), a.path());
        again.record(Direction::Out, b"8=FIX.4.4\x0135=5\x01");
        logs.stop();
        assert!(logs.open(dir.path(), "FIX.4.4-A-C").is_err(), "stopped");
        let text = std::fs::read_to_string(dir.path().join("FIX.4.4-A-B.messages.log")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(&lines[0][24..], " OUT 8=FIX.4.4\u{1}35=A\u{1}554=***\u{1}");
        assert_eq!(&lines[1][24..], " IN  8=FIX.4.4\u{1}35=A\u{1}");
        assert_eq!(&lines[2][24..], " OUT 8=FIX.4.4\u{1}35=5\u{1}");
        assert!(
            UtcTimestamp::parse(&lines[0].as_bytes()[..24]).is_some(),
            "{}",
            lines[0]
        );
        assert!(!text.contains("secret"));
        assert_eq!(a.dropped(), 0);
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let logs = MessageLogs::default();
        let a = logs.open(dir.path(), "FIX.4.4-A-B").unwrap();
        // Hold the file so the writer stalls on the first line and the queue fills up.
        let guard = a.file.out.lock();
        let n = MESSAGE_LOG_QUEUE * 3;
        let t = Instant::now();
        for _ in 0..n {
            a.record(Direction::Out, b"8=FIX.4.4\x0135=0\x01");
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "recording must not block"
        );
        drop(guard);
        let dropped = a.dropped();
        assert!(
            dropped >= (n - 2 * MESSAGE_LOG_QUEUE - 1) as u64,
            "{dropped}"
        );
        assert_eq!(logs.dropped(), dropped);
        logs.stop();
        let text = std::fs::read_to_string(a.path()).unwrap();
        assert_eq!(text.lines().count() as u64 + dropped, n as u64);
    }
}

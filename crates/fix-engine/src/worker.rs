//! The worker pool: heavy or blocking work that must never run on an I/O thread (creating
//! sessions for unregistered acceptors, opening stores, background `msync`, creating journal
//! segments ahead of need).

use std::collections::VecDeque;
use std::sync::Weak;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError, select};
use fix_store::FlushHandle;

use crate::error::EngineError;
use crate::handle::SessionShared;

/// Most jobs queued for the pool; beyond it [`WorkerPool::submit`] refuses.
pub const WORKER_QUEUE_CAPACITY: usize = 1024;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A fixed pool of threads named `fix-worker-N`, plus `fix-worker-flush` for interval durability.
#[derive(Debug)]
pub(crate) struct WorkerPool {
    tx: Option<Sender<Job>>,
    flush_tx: Option<Sender<FlushTask>>,
    prepare_tx: Option<Sender<FlushHandle>>,
    journal_tx: Option<Sender<FlushHandle>>,
    threads: Vec<JoinHandle<()>>,
}

/// A store's request line to the maintenance thread: the I/O thread sends the handle (an `Arc`
/// clone into a preallocated bounded queue, so no allocation) when the store's active journal
/// segment passes half full, and the maintenance thread creates the next segment file.
#[derive(Debug, Clone)]
pub(crate) struct SegmentPrep {
    pub handle: FlushHandle,
    pub tx: Sender<FlushHandle>,
}

impl SegmentPrep {
    /// Asks for the next segment; never blocks. A full queue only means the writer creates the
    /// segment itself at the roll.
    #[inline]
    pub(crate) fn request(&self) {
        let _ = self.tx.try_send(self.handle.clone());
    }
}

/// A store to flush every `interval` while its session lives.
pub(crate) struct FlushTask {
    pub handle: FlushHandle,
    pub interval: Duration,
    pub session: Weak<SessionShared>,
}

impl WorkerPool {
    pub(crate) fn new(workers: usize) -> Result<Self, EngineError> {
        let (tx, rx) = crossbeam_channel::bounded::<Job>(WORKER_QUEUE_CAPACITY);
        let mut threads = Vec::new();
        for i in 0..workers.max(1) {
            let rx: Receiver<Job> = rx.clone();
            let t = std::thread::Builder::new()
                .name(format!("fix-worker-{i}"))
                .spawn(move || {
                    // Ends when every sender is gone.
                    while let Ok(job) = rx.recv() {
                        job();
                    }
                })
                .map_err(|e| EngineError::io("spawn worker thread", e))?;
            threads.push(t);
        }
        let (flush_tx, flush_rx) = crossbeam_channel::bounded::<FlushTask>(WORKER_QUEUE_CAPACITY);
        let (prepare_tx, prepare_rx) =
            crossbeam_channel::bounded::<FlushHandle>(WORKER_QUEUE_CAPACITY);
        let (journal_tx, journal_rx) =
            crossbeam_channel::bounded::<FlushHandle>(WORKER_QUEUE_CAPACITY);
        let t = std::thread::Builder::new()
            .name("fix-worker-flush".into())
            .spawn(move || flush_loop(flush_rx, prepare_rx, journal_rx))
            .map_err(|e| EngineError::io("spawn flush thread", e))?;
        threads.push(t);
        Ok(Self {
            tx: Some(tx),
            flush_tx: Some(flush_tx),
            prepare_tx: Some(prepare_tx),
            journal_tx: Some(journal_tx),
            threads,
        })
    }

    /// Queues a job. Never blocks.
    pub(crate) fn submit(&self, job: impl FnOnce() + Send + 'static) -> Result<(), EngineError> {
        let tx = self.tx.as_ref().ok_or(EngineError::Stopped)?;
        tx.try_send(Box::new(job)).map_err(|e| match e {
            TrySendError::Full(_) => EngineError::Backpressure,
            TrySendError::Disconnected(_) => EngineError::Stopped,
        })
    }

    /// Registers a store for periodic flushing.
    pub(crate) fn flush_periodically(&self, task: FlushTask) {
        if let Some(tx) = &self.flush_tx
            && tx.try_send(task).is_err()
        {
            tracing::warn!("flush queue full: a store will only be flushed by the OS");
        }
    }

    /// The request line for creating `handle`'s journal segments ahead of need.
    pub(crate) fn segment_prep(&self, handle: FlushHandle) -> Option<SegmentPrep> {
        self.prepare_tx.as_ref().map(|tx| SegmentPrep {
            handle,
            tx: tx.clone(),
        })
    }

    /// Has the maintenance thread create a new store's journal files (which the store creates
    /// only when first needed), once session creation pauses: during a logon storm that file
    /// work would compete with the store opens the Logons wait for. Never blocks; when the queue
    /// is full the store's first journaled message creates them instead.
    pub(crate) fn prepare_journal(&self, handle: FlushHandle) {
        if let Some(tx) = &self.journal_tx {
            let _ = tx.try_send(handle);
        }
    }

    /// Stops taking jobs, lets queued ones finish, and joins the threads.
    pub(crate) fn shutdown(&mut self) {
        self.tx = None;
        self.flush_tx = None;
        self.prepare_tx = None;
        self.journal_tx = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Most stores one flush thread looks after.
const MAX_FLUSH_TASKS: usize = 65_536;

/// Longest the maintenance thread sleeps without a flush due (it wakes earlier for requests).
const IDLE_WAKE: Duration = Duration::from_secs(3600);

/// Quiet time in session creation after which deferred journal creations run.
const JOURNAL_QUIET: Duration = Duration::from_millis(20);
/// Longest a journal creation waits for that quiet.
const JOURNAL_MAX_DEFER: Duration = Duration::from_secs(2);
/// Journal creations per round; flushes and segment requests are served between rounds.
const JOURNAL_BATCH: usize = 8;
/// Most deferred journal creations held; beyond it the first journaled message creates them.
const MAX_DEFERRED_JOURNALS: usize = 65_536;

/// When the deferred journal creations run: after the quiet period, or when the oldest waited
/// too long.
fn journal_due_at(
    journals: &VecDeque<(FlushHandle, Instant)>,
    last_request: Instant,
) -> Option<Instant> {
    journals
        .front()
        .map(|(_, at)| (last_request + JOURNAL_QUIET).min(*at + JOURNAL_MAX_DEFER))
}

fn flush_loop(
    rx: Receiver<FlushTask>,
    prepare_rx: Receiver<FlushHandle>,
    journal_rx: Receiver<FlushHandle>,
) {
    let mut tasks: Vec<(FlushTask, Instant)> = Vec::new();
    let closed = crossbeam_channel::never::<FlushHandle>();
    let mut prepare_open = true;
    let mut journal_open = true;
    // (handle, requested at), oldest first.
    let mut journals: VecDeque<(FlushHandle, Instant)> = VecDeque::new();
    let mut last_journal_request = Instant::now();
    loop {
        let journal_due = journal_due_at(&journals, last_journal_request);
        if journal_due.is_some_and(|due| due <= Instant::now()) {
            for (h, _) in journals.drain(..JOURNAL_BATCH.min(journals.len())) {
                if let Err(e) = h.prepare_journal() {
                    tracing::warn!(error = %e, "creating a journal generation failed");
                }
            }
        }
        // With creations still due the wait below is zero: queued requests and due flushes are
        // served between batches.
        let journal_due = journal_due_at(&journals, last_journal_request);
        let next = tasks.iter().map(|(_, due)| *due).chain(journal_due).min();
        let wait = next.map_or(IDLE_WAKE, |due| {
            due.saturating_duration_since(Instant::now())
        });
        let prep = if prepare_open { &prepare_rx } else { &closed };
        let jrx = if journal_open { &journal_rx } else { &closed };
        let msg = select! {
            recv(rx) -> m => m.map_err(|_| RecvTimeoutError::Disconnected),
            recv(prep) -> h => {
                match h {
                    Ok(h) => {
                        if let Err(e) = h.prepare_next_segment() {
                            tracing::warn!(error = %e, "creating the next journal segment failed");
                        }
                    }
                    Err(_) => prepare_open = false,
                }
                continue;
            }
            recv(jrx) -> h => {
                match h {
                    Ok(h) => {
                        last_journal_request = Instant::now();
                        if journals.len() < MAX_DEFERRED_JOURNALS {
                            journals.push_back((h, last_journal_request));
                        }
                    }
                    Err(_) => journal_open = false,
                }
                continue;
            }
            default(wait) => Err(RecvTimeoutError::Timeout),
        };
        match msg {
            Ok(task) => {
                if tasks.len() < MAX_FLUSH_TASKS {
                    let due = Instant::now() + task.interval;
                    tasks.push((task, due));
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                // Engine stopping: one last flush so nothing written is left unsynced.
                for (t, _) in &tasks {
                    let _ = t.handle.flush();
                }
                return;
            }
        }
        let now = Instant::now();
        tasks.retain_mut(|(t, due)| {
            let alive = t
                .session
                .upgrade()
                .is_some_and(|s| !s.released.load(std::sync::atomic::Ordering::Acquire));
            if *due <= now {
                if let Err(e) = t.handle.flush() {
                    tracing::warn!(error = %e, "store flush failed");
                }
                *due = now + t.interval;
            }
            alive
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_on_named_worker_threads() {
        let mut pool = WorkerPool::new(2).unwrap();
        let (tx, rx) = crossbeam_channel::bounded(1);
        pool.submit(move || {
            let _ = tx.send(std::thread::current().name().map(str::to_owned));
        })
        .unwrap();
        let name = rx.recv_timeout(Duration::from_secs(5)).unwrap().unwrap();
        assert!(name.starts_with("fix-worker-"), "{name}");
        pool.shutdown();
        assert!(matches!(pool.submit(|| {}), Err(EngineError::Stopped)));
    }

    #[test]
    fn new_journals_are_created_once_session_creation_pauses() {
        use fix_store::{MmapStore, SessionStore, StoreOptions};
        let root = tempfile::tempdir().unwrap();
        let mut pool = WorkerPool::new(1).unwrap();
        let mut stores = Vec::new();
        for i in 0..3 {
            let s = MmapStore::open(
                root.path(),
                &format!("FIX.4.4-S{i}-T"),
                StoreOptions::default(),
                1,
            )
            .unwrap();
            pool.prepare_journal(s.flush_handle().unwrap());
            stores.push(s);
        }
        let journal = |s: &MmapStore| s.dir().join("journal.0000000001").join("00000000.seg");
        let t0 = Instant::now();
        while !stores.iter().all(|s| journal(s).exists()) {
            assert!(
                t0.elapsed() < JOURNAL_MAX_DEFER + Duration::from_secs(5),
                "journals not created"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        // Not before the quiet period after the last request.
        assert!(t0.elapsed() + Duration::from_millis(1) >= JOURNAL_QUIET);
        for (i, s) in stores.iter_mut().enumerate() {
            s.append_outbound(1, b"8=FIX.4.4\x0135=D\x01").unwrap();
            let mut n = 0;
            s.read_outbound(1, 1, &mut |_, _| n += 1).unwrap();
            assert_eq!(n, 1, "store {i}");
        }
        pool.shutdown();
    }
}

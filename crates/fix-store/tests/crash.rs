//! Crash test: a child process (this same binary, switched by an environment variable) appends
//! and updates in a loop and acknowledges each completed operation on a pipe; the parent kills it
//! with SIGKILL after a pseudo-random number of acknowledgements, reopens the store and checks
//! that nothing acknowledged was lost and no sequence number went backwards. Repeated on the same
//! store, so every iteration also recovers from all the previous crashes.
//!
//! Bounded by `FIX_STORE_CRASH_ITERATIONS` (default 30) and `FIX_STORE_CRASH_SECONDS` (default
//! 10); `FIX_STORE_CRASH_SEED` picks the kill points.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fix_store::{Durability, MmapStore, SessionStore, StoreOptions};

const CHILD_ENV: &str = "FIX_STORE_CRASH_CHILD";
const MODE_ENV: &str = "FIX_STORE_CRASH_MODE";
const ID: &str = "FIX.4.4-CRASH-TEST";
const NOW: u64 = 1_700_000_000_000_000_000;
/// Upper bound on a child's operations, should the parent never kill it.
const CHILD_MAX_OPS: u64 = 5_000_000;

fn options(mode: u64) -> StoreOptions {
    let durability = match mode % 3 {
        0 => Durability::None,
        1 => Durability::Interval(Duration::from_millis(1)),
        _ => Durability::EveryMessage,
    };
    StoreOptions {
        durability,
        segment_size: 16 * 1024,
        index_entries: 64,
        ..StoreOptions::default()
    }
}

/// Sequence numbers divisible by 5 stand for admin messages: numbered, not journaled.
fn journaled(seq: u64) -> bool {
    !seq.is_multiple_of(5)
}

fn payload(seq: u64, buf: &mut Vec<u8>) {
    buf.clear();
    let len = 20 + (seq as usize * 37) % 400;
    buf.extend((0..len).map(|i| (seq as usize).wrapping_mul(131).wrapping_add(i * 7) as u8));
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn child(root: &Path) -> ! {
    let mode = env_u64(MODE_ENV, 0);
    let mut store = MmapStore::open(root, ID, options(mode), NOW).expect("child open");
    if let Some(h) = store.flush_handle().filter(|h| h.interval().is_some()) {
        // The engine's worker pool in miniature: flush and pre-allocate periodically.
        std::thread::spawn(move || {
            loop {
                h.flush().expect("flush");
                h.prepare_next_segment().expect("prepare");
                std::thread::sleep(Duration::from_millis(1));
            }
        });
    }
    let mut out = std::io::stdout().lock();
    let mut buf = Vec::new();
    for _ in 0..CHILD_MAX_OPS {
        let seq = store.next_outgoing();
        if journaled(seq) {
            payload(seq, &mut buf);
            store.append_outbound(seq, &buf).expect("append");
        } else {
            store.set_next_outgoing(seq + 1).expect("set out");
        }
        let inc = store.next_incoming() + 1;
        store.set_next_incoming(inc).expect("set in");
        let mut ack = [0u8; 16];
        ack[..8].copy_from_slice(&(seq + 1).to_le_bytes());
        ack[8..].copy_from_slice(&inc.to_le_bytes());
        if out.write_all(&ack).and_then(|_| out.flush()).is_err() {
            break;
        }
    }
    std::process::exit(0)
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("crash_recovery: test");
        return;
    }
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        if std::env::var(CREATE_ENV).is_ok() {
            create_child(Path::new(&dir));
        }
        child(Path::new(&dir));
    }
    let iterations = env_u64("FIX_STORE_CRASH_ITERATIONS", 30);
    let cap = Duration::from_secs(env_u64("FIX_STORE_CRASH_SECONDS", 10));
    let seed = env_u64("FIX_STORE_CRASH_SEED", 0x5EED_F1C5);
    let mut rng = Rng(seed | 1);
    let exe = std::env::current_exe().expect("current_exe");
    let root = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();

    let (mut last_out, mut last_in) = (1u64, 1u64);
    let mut total_acks = 0u64;
    let mut done = 0;
    let mut buf = Vec::new();
    while done < iterations && started.elapsed() < cap {
        let mode = rng.next() % 3;
        let kill_after = rng.next() % 1500;
        let mut child = Command::new(&exe)
            .env(CHILD_ENV, root.path())
            .env(MODE_ENV, mode.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn child");
        let mut pipe = child.stdout.take().expect("stdout");
        let mut acked: Option<(u64, u64)> = None;
        let mut ack = [0u8; 16];
        let mut n = 0;
        let mut killed = false;
        // Reads until EOF; the kill makes EOF come. Bounded by the child's own operation bound.
        while pipe.read_exact(&mut ack).is_ok() {
            let o = u64::from_le_bytes(ack[..8].try_into().unwrap());
            let i = u64::from_le_bytes(ack[8..].try_into().unwrap());
            acked = Some((o, i));
            n += 1;
            if n >= kill_after && !killed {
                // SAFETY: signalling a child we spawned and have not reaped, so the pid is ours.
                let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
                assert_eq!(rc, 0, "kill failed");
                killed = true;
            }
        }
        let status = child.wait().expect("wait");
        assert!(killed || n < kill_after, "child exited early: {status:?}");
        total_acks += n;

        let store = MmapStore::open(root.path(), ID, options(0), NOW).expect("reopen after crash");
        let r = store.recovery().clone();
        assert_eq!(
            r.seq_slot_fallbacks, 0,
            "a process crash cannot tear an 8-byte store: {r:?}"
        );
        assert!(!r.meta_slot_fallback, "{r:?}");
        assert!(
            r.segments_discarded <= 1,
            "only a segment being created may be lost: {r:?}"
        );
        let (out, inc) = (store.next_outgoing(), store.next_incoming());
        assert!(
            out >= last_out && inc >= last_in,
            "went backwards: {out},{inc} < {last_out},{last_in}"
        );
        if let Some((o, i)) = acked {
            assert!(out >= o, "acknowledged outgoing {o} lost: store says {out}");
            assert!(inc >= i, "acknowledged incoming {i} lost: store says {inc}");
        }
        // The journal holds every journaled number below `out`, byte for byte, and nothing else.
        let mut expect = 1;
        let mut bad = None;
        store
            .read_outbound(1, u64::MAX, &mut |seq, bytes| {
                while expect < seq && !journaled(expect) {
                    expect += 1;
                }
                payload(seq, &mut buf);
                if seq != expect || bytes != buf.as_slice() {
                    bad.get_or_insert((seq, expect));
                }
                expect = seq + 1;
            })
            .expect("read journal");
        assert_eq!(bad, None, "journal record (seq, expected seq) mismatch");
        let last = store.last_outbound_seq().unwrap_or(0);
        assert!(
            out > last && out <= last + 2,
            "next outgoing {out} vs last journaled {last}"
        );
        (last_out, last_in) = (out, inc);
        done += 1;
    }
    assert!(
        done >= iterations.min(5),
        "only {done} iterations ran within {cap:?}"
    );
    println!(
        "crash_recovery: {done} SIGKILLs, {total_acks} acknowledged operations, final next out/in {last_out}/{last_in}: ok"
    );
    let created = crash_during_creation(&exe, &mut rng, (iterations / 3).max(3), cap);
    println!("crash_during_creation: {created} stores created and checked: ok");
}

/// Set (with `CHILD_ENV`) to run [`create_child`] instead of [`child`].
const CREATE_ENV: &str = "FIX_STORE_CRASH_CREATE";

/// Creates store after store (new identity each time): opens it, stores numbers, journals one
/// message (the journal is created lazily, at that first append), acknowledges the store's index.
/// Kills land anywhere in the creation of a store's files.
fn create_child(root: &Path) -> ! {
    let mode = env_u64(MODE_ENV, 0);
    let first = env_u64("FIX_STORE_CRASH_FIRST", 0);
    let mut out = std::io::stdout().lock();
    let mut buf = Vec::new();
    for i in first..first + 100_000 {
        let mut s = MmapStore::open(root, &format!("FIX.4.4-NEW-{i}"), options(mode), NOW)
            .expect("child create");
        s.set_next_incoming(2).expect("set incoming");
        payload(1, &mut buf);
        s.append_outbound(1, &buf).expect("append");
        drop(s);
        if out
            .write_all(&i.to_le_bytes())
            .and_then(|_| out.flush())
            .is_err()
        {
            std::process::exit(0);
        }
    }
    std::process::exit(0)
}

/// Kills [`create_child`] at pseudo-random points; every store it acknowledged must be complete,
/// and the one it was creating must open (as new or as existing) and work.
fn crash_during_creation(exe: &Path, rng: &mut Rng, iterations: u64, cap: Duration) -> u64 {
    let root = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let mut next = 0u64;
    let mut buf = Vec::new();
    payload(1, &mut buf);
    let mut done = 0;
    while done < iterations && started.elapsed() < cap {
        let kill_after = rng.next() % 8;
        let mut child = Command::new(exe)
            .env(CHILD_ENV, root.path())
            .env(CREATE_ENV, "1")
            .env(MODE_ENV, (rng.next() % 3).to_string())
            .env("FIX_STORE_CRASH_FIRST", next.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn child");
        let mut pipe = child.stdout.take().expect("child stdout");
        let mut ack = [0u8; 8];
        let mut acked = None;
        let mut n = 0;
        let mut killed = false;
        while pipe.read_exact(&mut ack).is_ok() {
            acked = Some(u64::from_le_bytes(ack));
            n += 1;
            if n > kill_after && !killed {
                // SAFETY: plain syscall on our own child's pid.
                let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
                assert_eq!(rc, 0, "kill failed");
                killed = true;
            }
        }
        let status = child.wait().expect("wait child");
        assert!(killed, "child exited early: {status:?}");
        let last = acked.expect("at least one store acknowledged");
        for i in next..=last + 1 {
            let id = format!("FIX.4.4-NEW-{i}");
            let mut s = MmapStore::open(root.path(), &id, options(0), NOW)
                .unwrap_or_else(|e| panic!("store {i} after a crash in creation: {e}"));
            let mut got = Vec::new();
            s.read_outbound(1, u64::MAX, &mut |seq, b| {
                got.push((seq, b == buf.as_slice()))
            })
            .expect("read journal");
            if i <= last {
                assert!(s.existed_before(), "acknowledged store {i} lost");
                assert_eq!(s.next_incoming(), 2, "store {i}");
                assert_eq!(got, [(1, true)], "store {i}");
            } else {
                // Being created when killed: whatever it has is consistent and usable.
                assert!(got.is_empty() || got == [(1, true)], "store {i}: {got:?}");
                if got.is_empty() {
                    s.append_outbound(s.next_outgoing(), &buf).expect("append");
                }
            }
        }
        next = last + 2;
        done += 1;
    }
    assert!(
        done >= iterations.min(3),
        "only {done} creation crashes ran"
    );
    next
}

//! File-store specifics: persistence across reopen, locking, and recovery from damaged files.

use std::fs::{self, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use fix_store::{Durability, MmapStore, SessionStore, StoreError, StoreOptions};

const NOW: u64 = 1_700_000_000_000_000_000;
const ID: &str = "FIX.4.4-SENDER-TARGET";

fn opts() -> StoreOptions {
    StoreOptions {
        segment_size: 8192,
        index_entries: 16,
        ..StoreOptions::default()
    }
}

fn open(root: &Path) -> MmapStore {
    MmapStore::open(root, ID, opts(), NOW).unwrap()
}

fn msg(seq: u64) -> Vec<u8> {
    format!("8=FIX.4.4\x0135=D\x0134={seq}\x0111=order-{seq}\x01").into_bytes()
}

fn read_seqs(s: &MmapStore) -> Vec<u64> {
    let mut v = Vec::new();
    s.read_outbound(1, u64::MAX, &mut |seq, b| {
        assert_eq!(b, msg(seq));
        v.push(seq)
    })
    .unwrap();
    v
}

fn gen_dir(s: &MmapStore) -> PathBuf {
    s.dir()
        .join(format!("journal.{:010}", s.metadata().generation))
}

fn patch(path: &Path, off: u64, bytes: &[u8]) {
    let mut f = OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(off)).unwrap();
    f.write_all(bytes).unwrap();
}

fn peek(path: &Path, off: u64, len: usize) -> Vec<u8> {
    let mut f = fs::File::open(path).unwrap();
    f.seek(SeekFrom::Start(off)).unwrap();
    let mut b = vec![0; len];
    f.read_exact(&mut b).unwrap();
    b
}

/// Offset just past the last record of a segment, walking the record headers.
fn journal_end(seg: &Path) -> u64 {
    let mut off = 64;
    loop {
        let commit = u64::from_le_bytes(peek(seg, off + 8, 8).try_into().unwrap());
        if commit == 0 {
            return off;
        }
        off += (16 + (commit as u32 as u64)).div_ceil(16) * 16;
    }
}

/// Offset of the `n`th record (from 0) of a segment.
fn record_offset(seg: &Path, n: usize) -> u64 {
    let mut off = 64;
    for _ in 0..n {
        let commit = u64::from_le_bytes(peek(seg, off + 8, 8).try_into().unwrap());
        off += (16 + (commit as u32 as u64)).div_ceil(16) * 16;
    }
    off
}

#[test]
fn everything_survives_a_reopen() {
    let root = tempfile::tempdir().unwrap();
    {
        let mut s = open(root.path());
        assert!(!s.existed_before());
        for seq in 1..=300 {
            s.append_outbound(seq, &msg(seq)).unwrap();
        }
        s.set_next_outgoing(305).unwrap();
        s.set_next_incoming(17).unwrap();
        s.set_correctly_terminated(true).unwrap();
    }
    let s = MmapStore::open(root.path(), ID, opts(), NOW + 99).unwrap();
    assert!(s.existed_before());
    assert!(s.recovery().is_clean(), "{:?}", s.recovery());
    assert_eq!(s.recovery().journal_records, 300);
    assert_eq!((s.next_outgoing(), s.next_incoming()), (305, 17));
    assert_eq!(
        s.metadata().creation_time,
        NOW,
        "creation time is not rewritten by a reopen"
    );
    assert!(s.metadata().correctly_terminated);
    assert_eq!(read_seqs(&s), (1..=300).collect::<Vec<_>>());
}

#[test]
fn a_second_owner_is_refused_until_release() {
    let root = tempfile::tempdir().unwrap();
    let s = open(root.path());
    match MmapStore::open(root.path(), ID, opts(), NOW) {
        Err(StoreError::Locked { path }) => assert_eq!(path, s.dir()),
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(s); // release: files stay, lock goes
    let s = open(root.path());
    assert!(s.existed_before());
}

#[test]
fn destroy_removes_the_files() {
    let root = tempfile::tempdir().unwrap();
    let mut s = open(root.path());
    s.append_outbound(1, &msg(1)).unwrap();
    let dir = s.dir().to_path_buf();
    s.destroy().unwrap();
    assert!(!dir.exists());
    let s = open(root.path());
    assert!(!s.existed_before());
    assert_eq!(s.next_outgoing(), 1);
}

#[test]
fn identities_are_confined_to_the_root() {
    let root = tempfile::tempdir().unwrap();
    let s = MmapStore::open(root.path(), "../FIX.4.2/A B", opts(), NOW).unwrap();
    assert_eq!(s.dir().parent().unwrap(), root.path());
    assert_eq!(s.dir().file_name().unwrap(), "%2E.%2FFIX.4.2%2FA%20B");
    assert!(matches!(
        MmapStore::open(root.path(), "", opts(), NOW),
        Err(StoreError::InvalidIdentity(_))
    ));
}

#[test]
fn partially_written_tail_record_is_cut_off() {
    let root = tempfile::tempdir().unwrap();
    let (seg, end) = {
        let mut s = open(root.path());
        for seq in 1..=5 {
            s.append_outbound(seq, &msg(seq)).unwrap();
        }
        let seg = gen_dir(&s).join("00000000.seg");
        let end = journal_end(&seg);
        (seg, end)
    };
    // A record whose payload and sequence number reached the page but whose commit word did not:
    let mut partial = 6u64.to_le_bytes().to_vec();
    partial.extend_from_slice(&[0; 8]);
    partial.extend_from_slice(&msg(6));
    patch(&seg, end, &partial);
    {
        let mut s = open(root.path());
        let r = s.recovery().clone();
        assert!(r.tail_bytes_zeroed > 0, "{r:?}");
        assert_eq!(r.journal_records, 5);
        assert_eq!(s.next_outgoing(), 6);
        assert_eq!(read_seqs(&s), [1, 2, 3, 4, 5]);
        assert!(peek(&seg, end, partial.len()).iter().all(|&b| b == 0));
        s.append_outbound(6, &msg(6)).unwrap();
    }
    let s = open(root.path());
    assert!(s.recovery().is_clean(), "{:?}", s.recovery());
    assert_eq!(read_seqs(&s), [1, 2, 3, 4, 5, 6]);
}

#[test]
fn corrupt_record_ends_the_journal_and_later_segments_are_discarded() {
    let root = tempfile::tempdir().unwrap();
    let dir = {
        let mut s = open(root.path());
        for seq in 1..=400 {
            s.append_outbound(seq, &msg(seq)).unwrap();
        }
        gen_dir(&s)
    };
    let segs = fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "seg")
        })
        .count();
    assert!(segs >= 3, "8 KiB segments must have rolled: {segs}");
    // Flip one payload byte of the third record of the first segment (a page lost in a power cut).
    let seg0 = dir.join("00000000.seg");
    let off = record_offset(&seg0, 2) + 16 + 3;
    let b = peek(&seg0, off, 1)[0];
    patch(&seg0, off, &[b ^ 0x20]);
    let mut s = open(root.path());
    let r = s.recovery().clone();
    assert_eq!(r.journal_records, 2, "{r:?}");
    assert_eq!(r.segments_discarded as usize, segs - 1);
    assert!(r.tail_bytes_zeroed > 0);
    assert_eq!(read_seqs(&s), [1, 2]);
    // The sequence number is in the state file and does not go back with the journal.
    assert_eq!(s.next_outgoing(), 401);
    s.append_outbound(401, &msg(401)).unwrap();
    assert_eq!(read_seqs(&s), [1, 2, 401]);
}

#[test]
fn missing_or_stale_index_is_rebuilt() {
    let root = tempfile::tempdir().unwrap();
    let dir = {
        let mut s = open(root.path());
        for seq in (1..=200).filter(|s| s % 5 != 0) {
            s.set_next_outgoing(seq).unwrap_or(());
            s.append_outbound(seq, &msg(seq)).unwrap();
        }
        gen_dir(&s)
    };
    let want: Vec<u64> = (1..=200).filter(|s| s % 5 != 0).collect();
    fs::remove_file(dir.join("index")).unwrap();
    {
        let s = open(root.path());
        assert!(s.recovery().index_rebuilt);
        assert_eq!(read_seqs(&s), want);
    }
    // Stale entries: garbage where seq 5 (a gap) is, and a wrong position for seq 7.
    let idx = dir.join("index");
    patch(&idx, 64 + 4 * 8, &(u64::MAX).to_le_bytes());
    patch(&idx, 64 + 6 * 8, &((1u64 << 63) | 64).to_le_bytes());
    patch(&idx, 64 + 500 * 8, &((1u64 << 63) | 64).to_le_bytes());
    let s = open(root.path());
    assert_eq!(s.recovery().index_entries_repaired, 3, "{:?}", s.recovery());
    assert_eq!(read_seqs(&s), want);
}

#[test]
fn torn_sequence_slot_falls_back_without_going_backwards() {
    let root = tempfile::tempdir().unwrap();
    let state = {
        let mut s = open(root.path());
        for seq in 1..=10 {
            s.append_outbound(seq, &msg(seq)).unwrap();
        }
        s.set_next_incoming(8).unwrap();
        s.set_next_incoming(9).unwrap();
        s.dir().join("state")
    };
    // Damage the newest slot of each number (each holds the latest of two alternating writes).
    for base in [64u64, 80] {
        let a = peek(&state, base, 8);
        let b = peek(&state, base + 8, 8);
        let ctr = |w: &[u8]| w[5];
        let newest = if ctr(&b) == ctr(&a).wrapping_add(1) {
            base + 8
        } else {
            base
        };
        let mut w = peek(&state, newest, 8);
        w[1] ^= 0x10;
        patch(&state, newest, &w);
    }
    let s = open(root.path());
    let r = s.recovery();
    assert_eq!(r.seq_slot_fallbacks, 2, "{r:?}");
    assert_eq!(
        s.next_incoming(),
        8,
        "incoming falls back one: a resend, not a loss"
    );
    assert!(
        r.outgoing_raised_from_journal,
        "outgoing is raised past the journal: {r:?}"
    );
    assert_eq!(s.next_outgoing(), 11);
}

#[test]
fn unrecoverable_state_is_a_typed_error_naming_the_file() {
    let root = tempfile::tempdir().unwrap();
    let state = open(root.path()).dir().join("state");
    patch(&state, 64, &[0xAB; 16]);
    match MmapStore::open(root.path(), ID, opts(), NOW) {
        Err(StoreError::Corrupt { path, reason }) => {
            assert_eq!(path, state);
            assert!(reason.contains("outgoing"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    patch(&state, 0, b"NOTSTATE");
    assert!(matches!(
        MmapStore::open(root.path(), ID, opts(), NOW),
        Err(StoreError::Corrupt {
            reason: "bad magic",
            ..
        })
    ));
    fs::OpenOptions::new()
        .write(true)
        .open(&state)
        .unwrap()
        .set_len(100)
        .unwrap();
    let e = MmapStore::open(root.path(), ID, opts(), NOW).unwrap_err();
    assert!(e.to_string().contains(&state.display().to_string()), "{e}");
}

#[test]
fn metadata_torn_write_falls_back_to_previous_record() {
    let root = tempfile::tempdir().unwrap();
    let state = {
        let mut s = open(root.path());
        s.set_correctly_terminated(true).unwrap(); // record 2 in slot 0
        s.set_correctly_terminated(false).unwrap(); // record 3 in slot 1
        s.dir().join("state")
    };
    // Tear record 3: its checksum no longer matches.
    patch(&state, 192 + 32, &7u64.to_le_bytes());
    let s = open(root.path());
    assert!(s.recovery().meta_slot_fallback);
    assert!(s.metadata().correctly_terminated, "record 2 said true");
}

#[test]
fn reset_archives_or_deletes_the_old_journal() {
    let root = tempfile::tempdir().unwrap();
    let o = StoreOptions {
        archive_on_reset: true,
        ..opts()
    };
    let mut s = MmapStore::open(root.path(), ID, o, NOW).unwrap();
    s.append_outbound(1, &msg(1)).unwrap();
    let old = gen_dir(&s);
    s.reset(NOW + 1).unwrap();
    assert!(!old.exists());
    let archived: Vec<_> = fs::read_dir(s.dir().join("archive")).unwrap().collect();
    assert_eq!(archived.len(), 1);
    let mut s = open_after(s, root.path());
    assert_eq!(
        (s.next_outgoing(), s.metadata().last_reset_time),
        (1, NOW + 1)
    );
    s.append_outbound(1, &msg(1)).unwrap();
    let old = gen_dir(&s);
    s.reset(NOW + 2).unwrap();
    assert!(!old.exists());
    assert_eq!(
        fs::read_dir(s.dir().join("archive")).unwrap().count(),
        1,
        "default deletes"
    );
}

fn open_after(s: MmapStore, root: &Path) -> MmapStore {
    drop(s);
    open(root)
}

#[test]
fn interrupted_reset_leaves_a_stale_generation_that_is_removed() {
    let root = tempfile::tempdir().unwrap();
    let stale = {
        let mut s = open(root.path());
        s.append_outbound(1, &msg(1)).unwrap();
        let g = s.metadata().generation + 1;
        s.dir().join(format!("journal.{g:010}"))
    };
    fs::create_dir(&stale).unwrap();
    fs::write(stale.join("00000000.seg"), b"half made").unwrap();
    let s = open(root.path());
    assert_eq!(s.recovery().stale_generations_removed, 1);
    assert!(!stale.exists());
    assert_eq!(read_seqs(&s), [1]);
}

#[test]
fn flush_handle_flushes_and_prepares_segments_off_thread() {
    let root = tempfile::tempdir().unwrap();
    let o = StoreOptions {
        durability: Durability::Interval(Duration::from_millis(5)),
        ..opts()
    };
    let mut s = MmapStore::open(root.path(), ID, o, NOW).unwrap();
    let h = s.flush_handle().unwrap();
    assert_eq!(h.interval(), Some(Duration::from_millis(5)));
    assert!(
        h.prepare_next_segment().unwrap(),
        "a new store's journal is created by the first maintenance call"
    );
    assert!(gen_dir(&s).join("00000000.seg").exists());
    assert!(
        !h.prepare_next_segment().unwrap(),
        "segment 0 is not half full yet"
    );
    let mut seq = 1;
    let worker = std::thread::spawn({
        let h = h.clone();
        move || {
            for _ in 0..20 {
                h.flush().unwrap();
                h.prepare_next_segment().unwrap();
            }
        }
    });
    while seq <= 70 {
        s.append_outbound(seq, &msg(seq)).unwrap();
        seq += 1;
    }
    worker.join().unwrap();
    // Now past half of segment 0: the handle creates segment 1 under a temporary name.
    let dir = gen_dir(&s);
    let prepared = h.prepare_next_segment().unwrap();
    let tmp = dir.join("next.seg.tmp");
    if prepared {
        assert!(tmp.exists());
    }
    while seq <= 200 {
        s.append_outbound(seq, &msg(seq)).unwrap();
        seq += 1;
    }
    assert!(!tmp.exists(), "the writer took the prepared segment");
    assert!(dir.join("00000001.seg").exists());
    h.flush().unwrap();
    drop(s);
    h.flush().unwrap(); // the handle outlives the store
    let s = open(root.path());
    assert!(s.recovery().is_clean(), "{:?}", s.recovery());
    assert_eq!(read_seqs(&s), (1..=200).collect::<Vec<_>>());
}

#[test]
fn the_writer_asks_for_the_next_segment_once_per_segment_at_half_full() {
    let root = tempfile::tempdir().unwrap();
    let mut s = open(root.path());
    let h = s.flush_handle().unwrap();
    let dir = gen_dir(&s);
    let mut requests = Vec::new();
    for seq in 1..=400 {
        s.append_outbound(seq, &msg(seq)).unwrap();
        if s.take_segment_request() {
            requests.push(seq);
            // What the engine's maintenance thread does when asked.
            assert!(h.prepare_next_segment().unwrap(), "asked at {seq}");
        }
        assert!(!s.take_segment_request(), "a request is taken once");
    }
    let segments = fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".seg")
        })
        .count();
    assert!(segments >= 3, "{segments} segments");
    // One request per segment that filled past half: every roll found its file prepared.
    assert!(
        requests.len() >= segments - 1,
        "{requests:?} for {segments} segments"
    );
    assert!(requests.windows(2).all(|w| w[0] < w[1]));
    drop(s);
    let s = open(root.path());
    assert!(s.recovery().is_clean(), "{:?}", s.recovery());
    assert_eq!(read_seqs(&s), (1..=400).collect::<Vec<_>>());
}

#[test]
fn every_message_durability_works() {
    let root = tempfile::tempdir().unwrap();
    let o = StoreOptions::with_durability(Durability::EveryMessage);
    let mut s = MmapStore::open(root.path(), ID, o.clone(), NOW).unwrap();
    for seq in 1..=20 {
        s.append_outbound(seq, &msg(seq)).unwrap();
        s.set_next_incoming(seq + 1).unwrap();
    }
    drop(s);
    let s = MmapStore::open(root.path(), ID, o, NOW).unwrap();
    assert_eq!((s.next_outgoing(), s.next_incoming()), (21, 21));
}

#[test]
fn invalid_options_are_refused() {
    let root = tempfile::tempdir().unwrap();
    for o in [
        StoreOptions {
            segment_size: 1000,
            ..opts()
        },
        StoreOptions {
            segment_size: 4096 * 3 + 1,
            ..opts()
        },
        StoreOptions {
            index_entries: 0,
            ..opts()
        },
        StoreOptions::with_durability(Durability::Interval(Duration::ZERO)),
    ] {
        assert!(matches!(
            MmapStore::open(root.path(), ID, o, NOW),
            Err(StoreError::InvalidOptions(_))
        ));
    }
    let mut s = MmapStore::open(
        root.path(),
        ID,
        StoreOptions {
            segment_size: 4096,
            ..opts()
        },
        NOW,
    )
    .unwrap();
    let max = 4096 - 80;
    s.append_outbound(1, &vec![b'x'; max]).unwrap();
    assert!(matches!(
        s.append_outbound(2, &vec![b'x'; max + 1]),
        Err(StoreError::MessageSize { .. })
    ));
    let mut n = 0;
    s.read_outbound(1, 1, &mut |_, b| n = b.len()).unwrap();
    assert_eq!(n, max);
}

#[test]
fn resetting_a_fresh_store_creates_no_generation() {
    let root = tempfile::tempdir().unwrap();
    let mut s = open(root.path());
    let g = s.metadata().generation;
    s.reset(NOW + 5).unwrap();
    assert_eq!(
        s.metadata().generation,
        g,
        "nothing to reset: same generation"
    );
    assert_eq!(s.metadata().last_reset_time, NOW + 5);
    assert!(
        !gen_dir(&s).exists(),
        "the journal is created at first need"
    );
    // Once something was sent, a reset starts a new generation as before.
    s.append_outbound(1, &msg(1)).unwrap();
    s.reset(NOW + 6).unwrap();
    assert_eq!(s.metadata().generation, g + 1);
    assert_eq!(read_seqs(&s), Vec::<u64>::new());
    drop(s);
    let s = open(root.path());
    assert_eq!(s.metadata().generation, g + 1);
    assert_eq!(s.metadata().last_reset_time, NOW + 6);
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn a_new_store_creates_its_journal_only_when_needed() {
    let root = tempfile::tempdir().unwrap();
    let mut s = open(root.path());
    assert!(!s.existed_before());
    assert_eq!(names(s.dir()), ["state"]);
    // Reads and resends of the journal that does not exist yet find nothing.
    assert_eq!(read_seqs(&s), Vec::<u64>::new());
    assert_eq!(s.last_outbound_seq(), None);
    s.set_next_outgoing(3).unwrap();
    s.set_next_incoming(4).unwrap();
    s.sync().unwrap();
    s.flush_handle().unwrap().flush().unwrap();
    // A reopen treats the missing generation as an empty journal.
    let mut s = open_after(s, root.path());
    assert!(s.existed_before());
    assert!(s.recovery().is_clean(), "{:?}", s.recovery());
    assert_eq!((s.next_outgoing(), s.next_incoming()), (3, 4));
    assert_eq!(names(s.dir()), ["state"]);
    // The writer creates it at the first append when nobody prepared it.
    s.append_outbound(3, &msg(3)).unwrap();
    assert!(gen_dir(&s).join("00000000.seg").exists());
    assert!(gen_dir(&s).join("index").exists());
    assert_eq!(read_seqs(&s), [3]);
    let s = open_after(s, root.path());
    assert!(s.recovery().is_clean(), "{:?}", s.recovery());
    assert_eq!(read_seqs(&s), [3]);
    assert_eq!(s.next_outgoing(), 4);
}

#[test]
fn a_prepared_journal_is_taken_by_the_first_append() {
    let root = tempfile::tempdir().unwrap();
    let mut s = open(root.path());
    let h = s.flush_handle().unwrap();
    assert!(h.prepare_journal().unwrap());
    assert!(!h.prepare_journal().unwrap(), "prepared once");
    // A mark in the prepared segment's last byte: a writer that created the file again would
    // have truncated it away.
    let seg = gen_dir(&s).join("00000000.seg");
    let last = fs::metadata(&seg).unwrap().len() - 1;
    patch(&seg, last, &[0xAB]);
    for seq in 1..=5 {
        s.append_outbound(seq, &msg(seq)).unwrap();
    }
    assert_eq!(
        peek(&seg, last, 1),
        [0xAB],
        "the writer took the prepared file"
    );
    patch(&seg, last, &[0]);
    assert!(!h.prepare_journal().unwrap(), "the generation exists");
    assert_eq!(read_seqs(&s), [1, 2, 3, 4, 5]);
    let s = open_after(s, root.path());
    assert!(s.recovery().is_clean(), "{:?}", s.recovery());
    assert_eq!(read_seqs(&s), [1, 2, 3, 4, 5]);
}

#[test]
fn preparing_the_journal_races_the_first_append_safely() {
    let root = tempfile::tempdir().unwrap();
    for i in 0..40u64 {
        let id = format!("FIX.4.4-S{i}-T");
        let mut s = MmapStore::open(root.path(), &id, opts(), NOW).unwrap();
        let h = s.flush_handle().unwrap();
        let t = std::thread::spawn(move || h.prepare_next_segment().unwrap());
        for seq in 1..=3 {
            s.append_outbound(seq, &msg(seq)).unwrap();
        }
        t.join().unwrap();
        for seq in 4..=6 {
            s.append_outbound(seq, &msg(seq)).unwrap();
        }
        assert_eq!(read_seqs(&s), [1, 2, 3, 4, 5, 6], "store {i}");
        drop(s);
        let s = MmapStore::open(root.path(), &id, opts(), NOW).unwrap();
        assert!(s.recovery().is_clean(), "store {i}: {:?}", s.recovery());
        assert_eq!(read_seqs(&s), [1, 2, 3, 4, 5, 6], "store {i}");
    }
}

#[test]
fn an_interrupted_journal_creation_is_an_empty_journal() {
    let root = tempfile::tempdir().unwrap();
    let s = open(root.path());
    let dir = gen_dir(&s);
    drop(s);
    // A crash while the generation was being created: directory, half a segment, an index.
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("00000000.seg"), b"half made").unwrap();
    fs::write(dir.join("index"), b"junk").unwrap();
    fs::write(dir.join("next.seg.tmp"), b"junk").unwrap();
    let mut s = open(root.path());
    assert_eq!(s.recovery().segments_discarded, 1);
    assert_eq!(read_seqs(&s), Vec::<u64>::new());
    assert!(!dir.join("next.seg.tmp").exists());
    s.append_outbound(1, &msg(1)).unwrap();
    let s = open_after(s, root.path());
    assert!(s.recovery().is_clean(), "{:?}", s.recovery());
    assert_eq!(read_seqs(&s), [1]);
}

#[test]
fn reset_without_journal_files_creates_and_removes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let mut s = open(root.path());
    let h = s.flush_handle().unwrap();
    // Admin traffic only: numbers moved, nothing journaled.
    s.set_next_outgoing(3).unwrap();
    s.set_next_incoming(3).unwrap();
    s.reset(NOW + 1).unwrap();
    assert_eq!(s.metadata().generation, 2);
    assert_eq!((s.next_outgoing(), s.next_incoming()), (1, 1));
    assert_eq!(names(s.dir()), ["state"]);
    // Prepared for generation 2, then a reset to 3 before any append: the prepared files go
    // with their generation.
    assert!(h.prepare_journal().unwrap());
    let g2 = gen_dir(&s);
    assert!(g2.exists());
    s.set_next_outgoing(2).unwrap();
    s.reset(NOW + 2).unwrap();
    assert!(!g2.exists());
    s.append_outbound(1, &msg(1)).unwrap();
    assert_eq!(names(s.dir()), ["journal.0000000003", "state"]);
    let s = open_after(s, root.path());
    assert!(s.recovery().is_clean(), "{:?}", s.recovery());
    assert_eq!(s.metadata().generation, 3);
    assert_eq!(read_seqs(&s), [1]);
}

#[test]
fn a_handle_creates_nothing_once_its_store_is_closed() {
    let root = tempfile::tempdir().unwrap();
    let s = open(root.path());
    let h = s.flush_handle().unwrap();
    let dir = gen_dir(&s);
    drop(s);
    // The lock is released: another owner may have the directory now.
    assert!(!h.prepare_journal().unwrap());
    assert!(!h.prepare_next_segment().unwrap());
    assert!(!dir.exists());
    h.flush().unwrap();
    let mut s = open(root.path());
    s.append_outbound(1, &msg(1)).unwrap();
    assert_eq!(read_seqs(&s), [1]);
}

#[test]
fn a_store_made_by_an_earlier_version_is_also_locked_through_its_lock_file() {
    use std::os::fd::AsRawFd;
    let root = tempfile::tempdir().unwrap();
    let s = open(root.path());
    let dir = s.dir().to_path_buf();
    drop(s);
    // Earlier versions created `lock` and held a flock on it while open.
    let lock = dir.join("lock");
    let f = fs::File::create(&lock).unwrap();
    // SAFETY: flock on a descriptor the test owns.
    assert_eq!(
        unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );
    match MmapStore::open(root.path(), ID, opts(), NOW) {
        Err(StoreError::Locked { path }) => assert_eq!(path, lock),
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(f);
    let s = open(root.path());
    assert!(s.existed_before());
    // ... and an earlier version's process is refused while this one has it.
    let f = fs::File::open(&lock).unwrap();
    // SAFETY: as above.
    assert_ne!(
        unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );
}

/// `Rss` and dirty kilobytes of this process's mapping of `file` (from `/proc/self/smaps`).
fn mapped_kib(file: &Path) -> Option<(u64, u64)> {
    let smaps = fs::read_to_string("/proc/self/smaps").ok()?;
    let name = file.to_str()?;
    let mut lines = smaps.lines();
    while let Some(l) = lines.next() {
        if !l.ends_with(name) {
            continue;
        }
        let (mut rss, mut dirty) = (None, 0);
        for l in lines.by_ref() {
            let mut parts = l.split_whitespace();
            let (Some(key), Some(kib)) = (parts.next(), parts.next()) else {
                break;
            };
            let Ok(kib) = kib.parse::<u64>() else { break };
            match key {
                "Rss:" => rss = Some(kib),
                "Shared_Dirty:" | "Private_Dirty:" => dirty += kib,
                _ => {}
            }
        }
        return rss.map(|r| (r, dirty));
    }
    None
}

#[test]
fn a_segment_prepared_off_thread_is_faulted_in_writable_before_the_writer_reaches_it() {
    let root = tempfile::tempdir().unwrap();
    let o = StoreOptions {
        segment_size: 1 << 20,
        ..opts()
    };
    let mut s = MmapStore::open(root.path(), ID, o, NOW).unwrap();
    let h = s.flush_handle().unwrap();
    assert!(h.prepare_next_segment().unwrap(), "the first segment");
    // Past half of the first segment (64 KiB): the next one (128 KiB) is due.
    let mut seq = 1;
    while !h.prepare_next_segment().unwrap() {
        s.append_outbound(seq, &msg(seq)).unwrap();
        seq += 1;
        assert!(seq < 10_000, "the next segment was never prepared");
    }
    let tmp = gen_dir(&s).join("next.seg.tmp");
    let (rss, dirty) = mapped_kib(&tmp).expect("the prepared segment is mapped");
    // Every page but the header's, which creating the segment wrote anyway.
    assert!(
        rss >= 128 - 4 && dirty >= 128 - 4,
        "rss {rss} KiB, dirty {dirty} KiB"
    );
    // The first segment was not pre-faulted (an idle session would pay for it): only what
    // the appends touched is mapped.
    let first = gen_dir(&s).join("00000000.seg");
    let (rss0, _) = mapped_kib(&first).expect("segment 0 is mapped");
    assert!(rss0 < 64, "segment 0: {rss0} KiB");
    // The writer takes it and everything reads back.
    while seq < 3_000 {
        s.append_outbound(seq, &msg(seq)).unwrap();
        seq += 1;
    }
    assert!(!tmp.exists());
    assert_eq!(read_seqs(&s), (1..seq).collect::<Vec<_>>());
}

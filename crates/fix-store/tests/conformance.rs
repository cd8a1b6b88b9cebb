//! One contract, two implementations: every test here runs against `MmapStore` (with small
//! segments, so rolling is exercised) and `MemoryStore`.

use fix_store::{MAX_SEQ_NUM, MemoryStore, MmapStore, SessionStore, StoreError, StoreOptions};
use proptest::prelude::*;
use tempfile::TempDir;

const NOW: u64 = 1_700_000_000_000_000_000;

struct Fixture {
    store: Box<dyn SessionStore>,
    _dir: Option<TempDir>,
}

fn mmap() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        segment_size: 8192,
        index_entries: 16,
        ..StoreOptions::default()
    };
    let store = MmapStore::open(dir.path(), "FIX.4.4-S-T", opts, NOW).unwrap();
    Fixture {
        store: Box::new(store),
        _dir: Some(dir),
    }
}

fn memory() -> Fixture {
    Fixture {
        store: Box::new(MemoryStore::new(NOW)),
        _dir: None,
    }
}

fn msg(seq: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (seq as usize * 31 + i * 7) as u8)
        .collect()
}

fn read_all(s: &dyn SessionStore, from: u64, to: u64) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    let n = s
        .read_outbound(from, to, &mut |seq, b| out.push((seq, b.to_vec())))
        .unwrap();
    assert_eq!(n as usize, out.len());
    out
}

fn fresh_store_starts_at_one(f: Fixture) {
    let s = &*f.store;
    assert_eq!(s.next_outgoing(), 1);
    assert_eq!(s.next_incoming(), 1);
    assert_eq!(s.last_outbound_seq(), None);
    assert!(!s.existed_before());
    let m = s.metadata();
    assert_eq!(m.creation_time, NOW);
    assert_eq!(m.last_reset_time, NOW);
    assert!(!m.correctly_terminated);
    assert!(read_all(s, 1, u64::MAX).is_empty());
}

fn numbers_are_set_and_validated(mut f: Fixture) {
    let s = &mut *f.store;
    s.set_next_outgoing(42).unwrap();
    s.set_next_incoming(7).unwrap();
    assert_eq!((s.next_outgoing(), s.next_incoming()), (42, 7));
    // Lower is allowed (caller's decision) as long as the journal is not ahead.
    s.set_next_outgoing(5).unwrap();
    assert_eq!(s.next_outgoing(), 5);
    s.set_next_incoming(MAX_SEQ_NUM).unwrap();
    assert_eq!(s.next_incoming(), MAX_SEQ_NUM);
    for bad in [0, MAX_SEQ_NUM + 1, u64::MAX] {
        assert!(
            matches!(s.set_next_outgoing(bad), Err(StoreError::SeqNumOutOfRange(b)) if b == bad)
        );
        assert!(matches!(
            s.set_next_incoming(bad),
            Err(StoreError::SeqNumOutOfRange(_))
        ));
    }
    assert_eq!((s.next_outgoing(), s.next_incoming()), (5, MAX_SEQ_NUM));
}

fn append_advances_outgoing_and_enforces_order(mut f: Fixture) {
    let s = &mut *f.store;
    s.append_outbound(1, b"one").unwrap();
    assert_eq!(s.next_outgoing(), 2);
    s.set_next_outgoing(4).unwrap(); // 2 and 3 were admin messages, not journaled
    s.append_outbound(4, b"four").unwrap();
    assert_eq!(s.next_outgoing(), 5);
    assert_eq!(s.last_outbound_seq(), Some(4));
    assert!(matches!(
        s.append_outbound(4, b"again"),
        Err(StoreError::SeqNumNotIncreasing { seq: 4, last: 4 })
    ));
    assert!(matches!(
        s.append_outbound(3, b"x"),
        Err(StoreError::SeqNumNotIncreasing { .. })
    ));
    assert!(matches!(
        s.append_outbound(9, b""),
        Err(StoreError::MessageSize { len: 0, .. })
    ));
    assert!(matches!(
        s.append_outbound(0, b"x"),
        Err(StoreError::SeqNumOutOfRange(0))
    ));
    assert!(matches!(
        s.set_next_outgoing(4),
        Err(StoreError::SeqNumNotIncreasing { .. })
    ));
    // Appending below next_outgoing (a resend path would never do this, but it is legal) keeps it.
    s.set_next_outgoing(100).unwrap();
    s.append_outbound(50, b"fifty").unwrap();
    assert_eq!(s.next_outgoing(), 100);
    // Failed calls changed nothing.
    let all = read_all(s, 1, u64::MAX);
    let seqs: Vec<u64> = all.iter().map(|r| r.0).collect();
    assert_eq!(seqs, [1, 4, 50]);
    assert_eq!(all[1].1, b"four");
}

fn ranges_are_read_back_exactly(mut f: Fixture) {
    let s = &mut *f.store;
    let mut expected = Vec::new();
    for seq in 1..=600u64 {
        if seq % 7 == 3 {
            s.set_next_outgoing(seq + 1).unwrap(); // a gap: not journaled
            continue;
        }
        let m = msg(seq, 1 + (seq as usize * 13) % 900);
        s.append_outbound(seq, &m).unwrap();
        expected.push((seq, m));
    }
    assert_eq!(s.next_outgoing(), 601);
    assert_eq!(read_all(s, 1, u64::MAX), expected);
    assert_eq!(read_all(s, 0, 0), []);
    assert_eq!(read_all(s, 601, u64::MAX), []);
    assert_eq!(read_all(s, 3, 3), []);
    let mid: Vec<_> = expected
        .iter()
        .filter(|r| (100..=200).contains(&r.0))
        .cloned()
        .collect();
    assert_eq!(read_all(s, 100, 200), mid);
    assert_eq!(read_all(s, 200, 100), []);
    assert_eq!(
        read_all(s, 600, 600),
        vec![expected.last().unwrap().clone()]
    );
}

fn reset_starts_a_new_stream(mut f: Fixture) {
    let s = &mut *f.store;
    for seq in 1..=50 {
        s.append_outbound(seq, &msg(seq, 300)).unwrap();
    }
    s.set_next_incoming(77).unwrap();
    let gen0 = s.metadata().generation;
    s.reset(NOW + 5).unwrap();
    assert_eq!((s.next_outgoing(), s.next_incoming()), (1, 1));
    assert_eq!(s.last_outbound_seq(), None);
    assert!(read_all(s, 1, u64::MAX).is_empty());
    let m = s.metadata();
    assert_eq!(m.last_reset_time, NOW + 5);
    assert_eq!(m.creation_time, NOW);
    assert_eq!(m.generation, gen0 + 1);
    s.append_outbound(1, b"new one").unwrap();
    assert_eq!(read_all(s, 1, u64::MAX), [(1, b"new one".to_vec())]);
}

fn terminated_flag_round_trips(mut f: Fixture) {
    let s = &mut *f.store;
    s.set_correctly_terminated(true).unwrap();
    assert!(s.metadata().correctly_terminated);
    s.set_correctly_terminated(false).unwrap();
    assert!(!s.metadata().correctly_terminated);
    s.set_correctly_terminated(true).unwrap();
    s.sync().unwrap();
    assert!(s.metadata().correctly_terminated);
    assert_eq!(s.metadata().creation_time, NOW);
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod mmap_store { $( #[test] fn $name() { super::$name(super::mmap()); } )* }
        mod memory_store { $( #[test] fn $name() { super::$name(super::memory()); } )* }
    };
}

conformance!(
    fresh_store_starts_at_one,
    numbers_are_set_and_validated,
    append_advances_outgoing_and_enforces_order,
    ranges_are_read_back_exactly,
    reset_starts_a_new_stream,
    terminated_flag_round_trips,
);

/// Random operation sequences: both implementations must agree with a trivial model.
#[derive(Debug, Clone)]
enum Op {
    Append { skip: u64, len: usize },
    SetIn(u64),
    Read { from: u64, span: u64 },
    Reset,
    Terminated(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u64..3, 1usize..1500).prop_map(|(skip, len)| Op::Append { skip, len }),
        1 => (1u64..1000).prop_map(Op::SetIn),
        2 => (0u64..120, 0u64..60).prop_map(|(from, span)| Op::Read { from, span }),
        1 => Just(Op::Reset),
        1 => any::<bool>().prop_map(Op::Terminated),
    ]
}

fn run_model(s: &mut dyn SessionStore, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut journal: Vec<(u64, Vec<u8>)> = Vec::new();
    let (mut out, mut inc, mut term) = (1u64, 1u64, false);
    for (t, op) in ops.iter().enumerate() {
        match *op {
            Op::Append { skip, len } => {
                let seq = out + skip;
                if skip > 0 {
                    s.set_next_outgoing(seq).unwrap();
                }
                let m = msg(seq, len);
                s.append_outbound(seq, &m).unwrap();
                journal.push((seq, m));
                out = seq + 1;
            }
            Op::SetIn(n) => {
                s.set_next_incoming(n).unwrap();
                inc = n;
            }
            Op::Read { from, span } => {
                let want: Vec<_> = journal
                    .iter()
                    .filter(|r| r.0 >= from && r.0 <= from + span)
                    .cloned()
                    .collect();
                prop_assert_eq!(read_all(s, from, from + span), want);
            }
            Op::Reset => {
                s.reset(NOW + t as u64).unwrap();
                journal.clear();
                out = 1;
                inc = 1;
            }
            Op::Terminated(b) => {
                s.set_correctly_terminated(b).unwrap();
                term = b;
            }
        }
        prop_assert_eq!(s.next_outgoing(), out);
        prop_assert_eq!(s.next_incoming(), inc);
        prop_assert_eq!(s.metadata().correctly_terminated, term);
        prop_assert_eq!(s.last_outbound_seq(), journal.last().map(|r| r.0));
    }
    prop_assert_eq!(read_all(s, 0, u64::MAX), journal);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    #[test]
    fn mmap_store_matches_model(ops in proptest::collection::vec(op(), 1..120)) {
        run_model(&mut *mmap().store, &ops)?;
    }

    #[test]
    fn memory_store_matches_model(ops in proptest::collection::vec(op(), 1..120)) {
        run_model(&mut *memory().store, &ops)?;
    }
}

#[test]
fn bounded_memory_store_drops_oldest_first() {
    let mut s = MemoryStore::with_max_bytes(NOW, 1000);
    for seq in 1..=100 {
        s.append_outbound(seq, &msg(seq, 100)).unwrap();
    }
    let all = read_all(&s, 1, u64::MAX);
    assert_eq!(all.len(), 10, "1000 bytes hold ten 100-byte messages");
    assert_eq!(all.first().unwrap().0, 91);
    assert_eq!(all.last().unwrap(), &(100, msg(100, 100)));
    assert!(matches!(
        s.append_outbound(101, &[0; 1001]),
        Err(StoreError::MessageSize { .. })
    ));
}

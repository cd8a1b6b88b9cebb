//! The simulator on a fixed set of seeds, its determinism, and proof that its invariants bite.

use fix_sim::{Sabotage, SimConfig, run_seed, run_seeds};

/// The fixed set CI runs: 200 seeds of 300 steps (well under a second in release, a few seconds
/// in debug builds).
#[test]
fn fixed_seeds_pass() {
    let cfg = SimConfig::default();
    match run_seeds(0, 200, &cfg) {
        Ok(s) => {
            // The schedule must actually exercise what it claims to.
            assert!(s.sent > 1_000, "{s:?}");
            assert!(s.delivered >= s.sent, "{s:?}");
            assert!(
                s.disconnects > 50 && s.restarts > 20 && s.faulted_chunks > 50,
                "{s:?}"
            );
        }
        Err(f) => panic!("{f}"),
    }
}

#[test]
fn longer_schedules_pass() {
    let cfg = SimConfig {
        steps: 2_000,
        ..SimConfig::default()
    };
    if let Err(f) = run_seeds(10_000, 20, &cfg) {
        panic!("{f}");
    }
}

#[test]
fn a_seed_replays_exactly() {
    let cfg = SimConfig::default();
    for seed in [3, 77, 1234] {
        assert_eq!(run_seed(seed, &cfg), run_seed(seed, &cfg));
    }
    let broken = SimConfig {
        sabotage: Sabotage::LoseJournal,
        ..SimConfig::default()
    };
    let first = run_seeds(0, 200, &broken).expect_err("sabotage must fail");
    let again = run_seed(first.seed, &broken).expect_err("the failing seed must fail again");
    assert_eq!(first, again);
}

/// A store that loses its journal makes resends gap-fill application messages: the loss check
/// must see it.
#[test]
fn a_lost_journal_is_caught_as_message_loss() {
    let cfg = SimConfig {
        sabotage: Sabotage::LoseJournal,
        ..SimConfig::default()
    };
    let f = run_seeds(0, 200, &cfg).expect_err("the loss must be detected");
    assert!(f.reason.contains("never received"), "{f}");
    assert!(!f.trace.is_empty());
}

/// A store that loses the last incoming commit makes a message arrive again under a number
/// already delivered: the delivery checks must see it.
#[test]
fn a_lost_incoming_commit_is_caught() {
    let cfg = SimConfig {
        sabotage: Sabotage::LoseIncomingCommit,
        ..SimConfig::default()
    };
    let f = run_seeds(0, 200, &cfg).expect_err("the redelivery must be detected");
    assert!(
        f.reason.contains("delivered MsgSeqNum went from")
            || f.reason.contains("delivered twice")
            || f.reason.contains("went back"),
        "{f}"
    );
}

/// Bytes lost inside a live connection can take a ResendRequest (or its answer) with them; the
/// session's ResendRequest timeout (2 x HeartBtInt by default) asks again, so the gap heals
/// without a new connection.
#[test]
fn heals_over_the_same_connection() {
    let cfg = SimConfig {
        reconnect_to_heal: false,
        ..SimConfig::default()
    };
    if let Err(f) = run_seeds(0, 200, &cfg) {
        panic!("{f}");
    }
}

//! Proptest settings shared by the codec's property tests.

use proptest::prelude::ProptestConfig;
use proptest::test_runner::RngSeed;

/// `cases` cases (unless `PROPTEST_CASES` asks for another count) with a fixed seed unless the
/// environment sets one: CI runs must be reproducible, and each test file passes its own seed.
pub fn config(cases: u32, seed: u64) -> ProptestConfig {
    let env = ProptestConfig::default();
    ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            env.cases
        } else {
            cases
        },
        rng_seed: match env.rng_seed {
            RngSeed::Random => RngSeed::Fixed(seed),
            fixed => fixed,
        },
        // Failing cases are reported with their seed; no regression files in the tree.
        failure_persistence: None,
        ..env
    }
}

#![no_main]
//! Fuzz target `store_recovery`: see `fix_sim::fuzz`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fix_sim::fuzz::run_target("store_recovery", data);
});

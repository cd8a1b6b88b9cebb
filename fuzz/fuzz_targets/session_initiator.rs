#![no_main]
//! Fuzz target `session_initiator`: see `fix_sim::fuzz`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fix_sim::fuzz::run_target("session_initiator", data);
});

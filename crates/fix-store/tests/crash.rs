//! Placeholder, replaced by the crash test.
fn main() {}

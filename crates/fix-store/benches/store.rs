//! Placeholder, replaced by the benches.
fn main() {}

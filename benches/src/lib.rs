//! Shared benchmark inputs. The message bytes live in `benches/data/` so that every harness (ours and
//! the peers') measures the very same bytes.

/// Directory holding the benchmark messages.
pub const DATA_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data");

#!/usr/bin/env bash
# Runs every test of the project. Used by README and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
# Tests never busy-spin: the engine's idle strategy in tests is `block` or bounded `backoff`.
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked

#!/usr/bin/env bash
# The main job: the demo on an embedded default configuration.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d crates/fixd ]; then
  exec cargo run --release --locked -p fixd -- demo "$@"
fi
exec cargo run --release --locked -p fix-codec --example demo "$@"

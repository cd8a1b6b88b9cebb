#!/usr/bin/env bash
# The main job: `fixd demo` on its embedded default configuration (an acceptor and an initiator in
# one process exchange orders and execution reports; prints session states and round-trip latency
# percentiles). Extra arguments go to `fixd demo`, e.g. `bash scripts/demo.sh --orders 50000`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release --locked -p fixd -- demo "$@"

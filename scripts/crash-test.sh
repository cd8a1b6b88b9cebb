#!/usr/bin/env bash
# Crash recovery, long run: `fixd run` (acceptor, executor, mmap store) against an initiator of
# our engine in another process, SIGKILL of either at seeded random points, restart, logon without
# reset, then checks (see crates/fixd/tests/crash_recovery.rs and docs/RELIABILITY.md).
#
#   bash scripts/crash-test.sh [RUNS]        # default 100 runs; prints "N passed, M failed"
#
# Environment: CRASH_SEED (replay), CRASH_ORDERS (default 500), CRASH_KILLS (default 3 per run),
# CRASH_WINDOW (default 8 unanswered orders), CRASH_VICTIMS (both | initiator | fixd; default
# both), CRASH_DEBUG=1 (debug build), CARGO_TARGET_DIR. A failed run keeps its directory (fixd's
# message log and stderr, the initiator's records) and prints its seed.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-100}"
case "$runs" in
  ''|*[!0-9]*) echo "usage: $0 [RUNS]" >&2; exit 2 ;;
esac
export CRASH_ITERATIONS="$runs"
profile=(--release)
if [ "${CRASH_DEBUG:-0}" = 1 ]; then profile=(); fi
# `crash_recovery_either_side` kills fixd too (CI runs 3 runs of it; this runs RUNS).
exec cargo test "${profile[@]}" --locked -p fixd --test crash_recovery -- \
  crash_recovery_either_side --exact --nocapture

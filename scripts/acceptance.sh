#!/usr/bin/env bash
# Runs QuickFIX-format acceptance scripts (.def) against fixd over loopback TCP.
#
#   bash scripts/acceptance.sh DIR_OR_FILE [DIR_OR_FILE...]
#   bash scripts/acceptance.sh ../shared/acceptance/quickfix/fix4*
#
# Builds fixd and the runner (release), starts fixd with acceptance/at.properties (every session of
# ../shared/acceptance/quickfix/cfg/at.cfg) on a free loopback port, runs the scripts (directories in
# parallel, the scripts of one directory in name order), prints one line per script and
# `N passed, M failed`, stops fixd (its storage and message logs go to a temporary directory, kept
# when a script fails), and exits with the runner's status (non-zero if any failed).
#
# Environment (all optional):
#   FIXD                 a fixd binary to use instead of building crates/fixd
#   ACCEPTANCE_CONFIG    properties file for fixd (default acceptance/at.properties)
#   ACCEPTANCE_JOBS      directories run in parallel (default 4)
#   ACCEPTANCE_TIMEOUT   bound in seconds on every read (default 10)
#   ACCEPTANCE_FIELDS    a fields.fmt to use instead of the built-in QuickFIX table
#   CARGO_TARGET_DIR     honoured as by cargo (relative to the repository root)
set -euo pipefail

die() {
  echo "acceptance.sh: $*" >&2
  exit 2
}

[ "$#" -ge 1 ] || die "usage: scripts/acceptance.sh DIR_OR_FILE [DIR_OR_FILE...]"
for p in "$@"; do
  [ -e "$p" ] || die "$p: no such file or directory"
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CONFIG=${ACCEPTANCE_CONFIG:-acceptance/at.properties}

if [ -z "${FIXD:-}" ]; then
  [ -f "$ROOT/crates/fixd/Cargo.toml" ] ||
    die "fixd is missing: crates/fixd does not exist yet, so there is no engine to run the scripts against (set FIXD=/path/to/fixd to use another build)"
  packages=(-p fixd -p fix-acceptance)
else
  [ -x "$FIXD" ] || die "FIXD=$FIXD is not an executable"
  packages=(-p fix-acceptance)
fi
( cd "$ROOT" && [ -f "$CONFIG" ] ) ||
  die "$CONFIG is missing (relative to $ROOT): fixd needs an acceptance configuration defining every session of ../shared/acceptance/quickfix/cfg/at.cfg"

echo "acceptance.sh: building ${packages[*]} (release)" >&2
( cd "$ROOT" && cargo build --release --quiet "${packages[@]}" )
TARGET=$(cd "$ROOT" && cd "${CARGO_TARGET_DIR:-target}" && pwd)
RUNNER=$TARGET/release/fix-acceptance
FIXD=${FIXD:-$TARGET/release/fixd}
[ -x "$FIXD" ] || die "fixd was not built at $FIXD"
[ -x "$RUNNER" ] || die "the runner was not built at $RUNNER"

PORT=$("$RUNNER" --print-free-port)
# fixd's output, storage and per-session FIX message logs (WORK/logs/<session>.messages.log).
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fixd-acceptance.XXXXXX")
LOG=$WORK/fixd.log
( cd "$ROOT" && exec "$FIXD" run --config "$CONFIG" --set "ListenPort=$PORT" \
    --set "StorageDirectory=$WORK/store" --set "MessageLog=$WORK/logs" ) >"$LOG" 2>&1 &
FIXD_PID=$!

stop_fixd() {
  if kill -0 "$FIXD_PID" 2>/dev/null; then
    kill -TERM "$FIXD_PID" 2>/dev/null || true
    # Bounded: 5 s for a clean exit, then KILL.
    for _ in $(seq 1 50); do
      kill -0 "$FIXD_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$FIXD_PID" 2>/dev/null || true
  fi
  wait "$FIXD_PID" 2>/dev/null || true
}
trap stop_fixd EXIT
trap 'exit 130' INT TERM

# Wait (at most 30 s) until fixd says it runs: it logs `fixd running` once every session exists.
# The engine binds the port before it creates the sessions but accepts only once every one is
# registered (EngineBuilder::start; crates/fix-engine/tests/engine_startup.rs), so an early Logon
# is not refused: it waits in the kernel's backlog, and its answer waits for the whole start-up
# (every store opened), which would count against the runner's per-read timeout. Then one
# connection without data, like the runner's probe.
ready=0
for _ in $(seq 1 300); do
  if ! kill -0 "$FIXD_PID" 2>/dev/null; then
    echo "acceptance.sh: fixd exited before listening on 127.0.0.1:$PORT; its output ($LOG):" >&2
    tail -n 40 "$LOG" >&2
    exit 1
  fi
  if grep -q "fixd running" "$LOG" 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.1
done
if [ "$ready" != 1 ]; then
  echo "acceptance.sh: fixd did not listen on 127.0.0.1:$PORT within 30 s; its output: $LOG" >&2
  exit 1
fi

args=(--host 127.0.0.1 --port "$PORT" --jobs "${ACCEPTANCE_JOBS:-4}" --timeout "${ACCEPTANCE_TIMEOUT:-10}")
if [ -n "${ACCEPTANCE_FIELDS:-}" ]; then
  args+=(--fields "$ACCEPTANCE_FIELDS")
fi
status=0
"$RUNNER" "${args[@]}" "$@" || status=$?
stop_fixd
if [ "$status" != 0 ]; then
  echo "acceptance.sh: fixd's output is in $LOG, its FIX message logs in $WORK/logs" >&2
else
  rm -rf "$WORK"
fi
exit "$status"

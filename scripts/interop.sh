#!/usr/bin/env bash
# Interoperability runs against real QuickFIX C++ (Debian libquickfix-dev), see docs/INTEROP.md.
#
#   scripts/interop.sh [matrix|basic|selftest|bench] [--acceptor qf|fixd] [--initiator qf|fixd]
#                      [--orders N] [--resume-orders N] [--only NAME]
#
#   matrix    (default) fixd against QuickFIX in both directions (QuickFIX initiator -> fixd
#             acceptor, fixd initiator -> QuickFIX acceptor), FIX.4.2, FIX.4.4, FIXT.1.1/5.0SP2:
#             N orders (--orders, default 10000), the stop/restart/resume and 141=Y reset
#             scenarios (--resume-orders, default 2000); --acceptor/--initiator are ignored
#   basic     initiator -> acceptor, FIX.4.2, FIX.4.4, FIXT.1.1/FIX.5.0SP2, N orders each
#   selftest  basic, plus the restart / abrupt-stop / reset-logon scenarios (default: QuickFIX on
#             both sides, N = 1000)
#   bench     QuickFIX <-> QuickFIX round-trip latency and throughput, and the QuickFIX codec bench
#
# Everything runs inside a private network namespace (unshare -n, loopback only): QuickFIX 1.15
# listens on all interfaces and cannot be told otherwise, so it must not see a real one.
# Either side can be our fixd instead of qf_peer (--acceptor fixd / --initiator fixd): the acceptor
# is `fixd run --config FILE`, the initiator `fixd client --config FILE ...`. FIXD=path names the
# binary; without it the script builds and uses ${CARGO_TARGET_DIR:-target}/release/fixd.
# Every wait is bounded; prints one line per scenario and `N passed, M failed`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

cmd=matrix
ACCEPTOR=${INTEROP_ACCEPTOR:-qf}
INITIATOR=${INTEROP_INITIATOR:-qf}
ORDERS=""
RESUME_ORDERS=2000
ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    matrix | basic | selftest | bench) cmd="$1" ;;
    --acceptor) ACCEPTOR="$2"; shift ;;
    --initiator) INITIATOR="$2"; shift ;;
    --orders) ORDERS="$2"; shift ;;
    --resume-orders) RESUME_ORDERS="$2"; shift ;;
    --only) ONLY="$2"; shift ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "interop.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
for impl in "$ACCEPTOR" "$INITIATOR"; do
  case "$impl" in qf | fixd) ;; *) echo "interop.sh: a side is qf or fixd, not '$impl'" >&2; exit 2 ;; esac
done
if [ -z "$ORDERS" ]; then
  if [ "$cmd" = matrix ]; then ORDERS=10000; else ORDERS=1000; fi
fi
for n in "$ORDERS" "$RESUME_ORDERS"; do
  [[ "$n" =~ ^[1-9][0-9]{0,6}$ ]] || { echo "interop.sh: --orders / --resume-orders want 1..9999999" >&2; exit 2; }
done

QF_PEER="$root/target/interop/qf_peer"

# ---- outside the namespace: build, then re-enter this script in a private network namespace ----
if [ -z "${INTEROP_IN_NETNS:-}" ]; then
  bash "$root/interop/build.sh"
  if [ "$cmd" = matrix ] || [ "$ACCEPTOR" = fixd ] || [ "$INITIATOR" = fixd ]; then
    if [ -z "${FIXD:-}" ]; then
      cargo build --quiet --release -p fixd ||
        { echo "interop.sh: cargo build --release -p fixd failed" >&2; exit 2; }
      FIXD="$(cd "${CARGO_TARGET_DIR:-$root/target}" && pwd)/release/fixd"
    fi
    if [ ! -x "$FIXD" ]; then
      echo "interop.sh: $FIXD not found (FIXD=path, or unset it to build)" >&2
      exit 2
    fi
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "interop.sh: needs root for 'unshare -n' (QuickFIX must only ever listen in a private network namespace)" >&2
    exit 2
  fi
  command -v unshare >/dev/null && command -v ip >/dev/null && command -v ss >/dev/null ||
    { echo "interop.sh: needs unshare, ip and ss (util-linux, iproute2): run scripts/setup.sh" >&2; exit 2; }
  # The whole run is bounded too, whatever happens inside.
  exec timeout -k 10 900 unshare -n env INTEROP_IN_NETNS=1 INTEROP_ACCEPTOR="$ACCEPTOR" \
    INTEROP_INITIATOR="$INITIATOR" FIXD="${FIXD:-}" bash "$0" "$cmd" --orders "$ORDERS" \
    --resume-orders "$RESUME_ORDERS" ${ONLY:+--only "$ONLY"}
fi

ip link set lo up
# QuickFIX will bind every interface: make sure loopback is the only one there is.
if ip -o link show | grep -v ': lo:' | grep -q .; then
  echo "interop.sh: the network namespace has interfaces besides lo; refusing to run QuickFIX" >&2
  exit 2
fi
work="$root/target/interop/run"
rm -rf "$work"
mkdir -p "$work"

ACC_COMP=ACCEPTOR
QF_LOG=1       # QuickFIX message logs for the scenarios; the benchmarks turn them off
FIXD_SET=()    # extra `--set KEY=VALUE` arguments for fixd
INI_COMP=INITIATOR
next_port=7001
ACC_PID=""
passed=0
failed=0
failures=()

# ---- the two sides: one function per role, one case per implementation ------------------------

# acceptor_start VER DIR [RESET_ON_LOGON] [qf_peer args...]: starts the acceptor in the background
# (ACC_PID), on port $PORT, storing in DIR/acceptor-store, and waits until it listens.
acceptor_start() {
  local ver="$1" dir="$2" reset="${3:-N}"
  shift 3 || shift $#
  local store="$dir/acceptor-store"
  local n=$(( $(ls "$dir" | grep -c '^acceptor[0-9]*\.out$' || true) + 1 ))
  mkdir -p "$store" "$dir/acceptor-log"
  case "$ACCEPTOR" in
    qf)
      interop/render-cfg.sh "interop/cfg/qf-acceptor-$ver.cfg" PORT="$PORT" SENDER="$ACC_COMP" \
        TARGET="$INI_COMP" STORE_DIR="$store" RESET_ON_LOGON="$reset" SPEC_DIR=spec >"$dir/acceptor.cfg"
      timeout -k 5 120 "$QF_PEER" --settings "$dir/acceptor.cfg" --role acceptor --timeout 110 \
        ${QF_LOG:+--log "$dir/acceptor-log"} --report "$dir/acceptor$n.report" "$@" \
        >"$dir/acceptor$n.out" 2>"$dir/acceptor$n.err" &
      ;;
    fixd)
      interop/render-cfg.sh "interop/fixd/fixd-acceptor-$ver.properties" PORT="$PORT" \
        SENDER="$ACC_COMP" TARGET="$INI_COMP" STORE_DIR="$store" RESET_ON_LOGON="$reset" \
        SPEC_DIR=spec >"$dir/acceptor.properties"
      timeout -k 5 120 "$FIXD" run --config "$dir/acceptor.properties" "${FIXD_SET[@]}" \
        >"$dir/acceptor$n.out" 2>"$dir/acceptor$n.err" &
      ;;
  esac
  ACC_PID=$!
  wait_listening "$PORT" || { echo "acceptor did not listen on $PORT within 30 s" >"$dir/why"; return 1; }
}

# acceptor_stop [graceful|abrupt]: SIGTERM (qf_peer logs out or, with --on-term abrupt, exits at
# once; fixd gets SIGKILL for abrupt) and a bounded wait for the exit.
acceptor_stop() {
  local how="${1:-graceful}"
  [ -n "$ACC_PID" ] || return 0
  if [ "$how" = abrupt ] && [ "$ACCEPTOR" = fixd ]; then
    # timeout(1) cannot pass SIGKILL on: kill its child, the fixd process itself.
    local child
    child="$(pgrep -P "$ACC_PID" || true)"
    [ -z "$child" ] || kill -KILL $child 2>/dev/null || true
  else
    kill -TERM "$ACC_PID" 2>/dev/null || true
  fi
  local rc=0
  wait "$ACC_PID" 2>/dev/null || rc=$?
  ACC_PID=""
  return "$rc"
}

# initiator_run VER DIR NAME [RESET_ON_LOGON] [qf_peer args...]: runs the initiator in the
# foreground (bounded), output in DIR/NAME.out; returns its exit code.
initiator_run() {
  local ver="$1" dir="$2" name="$3" reset="${4:-N}"
  shift 4 || shift $#
  local store="$dir/initiator-store"
  mkdir -p "$store" "$dir/initiator-log"
  case "$INITIATOR" in
    qf)
      interop/render-cfg.sh "interop/cfg/qf-initiator-$ver.cfg" PORT="$PORT" SENDER="$INI_COMP" \
        TARGET="$ACC_COMP" STORE_DIR="$store" RESET_ON_LOGON="$reset" SPEC_DIR=spec \
        HEARTBTINT=30 >"$dir/$name.cfg"
      # In the background and waited for, so that DIR/NAME.pid names the process a scenario may
      # signal (timeout(1) passes SIGTERM on to qf_peer).
      timeout -k 5 90 "$QF_PEER" --settings "$dir/$name.cfg" --role initiator --timeout 80 \
        --log "$dir/initiator-log" --report "$dir/$name.report" "$@" \
        >"$dir/$name.out" 2>"$dir/$name.err" &
      echo $! >"$dir/$name.pid"
      wait $!
      ;;
    fixd)
      # `fixd client` takes qf_peer's initiator options (--orders --window --rate --stop-after
      # --state --on-term --timeout --grace-ms) and prints the same summary line.
      local force_reset=0 timeout_arg=(--timeout 80) a
      [ "$reset" != Y ] || force_reset=2
      for a in "$@"; do [ "$a" != --timeout ] || timeout_arg=(); done
      interop/render-cfg.sh "interop/fixd/fixd-initiator-$ver.properties" PORT="$PORT" \
        SENDER="$INI_COMP" TARGET="$ACC_COMP" STORE_DIR="$store" FORCE_RESET="$force_reset" \
        SPEC_DIR=spec HEARTBTINT=30 >"$dir/$name.properties"
      timeout -k 5 90 "$FIXD" client --config "$dir/$name.properties" "${timeout_arg[@]}" \
        --report "$dir/$name.report" "$@" >"$dir/$name.out" 2>"$dir/$name.err" &
      echo $! >"$dir/$name.pid"
      wait $!
      ;;
  esac
}

# Up to 30 s: QuickFIX needs about 4 s to load FIX50SP2.xml on a quiet machine, far more on a busy one.
wait_listening() {
  local port="$1" i
  for i in $(seq 600); do
    ss -Hltn "sport = :$port" | grep -q . && return 0
    sleep 0.05
  done
  return 1
}

# Up to 30 s for an established connection to PORT.
wait_connected() {
  local port="$1" i
  for i in $(seq 600); do
    ss -Htn state established "( sport = :$port or dport = :$port )" | grep -q . && return 0
    sleep 0.05
  done
  return 1
}

# check FILE KEY=VALUE...: the summary line in FILE has each KEY with exactly VALUE.
check() {
  local file="$1" kv key want got
  shift
  [ -f "$file" ] || { echo "no report $(basename "$file")" >>"$dir/why"; return 1; }
  local ok=0
  for kv in "$@"; do
    key="${kv%%=*}"; want="${kv#*=}"
    got="$(grep -o "\(^\| \)$key=[^ ]*" "$file" | head -1 | sed 's/.*=//')"
    if [ "$got" != "$want" ]; then
      echo "$(basename "$file"): $key=${got:-<none>}, want $want" >>"$dir/why"
      ok=1
    fi
  done
  return "$ok"
}

# Acceptor-side checks only exist for qf_peer (fixd prints no such report).
check_acceptor() { [ "$ACCEPTOR" != qf ] || check "$@"; }

# run_scenario NAME FUNCTION ARGS...: fresh directory and port, one line of result.
run_scenario() {
  local name="$1"
  shift
  if [ -n "$ONLY" ] && [[ "$name" != *"$ONLY"* ]]; then return 0; fi
  dir="$work/$name"
  mkdir -p "$dir"
  : >"$dir/why"
  PORT=$next_port
  next_port=$((next_port + 1))
  local t0=$SECONDS rc=0
  "$@" || rc=$?
  acceptor_stop graceful >/dev/null 2>&1 || true
  if [ "$rc" = 0 ] && [ ! -s "$dir/why" ]; then
    passed=$((passed + 1))
    printf 'PASS %-44s %3ss\n' "$name" "$((SECONDS - t0))"
  else
    failed=$((failed + 1))
    failures+=("$name")
    printf 'FAIL %-44s %3ss  %s (rc=%s; logs in %s)\n' "$name" "$((SECONDS - t0))" \
      "$(tr '\n' ';' <"$dir/why")" "$rc" "${dir#"$root"/}"
  fi
}

all_answered() { # FILE N
  check "$1" orders_sent="$2" reports_received="$2" duplicates=0 missing=0 unsent=0 mismatched=0 \
    unexpected=0 session_rejects_sent=0 session_rejects_received=0
}

# ---- scenarios ------------------------------------------------------------------------------

# N orders, one in flight.
sc_basic() {
  local ver="$1"
  acceptor_start "$ver" "$dir" N --exit-after-logout || return 1
  initiator_run "$ver" "$dir" initiator N --orders "$ORDERS" || echo "initiator rc=$?" >>"$dir/why"
  all_answered "$dir/initiator.report" "$ORDERS"
  acceptor_stop graceful || echo "acceptor rc=$?" >>"$dir/why"
  check_acceptor "$dir/acceptor1.report" orders_received="$ORDERS" distinct="$ORDERS" duplicates=0
}

# N orders, 32 in flight.
sc_window() {
  local ver="$1"
  acceptor_start "$ver" "$dir" N || return 1
  initiator_run "$ver" "$dir" initiator N --orders "$ORDERS" --window 32 ||
    echo "initiator rc=$?" >>"$dir/why"
  all_answered "$dir/initiator.report" "$ORDERS"
}

# The initiator exits without Logout after 40% of the orders, is restarted on the same store and
# state, logs on without reset and finishes: every order answered once, none executed twice.
sc_initiator_stop_resume() {
  local ver="$1" k=$((ORDERS * 2 / 5))
  [ "$k" -ge 1 ] || k=1
  acceptor_start "$ver" "$dir" N || return 1
  # STOP_WINDOW > 1 leaves orders in flight at the stop: their reports are sent to a dead
  # connection and must come back by resend after the restart.
  initiator_run "$ver" "$dir" run1 N --orders "$ORDERS" --stop-after "$k" --state "$dir/state" \
    --window "${STOP_WINDOW:-1}" || echo "run1 rc=$?" >>"$dir/why"
  check "$dir/run1.report" aborted=1 orders_sent="$k" unsent=$((ORDERS - k))
  initiator_run "$ver" "$dir" run2 N --orders "$ORDERS" --state "$dir/state" ||
    echo "run2 rc=$?" >>"$dir/why"
  all_answered "$dir/run2.report" "$ORDERS"
  check "$dir/run2.report" reset_logons_sent=0
  acceptor_stop graceful || echo "acceptor rc=$?" >>"$dir/why"
  check_acceptor "$dir/acceptor1.report" distinct="$ORDERS" duplicates=0
}

# The initiator gets SIGTERM mid-stream (orders paced, many in flight) and exits without Logout;
# the restart finishes the stream.
sc_initiator_sigterm_resume() {
  local ver="$1"
  acceptor_start "$ver" "$dir" N || return 1
  initiator_run "$ver" "$dir" run1 N --orders "$ORDERS" --rate "$((ORDERS * 2))" --window 100 \
    --on-term abrupt --state "$dir/state" &
  local pid=$! i
  sleep 0.25
  for i in $(seq 20); do [ -s "$dir/run1.pid" ] && break; sleep 0.05; done
  kill -TERM "$(cat "$dir/run1.pid")" 2>/dev/null || echo "run1 not running" >>"$dir/why"
  wait "$pid" || echo "run1 rc=$?" >>"$dir/why"
  check "$dir/run1.report" aborted=1
  initiator_run "$ver" "$dir" run2 N --orders "$ORDERS" --state "$dir/state" ||
    echo "run2 rc=$?" >>"$dir/why"
  all_answered "$dir/run2.report" "$ORDERS"
  acceptor_stop graceful || echo "acceptor rc=$?" >>"$dir/why"
  check_acceptor "$dir/acceptor1.report" distinct="$ORDERS" duplicates=0
}

# The acceptor dies without Logout mid-stream and is restarted on its store; the initiator
# reconnects by itself, and the sequence gap is recovered by resends: every order answered once.
sc_acceptor_restart() {
  local ver="$1"
  acceptor_start "$ver" "$dir" N --on-term abrupt || return 1
  initiator_run "$ver" "$dir" initiator N --orders "$ORDERS" --rate "$((ORDERS * 2))" --window 100 &
  local pid=$!
  # Mid-stream: the stream takes 0.5 s from the Logon, however long the initiator needs to start.
  wait_connected "$PORT" || echo "no connection to the acceptor within 30 s" >>"$dir/why"
  sleep 0.2
  acceptor_stop abrupt || true
  check_acceptor "$dir/acceptor1.report" aborted=1
  acceptor_start "$ver" "$dir" N || { kill "$pid"; wait "$pid"; return 1; }
  wait "$pid" || echo "initiator rc=$?" >>"$dir/why"
  all_answered "$dir/initiator.report" "$ORDERS"
  check "$dir/initiator.report" reset_logons_sent=0
  acceptor_stop graceful || echo "acceptor rc=$?" >>"$dir/why"
  check_acceptor "$dir/acceptor2.report" duplicates=0
}

# After a full stream, a new initiator run logs on with ResetSeqNumFlag <141>=Y (ResetOnLogon=Y):
# both sides start again at 1 and the new stream is answered in full.
sc_reset_logon() {
  local ver="$1" n=$((ORDERS / 10 + 1))
  acceptor_start "$ver" "$dir" N || return 1
  initiator_run "$ver" "$dir" run1 N --orders "$ORDERS" || echo "run1 rc=$?" >>"$dir/why"
  all_answered "$dir/run1.report" "$ORDERS"
  initiator_run "$ver" "$dir" run2 Y --orders "$n" || echo "run2 rc=$?" >>"$dir/why"
  all_answered "$dir/run2.report" "$n"
  check "$dir/run2.report" reset_logons_sent=1 resend_requests_sent=0 resend_requests_received=0
  acceptor_stop graceful || echo "acceptor rc=$?" >>"$dir/why"
  check_acceptor "$dir/acceptor1.report" reset_logons_received=1 duplicates=0
}

# The checks can fail: an acceptor that answers one order twice, or drops one, must be caught.
sc_detects_duplicate() {
  local ver="$1"
  acceptor_start "$ver" "$dir" N --answer-twice 7 || return 1
  local rc=0
  initiator_run "$ver" "$dir" initiator N --orders 20 --grace-ms 100 || rc=$?
  [ "$rc" = 1 ] || echo "initiator rc=$rc, want 1" >>"$dir/why"
  check "$dir/initiator.report" orders_sent=20 reports_received=20 duplicates=1 missing=0
}

sc_detects_missing() {
  local ver="$1"
  acceptor_start "$ver" "$dir" N --drop 7 || return 1
  local rc=0
  initiator_run "$ver" "$dir" initiator N --orders 20 --window 4 --timeout 5 || rc=$?
  [ "$rc" = 3 ] || echo "initiator rc=$rc, want 3 (timeout)" >>"$dir/why"
  check "$dir/initiator.report" orders_sent=20 reports_received=19 duplicates=0 missing=1
}

# ---- benchmarks -------------------------------------------------------------------------------

bench() {
  dir="$work/bench"
  mkdir -p "$dir"
  : >"$dir/why"
  local ver=fix44 rc=0 acc
  echo "== QuickFIX codec (benches/qf/qf_codec_bench.cpp)"
  "$root/target/interop/qf_codec_bench" --iters 20000 --batches 15 | tee "$dir/codec.out" || rc=1

  # The acceptor is qf_peer (MemoryStore, no log) or fixd (--acceptor fixd; its store stays on).
  QF_LOG=""
  FIXD_SET=(--set "FixLayer.FixEngine.Session.IOP.StorageType=transient")
  acc="$ACCEPTOR acceptor"
  echo "== QuickFIX initiator <-> $acc round trip, $ver, one order in flight, 22000 orders, first 2000 not counted"
  PORT=$next_port; next_port=$((next_port + 1))
  acceptor_start "$ver" "$dir" Y --store memory || rc=1
  interop/render-cfg.sh "interop/cfg/qf-initiator-$ver.cfg" PORT="$PORT" SENDER="$INI_COMP" \
    TARGET="$ACC_COMP" STORE_DIR="$dir/i" RESET_ON_LOGON=Y SPEC_DIR=spec HEARTBTINT=30 \
    >"$dir/initiator.cfg"
  timeout -k 5 120 "$QF_PEER" --settings "$dir/initiator.cfg" --role initiator --store memory \
    --orders 22000 --warmup 2000 --latency --timeout 100 >"$dir/rtt.out" 2>"$dir/rtt.err" || rc=1
  grep rtt_ "$dir/rtt.out" || rc=1
  acceptor_stop graceful || rc=1
  [ "$ACCEPTOR" != qf ] || grep -q "distinct=22000 " "$dir/acceptor1.report" || rc=1

  echo "== QuickFIX initiator -> $acc throughput, $ver, one direction, 5 s"
  PORT=$next_port; next_port=$((next_port + 1))
  acceptor_start "$ver" "$dir" Y --store memory --no-reply || rc=1
  sed -i "s/^SocketConnectPort=.*/SocketConnectPort=$PORT/" "$dir/initiator.cfg"
  timeout -k 5 120 "$QF_PEER" --settings "$dir/initiator.cfg" --role initiator --store memory \
    --mode throughput --duration 5 --timeout 100 >"$dir/tput.out" 2>"$dir/tput.err" || rc=1
  grep throughput_send "$dir/tput.out" || rc=1
  acceptor_stop graceful || rc=1
  if [ "$ACCEPTOR" = qf ]; then
    grep -o 'orders_received=[0-9]* .*recv_msgs_per_s=[0-9]*' "$dir/acceptor2.report" || rc=1
  fi
  [ "$rc" = 0 ] || echo "bench: something failed; see ${dir#"$root"/}" >&2
  return "$rc"
}

# One direction of the matrix: every scenario with INITIATOR -> ACCEPTOR, all three versions.
matrix_direction() {
  local tag="$INITIATOR-to-$ACCEPTOR" ver big="$ORDERS"
  for ver in fix42 fix44 fixt11; do
    ORDERS="$big"
    run_scenario "$tag-basic-$ver" sc_basic "$ver"
    ORDERS="$RESUME_ORDERS" STOP_WINDOW=50
    run_scenario "$tag-initiator-stop-resume-$ver" sc_initiator_stop_resume "$ver"
    run_scenario "$tag-acceptor-restart-$ver" sc_acceptor_restart "$ver"
    run_scenario "$tag-reset-logon-$ver" sc_reset_logon "$ver"
  done
  run_scenario "$tag-initiator-sigterm-resume-fix44" sc_initiator_sigterm_resume fix44
  if [ "$ACCEPTOR" = qf ]; then
    # The checks of the fixd client can fail too.
    run_scenario "$tag-detects-duplicate-fix44" sc_detects_duplicate fix44
    run_scenario "$tag-detects-missing-fix44" sc_detects_missing fix44
  fi
  ORDERS="$big" STOP_WINDOW=1
}

case "$cmd" in
  matrix)
    INITIATOR=qf ACCEPTOR=fixd matrix_direction
    INITIATOR=fixd ACCEPTOR=qf matrix_direction
    ;;
  bench)
    bench
    exit $?
    ;;
  basic | selftest)
    for ver in fix42 fix44 fixt11; do run_scenario "basic-$ver" sc_basic "$ver"; done
    if [ "$cmd" = selftest ]; then
      run_scenario window-fix44 sc_window fix44
      for ver in fix42 fix44 fixt11; do
        run_scenario "initiator-stop-resume-$ver" sc_initiator_stop_resume "$ver"
      done
      run_scenario initiator-sigterm-resume-fix44 sc_initiator_sigterm_resume fix44
      run_scenario acceptor-restart-fix44 sc_acceptor_restart fix44
      run_scenario reset-logon-fix44 sc_reset_logon fix44
      if [ "$ACCEPTOR" = qf ]; then
        run_scenario detects-duplicate-fix44 sc_detects_duplicate fix44
        run_scenario detects-missing-fix44 sc_detects_missing fix44
      fi
    fi
    ;;
esac
echo "$passed passed, $failed failed${failures[*]:+ (${failures[*]})}"
[ "$failed" = 0 ]

#!/usr/bin/env bash
# Fuzzing: run every cargo-fuzz target in fuzz/ (or the ones named) for SECONDS each.
#
#   bash scripts/fuzz.sh SECONDS [TARGET...]     # prints one line per target, then "N passed, M failed"
#
# Targets: framer fields validate session_acceptor session_initiator store_recovery (their bodies
# are in crates/fix-sim/src/fuzz.rs). Installs cargo-fuzz if missing (stable toolchain + the
# RUSTC_BOOTSTRAP=1 escape hatch for its nightly flags), (re)builds the seed corpus in
# fuzz/corpus/<target>/ (gitignored) from the QuickFIX acceptance scripts, then fuzzes. A crash
# is written to fuzz/artifacts/<target>/: copy it to fuzz/regressions/<target>/ and
# `cargo test -p fix-sim --test fuzz_regressions` replays it from then on.
#
# Environment: FUZZ_SCRIPTS (default ../shared/acceptance/quickfix), FUZZ_FALLBACK=1 (skip
# libFuzzer: run crates/fix-sim's fix-fuzz-run, deterministic mutations of the corpus, seeded by
# FUZZ_SEED, about SECONDS*2000 inputs per target), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
all=(framer fields validate session_acceptor session_initiator store_recovery)
secs="${1:-}"
case "$secs" in
  ''|*[!0-9]*) echo "usage: $0 SECONDS [TARGET...]" >&2; exit 2 ;;
esac
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=("${all[@]}"); fi
for t in "${targets[@]}"; do
  case " ${all[*]} " in
    *" $t "*) ;;
    *) echo "unknown target $t (known: ${all[*]})" >&2; exit 2 ;;
  esac
done
scripts="${FUZZ_SCRIPTS:-../shared/acceptance/quickfix}"

# Seed corpus: the acceptance scripts' messages after the <TIME>/9=/10= transform.
echo "building the seed corpus from $scripts"
cargo run -q -p fix-sim --features corpus --bin fix-fuzz-corpus -- "$scripts" fuzz/corpus

mode=libfuzzer
if [ "${FUZZ_FALLBACK:-0}" = 1 ]; then
  mode=fallback
elif ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked || mode=fallback
fi
fuzz_flags=(-O --debug-assertions)
if [ "$mode" = libfuzzer ]; then
  echo "building the fuzz targets (cargo fuzz, RUSTC_BOOTSTRAP=1)"
  if ! (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz build "${fuzz_flags[@]}"); then
    echo "cargo fuzz build failed: falling back to fix-fuzz-run" >&2
    mode=fallback
  fi
fi
if [ "$mode" = fallback ]; then
  cargo build -q --release -p fix-sim --bin fix-fuzz-run
fi

passed=0
failed=0
for t in "${targets[@]}"; do
  log="$(mktemp)"
  if [ "$mode" = libfuzzer ]; then
    # -rss_limit_mb: the dictionaries and the store's mappings need a few hundred MB.
    if (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run "${fuzz_flags[@]}" "$t" "corpus/$t" -- \
          -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1) >"$log" 2>&1; then
      ok=1
    else
      ok=0
    fi
    runs="$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || true)"
  else
    exe="${CARGO_TARGET_DIR:-target}/release/fix-fuzz-run"
    if timeout "$((secs * 3 + 60))" "$exe" "$t" "fuzz/corpus/$t" --mutations "$((secs * 2000))" \
          --seed "${FUZZ_SEED:-0}" --artifacts "fuzz/artifacts/$t" >"$log" 2>&1; then
      ok=1
    else
      ok=0
    fi
    runs="$(grep -Eo '[0-9]+ inputs' "$log" | grep -Eo '[0-9]+' || true)"
  fi
  if [ "$ok" = 1 ]; then
    passed=$((passed + 1))
    echo "PASS $t (${runs:-?} inputs, $mode)"
  else
    failed=$((failed + 1))
    echo "FAIL $t ($mode): last lines of its log:"
    grep -E 'panicked|Test unit written|crash after|ERROR|error' "$log" | head -5 | sed 's/^/    /' || true
    tail -5 "$log" | sed 's/^/    /'
  fi
  rm -f "$log"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

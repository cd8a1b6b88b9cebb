#!/usr/bin/env bash
# Runs every test of the project (README's test command; .ci/run calls exactly this).
#
#   bash scripts/test.sh            # everything below
#   TEST_SUITES="cargo acceptance" bash scripts/test.sh   # a subset (cargo acceptance interop fuzz)
#
# 1. cargo: every unit, integration, property, crash-recovery, reliability and simulation test of
#    the workspace, and the doc tests. Tests never busy-spin: engines in tests idle in `block`.
# 2. acceptance: the 229 QuickFIX acceptance scripts over TCP against `fixd` (scripts/acceptance.sh).
# 3. interop: fixd against QuickFIX C++ in both directions (scripts/interop.sh; needs root for the
#    private network namespace QuickFIX must run in; skipped with a message otherwise).
# 4. fuzz: every cargo-fuzz target for a few seconds (scripts/fuzz.sh).
# Each suite prints its own `N passed, M failed`; the last line counts the suites.
set -uo pipefail
cd "$(dirname "$0")/.."
shared=../shared/acceptance/quickfix
suites="${TEST_SUITES:-cargo acceptance interop fuzz}"
passed=0
failed=0
skipped=0
failed_names=()

run_suite() {
  local name=$1
  shift
  echo "=== $name: $*"
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    echo "=== $name: ok ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1))
    failed_names+=("$name")
    echo "=== $name: FAILED ($((SECONDS - start)) s)"
  fi
}

cargo_suite() {
  cargo test --workspace --all-targets --locked && cargo test --workspace --doc --locked
}

for suite in $suites; do
  case "$suite" in
    cargo) run_suite cargo cargo_suite ;;
    acceptance)
      if [ -d "$shared" ]; then
        run_suite acceptance bash scripts/acceptance.sh "$shared/fix40" "$shared/fix41" "$shared/fix42" "$shared/fix44"
      else
        echo "=== acceptance: skipped ($shared is missing)"
        skipped=$((skipped + 1))
      fi
      ;;
    interop)
      if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1; then
        run_suite interop bash scripts/interop.sh
      else
        echo "=== interop: skipped (needs root for unshare -n)"
        skipped=$((skipped + 1))
      fi
      ;;
    fuzz) run_suite fuzz bash scripts/fuzz.sh "${FUZZ_SECONDS:-5}" ;;
    *) echo "unknown suite $suite (known: cargo acceptance interop fuzz)" >&2; exit 2 ;;
  esac
done
if [ "$failed" -gt 0 ]; then echo "failed suites: ${failed_names[*]}"; fi
echo "suites: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# Instructions per message of each codec workload, under callgrind (repeatable on a noisy
# machine, unlike wall-clock time). Runs each workload at two iteration counts and divides the
# difference, so start-up and dictionary loading cancel out.
# Usage: bash benches/callgrind.sh [workload...]   (default: scan validate receive encode)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -q -p fix-benches --example profile
bin="$target/release/examples/profile"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
ir() {
  valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" "$1" "$2" >/dev/null 2>"$tmp/err"
  grep -o 'Collected : [0-9]*' "$tmp/err" | grep -o '[0-9]*'
}
for w in "${@:-scan validate receive encode}"; do
  for one in $w; do
    a=$(ir "$one" 10000)
    b=$(ir "$one" 30000)
    echo "$one: $(( (b - a) / 20000 )) instructions/message"
  done
done

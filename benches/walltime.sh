#!/usr/bin/env bash
# Wall-clock ns/message of each codec workload: best of five runs of the profile example
# (5 million messages each). A quick A/B check between criterion runs; noisy on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -q -p fix-benches --example profile
bin="$target/release/examples/profile"
n=5000000
for w in ${@:-scan validate receive encode}; do
  best=
  for _ in 1 2 3 4 5; do
    s=$(date +%s%N); "$bin" "$w" "$n" >/dev/null; e=$(date +%s%N)
    ns=$(( (e - s) / n ))
    if [ -z "$best" ] || [ "$ns" -lt "$best" ]; then best=$ns; fi
  done
  echo "$w: $best ns/message (best of 5, start-up included)"
done

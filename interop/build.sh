#!/usr/bin/env bash
# Builds the QuickFIX C++ side of the interop tests and benchmarks into target/interop/:
#   qf_peer          interop/qf_peer.cpp           QuickFIX acceptor/initiator (tests, RTT, throughput)
#   qf_codec_bench   benches/qf/qf_codec_bench.cpp QuickFIX parse+validate / build+serialise timings
# Idempotent: a binary is rebuilt only when its source (or this script) is newer.
# Needs Debian's libquickfix-dev and g++ (scripts/setup.sh installs them).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/target/interop"

if ! command -v g++ >/dev/null 2>&1; then
  echo "interop/build.sh: g++ not found; run scripts/setup.sh (apt-get install g++)" >&2
  exit 1
fi
if [ ! -f /usr/include/quickfix/Session.h ]; then
  echo "interop/build.sh: QuickFIX headers not found (/usr/include/quickfix);" \
    "run scripts/setup.sh (apt-get install libquickfix-dev)" >&2
  exit 1
fi

# The Debian package's pkg-config file works; fall back to the plain library if pkg-config is absent.
if command -v pkg-config >/dev/null 2>&1 && pkg-config --exists quickfix; then
  read -r -a qf_flags <<<"$(pkg-config --cflags --libs quickfix)"
else
  qf_flags=(-lquickfix)
fi
# QuickFIX 1.15's headers use dynamic exception specifications: C++14 is the newest standard they
# compile with.
cxxflags=(-std=c++14 -O2 -g -Wall -Wextra -Wno-deprecated -Wno-unused-parameter -pthread)

mkdir -p "$out"
build() {
  local src="$1" bin="$2"
  if [ -x "$bin" ] && [ "$bin" -nt "$src" ] && [ "$bin" -nt "${BASH_SOURCE[0]}" ]; then
    return 0
  fi
  echo "interop/build.sh: g++ $(realpath --relative-to="$root" "$src") -> $(realpath --relative-to="$root" "$bin")" >&2
  g++ "${cxxflags[@]}" -o "$bin.tmp" "$src" "${qf_flags[@]}" -lpthread
  mv "$bin.tmp" "$bin"
}
build "$root/interop/qf_peer.cpp" "$out/qf_peer"
build "$root/benches/qf/qf_codec_bench.cpp" "$out/qf_codec_bench"

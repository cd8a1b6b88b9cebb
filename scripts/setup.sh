#!/usr/bin/env bash
# Installs what the build and the tests need on a fresh Debian machine with the Rust toolchain.
set -euo pipefail
need=()
command -v cc >/dev/null 2>&1 || need+=(gcc)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
# Interop with QuickFIX C++ (scripts/interop.sh, interop/build.sh): the library, a C++ compiler,
# and ip/ss for the private network namespace QuickFIX runs in.
command -v g++ >/dev/null 2>&1 || need+=(g++)
[ -f /usr/include/quickfix/Session.h ] || need+=(libquickfix-dev)
{ command -v ip && command -v ss; } >/dev/null 2>&1 || need+=(iproute2)
if [ "${#need[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

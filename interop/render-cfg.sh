#!/usr/bin/env bash
# Renders a settings template: replaces each @KEY@ by VALUE for the KEY=VALUE arguments and writes
# the result to stdout. Fails, naming them, if placeholders remain, so a template never reaches
# QuickFIX or fixd half-filled.
#   interop/render-cfg.sh interop/cfg/qf-acceptor-fix44.cfg PORT=5001 SENDER=QFA TARGET=QFI ...
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: render-cfg.sh TEMPLATE KEY=VALUE..." >&2; exit 2; }
template="$1"; shift
text="$(cat "$template")"
for kv in "$@"; do
  key="${kv%%=*}"; value="${kv#*=}"
  [ "$key" != "$kv" ] || { echo "render-cfg.sh: expected KEY=VALUE, got '$kv'" >&2; exit 2; }
  text="${text//@${key}@/${value}}"
done
left="$(grep -o '@[A-Z_][A-Z0-9_]*@' <<<"$text" | sort -u | tr '\n' ' ' || true)"
if [ -n "$left" ]; then
  echo "render-cfg.sh: $template: unresolved placeholders: $left" >&2
  exit 2
fi
printf '%s\n' "$text"

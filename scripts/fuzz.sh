#!/usr/bin/env bash
# fuzz.sh FUZZTIME: run every fuzz target of both modules for FUZZTIME each.
# Their seed corpora already run in `make test`; this explores beyond them.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-30s}
for pkg in $(go list ./... ./service/...); do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "== $pkg $target ($time)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$time" "$pkg"
  done
done

#!/usr/bin/env bash
# fuzz.sh [FUZZTIME] [PACKAGE…]: run every fuzz target of both modules (or of the packages
# given) for FUZZTIME each (default 30s), one after the other, failing on the first crash.
# Their seed corpora already run in `make test`; this explores beyond them. Crashers land in
# the package's testdata/fuzz/<Target>/ and then replay in every `go test` run.
# -fuzzminimizetime is short: minimising each new input for the default 60s would spend most
# of a short run not fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-30s}
shift || true
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || mapfile -t pkgs < <(go list ./... ./service/...)
for pkg in "${pkgs[@]}"; do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "== $pkg $target ($time)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$time" -fuzzminimizetime 1s "$pkg"
  done
done

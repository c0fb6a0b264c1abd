#!/usr/bin/env bash
# Runs every fuzz target of the supply-chain packages for a while each (default 30s), one
# after the other, and fails on the first crash. Crashers land in the package's
# testdata/fuzz/<Target>/ and then replay in every `go test` run.
# Usage: pipeline/fuzz-smoke.sh [SECONDS] [PACKAGE…]   (from the repository root)
# -fuzzminimizetime is short because minimising each new input for the default 60s would
# spend most of a short run not fuzzing.
set -euo pipefail
secs=${1:-30}
shift || true
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./pipeline/admit ./pipeline/predicate ./pipeline/verify)
for pkg in "${pkgs[@]}"; do
  for target in $(go test "$pkg" -list '^Fuzz' | grep '^Fuzz'); do
    printf '== %s %s (%ss)\n' "$pkg" "$target" "$secs"
    go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "${secs}s" -fuzzminimizetime 1s -parallel 2 2>&1 |
      grep -E '^(fuzz: elapsed: [0-9]+s, execs|---|ok|FAIL|PASS|\s+)' | tail -4
  done
done

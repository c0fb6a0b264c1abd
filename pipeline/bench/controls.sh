#!/usr/bin/env bash
# Times `make verify-controls` against a plain `go test -count=1 ./...`, interleaved in one
# run, and prints each round's ratio and the median. Usage: pipeline/bench/controls.sh [ROUNDS]
# (from the repository root of a clean clone: verify-controls writes out/controls/).
set -euo pipefail
rounds=${1:-2}
make registry promtool >/dev/null
secs() { local s; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; awk -v s="$s" -v e="$(date +%s.%N)" 'BEGIN { print e - s }'; }
ratios=()
for r in $(seq "$rounds"); do
  t=$(secs go test -count=1 ./...)
  c=$(secs make verify-controls)
  ratio=$(awk -v c="$c" -v t="$t" 'BEGIN { printf "%.2f", c / t }')
  ratios+=("$ratio")
  printf 'round %d  go test %6.1fs  verify-controls %6.1fs  ratio %s\n' "$r" "$t" "$c" "$ratio"
done
printf 'median ratio %s\n' "$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')"

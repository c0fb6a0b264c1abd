#!/usr/bin/env bash
# Times `pipeline release` against the same steps done with the upstream CLIs (syft, govulncheck,
# crane, cosign, built from the versions pinned in go.mod) on one registry, in one run, and
# prints the ratio. Usage: pipeline/bench/release.sh [ROUNDS]   (from the repository root; needs
# docker-registry)
# Both flows build afresh (a release never signs a cached binary): the CLI flow gets its image
# from `pipeline build --cache-dir ''` (there is no daemon to build it otherwise), scans the
# binary crane takes out of it with govulncheck against the same database, and attests what
# pipeline release attests; it writes no provenance of its own (it attests pipeline's) and runs
# no admission, which pipeline release also does. Both release one image: the release runs
# with --opa=false (its OPA sidecar image would double the work).
set -euo pipefail
rounds=${1:-3}
root=$(pwd)
work=$(mktemp -d)
reg_pid=
cleanup() { [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

command -v docker-registry >/dev/null || { echo "docker-registry missing: apt-get install -y docker-registry" >&2; exit 2; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s/data}}\nhttp: {addr: 127.0.0.1:%s}\n' "$work" "$port" > "$work/config.yml"
docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
reg=127.0.0.1:$port

go build -o "$work/pipeline" ./pipeline/cmd/pipeline
cosign=$(go tool -n cosign); syft=$(go tool -n syft); crane=$(go tool -n crane); govulncheck=$(go tool -n govulncheck)
export GOCACHE="$(go env GOCACHE)" GOMODCACHE="$(go env GOMODCACHE)"   # keep the warm build cache under the new HOME
export XDG_CACHE_HOME="${XDG_CACHE_HOME:-$HOME/.cache}"                 # and the prepared vulnerability database
export COSIGN_PASSWORD=bench-only HOME="$work/home" TUF_ROOT="$work/home/tuf" SYFT_CHECK_FOR_APP_UPDATE=false
mkdir -p "$HOME"
"$work/pipeline" keygen --out "$work/keys" >/dev/null
rev=$(git rev-parse HEAD)
printf '{"revision":"%s","model_digest":"sha256:%064d","dirty":false,"passed":true,"controls":{"C-BENCH-01":{"status":"pass","evidence":[{"id":"bench","status":"pass"}]}}}' "$rev" 0 > "$work/controls.json"
printf '{"supply_chain":{"controls":{"required":["C-BENCH-01"]}}}' > "$work/data.json"

# Both flows start from a warm Go build cache and the prepared vulnerability database.
"$work/pipeline" build --rev "$rev" --oci-layout "$work/warmup" --cache-dir '' >/dev/null 2>&1
"$work/pipeline" vuln --mode binary --binary "$work/pipeline" >/dev/null 2>&1 || true
db=$(ls -d "$XDG_CACHE_HOME"/sms-pipeline/vulndb/v*/ | tail -1)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
now() { date +%s.%N; }
t_pipe=0; t_cli=0
for i in $(seq "$rounds"); do
  s=$(now)
  "$work/pipeline" release --opa=false --registry "$reg/p$i" --rev "$rev" --key "$work/keys/cosign.key" --controls "$work/controls.json" --data "$work/data.json" --out "$work/out$i" >/dev/null 2>"$work/release$i.log" || { cat "$work/release$i.log" >&2; exit 1; }
  e=$(now); t_pipe=$(echo "$t_pipe + $e - $s" | bc)

  s=$(now)
  img=$("$work/pipeline" build --rev "$rev" --push "$reg/c$i:latest" --cache-dir '' 2>/dev/null)
  "$syft" scan "registry:$img" -q -o "spdx-json=$work/c$i.spdx.json" -o "cyclonedx-json=$work/c$i.cdx.json"
  "$crane" export "$img" - | tar -xO movies > "$work/c$i.bin"
  "$govulncheck" -db "file://$db" -mode binary -format openvex "$work/c$i.bin" > "$work/c$i.vex.json"
  "$cosign" sign --key "$work/keys/cosign.key" --tlog-upload=false --yes "$img" >/dev/null 2>&1
  "$cosign" attest --key "$work/keys/cosign.key" --tlog-upload=false --yes --type slsaprovenance1 --predicate "$work/out$i/provenance.json" "$img" >/dev/null 2>&1
  "$cosign" attest --key "$work/keys/cosign.key" --tlog-upload=false --yes --type https://github.com/secure-movie-service/sms/attestation/controls/v1 --predicate "$work/controls.json" "$img" >/dev/null 2>&1
  "$cosign" attest --key "$work/keys/cosign.key" --tlog-upload=false --yes --type spdxjson --predicate "$work/c$i.spdx.json" "$img" >/dev/null 2>&1
  "$cosign" attest --key "$work/keys/cosign.key" --tlog-upload=false --yes --type cyclonedx --predicate "$work/c$i.cdx.json" "$img" >/dev/null 2>&1
  "$cosign" attest --key "$work/keys/cosign.key" --tlog-upload=false --yes --type vuln --predicate "$work/out$i/vuln.json" "$img" >/dev/null 2>&1
  "$cosign" verify --key "$work/keys/cosign.pub" --insecure-ignore-tlog=true "$img" >/dev/null 2>&1
  for typ in slsaprovenance1 spdxjson cyclonedx vuln https://github.com/secure-movie-service/sms/attestation/controls/v1; do
    "$cosign" verify-attestation --key "$work/keys/cosign.pub" --insecure-ignore-tlog=true --type "$typ" "$img" >/dev/null 2>&1
  done
  e=$(now); t_cli=$(echo "$t_cli + $e - $s" | bc)
done
grep -h "release:" "$work"/release*.log >&2 || true
printf 'rounds            %d (load average before %s, after %s; %s CPUs)\n' "$rounds" "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)"
printf 'pipeline release  %.2fs per run (fresh build, push, 2 SBOMs, vulnerability scan, sign, 5 attestations incl. provenance, verify, admit)\n' "$(echo "$t_pipe / $rounds" | bc -l)"
printf 'upstream CLIs     %.2fs per run (fresh build, push, syft, crane export + govulncheck, cosign sign, 5 attest, verify, 5 verify-attestation)\n' "$(echo "$t_cli / $rounds" | bc -l)"
printf 'ratio             %.2f (target <= 0.60)\n' "$(echo "$t_pipe / $t_cli" | bc -l)"

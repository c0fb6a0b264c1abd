#!/usr/bin/env bash
# GET /v1/movies/{id} on the `make run` stack, measured as issue #14 measured it: the movies
# binary and its OPA sidecar as scripts/run-dev.sh starts them (OPA with its console decision
# log, the API's JSON logs, 1s caches; only the rate and in-flight limits raised, by
# environment) share one CPU, wrk runs on another, and a plain net/http handler serving the
# same bytes (pipeline/bench/plain), on the server's CPU, is measured in the same run, rounds
# interleaved; so is the plain handler sending the API's response header fields as well, whose
# ratio is the ceiling the response contract alone leaves the API. Workloads: hot (one movie,
# one token) and mixed (1000 movies x 200 subjects, a random pair per request). Prints every
# round and each workload's median ratios with p50/p99.
# Usage: pipeline/bench/api-wrk.sh [ROUNDS]   (from the repository root; needs wrk and taskset;
# SERVER_CPU, CLIENT_CPU and DURATION override 0, 1 and 10s)
set -euo pipefail
rounds=${1:-3}
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
duration=${DURATION:-10s}
for tool in wrk taskset setsid; do
  command -v "$tool" >/dev/null || { echo "$tool missing: apt-get install -y wrk util-linux" >&2; exit 2; }
done
work=$(mktemp -d)
groups=()
cleanup() { for g in "${groups[@]}"; do kill -- "-$g" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
api=127.0.0.1:$(port)
plain=127.0.0.1:$(port)

# The make run stack in a process group of its own, with its development files under $work.
MOVIES_DEV_DIR=$work/dev MOVIES_ADDR=$api OPA_ADDR=127.0.0.1:$(port) \
  MOVIES_RATE_SUBJECT=1e9 MOVIES_BURST_SUBJECT=1000000000 MOVIES_RATE_IP=1e9 MOVIES_BURST_IP=1000000000 \
  MOVIES_MAX_INFLIGHT=4096 MOVIES_MAX_INFLIGHT_IP=4096 MOVIES_MAX_INFLIGHT_SUBJECT=4096 \
  setsid taskset -c "$server_cpu" scripts/run-dev.sh >"$work/run.log" 2>&1 &
groups+=($!)
for _ in $(seq 600); do curl -sf "http://$api/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "http://$api/healthz" >/dev/null || { cat "$work/run.log" >&2; exit 1; }

# 200 subjects (viewer, editor, admin in turn) and 1000 movies; the bodies the API serves.
go build -o "$work/devtoken" ./service/cmd/devtoken
for i in $(seq -w 0 199); do
  role=$(echo viewer editor admin | cut -d' ' -f$((10#$i % 3 + 1)))
  "$work/devtoken" mint -key "$work/dev/keys/dev-ed25519.pem" -sub "subject-$i" -roles "$role" \
    -issuer https://movies.dev.local -audience movies-api
done >"$work/tokens"
python3 - "$api" "$work" <<'EOF'
import base64, json, random, sys, urllib.request
api, work = sys.argv[1], sys.argv[2]
editor = open(f"{work}/dev/tokens/editor.jwt").read().strip()
tokens = open(f"{work}/tokens").read().split()
def call(method, path, token, body=None):
    req = urllib.request.Request(f"http://{api}{path}", method=method, data=body,
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return r.read(), r.headers
bodies, headers = {}, {}
for i in range(1000):
    movie = {"title": f"Movie {i}", "year": 1950 + i % 70, "genres": ["Drama"], "director": "Someone"}
    mid = json.loads(call("POST", "/v1/movies", editor, json.dumps(movie).encode())[0])["id"]
    path = f"/v1/movies/{mid}"
    body, hdr = call("GET", path, tokens[0])
    bodies[path] = base64.b64encode(body).decode()
    headers[path] = {}
    for k, v in hdr.items():
        if k.lower() not in ("date", "content-length", "connection"):  # urllib asked to close
            headers[path].setdefault(k, []).append(v)
json.dump(bodies, open(f"{work}/bodies.json", "w"))
json.dump(headers, open(f"{work}/headers.json", "w"))
paths = list(bodies)
lua = lambda ps, ts: ("local paths = " + json.dumps(ps).replace("[", "{").replace("]", "}") +
    "\nlocal tokens = " + json.dumps(ts).replace("[", "{").replace("]", "}") +
    "\nmath.randomseed(14)\nrequest = function()\n  return wrk.format('GET', paths[math.random(#paths)],"
    " {['Authorization'] = 'Bearer ' .. tokens[math.random(#tokens)]})\nend\n")
open(f"{work}/hot.lua", "w").write(lua(paths[:1], tokens[:1]))
open(f"{work}/mixed.lua", "w").write(lua(paths, tokens))
EOF

# The baselines on the server's CPU: plain, and plain sending the API's response header fields
# too (what the response contract alone costs: the ceiling of the service's ratio).
go build -o "$work/plain" ./pipeline/bench/plain
headers=127.0.0.1:$(port)
setsid taskset -c "$server_cpu" "$work/plain" -addr "$plain" -bodies "$work/bodies.json" >"$work/plain.log" 2>&1 &
groups+=($!)
setsid taskset -c "$server_cpu" "$work/plain" -addr "$headers" -bodies "$work/bodies.json" \
  -headers "$work/headers.json" >"$work/headers.log" 2>&1 &
groups+=($!)
for u in "$plain" "$headers"; do
  for _ in $(seq 100); do curl -s -o /dev/null "http://$u/" && break; sleep 0.1; done
done

# run URL SCRIPT: "req/s p50 p99" of one wrk round.
run() {
  taskset -c "$client_cpu" wrk -t1 -c16 -d"$duration" --latency -s "$2" "$1" | awk '
    $1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 } $1 == "Requests/sec:" { rps = $2 }
    $0 ~ /Non-2xx/ { print "non-2xx answers: " $0 > "/dev/stderr"; exit 1 }
    END { print rps, p50, p99 }'
}
median() { sort -n "$1" | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
for wl in hot mixed; do
  for u in "$plain" "$headers" "$api"; do run "http://$u" "$work/$wl.lua" >/dev/null; done # warm up
  : >"$work/ratios"
  : >"$work/ceilings"
  for r in $(seq "$rounds"); do
    read -r prps pp50 pp99 <<<"$(run "http://$plain" "$work/$wl.lua")"
    read -r hrps _ _ <<<"$(run "http://$headers" "$work/$wl.lua")"
    read -r srps sp50 sp99 <<<"$(run "http://$api" "$work/$wl.lua")"
    read -r ratio ceiling <<<"$(python3 -c "print(f'{$srps / $prps:.2f} {$hrps / $prps:.2f}')")"
    echo "$ratio" >>"$work/ratios"
    echo "$ceiling" >>"$work/ceilings"
    printf '%-5s round %d ratio %s  service %6.0f req/s p50 %s p99 %s  plain %6.0f req/s p50 %s p99 %s  plain+headers %6.0f req/s (%s)\n' \
      "$wl" "$r" "$ratio" "$srps" "$sp50" "$sp99" "$prps" "$pp50" "$pp99" "$hrps" "$ceiling"
  done
  echo "$wl median ratio $(median "$work/ratios")  (plain with the API's header fields: $(median "$work/ceilings"))"
done

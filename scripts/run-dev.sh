#!/usr/bin/env bash
# run-dev.sh: the `make run` development stack on loopback. It creates the
# development key, JWKS and tokens (.dev/, git-ignored), a random OPA service
# token known to OPA only by its SHA-256, starts OPA hardened (token
# authentication, the system.authz policy) and then the API in the
# foreground. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=${MOVIES_DEV_DIR:-.dev}
ISSUER=https://movies.dev.local
AUDIENCE=movies-api
API_ADDR=${MOVIES_ADDR:-127.0.0.1:8080}
OPA_ADDR=${OPA_ADDR:-127.0.0.1:8181}

umask 077
mkdir -p "$DEV/opa" "$DEV/data"
go run ./service/cmd/devtoken init -dir "$DEV" -issuer "$ISSUER" -audience "$AUDIENCE" >/dev/null

if [ ! -s "$DEV/opa/token" ]; then
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DEV/opa/token"
fi
hash=$(tr -d '\n' < "$DEV/opa/token" | sha256sum | cut -d' ' -f1)
# The policy's revision (data.movies.authz.revision): the service's compiled decisions are
# keyed by it, so a changed policy/api invalidates them.
revision=$(cat policy/api/authz.rego | sha256sum | cut -d' ' -f1)
printf '{"movies_opa":{"service_token_sha256":"%s"},"movies_policy":{"revision":"%s"}}\n' "$hash" "$revision" > "$DEV/opa/data.json"

go build -o bin/movies ./service/cmd/movies
opa=$(go tool -n opa)

"$opa" run --server --addr "$OPA_ADDR" --authentication=token --authorization=basic \
  --skip-version-check --set decision_logs.console=true --ignore '*_test.rego' \
  policy/api policy/system "$DEV/opa/data.json" > "$DEV/opa.log" 2>&1 &
opa_pid=$!
trap 'kill $opa_pid 2>/dev/null; wait $opa_pid 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
  curl -fsS "http://$OPA_ADDR/health" >/dev/null 2>&1 && break
  kill -0 $opa_pid 2>/dev/null || { echo "OPA failed to start; see $DEV/opa.log" >&2; exit 1; }
  sleep 0.1
done

cat <<EOT
OPA      http://$OPA_ADDR (log: $DEV/opa.log; token auth, only the API may ask for decisions)
API      http://$API_ADDR (JSON logs below)
Tokens   $DEV/tokens/{viewer,editor,editor2,admin}.jwt

  curl -s http://$API_ADDR/healthz
  curl -s -H "Authorization: Bearer \$(cat $DEV/tokens/editor.jwt)" -H 'Content-Type: application/json' \\
       -d '{"title":"Metropolis","year":1927,"genres":["Sci-Fi"],"director":"Fritz Lang"}' http://$API_ADDR/v1/movies
  curl -s -H "Authorization: Bearer \$(cat $DEV/tokens/viewer.jwt)" http://$API_ADDR/v1/movies
  curl -s -X DELETE -H "Authorization: Bearer \$(cat $DEV/tokens/editor2.jwt)" http://$API_ADDR/v1/movies/ID   # 403: not editor2's
  curl -s -H "Authorization: Bearer \$(cat $DEV/tokens/editor.jwt)" -H 'Content-Type: application/json' \\
       -d '{"source":"wikidata","id":"Q151599"}' http://$API_ADDR/v1/movies/import   # fetches from www.wikidata.org

EOT

bin/movies -addr "$API_ADDR" -data-dir "$DEV/data" -jwks "$DEV/jwks.json" -issuer "$ISSUER" \
  -audience "$AUDIENCE" -opa-url "http://$OPA_ADDR" -opa-token-file "$DEV/opa/token"

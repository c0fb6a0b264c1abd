# Secure Movie Service. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
# The standard library of Go 1.26.8 has called vulnerabilities fixed in go1.26.10 (make vuln):
# every go command here runs that toolchain, which the go command fetches from the module
# proxy once (go.mod's toolchain line says the same to CI's setup-go).
export GOTOOLCHAIN ?= go1.26.10
OPA       := $(GO) tool opa
FUZZTIME  ?= 30s
# make release admits with the development overlay (missing reviewer attestations and a stale
# vulnerability database warn). The strict release: make release RELEASE_DATA= RELEASEFLAGS=--require-attestations
RELEASE_DATA ?= policy/dev/supply_chain.json
RELEASEFLAGS ?=
BENCHTIME ?= 3s
SUDO      := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: help build run test test-service test-toolkit test-policy test-cluster lint fuzz bench bench-controls scan vuln release registry etcd promtool wrk lint-openapi verify-controls

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

build: ## Build bin/movies and bin/devtoken
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/movies ./service/cmd/movies
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/devtoken ./service/cmd/devtoken

run: ## Run the API and its OPA sidecar on loopback with development tokens
	scripts/run-dev.sh

test: registry promtool test-policy test-service test-toolkit test-cluster ## Run every test (Go, race detector on the service, Rego with coverage, the webhook against a real kube-apiserver)

test-service: ## Service module alone (GOWORK=off proves it needs nothing), race detector on
	cd service && GOWORK=off $(GO) test -race -count=1 ./...

test-toolkit: promtool ## Toolkit module and end-to-end tests over real binaries (and the go-spdx stand-in)
	$(GO) test -count=1 ./...
	cd third_party/go-spdx && GOWORK=off $(GO) test -count=1 ./...

# Rego packages: every directory of policy/ but the data (production, and the development overlay).
REGO_DIRS = $(filter-out policy/data/ policy/dev/,$(wildcard policy/*/))

test-policy: ## Rego tests with a 90% coverage threshold per policy package
	for p in $(REGO_DIRS); do \
	  $(OPA) test "$$p" policy/data --coverage --threshold 90 >/dev/null || { $(OPA) test -v "$$p" policy/data; exit 1; }; \
	done
	$(OPA) test $(REGO_DIRS) policy/data

lint: lint-openapi ## gofmt, go vet, opa fmt, opa check --strict, Spectral on the OpenAPI document
	@out=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$out" ] || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	$(GO) vet ./... ./service/...
	$(OPA) fmt --list --fail policy/
	$(OPA) check --strict policy/

lint-openapi: ## Spectral (OAS + OWASP rulesets, pinned in tools/spectral/package-lock.json) on service/openapi.yaml
	@[ -x tools/spectral/node_modules/.bin/spectral ] || npm ci --prefix tools/spectral --no-audit --no-fund --silent
	tools/spectral/node_modules/.bin/spectral lint service/openapi.yaml --ruleset tools/spectral/.spectral.yaml --fail-severity warn

fuzz: ## Run every fuzz target for FUZZTIME each (default 30s)
	scripts/fuzz.sh $(FUZZTIME)

bench: registry wrk ## Benchmarks: the movies binary as make run starts it vs a plain handler (hot and mixed: ratios, p50/p99; a Go client, then wrk on its own CPU), durable vs fsync-off writes, webhook latency, pipeline release vs the upstream CLIs
	$(GO) test -tags smsbench -run '^$$' -bench '^BenchmarkAPIvsPlain$$' -benchtime 1x ./tests/
	pipeline/bench/api-wrk.sh 3
	$(GO) test -tags smsbench -run '^$$' -bench '^Benchmark(CreateDurable|InProcess)' -benchtime $(BENCHTIME) ./tests/
	$(GO) test -tags smsbench -run '^$$' -bench . -benchtime $(BENCHTIME) ./service/store/
	$(GO) test -tags smsbench -count=1 -run '^TestWebhookLatency$$' -v ./pipeline/webhook/
	pipeline/bench/release.sh 3

bench-controls: ## make verify-controls against a plain go test -count=1 ./... (interleaved rounds, ratio; a clean clone)
	pipeline/bench/controls.sh 2

verify-controls: registry promtool ## Run every threat-model control's evidence; reports in out/controls/ (exit 1 names the control; CONTROLS_FLAGS=--require-attestations fails on a missing attestation)
	$(GO) run ./pipeline/cmd/pipeline controls -out out/controls $(CONTROLS_FLAGS)

release: registry ## build → push → SBOM → sign → attest → verify → admit, on a loopback registry (dev key on first use)
	@$(GO) run ./pipeline/cmd/pipeline controls fresh out/controls/predicate.json || $(MAKE) verify-controls || true
	COSIGN_PASSWORD=$${COSIGN_PASSWORD:-development-only} $(GO) run ./pipeline/cmd/pipeline release \
	  --key .dev/keys/cosign.key --create-key --controls out/controls/predicate.json \
	  --manifest deploy/kubernetes/deployment.yaml $(if $(RELEASE_DATA),--data $(RELEASE_DATA)) $(RELEASEFLAGS)

scan: ## Static security checks: gosec, policy/repo over Dockerfile and workflows, actionlint (SCANFLAGS='--format sarif -o out/scan.sarif')
	$(GO) run ./pipeline/cmd/pipeline scan $(SCANFLAGS)

vuln: ## govulncheck: both modules (source) and the service binary, pinned database, vex/ exceptions (VULNFLAGS='--vuln-db https://vuln.go.dev')
	@mkdir -p out/vuln
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags=-buildid= -o out/vuln/movies ./service/cmd/movies
	$(GO) run ./pipeline/cmd/pipeline vuln $(VULNFLAGS) --format sarif -o out/vuln/source.sarif
	$(GO) run ./pipeline/cmd/pipeline vuln --mode binary --binary out/vuln/movies $(VULNFLAGS) --format sarif -o out/vuln/binary.sarif

# The cluster test is a module of its own (tests/cluster: k8s.io/kubernetes pinned there, never
# in the toolkit's go.mod) and outside go.work, hence GOWORK=off. It builds kube-apiserver once
# into $(go env GOCACHE)/../sms-k8s/ (about 12 minutes cold on 2 busy cores; cached afterwards).
# TestPodSecurityReference, in the same module, needs no API server: it compares policy/admission
# with k8s.io/pod-security-admission over a table of pods (seconds).
test-cluster: etcd ## Admission webhook against a real kube-apiserver and etcd on loopback (builds kube-apiserver once); policy/admission vs k8s.io/pod-security-admission
	cd tests/cluster && GOWORK=off $(GO) test -count=1 -timeout 45m -v ./...

etcd: ## Install Debian's etcd-server for the cluster test, when missing
	@command -v etcd >/dev/null || { \
	  echo "installing etcd-server (Debian package) for the cluster test"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq etcd-server >/dev/null; }

registry: ## Install Debian's docker-registry for the end-to-end supply-chain tests, when missing
	@command -v docker-registry >/dev/null || { \
	  echo "installing docker-registry (Debian package) for the registry tests"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq docker-registry >/dev/null; }

wrk: ## Install Debian's wrk for the API benchmark (pipeline/bench/api-wrk.sh), when missing
	@command -v wrk >/dev/null || { \
	  echo "installing wrk (Debian package) for the API benchmark"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk >/dev/null; }

promtool: ## Install Debian's prometheus package (promtool) for the alert-rule tests (deploy/prometheus), when missing
	@command -v promtool >/dev/null || { \
	  echo "installing prometheus (Debian package) for promtool"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

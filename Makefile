# Secure Movie Service. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
OPA       := $(GO) tool opa
FUZZTIME  ?= 30s
BENCHTIME ?= 3s
SUDO      := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: help build run test test-service test-toolkit test-policy lint fuzz bench scan release registry promtool lint-openapi verify-controls

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

build: ## Build bin/movies and bin/devtoken
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/movies ./service/cmd/movies
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/devtoken ./service/cmd/devtoken

run: ## Run the API and its OPA sidecar on loopback with development tokens
	scripts/run-dev.sh

test: registry promtool test-policy test-service test-toolkit ## Run every test (Go, race detector on the service, Rego with coverage)

test-service: ## Service module alone (GOWORK=off proves it needs nothing), race detector on
	cd service && GOWORK=off $(GO) test -race -count=1 ./...

test-toolkit: promtool ## Toolkit module and end-to-end tests over real binaries (and the go-spdx stand-in)
	$(GO) test -count=1 ./...
	cd third_party/go-spdx && GOWORK=off $(GO) test -count=1 ./...

test-policy: ## Rego tests with a 90% coverage threshold per policy package
	data=$$(ls -d policy/data 2>/dev/null || true); \
	for p in policy/*/; do \
	  [ "$$p" = policy/data/ ] && continue; \
	  $(OPA) test "$$p" $$data --coverage --threshold 90 >/dev/null || { $(OPA) test -v "$$p" $$data; exit 1; }; \
	done
	$(OPA) test policy/

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

bench: registry ## Benchmarks: API vs plain handler, durable vs fsync-off writes, pipeline release vs the upstream CLIs
	$(GO) test -tags smsbench -run '^$$' -bench . -benchtime $(BENCHTIME) ./tests/ ./service/store/
	pipeline/bench/release.sh 3

verify-controls: promtool ## Run every threat-model control's evidence; reports in out/controls/ (exit 1 names the control)
	$(GO) run ./pipeline/cmd/pipeline controls -out out/controls

release: registry ## build → push → SBOM → sign → attest → verify → admit, on a loopback registry (dev key on first use)
	@rev=$$(git rev-parse HEAD); \
	grep -qs "\"revision\":\"$$rev\"" out/controls/predicate.json || $(MAKE) verify-controls || true
	COSIGN_PASSWORD=$${COSIGN_PASSWORD:-development-only} $(GO) run ./pipeline/cmd/pipeline release \
	  --key .dev/keys/cosign.key --create-key --controls out/controls/predicate.json \
	  --manifest deploy/kubernetes/deployment.yaml

scan: ## Static security checks: gosec, policy/repo over Dockerfile and workflows, actionlint (SCANFLAGS='--format sarif -o out/scan.sarif')
	$(GO) run ./pipeline/cmd/pipeline scan $(SCANFLAGS)

registry: ## Install Debian's docker-registry for the end-to-end supply-chain tests, when missing
	@command -v docker-registry >/dev/null || { \
	  echo "installing docker-registry (Debian package) for the registry tests"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq docker-registry >/dev/null; }

promtool: ## Install Debian's prometheus package (promtool) for the alert-rule tests (deploy/prometheus), when missing
	@command -v promtool >/dev/null || { \
	  echo "installing prometheus (Debian package) for promtool"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

# The two commands of the README. Both install what is missing first (deploy/deps.sh).
GO ?= go

.PHONY: dev test deps build bench vet cluster-demo

## dev: build ./crest and run Crest on this machine (embedded Temporal + Web UI, Postgres,
## worker, demo wave); ./crest is then what other terminals use
dev: deps build
	./crest dev --demo

## test: the whole test suite, as CI runs it
## Every Nix command of the suite reads a throwaway NIX_CONF_DIR whose nix.conf names a build
## group that does not exist: nothing on this machine leaks in, and the suite proves that
## Crest builds on a machine configured as badly as a fresh Debian one.
test: deps
	$(GO) vet ./...
	conf=$$(mktemp -d) && trap 'rm -rf "$$conf"' EXIT && \
	printf 'build-users-group = crest-test-no-such-group\n' > "$$conf/nix.conf" && \
	NIX_CONF_DIR="$$conf" $(GO) test -race -count=1 -timeout 30m ./...

## cluster-demo: the demo wave on a cluster on this machine (root): Temporal, an orchestrator
## and two builders, each a process, each builder with a Nix store of its own, sharing only a
## signed binary cache; one builder is killed mid-wave (crest bench cluster --help)
cluster-demo: deps build
	./crest bench cluster

deps:
	@./deploy/deps.sh

build:
	$(GO) build -o crest ./cmd/crest

## bench: Go benchmarks (figures in the README)
bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

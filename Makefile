# The two commands of the README. Both install what is missing first (deploy/deps.sh).
GO ?= go

.PHONY: dev test deps build bench vet

## dev: build ./crest and run Crest on this machine (embedded Temporal + Web UI, Postgres,
## worker, demo wave); ./crest is then what other terminals use
dev: deps build
	./crest dev --demo

## test: the whole test suite, as CI runs it
test: deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./...

deps:
	@./deploy/deps.sh

build:
	$(GO) build -o crest ./cmd/crest

## bench: Go benchmarks (figures in the README)
bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

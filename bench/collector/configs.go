// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"strings"
)

// pipeline is one collector configuration under test.
type pipeline struct {
	name string
	// what says what the configuration adds, for the table.
	what string
	// processors run in both pipelines, in order.
	processors []string
	// spanMetrics routes the traces pipeline into the span_metrics connector
	// and its output into the metrics pipeline.
	spanMetrics bool
}

var pipelines = []pipeline{
	{name: "baseline", what: "memory_limiter, batch", processors: []string{"memory_limiter", "batch"}},
	{name: "exemplar", what: "memory_limiter, exemplar, batch", processors: []string{"memory_limiter", "exemplar", "batch"}},
	{name: "span_metrics", what: "memory_limiter, batch; span_metrics connector with exemplars", processors: []string{"memory_limiter", "batch"}, spanMetrics: true},
}

func pipelineNamed(name string) (pipeline, error) {
	for _, p := range pipelines {
		if p.name == name {
			return p, nil
		}
	}
	return pipeline{}, fmt.Errorf("unknown configuration %q (have baseline, exemplar, span_metrics)", name)
}

// exporters are the ways the runs discard what the collector exports. Every
// configuration of a run uses the same one.
var exporters = map[string]string{
	// debug at basic verbosity logs one line per batch: the cheapest
	// exporter, so the pipeline's own cost shows most.
	"debug": "debug:\n    verbosity: basic",
	// proto to /dev/null marshals every batch as an OTLP exporter would.
	"proto": "file:\n    path: /dev/null\n    format: proto",
}

func exporterID(kind string) string {
	if kind == "proto" {
		return "file"
	}
	return kind
}

// settings are what every configuration of a run shares.
type settings struct {
	port, telemetryPort int
	maxSpans            int
	exporter            string
}

// config renders the collector configuration of p.
func (p pipeline) config(s settings) string {
	exp := exporterID(s.exporter)
	procs := strings.Join(p.processors, ", ")
	tracesOut, metricsIn := exp, "otlp"
	if p.spanMetrics {
		tracesOut, metricsIn = exp+", span_metrics", "otlp, span_metrics"
	}
	return fmt.Sprintf(`receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
processors:
  memory_limiter:
    check_interval: 1s
    limit_mib: 4000
  exemplar:
    index:
      max_spans: %d
  batch:
connectors:
  span_metrics:
    histogram:
      explicit:
        buckets: [5ms, 10ms, 25ms, 50ms, 75ms, 100ms, 250ms, 500ms, 750ms, 1s, 2.5s, 5s, 7.5s, 10s]
    dimensions:
      - name: http.request.method
      - name: http.route
      - name: http.response.status_code
      - name: server.address
    exemplars:
      enabled: true
    metrics_flush_interval: 10s
exporters:
  %s
service:
  telemetry:
    logs:
      level: warn
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %d
  pipelines:
    traces:
      receivers: [otlp]
      processors: [%s]
      exporters: [%s]
    metrics:
      receivers: [%s]
      processors: [%s]
      exporters: [%s]
`, s.port, s.maxSpans, exporters[s.exporter], s.telemetryPort, procs, tracesOut, metricsIn, procs, exp)
}

// gcPolicy is the Go GC setting of the collector process.
type gcPolicy struct {
	name string
	env  []string
}

func gcPolicies(memLimit string) map[string]gcPolicy {
	return map[string]gcPolicy{
		"off":     {name: "GOGC=off, GOMEMLIMIT=" + memLimit, env: []string{"GOGC=off", "GOMEMLIMIT=" + memLimit}},
		"default": {name: "default GC (GOGC=100)", env: nil},
	}
}

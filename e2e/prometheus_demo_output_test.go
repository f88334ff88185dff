// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-exemplar/otelcol-exemplar/e2e/harness"
)

// pdDemoSummary is the line a demo service prints when it stops.
type pdDemoSummary struct {
	Service              string `json:"service"`
	SpansExported        int    `json:"spans_exported"`
	SpansFailed          int    `json:"spans_failed"`
	MetricPointsExported int    `json:"metric_points_exported"`
	MetricPointsFailed   int    `json:"metric_points_failed"`
	Load                 *struct {
		Sent     int            `json:"sent"`
		Failed   int            `json:"failed"`
		ByStatus map[string]int `json:"by_status"`
		Seconds  float64        `json:"seconds"`
	} `json:"load"`
}

func pdSummary(t *testing.T, p *harness.Process) *pdDemoSummary {
	t.Helper()
	const prefix = "demo summary: "
	for _, line := range strings.Split(p.Output(), "\n") {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			var s pdDemoSummary
			if err := json.Unmarshal([]byte(rest), &s); err != nil {
				t.Fatalf("%s summary %q: %v", p.Name, rest, err)
			}
			return &s
		}
	}
	t.Fatalf("%s printed no summary:\n%s", p.Name, p.Output())
	return nil
}

// pdCounts are the collector's own counts, from its telemetry.
type pdCounts struct {
	acceptedSpans, processorInSpans, processorOutSpans, sentSpans, droppedSpans int
	acceptedPoints, processorInPoints, processorOutPoints, sentPoints           int
	rawPoints, remoteWritePoints, remoteWriteFailed, remoteWriteUntranslated    int
	replays, collisions, attachedMatch, attachedExact, unfilled                 int
}

func pdCountsFrom(tel map[string]float64) pdCounts {
	// Counters carry a _total suffix or not, depending on the collector's
	// telemetry exporter settings: take either.
	n := func(metric string, labels ...string) int {
		return int(harness.SumMetric(tel, metric, labels...) + harness.SumMetric(tel, metric+"_total", labels...))
	}
	return pdCounts{
		acceptedSpans:      n("otelcol_receiver_accepted_spans"),
		processorInSpans:   n("otelcol_processor_incoming_items", `otel_signal="traces"`, `processor="exemplar"`),
		processorOutSpans:  n("otelcol_processor_outgoing_items", `otel_signal="traces"`, `processor="exemplar"`),
		sentSpans:          n("otelcol_exporter_sent_spans", `exporter="file/traces"`),
		droppedSpans:       n("otelcol_processor_exemplar_spans_dropped"),
		acceptedPoints:     n("otelcol_receiver_accepted_metric_points"),
		processorInPoints:  n("otelcol_processor_incoming_items", `otel_signal="metrics"`, `processor="exemplar"`),
		processorOutPoints: n("otelcol_processor_outgoing_items", `otel_signal="metrics"`, `processor="exemplar"`),
		sentPoints:         n("otelcol_exporter_sent_metric_points", `exporter="file/metrics"`),
		rawPoints:          n("otelcol_exporter_sent_metric_points", `exporter="file/raw"`),
		remoteWritePoints:  n("otelcol_exporter_sent_metric_points", `exporter="prometheus_remote_write"`),
		remoteWriteFailed:  n("otelcol_exporter_send_failed_metric_points", `exporter="prometheus_remote_write"`),
		// Delta histograms end here: counted as sent, never written.
		remoteWriteUntranslated: n("otelcol_exporter_prometheusremotewrite_failed_translations", `exporter="prometheus_remote_write"`),
		replays:                 n("otelcol_processor_exemplar_spans_duplicate", `kind="replay"`),
		collisions:              n("otelcol_processor_exemplar_spans_duplicate", `kind="collision"`),
		attachedMatch:           n("otelcol_processor_exemplar_exemplars_attached", `join="match"`),
		attachedExact:           n("otelcol_processor_exemplar_exemplars_attached", `join="exact"`),
		unfilled:                n("otelcol_processor_exemplar_buckets_unfilled"),
	}
}

func (c pdCounts) String() string {
	type plain pdCounts // without this method, so %+v does not recurse
	return fmt.Sprintf("%+v", plain(c))
}

// pdSpan is what the checks need of one span in the traces output.
type pdSpan struct {
	service, name, kind, status string
	start, end                  uint64
}

type pdTraces struct {
	total int
	// byID holds the first copy of each (trace ID, span ID), key "tid/sid".
	byID map[string]pdSpan
	// flagged counts the spans by their exemplar.duplicate_span value.
	flagged map[string]int
	// flaggedOther counts flagged spans of services other than payment.
	flaggedOther int
	// flaggedWithoutTwin counts flagged spans whose IDs have no unflagged copy.
	flaggedWithoutTwin int
	// sameIDs counts copies beyond the first of any span ID.
	sameIDs int
}

func pdReadTraces(t *testing.T, path string) *pdTraces {
	t.Helper()
	out := &pdTraces{byID: map[string]pdSpan{}, flagged: map[string]int{}}
	unflagged := map[string]bool{}
	var flaggedIDs []string
	pdEachSpan(t, path, func(service string, sp ptrace.Span) {
		out.total++
		id := sp.TraceID().String() + "/" + sp.SpanID().String()
		if _, seen := out.byID[id]; seen {
			out.sameIDs++
		} else {
			var status string
			if v, ok := sp.Attributes().Get("http.response.status_code"); ok {
				status = v.AsString()
			}
			out.byID[id] = pdSpan{
				service: service, name: sp.Name(), kind: sp.Kind().String(), status: status,
				start: uint64(sp.StartTimestamp()), end: uint64(sp.EndTimestamp()),
			}
		}
		if v, ok := sp.Attributes().Get("exemplar.duplicate_span"); ok {
			out.flagged[v.AsString()]++
			flaggedIDs = append(flaggedIDs, id)
			if service != "payment" {
				out.flaggedOther++
			}
		} else {
			unflagged[id] = true
		}
	})
	for _, id := range flaggedIDs {
		if !unflagged[id] {
			out.flaggedWithoutTwin++
		}
	}
	return out
}

type pdMetrics struct {
	points, exemplars int
}

func pdReadMetrics(t *testing.T, path string) pdMetrics {
	t.Helper()
	var out pdMetrics
	var u pmetric.JSONUnmarshaler
	pdEachLine(t, path, func(line []byte) {
		md, err := u.UnmarshalMetrics(line)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out.points += md.DataPointCount()
		for _, rm := range md.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					switch m.Type() {
					case pmetric.MetricTypeHistogram:
						for _, dp := range m.Histogram().DataPoints().All() {
							out.exemplars += dp.Exemplars().Len()
						}
					case pmetric.MetricTypeExponentialHistogram:
						for _, dp := range m.ExponentialHistogram().DataPoints().All() {
							out.exemplars += dp.Exemplars().Len()
						}
					}
				}
			}
		}
	})
	return out
}

// pdEachSpan calls fn with every span of a file exporter's JSON traces
// output and its resource's service.name.
func pdEachSpan(t *testing.T, path string, fn func(service string, sp ptrace.Span)) {
	t.Helper()
	var u ptrace.JSONUnmarshaler
	pdEachLine(t, path, func(line []byte) {
		td, err := u.UnmarshalTraces(line)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, rs := range td.ResourceSpans().All() {
			svc, _ := rs.Resource().Attributes().Get("service.name")
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					fn(svc.AsString(), sp)
				}
			}
		}
	})
}

// pdEachLine calls fn with every line of a file exporter's JSON output.
func pdEachLine(t *testing.T, path string, fn func([]byte)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := r.ReadBytes('\n')
		if line = bytes.TrimSpace(line); len(line) > 0 {
			fn(line)
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

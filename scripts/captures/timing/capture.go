// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// spanKindOf knows the HTTP duration histograms of the semantic
// conventions, old and stable, and the span kind that measures the same
// request.
func spanKindOf(metric string) (ptrace.SpanKind, bool) {
	switch metric {
	case "http.server.request.duration", "http.server.duration":
		return ptrace.SpanKindServer, true
	case "http.client.request.duration", "http.client.duration":
		return ptrace.SpanKindClient, true
	default:
		return ptrace.SpanKindUnspecified, false
	}
}

// microsPer converts a metric unit to microseconds.
func microsPer(unit string) (float64, bool) {
	switch unit {
	case "ns":
		return 1e-3, true
	case "us":
		return 1, true
	case "ms":
		return 1e3, true
	case "s":
		return 1e6, true
	default:
		return 0, false
	}
}

// request is what identifies a request on both sides: the service, the
// span kind, the method, the status code and, where the telemetry carries
// it, the port of the server.
type request struct {
	service string
	kind    ptrace.SpanKind
	method  string
	status  int64
	port    int64 // 0: not carried
}

type span struct {
	request
	traceID    pcommon.TraceID
	spanID     pcommon.SpanID
	start, end int64 // Unix ns
}

func (s span) micros() float64 { return float64(s.end-s.start) / 1e3 }

// point is one histogram data point of a duration metric.
type point struct {
	request
	stream     string // service, scope, metric and every attribute
	group      string // scope and metric: what the figures are grouped by
	cumulative bool
	start, at  int64 // Unix ns
	count      uint64
	sumMicros  float64
	exemplars  []exemplar
}

type exemplar struct {
	traceID pcommon.TraceID
	spanID  pcommon.SpanID
	micros  float64
}

// capture is one testdata/captures/<name> directory, read.
type capture struct {
	name   string
	spans  []span
	points []point
}

func readCapture(dir string) (capture, error) {
	c := capture{name: filepath.Base(dir)}
	var tu ptrace.JSONUnmarshaler
	err := eachLine(filepath.Join(dir, "traces.jsonl"), func(line []byte) error {
		td, err := tu.UnmarshalTraces(line)
		if err != nil {
			return err
		}
		c.spans = append(c.spans, spansOf(td)...)
		return nil
	})
	if err != nil {
		return c, err
	}
	var mu pmetric.JSONUnmarshaler
	err = eachLine(filepath.Join(dir, "metrics.jsonl"), func(line []byte) error {
		md, err := mu.UnmarshalMetrics(line)
		if err != nil {
			return err
		}
		c.points = append(c.points, pointsOf(md)...)
		return nil
	})
	c.spans = distinct(c.spans)
	return c, err
}

// distinct keeps the first copy of each (trace ID, span ID): a replayed
// copy is the same request.
func distinct(spans []span) []span {
	type id struct {
		t pcommon.TraceID
		s pcommon.SpanID
	}
	seen := make(map[id]bool, len(spans))
	out := spans[:0]
	for _, s := range spans {
		if k := (id{s.traceID, s.spanID}); !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	return out
}

func eachLine(path string, f func([]byte) error) error {
	file, err := os.Open(path) //nolint:gosec // G304: reading the captures the operator names is the point
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer func() { _ = file.Close() }()
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := f(sc.Bytes()); err != nil {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func serviceOf(res pcommon.Resource) string {
	if v, ok := res.Attributes().Get("service.name"); ok {
		return v.AsString()
	}
	return ""
}

// spansOf keeps the server and client spans.
func spansOf(td ptrace.Traces) []span {
	var out []span
	for _, rs := range td.ResourceSpans().All() {
		service := serviceOf(rs.Resource())
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				if s.Kind() != ptrace.SpanKindServer && s.Kind() != ptrace.SpanKindClient {
					continue
				}
				out = append(out, span{
					request: requestOf(service, s.Kind(), s.Attributes()),
					traceID: s.TraceID(), spanID: s.SpanID(),
					start: int64(s.StartTimestamp()), end: int64(s.EndTimestamp()),
				})
			}
		}
	}
	return out
}

// requestOf reads the attributes old and stable conventions name
// differently. The port is the server's: a server span's own port, a
// client span's peer (net.peer.port on a server span is the client's).
func requestOf(service string, kind ptrace.SpanKind, attrs pcommon.Map) request {
	r := request{service: service, kind: kind}
	r.method = firstString(attrs, "http.request.method", "http.method")
	r.status = firstInt(attrs, "http.response.status_code", "http.status_code")
	if kind == ptrace.SpanKindServer {
		r.port = firstInt(attrs, "server.port", "net.host.port")
	} else {
		r.port = firstInt(attrs, "server.port", "net.peer.port")
	}
	return r
}

func firstString(attrs pcommon.Map, keys ...string) string {
	for _, k := range keys {
		if v, ok := attrs.Get(k); ok {
			return v.AsString()
		}
	}
	return ""
}

func firstInt(attrs pcommon.Map, keys ...string) int64 {
	for _, k := range keys {
		v, ok := attrs.Get(k)
		if !ok {
			continue
		}
		if v.Type() == pcommon.ValueTypeInt {
			return v.Int()
		}
		var n int64
		if _, err := fmt.Sscan(v.AsString(), &n); err == nil {
			return n
		}
	}
	return 0
}

func pointsOf(md pmetric.Metrics) []point {
	var out []point
	for _, rm := range md.ResourceMetrics().All() {
		service := serviceOf(rm.Resource())
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				kind, ok := spanKindOf(m.Name())
				scale, known := microsPer(m.Unit())
				if !ok || !known {
					continue
				}
				base := point{
					request: request{service: service, kind: kind},
					group:   sm.Scope().Name() + " " + m.Name(),
				}
				out = append(out, histogramPoints(m, base, scale)...)
			}
		}
	}
	return out
}

func histogramPoints(m pmetric.Metric, base point, scale float64) []point {
	var out []point
	add := func(attrs pcommon.Map, start, at pcommon.Timestamp, count uint64, sum float64, ex pmetric.ExemplarSlice) {
		p := base
		p.request = requestOf(base.service, base.kind, attrs)
		p.stream = base.service + "|" + base.group + "|" + attrKey(attrs)
		p.start, p.at, p.count, p.sumMicros = int64(start), int64(at), count, sum*scale
		p.exemplars = exemplarsOf(ex, scale)
		out = append(out, p)
	}
	switch m.Type() {
	case pmetric.MetricTypeHistogram:
		base.cumulative = m.Histogram().AggregationTemporality() == pmetric.AggregationTemporalityCumulative
		for _, dp := range m.Histogram().DataPoints().All() {
			add(dp.Attributes(), dp.StartTimestamp(), dp.Timestamp(), dp.Count(), dp.Sum(), dp.Exemplars())
		}
	case pmetric.MetricTypeExponentialHistogram:
		base.cumulative = m.ExponentialHistogram().AggregationTemporality() == pmetric.AggregationTemporalityCumulative
		for _, dp := range m.ExponentialHistogram().DataPoints().All() {
			add(dp.Attributes(), dp.StartTimestamp(), dp.Timestamp(), dp.Count(), dp.Sum(), dp.Exemplars())
		}
	default:
	}
	return out
}

func exemplarsOf(ex pmetric.ExemplarSlice, scale float64) []exemplar {
	out := make([]exemplar, 0, ex.Len())
	for _, e := range ex.All() {
		v := e.DoubleValue()
		if e.ValueType() == pmetric.ExemplarValueTypeInt {
			v = float64(e.IntValue())
		}
		out = append(out, exemplar{traceID: e.TraceID(), spanID: e.SpanID(), micros: v * scale})
	}
	return out
}

func attrKey(attrs pcommon.Map) string {
	parts := make([]string, 0, attrs.Len())
	for k, v := range attrs.All() {
		parts = append(parts, k+"="+v.AsString())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

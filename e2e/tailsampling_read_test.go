// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Readers for the tail-sampling end-to-end test: the spans and histogram
// points the collector's file exporters wrote, reduced to what the checks
// need. The test's own model of which span a histogram stream counts lives
// here too (streamOf), independent of the processor's rules.

// tsSpan is one span of a file exporter's output.
type tsSpan struct {
	traceID, spanID string
	service, kind   string
	method, route   string
	status          string
	start, end      uint64
	err             bool
}

func (s *tsSpan) seconds() float64 { return float64(s.end-s.start) / 1e9 }

// streamKey names the histogram stream that counted the span: the demo's
// SERVER spans are counted in http.server.request.duration by method, route
// and status code, its CLIENT spans in http.client.request.duration by
// method and status code (one peer only). Other spans are in no stream.
func (s *tsSpan) streamKey() string {
	switch s.kind {
	case "Server":
		return tsStreamKey(s.service, tsServerMetric, s.method, s.route, s.status)
	case "Client":
		return tsStreamKey(s.service, tsClientMetric, s.method, "", s.status)
	}
	return ""
}

const (
	tsServerMetric = "http.server.request.duration"
	tsClientMetric = "http.client.request.duration"
)

func tsStreamKey(service, metric, method, route, status string) string {
	return strings.Join([]string{service, metric, method, route, status}, "|")
}

// tsTraces is a traces file by trace: span IDs per trace ID and each span.
type tsTraces struct {
	spans  map[string]*tsSpan // by span ID
	traces map[string][]string
	copies int // spans written, repeated IDs included
}

func tsReadTraces(t *testing.T, path string) *tsTraces {
	t.Helper()
	out := &tsTraces{spans: map[string]*tsSpan{}, traces: map[string][]string{}}
	pdEachSpan(t, path, out.add)
	return out
}

func (o *tsTraces) add(service string, sp ptrace.Span) {
	o.copies++
	sid := sp.SpanID().String()
	if _, dup := o.spans[sid]; dup {
		return
	}
	attr := func(k string) string {
		if v, ok := sp.Attributes().Get(k); ok {
			return v.AsString()
		}
		return ""
	}
	s := &tsSpan{
		traceID: sp.TraceID().String(), spanID: sid, service: service, kind: sp.Kind().String(),
		method: attr("http.request.method"), route: attr("http.route"), status: attr("http.response.status_code"),
		start: uint64(sp.StartTimestamp()), end: uint64(sp.EndTimestamp()),
		err: sp.Status().Code() == ptrace.StatusCodeError,
	}
	o.spans[sid] = s
	o.traces[s.traceID] = append(o.traces[s.traceID], sid)
}

// duration is a trace's duration as the sampler's latency policy sees it:
// latest end minus earliest start of its spans.
func (o *tsTraces) duration(traceID string) float64 {
	var lo, hi uint64
	for i, sid := range o.traces[traceID] {
		s := o.spans[sid]
		if i == 0 || s.start < lo {
			lo = s.start
		}
		hi = max(hi, s.end)
	}
	return float64(hi-lo) / 1e9
}

func (o *tsTraces) hasError(traceID string) bool {
	for _, sid := range o.traces[traceID] {
		if o.spans[sid].err {
			return true
		}
	}
	return false
}

// tsExemplar is an exemplar of a written point.
type tsExemplar struct {
	traceID, spanID string
	value           float64
	time            uint64
}

// tsPoint is one written histogram point.
type tsPoint struct {
	start, time uint64
	counts      []uint64
	bounds      []float64
	exemplars   []tsExemplar
}

// tsStream is the points of one stream in time order.
type tsStream struct {
	key        string
	cumulative bool
	points     []tsPoint
}

// tsReadStreams returns the explicit-bucket histogram streams of a metrics
// file, by streamKey, points sorted by time.
func tsReadStreams(t *testing.T, path string) map[string]*tsStream {
	t.Helper()
	out := map[string]*tsStream{}
	var u pmetric.JSONUnmarshaler
	pdEachLine(t, path, func(line []byte) {
		md, err := u.UnmarshalMetrics(line)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, rm := range md.ResourceMetrics().All() {
			svc, _ := rm.Resource().Attributes().Get("service.name")
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					if m.Type() == pmetric.MetricTypeHistogram && (m.Name() == tsServerMetric || m.Name() == tsClientMetric) {
						tsAddPoints(out, svc.AsString(), m)
					}
				}
			}
		}
	})
	for _, s := range out {
		sort.SliceStable(s.points, func(i, j int) bool { return s.points[i].time < s.points[j].time })
	}
	return out
}

func tsAddPoints(out map[string]*tsStream, service string, m pmetric.Metric) {
	h := m.Histogram()
	for _, dp := range h.DataPoints().All() {
		attr := func(k string) string {
			if v, ok := dp.Attributes().Get(k); ok {
				return v.AsString()
			}
			return ""
		}
		key := tsStreamKey(service, m.Name(), attr("http.request.method"), attr("http.route"), attr("http.response.status_code"))
		s := out[key]
		if s == nil {
			s = &tsStream{key: key, cumulative: h.AggregationTemporality() == pmetric.AggregationTemporalityCumulative}
			out[key] = s
		}
		p := tsPoint{
			start: uint64(dp.StartTimestamp()), time: uint64(dp.Timestamp()),
			counts: dp.BucketCounts().AsRaw(), bounds: dp.ExplicitBounds().AsRaw(),
		}
		for _, ex := range dp.Exemplars().All() {
			p.exemplars = append(p.exemplars, tsExemplar{
				traceID: ex.TraceID().String(), spanID: ex.SpanID().String(), value: ex.DoubleValue(), time: uint64(ex.Timestamp()),
			})
		}
		s.points = append(s.points, p)
	}
}

// tsBucketOf is the explicit bucket of v: (-inf,b0], (b0,b1], …, (b_last,+inf).
func tsBucketOf(bounds []float64, v float64) int {
	return sort.SearchFloat64s(bounds, v)
}

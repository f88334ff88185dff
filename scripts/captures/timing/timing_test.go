// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

const sec = int64(time.Second)

// fixture writes a capture directory: traces and metrics, one line each.
type fixture struct {
	td ptrace.Traces
	md pmetric.Metrics
	ss ptrace.SpanSlice
	ms pmetric.MetricSlice
}

func newFixture() *fixture {
	f := &fixture{td: ptrace.NewTraces(), md: pmetric.NewMetrics()}
	rs := f.td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "svc")
	f.ss = rs.ScopeSpans().AppendEmpty().Spans()
	rm := f.md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "svc")
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("inst")
	f.ms = sm.Metrics()
	return f
}

// span adds a server span POST/status ending at endNs, lasting durNs.
func (f *fixture) span(id byte, status int64, endNs, durNs int64) {
	s := f.ss.AppendEmpty()
	s.SetTraceID(pcommon.TraceID{1, id})
	s.SetSpanID(pcommon.SpanID{id})
	s.SetKind(ptrace.SpanKindServer)
	s.SetStartTimestamp(pcommon.Timestamp(endNs - durNs))
	s.SetEndTimestamp(pcommon.Timestamp(endNs))
	s.Attributes().PutStr("http.request.method", "POST")
	s.Attributes().PutInt("http.response.status_code", status)
}

// histogram adds a seconds histogram with one point per (start, at, count, sum).
func (f *fixture) histogram(temporality pmetric.AggregationTemporality, status int64, pts ...[4]float64) pmetric.HistogramDataPoint {
	m := f.ms.AppendEmpty()
	m.SetName("http.server.request.duration")
	m.SetUnit("s")
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(temporality)
	var dp pmetric.HistogramDataPoint
	for _, p := range pts {
		dp = h.DataPoints().AppendEmpty()
		dp.Attributes().PutStr("http.request.method", "POST")
		dp.Attributes().PutInt("http.response.status_code", status)
		dp.SetStartTimestamp(pcommon.Timestamp(int64(p[0])))
		dp.SetTimestamp(pcommon.Timestamp(int64(p[1])))
		dp.SetCount(uint64(p[2]))
		dp.SetSum(p[3])
	}
	return dp
}

func (f *fixture) write(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fixture")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	tb, err := (&ptrace.JSONMarshaler{}).MarshalTraces(f.td)
	require.NoError(t, err)
	mb, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(f.md)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "traces.jsonl"), append(tb, '\n'), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "metrics.jsonl"), append(mb, '\n'), 0o600))
	return dir
}

func TestSingleRequestIntervalGivesTheExactSkew(t *testing.T) {
	f := newFixture()
	// Delta: one request in (1 s, 2 s], metric 10.1 ms, span 10 ms.
	f.span(1, 200, 1500*sec/1000, 10*sec/1000)
	f.histogram(pmetric.AggregationTemporalityDelta, 200, [4]float64{float64(sec), float64(2 * sec), 1, 0.0101})
	// Cumulative: the second point adds one request of 20 ms, its span
	// lasted 20.25 ms; the first point counted two (not a single request).
	f.span(2, 500, 2500*sec/1000, 10*sec/1000)
	f.span(3, 500, 2600*sec/1000, 10*sec/1000)
	f.span(4, 500, 3500*sec/1000, 20250*sec/1000000)
	f.histogram(pmetric.AggregationTemporalityCumulative, 500,
		[4]float64{float64(2 * sec), float64(3 * sec), 2, 0.02},
		[4]float64{float64(2 * sec), float64(4 * sec), 3, 0.04})

	c, err := readCapture(f.write(t))
	require.NoError(t, err)
	single, left := singleRequests(intervals(c.points), newSpanIndex(c.spans), int64(20*time.Millisecond))
	assert.Equal(t, leftOut{}, left)
	got := single.samples()["inst http.server.request.duration"]
	sort.Float64s(got)
	assert.InDeltaSlice(t, []float64{-250, 100}, got, 0.01)

	means := intervalMeans(intervals(c.points), newSpanIndex(c.spans))
	assert.InDeltaSlice(t, []float64{100, 0, -250}, means["inst http.server.request.duration"], 0.01,
		"the two-request interval: (20 ms - 2 x 10 ms) / 2")
}

func TestAmbiguousIntervalIsLeftOut(t *testing.T) {
	f := newFixture()
	// One request counted, two spans of the same request kind ended in it.
	f.span(1, 200, 1400*sec/1000, 10*sec/1000)
	f.span(2, 200, 1600*sec/1000, 12*sec/1000)
	f.histogram(pmetric.AggregationTemporalityDelta, 200, [4]float64{float64(sec), float64(2 * sec), 1, 0.011})
	c, err := readCapture(f.write(t))
	require.NoError(t, err)
	single, left := singleRequests(intervals(c.points), newSpanIndex(c.spans), 0)
	assert.Empty(t, single)
	assert.Equal(t, leftOut{several: 1}, left)
}

func TestExemplarNamesItsSpan(t *testing.T) {
	f := newFixture()
	f.span(1, 200, 1500*sec/1000, 10*sec/1000)
	dp := f.histogram(pmetric.AggregationTemporalityCumulative, 200, [4]float64{0, float64(2 * sec), 5, 0.06})
	e := dp.Exemplars().AppendEmpty()
	e.SetTraceID(pcommon.TraceID{1, 1})
	e.SetSpanID(pcommon.SpanID{1})
	e.SetDoubleValue(0.00995)
	// Traceless exemplars say nothing about any span.
	dp.Exemplars().AppendEmpty().SetDoubleValue(0.5)
	c, err := readCapture(f.write(t))
	require.NoError(t, err)
	got := exemplarsWithSpans(c.points, newSpanIndex(c.spans)).samples()
	assert.InDeltaSlice(t, []float64{-50}, got["inst http.server.request.duration"], 0.01)
}

func TestReportPrintsOneRowPerMethodAndMetric(t *testing.T) {
	f := newFixture()
	f.span(1, 200, 1500*sec/1000, 10*sec/1000)
	f.histogram(pmetric.AggregationTemporalityDelta, 200, [4]float64{float64(sec), float64(2 * sec), 1, 0.0101})
	var out bytes.Buffer
	require.NoError(t, report(&out, []string{f.write(t)}, 20*time.Millisecond))
	assert.Contains(t, out.String(), "| fixture | single | inst http.server.request.duration | 1 | 100 | 100 | 100 | 100 |")
	assert.Contains(t, out.String(), "| all above | exact | inst http.server.request.duration | 1 | 100 | 100 | 100 | 100 |")
	assert.Equal(t, 5, strings.Count(out.String(), "\n"), "header, rule, single, interval-mean and pooled rows")
}

func TestSummarizeUsesNearestRank(t *testing.T) {
	v := make([]float64, 0, 200)
	for i := 200; i >= 1; i-- {
		v = append(v, float64(i))
	}
	s := summarize(v)
	assert.Equal(t, stats{n: 200, min: 1, median: 100, p99: 198, max: 200}, s)
}

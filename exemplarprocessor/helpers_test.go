// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/metadata"
)

// t0 is the fixed start of every test timeline.
var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// harness is one core with a traces and a metrics face, a fake clock and a
// telemetry recorder.
type harness struct {
	core      *core
	traces    *tracesProcessor
	metrics   *metricsProcessor
	clock     *fakeClock
	telemetry *componenttest.Telemetry
}

func newHarness(t testing.TB, cfg *Config) *harness {
	t.Helper()
	require.NoError(t, cfg.Validate())
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	clk := &fakeClock{now: t0}
	c, err := newCore(cfg, set.TelemetrySettings, clk)
	require.NoError(t, err)
	tp, err := newTracesProcessor(c, set)
	require.NoError(t, err)
	mp, err := newMetricsProcessor(c, set, nil)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, tp.shutdown(context.Background()))
		require.NoError(t, mp.shutdown(context.Background()))
	})
	return &harness{core: c, traces: tp, metrics: mp, clock: clk, telemetry: tel}
}

func (h *harness) consumeTraces(t testing.TB, td ptrace.Traces) ptrace.Traces {
	t.Helper()
	out, err := h.traces.process(context.Background(), td)
	require.NoError(t, err)
	return out
}

func (h *harness) consumeMetrics(t testing.TB, md pmetric.Metrics) pmetric.Metrics {
	t.Helper()
	out, err := h.metrics.process(context.Background(), md)
	require.NoError(t, err)
	return out
}

func nopSettings() processor.Settings { return processortest.NewNopSettings(metadata.Type) }

type processorSettings = processor.Settings

func componentHost() component.Host { return componenttest.NewNopHost() }

func attrSet(k, v string) attribute.Set { return attribute.NewSet(attribute.String(k, v)) }

func traceID(n uint64) pcommon.TraceID {
	var id pcommon.TraceID
	id[0] = 0xab
	binary.BigEndian.PutUint64(id[8:], n)
	return id
}

func spanID(n uint64) pcommon.SpanID {
	var id pcommon.SpanID
	binary.BigEndian.PutUint64(id[:], n)
	return id
}

// span describes a test span.
type span struct {
	id         uint64 // trace and span ID number
	service    string
	kind       ptrace.SpanKind
	name       string
	start, end time.Time
	attrs      map[string]any
}

func serverSpan(id uint64, service, route string, end time.Time, d time.Duration) span {
	return span{
		id: id, service: service, kind: ptrace.SpanKindServer, name: "GET " + route,
		start: end.Add(-d), end: end,
		attrs: map[string]any{"http.request.method": "GET", "http.route": route, "http.response.status_code": int64(200)},
	}
}

// tracesOf builds one resource per service, in first-seen order.
func tracesOf(spans ...span) ptrace.Traces {
	td := ptrace.NewTraces()
	scopes := map[string]ptrace.SpanSlice{}
	for _, s := range spans {
		ss, ok := scopes[s.service]
		if !ok {
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr("service.name", s.service)
			ss = rs.ScopeSpans().AppendEmpty().Spans()
			scopes[s.service] = ss
		}
		sp := ss.AppendEmpty()
		sp.SetTraceID(traceID(s.id))
		sp.SetSpanID(spanID(s.id))
		sp.SetName(s.name)
		sp.SetKind(s.kind)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(s.start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(s.end))
		_ = sp.Attributes().FromRaw(s.attrs)
	}
	return td
}

// hist describes a test explicit-bucket histogram point.
type hist struct {
	service     string
	metric      string
	unit        string
	cumulative  bool
	start, time time.Time
	bounds      []float64
	counts      []uint64
	sum         float64
	attrs       map[string]any
}

func serverHist(service string, start, end time.Time, counts []uint64) hist {
	return hist{
		service: service, metric: "http.server.request.duration", unit: "s",
		start: start, time: end,
		bounds: []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5},
		counts: counts,
		attrs:  map[string]any{"http.request.method": "GET", "http.route": "/a", "http.response.status_code": int64(200)},
	}
}

func metricsOf(points ...hist) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for _, p := range points {
		h := appendMetric(md, p.service, p.metric, p.unit).SetEmptyHistogram()
		h.SetAggregationTemporality(temporality(p.cumulative))
		dp := h.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(p.start))
		dp.SetTimestamp(pcommon.NewTimestampFromTime(p.time))
		dp.ExplicitBounds().FromRaw(p.bounds)
		dp.BucketCounts().FromRaw(p.counts)
		var n uint64
		for _, c := range p.counts {
			n += c
		}
		dp.SetCount(n)
		dp.SetSum(p.sum)
		_ = dp.Attributes().FromRaw(p.attrs)
	}
	return md
}

// appendMetric appends a resource of service with one metric, name and unit
// set, its data left to the caller.
func appendMetric(md pmetric.Metrics, service, name, unit string) pmetric.Metric {
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", service)
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(name)
	m.SetUnit(unit)
	return m
}

func temporality(cumulative bool) pmetric.AggregationTemporality {
	if cumulative {
		return pmetric.AggregationTemporalityCumulative
	}
	return pmetric.AggregationTemporalityDelta
}

// addExemplar gives md's first histogram point an exemplar, as an SDK would,
// naming span id.
func addExemplar(md pmetric.Metrics, id uint64, at time.Time, value float64) {
	ex := exemplarsOf(md).AppendEmpty()
	ex.SetTraceID(traceID(id))
	ex.SetSpanID(spanID(id))
	ex.SetTimestamp(pcommon.NewTimestampFromTime(at))
	ex.SetDoubleValue(value)
}

// addTracelessExemplar adds an exemplar with a value and a timestamp but no
// trace context to the first histogram point, as an SDK's always_on filter
// records outside a span.
func addTracelessExemplar(md pmetric.Metrics, at time.Time, value float64) {
	ex := exemplarsOf(md).AppendEmpty()
	ex.SetTimestamp(pcommon.NewTimestampFromTime(at))
	ex.SetDoubleValue(value)
}

// exemplarsOf returns the exemplars of the first histogram point.
func exemplarsOf(md pmetric.Metrics) pmetric.ExemplarSlice {
	return md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Histogram().DataPoints().At(0).Exemplars()
}

// counter sums the data points of an int64 counter of the processor's
// telemetry, only those whose attribute attr[0] equals attr[1] when given;
// 0 when the counter was never recorded.
func counter(h *harness, name string, attr ...string) int64 {
	m, err := h.telemetry.GetMetric(name)
	if err != nil {
		return 0
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		return 0
	}
	var total int64
	for _, dp := range sum.DataPoints {
		if len(attr) == 2 {
			if v, ok := dp.Attributes.Value(attribute.Key(attr[0])); !ok || v.AsString() != attr[1] {
				continue
			}
		}
		total += dp.Value
	}
	return total
}

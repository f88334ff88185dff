// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/metadatatest"
)

// exemplarIDs lists, per data point of every histogram in md, the trace ID
// numbers of its exemplars in order (0 for an ID not built by traceID).
func exemplarIDs(md pmetric.Metrics) [][]uint64 {
	var out [][]uint64
	each := func(exs pmetric.ExemplarSlice) {
		ids := []uint64{}
		for i := 0; i < exs.Len(); i++ {
			tid := exs.At(i).TraceID()
			var n uint64
			for _, b := range tid[8:] {
				n = n<<8 | uint64(b)
			}
			ids = append(ids, n)
		}
		out = append(out, ids)
	}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				switch m.Type() {
				case pmetric.MetricTypeHistogram:
					for d := 0; d < m.Histogram().DataPoints().Len(); d++ {
						each(m.Histogram().DataPoints().At(d).Exemplars())
					}
				case pmetric.MetricTypeExponentialHistogram:
					for d := 0; d < m.ExponentialHistogram().DataPoints().Len(); d++ {
						each(m.ExponentialHistogram().DataPoints().At(d).Exemplars())
					}
				default:
				}
			}
		}
	}
	return out
}

// firstExemplarValues returns the values of the first point's exemplars.
func firstExemplarValues(md pmetric.Metrics) []float64 {
	m := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0)
	var exs pmetric.ExemplarSlice
	if m.Type() == pmetric.MetricTypeHistogram {
		exs = m.Histogram().DataPoints().At(0).Exemplars()
	} else {
		exs = m.ExponentialHistogram().DataPoints().At(0).Exemplars()
	}
	var out []float64
	for i := 0; i < exs.Len(); i++ {
		out = append(out, exs.At(i).DoubleValue())
	}
	return out
}

func notEnrichedCount(h *harness, reason string) int64 {
	return counter(h, "otelcol_processor_exemplar_datapoints_not_enriched", "reason", reason)
}

// clientSpan is a CLIENT span of service calling server:port.
func clientSpan(id uint64, service, server string, port int64, end time.Time, d time.Duration) span {
	return span{
		id: id, service: service, kind: ptrace.SpanKindClient, name: "GET",
		start: end.Add(-d), end: end,
		attrs: map[string]any{"http.request.method": "GET", "server.address": server, "server.port": port, "http.response.status_code": int64(200)},
	}
}

// expHist describes an exponential histogram point.
type expHist struct {
	service     string
	metric      string
	unit        string
	cumulative  bool
	start, time time.Time
	scale       int32
	zeroCount   uint64
	zeroThresh  float64
	posOffset   int32
	pos         []uint64
	negOffset   int32
	neg         []uint64
	attrs       map[string]any
}

func expMetricsOf(p expHist) pmetric.Metrics {
	md := pmetric.NewMetrics()
	h := appendMetric(md, p.service, p.metric, p.unit).SetEmptyExponentialHistogram()
	h.SetAggregationTemporality(temporality(p.cumulative))
	dp := h.DataPoints().AppendEmpty()
	dp.SetStartTimestamp(pcommon.NewTimestampFromTime(p.start))
	dp.SetTimestamp(pcommon.NewTimestampFromTime(p.time))
	dp.SetScale(p.scale)
	dp.SetZeroCount(p.zeroCount)
	dp.SetZeroThreshold(p.zeroThresh)
	dp.Positive().SetOffset(p.posOffset)
	dp.Positive().BucketCounts().FromRaw(p.pos)
	dp.Negative().SetOffset(p.negOffset)
	dp.Negative().BucketCounts().FromRaw(p.neg)
	n := p.zeroCount
	for _, c := range append(append([]uint64{}, p.pos...), p.neg...) {
		n += c
	}
	dp.SetCount(n)
	_ = dp.Attributes().FromRaw(p.attrs)
	return md
}

func TestGoldenMetrics(t *testing.T) {
	at := t0.Add
	tr := func(spans ...span) func() ptrace.Traces { return func() ptrace.Traces { return tracesOf(spans...) } }
	ms := func(p ...hist) func() pmetric.Metrics { return func() pmetric.Metrics { return metricsOf(p...) } }
	end := at(5 * time.Second)
	// Buckets of serverHist (s): (,.005] (,.01] (,.025] (,.05] (,.075] (,.1] (,.25] (,.5] (.5,+Inf)
	fast := serverSpan(1, "shop", "/a", end, 3*time.Millisecond)
	mid := serverSpan(2, "shop", "/a", end.Add(time.Second), 30*time.Millisecond)
	slow := serverSpan(3, "shop", "/a", end.Add(2*time.Second), 400*time.Millisecond)
	grown := []uint64{1, 0, 0, 1, 0, 0, 0, 1, 0}

	for _, tc := range []goldenCase{
		{
			name: "stable_http_server",
			steps: []step{
				{at: at(8 * time.Second), traces: tr(fast, mid, slow)},
				{at: at(11 * time.Second), metrics: ms(serverHist("shop", t0, at(10*time.Second), grown))},
			},
			check: func(t *testing.T, h *harness, outs []any) {
				md := outs[1].(pmetric.Metrics)
				assert.Equal(t, [][]uint64{{1, 2, 3}}, exemplarIDs(md), "one exemplar per counted bucket, slowest span in the slow bucket")
				assert.Equal(t, []float64{0.003, 0.03, 0.4}, firstExemplarValues(md), "span durations in seconds")
				ex := exemplarsOf(md).At(2)
				assert.Equal(t, pcommon.NewTimestampFromTime(slow.end), ex.Timestamp(), "timestamp is the span end")
				assert.Equal(t, spanID(3), ex.SpanID())
				metadatatest.AssertEqualProcessorExemplarExemplarsAttached(t, h.telemetry, []metricdata.DataPoint[int64]{
					{Value: 3, Attributes: attrSet("join", "match")},
				}, metricdatatest.IgnoreTimestamp())
			},
		},
		{
			name: "old_http_server_flask",
			steps: []step{
				{at: at(8 * time.Second), traces: tr(span{
					id: 7, service: "flask", kind: ptrace.SpanKindServer, name: "GET /users/<id>",
					start: end.Add(-12 * time.Millisecond), end: end,
					attrs: map[string]any{"http.method": "GET", "http.route": "/users/<id>", "http.target": "/users/42", "http.status_code": int64(200)},
				})},
				{at: at(11 * time.Second), metrics: ms(hist{
					service: "flask", metric: "http.server.duration", unit: "ms", start: t0, time: at(10 * time.Second),
					bounds: []float64{0, 5, 10, 25, 50}, counts: []uint64{0, 0, 0, 1, 0, 0},
					attrs: map[string]any{"http.method": "GET", "http.target": "/users/<id>", "http.status_code": "200", "http.flavor": "1.1"},
				})},
			},
			check: func(t *testing.T, _ *harness, outs []any) {
				md := outs[1].(pmetric.Metrics)
				assert.Equal(t, [][]uint64{{7}}, exemplarIDs(md), "route in http.target joins the span's http.route; \"200\" equals 200")
				assert.Equal(t, []float64{12}, firstExemplarValues(md), "value in the metric's unit (ms)")
			},
		},
		{
			name: "http_client",
			steps: []step{
				{at: at(8 * time.Second), traces: tr(
					clientSpan(10, "orders", "payments", 8080, end, 40*time.Millisecond),
					clientSpan(11, "orders", "inventory", 8080, end, 45*time.Millisecond),
				)},
				{at: at(11 * time.Second), metrics: ms(hist{
					service: "orders", metric: "http.client.request.duration", unit: "s", start: t0, time: at(10 * time.Second),
					bounds: []float64{0.025, 0.05, 0.1}, counts: []uint64{0, 1, 0, 0},
					attrs: map[string]any{"http.request.method": "GET", "server.address": "payments", "server.port": int64(8080), "http.response.status_code": int64(200)},
				})},
			},
			check: func(t *testing.T, _ *harness, outs []any) {
				assert.Equal(t, [][]uint64{{10}}, exemplarIDs(outs[1].(pmetric.Metrics)), "the span to the same server, not inventory")
			},
		},
		{
			name: "units",
			steps: []step{
				{at: at(8 * time.Second), traces: tr(mid)},
				{at: at(11 * time.Second), metrics: func() pmetric.Metrics {
					md := pmetric.NewMetrics()
					for _, u := range []struct {
						unit   string
						bounds []float64
					}{{"s", []float64{0.01, 0.05}}, {"ms", []float64{10, 50}}, {"us", []float64{10000, 50000}}} {
						one := metricsOf(hist{
							service: "shop", metric: "http.server.request.duration", unit: u.unit, start: t0, time: at(10 * time.Second),
							bounds: u.bounds, counts: []uint64{0, 1, 0}, attrs: map[string]any{"http.route": "/a"},
						})
						one.ResourceMetrics().MoveAndAppendTo(md.ResourceMetrics())
					}
					return md
				}},
			},
			check: func(t *testing.T, _ *harness, outs []any) {
				md := outs[1].(pmetric.Metrics)
				var vals []float64
				for i := 0; i < 3; i++ {
					ex := md.ResourceMetrics().At(i).ScopeMetrics().At(0).Metrics().At(0).Histogram().DataPoints().At(0).Exemplars()
					require.Equal(t, 1, ex.Len())
					vals = append(vals, ex.At(0).DoubleValue())
				}
				assert.InDeltaSlice(t, []float64{0.03, 30, 30000}, vals, 1e-9)
			},
		},
		{
			name: "cumulative_growth_and_reset",
			steps: []step{
				{at: at(8 * time.Second), traces: tr(fast, mid)},
				{at: at(11 * time.Second), metrics: ms(cumulative(serverHist("shop", t0, at(10*time.Second), []uint64{1, 0, 0, 1, 0, 0, 0, 0, 0})))},
				{at: at(18 * time.Second), traces: tr(
					serverSpan(4, "shop", "/a", at(15*time.Second), 4*time.Millisecond),
					serverSpan(5, "shop", "/a", at(16*time.Second), 60*time.Millisecond),
				)},
				// Only buckets (,.005] and (.05,.075] grew; (.025,.05] did not.
				{at: at(21 * time.Second), metrics: ms(cumulative(serverHist("shop", t0, at(20*time.Second), []uint64{2, 0, 0, 1, 1, 0, 0, 0, 0})))},
				// Unchanged: nothing grew, nothing attached.
				{at: at(31 * time.Second), metrics: ms(cumulative(serverHist("shop", t0, at(30*time.Second), []uint64{2, 0, 0, 1, 1, 0, 0, 0, 0})))},
				// Reset: the process restarted, counts start over.
				{at: at(38 * time.Second), traces: tr(serverSpan(6, "shop", "/a", at(36*time.Second), 30*time.Millisecond))},
				{at: at(41 * time.Second), metrics: ms(cumulative(serverHist("shop", at(32*time.Second), at(40*time.Second), []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0})))},
			},
			check: func(t *testing.T, h *harness, outs []any) {
				assert.Equal(t, [][]uint64{{1, 2}}, exemplarIDs(outs[1].(pmetric.Metrics)), "first point: every counted bucket")
				assert.Equal(t, [][]uint64{{4, 5}}, exemplarIDs(outs[3].(pmetric.Metrics)), "second point: only buckets that grew, fresh spans")
				assert.Equal(t, [][]uint64{{}}, exemplarIDs(outs[4].(pmetric.Metrics)), "unchanged point")
				assert.Equal(t, [][]uint64{{6}}, exemplarIDs(outs[6].(pmetric.Metrics)), "after a reset the stream starts afresh")
				assert.Equal(t, int64(1), notEnrichedCount(h, "unchanged"))
			},
		},
		{
			name: "exponential_scale0_durations",
			steps: []step{
				{at: at(8 * time.Second), traces: tr(
					serverSpan(20, "shop", "/a", end, 3*time.Second),        // scale 0: (2, 4] is index 1
					serverSpan(21, "shop", "/a", end, 700*time.Millisecond), // (0.5, 1] is index -1
					serverSpan(22, "shop", "/a", end, 0),                    // zero bucket
				)},
				{at: at(11 * time.Second), metrics: func() pmetric.Metrics {
					return expMetricsOf(expHist{
						service: "shop", metric: "http.server.request.duration", unit: "s", start: t0, time: at(10 * time.Second),
						scale: 0, zeroCount: 1, posOffset: -1, pos: []uint64{1, 0, 1}, attrs: map[string]any{"http.route": "/a"},
					})
				}},
			},
			check: func(t *testing.T, _ *harness, outs []any) {
				md := outs[1].(pmetric.Metrics)
				assert.ElementsMatch(t, []uint64{20, 21, 22}, exemplarIDs(md)[0])
				assert.ElementsMatch(t, []float64{0, 0.7, 3}, firstExemplarValues(md))
			},
		},
		{
			name: "exponential_scale3_negative_zero",
			cfg: func(c *Config) {
				c.Rules = []RuleConfig{{Metric: "cart.value.change", SpanKind: "internal", ValueAttribute: "cart.delta"}}
			},
			steps: []step{
				{at: at(8 * time.Second), traces: tr(
					valueSpan(30, end, -3.5), // scale 3: index of 3.5 is 14 ((3.36, 3.67])
					valueSpan(31, end, 0),
					valueSpan(32, end, 12.0), // index 28 ((11.31, 12.34])
					valueSpan(33, end, 1000), // no such bucket on the point
				)},
				{at: at(11 * time.Second), metrics: func() pmetric.Metrics {
					return expMetricsOf(expHist{
						service: "shop", metric: "cart.value.change", unit: "{USD}", start: t0, time: at(10 * time.Second),
						scale: 3, zeroCount: 1, posOffset: 28, pos: []uint64{1}, negOffset: 14, neg: []uint64{1},
					})
				}},
			},
			check: func(t *testing.T, _ *harness, outs []any) {
				md := outs[1].(pmetric.Metrics)
				assert.ElementsMatch(t, []uint64{30, 31, 32}, exemplarIDs(md)[0], "negative, zero and positive buckets")
				assert.ElementsMatch(t, []float64{-3.5, 0, 12}, firstExemplarValues(md), "values come from the attribute")
			},
		},
		{
			name: "existing_exemplar_kept",
			steps: []step{
				{at: at(8 * time.Second), traces: tr(fast, mid)},
				{at: at(11 * time.Second), metrics: func() pmetric.Metrics {
					md := metricsOf(serverHist("shop", t0, at(10*time.Second), []uint64{1, 0, 0, 1, 0, 0, 0, 0, 0}))
					addExemplar(md, 99, at(9*time.Second), 0.002)
					return md
				}},
			},
			check: func(t *testing.T, _ *harness, outs []any) {
				assert.Equal(t, [][]uint64{{99, 2}}, exemplarIDs(outs[1].(pmetric.Metrics)), "the SDK's exemplar fills its bucket; only the empty one is filled")
			},
		},
		{
			// An SDK with the always_on exemplar filter recording after the
			// span ended (Python >= 1.28, Go) sends exemplars with a value
			// and no trace context; the Prometheus exporter drops them, so
			// the bucket would show none. It is filled like an empty one,
			// the traceless exemplar giving way; where no span is found it
			// stays.
			name: "traceless_exemplar_replaced",
			steps: []step{
				{at: at(8 * time.Second), traces: tr(fast, mid)},
				{at: at(11 * time.Second), metrics: func() pmetric.Metrics {
					md := metricsOf(serverHist("shop", t0, at(10*time.Second), []uint64{1, 0, 0, 1, 0, 0, 1, 0, 0}))
					addTracelessExemplar(md, at(9*time.Second), 0.0031) // bucket 0: fast fills it
					addTracelessExemplar(md, at(9*time.Second), 0.0299) // bucket 3: mid fills it
					addTracelessExemplar(md, at(9*time.Second), 0.2)    // bucket 6: no span
					return md
				}},
			},
			check: func(t *testing.T, h *harness, outs []any) {
				exs := exemplarsOf(outs[1].(pmetric.Metrics))
				require.Equal(t, 3, exs.Len())
				assert.True(t, exs.At(0).TraceID().IsEmpty(), "the bucket without a span keeps its traceless exemplar")
				assert.InDelta(t, 0.2, exs.At(0).DoubleValue(), 1e-12)
				assert.Equal(t, [][]uint64{{0, 1, 2}}, exemplarIDs(outs[1].(pmetric.Metrics)), "the spans' exemplars took the other two buckets")
				assert.Equal(t, int64(2), counter(h, "otelcol_processor_exemplar_exemplars_traceless", "outcome", "replaced"))
				assert.Equal(t, int64(1), counter(h, "otelcol_processor_exemplar_exemplars_traceless", "outcome", "kept"))
				assert.Equal(t, int64(1), counter(h, "otelcol_processor_exemplar_buckets_unfilled"))
			},
		},
		{
			name: "no_match",
			steps: []step{
				{at: at(8 * time.Second), traces: tr(
					func() span { s := mid; s.kind = ptrace.SpanKindClient; return s }(),                          // wrong kind
					func() span { s := mid; s.id = 40; s.service = "cart"; return s }(),                           // other service
					func() span { s := mid; s.id = 41; s.attrs = map[string]any{"http.route": "/b"}; return s }(), // attribute mismatch
					func() span {
						s := mid
						s.id = 42
						s.start, s.end = at(-time.Second), at(-time.Second+time.Millisecond*30)
						return s
					}(), // before the window
				)},
				{at: at(11 * time.Second), metrics: ms(serverHist("shop", t0, at(10*time.Second), []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0}))},
			},
			check: func(t *testing.T, h *harness, outs []any) {
				assert.Equal(t, [][]uint64{{}}, exemplarIDs(outs[1].(pmetric.Metrics)))
				assert.Equal(t, int64(1), notEnrichedCount(h, "no_span"))
				metadatatest.AssertEqualProcessorExemplarBucketsUnfilled(t, h.telemetry, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
			},
		},
		{
			name: "bucket_bounds",
			cfg:  func(c *Config) { c.Exemplars.DurationTolerance = 0 },
			steps: []step{
				{at: at(8 * time.Second), traces: tr(
					serverSpan(50, "shop", "/a", end, 50*time.Millisecond), // exactly on a bound: (.025, .05]
					serverSpan(51, "shop", "/a", end, 20*time.Second),      // +Inf bucket
				)},
				{at: at(11 * time.Second), metrics: ms(serverHist("shop", t0, at(10*time.Second), []uint64{0, 0, 0, 1, 1, 0, 0, 0, 1}))},
			},
			check: func(t *testing.T, _ *harness, outs []any) {
				md := outs[1].(pmetric.Metrics)
				assert.Equal(t, [][]uint64{{50, 51}}, exemplarIDs(md), "upper-inclusive: 0.05 fills (.025,.05], not (.05,.075]")
				assert.Equal(t, []float64{0.05, 20}, firstExemplarValues(md))
			},
		},
		{
			name: "duration_tolerance",
			steps: []step{
				// The request counted in (.025,.05] but its span lasted 0.3 ms
				// longer than the metric measured.
				{at: at(8 * time.Second), traces: tr(serverSpan(60, "shop", "/a", end, 50300*time.Microsecond))},
				{at: at(11 * time.Second), metrics: ms(serverHist("shop", t0, at(10*time.Second), []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0}))},
			},
			check: func(t *testing.T, _ *harness, outs []any) {
				md := outs[1].(pmetric.Metrics)
				assert.Equal(t, [][]uint64{{60}}, exemplarIDs(md))
				assert.Equal(t, []float64{0.05}, firstExemplarValues(md), "value clamped to the bucket's bound")
			},
		},
		{
			name: "invalid_points",
			steps: []step{
				{at: at(8 * time.Second), traces: tr(mid)},
				{at: at(11 * time.Second), metrics: func() pmetric.Metrics {
					md := pmetric.NewMetrics()
					for _, p := range []hist{
						func() hist { h := serverHist("shop", t0, at(10*time.Second), []uint64{0, 0, 1}); return h }(), // counts != bounds+1
						func() hist {
							h := serverHist("shop", t0, at(10*time.Second), []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0})
							h.bounds = []float64{0.005, 0.01, 0.05, 0.025, 0.075, 0.1, 0.25, 0.5}
							return h
						}(),
						serverHist("shop", t0, time.Unix(0, 0), []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0}),
					} {
						one := metricsOf(p)
						if p.time.UnixNano() == 0 {
							one.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Histogram().DataPoints().At(0).SetTimestamp(0)
						}
						one.ResourceMetrics().MoveAndAppendTo(md.ResourceMetrics())
					}
					return md
				}},
			},
			check: func(t *testing.T, h *harness, outs []any) {
				assert.Equal(t, [][]uint64{{}, {}, {}}, exemplarIDs(outs[1].(pmetric.Metrics)), "passed on untouched (the golden file holds them)")
				assert.Equal(t, int64(3), notEnrichedCount(h, "invalid_point"))
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) { runGolden(t, tc) })
	}
}

func cumulative(h hist) hist {
	h.cumulative = true
	return h
}

// valueSpan is an INTERNAL span of service shop carrying cart.delta.
func valueSpan(id uint64, end time.Time, v float64) span {
	return span{
		id: id, service: "shop", kind: ptrace.SpanKindInternal, name: "update cart", start: end.Add(-time.Millisecond), end: end,
		attrs: map[string]any{"cart.delta": v},
	}
}

// Everything about a point except its exemplars leaves exactly as it came.
func TestPointsUnchangedExceptExemplars(t *testing.T) {
	h := newHarness(t, createDefaultConfig())
	h.consumeTraces(t, tracesOf(serverSpan(1, "shop", "/a", t0.Add(5*time.Second), 30*time.Millisecond)))
	in := metricsOf(serverHist("shop", t0, t0.Add(10*time.Second), []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0}))
	dp := in.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Histogram().DataPoints().At(0)
	dp.SetMin(0.03)
	dp.SetMax(0.03)
	dp.SetFlags(pmetric.DefaultDataPointFlags)
	want := protoBytes(t, in)
	h.clock.Set(t0.Add(11 * time.Second))
	out := h.consumeMetrics(t, in)
	require.Equal(t, 1, exemplarsOf(out).Len())
	exemplarsOf(out).RemoveIf(func(pmetric.Exemplar) bool { return true })
	assert.Equal(t, want, protoBytes(t, out))
}

// A NaN bound makes a point invalid: it passes on bit for bit (NaN included)
// and is counted.
func TestNaNBoundPassesUntouched(t *testing.T) {
	h := newHarness(t, createDefaultConfig())
	h.consumeTraces(t, tracesOf(serverSpan(1, "shop", "/a", t0.Add(5*time.Second), 30*time.Millisecond)))
	p := serverHist("shop", t0, t0.Add(10*time.Second), []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0})
	p.bounds = append([]float64{}, p.bounds...)
	p.bounds[2] = math.NaN()
	in := metricsOf(p)
	want := protoBytes(t, in)
	out := h.consumeMetrics(t, in)
	assert.Equal(t, want, protoBytes(t, out))
	assert.Equal(t, int64(1), notEnrichedCount(h, "invalid_point"))
}

func protoBytes(t *testing.T, md pmetric.Metrics) []byte {
	t.Helper()
	b, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	require.NoError(t, err)
	return b
}

func TestGaugesAndSumsCountedNoRule(t *testing.T) {
	h := newHarness(t, createDefaultConfig())
	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	g := ms.AppendEmpty()
	g.SetName("queue.size")
	g.SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(3)
	s := ms.AppendEmpty()
	s.SetName("requests")
	s.SetEmptySum().DataPoints().AppendEmpty().SetIntValue(3)
	want := protoBytes(t, md)
	out := h.consumeMetrics(t, md)
	assert.Equal(t, want, protoBytes(t, out))
	assert.Equal(t, int64(2), notEnrichedCount(h, "no_rule"))
}

func TestUnknownUnitPassesUntouched(t *testing.T) {
	h := newHarness(t, createDefaultConfig())
	h.consumeTraces(t, tracesOf(serverSpan(1, "shop", "/a", t0.Add(5*time.Second), 30*time.Millisecond)))
	p := serverHist("shop", t0, t0.Add(10*time.Second), []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0})
	p.unit = "{request}"
	out := h.consumeMetrics(t, metricsOf(p))
	assert.Equal(t, 0, exemplarsOf(out).Len())
	assert.Equal(t, int64(1), notEnrichedCount(h, "unit"))
}

func TestMaxPerDataPointFillsSlowestFirst(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Exemplars.MaxPerDataPoint = 2
	h := newHarness(t, cfg)
	end := t0.Add(5 * time.Second)
	h.consumeTraces(t, tracesOf(
		serverSpan(1, "shop", "/a", end, 3*time.Millisecond),
		serverSpan(2, "shop", "/a", end, 30*time.Millisecond),
		serverSpan(3, "shop", "/a", end, 400*time.Millisecond),
	))
	out := h.consumeMetrics(t, metricsOf(serverHist("shop", t0, t0.Add(10*time.Second), []uint64{1, 0, 0, 1, 0, 0, 0, 1, 0})))
	assert.Equal(t, [][]uint64{{2, 3}}, exemplarIDs(out))
}

func TestFilteredAttributesWithinPrometheusBudget(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Exemplars.FilteredAttributes = []string{"http.route", "user.note", "tenant"}
	h := newHarness(t, cfg)
	s := serverSpan(1, "shop", "/a", t0.Add(5*time.Second), 30*time.Millisecond)
	s.attrs["user.note"] = "this value is far too long to fit in what is left of the 128 rune label budget of prometheus"
	s.attrs["tenant"] = "acme"
	h.consumeTraces(t, tracesOf(s))
	out := h.consumeMetrics(t, metricsOf(serverHist("shop", t0, t0.Add(10*time.Second), []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0})))
	attrs := exemplarsOf(out).At(0).FilteredAttributes().AsRaw()
	assert.Equal(t, map[string]any{"http.route": "/a", "tenant": "acme"}, attrs, "the long attribute would break the 128-rune budget")
}

// One request is the exemplar of at most one bucket of a point, also when
// the tolerance lets it stand in for a neighbour.
func TestSpanServesOneBucket(t *testing.T) {
	end := t0.Add(5 * time.Second)
	for _, tc := range []struct {
		d      time.Duration
		counts []uint64
	}{
		// Within 2 ms of a bound, both buckets around it grew, only one
		// span exists. Buckets are searched slowest first, so either the
		// span's own bucket or its neighbour comes first; at 5 ms the
		// neighbour's search reaches the span only through the tolerance.
		{50300 * time.Microsecond, []uint64{0, 0, 0, 1, 1, 0, 0, 0, 0}},
		{49800 * time.Microsecond, []uint64{0, 0, 0, 1, 1, 0, 0, 0, 0}},
		{4100 * time.Microsecond, []uint64{1, 1, 0, 0, 0, 0, 0, 0, 0}},
	} {
		d := tc.d
		t.Run(d.String(), func(t *testing.T) {
			h := newHarness(t, createDefaultConfig())
			h.consumeTraces(t, tracesOf(serverSpan(1, "shop", "/a", end, d)))
			h.clock.Set(t0.Add(11 * time.Second))
			out := h.consumeMetrics(t, metricsOf(serverHist("shop", t0, t0.Add(10*time.Second), tc.counts)))
			assert.Equal(t, [][]uint64{{1}}, exemplarIDs(out), "the span serves one bucket")
			assert.Equal(t, []float64{d.Seconds()}, firstExemplarValues(out), "its own, unclamped")
		})
	}
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor

import (
	"encoding/hex"
	"strings"
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

// withIDs is a point of the trace_id-as-label workaround: one observation
// of a request, labelled with its span's IDs.
func withIDs(p hist, id uint64, upper bool) hist {
	attrs := map[string]any{}
	for k, v := range p.attrs {
		attrs[k] = v
	}
	tid, sid := traceID(id), spanID(id)
	t, s := hex.EncodeToString(tid[:]), hex.EncodeToString(sid[:])
	if upper {
		t, s = strings.ToUpper(t), strings.ToUpper(s)
	}
	attrs["trace_id"], attrs["span_id"] = t, s
	p.attrs = attrs
	return p
}

// workaroundPoints builds one metric with several points, the way an SDK
// exports a histogram whose attributes include trace_id.
func workaroundPoints(cumulativeTemp bool, points ...hist) func() pmetric.Metrics {
	return func() pmetric.Metrics {
		md := metricsOf(points[0])
		m := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0)
		if cumulativeTemp {
			m.Histogram().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		}
		for _, p := range points[1:] {
			one := metricsOf(p)
			one.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Histogram().DataPoints().MoveAndAppendTo(m.Histogram().DataPoints())
		}
		return md
	}
}

func sumOf(p hist, v float64) hist {
	p.sum = v
	return p
}

func TestGoldenExactJoin(t *testing.T) {
	at := t0.Add
	tr := func(spans ...span) func() ptrace.Traces { return func() ptrace.Traces { return tracesOf(spans...) } }
	end := at(5 * time.Second)
	// Spans 1 and 2 have the same route and bucket; the point names span 1.
	one := serverSpan(1, "shop", "/a", end, 30*time.Millisecond)
	two := serverSpan(2, "shop", "/a", end.Add(time.Second), 31*time.Millisecond)
	three := serverSpan(3, "shop", "/a", end, 300*time.Millisecond)
	single := func(bucket int) []uint64 {
		c := make([]uint64, 9)
		c[bucket] = 1
		return c
	}
	mergeOn := func(c *Config) { c.ExactJoin.RemoveAttributes = true }

	for _, tc := range []goldenCase{
		{
			name: "exact_join",
			steps: []step{
				{at: at(8 * time.Second), traces: tr(one, two)},
				{at: at(11 * time.Second), metrics: workaroundPoints(false,
					sumOf(withIDs(serverHist("shop", t0, at(10*time.Second), single(3)), 1, true), 0.03),
				)},
			},
			check: func(t *testing.T, h *harness, outs []any) {
				md := outs[1].(pmetric.Metrics)
				assert.Equal(t, [][]uint64{{1}}, exemplarIDs(md), "the named span, not the newer span 2; upper-case hex is fine")
				assert.Equal(t, []float64{0.03}, firstExemplarValues(md), "the observation the point counted")
				_, kept := pointAttrs(md, 0).Get("trace_id")
				assert.True(t, kept, "attributes stay without remove_attributes")
				metadatatest.AssertEqualProcessorExemplarExemplarsAttached(t, h.telemetry, []metricdata.DataPoint[int64]{
					{Value: 1, Attributes: attrSet("join", "exact")},
				}, metricdatatest.IgnoreTimestamp())
			},
		},
		{
			name: "exact_join_bad_hex",
			steps: []step{
				{at: at(8 * time.Second), traces: tr(one)},
				{at: at(11 * time.Second), metrics: func() pmetric.Metrics {
					p := withIDs(serverHist("shop", t0, at(10*time.Second), single(3)), 1, false)
					p.attrs["trace_id"] = "not-hex"
					p.attrs["http.route"] = "/other"
					return metricsOf(p)
				}},
			},
			check: func(t *testing.T, h *harness, outs []any) {
				assert.Equal(t, [][]uint64{{}}, exemplarIDs(outs[1].(pmetric.Metrics)), "counted, not fatal; the point passes")
				metadatatest.AssertEqualProcessorExemplarExactJoin(t, h.telemetry, []metricdata.DataPoint[int64]{
					{Value: 1, Attributes: attrSet("outcome", "invalid_id")},
				}, metricdatatest.IgnoreTimestamp())
			},
		},
		{
			name: "merge_delta",
			cfg:  mergeOn,
			steps: []step{
				{at: at(8 * time.Second), traces: tr(one, two, three)},
				{at: at(11 * time.Second), metrics: workaroundPoints(false,
					sumOf(withIDs(serverHist("shop", t0, at(10*time.Second), single(3)), 1, false), 0.03),
					sumOf(withIDs(serverHist("shop", t0, at(10*time.Second), single(3)), 2, false), 0.031),
					sumOf(withIDs(serverHist("shop", t0, at(10*time.Second), single(7)), 3, false), 0.3),
				)},
			},
			check: func(t *testing.T, h *harness, outs []any) {
				md := outs[1].(pmetric.Metrics)
				dps := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Histogram().DataPoints()
				require.Equal(t, 1, dps.Len(), "three streams became one")
				dp := dps.At(0)
				assert.Equal(t, []uint64{0, 0, 0, 2, 0, 0, 0, 1, 0}, dp.BucketCounts().AsRaw())
				assert.Equal(t, uint64(3), dp.Count())
				assert.InDelta(t, 0.361, dp.Sum(), 1e-12)
				_, hasID := dp.Attributes().Get("trace_id")
				assert.False(t, hasID)
				assert.Equal(t, [][]uint64{{2, 3}}, exemplarIDs(md), "one exact exemplar per bucket, the newest")
				metadatatest.AssertEqualProcessorExemplarDatapointsMerged(t, h.telemetry, []metricdata.DataPoint[int64]{
					{Value: 2, Attributes: attrSet("outcome", "merged")},
				}, metricdatatest.IgnoreTimestamp())
			},
		},
		{
			name: "merge_cumulative",
			cfg:  mergeOn,
			steps: []step{
				{at: at(8 * time.Second), traces: tr(one, three)},
				{at: at(11 * time.Second), metrics: workaroundPoints(true,
					sumOf(withIDs(serverHist("shop", t0, at(10*time.Second), single(3)), 1, false), 0.03),
					sumOf(withIDs(serverHist("shop", t0, at(10*time.Second), single(7)), 3, false), 0.3),
				)},
				// The SDK keeps exporting old streams; one new request.
				{at: at(18 * time.Second), traces: tr(serverSpan(4, "shop", "/a", at(15*time.Second), 40*time.Millisecond))},
				{at: at(21 * time.Second), metrics: workaroundPoints(true,
					sumOf(withIDs(serverHist("shop", t0, at(20*time.Second), single(3)), 1, false), 0.03),
					sumOf(withIDs(serverHist("shop", t0, at(20*time.Second), single(7)), 3, false), 0.3),
					sumOf(withIDs(serverHist("shop", at(12*time.Second), at(20*time.Second), single(3)), 4, false), 0.04),
				)},
			},
			check: func(t *testing.T, _ *harness, outs []any) {
				first, second := outs[1].(pmetric.Metrics), outs[3].(pmetric.Metrics)
				assert.Equal(t, [][]uint64{{1, 3}}, exemplarIDs(first))
				dp := second.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Histogram().DataPoints().At(0)
				assert.Equal(t, []uint64{0, 0, 0, 2, 0, 0, 0, 1, 0}, dp.BucketCounts().AsRaw())
				assert.Equal(t, pcommon.NewTimestampFromTime(t0), dp.StartTimestamp(), "earliest start")
				assert.Equal(t, [][]uint64{{4}}, exemplarIDs(second), "only the bucket that grew, by the new request")
			},
		},
		{
			name: "merge_bounds_differ",
			cfg:  mergeOn,
			steps: []step{
				{at: at(8 * time.Second), traces: tr(one, two)},
				{at: at(11 * time.Second), metrics: workaroundPoints(false,
					sumOf(withIDs(serverHist("shop", t0, at(10*time.Second), single(3)), 1, false), 0.03),
					func() hist {
						p := sumOf(withIDs(serverHist("shop", t0, at(10*time.Second), []uint64{0, 1, 0}), 2, false), 0.031)
						p.bounds = []float64{0.01, 0.1}
						return p
					}(),
				)},
			},
			check: func(t *testing.T, h *harness, outs []any) {
				md := outs[1].(pmetric.Metrics)
				dps := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Histogram().DataPoints()
				require.Equal(t, 2, dps.Len(), "never merged")
				_, hasID := dps.At(1).Attributes().Get("trace_id")
				assert.True(t, hasID, "the odd point passes as it came")
				metadatatest.AssertEqualProcessorExemplarDatapointsMerged(t, h.telemetry, []metricdata.DataPoint[int64]{
					{Value: 1, Attributes: attrSet("outcome", "bounds_differ")},
				}, metricdatatest.IgnoreTimestamp())
			},
		},
		{
			name: "merge_exponential",
			cfg:  mergeOn,
			steps: []step{
				{at: at(8 * time.Second), traces: tr(
					serverSpan(5, "shop", "/a", end, 3*time.Second),
					serverSpan(6, "shop", "/a", end, 5*time.Second),
				)},
				{at: at(11 * time.Second), metrics: func() pmetric.Metrics {
					// 3 s at scale 1 is index 3 ((2.83, 4]); 5 s at scale 0
					// is index 2 ((4, 8]), i.e. index 2 after downscaling 3.
					a := expMetricsOf(expHist{
						service: "shop", metric: "http.server.request.duration", unit: "s", start: t0, time: at(10 * time.Second),
						scale: 1, posOffset: 3, pos: []uint64{1}, attrs: map[string]any{"http.route": "/a", "trace_id": hex.EncodeToString(traceIDBytes(5)), "span_id": hex.EncodeToString(spanIDBytes(5))},
					})
					b := expMetricsOf(expHist{
						service: "shop", metric: "http.server.request.duration", unit: "s", start: t0, time: at(10 * time.Second),
						scale: 0, posOffset: 2, pos: []uint64{1}, attrs: map[string]any{"http.route": "/a", "trace_id": hex.EncodeToString(traceIDBytes(6)), "span_id": hex.EncodeToString(spanIDBytes(6))},
					})
					b.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).ExponentialHistogram().DataPoints().MoveAndAppendTo(
						a.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).ExponentialHistogram().DataPoints())
					return a
				}},
			},
			check: func(t *testing.T, _ *harness, outs []any) {
				md := outs[1].(pmetric.Metrics)
				dps := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).ExponentialHistogram().DataPoints()
				require.Equal(t, 1, dps.Len())
				dp := dps.At(0)
				assert.Equal(t, int32(0), dp.Scale(), "downscaled to the smaller scale")
				assert.Equal(t, int32(1), dp.Positive().Offset())
				assert.Equal(t, []uint64{1, 1}, dp.Positive().BucketCounts().AsRaw())
				assert.ElementsMatch(t, []uint64{5, 6}, exemplarIDs(md)[0])
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) { runGolden(t, tc) })
	}
}

func traceIDBytes(n uint64) []byte { id := traceID(n); return id[:] }
func spanIDBytes(n uint64) []byte  { id := spanID(n); return id[:] }

func pointAttrs(md pmetric.Metrics, i int) pcommon.Map {
	return md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Histogram().DataPoints().At(i).Attributes()
}

func TestGoldenDangling(t *testing.T) {
	at := t0.Add
	// The SDK's exemplar names span 99, which never reached the collector
	// (dropped by tail sampling, say); span 2 did.
	seen := serverSpan(2, "shop", "/a", at(40*time.Second), 30*time.Millisecond)
	withDangling := func() pmetric.Metrics {
		md := metricsOf(serverHist("shop", t0, at(70*time.Second), []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0}))
		addExemplar(md, 99, at(20*time.Second), 0.04)
		return md
	}
	for _, tc := range []struct {
		policy string
		want   []uint64
	}{
		{DanglingKeep, []uint64{99}},
		{DanglingDrop, []uint64{2}},
		{DanglingReplace, []uint64{2}},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			runGolden(t, goldenCase{
				name: "dangling_" + tc.policy,
				cfg:  func(c *Config) { c.Exemplars.Dangling = tc.policy },
				steps: []step{
					{at: at(45 * time.Second), traces: func() ptrace.Traces { return tracesOf(seen) }},
					{at: at(71 * time.Second), metrics: withDangling},
				},
				check: func(t *testing.T, h *harness, outs []any) {
					assert.Equal(t, [][]uint64{tc.want}, exemplarIDs(outs[1].(pmetric.Metrics)))
					outcome := map[string]string{DanglingKeep: "kept", DanglingDrop: "dropped", DanglingReplace: "replaced"}[tc.policy]
					metadatatest.AssertEqualProcessorExemplarExemplarsDangling(t, h.telemetry, []metricdata.DataPoint[int64]{
						{Value: 1, Attributes: attrSet("outcome", outcome)},
					}, metricdatatest.IgnoreTimestamp())
				},
			})
		})
	}
}

// With replace and no span to take its place the dangling exemplar stays.
func TestDanglingReplaceKeepsWithoutReplacement(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Exemplars.Dangling = DanglingReplace
	h := newHarness(t, cfg)
	md := metricsOf(serverHist("shop", t0, t0.Add(70*time.Second), []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0}))
	addExemplar(md, 99, t0.Add(20*time.Second), 0.04)
	h.clock.Set(t0.Add(71 * time.Second))
	out := h.consumeMetrics(t, md)
	assert.Equal(t, [][]uint64{{99}}, exemplarIDs(out))
}

// An exemplar younger than the grace period is not judged: its span may
// still be on its way.
func TestDanglingGrace(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Exemplars.Dangling = DanglingDrop
	h := newHarness(t, cfg)
	md := metricsOf(serverHist("shop", t0, t0.Add(10*time.Second), []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0}))
	addExemplar(md, 99, t0.Add(9*time.Second), 0.04)
	h.clock.Set(t0.Add(11 * time.Second))
	assert.Equal(t, [][]uint64{{99}}, exemplarIDs(h.consumeMetrics(t, md)))
}

// Spans reach the collector seconds after the metric export that counted
// them (batch span processor delay). The cumulative path recovers them on
// the following point.
func TestLateSpansRecoveredOnNextCumulativePoint(t *testing.T) {
	h := newHarness(t, createDefaultConfig())
	T1, T2 := t0.Add(10*time.Second), t0.Add(20*time.Second)

	// Point 1 counts a request that ended at T1-1s; its span is not there yet.
	h.clock.Set(T1.Add(100 * time.Millisecond))
	out := h.consumeMetrics(t, metricsOf(cumulative(serverHist("shop", t0, T1, []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0}))))
	assert.Equal(t, [][]uint64{{}}, exemplarIDs(out))

	// The span arrives 5 s late.
	h.clock.Set(T1.Add(5 * time.Second))
	h.consumeTraces(t, tracesOf(serverSpan(1, "shop", "/a", T1.Add(-time.Second), 30*time.Millisecond)))

	// Point 2: nothing new in that bucket, but it is owed the late span.
	h.clock.Set(T2.Add(100 * time.Millisecond))
	out = h.consumeMetrics(t, metricsOf(cumulative(serverHist("shop", t0, T2, []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0}))))
	assert.Equal(t, [][]uint64{{1}}, exemplarIDs(out))
	assert.Equal(t, pcommon.NewTimestampFromTime(T1.Add(-time.Second)), exemplarsOf(out).At(0).Timestamp())
}

// A cumulative trace_id stream is exported again and again unchanged: the
// first point gets its exemplar from the measured value; the re-exports need
// nothing and count no unknown value.
func TestExactJoinUnchangedReexports(t *testing.T) {
	h := newHarness(t, createDefaultConfig())
	h.consumeTraces(t, tracesOf(serverSpan(1, "shop", "/a", t0.Add(5*time.Second), 30*time.Millisecond)))
	p := sumOf(withIDs(serverHist("shop", t0, t0.Add(10*time.Second), []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0}), 1, false), 0.0301)
	p.metric = "checkout.duration" // no rule: the value can only come from the point
	p.cumulative = true
	var attached []int
	for i := range 3 {
		p.time = t0.Add(time.Duration(10*(i+1)) * time.Second)
		h.clock.Set(p.time.Add(time.Second))
		attached = append(attached, exemplarsOf(h.consumeMetrics(t, metricsOf(p))).Len())
	}
	assert.Equal(t, []int{1, 0, 0}, attached)
	assert.Equal(t, int64(3), exactOutcomeCount(h, "joined"))
	assert.Zero(t, exactOutcomeCount(h, "value_unknown"))
}

func exactOutcomeCount(h *harness, outcome string) int64 {
	return counter(h, "otelcol_processor_exemplar_exact_join", "outcome", outcome)
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"
	"github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"
)

// TestGroundTruthReplayAtTheEdges judges, with the ground-truth judge,
// what the processor attaches to synthetic traffic placed where the rules
// are subtle, which real requests reach only now and then: durations within
// a few milliseconds of a bound, requests the metric counts in the bucket
// below their span's, spans that end just after the point that counted them
// (delivered before or after it), and spans delivered one or two points
// late. No exemplar may be invalid; coverage of the matchable buckets is
// held to gtEdgeMinCoverage over all runs; and the traffic must have
// exercised stand-ins, straddles (also of owed buckets) and late spans
// (also on owed buckets).
func TestGroundTruthReplayAtTheEdges(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if env := os.Getenv("EXEMPLAR_GROUNDTRUTH_SEED"); env != "" {
		var err error
		seed, err = strconv.ParseUint(env, 10, 64)
		require.NoError(t, err)
	}
	t.Logf("EXEMPLAR_GROUNDTRUTH_SEED=%d", seed)
	total := &groundtruth.MetricReport{Metric: "total"}
	for run := range uint64(20) {
		for _, delta := range []bool{false, true} {
			name := fmt.Sprintf("seed=%d/delta=%t", seed+run, delta)
			rep, misplaced := gtEdgeRun(t, gtEdgeTraffic(seed+run, delta))
			assertValid(t, name, rep)
			for _, m := range rep.Metrics() {
				total.Add(m)
				for _, u := range m.Uncovered {
					t.Logf("%s: matchable, not covered: %s", name, u)
				}
			}
			if run == 0 {
				t.Logf("%s: stand-ins whose request the metric counted in another bucket: %s", name, misplaced)
			}
		}
	}
	t.Logf("%d exemplars (%d invalid): %d stand-ins, %d straddling a point (%d of them on owed buckets), %d from late spans, %d on owed buckets; coverage %.4f (%d of %d matchable, %d grown; not matchable: %v)",
		total.Attached, total.Invalid, total.StandIns, total.Straddles, total.OwedStraddles, total.Late, total.Owed,
		total.Coverage(), total.Covered, total.Matchable, total.Grown, total.Unmatchable)
	assert.GreaterOrEqual(t, total.Coverage(), gtEdgeMinCoverage, "%d of %d matchable grown buckets covered", total.Covered, total.Matchable)
	for what, n := range map[string]int{
		"standing in": total.StandIns, "straddling": total.Straddles, "straddling on owed buckets": total.OwedStraddles,
		"late": total.Late, "on owed buckets": total.Owed,
	} {
		assert.Positive(t, n, "no exemplar %s: the traffic did not reach that rule", what)
	}
}

// gtEdgeMinCoverage is the share of matchable buckets the edge traffic
// must cover over all its runs.
const gtEdgeMinCoverage = 0.94

// gtEdgeWorkload is synthetic traffic of one stream: per tick, the spans
// delivered before its metrics (on time, then late ones) and the point.
type gtEdgeWorkload struct {
	delta   bool
	batches [][2]ptrace.Traces // per tick: fresh, then late spans
	points  []pmetric.Metrics
	// measured is the value the metric counted for each span's request.
	measured map[pcommon.SpanID]float64
}

// gtEdgeBounds are the semantic conventions' default buckets (s).
var gtEdgeBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

func gtEdgeTraffic(seed uint64, delta bool) gtEdgeWorkload {
	const ticks, perTick = 10, 10
	rng := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	ms := func(lo, hi float64) time.Duration {
		return time.Duration((lo + rng.Float64()*(hi-lo)) * float64(time.Millisecond))
	}
	// Point k's time; point times are in the past, as spans and metrics
	// reach a collector.
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	at := func(k int) time.Time { return base.Add(time.Duration(k+1) * time.Second) }

	type req struct {
		id        uint64
		end       time.Time
		dur       time.Duration
		counted   int // the point whose interval counted it
		deliverAt int // the tick before whose metrics the span arrives
		measured  float64
	}
	var reqs []req
	for k := range ticks - 2 {
		for range perTick {
			r := req{id: uint64(len(reqs) + 1), counted: k}
			bound := time.Duration(gtEdgeBounds[rng.IntN(8)] * float64(time.Second))
			r.dur = bound + ms(-3, 3)
			// Measured a little before the span ended: sometimes by enough
			// to count it in the bucket below its span's.
			measured := r.dur - ms(0, 0.3)
			if rng.IntN(3) == 0 {
				measured = r.dur - ms(0, 2.5)
			}
			r.measured = measured.Seconds()
			// Counted within the interval, the span ending up to 3 ms
			// later: after the point, often, when counted just before it.
			countedAt := at(k - 1).Add(ms(1, 999))
			if rng.IntN(4) == 0 {
				countedAt = at(k).Add(-ms(0, 1.5))
			}
			r.end = countedAt.Add(ms(0, 3))
			// Most reach the collector before the metric export that
			// counted them; a span that ended after the point, less often.
			r.deliverAt = k
			if straddles := r.end.After(at(k)); (straddles && rng.IntN(3) != 0) || (!straddles && rng.IntN(4) == 0) {
				r.deliverAt = k + 1
			}
			if rng.IntN(4) == 0 {
				r.deliverAt += 1 + rng.IntN(2) // late
			}
			reqs = append(reqs, r)
		}
	}

	w := gtEdgeWorkload{delta: delta, measured: map[pcommon.SpanID]float64{}}
	counts := make([]uint64, len(gtEdgeBounds)+1)
	for k := range ticks {
		if delta {
			clear(counts)
		}
		fresh, late := ptrace.NewTraces(), ptrace.NewTraces()
		for _, r := range reqs {
			if r.counted == k {
				counts[groundtruth.ExplicitLayout(gtEdgeBounds).Of(r.measured)]++
			}
			if r.deliverAt != k {
				continue
			}
			td := fresh
			if k > 0 && !r.end.After(at(k-1)) {
				td = late
			}
			gtEdgeSpan(td, r.id, r.end, r.dur)
			var sid pcommon.SpanID
			binary.BigEndian.PutUint64(sid[:], r.id)
			w.measured[sid] = r.measured
		}
		start := base.Add(-time.Minute)
		if delta && k > 0 {
			start = at(k - 1)
		} else if delta {
			start = base
		}
		w.batches = append(w.batches, [2]ptrace.Traces{fresh, late})
		w.points = append(w.points, gtEdgePoint(delta, start, at(k), counts))
	}
	return w
}

func gtEdgeResource(res pcommon.Map) {
	res.PutStr("service.namespace", "groundtruth")
	res.PutStr("service.name", "edge")
	res.PutStr("service.instance.id", "edge-1")
}

func gtEdgeAttributes(attrs pcommon.Map) {
	attrs.PutStr("http.request.method", "GET")
	attrs.PutStr("http.route", "/a")
	attrs.PutInt("http.response.status_code", 200)
}

func gtEdgeSpan(td ptrace.Traces, id uint64, end time.Time, d time.Duration) {
	if td.ResourceSpans().Len() == 0 {
		gtEdgeResource(td.ResourceSpans().AppendEmpty().Resource().Attributes())
		td.ResourceSpans().At(0).ScopeSpans().AppendEmpty()
	}
	sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().AppendEmpty()
	var tid pcommon.TraceID
	var sid pcommon.SpanID
	binary.BigEndian.PutUint64(tid[8:], id)
	binary.BigEndian.PutUint64(sid[:], id)
	sp.SetTraceID(tid)
	sp.SetSpanID(sid)
	sp.SetName("GET /a")
	sp.SetKind(ptrace.SpanKindServer)
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(end.Add(-d)))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
	gtEdgeAttributes(sp.Attributes())
}

func gtEdgePoint(delta bool, start, at time.Time, counts []uint64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	gtEdgeResource(rm.Resource().Attributes())
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(gtServerMetric)
	m.SetUnit("s")
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	if delta {
		h.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	}
	dp := h.DataPoints().AppendEmpty()
	gtEdgeAttributes(dp.Attributes())
	dp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	dp.SetTimestamp(pcommon.NewTimestampFromTime(at))
	dp.ExplicitBounds().FromRaw(gtEdgeBounds)
	dp.BucketCounts().FromRaw(counts)
	var n uint64
	for _, c := range counts {
		n += c
	}
	dp.SetCount(n)
	return md
}

// gtEdgeRun sends w through a processor and judges what it attached; it
// also says how many stand-ins the metric counted in another bucket.
func gtEdgeRun(t *testing.T, w gtEdgeWorkload) (*groundtruth.Report, string) {
	t.Helper()
	ctx := context.Background()
	f := exemplarprocessor.NewFactory()
	set := processortest.NewNopSettings(f.Type())
	tracesSink, metricsSink := &consumertest.TracesSink{}, &consumertest.MetricsSink{}
	tp, err := f.CreateTraces(ctx, set, gtConfig(), tracesSink)
	require.NoError(t, err)
	mp, err := f.CreateMetrics(ctx, set, gtConfig(), metricsSink)
	require.NoError(t, err)
	require.NoError(t, tp.Start(ctx, componenttest.NewNopHost()))
	require.NoError(t, mp.Start(ctx, componenttest.NewNopHost()))
	defer func() {
		assert.NoError(t, tp.Shutdown(ctx))
		assert.NoError(t, mp.Shutdown(ctx))
	}()
	spans := groundtruth.NewSpans()
	in := make([]pmetric.Metrics, 0, len(w.points))
	for k, md := range w.points {
		for _, td := range w.batches[k] {
			if td.SpanCount() == 0 {
				continue
			}
			spans.Add(td, k)
			require.NoError(t, tp.ConsumeTraces(ctx, td))
		}
		clone := pmetric.NewMetrics()
		md.CopyTo(clone)
		in = append(in, clone)
		require.NoError(t, mp.ConsumeMetrics(ctx, md))
	}
	for id, v := range w.measured {
		sp := spans.First(id)
		sp.Measured, sp.HasMeasured = v, true
	}
	out := metricsSink.AllMetrics()
	require.Len(t, out, len(in))
	outStreams := groundtruth.StreamsOf(out)
	rep := groundtruth.NewJudge(spans, groundtruth.StreamsOf(in), outStreams, groundtruth.DefaultSkews()).Run()
	return rep, gtMisplaced(spans, outStreams)
}

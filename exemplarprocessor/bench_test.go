// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor

import (
	"context"
	"encoding/hex"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-exemplar/otelcol-exemplar/internal/benchdata"
)

const (
	benchIndex    = 1_000_000
	scopesPerReq  = 10
	spansPerScope = 100
)

func benchHarness(b *testing.B, maxSpans int) *harness {
	cfg := createDefaultConfig()
	cfg.Index.MaxSpans = maxSpans
	cfg.Index.TTL = time.Hour
	cfg.Duplicates.Window = time.Hour
	return newHarness(b, cfg)
}

// fill indexes n spans of service 0 ending in the minute before now.
func fill(b *testing.B, h *harness, rng *rand.Rand, n int, now time.Time, idBase uint64) uint64 {
	const per = 10_000
	for done := 0; done < n; done += per {
		td := benchdata.Traces(rng, 1, 1, min(per, n-done), now, time.Minute, idBase)
		idBase += uint64(per)
		if _, err := h.traces.process(context.Background(), td); err != nil {
			b.Fatal(err)
		}
	}
	return idBase
}

// BenchmarkTraces measures the traces path in steady state: batches of 10
// scopes × 100 spans with 8 attributes each into an index holding 1M spans,
// so every insert also evicts.
func BenchmarkTraces(b *testing.B) {
	h := benchHarness(b, benchIndex)
	rng := rand.New(rand.NewPCG(1, 2))
	next := fill(b, h, rng, benchIndex, t0, 0)
	td := benchdata.Traces(rng, 1, scopesPerReq, spansPerScope, t0, time.Minute, 0)
	spans := td.SpanCount()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		next = benchdata.Renumber(td, next)
		b.StartTimer()
		if _, err := h.traces.process(context.Background(), td); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(perOp/float64(spans), "ns/span")
	if h.core.index.Stats().Spans != benchIndex {
		b.Fatalf("index holds %d spans", h.core.index.Stats().Spans)
	}
}

// BenchmarkIndexMemory reports the heap held per indexed span: the live heap
// after indexing 1M spans (join groups included) minus the live heap before,
// divided by 1M.
func BenchmarkIndexMemory(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	batches := make([]ptrace.Traces, benchIndex/10_000)
	for i := range batches {
		batches[i] = benchdata.Traces(rng, 1, 1, 10_000, t0, time.Minute, uint64(i*10_000))
	}
	var perSpan float64
	for i := 0; i < b.N; i++ {
		h := benchHarness(b, benchIndex)
		grown := heapGrowth(func() {
			for _, td := range batches {
				if _, err := h.traces.process(context.Background(), td); err != nil {
					b.Fatal(err)
				}
			}
		})
		if n := h.core.index.Stats().Spans; n != benchIndex {
			b.Fatalf("indexed %d spans", n)
		}
		perSpan = grown / benchIndex
		runtime.KeepAlive(h)
	}
	b.ReportMetric(perSpan, "B/span")
}

// BenchmarkMetrics measures the metrics path in steady state: every second
// of simulated time 1000 new spans of one service arrive (index: 100k spans
// of that service), then 40 cumulative streams (route x status) export points
// whose counts grew by exactly those spans, as the SDK that produced both
// would. Reported per data point, with the share of grown buckets filled.
func BenchmarkMetrics(b *testing.B) {
	const indexed, spansPerSecond = 100_000, 1000
	h := benchHarness(b, indexed)
	rng := rand.New(rand.NewPCG(5, 6))
	now := t0.Add(time.Hour)
	next := uint64(0)
	counts := make([][]uint64, len(benchdata.Routes)*5)
	for i := range counts {
		counts[i] = make([]uint64, len(benchdata.Bounds)+1)
	}
	second := func() {
		now = now.Add(time.Second)
		h.clock.Set(now)
		td := benchdata.Traces(rng, 1, 1, spansPerSecond, now, time.Second, next)
		next += spansPerSecond
		countSpans(td, counts)
		if _, err := h.traces.process(context.Background(), td); err != nil {
			b.Fatal(err)
		}
	}
	start := now
	md := benchdata.HistogramStreams(start, now, func(i int) []uint64 { return counts[i] })
	for range indexed / spansPerSecond {
		second()
		refresh(md, now, counts)
		if _, err := h.metrics.process(context.Background(), md); err != nil {
			b.Fatal(err)
		}
	}
	attached0, unfilled0 := metricsCounters(b, h)
	points := md.DataPointCount()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		second()
		refresh(md, now, counts)
		b.StartTimer()
		if _, err := h.metrics.process(context.Background(), md); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(points), "ns/point")
	attached, unfilled := metricsCounters(b, h)
	attached, unfilled = attached-attached0, unfilled-unfilled0
	if attached+unfilled > 0 {
		b.ReportMetric(float64(attached)/float64(attached+unfilled), "filled/grown")
	}
}

// BenchmarkMetricsFirstPoint measures the first point of a cumulative
// stream under 100k indexed spans of the service, where deciding whether
// spans may stand in for neighbouring buckets means knowing whether the
// processor saw every request the point counts. "restarted": a gateway
// restarted, every point counts far more requests than it holds spans.
// "seen-whole": the processor saw the stream's whole life (about 2,500
// requests per stream), the worst case, as it reads them all. Once per
// stream.
func BenchmarkMetricsFirstPoint(b *testing.B) {
	for _, bc := range []struct {
		name  string
		scale uint64
	}{{"restarted", 1000}, {"seen-whole", 1}} {
		b.Run(bc.name, func(b *testing.B) { benchFirstPoint(b, bc.scale) })
	}
}

func benchFirstPoint(b *testing.B, scale uint64) {
	const indexed, spansPerSecond = 100_000, 1000
	h := benchHarness(b, indexed)
	rng := rand.New(rand.NewPCG(9, 10))
	now := t0.Add(time.Hour)
	counts := make([][]uint64, len(benchdata.Routes)*5)
	for i := range counts {
		counts[i] = make([]uint64, len(benchdata.Bounds)+1)
	}
	for s := range indexed / spansPerSecond {
		now = now.Add(time.Second)
		h.clock.Set(now)
		td := benchdata.Traces(rng, 1, 1, spansPerSecond, now, time.Second, uint64(s*spansPerSecond))
		countSpans(td, counts)
		if _, err := h.traces.process(context.Background(), td); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range counts {
		for i := range c {
			c[i] *= scale // the stream's life before the restart
		}
	}
	md := benchdata.HistogramStreams(t0, now, func(i int) []uint64 { return counts[i] })
	res := md.ResourceMetrics().At(0).Resource().Attributes()
	points := md.DataPointCount()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		res.PutInt("bench.restart", int64(i)) // every stream new
		refresh(md, now, counts)
		b.StartTimer()
		if _, err := h.metrics.process(context.Background(), md); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(points), "ns/point")
}

// countSpans adds each span to the counts of its (route, status) stream, in
// the order benchdata.HistogramStreams lays streams out.
func countSpans(td ptrace.Traces, counts [][]uint64) {
	statuses := map[int64]int{200: 0, 201: 1, 400: 2, 404: 3, 500: 4}
	routes := map[string]int{}
	for i, r := range benchdata.Routes {
		routes[r] = i
	}
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i := 0; i < spans.Len(); i++ {
		sp := spans.At(i)
		route, _ := sp.Attributes().Get("http.route")
		status, _ := sp.Attributes().Get("http.response.status_code")
		d := sp.EndTimestamp().AsTime().Sub(sp.StartTimestamp().AsTime())
		counts[routes[route.Str()]*5+statuses[status.Int()]][bucketFor(d)]++
	}
}

func bucketFor(d time.Duration) int {
	v := d.Seconds()
	for i, bound := range benchdata.Bounds {
		if v <= bound {
			return i
		}
	}
	return len(benchdata.Bounds)
}

// refresh sets new counts and time on the benchmark's points and removes the
// exemplars the previous round attached, as a new export would.
func refresh(md pmetric.Metrics, now time.Time, counts [][]uint64) {
	dps := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Histogram().DataPoints()
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		dp.SetTimestamp(pcommon.NewTimestampFromTime(now))
		dp.BucketCounts().FromRaw(counts[i%len(counts)])
		dp.Exemplars().RemoveIf(func(pmetric.Exemplar) bool { return true })
	}
}

func metricsCounters(b *testing.B, h *harness) (attached, unfilled int64) {
	b.Helper()
	return counter(h, "otelcol_processor_exemplar_exemplars_attached"), counter(h, "otelcol_processor_exemplar_buckets_unfilled")
}

// BenchmarkMerge measures exact_join.remove_attributes on the trace_id-as-label
// workaround: every export carries one point per request (delta, 200 per
// batch over 8 routes), each naming its span, folded into one point per
// route with the requests' spans as exact exemplars. Reported per input point.
func BenchmarkMerge(b *testing.B) {
	cfg := createDefaultConfig()
	cfg.ExactJoin.RemoveAttributes = true
	h := newHarness(b, cfg)
	rng := rand.New(rand.NewPCG(7, 8))
	const perBatch = 200
	now := t0.Add(time.Hour)
	td := benchdata.Traces(rng, 1, 1, perBatch, now, 10*time.Second, 0)
	h.clock.Set(now)
	if _, err := h.traces.process(context.Background(), td); err != nil {
		b.Fatal(err)
	}
	build := func() pmetric.Metrics {
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		td.ResourceSpans().At(0).Resource().Attributes().CopyTo(rm.Resource().Attributes())
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("http.server.request.duration")
		m.SetUnit("s")
		hist := m.SetEmptyHistogram()
		hist.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
		for i := 0; i < spans.Len(); i++ {
			sp := spans.At(i)
			d := sp.EndTimestamp().AsTime().Sub(sp.StartTimestamp().AsTime())
			dp := hist.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-10 * time.Second)))
			dp.SetTimestamp(pcommon.NewTimestampFromTime(now))
			dp.ExplicitBounds().FromRaw(benchdata.Bounds)
			counts := make([]uint64, len(benchdata.Bounds)+1)
			counts[bucketFor(d)] = 1
			dp.BucketCounts().FromRaw(counts)
			dp.SetCount(1)
			dp.SetSum(d.Seconds())
			route, _ := sp.Attributes().Get("http.route")
			status, _ := sp.Attributes().Get("http.response.status_code")
			dp.Attributes().PutStr("http.request.method", "GET")
			dp.Attributes().PutStr("http.route", route.Str())
			dp.Attributes().PutInt("http.response.status_code", status.Int())
			tid, sid := sp.TraceID(), sp.SpanID()
			dp.Attributes().PutStr("trace_id", hex.EncodeToString(tid[:]))
			dp.Attributes().PutStr("span_id", hex.EncodeToString(sid[:]))
		}
		return md
	}
	template := build()
	var outPoints int
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		md := pmetric.NewMetrics()
		template.CopyTo(md)
		b.StartTimer()
		out, err := h.metrics.process(context.Background(), md)
		if err != nil {
			b.Fatal(err)
		}
		outPoints = out.DataPointCount()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/perBatch, "ns/input-point")
	b.ReportMetric(float64(outPoints), "points-out")
}

// BenchmarkStreamMemory reports the heap held per remembered histogram
// stream (15 buckets): 100k cumulative streams, heap after minus before.
func BenchmarkStreamMemory(b *testing.B) {
	const streams = 100_000
	var perStream float64
	for i := 0; i < b.N; i++ {
		h := benchHarness(b, 1000)
		batches := make([]pmetric.Metrics, streams/1000)
		for j := range batches {
			md := pmetric.NewMetrics()
			rm := md.ResourceMetrics().AppendEmpty()
			rm.Resource().Attributes().PutStr("service.name", "shop")
			hist := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
			hist.SetName("http.server.request.duration")
			hist.SetUnit("s")
			hh := hist.SetEmptyHistogram()
			hh.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			for k := range 1000 {
				dp := hh.DataPoints().AppendEmpty()
				dp.SetStartTimestamp(pcommon.NewTimestampFromTime(t0))
				dp.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Second)))
				dp.ExplicitBounds().FromRaw(benchdata.Bounds)
				counts := make([]uint64, len(benchdata.Bounds)+1)
				counts[k%len(counts)] = 1
				dp.BucketCounts().FromRaw(counts)
				dp.SetCount(1)
				dp.Attributes().PutInt("stream", int64(j*1000+k))
			}
			batches[j] = md
		}
		h.clock.Set(t0.Add(2 * time.Second))
		grown := heapGrowth(func() {
			for _, md := range batches {
				if _, err := h.metrics.process(context.Background(), md); err != nil {
					b.Fatal(err)
				}
			}
		})
		if n := h.core.streams.Len(); n != streams {
			b.Fatalf("tracked %d streams", n)
		}
		perStream = grown / streams
		runtime.KeepAlive(h)
		runtime.KeepAlive(batches) // measured before and after alike
	}
	b.ReportMetric(perStream, "B/stream")
}

// heapGrowth returns how much live heap work leaves behind, in bytes: the
// heap after a collection following work, less the heap after one before.
func heapGrowth(work func()) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	work()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return float64(after.HeapAlloc - before.HeapAlloc)
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor_test

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/otelcol-exemplar/otelcol-exemplar/bench/traffic"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"
)

// The growth benchmarks show how the cost per span and per point changes as
// the work grows: the index from 10k to 4M spans, the histogram streams from
// 1k to 100k. Filling them takes a minute, so they run only with
// EXEMPLAR_BENCH_GROWTH=1 (`make bench-growth`, which also draws the
// tables and plots in docs/perf from their output).
//
// Traffic is the collector benchmark's fleet on a virtual clock; every
// export is built, marshalled and unmarshalled anew, the unmarshalling
// untimed. The Go GC is off inside timed work and runs between chunks of
// it: the GC's share is measured on the whole collector by bench-collector.

func skipUnlessGrowth(b *testing.B) {
	if os.Getenv("EXEMPLAR_BENCH_GROWTH") != "1" {
		b.Skip("set EXEMPLAR_BENCH_GROWTH=1 (make bench-growth) to fill indexes of up to 4M spans")
	}
}

// growth is one filled pipeline shared by the sub-benchmarks of one size.
type growth struct {
	p *benchPipeline
	f *feed
	// heap per indexed span or per stream, measured while filling.
	perSpan, perStream float64
	streams            int
}

// BenchmarkGrowthIndex: the fleet at a nominal 5k spans/s (each 10 s
// metric window holds 50k spans, ~20 per stream), the index capped at 10k
// to 4M spans and full, so every insert evicts. traces: ns per span of the
// traces path; metrics: ns per duration point (body size points, which no
// rule selects, ride along), with the share of grown buckets filled.
func BenchmarkGrowthIndex(b *testing.B) {
	skipUnlessGrowth(b)
	for _, n := range []int{10_000, 100_000, 1_000_000, 4_000_000} {
		var g *growth
		setup := func(sb *testing.B) *growth {
			if g == nil {
				g = newIndexGrowth(sb, b, n)
			}
			return g
		}
		b.Run(fmt.Sprintf("spans=%s/traces", count(n)), func(sb *testing.B) { setup(sb).traces(sb) })
		b.Run(fmt.Sprintf("spans=%s/metrics", count(n)), func(sb *testing.B) { setup(sb).metrics(sb) })
	}
}

// BenchmarkGrowthStreams: 1k to 100k cumulative duration streams (services
// of ~30 streams each), ~5 spans per stream per 10 s window, index 1M
// spans and full. metrics: ns per duration point; the heap per stream is
// measured over the first export of every stream.
func BenchmarkGrowthStreams(b *testing.B) {
	skipUnlessGrowth(b)
	for _, s := range []int{1_000, 10_000, 100_000} {
		var g *growth
		b.Run(fmt.Sprintf("streams=%s/metrics", count(s)), func(sb *testing.B) {
			if g == nil {
				g = newStreamGrowth(sb, b, s)
			}
			g.metrics(sb)
		})
	}
}

func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

func growthConfig(maxSpans int) func(*exemplarprocessor.Config) {
	return func(cfg *exemplarprocessor.Config) {
		cfg.Index.MaxSpans = maxSpans
		// Capacity, not age, bounds the index at every size.
		cfg.Index.TTL = 4 * time.Hour
		cfg.Streams.MaxStreams = 200_000
	}
}

func newIndexGrowth(b, owner *testing.B, maxSpans int) *growth {
	cfg := traffic.DefaultConfig()
	cfg.Rate = 5000
	g := &growth{p: newBenchPipeline(b, owner, growthConfig(maxSpans)), f: newFleetFeed(b, cfg)}
	// The generator's own state (its histograms) grows while new streams
	// appear: let it settle before the heap is measured.
	g.f.skip(200_000)
	before := liveHeap()
	g.p.fill(b, g.f, maxSpans, true)
	g.perSpan = (liveHeap() - before) / float64(maxSpans)
	g.p.fill(b, g.f, steadyIntervals*int(cfg.IntervalSpans()), false)
	return g
}

func newStreamGrowth(b, owner *testing.B, streams int) *growth {
	const maxSpans = 1_000_000
	cfg := traffic.DefaultConfig()
	cfg.Services = max(1, streams/30)
	cfg.Rate = float64(streams) / 2 // 5 spans per stream per 10 s
	gen, err := traffic.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	f := &feed{next: gen.Next, rate: cfg.Rate, now: benchStart}
	// A service's rarer streams (an error status on a quiet route) appear
	// only after many requests: run the fleet until the streams asked for
	// exist, before the processor sees anything.
	for spans := 0; gen.DurationStreams() < streams && spans < 40*streams; spans += 10_000 {
		f.skip(10_000)
	}
	g := &growth{p: newBenchPipeline(b, owner, growthConfig(maxSpans)), f: f}
	g.p.fill(b, f, maxSpans+int(cfg.IntervalSpans()), true)
	before := liveHeap()
	g.p.fill(b, f, int(cfg.IntervalSpans()), false)
	g.streams = gen.DurationStreams()
	g.perStream = (liveHeap() - before) / float64(g.streams)
	g.p.fill(b, f, steadyIntervals*int(cfg.IntervalSpans()), false)
	g.streams = gen.DurationStreams()
	return g
}

// steadyIntervals is how many metric intervals run before measuring. The
// processor first sees streams whose counts began before it saw their
// spans, as after a restart; it takes about five intervals until every
// grown bucket finds its span again.
const steadyIntervals = 6

// liveHeap is the heap in use after a full collection.
func liveHeap() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc)
}

// noGC turns the collector off for the benchmark; quiesce runs it between
// chunks of timed work.
func noGC(b *testing.B) {
	old := debug.SetGCPercent(-1)
	b.Cleanup(func() { debug.SetGCPercent(old) })
}

// traces times the traces path on fresh exports, chunk by chunk.
func (g *growth) traces(b *testing.B) {
	noGC(b)
	var chunk []wire
	spans := 0
	t := newTimer(b)
	b.ReportAllocs()
	t.start()
	for b.Loop() {
		t.stop()
		var w *wire
		w, chunk = g.nextTraces(b, chunk)
		td := w.traces(b)
		t.start()
		g.p.consumeTraces(b, w.at, td)
		spans += w.spans
	}
	t.stop()
	t.report(spans, "span")
	b.ReportMetric(g.perSpan, "B/span")
}

// nextTraces returns the next trace export of chunk, consuming the metric
// exports before it; an empty chunk is refilled with the next 64 exports,
// marshalled, and the garbage of building them collected.
func (g *growth) nextTraces(b *testing.B, chunk []wire) (*wire, []wire) {
	for {
		if len(chunk) == 0 {
			chunk = make([]wire, freshChunk)
			for i := range chunk {
				chunk[i] = g.f.marshal(b)
			}
			quiesce()
		}
		w := &chunk[0]
		chunk = chunk[1:]
		if !w.isMetrics {
			return w, chunk
		}
		g.p.consume(b, w)
	}
}

// metrics times the metrics path: each iteration is one service's metric
// export, after the trace exports that precede it (untimed).
func (g *growth) metrics(b *testing.B) {
	noGC(b)
	attached0, unfilled0 := g.p.filled()
	points := 0
	t := newTimer(b)
	b.ReportAllocs()
	t.start()
	for i := 0; b.Loop(); i++ {
		t.stop()
		if i%16 == 0 {
			quiesce()
		}
		w := g.nextMetrics(b)
		md := w.metrics(b)
		n := traffic.DurationPoints(md)
		t.start()
		g.p.consumeMetrics(b, w.at, md)
		points += n
	}
	t.stop()
	t.report(points, "point")
	attached, unfilled := g.p.filled()
	if grown := attached - attached0 + unfilled - unfilled0; grown > 0 {
		b.ReportMetric(float64(attached-attached0)/float64(grown), "filled/grown")
	}
	if g.perStream > 0 {
		b.ReportMetric(g.perStream, "B/stream")
		b.ReportMetric(float64(g.streams), "streams")
	}
}

// nextMetrics consumes trace exports until a metric export comes, and
// returns it marshalled.
func (g *growth) nextMetrics(b *testing.B) wire {
	for {
		r, at := g.f.request()
		if !r.IsMetrics {
			g.p.consumeTraces(b, at, r.Traces)
			continue
		}
		body, err := pmetricotlp.NewExportRequestFromMetrics(r.Metrics).MarshalProto()
		if err != nil {
			b.Fatal(err)
		}
		return wire{body: body, isMetrics: true, points: r.Points, at: at}
	}
}

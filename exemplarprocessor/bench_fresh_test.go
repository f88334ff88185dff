// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/otelcol-exemplar/otelcol-exemplar/bench/traffic"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"
	"github.com/otelcol-exemplar/otelcol-exemplar/internal/benchdata"
)

// freshChunk is how many exports are built and marshalled at a time, with
// the timer stopped: ~30 MB of protobuf, more than the CPU caches hold.
const freshChunk = 64

// BenchmarkTracesFresh is BenchmarkTraces on data as a collector has it:
// every iteration unmarshals an export that was never seen before and
// consumes it through processors built by the factory (processorhelper and
// telemetry included), the index full at 1M spans. BenchmarkTraces resends
// one renumbered batch whose attributes stay in the cache.
//
//   - benchdata: BenchmarkTraces' batches (one service, 10 scopes × 100
//     SERVER spans, 8 attributes), built anew for every export.
//   - fleet: the collector benchmark's traffic (50 services, 512 SERVER and
//     CLIENT spans per export, 13 and 6 attributes).
//
// The -unmarshal variants only unmarshal: the processor's share is the
// difference. Exports are built 64 at a time with the timer stopped; the GC
// runs between chunks, never inside timed work: with it on, the variant
// holding a 1M-span index would collect less often than the one without
// and the difference would measure GOGC, not the processor (the collector
// benchmark measures the GC's share). cpu-ns/span is the process's CPU time
// over the timed work.
func BenchmarkTracesFresh(b *testing.B) {
	shapes := []struct {
		name string
		feed func(*testing.B) *feed
	}{
		{"benchdata", benchdataFeed},
		{"fleet", func(b *testing.B) *feed { return newFleetFeed(b, traffic.DefaultConfig()) }},
	}
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) { benchFresh(b, s.feed(b), true) })
		b.Run(s.name+"-unmarshal", func(b *testing.B) { benchFresh(b, s.feed(b), false) })
	}
}

// benchdataFeed sends BenchmarkTraces' batch layout at 20k spans/s, each
// export with new span IDs and attribute values.
func benchdataFeed(*testing.B) *feed {
	rng := rand.New(rand.NewPCG(1, 2))
	next := uint64(0)
	gen := func(now time.Time) traffic.Request {
		td := benchdata.Traces(rng, 1, 10, 100, now, 50*time.Millisecond, next)
		next += 1000
		return traffic.Request{Traces: td, Spans: td.SpanCount()}
	}
	return &feed{next: gen, rate: 20_000, now: benchStart}
}

func benchFresh(b *testing.B, f *feed, process bool) {
	const indexSize = 1_000_000
	p := newBenchPipeline(b, b, func(cfg *exemplarprocessor.Config) { cfg.Index.MaxSpans = indexSize })
	if process {
		p.fill(b, f, indexSize+indexSize/10, false)
	}
	noGC(b)
	var chunk []wire
	spans := 0
	t := newTimer(b)
	b.ReportAllocs()
	t.start()
	for b.Loop() {
		if len(chunk) == 0 {
			t.stop()
			chunk = traceChunk(b, f)
			quiesce()
			t.start()
		}
		w := &chunk[0]
		chunk = chunk[1:]
		td := w.traces(b)
		if process {
			p.consumeTraces(b, w.at, td)
		}
		spans += w.spans
	}
	t.stop()
	t.report(spans, "span")
}

// traceChunk marshals the feed's next trace exports; its metric exports are
// left out, this measures the traces path.
func traceChunk(b *testing.B, f *feed) []wire {
	chunk := make([]wire, 0, freshChunk)
	for len(chunk) < freshChunk {
		if w := f.marshal(b); !w.isMetrics {
			chunk = append(chunk, w)
		}
	}
	return chunk
}

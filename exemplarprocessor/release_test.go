// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-exemplar/otelcol-exemplar/internal/benchdata"
)

// exponentialStreams returns n cumulative exponential points of service
// svc-0, streams first..first+n-1, each with buckets positive buckets.
func exponentialStreams(first, n, buckets int, start, end time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "svc-0")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("http.server.request.duration")
	m.SetUnit("s")
	e := m.SetEmptyExponentialHistogram()
	e.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for s := first; s < first+n; s++ {
		dp := e.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		dp.SetTimestamp(pcommon.NewTimestampFromTime(end))
		dp.SetScale(3)
		dp.Positive().SetOffset(-80)
		counts := make([]uint64, buckets)
		var total uint64
		for i := range counts {
			counts[i] = uint64((i + s) % 3)
			total += counts[i]
		}
		dp.Positive().BucketCounts().FromRaw(counts)
		dp.SetCount(total)
		dp.Attributes().PutInt("stream", int64(s))
	}
	return md
}

// liveHeap returns the live heap: HeapAlloc just after a completed cycle.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestBurstOfStreamsReleased is the in-process half of the e2e test
// TestHostileMemoryReleased: with the span index at its cap and a trickle
// of traffic, a burst of 4,000 distinct 320-bucket streams and four
// million-bucket points (two points each) grows the heap by tens of MiB;
// once the burst's streams are dropped as idle, the processor holds what
// it held before. Here nothing but the processor runs and the GC is forced,
// so the bound is tight: a few hundred KiB where the e2e test, which reads
// a whole collector's heap from outside, allows 10 %.
func TestBurstOfStreamsReleased(t *testing.T) {
	const (
		streams, buckets, perRequest = 4000, 320, 500
		held                         = 256 << 10 // bytes the processor may keep beyond its baseline
	)
	cfg := createDefaultConfig()
	cfg.Index.MaxSpans = 50_000
	cfg.Streams.IdleTimeout = 3 * time.Second
	h := newHarness(t, cfg)
	rng := rand.New(rand.NewPCG(41, 42))
	now := t0
	id := uint64(1)
	for range cfg.Index.MaxSpans / 10_000 {
		h.consumeTraces(t, benchdata.Traces(rng, 1, 1, 10_000, now, time.Minute, id))
		id += 10_000
	}
	trickle := func(rounds int) {
		for range rounds {
			now = now.Add(100 * time.Millisecond)
			h.clock.Set(now)
			h.consumeTraces(t, benchdata.Traces(rng, 1, 1, 20, now, time.Second, id))
			id += 20
			h.consumeMetrics(t, exponentialStreams(streams, 10, 160, t0, now))
		}
	}
	trickle(50)
	before := liveHeap()

	for round := range 2 {
		end := now.Add(time.Duration(round) * time.Millisecond)
		for first := 0; first < streams; first += perRequest {
			h.consumeMetrics(t, exponentialStreams(first, perRequest, buckets, t0, end))
		}
		h.consumeMetrics(t, exponentialStreams(streams+100, 4, 1_000_000, t0, end))
	}
	peakStreams := h.core.streams.Len()
	peak := liveHeap()

	trickle(60) // 6 s: the burst's streams go idle and are dropped
	after := liveHeap()
	t.Logf("live heap: %.2f MiB before, %.2f MiB with %d streams, %.2f MiB once %d are left",
		mib(before), mib(peak), peakStreams, mib(after), h.core.streams.Len())
	if peakStreams < streams {
		t.Fatalf("the burst tracked %d streams, want at least %d", peakStreams, streams)
	}
	if n := h.core.streams.Len(); n > 10 {
		t.Fatalf("%d streams tracked after the burst went idle, want the trickle's 10", n)
	}
	if after > before+held {
		t.Errorf("the processor holds %.2f MiB more than before the burst (bound %.2f MiB)", mib(after-before), mib(held))
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

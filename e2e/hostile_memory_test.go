// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-exemplar/otelcol-exemplar/e2e/harness"
)

// How the memory test reads the live heap. The collector never collects
// garbage on demand, and between two GC cycles its heap holds garbage as
// well as live data, so:
//   - it runs with GOGC=2: a cycle after every 2 % of heap growth, so under
//     the steady trickle of traffic the test keeps up (as any collector in
//     service has) there are several cycles a second, and the garbage on
//     the heap is never more than 2 % of the live data;
//   - the collector's own telemetry, otelcol_process_runtime_heap_alloc_bytes
//     (Go's HeapAlloc: live data plus garbage not yet collected), is scraped
//     every 250 ms (the collector reads it at most once a second); the
//     lowest value of a window of at least three GC cycles is the live heap
//     within 2 %, well inside the bound. (With GOGC=10 a reading could hold
//     up to 10 % of garbage, as much as the bound itself: the baseline read
//     6.8-7.8 MiB on one commit.) The bound applies to it;
//   - with GODEBUG=gctrace=1 the runtime prints after every cycle the heap
//     it marked live ("A->B->C MB": C, whole MiB); the test counts the
//     cycles from those lines and reports their median beside it, with RSS
//     from /proc.
const (
	hoMemIdle       = 3 * time.Second // streams.idle_timeout of the test
	hoMemWindow     = 5 * time.Second // how long each phase is measured
	hoMemStreams    = 4000            // distinct streams in the burst
	hoMemBuckets    = 320             // buckets of each of them (under the 321 cap)
	hoMemLarge      = 4               // streams with a million buckets
	hoMemTolerance  = 0.10            // live heap after / before
	hoMemSpanCap    = 50_000          // index.max_spans: full before the baseline
	hoMemPerRequest = 500             // burst points per request
)

// TestHostileMemoryReleased sends a burst of many distinct cumulative
// exponential streams (320 buckets each, two points per stream) and a few
// million-bucket ones through a collector whose span index is already at
// its cap, then lets the streams go idle. Once they are dropped, the live
// heap is back within 10 % of where it was before the burst.
func TestHostileMemoryReleased(t *testing.T) {
	exemplar := fmt.Sprintf("    index:\n      max_spans: %d\n    streams:\n      idle_timeout: %s\n", hoMemSpanCap, hoMemIdle)
	c := startHOCollector(t, hoCollectorSpec{exemplar: exemplar, env: []string{"GOGC=2", "GODEBUG=gctrace=1"}})
	mem := startHOMemWatch(t, c)
	rng := rand.New(rand.NewPCG(41, 42))
	// A collector in service holds an index: fill it to its cap, the
	// trickle keeps it there.
	for range hoMemSpanCap / 10_000 {
		sp := newHOSpans(hoService)
		sp.addSpread(rng, 10_000, time.Millisecond, time.Second, time.Now().Add(-time.Minute), time.Now())
		c.mustPost(t, tracesPath, hoTracesBody(sp.td))
	}
	trickle := startHOTrickle(c, rng)
	baseStreams := hoTrickleStreams
	harness.Eventually(t, 20*time.Second, "span index at its cap, the trickle's streams tracked", func() bool {
		tel := c.telemetry(t)
		return int(harness.SumMetric(tel, "otelcol_processor_exemplar_index_spans")) >= hoMemSpanCap &&
			int(harness.SumMetric(tel, "otelcol_processor_exemplar_streams_tracked")) >= baseStreams
	})
	time.Sleep(time.Second)
	before := mem.window(t, hoMemWindow, 3)

	burstStart := time.Now()
	streamStart := time.Now().Add(-time.Minute)
	for round := range 2 {
		end := uint64(time.Now().UnixNano())
		for first := 0; first < hoMemStreams; first += hoMemPerRequest {
			m := newHOMetrics(hoService)
			for s := first; s < first+hoMemPerRequest; s++ {
				m.exponential(hoExpo{
					c: fmt.Sprintf("burst %d", s), temporality: pmetric.AggregationTemporalityCumulative,
					start: uint64(streamStart.UnixNano()), end: end, scale: 3, offset: int32(s % 100), counts: hoFilled(hoMemBuckets, uint64(round+1)),
				})
			}
			c.mustPost(t, metricsPath, hoMetricsBody(m.md))
		}
		for s := range hoMemLarge {
			m := newHOMetrics(hoService)
			m.exponential(hoExpo{
				c: fmt.Sprintf("large %d", s), temporality: pmetric.AggregationTemporalityCumulative,
				start: uint64(streamStart.UnixNano()), end: end, scale: 20, offset: 1 << 30, counts: hoFilled(hoBuckets, uint64(round+1)),
			})
			c.mustPost(t, metricsPath, hoMetricsBody(m.md))
		}
	}
	burst := time.Since(burstStart)
	peakStreams := int(harness.SumMetric(c.telemetry(t), "otelcol_processor_exemplar_streams_tracked"))
	peak := mem.window(t, time.Second, 0)

	// The burst's streams go idle; the trickle's points make the table
	// notice. Nothing is forced inside the collector.
	idleSince := time.Now()
	for tracked := peakStreams; tracked > baseStreams; {
		if time.Since(idleSince) > 30*time.Second {
			soLogTelemetry(t, "collector", soScrape(c.telemetryURL(), "otelcol_processor_exemplar_"))
			t.Fatalf("30 s after the burst %d streams are tracked, %d before it: the burst's streams were not dropped as idle (streams.idle_timeout %s)", tracked, baseStreams, hoMemIdle)
		}
		time.Sleep(200 * time.Millisecond)
		tracked = int(harness.SumMetric(c.telemetry(t), "otelcol_processor_exemplar_streams_tracked"))
	}
	dropped := time.Since(idleSince)
	after := mem.window(t, hoMemWindow, 3)
	trickle.stop()

	t.Logf("burst: %d streams x %d buckets and %d streams x %d buckets, two points each, sent in %s; streams tracked %d before, %d after the burst; dropped as idle %s after it",
		hoMemStreams, hoMemBuckets, hoMemLarge, hoBuckets, burst.Round(time.Millisecond), baseStreams, peakStreams, dropped.Round(time.Millisecond))
	t.Logf("%-28s %22s %20s %9s", "", "min heap_alloc MiB", "gctrace live MiB", "RSS MiB")
	for _, p := range []struct {
		name string
		f    hoMemFigures
	}{{"before the burst", before}, {"just after the burst", peak}, {"streams dropped as idle", after}} {
		t.Logf("%-28s %22s %20s %9s   (%d GC cycles)", p.name, hoMiBOr(p.f.heapAlloc), hoMiBOr(p.f.live), hoMiB(p.f.rss), p.f.cycles)
	}
	if before.cycles == 0 || after.cycles == 0 {
		t.Fatalf("no GC cycle in a measuring window (before %d, after %d): the live heap cannot be read", before.cycles, after.cycles)
	}
	if after.heapAlloc > before.heapAlloc*(1+hoMemTolerance) {
		t.Errorf("live heap (lowest heap_alloc after a GC) %s MiB once the burst's streams were dropped, %s MiB before the burst: %.0f %% more (bound %.0f %%)",
			hoMiB(after.heapAlloc), hoMiB(before.heapAlloc), 100*(after.heapAlloc/before.heapAlloc-1), 100*hoMemTolerance)
	}
}

// hoMiBOr formats bytes as MiB, "-" for no reading.
func hoMiBOr(b float64) string {
	if b < 0 {
		return "-"
	}
	return hoMiB(b)
}

// hoMemFigures are the memory readings of one window.
type hoMemFigures struct {
	heapAlloc float64 // minimum of the scraped otelcol_process_runtime_heap_alloc_bytes
	live      float64 // median of the live heaps the GC cycles in the window marked
	cycles    int
	rss       float64 // last RSS read
}

// hoMemWatch scrapes the collector's heap_alloc and reads its RSS.
type hoMemWatch struct {
	c  *hoCollector
	mu sync.Mutex
	// samples are (time, heap_alloc) pairs.
	at    []time.Time
	heaps []float64
	done  chan struct{}
}

func startHOMemWatch(t *testing.T, c *hoCollector) *hoMemWatch {
	w := &hoMemWatch{c: c, done: make(chan struct{})}
	t.Cleanup(func() { close(w.done) })
	go func() {
		for {
			tel, err := harness.ScrapeMetricsPage(c.telemetryURL())
			if err == nil {
				w.mu.Lock()
				w.at = append(w.at, time.Now())
				w.heaps = append(w.heaps, harness.SumMetric(tel, "otelcol_process_runtime_heap_alloc_bytes"))
				w.mu.Unlock()
			}
			select {
			case <-w.done:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	return w
}

// window measures from now for at least d and until the runtime completed
// minCycles GC cycles, at most 60 s. After a large heap was freed the next
// cycle comes late (GOGC counts from the last live heap), so a fixed window
// could see none.
func (w *hoMemWatch) window(t *testing.T, d time.Duration, minCycles int) hoMemFigures {
	t.Helper()
	from := time.Now()
	cyclesBefore := len(hoGCLives(w.c.proc.Output()))
	time.Sleep(d)
	for deadline := from.Add(time.Minute); len(hoGCLives(w.c.proc.Output()))-cyclesBefore < minCycles && time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
	}
	lives := hoGCLives(w.c.proc.Output())[cyclesBefore:]
	f := hoMemFigures{cycles: len(lives), live: -1, heapAlloc: -1, rss: hoRSS(w.c.proc.Pid())}
	if len(lives) > 0 {
		slices.Sort(lives)
		f.live = lives[len(lives)/2]
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, at := range w.at {
		if at.After(from) && (f.heapAlloc < 0 || w.heaps[i] < f.heapAlloc) {
			f.heapAlloc = w.heaps[i]
		}
	}
	return f
}

// hoTrickleStreams is how many histogram streams the trickle keeps sending.
const hoTrickleStreams = 10

// hoTrickle is the steady traffic of a collector in service: a 100-span
// traces request every 100 ms (the index stays at its cap) and a metrics
// request with ten 15-bucket streams of the same service every 200 ms.
type hoTrickle struct {
	done    chan struct{}
	stopped sync.WaitGroup
}

func startHOTrickle(c *hoCollector, rng *rand.Rand) *hoTrickle {
	tr := &hoTrickle{done: make(chan struct{})}
	tr.stopped.Add(1)
	go func() {
		defer tr.stopped.Done()
		start := time.Now()
		counts := make([]uint64, len(soBounds)+1)
		for i := 0; ; i++ {
			now := time.Now()
			sp := newHOSpans(hoService)
			sp.addSpread(rng, 100, time.Millisecond, time.Second, now.Add(-2*time.Second), now)
			c.post(tracesPath, hoTracesBody(sp.td), 10*time.Second)
			if i%2 == 0 {
				counts[i/2%len(counts)]++
				m := newHOMetrics(hoService)
				for s := range hoTrickleStreams {
					m.explicit(fmt.Sprintf("steady %d", s), pmetric.AggregationTemporalityCumulative, uint64(start.UnixNano()), uint64(now.UnixNano()), soBounds, counts)
				}
				c.post(metricsPath, hoMetricsBody(m.md), 10*time.Second)
			}
			select {
			case <-tr.done:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return tr
}

func (tr *hoTrickle) stop() {
	close(tr.done)
	tr.stopped.Wait()
}

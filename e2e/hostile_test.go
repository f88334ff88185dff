// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"bytes"
	"math"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-exemplar/otelcol-exemplar/e2e/harness"
)

// The latency bounds of the hostile-input issue: one exponential point with
// a million buckets is processed within hoPointBound (the exemplar
// processor's own time on the request, from the collector's
// otelcol_processor_internal_duration; the round trip adds the receiver's
// decoding of a 40 MB point, ~20 ms on an idle 2-core machine, and is
// reported), and a traces request sent meanwhile is answered within
// hoTracesBound (its whole round trip).
const (
	hoPointBound  = 50 * time.Millisecond
	hoTracesBound = 100 * time.Millisecond
	hoBuckets     = 1_000_000
	hoService     = "hostile-svc"
	// hoSettle is the pause after a large point, in which the collector
	// exports it.
	hoSettle = 300 * time.Millisecond
)

// TestHostileExponentialPoint indexes 700 spans of a service, then sends
// cumulative exponential points of its stream with scale 20, a million
// buckets and extreme offsets (a first point, then one with every count
// grown), while another goroutine keeps sending 100-span traces requests.
// Every point is answered within 50 ms and leaves unchanged, counted
// too_many_buckets; every traces request sent meanwhile within 100 ms.
func TestHostileExponentialPoint(t *testing.T) {
	c := startHOCollector(t, hoCollectorSpec{})
	rng := rand.New(rand.NewPCG(21, 22))
	streamStart := time.Now().Add(-30 * time.Second)

	// The same million buckets in a metric no rule selects: what the
	// receiver and the pipeline cost without the processor's work (decoding
	// the body alone allocates about 40 MB and takes about 20 ms on a 2-core
	// build machine). Sent a few times, it also warms the collector's heap.
	control := newHOMetrics(hoService)
	control.exponential(hoExpo{
		name: "hostile.unselected", c: "control", temporality: pmetric.AggregationTemporalityCumulative,
		start: uint64(streamStart.UnixNano()), end: uint64(time.Now().UnixNano()), scale: 20, offset: 1 << 30, counts: hoFilled(hoBuckets, 1),
	})
	controlBody := hoMetricsBody(control.md)
	var floor []hoResult
	for range 5 {
		floor = append(floor, c.mustPost(t, metricsPath, controlBody))
		time.Sleep(hoSettle)
	}
	t.Logf("floor: a point of %d buckets that no rule selects (body %d KiB): %s", hoBuckets, len(controlBody)>>10, hoLatencies(floor))

	// 700 spans of the stream's service, endpoint and kind, durations from
	// 1 ms to 10 s, ended inside the points' window.
	for range 7 {
		sp := newHOSpans(hoService)
		sp.addSpread(rng, 100, time.Millisecond, 10*time.Second, streamStart, time.Now())
		c.mustPost(t, tracesPath, hoTracesBody(sp.td))
	}
	indexed := hoCount(c.telemetry(t), "otelcol_processor_exemplar_spans_indexed")
	t.Logf("spans indexed before the hostile points: %d", indexed)

	// Offsets: 2^30 (bounds beyond float64), the int32 edge (the last
	// bucket's index is MaxInt32), and buckets that cover 36-70 ms, where
	// about 50 of the indexed spans lie.
	cases := []struct {
		name   string
		offset int32
	}{
		{"offset 2^30", 1 << 30},
		{"offset at the int32 edge", math.MaxInt32 - hoBuckets + 1},
		{"buckets over the spans", int32(math.Floor(math.Log2(0.05)*(1<<20))) - hoBuckets/2},
	}
	sentPoints := map[string][]byte{}
	type hostile struct {
		name string
		body []byte
	}
	var bodies []hostile
	t1 := time.Now()
	for round, grown := range []uint64{1, 2} {
		for _, hc := range cases {
			m := newHOMetrics(hoService)
			m.exponential(hoExpo{
				c: hc.name, temporality: pmetric.AggregationTemporalityCumulative,
				start: uint64(streamStart.UnixNano()), end: uint64(t1.Add(time.Duration(round) * time.Millisecond).UnixNano()),
				scale: 20, offset: hc.offset, counts: hoFilled(hoBuckets, grown),
			})
			for k, v := range hoPoints(m.md) {
				sentPoints[k] = v
			}
			bodies = append(bodies, hostile{name: hc.name, body: hoMetricsBody(m.md)})
		}
	}

	// Within the bucket cap the point is read: 320 buckets at scale 20
	// over the spans' durations, every one grown, make the most search a
	// point may cost (bounded by its read budget, not by the spans).
	within := int32(math.Floor(math.Log2(0.05)*(1<<20))) - 160
	for round, grown := range []uint64{1, 2} {
		m := newHOMetrics(hoService)
		m.exponential(hoExpo{
			c: "within the cap", temporality: pmetric.AggregationTemporalityCumulative,
			start: uint64(streamStart.UnixNano()), end: uint64(t1.Add(time.Duration(2+round) * time.Millisecond).UnixNano()),
			scale: 20, offset: within, counts: hoFilled(320, grown),
		})
		bodies = append(bodies, hostile{name: "320 buckets within the cap", body: hoMetricsBody(m.md)})
	}

	// The control points may count as too_many_buckets or no_rule: only
	// the hostile points' count is asserted.
	tooManyBefore := hoCount(c.telemetry(t), "otelcol_processor_exemplar_datapoints_not_enriched", `reason="too_many_buckets"`)
	bg := startHOBackground(c, rand.New(rand.NewPCG(23, 24)))
	time.Sleep(200 * time.Millisecond) // traces flowing before the first point
	results := make([]hoResult, len(bodies))
	processed := make([]time.Duration, len(bodies))
	for i, b := range bodies {
		before := hoProcessorTime(c.telemetry(t))
		results[i] = c.post(metricsPath, b.body, 30*time.Second)
		processed[i] = hoProcessorTime(c.telemetry(t)) - before
		// The batch processor and the file exporter write the point after
		// the response: let them, so each round trip measures the receiver
		// and the processor, not the test's own sink.
		time.Sleep(hoSettle)
	}
	during := bg.stop()

	for i, r := range results {
		round := 1 + (i/len(cases))%2
		if i >= 2*len(cases) {
			round = 1 + i - 2*len(cases)
		}
		t.Logf("hostile point %d (%s, %s): status %d, processed in %s, round trip %s, err %v", i+1, bodies[i].name, []string{"", "first point", "counts grown"}[round], r.status, processed[i].Round(10*time.Microsecond), r.elapsed.Round(10*time.Microsecond), r.err)
		switch {
		case r.err != nil || r.status != http.StatusOK:
			t.Errorf("hostile point %d (%s): status %d, %v", i+1, bodies[i].name, r.status, r.err)
		case processed[i] <= 0:
			t.Errorf("hostile point %d (%s): the exemplar processor's time was not recorded", i+1, bodies[i].name)
		case processed[i] > hoPointBound:
			t.Errorf("hostile point %d (%s) took the exemplar processor %s; the bound is %s", i+1, bodies[i].name, processed[i].Round(time.Millisecond), hoPointBound)
		}
	}
	t.Logf("traces requests (100 spans) sent alongside: %s", hoLatencies(during))
	slow := 0
	for _, r := range during {
		if r.err != nil || r.status != http.StatusOK {
			t.Errorf("a traces request sent alongside failed: status %d, %v", r.status, r.err)
		} else if r.elapsed > hoTracesBound {
			slow++
		}
	}
	if slow > 0 || len(during) == 0 {
		t.Errorf("%d of %d traces requests sent alongside the hostile points took longer than %s (%s)", slow, len(during), hoTracesBound, hoLatencies(during))
	}

	got := hoWaitPoints(t, hoSink{c.dir}, sentPoints, 30*time.Second)
	for k, want := range sentPoints {
		if g, ok := got[k]; ok && !bytes.Equal(g, want) {
			t.Errorf("point %s left the collector changed (%d exemplars)", k, hoExemplars(t, g).Len())
		}
	}
	tel := c.telemetry(t)
	soLogTelemetry(t, "collector", soScrape(c.telemetryURL(), "otelcol_processor_exemplar_"))
	if n := hoCount(tel, "otelcol_processor_exemplar_datapoints_not_enriched", `reason="too_many_buckets"`) - tooManyBefore; n != 2*len(cases) {
		t.Errorf("datapoints_not_enriched{reason=\"too_many_buckets\"} grew by %d for the %d points over the cap; want %d", n, 2*len(cases), 2*len(cases))
	}
}

// hoProcessorTime is the exemplar processor's total time on metrics
// requests so far (processorhelper's internal duration histogram).
func hoProcessorTime(tel map[string]float64) time.Duration {
	sum := harness.SumMetric(tel, "otelcol_processor_internal_duration_sum", `processor="exemplar"`, `otel_signal="metrics"`)
	return time.Duration(sum * float64(time.Second))
}

// hoBackground keeps sending 100-span traces requests of another service
// and records each round trip. The bodies are built before it starts, so
// the test process does not compete with the collector for the CPU while
// the round trips are measured.
type hoBackground struct {
	mu      sync.Mutex
	results []hoResult
	done    chan struct{}
	stopped chan struct{}
}

func startHOBackground(c *hoCollector, rng *rand.Rand) *hoBackground {
	bodies := make([][]byte, 200)
	now := time.Now()
	for i := range bodies {
		sp := newHOSpans("hostile-background")
		sp.addSpread(rng, 100, time.Millisecond, time.Second, now.Add(-2*time.Second), now)
		bodies[i] = hoTracesBody(sp.td)
	}
	bg := &hoBackground{done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(bg.stopped)
		for i := 0; ; i++ {
			// Past the prepared bodies, they are sent again: replays,
			// flagged as such, just as much work.
			r := c.post(tracesPath, bodies[i%len(bodies)], 30*time.Second)
			bg.mu.Lock()
			bg.results = append(bg.results, r)
			bg.mu.Unlock()
			select {
			case <-bg.done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return bg
}

// stop ends the loop and returns every round trip it measured.
func (bg *hoBackground) stop() []hoResult {
	close(bg.done)
	<-bg.stopped
	bg.mu.Lock()
	defer bg.mu.Unlock()
	return bg.results
}

// TestHostileGarbageSpansAndPoints sends spans that cannot describe a
// request (start time 0, end time 0, lasting 3 hours) and histogram points
// that cannot be read (first bound -Inf, NaN or unsorted bounds, counts that
// do not match the bounds, start or time 0), next to valid spans and a valid
// point of the same stream. The garbage spans pass untouched, are never an
// exemplar, and are counted spans_invalid by reason; the garbage points pass
// untouched and are counted invalid_point. The valid point gets exemplars,
// so the test can see one being attached.
func TestHostileGarbageSpansAndPoints(t *testing.T) {
	c := startHOCollector(t, hoCollectorSpec{})
	rng := rand.New(rand.NewPCG(31, 32))
	now := time.Now()
	from := now.Add(-20 * time.Second)
	ns := func(t time.Time) uint64 { return uint64(t.UnixNano()) }

	// Valid spans: 40 of 20-90 ms (buckets 3-5 of soBounds).
	spans := newHOSpans(hoService)
	spans.addSpread(rng, 40, 20*time.Millisecond, 90*time.Millisecond, from, now.Add(-2*time.Second))
	// Garbage: what a broken SDK or clock sends.
	garbage := newHOSpans(hoService)
	zeroStart := garbage.add(rng, 0, ns(now.Add(-time.Second)))
	zeroEnd := garbage.add(rng, ns(now.Add(-3*time.Second)), 0)
	tooLong := garbage.add(rng, ns(now.Add(-3*time.Hour)), ns(now.Add(-time.Second)))
	garbageIDs := map[pcommon.SpanID]string{
		zeroStart.SpanID(): "start time 0", zeroEnd.SpanID(): "end time 0", tooLong.SpanID(): "lasting 3 h",
	}
	c.mustPost(t, tracesPath, hoTracesBody(spans.td))
	c.mustPost(t, tracesPath, hoTracesBody(garbage.td))

	delta := pmetric.AggregationTemporalityDelta
	cumul := pmetric.AggregationTemporalityCumulative
	last := len(soBounds)
	// Points only garbage spans could fill: the +Inf bucket (3 h and
	// 1.8e9 s) and the first (a zero end time read as duration 0); the
	// exponential point's buckets hold 3 h (index 13 at scale 0), 1.8e9 s
	// (index 30) and 0 (the zero bucket).
	onlyGarbage := hoCountsAt(last+1, 0, last)
	m := newHOMetrics(hoService)
	m.explicit("garbage buckets", delta, ns(from), ns(now), soBounds, onlyGarbage)
	expo := make([]uint64, 18)
	expo[0], expo[17] = 1, 1
	m.exponential(hoExpo{c: "garbage buckets, exponential", temporality: delta, start: ns(from), end: ns(now), offset: 13, counts: expo, zeroCount: 1})
	// The valid point: buckets 3-5 grew, valid spans can fill them.
	validCounts := hoCountsAt(last+1, 3, 4, 5)
	m.explicit("valid", delta, ns(from), ns(now), soBounds, validCounts)
	// Points that cannot be read, each with the valid point's counts so
	// that a processor that took them for valid would attach exemplars.
	withBound := func(i int, v float64) []float64 {
		b := append([]float64(nil), soBounds...)
		b[i] = v
		return b
	}
	invalid := []string{"first bound -Inf", "NaN bound", "unsorted bounds", "counts do not match bounds", "cumulative, start time 0", "time 0", "exponential, cumulative, start time 0"}
	m.explicit(invalid[0], delta, ns(from), ns(now), withBound(0, math.Inf(-1)), validCounts)
	m.explicit(invalid[1], delta, ns(from), ns(now), withBound(6, math.NaN()), validCounts)
	m.explicit(invalid[2], delta, ns(from), ns(now), withBound(1, 0.001), validCounts)
	m.explicit(invalid[3], delta, ns(from), ns(now), soBounds, validCounts[:last])
	m.explicit(invalid[4], cumul, 0, ns(now), soBounds, validCounts)
	m.explicit(invalid[5], delta, ns(from), 0, soBounds, validCounts)
	m.exponential(hoExpo{c: invalid[6], temporality: cumul, start: 0, end: ns(now), scale: 3, offset: -45, counts: hoFilled(20, 1)})
	sent := hoPoints(m.md)
	c.mustPost(t, metricsPath, hoMetricsBody(m.md))

	got := hoWaitPoints(t, hoSink{c.dir}, sent, 20*time.Second)
	for k, want := range sent {
		g, ok := got[k]
		if !ok {
			continue
		}
		for _, ex := range hoExemplars(t, g).All() {
			if why, bad := garbageIDs[ex.SpanID()]; bad {
				t.Errorf("point %s: exemplar names the span %s (value %g)", k, why, ex.DoubleValue())
			}
		}
		if bytes.Contains([]byte(k), []byte("|valid|")) {
			if n := hoExemplars(t, g).Len(); n == 0 {
				t.Errorf("the valid point got no exemplar: the test cannot see one being attached")
			}
			if !bytes.Equal(hoWithoutExemplars(t, g), want) {
				t.Errorf("the valid point left with other counts, bounds or attributes than sent")
			}
			continue
		}
		if !bytes.Equal(g, want) {
			t.Errorf("point %s left the collector changed (%d exemplars)", k, hoExemplars(t, g).Len())
		}
	}
	// Spans pass untouched, garbage included.
	wantSpans := hoSpanMessages(spans.td, garbage.td)
	gotSpans := hoSpanMessages(hoSink{c.dir}.traces(t)...)
	for id, want := range wantSpans {
		if g, ok := gotSpans[id]; !ok {
			t.Errorf("span %s (%s) did not leave the collector", id, garbageIDs[id])
		} else if !bytes.Equal(g, want) {
			t.Errorf("span %s (%s) left the collector changed", id, garbageIDs[id])
		}
	}

	tel := c.telemetry(t)
	soLogTelemetry(t, "collector", soScrape(c.telemetryURL(), "otelcol_processor_exemplar_"))
	for reason, want := range map[string]int{"zero_timestamp": 2, "too_long": 1} {
		if n := hoCount(tel, "otelcol_processor_exemplar_spans_invalid", `reason="`+reason+`"`); n != want {
			t.Errorf("spans_invalid{reason=%q} = %d; want %d", reason, n, want)
		}
	}
	if n := hoCount(tel, "otelcol_processor_exemplar_spans_indexed"); n != spans.ss.Len() {
		t.Errorf("spans_indexed = %d; want the %d valid spans only", n, spans.ss.Len())
	}
	if n := hoCount(tel, "otelcol_processor_exemplar_datapoints_not_enriched", `reason="invalid_point"`); n != len(invalid) {
		t.Errorf("datapoints_not_enriched{reason=\"invalid_point\"} = %d; want %d (%v)", n, len(invalid), invalid)
	}
}

// hoCountsAt returns n bucket counts, 1 at each index given.
func hoCountsAt(n int, at ...int) []uint64 {
	counts := make([]uint64, n)
	for _, i := range at {
		counts[i] = 1
	}
	return counts
}

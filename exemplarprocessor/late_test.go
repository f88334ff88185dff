// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/buckets"
	"github.com/otelcol-exemplar/otelcol-exemplar/internal/benchdata"
)

// lateScenario simulates one service whose SDK exports a histogram every
// interval and whose batch span processor flushes spans every spanDelay, so
// spans reach the collector up to spanDelay after the metric export that
// counted them.
type lateScenario struct {
	interval, spanDelay time.Duration
	delta, hold         bool
}

type lateResult struct {
	grown, immediate, recovered, nextPoint int // nextPoint: superseded by a fresher span
	// straddled: the bucket's previous point took, by the straddle rule, a
	// span that ended just after that point, which this interval needed.
	straddled int
	// clamped: exemplars whose span lay within the tolerance outside their
	// bucket (this simulation has no instrumentation gap, so each is a
	// neighbour's request standing in for a late one).
	clamped int
}

func (r lateResult) share(n int) float64 { return float64(n) / float64(r.grown) }

func runLate(t *testing.T, sc lateScenario, seed uint64) lateResult {
	t.Helper()
	cfg := createDefaultConfig()
	sink := new(consumertest.MetricsSink)
	if sc.hold {
		cfg.DeltaHold.Delay = sc.spanDelay + 2*time.Second
	}
	h := newHarness(t, cfg)
	mp := h.metrics
	if sc.hold {
		set := nopSettings()
		set.TelemetrySettings = h.telemetry.NewTelemetrySettings()
		var err error
		mp, err = newMetricsProcessor(h.core, set, sink)
		require.NoError(t, err)
	}
	rng := rand.New(rand.NewPCG(seed, 99))
	phase := time.Duration(rng.Int64N(int64(sc.spanDelay)))
	bounds := benchdata.Bounds
	const duration = 10 * time.Minute
	const rate = 1.5 // requests per second: sparse enough that buckets often grow by one

	type request struct {
		id      uint64
		end     time.Time
		d       time.Duration
		arrival time.Time
	}
	var reqs []request
	at := t0
	for id := uint64(1); ; id++ {
		at = at.Add(time.Duration(rng.ExpFloat64() / rate * float64(time.Second)))
		if at.After(t0.Add(duration)) {
			break
		}
		d := benchdata.Duration(rng)
		// The batch span processor flushes every spanDelay, on a timer not
		// aligned with the metric reader's; the span arrives with the first
		// flush after it ended, plus 50 ms of network.
		flush := t0.Add(phase + (at.Sub(t0)-phase)/sc.spanDelay*sc.spanDelay)
		for !flush.After(at) {
			flush = flush.Add(sc.spanDelay)
		}
		reqs = append(reqs, request{id: id, end: at, d: d, arrival: flush.Add(50 * time.Millisecond)})
	}

	// Events in collector time: span batches and metric exports.
	type event struct {
		at    time.Time
		spans []span
		point *hist
	}
	var events []event
	byArrival := map[time.Time][]span{}
	durationOf := map[pcommon.SpanID]time.Duration{}
	for _, r := range reqs {
		byArrival[r.arrival] = append(byArrival[r.arrival], serverSpan(r.id, "shop", "/a", r.end, r.d))
		durationOf[spanID(r.id)] = r.d
	}
	for a, ss := range byArrival {
		events = append(events, event{at: a, spans: ss})
	}
	counts := make([]uint64, len(bounds)+1)
	start, prev := t0, t0
	var grownAt [][]bool
	// Two exports after the traffic stops, as an SDK goes on exporting, so
	// the last interval's late spans have a point to be recovered on.
	for tk := t0.Add(sc.interval); !tk.After(t0.Add(duration + 2*sc.interval)); tk = tk.Add(sc.interval) {
		grown := make([]bool, len(counts))
		if sc.delta {
			counts = make([]uint64, len(bounds)+1)
		}
		for _, r := range reqs {
			if r.end.After(prev) && !r.end.After(tk) {
				b := bucketFor(r.d)
				counts[b]++
				grown[b] = true
			}
		}
		p := serverHist("shop", start, tk, append([]uint64{}, counts...))
		p.bounds = bounds
		p.cumulative = !sc.delta
		if sc.delta {
			p.start = prev
		}
		events = append(events, event{at: tk.Add(100 * time.Millisecond), point: &p})
		grownAt = append(grownAt, grown)
		prev = tk
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].at.Before(events[j].at) })

	// Run, collecting each point's exemplars (bucket -> span end), by the
	// exemplar's value as Prometheus places it.
	layout := buckets.Explicit{Bounds: bounds}
	var got []map[int]time.Time
	var clamped int
	collect := func(md pmetric.Metrics) {
		exs := exemplarsOf(md)
		m := map[int]time.Time{}
		for i := 0; i < exs.Len(); i++ {
			ex := exs.At(i)
			m[layout.Of(ex.DoubleValue())] = ex.Timestamp().AsTime()
			if ex.DoubleValue() != durationOf[ex.SpanID()].Seconds() {
				clamped++
			}
		}
		got = append(got, m)
	}
	for _, ev := range events {
		h.clock.Set(ev.at)
		if ev.spans != nil {
			h.consumeTraces(t, tracesOf(ev.spans...))
			continue
		}
		if sc.hold {
			require.NoError(t, send(mp, metricsOf(*ev.point)))
			mp.hold.releaseDue(context.Background())
			continue
		}
		out, err := mp.process(context.Background(), metricsOf(*ev.point))
		require.NoError(t, err)
		collect(out)
	}
	if sc.hold {
		// The last point becomes due delay after it arrived.
		h.clock.Set(events[len(events)-1].at.Add(cfg.DeltaHold.Delay))
		mp.hold.releaseDue(context.Background())
		for _, md := range sink.AllMetrics() {
			collect(md)
		}
	}
	require.Len(t, got, len(grownAt))

	res := lateResult{clamped: clamped}
	for k, grown := range grownAt {
		lo := t0.Add(time.Duration(k) * sc.interval)
		hi := lo.Add(sc.interval)
		for b, g := range grown {
			if !g {
				continue
			}
			res.grown++
			if _, ok := got[k][b]; ok {
				res.immediate++
				continue
			}
			// A later point within the 60 s a bucket waits for its late span
			// carries one from this interval: recovered. A later point
			// carries a fresher one because the bucket grew again first:
			// superseded.
			recovered, superseded := false, false
			for j := k + 1; j < len(got) && time.Duration(j-k)*sc.interval <= time.Minute; j++ {
				if ts, ok := got[j][b]; ok {
					if ts.After(lo) && !ts.After(hi) {
						recovered = true
					} else {
						superseded = true
					}
					break
				}
			}
			switch {
			case recovered:
				res.recovered++
			case superseded:
				res.nextPoint++
			case k > 0 && got[k-1][b].Equal(lo):
				res.straddled++
			}
		}
	}
	return res
}

// TestLateSpans measures how many grown buckets get an exemplar when spans
// arrive 1-10 s after the metric export that counted them, and shows the
// cumulative path recovering them on a following point and the delta hold
// recovering them before the point leaves.
func TestLateSpans(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates 10 minutes of traffic per scenario")
	}
	t.Logf("%-10s %-6s %-9s %-5s %7s %10s %10s %10s %10s %10s %8s", "interval", "delay", "temporal.", "hold", "grown", "immediate", "recovered", "missed", "superseded", "straddled", "clamped")
	for _, interval := range []time.Duration{10 * time.Second, 30 * time.Second, 60 * time.Second} {
		for _, delay := range []time.Duration{time.Second, 5 * time.Second, 10 * time.Second} {
			for _, sc := range []lateScenario{
				{interval: interval, spanDelay: delay},
				{interval: interval, spanDelay: delay, delta: true},
				{interval: interval, spanDelay: delay, delta: true, hold: true},
			} {
				res := runLate(t, sc, uint64(interval+delay))
				missed := res.grown - res.immediate - res.recovered - res.nextPoint - res.straddled
				temporality, hold := "cumul.", "-"
				if sc.delta {
					temporality = "delta"
				}
				if sc.hold {
					hold = "on"
				}
				t.Logf("%-10s %-6s %-9s %-5s %7d %10.4f %10.4f %10.4f %10.4f %10.4f %8d", interval, delay, temporality, hold,
					res.grown, res.share(res.immediate), res.share(res.recovered), res.share(missed), res.share(res.nextPoint), res.share(res.straddled), res.clamped)
				name := fmt.Sprintf("%s/%s/%s/hold=%s", interval, delay, temporality, hold)
				switch {
				case !sc.delta:
					// Every grown bucket gets its exemplar at once, or from
					// its late span on a following point, or a fresher one
					// because it grew again by then.
					assert.Zero(t, missed, "%s: no grown bucket left without an exemplar", name)
					if interval == 10*time.Second && delay >= 5*time.Second {
						assert.Positive(t, res.recovered, "%s: late spans recovered on a later point", name)
					}
				case sc.hold:
					assert.GreaterOrEqual(t, res.share(res.immediate), 0.99, "%s: the hold waits for late spans", name)
				default:
					assert.Zero(t, res.recovered, "%s: delta points are never revisited", name)
				}
			}
		}
	}
}

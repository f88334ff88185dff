// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// These cases pin down how spans are assigned to the buckets of one point
// when spans within the tolerance could serve a neighbour: as many buckets
// as possible get an exemplar, each span serves at most one, and a bucket
// prefers spans inside it, fresh ones, later ones.

// A late span must not be preferred for nothing: the fresh span stays in its
// own bucket when the neighbour cannot use it.
func TestAssignFreshStaysWhenNeighbourCannotUseIt(t *testing.T) {
	h := newHarness(t, createDefaultConfig())
	h.clock.Set(t0.Add(11 * time.Second))
	h.consumeMetrics(t, metricsOf(cumulative(serverHist("shop", t0, t0.Add(10*time.Second), make([]uint64, 9)))))
	h.clock.Set(t0.Add(16 * time.Second))
	h.consumeTraces(t, tracesOf(serverSpan(1, "shop", "/a", t0.Add(15*time.Second), 120*time.Millisecond))) // fresh, bucket 6
	h.consumeTraces(t, tracesOf(serverSpan(2, "shop", "/a", t0.Add(5*time.Second), 150*time.Millisecond)))  // late, bucket 6
	h.clock.Set(t0.Add(21 * time.Second))
	out := h.consumeMetrics(t, metricsOf(cumulative(serverHist("shop", t0, t0.Add(20*time.Second), []uint64{0, 0, 0, 0, 0, 1, 1, 0, 0}))))
	assert.Equal(t, [][]uint64{{1}}, exemplarIDs(out))
}

// The own bucket's other span lies only within the tolerance: still both
// buckets get one.
func TestAssignSwapWhenOwnBucketHasOnlyANearSpan(t *testing.T) {
	h := newHarness(t, createDefaultConfig())
	end := t0.Add(5 * time.Second)
	h.consumeTraces(t, tracesOf(
		serverSpan(1, "shop", "/a", end, 25056*time.Microsecond),                  // (.025,.05], 0.056 ms above 25 ms
		serverSpan(2, "shop", "/a", end.Add(time.Second), 50069*time.Microsecond), // (.05,.075], 0.069 ms above 50 ms
	))
	h.clock.Set(t0.Add(11 * time.Second))
	out := h.consumeMetrics(t, metricsOf(serverHist("shop", t0, t0.Add(10*time.Second), []uint64{0, 0, 1, 1, 0, 0, 0, 0, 0})))
	assert.ElementsMatch(t, []uint64{1, 2}, exemplarIDs(out)[0])
}

// Whatever order the spans arrive in, both buckets are filled.
func TestAssignIndependentOfArrivalOrder(t *testing.T) {
	for _, xLast := range []bool{true, false} {
		h := newHarness(t, createDefaultConfig())
		end := t0.Add(5 * time.Second)
		y := tracesOf(serverSpan(1, "shop", "/a", end, 6*time.Millisecond))
		x := tracesOf(serverSpan(2, "shop", "/a", end.Add(time.Second), 8200*time.Microsecond)) // 1.8 ms below 10 ms
		if xLast {
			h.consumeTraces(t, y)
			h.consumeTraces(t, x)
		} else {
			h.consumeTraces(t, x)
			h.consumeTraces(t, y)
		}
		h.clock.Set(t0.Add(11 * time.Second))
		out := h.consumeMetrics(t, metricsOf(serverHist("shop", t0, t0.Add(10*time.Second), []uint64{0, 1, 1, 0, 0, 0, 0, 0, 0})))
		assert.ElementsMatch(t, []uint64{1, 2}, exemplarIDs(out)[0], "x last: %t", xLast)
	}
}

// A bucket keeps a fresh span of its own; its late near span fills the
// neighbour.
func TestAssignLateNearSpanFillsNeighbour(t *testing.T) {
	h := newHarness(t, createDefaultConfig())
	h.clock.Set(t0.Add(11 * time.Second))
	h.consumeMetrics(t, metricsOf(cumulative(serverHist("shop", t0, t0.Add(10*time.Second), make([]uint64, 9)))))
	h.clock.Set(t0.Add(16 * time.Second))
	h.consumeTraces(t, tracesOf(serverSpan(1, "shop", "/a", t0.Add(15*time.Second), 2*time.Millisecond)))   // y: fresh, bucket 0
	h.consumeTraces(t, tracesOf(serverSpan(2, "shop", "/a", t0.Add(5*time.Second), 3970*time.Microsecond))) // x: late, near bucket 1
	h.clock.Set(t0.Add(21 * time.Second))
	out := h.consumeMetrics(t, metricsOf(cumulative(serverHist("shop", t0, t0.Add(20*time.Second), []uint64{1, 1, 0, 0, 0, 0, 0, 0, 0}))))
	assert.Equal(t, [][]uint64{{1, 2}}, exemplarIDs(out))
}

// A near span another bucket needs does not end the search for this one.
func TestAssignSearchGoesOnPastATakenSpan(t *testing.T) {
	h := newHarness(t, createDefaultConfig())
	at := t0.Add(10 * time.Second)
	h.consumeTraces(t, tracesOf(serverSpan(2, "shop", "/a", at.Add(1300*time.Microsecond), 26800*time.Microsecond)))
	h.consumeTraces(t, tracesOf(serverSpan(1, "shop", "/a", at.Add(500*time.Microsecond), 24300*time.Microsecond)))
	h.clock.Set(t0.Add(11 * time.Second))
	out := h.consumeMetrics(t, metricsOf(serverHist("shop", t0, at, []uint64{0, 0, 1, 1, 0, 0, 0, 0, 0})))
	assert.ElementsMatch(t, []uint64{1, 2}, exemplarIDs(out)[0])
}

// A fresh span serves its own bucket while a straddling one fills the owed
// neighbour; the late span is not needed.
func TestAssignOwedStraddle(t *testing.T) {
	h := newHarness(t, createDefaultConfig())
	p0 := t0.Add(10 * time.Second)
	h.clock.Set(t0.Add(11 * time.Second))
	h.consumeMetrics(t, metricsOf(cumulative(serverHist("shop", t0, p0, []uint64{0, 1, 0, 0, 0, 0, 0, 0, 0}))))
	h.clock.Set(t0.Add(16 * time.Second))
	h.consumeTraces(t, tracesOf(
		serverSpan(1, "shop", "/a", p0.Add(time.Millisecond), 10300*time.Microsecond),  // x: fresh in (.01,.025]; straddles bucket 1's owed interval
		serverSpan(3, "shop", "/a", p0.Add(1500*time.Microsecond), 4*time.Millisecond), // z: straddles bucket 1's owed interval, later end
	))
	h.consumeTraces(t, tracesOf(serverSpan(2, "shop", "/a", p0.Add(-time.Second), 15*time.Millisecond))) // y: late, (.01,.025]
	h.clock.Set(t0.Add(21 * time.Second))
	out := h.consumeMetrics(t, metricsOf(cumulative(serverHist("shop", t0, t0.Add(20*time.Second), []uint64{0, 1, 1, 0, 0, 0, 0, 0, 0}))))
	assert.Equal(t, [][]uint64{{3, 1}}, exemplarIDs(out))
}

// Three buckets, three spans, two of them near a bound: all three filled.
func TestAssignChain(t *testing.T) {
	h := newHarness(t, createDefaultConfig())
	h.consumeTraces(t, tracesOf(serverSpan(9, "shop", "/a", t0.Add(9500*time.Millisecond), 60*time.Millisecond)))
	h.clock.Set(t0.Add(11 * time.Second))
	h.consumeMetrics(t, metricsOf(cumulative(serverHist("shop", t0, t0.Add(10*time.Second), []uint64{0, 0, 0, 0, 1, 0, 0, 0, 0}))))
	h.clock.Set(t0.Add(17 * time.Second))
	h.consumeTraces(t, tracesOf(
		serverSpan(1, "shop", "/a", t0.Add(15*time.Second), 74300*time.Microsecond), // a
		serverSpan(3, "shop", "/a", t0.Add(16*time.Second), 50900*time.Microsecond), // c
	))
	h.consumeTraces(t, tracesOf(serverSpan(2, "shop", "/a", t0.Add(9*time.Second), 74500*time.Microsecond))) // q: late
	h.clock.Set(t0.Add(21 * time.Second))
	out := h.consumeMetrics(t, metricsOf(cumulative(serverHist("shop", t0, t0.Add(20*time.Second), []uint64{0, 0, 0, 1, 2, 1, 0, 0, 0}))))
	assert.ElementsMatch(t, []uint64{1, 2, 3}, exemplarIDs(out)[0])
}

// A cumulative stream's first point counts every request since the stream
// started, usually before this processor did (a restarted gateway): a bucket
// with no span inside then holds requests the processor never saw, and the
// span next to it is another request, so it must not stand in for it, then
// or later (a late span of that time). When the processor holds a span for
// every request counted, it may; and spans of the intervals it saw begin
// always may.
func TestAssignFirstPointStandInOnlyWhenSeenWhole(t *testing.T) {
	for _, tc := range []struct {
		name   string
		counts []uint64
		want   [][]uint64
		late   [][]uint64 // the next point: bucket 1 owed, or not
		after  bool       // a third span, ending after the point
	}{
		{"eight requests, two spans", []uint64{0, 5, 3, 0, 0, 0, 0, 0, 0}, [][]uint64{{2}}, [][]uint64{{}}, false},
		{"two requests, two spans", []uint64{0, 1, 1, 0, 0, 0, 0, 0, 0}, [][]uint64{{1, 2}}, [][]uint64{{}}, false},
		// As many spans held as requests counted, but one is not the point's.
		{"three requests, two spans before the point", []uint64{0, 2, 1, 0, 0, 0, 0, 0, 0}, [][]uint64{{2}}, [][]uint64{{}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, createDefaultConfig())
			start := t0.Add(-time.Hour)
			h.clock.Set(t0.Add(9 * time.Second))
			h.consumeTraces(t, tracesOf(
				serverSpan(1, "shop", "/a", t0.Add(7*time.Second), 10800*time.Microsecond), // (.01,.025], 0.8 ms above bucket 1
				serverSpan(2, "shop", "/a", t0.Add(8*time.Second), 15*time.Millisecond),    // (.01,.025]
			))
			if tc.after {
				h.consumeTraces(t, tracesOf(serverSpan(5, "shop", "/a", t0.Add(10500*time.Millisecond), 15*time.Millisecond)))
			}
			h.clock.Set(t0.Add(11 * time.Second))
			first := h.consumeMetrics(t, metricsOf(cumulative(serverHist("shop", start, t0.Add(10*time.Second), tc.counts))))
			assert.Equal(t, tc.want, exemplarIDs(first))

			// A late span from before that point, next to bucket 1.
			h.clock.Set(t0.Add(12 * time.Second))
			h.consumeTraces(t, tracesOf(serverSpan(4, "shop", "/a", t0.Add(9500*time.Millisecond), 10300*time.Microsecond)))
			h.clock.Set(t0.Add(16 * time.Second))
			same := h.consumeMetrics(t, metricsOf(cumulative(serverHist("shop", start, t0.Add(15*time.Second), tc.counts))))
			assert.Equal(t, tc.late, exemplarIDs(same))

			// The next interval: one more request in bucket 1, whose span
			// lasted a little longer than the metric measured.
			h.consumeTraces(t, tracesOf(serverSpan(3, "shop", "/a", t0.Add(17*time.Second), 10500*time.Microsecond)))
			h.clock.Set(t0.Add(21 * time.Second))
			next := append([]uint64(nil), tc.counts...)
			next[1]++
			out := h.consumeMetrics(t, metricsOf(cumulative(serverHist("shop", start, t0.Add(20*time.Second), next))))
			assert.Equal(t, [][]uint64{{3}}, exemplarIDs(out))
			assert.Equal(t, []float64{0.01}, firstExemplarValues(out), "value clamped to the bucket's bound")
		})
	}
}

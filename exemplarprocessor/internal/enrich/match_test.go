// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/buckets"
)

// The assignment of spans to the buckets of one point when spans within the
// tolerance could serve a neighbour: as many buckets as possible get an
// exemplar, each span serves at most one, and a bucket prefers spans inside
// it, fresh ones, later ones. (Moved here from the processor's
// assignment_test.go; the timelines are the same.)

// A late span must not be preferred for nothing: the fresh span stays in its
// own bucket when the neighbour cannot use it.
func TestAssignFreshStaysWhenNeighbourCannotUseIt(t *testing.T) {
	f := newFixture(t).tolerant(defaultTolerance)
	f.run(step{point: cumulative(0, 10*sec, 0, 0, 0, 0, 0, 0, 0, 0, 0)})
	f.add(
		sp{n: 1, end: 15 * sec, dur: 120 * msec, arrive: 16 * sec}, // fresh, bucket 6
		sp{n: 2, end: 5 * sec, dur: 150 * msec, arrive: 16 * sec},  // late, bucket 6
	)
	p := cumulative(0, 20*sec, 0, 0, 0, 0, 0, 1, 1, 0, 0)
	res := f.enrich(p, 21*sec)
	assert.Equal(t, map[int]uint64{6: 1}, byBucket(p))
	assert.Equal(t, 1, res.Unfilled)
}

// The own bucket's other span lies only within the tolerance: still both
// buckets get one, both values clamped.
func TestAssignSwapWhenOwnBucketHasOnlyANearSpan(t *testing.T) {
	f := newFixture(t).tolerant(defaultTolerance)
	f.add(
		sp{n: 1, end: 5 * sec, dur: 25056 * usec}, // (25,50], 0.056 ms above 25 ms
		sp{n: 2, end: 6 * sec, dur: 50069 * usec}, // (50,75], 0.069 ms above 50 ms
	)
	p := delta(0, 10*sec, 0, 0, 1, 1, 0, 0, 0, 0, 0)
	f.enrich(p, 11*sec)
	assert.Equal(t, map[int]uint64{2: 1, 3: 2}, byBucket(p))
	assert.InDelta(t, 25.0, exemplarOf(t, p, 1).DoubleValue(), 1e-9)
	assert.InDelta(t, 50.0, exemplarOf(t, p, 2).DoubleValue(), 1e-9)
}

// Whatever order the spans arrive in, both buckets are filled.
func TestAssignIndependentOfArrivalOrder(t *testing.T) {
	for _, xLast := range []bool{true, false} {
		f := newFixture(t).tolerant(defaultTolerance)
		y := sp{n: 1, end: 5 * sec, dur: 6 * msec, arrive: 7 * sec}
		x := sp{n: 2, end: 6 * sec, dur: 8200 * usec, arrive: 7 * sec} // 1.8 ms below 10 ms
		if xLast {
			f.add(y, x)
		} else {
			f.add(x, y)
		}
		p := delta(0, 10*sec, 0, 1, 1, 0, 0, 0, 0, 0, 0)
		f.enrich(p, 11*sec)
		assert.Equal(t, map[int]uint64{1: 1, 2: 2}, byBucket(p), "x last: %t", xLast)
	}
}

// A bucket keeps a fresh span of its own; its late near span fills the
// neighbour.
func TestAssignLateNearSpanFillsNeighbour(t *testing.T) {
	f := newFixture(t).tolerant(defaultTolerance)
	f.run(step{point: cumulative(0, 10*sec, 0, 0, 0, 0, 0, 0, 0, 0, 0)})
	f.add(
		sp{n: 1, end: 15 * sec, dur: 2 * msec, arrive: 16 * sec},   // y: fresh, bucket 0
		sp{n: 2, end: 5 * sec, dur: 3970 * usec, arrive: 16 * sec}, // x: late, near bucket 1
	)
	p := cumulative(0, 20*sec, 1, 1, 0, 0, 0, 0, 0, 0, 0)
	f.enrich(p, 21*sec)
	assert.Equal(t, map[int]uint64{0: 1, 1: 2}, byBucket(p))
}

// A near span another bucket needs does not end the search for this one.
func TestAssignSearchGoesOnPastATakenSpan(t *testing.T) {
	f := newFixture(t).tolerant(defaultTolerance)
	f.add(
		sp{n: 2, end: 10*sec + 1300*usec, dur: 26800 * usec, arrive: 10500 * msec},
		sp{n: 1, end: 10*sec + 500*usec, dur: 24300 * usec, arrive: 10500 * msec},
	)
	p := delta(0, 10*sec, 0, 0, 1, 1, 0, 0, 0, 0, 0)
	f.enrich(p, 11*sec)
	assert.ElementsMatch(t, []uint64{1, 2}, spansOf(p))
}

// A fresh span serves its own bucket while a straddling one fills the owed
// neighbour; the late span is not needed.
func TestAssignOwedStraddle(t *testing.T) {
	f := newFixture(t).tolerant(defaultTolerance)
	f.run(step{point: cumulative(0, 10*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)})
	f.add(
		sp{n: 1, end: 10*sec + msec, dur: 10300 * usec, arrive: 16 * sec},  // x: fresh in (10,25]; straddles bucket 1's owed interval
		sp{n: 3, end: 10*sec + 1500*usec, dur: 4 * msec, arrive: 16 * sec}, // z: straddles bucket 1's owed interval, later end
		sp{n: 2, end: 9 * sec, dur: 15 * msec, arrive: 16 * sec},           // y: late, (10,25]
	)
	p := cumulative(0, 20*sec, 0, 1, 1, 0, 0, 0, 0, 0, 0)
	f.enrich(p, 21*sec)
	assert.Equal(t, map[int]uint64{1: 3, 2: 1}, byBucket(p))
	assert.Equal(t, uint64(at(10*sec)), uint64(exemplarOf(t, p, 3).Timestamp()), "the owed interval's end")
}

// Three buckets, three spans, two of them near a bound: all three filled.
func TestAssignChain(t *testing.T) {
	f := newFixture(t).tolerant(defaultTolerance)
	f.run(step{add: []sp{{n: 9, end: 9500 * msec, dur: 60 * msec}}, point: cumulative(0, 10*sec, 0, 0, 0, 0, 1, 0, 0, 0, 0)})
	f.add(
		sp{n: 1, end: 15 * sec, dur: 74300 * usec, arrive: 17 * sec}, // a
		sp{n: 3, end: 16 * sec, dur: 50900 * usec, arrive: 17 * sec}, // c
		sp{n: 2, end: 9 * sec, dur: 74500 * usec, arrive: 17 * sec},  // q: late
	)
	p := cumulative(0, 20*sec, 0, 0, 0, 1, 2, 1, 0, 0, 0)
	f.enrich(p, 21*sec)
	assert.ElementsMatch(t, []uint64{1, 2, 3}, spansOf(p))
}

// A span outside its bucket fills a bucket only in the second pass: it
// leaves its own bucket only when that bucket can take another span.
func TestAssignSpanLeavesItsBucketOnlyForAnother(t *testing.T) {
	x := sp{n: 1, end: 5 * sec, dur: 24500 * usec, arrive: 6 * sec} // (10,25], 0.5 ms below 25
	y := sp{n: 2, end: 4 * sec, dur: 20 * msec, arrive: 6 * sec}    // (10,25], far from 25
	for _, tc := range []struct {
		name  string
		spans []sp
		want  map[int]uint64
	}{
		{"its bucket has no other: it stays, unclamped", []sp{x}, map[int]uint64{2: 1}},
		{"its bucket can take another: it moves", []sp{x, y}, map[int]uint64{2: 2, 3: 1}},
		{"its bucket can take another, arrived first", []sp{y, x}, map[int]uint64{2: 2, 3: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t).tolerant(defaultTolerance)
			f.add(tc.spans...)
			p := delta(0, 10*sec, 0, 0, 1, 1, 0, 0, 0, 0, 0)
			f.enrich(p, 11*sec)
			assert.Equal(t, tc.want, byBucket(p))
			if tc.want[2] == 1 {
				assert.InDelta(t, 24.5, exemplarOf(t, p, 1).DoubleValue(), 1e-9)
			}
		})
	}
}

// Two buckets want the same span from outside them and neither has
// another: the slowest bucket gets it.
func TestAssignSlowestBucketFirst(t *testing.T) {
	f := newFixture(t).tolerant(defaultTolerance)
	f.add(sp{n: 1, end: 5 * sec, dur: 11500 * usec}) // (11,12]: 0.5 ms from both neighbours
	p := explicitWith([]float64{10, 11, 12}, false, 0, 10*sec, 0, 1, 0, 1)
	res := f.enrich(p, 11*sec)
	assert.Equal(t, map[int]uint64{3: 1}, byBucket(p))
	assert.Equal(t, 1, res.Unfilled)
	v := exemplarOf(t, p, 1).DoubleValue()
	assert.Greater(t, v, 12.0)
	assert.InDelta(t, 12.0, v, 1e-9)
}

// KNOWN BUG (reported to the lead): two spans that each straddle the point
// inside their own bucket, each within the tolerance of the other's bucket.
// Both buckets are filled either way, so the match.go rule "an unclamped
// exemplar is preferred whenever it costs no bucket" wants each span in its
// own bucket with its own duration. Today they swap and both values are
// clamped: a straddler's own bucket ranks it rankNearFresh like a
// neighbour's stand-in, pass one (insideOnly) skips it, and pass two orders
// by end time only, so the slower bucket takes the later-ending neighbour.
func TestAssignStraddlersKeepTheirOwnBuckets(t *testing.T) {
	knownBug(t, "straddling spans swap buckets and both get clamped values")
	f := newFixture(t).tolerant(defaultTolerance)
	f.add(
		sp{n: 2, end: 10*sec + 1300*usec, dur: 26800 * usec, arrive: 10500 * msec}, // (25,50]
		sp{n: 1, end: 10*sec + 500*usec, dur: 24300 * usec, arrive: 10500 * msec},  // (10,25]
	)
	p := delta(0, 10*sec, 0, 0, 1, 1, 0, 0, 0, 0, 0)
	f.enrich(p, 11*sec)
	require.ElementsMatch(t, []uint64{1, 2}, spansOf(p))
	assert.Equal(t, map[int]uint64{2: 1, 3: 2}, byBucket(p))
}

// matchCase is a random delta point of matchBounds whose spans all ended
// inside its window (0, 10s], with the model of which bucket each span may
// serve: inside it, or within the 2 ms tolerance of it.
type matchCase struct {
	counts []uint64
	spans  []sp
	values []float64 // each span's duration in ms
}

func matchBounds() buckets.Explicit { return buckets.Explicit{Bounds: []float64{2, 4, 6, 8, 10, 12}} }

const matchTolerance = 2.0 // ms

func randomMatchCase(rng *rand.Rand) matchCase {
	var mc matchCase
	mc.counts = make([]uint64, matchBounds().Len())
	for b := range mc.counts {
		if rng.IntN(5) < 3 {
			mc.counts[b] = 1
		}
	}
	mc.spans = make([]sp, 1+rng.IntN(6))
	mc.values = make([]float64, len(mc.spans))
	for i := range mc.spans {
		dur := time.Duration(500e3 + rng.Int64N(13_500e3)) // 0.5 to 14 ms
		mc.values[i] = float64(dur) / 1e6
		mc.spans[i] = sp{n: uint64(i + 1), end: time.Duration(1e9 + rng.Int64N(8e9)), dur: dur, arrive: 9500 * msec}
	}
	return mc
}

func (mc *matchCase) canServe(s, b int) bool {
	if mc.counts[b] == 0 {
		return false
	}
	l := matchBounds()
	v := mc.values[s]
	lo, hi := l.Range(b)
	return l.Of(v) == b || (v > hi && v-hi <= matchTolerance) || (v <= lo && lo-v < matchTolerance)
}

func (mc *matchCase) inside(s, b int) bool { return matchBounds().Of(mc.values[s]) == b }

func (mc *matchCase) String() string {
	return fmt.Sprintf("counts %v, span values %v", mc.counts, mc.values)
}

// enrich runs the case through a fresh fixture and returns the point.
func (mc *matchCase) enrich(t *testing.T) (*Point, Result) {
	f := newFixture(t).tolerant(defaultTolerance)
	f.add(mc.spans...)
	p := explicitWith(matchBounds().Bounds, false, 0, 10*sec, mc.counts...)
	return p, f.enrich(p, 10*sec+sec/2)
}

// best is the largest assignment of spans to buckets and, among the
// largest, the most spans inside their own bucket (brute force).
func (mc *matchCase) best() (size, inside int) {
	used := make([]bool, len(mc.spans))
	var rec func(b int) (int, int)
	rec = func(b int) (int, int) {
		if b == len(mc.counts) {
			return 0, 0
		}
		bs, bi := rec(b + 1) // bucket b left empty
		for s := range mc.spans {
			if used[s] || !mc.canServe(s, b) {
				continue
			}
			used[s] = true
			x, i := rec(b + 1)
			x++
			if mc.inside(s, b) {
				i++
			}
			if x > bs || (x == bs && i > bi) {
				bs, bi = x, i
			}
			used[s] = false
		}
		return bs, bi
	}
	return rec(0)
}

// On random delta points the assignment is checked against a model of its
// contract: each exemplar names a span inside its bucket or within the
// tolerance of it (value then clamped into the bucket), each span serves
// one bucket, each bucket holds one exemplar, every target bucket with a
// span inside it is filled, and as many buckets are filled as any
// assignment could fill.
func TestAssignmentIsAMaximumMatching(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	l := matchBounds()
	for iter := range 300 {
		mc := randomMatchCase(rng)
		p, res := mc.enrich(t)
		desc := fmt.Sprintf("iteration %d: %s", iter, &mc)
		got := byBucket(p)
		require.Len(t, got, p.Exemplars.Len(), "one exemplar per bucket; %s", desc)
		seen := map[uint64]bool{}
		for b, n := range got {
			require.False(t, seen[n], "span %d serves one bucket; %s", n, desc)
			seen[n] = true
			s := int(n - 1)
			require.True(t, mc.canServe(s, b), "span %d may serve bucket %d; %s", n, b, desc)
			v := exemplarOf(t, p, n).DoubleValue()
			if mc.inside(s, b) {
				require.InDelta(t, mc.values[s], v, 1e-9, "inside its bucket: its own value; %s", desc)
			} else {
				require.Equal(t, b, l.Of(v), "clamped into the bucket; %s", desc)
				require.LessOrEqual(t, math.Abs(v-mc.values[s]), matchTolerance+1e-9, desc)
			}
		}
		for s, v := range mc.values {
			b := l.Of(v)
			require.True(t, mc.counts[b] == 0 || got[b] != 0, "bucket %d holds span %d: filled; %s", b, s+1, desc)
		}
		size, _ := mc.best()
		require.Len(t, got, size, "as many buckets as can be filled; %s", desc)
		require.Equal(t, len(got), res.Matched)
		require.Equal(t, int(total(mc.counts))-len(got), res.Unfilled, desc)
	}
}

// KNOWN BUG (reported to the lead): "an unclamped exemplar is preferred
// whenever it costs no bucket" (match.go) does not hold. Augmenting paths
// give a maximum number of filled buckets, but not the most spans inside
// their own bucket among those: in 56 of 2000 random cases of this model
// (11 of the 300 below) a maximum assignment with more unclamped exemplars
// existed. For example, with counts [1 1 0 1 1 0 1] and spans of 10.145,
// 7.638 and 4.240 ms, all three are clamped today (4.240 into (6,8], 7.638
// into (8,10], 10.145 into (12,+inf)) where three buckets are filled as
// well with 7.638 unclamped in (6,8], 4.240 in (2,4] and 10.145 in (8,10].
// Keeping both counts optimal is an assignment problem (weights for inside
// edges, e.g. the Hungarian algorithm on these small lists).
func TestAssignmentPrefersUnclamped(t *testing.T) {
	knownBug(t, "the assignment clamps spans that could stay inside their own bucket at no cost")
	rng := rand.New(rand.NewPCG(7, 11))
	for iter := range 300 {
		mc := randomMatchCase(rng)
		p, _ := mc.enrich(t)
		inside := 0
		for b, n := range byBucket(p) {
			if mc.inside(int(n-1), b) {
				inside++
			}
		}
		_, want := mc.best()
		assert.Equal(t, want, inside, "iteration %d: %s; got %v", iter, &mc, byBucket(p))
	}
}

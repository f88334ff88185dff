// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/buckets"
)

// Stand-ins: a span whose duration lies within exemplars.duration_tolerance
// outside a bucket that needs an exemplar may fill it, its value clamped
// into the bucket. These tests pin today's rule (a symmetric tolerance, and
// the SeenFrom / seen-whole evidence for cumulative streams); the rule is
// about to change to a direction-aware skew per instrumentation with count
// evidence, and these are the tests to rewrite with it.

// The value is the bucket's value nearest the span's duration: explicit
// buckets are upper-inclusive, exponential bounds are computed.
func TestStandInValueIsClampedIntoTheBucket(t *testing.T) {
	nextAbove := func(v float64) float64 { return math.Nextafter(v, math.Inf(1)) }
	for _, tc := range []struct {
		name      string
		dur       time.Duration
		tolerance time.Duration
		want      float64 // 0: no exemplar
	}{
		{"above the bucket: its upper bound", 10800 * usec, defaultTolerance, 10},
		{"above by the whole tolerance", 12 * msec, defaultTolerance, 10},
		{"above beyond the tolerance", 12*msec + usec, defaultTolerance, 0},
		{"below the bucket: just above its lower bound", 4500 * usec, defaultTolerance, nextAbove(5)},
		{"below, 1.9 ms", 3100 * usec, defaultTolerance, nextAbove(5)},
		{"below beyond the tolerance", 2900 * usec, defaultTolerance, 0},
		{"tolerance 0: no stand-ins", 10800 * usec, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t).tolerant(tc.tolerance)
			f.add(sp{n: 1, end: 5 * sec, dur: tc.dur})
			p := delta(0, 10*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)
			f.enrich(p, 11*sec)
			if tc.want == 0 {
				assert.Zero(t, p.Exemplars.Len())
				return
			}
			require.Equal(t, map[int]uint64{1: 1}, byBucket(p))
			assert.Equal(t, tc.want, exemplarOf(t, p, 1).DoubleValue()) // the exact bound
		})
	}
}

func TestStandInValueIsClampedIntoAnExponentialBucket(t *testing.T) {
	// Scale 3, offset 8: (2, 2.181], (2.181, 2.378], (2.378, 2.594] ms;
	// only the middle one needs an exemplar.
	lo, hi := buckets.LowerBound(9, 3), buckets.LowerBound(10, 3)
	for _, tc := range []struct {
		name  string
		dur   time.Duration
		bound float64
	}{
		{"from the bucket above", 2500 * usec, hi},
		{"from the bucket below", 2100 * usec, lo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t).tolerant(defaultTolerance)
			f.add(sp{n: 1, end: 5 * sec, dur: tc.dur})
			p := expPoint(false, 3, 8, 0, 10*sec, 0, 0, 1, 0)
			f.enrich(p, 11*sec)
			require.Equal(t, map[int]uint64{2: 1}, byBucket(p))
			v := exemplarOf(t, p, 1).DoubleValue()
			assert.Equal(t, 2, p.Layout.Of(v), "inside the bucket by the exact mapping")
			assert.InDelta(t, tc.bound, v, 1e-12, "at the bound nearest the span's duration")
		})
	}
}

// A cumulative stream's first point counts every request since the stream
// started, usually before this processor did (a restarted gateway): a bucket
// with no span inside then holds requests the processor never saw, and the
// span next to it is another request, so it must not stand in for it, then
// or later (a late span of that time). When the processor holds a span for
// every request counted, it may; and spans of the intervals it saw begin
// always may. (Moved here from the processor's assignment_test.go.)
func TestStandInOnAFirstPointOnlyWhenSeenWhole(t *testing.T) {
	for _, tc := range []struct {
		name     string
		counts   []uint64
		want     map[int]uint64
		after    bool // a third span, ending after the point
		seenFrom time.Duration
	}{
		{"eight requests, two spans", []uint64{0, 5, 3, 0, 0, 0, 0, 0, 0}, map[int]uint64{2: 2}, false, 10 * sec},
		{"two requests, two spans", []uint64{0, 1, 1, 0, 0, 0, 0, 0, 0}, map[int]uint64{1: 1, 2: 2}, false, -time.Hour},
		// As many spans held as requests counted, but one is not the point's.
		{"three requests, two spans before the point", []uint64{0, 2, 1, 0, 0, 0, 0, 0, 0}, map[int]uint64{2: 2}, true, 10 * sec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t).tolerant(defaultTolerance)
			start := -time.Hour
			spans := []sp{
				{n: 1, end: 7 * sec, dur: 10800 * usec, arrive: 9 * sec}, // (10,25], 0.8 ms above bucket 1
				{n: 2, end: 8 * sec, dur: 15 * msec, arrive: 9 * sec},    // (10,25]
			}
			if tc.after {
				spans = append(spans, sp{n: 5, end: 10500 * msec, dur: 15 * msec, arrive: 10500 * msec})
			}
			first := cumulative(start, 10*sec, tc.counts...)
			f.run(step{add: spans, point: first, proc: 11 * sec})
			assert.Equal(t, tc.want, byBucket(first))
			prev, _, _ := f.previous()
			assert.Equal(t, at(tc.seenFrom), prev.SeenFrom)

			// A late span from before that point, next to bucket 1.
			same := cumulative(start, 15*sec, tc.counts...)
			f.run(step{add: []sp{{n: 4, end: 9500 * msec, dur: 10300 * usec, arrive: 12 * sec}}, point: same, proc: 16 * sec})
			assert.Empty(t, byBucket(same))

			// The next interval: one more request in bucket 1, whose span
			// lasted a little longer than the metric measured.
			next := append([]uint64(nil), tc.counts...)
			next[1]++
			p := cumulative(start, 20*sec, next...)
			f.run(step{add: []sp{{n: 3, end: 17 * sec, dur: 10500 * usec}}, point: p, proc: 21 * sec})
			assert.Equal(t, map[int]uint64{1: 3}, byBucket(p))
			assert.Equal(t, []float64{10}, exemplarValues(p), "value clamped to the bucket's bound")
		})
	}
}

// On a continuing stream a span may stand in only if it ended after the
// stream's SeenFrom: the first point's start when the processor saw it
// whole, else its time.
func TestStandInOnAContinuingStreamOnlyAfterSeenFrom(t *testing.T) {
	for _, tc := range []struct {
		name string
		held []sp
		want map[int]uint64
	}{
		{
			name: "first point not seen whole: a late span of its time may not stand in",
			held: []sp{{n: 1, end: 5 * sec, dur: 15 * msec}},
			want: map[int]uint64{},
		},
		{
			name: "first point seen whole: it may",
			held: []sp{{n: 1, end: 5 * sec, dur: 15 * msec}, {n: 2, end: 6 * sec, dur: 40 * msec}},
			want: map[int]uint64{1: 4},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t).tolerant(defaultTolerance)
			first := cumulative(0, 10*sec, 0, 1, 1, 0, 0, 0, 0, 0, 0)
			f.run(step{add: tc.held, point: first})
			require.Equal(t, map[int]uint64{2: 1}, byBucket(first), "bucket 1 is owed")

			p := cumulative(0, 20*sec, 0, 1, 1, 0, 0, 0, 0, 0, 0)
			f.run(step{add: []sp{{n: 4, end: 9500 * msec, dur: 10300 * usec, arrive: 12 * sec}}, point: p})
			assert.Equal(t, tc.want, byBucket(p))
		})
	}
}

func exemplarValues(p *Point) []float64 {
	var out []float64
	for i := 0; i < p.Exemplars.Len(); i++ {
		out = append(out, p.Exemplars.At(i).DoubleValue())
	}
	return out
}

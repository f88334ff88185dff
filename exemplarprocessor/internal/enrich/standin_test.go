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

// Stand-ins: a span from outside a bucket that needs an exemplar may fill
// it, its value clamped into the bucket, only where it is very likely the
// request the bucket counted, timed differently: it ended in the window
// since the previous point; its instrumentation's timing (direction-aware,
// within exemplars.duration_tolerance) admits the bucket; and its own
// bucket holds more of the window's spans than it counted. In the delta
// points below the span's own bucket counts nothing, unless a case says
// otherwise.

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

// The instrumentation's timing says in which direction, and how far, its
// metric may differ from the span: Node.js http's metric is never shorter
// than the span, and longer by at most about a millisecond.
func TestStandInFollowsTheTimingsDirection(t *testing.T) {
	for _, tc := range []struct {
		name string
		dur  time.Duration
		want map[int]uint64
	}{
		{"span 0.5 ms below the bucket: the metric was longer", 4500 * usec, map[int]uint64{1: 1}},
		{"span 1.1 ms below", 3900 * usec, map[int]uint64{1: 1}},
		{"span 1.5 ms below: beyond the timing", 3500 * usec, map[int]uint64{}},
		{"span 0.1 ms above: the metric is never shorter", 10100 * usec, map[int]uint64{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t).tolerant(defaultTolerance).timed(-10*usec, 1200*usec)
			f.add(sp{n: 1, end: 5 * sec, dur: tc.dur})
			p := delta(0, 10*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)
			f.enrich(p, 11*sec)
			assert.Equal(t, tc.want, byBucket(p))
		})
	}
}

// Count evidence: a span stands in only when its own bucket holds more of
// the window's spans than it counted, so one of them was counted elsewhere.
// A cumulative stream's first point counts every request since the stream
// started, usually before this processor did (a restarted gateway): its
// buckets then hold more requests than spans, and no span stands in.
func TestStandInNeedsCountEvidence(t *testing.T) {
	near := sp{n: 1, end: 7 * sec, dur: 10800 * usec} // (10,25], 0.8 ms above bucket 1
	other := sp{n: 2, end: 8 * sec, dur: 15 * msec}   // (10,25]
	for _, tc := range []struct {
		name  string
		p     *Point
		spans []sp
		want  map[int]uint64
	}{
		{"own bucket counted nothing", delta(0, 10*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0), []sp{near}, map[int]uint64{1: 1}},
		{"own bucket counted it", delta(0, 10*sec, 0, 1, 1, 0, 0, 0, 0, 0, 0), []sp{near}, map[int]uint64{2: 1}},
		{"own bucket holds one more than it counted", delta(0, 10*sec, 0, 1, 1, 0, 0, 0, 0, 0, 0), []sp{near, other}, map[int]uint64{1: 1, 2: 2}},
		{"first point after a restart: eight requests, two spans", cumulative(-time.Hour, 10*sec, 0, 5, 3, 0, 0, 0, 0, 0, 0), []sp{near, other}, map[int]uint64{2: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t).tolerant(defaultTolerance)
			f.add(tc.spans...)
			f.enrich(tc.p, 11*sec)
			assert.Equal(t, tc.want, byBucket(tc.p))
		})
	}
}

// A late span (ended before the previous point, arrived after it) never
// stands in: the bucket waits for its own late span instead, and takes it
// when it comes, within the late window.
func TestStandInNotFromLateSpans(t *testing.T) {
	f := newFixture(t).tolerant(defaultTolerance)
	first := cumulative(0, 10*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)
	f.run(step{point: first})
	require.Empty(t, byBucket(first), "bucket 1 grew without a span: owed")

	p := cumulative(0, 20*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)
	f.run(step{add: []sp{{n: 4, end: 9500 * msec, dur: 10300 * usec, arrive: 12 * sec}}, point: p})
	assert.Empty(t, byBucket(p), "a late span 0.3 ms above the owed bucket does not stand in")

	q := cumulative(0, 30*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)
	f.run(step{add: []sp{{n: 5, end: 9700 * msec, dur: 8 * msec, arrive: 22 * sec}}, point: q})
	assert.Equal(t, map[int]uint64{1: 5}, byBucket(q), "its own late span recovers it")
}

// Of two spans that could stand in, the nearer is the likelier the request.
func TestStandInNearestFirst(t *testing.T) {
	f := newFixture(t).tolerant(defaultTolerance)
	f.add(
		sp{n: 2, end: 7 * sec, dur: 10200 * usec}, // 0.2 ms above
		sp{n: 1, end: 8 * sec, dur: 11800 * usec}, // 1.8 ms above, ended later
	)
	p := delta(0, 10*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)
	f.enrich(p, 11*sec)
	assert.Equal(t, map[int]uint64{1: 2}, byBucket(p))
}

// A request is counted in one bucket: a span the stream already named
// serves no bucket again. Bucket (10, 11] ms is owed an exemplar for point
// 0's interval, whose span (1) arrives late; on point 1 it grew again, by
// one, with two spans of its own (2 and 3), and (≤10] counted one request
// with no span. The late span serves the older interval, span 2 stands in
// for (≤10] (its bucket holds two spans for one request), and (10, 11] is
// owed point 1's interval in turn: point 2 serves it with span 3, although
// span 2 ended first and arrived as early.
func TestAUsedSpanServesNoOwedInterval(t *testing.T) {
	bounds := []float64{10, 11, 12}
	f := newFixture(t).tolerant(defaultTolerance)
	p0 := explicitWith(bounds, true, 0, 10*sec, 0, 1, 0, 0)
	f.enrich(p0, 11*sec)
	require.Empty(t, byBucket(p0), "its span is not there yet")

	f.add(sp{n: 1, end: 8 * sec, dur: 10500 * usec, arrive: 12 * sec},
		sp{n: 2, end: 13 * sec, dur: 10200 * usec}, sp{n: 3, end: 15 * sec, dur: 10900 * usec})
	p1 := explicitWith(bounds, true, 0, 20*sec, 1, 2, 0, 0)
	f.enrich(p1, 21*sec)
	require.Equal(t, map[int]uint64{0: 2, 1: 1}, byBucket(p1), "the owed interval first, a stand-in for (≤10]")

	p2 := explicitWith(bounds, true, 0, 30*sec, 1, 2, 0, 0)
	f.enrich(p2, 31*sec)
	assert.Equal(t, map[int]uint64{1: 3}, byBucket(p2), "the newer interval, by the span not named yet")
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Bucket choice: which buckets of a point get an exemplar, from which
// window, compared with the stream's previous point.
func TestBucketChoice(t *testing.T) {
	// One span in each of buckets 1, 2 and 3, inside (10s, 20s], and one in
	// bucket 1 that ended at 9.9s but reached the collector last, so a
	// bucket 1 walk meets it first.
	inWindow := []sp{
		{n: 1, end: 15 * sec, dur: 7 * msec},
		{n: 2, end: 16 * sec, dur: 15 * msec},
		{n: 3, end: 17 * sec, dur: 30 * msec},
		{n: 4, end: 9900 * msec, dur: 8 * msec, arrive: 18 * sec},
	}
	for _, tc := range []struct {
		name  string
		steps []step
		want  map[int]uint64 // bucket -> span of the last point
		// reason and unfilled of the last point
		reason   Reason
		unfilled int
	}{
		{
			name:  "delta: buckets with counts, spans of (start, time]",
			steps: []step{{add: inWindow, point: delta(10*sec, 20*sec, 0, 1, 0, 1, 0, 0, 0, 0, 0)}},
			want:  map[int]uint64{1: 1, 3: 3},
		},
		{
			name:  "cumulative first point: buckets with counts, spans of (start, time]",
			steps: []step{{add: inWindow, point: cumulative(10*sec, 20*sec, 0, 1, 0, 1, 0, 0, 0, 0, 0)}},
			want:  map[int]uint64{1: 1, 3: 3},
		},
		{
			name:     "delta: a span that ended at or before the start is not the point's",
			steps:    []step{{add: []sp{{n: 4, end: 9 * sec, dur: 8 * msec}}, point: delta(10*sec, 20*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)}},
			want:     map[int]uint64{},
			reason:   ReasonNoSpan,
			unfilled: 1,
		},
		{
			name: "continuing: only grown buckets, spans of (previous time, time]",
			steps: []step{
				{add: []sp{{n: 11, end: 5 * sec, dur: 7 * msec}}, point: cumulative(0, 10*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)},
				{add: inWindow[:3], point: cumulative(0, 20*sec, 0, 1, 1, 0, 0, 0, 0, 0, 0)},
			},
			want: map[int]uint64{2: 2},
		},
		{
			name: "continuing: a span that ended before the previous point and arrived before it is not a candidate",
			steps: []step{
				{add: []sp{{n: 5, end: 8 * sec, dur: 15 * msec}}, point: cumulative(0, 10*sec, 0, 0, 0, 0, 0, 0, 0, 0, 0)},
				{add: []sp{decoy(99, 15*msec, 12*sec)}, point: cumulative(0, 20*sec, 0, 0, 1, 0, 0, 0, 0, 0, 0)},
			},
			want:     map[int]uint64{},
			reason:   ReasonNoSpan,
			unfilled: 1,
		},
		{
			name: "a count that fell starts the stream afresh: window (start, time]",
			steps: []step{
				{add: []sp{{n: 5, end: 8 * sec, dur: 15 * msec}}, point: cumulative(0, 10*sec, 0, 3, 0, 0, 0, 0, 0, 0, 0)},
				{point: cumulative(0, 20*sec, 0, 1, 1, 0, 0, 0, 0, 0, 0)},
			},
			want:     map[int]uint64{2: 5},
			unfilled: 1, // bucket 1 has no span
		},
		{
			name: "a changed start time starts the stream afresh: window (new start, time]",
			steps: []step{
				{point: cumulative(0, 10*sec, 0, 0, 1, 0, 0, 0, 0, 0, 0)},
				// 6 arrives first: a walk meets 5 first, which ended before
				// the new start but after the previous point.
				{add: []sp{{n: 6, end: 13 * sec, dur: 15 * msec, arrive: 14 * sec}, {n: 5, end: 11 * sec, dur: 15 * msec, arrive: 15 * sec}}, point: cumulative(12*sec, 20*sec, 0, 0, 1, 0, 0, 0, 0, 0, 0)},
			},
			want: map[int]uint64{2: 6},
		},
		{
			name: "changed bounds start the stream afresh",
			steps: []step{
				{add: []sp{{n: 8, end: 8 * sec, dur: 15 * msec}}, point: cumulative(0, 10*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)},
				{point: explicitWith([]float64{5, 10, 25, 50, 75, 100, 250, 500, 1000}, true, 0, 20*sec, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0)},
			},
			want:     map[int]uint64{2: 8},
			unfilled: 1,
		},
		{
			name: "changed bounds, as many buckets: afresh",
			steps: []step{
				{add: []sp{{n: 8, end: 8 * sec, dur: 15 * msec}}, point: cumulative(0, 10*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)},
				{point: explicitWith([]float64{5, 10, 20, 50, 75, 100, 250, 500}, true, 0, 20*sec, 0, 1, 1, 0, 0, 0, 0, 0, 0)},
			},
			want:     map[int]uint64{2: 8},
			unfilled: 1,
		},
		{
			name: "unchanged: same time",
			steps: []step{
				{point: cumulative(0, 10*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)},
				{add: []sp{{n: 1, end: 9 * sec, dur: 7 * msec, arrive: 12 * sec}}, point: cumulative(0, 10*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0), proc: 13 * sec},
			},
			want:   map[int]uint64{},
			reason: ReasonUnchanged,
		},
		{
			name: "out of order: an older time",
			steps: []step{
				{point: cumulative(0, 10*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)},
				{add: []sp{{n: 1, end: 4 * sec, dur: 7 * msec, arrive: 12 * sec}}, point: cumulative(0, 5*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0), proc: 13 * sec},
			},
			want:   map[int]uint64{},
			reason: ReasonOutOfOrder,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			res := f.run(tc.steps...)
			last := tc.steps[len(tc.steps)-1].point
			assert.Equal(t, tc.want, byBucket(last))
			assert.Equal(t, tc.reason, res.Reason)
			assert.Equal(t, tc.unfilled, res.Unfilled)
			assert.Equal(t, len(tc.want), res.Matched)
		})
	}
}

// Unchanged and out-of-order points leave the point and the stream state
// exactly as they were.
func TestNoWorkLeavesStateAsItWas(t *testing.T) {
	for _, tc := range []struct {
		name   string
		time   time.Duration
		reason Reason
	}{
		{"unchanged", 10 * sec, ReasonUnchanged},
		{"out of order", 5 * sec, ReasonOutOfOrder},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.run(step{point: cumulative(0, 10*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)}) // bucket 1 owed now
			before, beforeBuckets, _ := f.previous()
			f.add(sp{n: 1, end: 4 * sec, dur: 7 * msec, arrive: 12 * sec})
			p := cumulative(0, tc.time, 0, 2, 0, 0, 0, 0, 0, 0, 0)
			res := f.enrich(p, 13*sec)
			assert.Equal(t, tc.reason, res.Reason)
			assert.Zero(t, p.Exemplars.Len())
			after, afterBuckets, _ := f.previous()
			assert.Equal(t, before, after)
			assert.Equal(t, beforeBuckets, afterBuckets)
		})
	}
}

// An exponential point downscaled since the previous one: the previous
// buckets are merged into the coarser ones, so only a bucket whose merged
// count grew gets an exemplar.
func TestExponentialDownscale(t *testing.T) {
	f := newFixture(t)
	// Scale 1, offset 0: (1, 1.41], (1.41, 2], (2, 2.83], (2.83, 4] ms.
	first := expPoint(true, 1, 0, 0, 10*sec, 0, 1, 1, 0, 0)
	f.run(step{add: []sp{{n: 21, end: 5 * sec, dur: 1200 * usec}, {n: 22, end: 6 * sec, dur: 1800 * usec}}, point: first})
	require.Equal(t, map[int]uint64{1: 21, 2: 22}, byBucket(first))

	// Scale 0: (1, 2], (2, 4] ms; (1, 2] holds the two requests seen before.
	second := expPoint(true, 0, 0, 0, 20*sec, 0, 2, 1)
	res := f.run(step{add: []sp{{n: 23, end: 15 * sec, dur: 1500 * usec}, {n: 24, end: 16 * sec, dur: 3 * msec}}, point: second})
	assert.Equal(t, map[int]uint64{2: 24}, byBucket(second), "(1, 2] did not grow")
	assert.Equal(t, ReasonNone, res.Reason)
	_, bs, _ := f.previous()
	assert.Equal(t, at(6*sec), bs[1].LastExemplar, "the merged bucket's newest exemplar")

	// An upscale cannot be compared: the stream starts afresh and every
	// bucket with a count may be filled.
	third := expPoint(true, 1, 0, 0, 30*sec, 0, 1, 2, 0, 1)
	f.run(step{add: []sp{{n: 25, end: 25 * sec, dur: 1300 * usec}, {n: 26, end: 26 * sec, dur: 3500 * usec}}, point: third})
	assert.Equal(t, map[int]uint64{1: 25, 2: 23, 4: 26}, byBucket(third), "23 ended in (start, time]")
}

// A cumulative bucket that grew without an exemplar is owed one: a span
// that ended in the interval it grew in and arrives late fills it on a
// later point, within the late window only.
func TestOwedBucketTakesALateSpan(t *testing.T) {
	for _, tc := range []struct {
		name       string
		lateWindow time.Duration
		lateEnd    time.Duration
		want       map[int]uint64
		reason     Reason
		stillOwed  bool
	}{
		{"within the late window", time.Minute, 15 * sec, map[int]uint64{2: 9}, ReasonNone, false},
		{"at the late window's end", 10 * sec, 15 * sec, map[int]uint64{2: 9}, ReasonNone, false},
		// The debt is forgotten with the window.
		{"after the late window", 10*sec - 1, 15 * sec, map[int]uint64{}, ReasonUnchanged, false},
		{"ended before the owed interval", time.Minute, 9 * sec, map[int]uint64{}, ReasonNoSpan, true},
		{"ended at the interval's start", time.Minute, 10 * sec, map[int]uint64{}, ReasonNoSpan, true},
		{"ended at the interval's end", time.Minute, 20 * sec, map[int]uint64{2: 9}, ReasonNone, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.params.LateWindow = tc.lateWindow
			f.run(
				step{point: cumulative(0, 10*sec, 0, 0, 0, 0, 0, 0, 0, 0, 0)},
				step{point: cumulative(0, 20*sec, 0, 0, 1, 0, 0, 0, 0, 0, 0)},
			)
			_, bs, _ := f.previous()
			require.Equal(t, [2]uint64{at(10 * sec), at(20 * sec)}, [2]uint64{bs[2].OwedFrom, bs[2].OwedTo}, "owed for the interval it grew in")

			p := cumulative(0, 30*sec, 0, 0, 1, 0, 0, 0, 0, 0, 0)
			res := f.run(step{add: []sp{{n: 9, end: tc.lateEnd, dur: 15 * msec, arrive: 22 * sec}}, point: p})
			assert.Equal(t, tc.want, byBucket(p))
			assert.Equal(t, tc.reason, res.Reason)
			_, bs, _ = f.previous()
			assert.Equal(t, tc.stillOwed, bs[2].Owed())
		})
	}
}

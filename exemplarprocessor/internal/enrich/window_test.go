// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The window is (start, time]: a span ending exactly at the point's time is
// in, one ending at its start is out; a span ending after the point is out
// unless it straddles the point within the tolerance, and then the
// exemplar takes the point's time.
func TestWindowEdges(t *testing.T) {
	for _, tc := range []struct {
		name      string
		end       time.Duration
		tolerance time.Duration
		// ts is the exemplar's timestamp, 0 for no exemplar.
		ts time.Duration
	}{
		{"ends at the point's time", 20 * sec, 0, 20 * sec},
		{"ends just after the start", 10*sec + 1, 0, 10*sec + 1},
		{"ends at the start", 10 * sec, 0, 0},
		{"ends before the start", 10*sec - 1, defaultTolerance, 0},
		{"ends after the point, no tolerance", 20*sec + 1, 0, 0},
		{"straddles the point within the tolerance", 20*sec + msec, defaultTolerance, 20 * sec},
		{"straddles the point by the whole tolerance", 20*sec + defaultTolerance, defaultTolerance, 20 * sec},
		{"ends after the point beyond the tolerance", 20*sec + defaultTolerance + 1, defaultTolerance, 0},
	} {
		for _, cum := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{false: "/delta", true: "/cumulative"}[cum], func(t *testing.T) {
				f := newFixture(t).tolerant(tc.tolerance)
				p := explicitPoint(cum, 10*sec, 20*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)
				f.run(step{add: []sp{{n: 1, end: tc.end, dur: 7 * msec}, decoy(99, 7*msec, 20900*msec)}, point: p})
				if tc.ts == 0 {
					assert.Zero(t, p.Exemplars.Len())
					return
				}
				ex := exemplarOf(t, p, 1)
				assert.Equal(t, pcommon.Timestamp(at(tc.ts)), ex.Timestamp())
				assert.InDelta(t, 7.0, ex.DoubleValue(), 1e-9, "the value is the span's duration")
			})
		}
	}
}

// Per bucket, exemplar timestamps never go backwards across points: a late
// span that ended before the bucket's newest exemplar cannot fill it.
func TestExemplarTimestampsNeverGoBackwards(t *testing.T) {
	for _, tc := range []struct {
		name    string
		lateEnd time.Duration
		want    map[int]uint64
	}{
		{"ended before the bucket's last exemplar", 8 * sec, map[int]uint64{}},
		{"ended at the bucket's last exemplar", 9 * sec, map[int]uint64{}},
		{"ended after the bucket's last exemplar", 9500 * msec, map[int]uint64{1: 2}},
	} {
		for _, reset := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{false: "", true: "/across a reset"}[reset], func(t *testing.T) {
				f := newFixture(t)
				first := cumulative(0, 10*sec, 0, 2, 0, 0, 0, 0, 0, 0, 0)
				f.run(step{add: []sp{{n: 1, end: 9 * sec, dur: 7 * msec}}, point: first})
				require.Equal(t, map[int]uint64{1: 1}, byBucket(first))
				_, bs, _ := f.previous()
				require.Equal(t, at(9*sec), bs[1].LastExemplar)

				// A reset (a count fell) reads (start, time] again, but the
				// bucket's series downstream is the same: still no older
				// exemplar.
				p := cumulative(0, 20*sec, 0, 3, 0, 0, 0, 0, 0, 0, 0)
				if reset {
					p = cumulative(0, 20*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)
				}
				f.run(step{add: []sp{{n: 2, end: tc.lateEnd, dur: 7 * msec, arrive: 12 * sec}, decoy(99, 7*msec, 12500*msec)}, point: p})
				assert.Equal(t, tc.want, byBucket(p))
			})
		}
	}
}

// A span that straddled a point gave its exemplar the point's time, but
// the bucket remembers the span's own end: it cannot serve the next point
// too, though it ended after the previous one.
func TestStraddledSpanDoesNotServeTheNextPoint(t *testing.T) {
	f := newFixture(t).tolerant(defaultTolerance)
	first := cumulative(0, 20*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)
	f.run(step{add: []sp{{n: 1, end: 20*sec + msec, dur: 7 * msec}}, point: first})
	require.Equal(t, pcommon.Timestamp(at(20*sec)), exemplarOf(t, first, 1).Timestamp())
	_, bs, _ := f.previous()
	assert.Equal(t, at(20*sec+msec), bs[1].LastExemplar)

	next := cumulative(0, 30*sec, 0, 2, 0, 0, 0, 0, 0, 0, 0)
	res := f.run(step{point: next})
	assert.Empty(t, byBucket(next))
	assert.Equal(t, ReasonNoSpan, res.Reason)
}

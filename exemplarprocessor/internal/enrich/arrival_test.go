// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A span that ended before the previous point and arrived after it was
// processed is a late candidate: only for a bucket that grew (or that is
// owed one, see TestOwedBucketTakesALateSpan).
func TestLateSpans(t *testing.T) {
	for _, tc := range []struct {
		name string
		late []sp
		// early: it reached the collector before the previous point was
		// processed (at 11s).
		early bool
		want  map[int]uint64
	}{
		{
			name: "a bucket that grew takes a late span",
			late: []sp{{n: 11, end: 8 * sec, dur: 7 * msec, arrive: 12 * sec}},
			want: map[int]uint64{1: 11},
		},
		{
			name: "a bucket that did not grow takes none",
			late: []sp{{n: 12, end: 8 * sec, dur: 15 * msec, arrive: 12 * sec}},
			want: map[int]uint64{},
		},
		{
			name:  "arrived after the previous point's time but before it was processed: not late",
			late:  []sp{{n: 11, end: 8 * sec, dur: 7 * msec, arrive: 10500 * msec}},
			early: true,
			want:  map[int]uint64{},
		},
		{
			name: "arrived just after the previous point was processed",
			late: []sp{{n: 11, end: 8 * sec, dur: 7 * msec, arrive: 11 * sec}},
			want: map[int]uint64{1: 11},
		},
		{
			name: "ended before the start: not the stream's",
			late: []sp{{n: 11, end: 0, dur: 7 * msec, arrive: 12 * sec}},
			want: map[int]uint64{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			// Bucket 1's exemplar comes from the SDK, so the first point
			// takes no span of bucket 1 that ended in its window.
			first := cumulative(0, 10*sec, 0, 1, 1, 0, 0, 0, 0, 0, 0)
			sdkExemplar(first, 1, 5*sec, 7)
			spans := []sp{{n: 1, end: 5 * sec, dur: 7 * msec}, {n: 2, end: 6 * sec, dur: 15 * msec}}
			if tc.early {
				spans = append(spans, tc.late...)
			}
			f.run(step{add: spans, point: first})
			require.Equal(t, map[int]uint64{1: 1, 2: 2}, byBucket(first))

			p := cumulative(0, 20*sec, 0, 2, 1, 0, 0, 0, 0, 0, 0)
			if !tc.early {
				f.add(tc.late...)
			}
			f.add(decoy(99, 7*msec, 12500*msec))
			f.enrich(p, 21*sec)
			assert.Equal(t, tc.want, byBucket(p))
		})
	}
}

// The walk does not read spans that reached the collector before the
// window opened, less the clock skew an SDK may have (10s): they cannot
// have ended inside it. Arrival times are known to the index's checkpoint
// resolution, so a later span (of another join group) marks the time.
func TestSpansThatArrivedBeforeTheWindowAreNotRead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		arrive time.Duration // the window opens at 20s
		want   map[int]uint64
	}{
		{"arrived long before the window", 5 * sec, map[int]uint64{}},
		{"arrived just before the window less the skew", 9800 * msec, map[int]uint64{}},
		{"arrived when the window less the skew opened", 10 * sec, map[int]uint64{1: 1}},
		{"arrived after the window less the skew opened", 10500 * msec, map[int]uint64{1: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, continuing := range []bool{false, true} {
				f := newFixture(t)
				// A span whose SDK's clock runs ahead: it ends at 25s by
				// that clock but reached the collector at tc.arrive.
				f.add(sp{n: 1, end: 25 * sec, dur: 7 * msec, arrive: tc.arrive})
				f.add(sp{n: 2, end: 5 * sec, dur: 7 * msec, arrive: tc.arrive + 150*msec, otherGroup: true})
				p := delta(20*sec, 30*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)
				if continuing {
					f.enrich(cumulative(0, 20*sec, 0, 0, 0, 0, 0, 0, 0, 0, 0), 21*sec)
					p = cumulative(0, 30*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)
				}
				f.enrich(p, 31*sec)
				assert.Equal(t, tc.want, byBucket(p), "continuing: %t", continuing)
			}
		})
	}
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The Result of a point: how many exemplars it got and from where, how many
// buckets stayed without one, and why a point got none.
func TestResult(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []step
		want  Result
	}{
		{
			name:  "matched",
			steps: []step{{add: []sp{{n: 1, end: 15 * sec, dur: 7 * msec}}, point: delta(10*sec, 20*sec, 0, 1, 1, 0, 0, 0, 0, 0, 0)}},
			want:  Result{Matched: 1, Unfilled: 1},
		},
		{
			name:  "no_span: a bucket needed one and none was found",
			steps: []step{{point: delta(10*sec, 20*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)}},
			want:  Result{Unfilled: 1, Reason: ReasonNoSpan},
		},
		{
			name:  "unchanged: an empty delta point",
			steps: []step{{add: []sp{{n: 1, end: 15 * sec, dur: 7 * msec}}, point: delta(10*sec, 20*sec, 0, 0, 0, 0, 0, 0, 0, 0, 0)}},
			want:  Result{Reason: ReasonUnchanged},
		},
		{
			name: "unchanged: a cumulative point whose counts did not grow",
			steps: []step{
				{point: cumulative(0, 10*sec, 0, 0, 0, 0, 0, 0, 0, 0, 0)},
				{add: []sp{{n: 1, end: 15 * sec, dur: 7 * msec}}, point: cumulative(0, 20*sec, 0, 0, 0, 0, 0, 0, 0, 0, 0)},
			},
			want: Result{Reason: ReasonUnchanged},
		},
		{
			name: "out_of_order",
			steps: []step{
				{point: cumulative(0, 10*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)},
				{point: cumulative(0, 9*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0), proc: 12 * sec},
			},
			want: Result{Reason: ReasonOutOfOrder},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			assert.Equal(t, tc.want, f.run(tc.steps...))
		})
	}
}

// The point's own span (named by its trace/span ID attributes): its value
// is the observation's when the point tells it, else the span's duration.
func TestExactSpans(t *testing.T) {
	for _, tc := range []struct {
		name   string
		noRule bool
		slot   bool // values come from a span attribute the span lacks
		exact  Exact
		sum    float64 // the point's sum; it counts one request
		also   int     // another bucket that counted a request (0: none)
		named  uint64  // the span the point names (0: span 1)
		// value is the value of the exemplar of span valueOf (0: named).
		valueOf uint64
		want    map[int]uint64
		value   float64
		result  Result
	}{
		{name: "value from the span's duration", exact: Exact{}, want: map[int]uint64{2: 1}, value: 15, result: Result{Exact: 1}},
		{name: "value known by the caller", exact: Exact{Value: 7.5, HasValue: true}, want: map[int]uint64{1: 1}, value: 7.5, result: Result{Exact: 1}},
		{name: "ended before the window: not the point's", named: 4, exact: Exact{Value: 7.5, HasValue: true}, want: map[int]uint64{1: 2}, valueOf: 2, value: 8, result: Result{Matched: 1}},
		{name: "value from the point's sum", sum: 8.25, want: map[int]uint64{1: 1}, value: 8.25, result: Result{Exact: 1}},
		{name: "with a rule, other spans fill other buckets", also: 1, want: map[int]uint64{1: 2, 2: 1}, value: 15, result: Result{Exact: 1, Matched: 1}},
		{name: "no rule: only the point's own span joins", noRule: true, also: 1, want: map[int]uint64{2: 1}, value: 15, result: Result{Exact: 1, Unfilled: 1}},
		{name: "value unknown", slot: true, want: map[int]uint64{}, result: Result{Unfilled: 1, Reason: ReasonNoSpan, ExactValueUnknown: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.noRule = tc.noRule
			if tc.slot {
				f.params.ValueSlot, f.params.UnitNanos = 0, 0
			}
			f.add(sp{n: 4, end: 5 * sec, dur: 15 * msec}, sp{n: 1, end: 12 * sec, dur: 15 * msec}, sp{n: 2, end: 18 * sec, dur: 8 * msec}, sp{n: 3, end: 19 * sec, dur: 14 * msec})
			p := delta(10*sec, 20*sec, 0, 0, 0, 0, 0, 0, 0, 0, 0)
			b := p.Layout.Of(15)
			if tc.exact.HasValue {
				b = p.Layout.Of(tc.exact.Value)
			}
			if tc.sum != 0 {
				p.HasSum, p.Sum = true, tc.sum
				b = p.Layout.Of(tc.sum)
			}
			p.Counts[b], p.Count = 1, 1
			if tc.also != 0 {
				p.Counts[tc.also], p.Count = 1, 2
			}
			named := tc.named
			if named == 0 {
				named = 1
			}
			x := f.exact(named)
			x.Value, x.HasValue = tc.exact.Value, tc.exact.HasValue
			res := f.enrich(p, 21*sec, x)
			assert.Equal(t, tc.want, byBucket(p))
			if len(tc.want) > 0 {
				valueOf := tc.valueOf
				if valueOf == 0 {
					valueOf = named
				}
				assert.InDelta(t, tc.value, exemplarOf(t, p, valueOf).DoubleValue(), 1e-9)
			}
			assert.Equal(t, tc.result, res)
		})
	}
}

// On a continuing point that counted one more request, the observation's
// value is the growth of the sum.
func TestExactValueOfAContinuingPoint(t *testing.T) {
	f := newFixture(t)
	first := cumulative(0, 10*sec, 1, 0, 0, 0, 0, 0, 0, 0, 0)
	first.HasSum, first.Sum = true, 4
	f.run(step{add: []sp{{n: 5, end: 5 * sec, dur: 4 * msec}}, point: first})

	f.add(sp{n: 1, end: 15 * sec, dur: 15 * msec})
	p := cumulative(0, 20*sec, 1, 1, 0, 0, 0, 0, 0, 0, 0)
	p.HasSum, p.Sum = true, 4+8.25
	res := f.enrich(p, 21*sec, f.exact(1))
	assert.Equal(t, map[int]uint64{1: 1}, byBucket(p), "the bucket of 8.25, not of the span's 15 ms")
	assert.InDelta(t, 8.25, exemplarOf(t, p, 1).DoubleValue(), 1e-9)
	assert.Equal(t, Result{Exact: 1}, res)
}

// Values may come from a numeric span attribute instead of the duration:
// the bucket is the attribute's, and spans without it are no candidates.
func TestValuesFromASpanAttribute(t *testing.T) {
	f := newFixture(t)
	f.params.ValueSlot, f.params.UnitNanos = 1, 0
	f.add(
		sp{n: 1, end: 12 * sec, dur: 7 * msec, values: []float64{1, 30}},
		sp{n: 2, end: 13 * sec, dur: 30 * msec, values: []float64{30, math.NaN()}},
		sp{n: 3, end: 14 * sec, dur: 30 * msec},
	)
	p := delta(10*sec, 20*sec, 0, 0, 0, 1, 0, 0, 0, 0, 0)
	res := f.enrich(p, 21*sec)
	assert.Equal(t, map[int]uint64{3: 1}, byBucket(p))
	assert.InDelta(t, 30.0, exemplarOf(t, p, 1).DoubleValue(), 1e-9)
	assert.Equal(t, Result{Matched: 1}, res)
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/buckets"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/streams"
)

// classLow[f] is the least duration of class f or above (a class may be
// empty: no whole number of ns lies in [sqrt(2), 2)).
func TestClassLowBounds(t *testing.T) {
	for f := 1; f < classes && classLow[f] != math.MaxInt64; f++ {
		assert.GreaterOrEqual(t, spanindex.Fine(classLow[f]), uint8(f), "class %d starts at %d", f, classLow[f])
		assert.Less(t, spanindex.Fine(classLow[f]-1), uint8(f), "class %d starts after %d", f, classLow[f]-1)
	}
	assert.Equal(t, classLow[3], classLow[2], "class 2 is empty")
}

// The bucket the memo gives a span is the one its value falls in, for any
// duration, unit and layout; a memo is kept only for the layout and
// parameters it was made for.
func TestLayoutMemoAgreesWithTheLayout(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2))
	var m layoutMemo
	for _, unit := range []float64{1, 1e3, 1e6, 1e9} {
		for _, bounds := range [][]float64{
			{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10},
			{5, 10, 25, 50, 75, 100, 250, 500},
			{0, 1, 1.0000001, 2},
		} {
			layout := buckets.Explicit{Bounds: bounds}
			params := &Params{UnitNanos: unit, ValueSlot: -1}
			p := &Point{Layout: layout, Counts: make([]uint64, len(bounds)+1), StreamLayout: streams.Layout{Key: uint64(len(bounds)) ^ math.Float64bits(unit)}}
			m.reset(p, params)
			c := &collector{p: p, params: params, lay: &m}
			for range 20_000 {
				d := int64(rng.Uint64N(uint64(20 * unit * bounds[len(bounds)-1])))
				if rng.IntN(4) == 0 {
					d = int64(math.Round(bounds[rng.IntN(len(bounds))]*unit)) + rng.Int64N(3) - 1
				}
				d = max(d, 0)
				v := float64(d) / unit
				require.Equal(t, layout.Of(v), m.own(c, d, v), "unit %g, duration %d ns", unit, d)
			}
		}
	}
	params := &Params{UnitNanos: 1e9, ValueSlot: -1}
	a := &Point{Layout: buckets.Explicit{Bounds: []float64{1}}, Counts: make([]uint64, 2), StreamLayout: streams.Layout{Key: 1}}
	ownOf := func(p *Point, params *Params) int {
		m.reset(p, params)
		return m.own(&collector{p: p, params: params, lay: &m}, 5e9, math.NaN())
	}
	assert.Equal(t, 1, ownOf(a, params))
	b := &Point{Layout: buckets.Explicit{Bounds: []float64{10}}, Counts: make([]uint64, 2), StreamLayout: streams.Layout{Key: 2}}
	assert.Equal(t, 0, ownOf(b, params), "another layout: made anew")
	assert.Equal(t, 1, ownOf(b, &Params{UnitNanos: 1e6, ValueSlot: -1}), "other parameters: made anew")
	params.UnitNanos = 1e6
	assert.Equal(t, 1, ownOf(b, params), "parameters changed in place: made anew")
}

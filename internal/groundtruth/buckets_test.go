// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"
)

func TestExplicitBucketsAreUpperInclusive(t *testing.T) {
	l := groundtruth.ExplicitLayout([]float64{0, 5, 10})
	for _, tc := range []struct {
		v    float64
		want int
	}{
		{math.Inf(-1), 0},
		{-1, 0},
		{0, 0},
		{math.SmallestNonzeroFloat64, 1},
		{5, 1},
		{math.Nextafter(5, 6), 2},
		{10, 2},
		{10.000001, 3},
		{math.Inf(1), 3},
	} {
		assert.Equal(t, tc.want, l.Of(tc.v), "value %v", tc.v)
	}
	assert.Equal(t, -1, l.Of(math.NaN()))
	lo, hi := l.Range(0)
	assert.Equal(t, []float64{math.Inf(-1), 0}, []float64{lo, hi})
	lo, hi = l.Range(3)
	assert.Equal(t, []float64{10, math.Inf(1)}, []float64{lo, hi})
	assert.Equal(t, 1, groundtruth.ExplicitLayout(nil).Len(), "no bounds: one bucket")
}

// TestExpoIndexExactPowers: an exact power of the base is the upper bound
// of the bucket below it, at every scale.
func TestExpoIndexExactPowers(t *testing.T) {
	for scale := int32(groundtruth.MinScale); scale <= groundtruth.MaxScale; scale++ {
		for _, e := range []int{-1074, -1022, -60, -7, -1, 0, 1, 3, 64, 1023} {
			if scale <= 0 {
				// Powers of the base are 2^(k * 2^-scale).
				step := 1 << uint(-scale)
				k := e / step
				if k*step < -1074 || k*step > 1023 {
					continue
				}
				v := math.Ldexp(1, k*step)
				assert.Equal(t, int64(k-1), groundtruth.ExpoIndex(v, scale), "2^%d at scale %d", k*step, scale)
				continue
			}
			v := math.Ldexp(1, e)
			want := int64(e)<<uint(scale) - 1
			assert.Equal(t, want, groundtruth.ExpoIndex(v, scale), "2^%d at scale %d", e, scale)
		}
	}
}

// TestExpoIndexAgreesWithBounds: every value lies in (lower(i), lower(i+1)]
// of its index, at every scale, across the float range, subnormals too.
func TestExpoIndexAgreesWithBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := []float64{math.SmallestNonzeroFloat64, 1e-300, 1e-9, 0.0049999, 0.005, 0.007, 1, 1.5, 3, 1e9, math.MaxFloat64}
	for range 200 {
		values = append(values, math.Ldexp(1+rng.Float64(), rng.IntN(2000)-1000))
	}
	for scale := int32(groundtruth.MinScale); scale <= groundtruth.MaxScale; scale++ {
		for _, v := range values {
			i := groundtruth.ExpoIndex(v, scale)
			lo, hi := groundtruth.ExpoLower(i, scale), groundtruth.ExpoLower(i+1, scale)
			require.True(t, v > lo && v <= hi, "value %g at scale %d: index %d is (%g, %g]", v, scale, i, lo, hi)
			require.Equal(t, i, groundtruth.ExpoIndex(-v, scale), "the negative range mirrors the positive")
		}
	}
	// Hand-computed: scale 1 (base sqrt 2): 1.5 in (sqrt 2, 2]; scale 3:
	// 1.1 in (2^(1/8), 2^(2/8)]; scale -1 (base 4): 5 in (4, 16].
	assert.Equal(t, int64(1), groundtruth.ExpoIndex(1.5, 1))
	assert.Equal(t, int64(1), groundtruth.ExpoIndex(1.1, 3))
	assert.Equal(t, int64(1), groundtruth.ExpoIndex(5, -1))
	assert.Equal(t, int64(-1), groundtruth.ExpoIndex(0.75, 0), "0.75 in (0.5, 1]")
}

func TestExpoLayoutZeroAndNegative(t *testing.T) {
	// Scale 0, zero threshold 0.5; negative buckets -2..-1 (|v| in (0.25,
	// 1] is -2..-1), positive buckets 0..2 ((1, 8]).
	l := groundtruth.ExpoLayout(0, 0.5, groundtruth.IndexRun{Offset: -2, Len: 2}, groundtruth.IndexRun{Offset: 0, Len: 3})
	require.Equal(t, 6, l.Len())
	for _, tc := range []struct {
		v    float64
		want int
	}{
		{-1, 0},   // |v| = 1 is index -1: [-1, -0.5)
		{-0.6, 0}, // |v| in (0.5, 1]
		{-0.5, 2}, // within the zero threshold
		{0, 2},
		{0.5, 2},
		{0.7, -1}, // positive index -1: not carried by the point
		{2, 3},    // (1, 2] is index 0
		{2.1, 4},
		{8, 5},
		{8.5, -1},
		{-0.3, 2}, // negative index -2 is [-0.5, -0.25): inside the zero threshold
	} {
		assert.Equal(t, tc.want, l.Of(tc.v), "value %v", tc.v)
	}
	lo, hi := l.Range(2)
	assert.Equal(t, []float64{-0.5, 0.5}, []float64{lo, hi}, "zero bucket")
	lo, hi = l.Range(0)
	assert.Equal(t, []float64{-1, -0.5}, []float64{lo, hi}, "negative index -1 is [-1, -0.5)")
	lo, hi = l.Range(4)
	assert.Equal(t, []float64{2, 4}, []float64{lo, hi})
	// Without a threshold only zero is in the zero bucket.
	z := groundtruth.ExpoLayout(3, 0, groundtruth.IndexRun{}, groundtruth.IndexRun{Offset: -100, Len: 200})
	assert.Equal(t, 0, z.Of(0))
	assert.Equal(t, 1+int(groundtruth.ExpoIndex(0.01, 3)+100), z.Of(0.01))
	assert.Equal(t, -1, z.Of(math.SmallestNonzeroFloat64), "index -8593: not carried by the point")
}

func TestLayoutDistanceAndClamp(t *testing.T) {
	l := groundtruth.ExplicitLayout([]float64{5, 10, 25})
	assert.Zero(t, l.Distance(1, 7))
	assert.InDelta(t, -0.5, l.Distance(1, 10.5), 1e-12, "above: the metric would be shorter")
	assert.InDelta(t, 0.5, l.Distance(1, 4.5), 1e-12, "below: the metric would be longer")
	c, ok := l.ClampInto(1, 10.5)
	assert.True(t, ok)
	assert.Equal(t, 10.0, c) //nolint:testifylint // exact: the bound itself
	c, ok = l.ClampInto(1, 4.5)
	assert.True(t, ok)
	assert.Equal(t, 1, l.Of(c))
	c, ok = l.ClampInto(3, 20)
	assert.True(t, ok)
	assert.Equal(t, math.Nextafter(25, 26), c, "just above the lower bound") //nolint:testifylint // exact
	assert.True(t, l.AtBound(1, 10, 1e-9))
	assert.False(t, l.AtBound(1, 7, 1e-9))
}

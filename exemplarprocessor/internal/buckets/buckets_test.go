// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package buckets

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

func TestExplicitUpperInclusive(t *testing.T) {
	e := Explicit{Bounds: []float64{0, 5, 10, 25}}
	for _, tc := range []struct {
		v    float64
		want int
	}{
		{math.Inf(-1), 0},
		{-1, 0},
		{0, 0},
		{0.0001, 1},
		{5, 1},
		{5.0000001, 2},
		{10, 2},
		{25, 3},
		{25.5, 4},
		{math.Inf(1), 4},
		{math.NaN(), -1},
	} {
		assert.Equal(t, tc.want, e.Of(tc.v), "value %v", tc.v)
	}
	lo, hi := e.Range(0)
	assert.True(t, math.IsInf(lo, -1))
	assert.Equal(t, 0.0, hi)
	lo, hi = e.Range(4)
	assert.Equal(t, 25.0, lo)
	assert.True(t, math.IsInf(hi, 1))
	assert.Equal(t, 0, Explicit{}.Of(42), "no bounds: one bucket")
}

func TestValidateExplicit(t *testing.T) {
	require.NoError(t, ValidateExplicit([]float64{1, 2}, 3))
	require.NoError(t, ValidateExplicit(nil, 0))
	require.Error(t, ValidateExplicit([]float64{1, 2}, 2))
	require.Error(t, ValidateExplicit([]float64{1, math.NaN()}, 3))
	require.Error(t, ValidateExplicit([]float64{2, 1}, 3))
	require.Error(t, ValidateExplicit([]float64{1, 1}, 3))
}

// Exponential buckets are (base^i, base^(i+1)]: exact powers of the base sit
// at the top of the bucket below.
func TestIndexAtBoundaries(t *testing.T) {
	for scale := int32(MinScale); scale <= MaxScale; scale++ {
		for _, idx := range []int32{-20, -3, -1, 0, 1, 2, 7, 100} {
			if scale <= 0 && idx<<-scale > 1000 || scale <= 0 && idx<<-scale < -1000 {
				continue
			}
			b := LowerBound(idx, scale)
			if b == 0 || math.IsInf(b, 0) {
				continue
			}
			// Only exactly representable boundaries are tested exactly.
			if scale > 0 && idx&(1<<scale-1) != 0 {
				continue
			}
			assert.Equal(t, idx-1, Index(b, scale), "scale %d boundary of %d", scale, idx)
			assert.Equal(t, idx, Index(math.Nextafter(b, math.Inf(1)), scale), "scale %d just above %d", scale, idx)
		}
	}
}

func TestIndexKnownValues(t *testing.T) {
	// Scale 0: base 2.
	assert.Equal(t, int32(0), Index(1.5, 0)) // (1, 2]
	assert.Equal(t, int32(0), Index(2, 0))
	assert.Equal(t, int32(1), Index(3, 0)) // (2, 4]
	assert.Equal(t, int32(-1), Index(1, 0))
	assert.Equal(t, int32(-1), Index(0.75, 0)) // (0.5, 1]
	// Scale 3: base 2^(1/8) ~ 1.0905.
	assert.Equal(t, int32(0), Index(1.05, 3))
	assert.Equal(t, int32(7), Index(1.99, 3))
	assert.Equal(t, int32(7), Index(2, 3))
	assert.Equal(t, int32(8), Index(2.01, 3))
	// Scale -1: base 4.
	assert.Equal(t, int32(0), Index(3, -1)) // (1, 4]
	assert.Equal(t, int32(0), Index(4, -1))
	assert.Equal(t, int32(1), Index(5, -1))
	assert.Equal(t, int32(-1), Index(1, -1))
}

// Every value lies inside the bounds of the bucket it maps to.
func TestIndexAgreesWithBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		scale := int32(rng.IntN(MaxScale-MinScale+1)) + MinScale
		v := math.Exp(rng.Float64()*80 - 40)
		i := Index(v, scale)
		lo, hi := LowerBound(i, scale), LowerBound(i+1, scale)
		require.True(t, lo < v && v <= hi, "v=%v scale=%d index=%d (%v, %v]", v, scale, i, lo, hi)
	}
}

func TestExponentialLayout(t *testing.T) {
	x := Exponential{Scale: 0, ZeroThreshold: 0.001, PosOffset: 1, PosLen: 3, NegOffset: 0, NegLen: 2}
	assert.Equal(t, 6, x.Len())
	assert.Equal(t, 0, x.Of(0))
	assert.Equal(t, 0, x.Of(0.0005))
	assert.Equal(t, 0, x.Of(-0.001))
	assert.Equal(t, 1, x.Of(3))  // index 1: (2, 4]
	assert.Equal(t, 3, x.Of(16)) // index 3: (8, 16]
	assert.Equal(t, -1, x.Of(17))
	assert.Equal(t, -1, x.Of(1.5), "index 0 below the positive offset")
	assert.Equal(t, 4, x.Of(-1.5)) // negative index 0
	assert.Equal(t, 5, x.Of(-3))   // negative index 1
	lo, hi := x.Range(5)
	assert.Equal(t, -4.0, lo)
	assert.Equal(t, -2.0, hi)
	sign, idx := x.Bucket(5)
	assert.Equal(t, -1, sign)
	assert.Equal(t, int32(1), idx)
	require.Error(t, ValidateExponential(21, 0))
	require.Error(t, ValidateExponential(0, math.NaN()))
	assert.NoError(t, ValidateExponential(-10, 0))
}

func TestExemplarValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(pmetric.Exemplar)
		want float64
	}{
		{"int", func(ex pmetric.Exemplar) { ex.SetIntValue(250) }, 250},
		{"negative int", func(ex pmetric.Exemplar) { ex.SetIntValue(-3) }, -3},
		{"double", func(ex pmetric.Exemplar) { ex.SetDoubleValue(0.125) }, 0.125},
		{"double set after int", func(ex pmetric.Exemplar) { ex.SetIntValue(7); ex.SetDoubleValue(1.5) }, 1.5},
		{"int set after double", func(ex pmetric.Exemplar) { ex.SetDoubleValue(1.5); ex.SetIntValue(7) }, 7},
		{"no value", func(pmetric.Exemplar) {}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex := pmetric.NewExemplar()
			tc.set(ex)
			assert.Equal(t, tc.want, ExemplarValue(ex))
		})
	}
}

func TestExponentialOf(t *testing.T) {
	dp := pmetric.NewExponentialHistogramDataPoint()
	dp.SetScale(1) // base sqrt(2)
	dp.SetZeroThreshold(0.5)
	dp.SetZeroCount(1)
	dp.Positive().SetOffset(-2)
	dp.Positive().BucketCounts().FromRaw([]uint64{1, 0, 2, 5}) // indexes -2..1: (0.5, 2]
	dp.Negative().SetOffset(3)
	dp.Negative().BucketCounts().FromRaw([]uint64{4, 1}) // indexes 3..4: -(2.83, 5.66]

	x := ExponentialOf(dp)
	assert.Equal(t, Exponential{Scale: 1, ZeroThreshold: 0.5, PosOffset: -2, PosLen: 4, NegOffset: 3, NegLen: 2}, x)
	assert.Equal(t, 1+4+2, x.Len(), "zero bucket, then positive, then negative")
	for _, tc := range []struct {
		v    float64
		want int
	}{
		{0, 0},
		{0.5, 0},  // inside the zero threshold
		{-0.4, 0}, // both signs
		{0.6, 1},  // index -2: (0.5, 0.707]
		{1.4, 3},  // index 0: (1, 1.414]
		{2, 4},    // index 1: (1.414, 2]
		{2.1, -1}, // index 2: above the positive range
		{-3, 5},   // negative index 3: (2.83, 4]
		{-5, 6},   // negative index 4: (4, 5.66]
		{-6, -1},  // below the negative range
	} {
		assert.Equal(t, tc.want, x.Of(tc.v), "value %v", tc.v)
	}

	empty := ExponentialOf(pmetric.NewExponentialHistogramDataPoint())
	assert.Equal(t, Exponential{}, empty)
	assert.Equal(t, 1, empty.Len(), "only the zero bucket")
	assert.Equal(t, 0, empty.Of(0))
	assert.Equal(t, -1, empty.Of(1))
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth // import "github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"

import "math"

// Scales the exponential data model allows.
const (
	MinScale = -10
	MaxScale = 20
)

// ExpoIndex returns the index of the exponential bucket holding |v| > 0 at
// scale: bucket i is (base^i, base^(i+1)] with base = 2^(2^-scale), so an
// exact power of the base belongs to the bucket below it.
func ExpoIndex(v float64, scale int32) int64 {
	v = math.Abs(v)
	frac, exp := math.Frexp(v) // v = frac * 2^exp, frac in [0.5, 1)
	if scale <= 0 {
		// At scale 0 the bucket is the binary exponent; a power of two
		// (frac exactly 0.5) is the upper bound of the bucket below.
		i := int64(exp - 1)
		if frac == 0.5 {
			i--
		}
		return i >> uint(-scale) // arithmetic shift: floor for negatives
	}
	if frac == 0.5 {
		// A power of two is a power of the base at every positive scale.
		return (int64(exp-1) << uint(scale)) - 1
	}
	i := int64(math.Ceil(math.Log2(v)*math.Ldexp(1, int(scale)))) - 1
	// The logarithm may be off by one next to a bound: settle it against
	// the same bounds ExpoLower reports, so index and range agree.
	for i > math.MinInt32 && v <= ExpoLower(i, scale) {
		i--
	}
	for i < math.MaxInt32 && v > ExpoLower(i+1, scale) {
		i++
	}
	return i
}

// ExpoLower returns base^i at scale: the exclusive lower bound of bucket i
// and the inclusive upper bound of bucket i-1.
func ExpoLower(i int64, scale int32) float64 {
	if scale <= 0 {
		e := i << uint(-scale)
		if e > 2000 {
			return math.Inf(1)
		}
		if e < -2000 {
			return 0
		}
		return math.Ldexp(1, int(e))
	}
	return math.Exp2(float64(i) / math.Ldexp(1, int(scale)))
}

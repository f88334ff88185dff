// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Package buckets maps values to histogram buckets exactly as the
// OpenTelemetry data model does, for explicit-bucket and exponential
// histograms, behind one flat bucket numbering so the rest of the processor
// does not care which kind a point is.
package buckets // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/buckets"

import (
	"errors"
	"fmt"
	"math"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Layout numbers the buckets of one data point 0..Len()-1.
type Layout interface {
	// Len is the number of buckets.
	Len() int
	// Of returns the bucket holding v, or -1 when no bucket of this point does.
	Of(v float64) int
	// Range returns bounds lo <= v <= hi that contain every value of bucket b
	// (an outer bound: use Of for the exact test).
	Range(b int) (lo, hi float64)
}

// Explicit is an explicit-bucket layout: bucket i is (bounds[i-1], bounds[i]],
// the first (-Inf, bounds[0]], the last (bounds[n-1], +Inf).
type Explicit struct {
	Bounds []float64
}

// ValidateExplicit reports why bounds and counts are not a valid point.
func ValidateExplicit(bounds []float64, counts int) error {
	if counts == 0 && len(bounds) == 0 {
		return nil
	}
	if counts != len(bounds)+1 {
		return fmt.Errorf("%d bucket counts for %d bounds", counts, len(bounds))
	}
	prev := math.Inf(-1)
	for i, b := range bounds {
		if math.IsNaN(b) {
			return fmt.Errorf("bound %d is NaN", i)
		}
		if math.IsInf(b, 0) {
			// (-Inf, -Inf] or (+Inf, +Inf) hold no value: the producer
			// is broken, and bucket math must not meet infinities.
			return fmt.Errorf("bound %d is infinite", i)
		}
		if i > 0 && b <= prev {
			return fmt.Errorf("bounds not strictly increasing at %d", i)
		}
		prev = b
	}
	return nil
}

// Len implements Layout.
func (e Explicit) Len() int { return len(e.Bounds) + 1 }

// Of implements Layout: buckets are upper-inclusive.
func (e Explicit) Of(v float64) int {
	if math.IsNaN(v) {
		return -1
	}
	lo, hi := 0, len(e.Bounds)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if v <= e.Bounds[mid] {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// Range implements Layout.
func (e Explicit) Range(b int) (lo, hi float64) {
	lo, hi = math.Inf(-1), math.Inf(1)
	if b > 0 {
		lo = e.Bounds[b-1]
	}
	if b < len(e.Bounds) {
		hi = e.Bounds[b]
	}
	return lo, hi
}

// MinScale and MaxScale bound exponential histogram scales.
const (
	MinScale = -10
	MaxScale = 20
)

// Exponential is an exponential-histogram layout. Flat bucket 0 is the zero
// bucket, then the positive buckets from PosOffset, then the negative ones
// from NegOffset.
type Exponential struct {
	Scale         int32
	ZeroThreshold float64
	PosOffset     int32
	PosLen        int
	NegOffset     int32
	NegLen        int
}

// ExponentialOf returns the layout of an exponential histogram point as it
// is, valid or not (see ValidateExponential).
func ExponentialOf(dp pmetric.ExponentialHistogramDataPoint) Exponential {
	pos, neg := dp.Positive(), dp.Negative()
	return Exponential{
		Scale:         dp.Scale(),
		ZeroThreshold: dp.ZeroThreshold(),
		PosOffset:     pos.Offset(),
		PosLen:        pos.BucketCounts().Len(),
		NegOffset:     neg.Offset(),
		NegLen:        neg.BucketCounts().Len(),
	}
}

// ExemplarValue is an exemplar's value as a float64, whichever type it was
// recorded with (0 when it has none).
func ExemplarValue(ex pmetric.Exemplar) float64 {
	if ex.ValueType() == pmetric.ExemplarValueTypeInt {
		return float64(ex.IntValue())
	}
	return ex.DoubleValue()
}

// ErrBadScale is returned for scales outside [MinScale, MaxScale].
var ErrBadScale = errors.New("scale out of range")

// ValidateExponential reports why an exponential point is invalid.
func ValidateExponential(scale int32, zeroThreshold float64) error {
	if scale < MinScale || scale > MaxScale {
		return fmt.Errorf("%w: %d", ErrBadScale, scale)
	}
	if math.IsNaN(zeroThreshold) || zeroThreshold < 0 || math.IsInf(zeroThreshold, 0) {
		return fmt.Errorf("zero threshold %v", zeroThreshold)
	}
	return nil
}

// ValidateRange reports a bucket range whose indexes do not fit int32:
// offset plus length overflows.
func ValidateRange(offset int32, n int) error {
	if int64(offset)+int64(n) > math.MaxInt32+1 {
		return fmt.Errorf("buckets from index %d, %d of them, pass the largest index", offset, n)
	}
	return nil
}

// Len implements Layout.
func (x Exponential) Len() int { return 1 + x.PosLen + x.NegLen }

// Of implements Layout.
func (x Exponential) Of(v float64) int {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return -1
	}
	a := math.Abs(v)
	if a <= x.ZeroThreshold || a == 0 {
		return 0
	}
	i := Index(a, x.Scale)
	if v > 0 {
		if k := int64(i) - int64(x.PosOffset); k >= 0 && k < int64(x.PosLen) {
			return 1 + int(k)
		}
		return -1
	}
	if k := int64(i) - int64(x.NegOffset); k >= 0 && k < int64(x.NegLen) {
		return 1 + x.PosLen + int(k)
	}
	return -1
}

// Range implements Layout.
func (x Exponential) Range(b int) (lo, hi float64) {
	if b == 0 {
		return -x.ZeroThreshold, x.ZeroThreshold
	}
	if b <= x.PosLen {
		return LowerBound(x.PosOffset+int32(b-1), x.Scale), LowerBound(x.PosOffset+int32(b), x.Scale)
	}
	k := x.NegOffset + int32(b-1-x.PosLen)
	return -LowerBound(k+1, x.Scale), -LowerBound(k, x.Scale)
}

// Bucket returns the sign (+1, -1, or 0 for the zero bucket) and the
// exponential index of flat bucket b.
func (x Exponential) Bucket(b int) (sign int, index int32) {
	switch {
	case b == 0:
		return 0, 0
	case b <= x.PosLen:
		return 1, x.PosOffset + int32(b-1)
	default:
		return -1, x.NegOffset + int32(b-1-x.PosLen)
	}
}

// Index maps a positive finite value to its bucket index at scale: bucket i
// holds (base^i, base^(i+1)] with base = 2^(2^-scale).
func Index(v float64, scale int32) int32 {
	frac, exp := math.Frexp(v) // v = frac * 2^exp, frac in [0.5, 1)
	if scale <= 0 {
		// v in (2^(exp-1), 2^exp) has index exp-1 at scale 0; an exact power
		// of two belongs to the bucket below it.
		e := int32(exp - 1)
		if frac == 0.5 {
			e--
		}
		return e >> -scale
	}
	if frac == 0.5 {
		return int32(exp-1)<<scale - 1
	}
	i := int32(math.Floor(math.Log(v) * math.Ldexp(math.Log2E, int(scale))))
	// Correct the rare float error at a boundary with exact comparisons
	// against the neighbouring boundaries.
	if v <= LowerBound(i, scale) {
		i--
	} else if v > LowerBound(i+1, scale) {
		i++
	}
	return i
}

// LowerBound returns base^index, the exclusive lower bound of bucket index.
func LowerBound(index, scale int32) float64 {
	if scale <= 0 {
		return math.Ldexp(1, int(index)<<-scale)
	}
	// base^index = 2^(index / 2^scale), split to keep precision.
	whole := int(index >> scale)
	part := float64(index&(1<<scale-1)) / float64(int32(1)<<scale)
	return math.Ldexp(math.Exp2(part), whole)
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth // import "github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Layout numbers the buckets of one data point in ascending value order, for
// explicit and exponential histograms alike. Exponential points list their
// negative buckets (most negative first), the zero bucket, then the positive
// buckets.
type Layout struct {
	expo   bool
	bounds []float64 // explicit
	scale  int32
	zero   float64 // zero threshold
	// negOffset/negLen and posOffset/posLen are the exponential index ranges
	// the point carries counts for.
	negOffset, posOffset int64
	negLen, posLen       int
}

// BucketID names a bucket independently of a point's numbering, so points
// of one stream can be compared: an explicit bucket by its index, an
// exponential one by sign, scale and index (sign 0: the zero bucket).
type BucketID struct {
	Expo  bool
	Sign  int8
	Scale int32
	Index int64
}

// ExplicitLayout is the layout of an explicit-bucket point: bucket i is
// (bounds[i-1], bounds[i]], the first (-Inf, bounds[0]], the last
// (bounds[n-1], +Inf).
func ExplicitLayout(bounds []float64) Layout {
	return Layout{bounds: slices.Clone(bounds)}
}

// ExpoLayout is the layout of an exponential point.
func ExpoLayout(scale int32, zeroThreshold float64, neg, pos IndexRun) Layout {
	return Layout{
		expo: true, scale: scale, zero: zeroThreshold,
		negOffset: neg.Offset, negLen: neg.Len, posOffset: pos.Offset, posLen: pos.Len,
	}
}

// IndexRun is a run of exponential bucket indexes: Offset, Offset+1, ...
type IndexRun struct {
	Offset int64
	Len    int
}

// Len is the number of buckets.
func (l Layout) Len() int {
	if !l.expo {
		return len(l.bounds) + 1
	}
	return l.negLen + 1 + l.posLen
}

// Exponential reports whether the layout is an exponential histogram's.
func (l Layout) Exponential() bool { return l.expo }

// Of returns the bucket holding v, or -1 when the point has none for it (an
// exponential index outside the ranges the point carries, or NaN).
func (l Layout) Of(v float64) int {
	switch {
	case math.IsNaN(v):
		return -1
	case !l.expo:
		return sort.Search(len(l.bounds), func(i int) bool { return v <= l.bounds[i] })
	case math.Abs(v) <= l.zero || v == 0:
		return l.negLen
	case v > 0:
		i := ExpoIndex(v, l.scale) - l.posOffset
		if i < 0 || i >= int64(l.posLen) {
			return -1
		}
		return l.negLen + 1 + int(i)
	default:
		i := ExpoIndex(v, l.scale) - l.negOffset
		if i < 0 || i >= int64(l.negLen) {
			return -1
		}
		return l.negLen - 1 - int(i)
	}
}

// Range returns the bounds of bucket b. Explicit and positive exponential
// buckets are (lo, hi]; negative exponential buckets [lo, hi); the zero
// bucket [lo, hi].
func (l Layout) Range(b int) (lo, hi float64) {
	if !l.expo {
		lo, hi = math.Inf(-1), math.Inf(1)
		if b > 0 {
			lo = l.bounds[b-1]
		}
		if b < len(l.bounds) {
			hi = l.bounds[b]
		}
		return lo, hi
	}
	id := l.ID(b)
	switch id.Sign {
	case 0:
		return -l.zero, l.zero
	case 1:
		return ExpoLower(id.Index, l.scale), ExpoLower(id.Index+1, l.scale)
	default:
		return -ExpoLower(id.Index+1, l.scale), -ExpoLower(id.Index, l.scale)
	}
}

// ID names bucket b.
func (l Layout) ID(b int) BucketID {
	switch {
	case !l.expo:
		return BucketID{Index: int64(b)}
	case b < l.negLen:
		return BucketID{Expo: true, Sign: -1, Scale: l.scale, Index: l.negOffset + int64(l.negLen-1-b)}
	case b == l.negLen:
		return BucketID{Expo: true, Scale: l.scale}
	default:
		return BucketID{Expo: true, Sign: 1, Scale: l.scale, Index: l.posOffset + int64(b-l.negLen-1)}
	}
}

// Describe renders bucket b for messages.
func (l Layout) Describe(b int) string {
	lo, hi := l.Range(b)
	id := l.ID(b)
	switch {
	case !id.Expo:
		return fmt.Sprintf("%d (%g, %g]", b, lo, hi)
	case id.Sign == 0:
		return fmt.Sprintf("zero [%g, %g]", lo, hi)
	case id.Sign > 0:
		return fmt.Sprintf("positive %d at scale %d (%g, %g]", id.Index, id.Scale, lo, hi)
	default:
		return fmt.Sprintf("negative %d at scale %d [%g, %g)", id.Index, id.Scale, lo, hi)
	}
}

// contains reports whether every value of bucket inner (of another point of
// the stream) lies in bucket outer: the same explicit bucket, or an
// exponential bucket of an equal or finer scale folding into outer.
func contains(outer, inner BucketID) bool {
	switch {
	case outer.Expo != inner.Expo || outer.Sign != inner.Sign:
		return false
	case !outer.Expo || outer.Sign == 0:
		return outer.Index == inner.Index
	case inner.Scale < outer.Scale:
		return false
	default:
		return inner.Index>>uint(inner.Scale-outer.Scale) == outer.Index
	}
}

// Distance returns how far v lies outside bucket b, signed as a metric that
// counted a request of duration v in b would differ from it: the nearest
// bound minus v (negative above the bucket, positive below it); 0 inside.
func (l Layout) Distance(b int, v float64) float64 {
	if l.Of(v) == b {
		return 0
	}
	lo, hi := l.Range(b)
	if v > hi {
		return hi - v
	}
	return lo - v
}

// AtBound reports whether v, a value of bucket b, is one of b's bounds
// (within rel relative), as a value clamped into the bucket is.
func (l Layout) AtBound(b int, v, rel float64) bool {
	if l.Of(v) != b {
		return false
	}
	lo, hi := l.Range(b)
	return closeTo(v, lo, rel) || closeTo(v, hi, rel)
}

// ClampInto returns the value of bucket b nearest to v outside it: its upper
// bound for v above, the float just above its lower bound for v at or below
// it; false when that is no finite value of b.
func (l Layout) ClampInto(b int, v float64) (float64, bool) {
	lo, hi := l.Range(b)
	c := hi
	if v <= lo {
		c = math.Nextafter(lo, math.Inf(1))
	}
	if math.IsInf(c, 0) || l.Of(c) != b {
		return 0, false
	}
	return c, true
}

func closeTo(a, b, rel float64) bool {
	if a == b {
		return true
	}
	if math.IsInf(b, 0) || math.IsNaN(b) {
		return false
	}
	return math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b))
}

// explicitPoint and expoPoint read a data point's layout and counts.
func explicitPoint(dp pmetric.HistogramDataPoint) (Layout, []uint64) {
	return ExplicitLayout(dp.ExplicitBounds().AsRaw()), dp.BucketCounts().AsRaw()
}

func expoPoint(dp pmetric.ExponentialHistogramDataPoint) (Layout, []uint64) {
	neg, pos := dp.Negative(), dp.Positive()
	l := ExpoLayout(dp.Scale(), dp.ZeroThreshold(),
		IndexRun{Offset: int64(neg.Offset()), Len: neg.BucketCounts().Len()},
		IndexRun{Offset: int64(pos.Offset()), Len: pos.BucketCounts().Len()})
	counts := make([]uint64, 0, l.Len())
	negCounts := neg.BucketCounts().AsRaw()
	for i := len(negCounts) - 1; i >= 0; i-- {
		counts = append(counts, negCounts[i])
	}
	counts = append(counts, dp.ZeroCount())
	return l, append(counts, pos.BucketCounts().AsRaw()...)
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Package merge undoes the trace_id-as-label workaround: it removes the
// trace and span ID attributes from histogram data points and folds the
// points that thereby become one stream into one point, summing counts,
// buckets and sums, keeping the smallest min and largest max and the
// earliest start. Points whose buckets cannot be added (different explicit
// bounds, different exponential zero thresholds) are left as they are.
package merge // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/merge"

import (
	"math"
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/buckets"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/identity"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/pdataslice"
)

// Result says what Merge did with a metric's points.
type Result struct {
	// Merged is how many points were folded into another.
	Merged int
	// BoundsDiffer is how many points carried IDs but could not be folded
	// into their stream because their buckets differ; they pass unchanged.
	BoundsDiffer int
	// Sources maps every point left in the slice to the indexes, in the
	// original slice, of the points it now stands for (itself included), so
	// the caller can still use each original point's IDs and values.
	Sources [][]int
}

// Keys names the ID attributes.
type Keys struct{ TraceID, SpanID string }

func (k Keys) carried(m pcommon.Map) bool {
	_, t := m.Get(k.TraceID)
	_, s := m.Get(k.SpanID)
	return t || s
}

func (k Keys) remove(m pcommon.Map) {
	m.Remove(k.TraceID)
	m.Remove(k.SpanID)
}

// Histograms merges explicit-bucket points. It returns a zero Result and
// changes nothing when no point carries an ID attribute.
func Histograms(h identity.Hasher, dps pmetric.HistogramDataPointSlice, keys Keys) Result {
	return mergePoints(h, keys, dps, kind[pmetric.HistogramDataPoint]{
		compatible: func(a, b pmetric.HistogramDataPoint) bool { return a.ExplicitBounds().Equal(b.ExplicitBounds()) },
		fold:       foldHistogram,
		layout: func(dp pmetric.HistogramDataPoint) buckets.Layout {
			return buckets.Explicit{Bounds: dp.ExplicitBounds().AsRaw()}
		},
	})
}

// ExponentialHistograms merges exponential points, downscaling to the
// smaller scale where scales differ. Two points fold only while their
// buckets together, at the smaller scale, number at most maxBuckets (and
// their indexes fit int32): every point folded into a stream's first then
// lies within maxBuckets of it, so a merged point has at most twice that
// many, whatever offsets a sender chose.
func ExponentialHistograms(h identity.Hasher, dps pmetric.ExponentialHistogramDataPointSlice, keys Keys, maxBuckets int) Result {
	return mergePoints(h, keys, dps, kind[pmetric.ExponentialHistogramDataPoint]{
		compatible: func(a, b pmetric.ExponentialHistogramDataPoint) bool {
			return a.ZeroThreshold() == b.ZeroThreshold() && foldedBuckets(a, b) <= int64(maxBuckets)
		},
		fold: foldExponential,
		layout: func(dp pmetric.ExponentialHistogramDataPoint) buckets.Layout {
			return buckets.ExponentialOf(dp)
		},
	})
}

// dataPoint is what explicit and exponential points share here.
type dataPoint interface {
	Attributes() pcommon.Map
	Exemplars() pmetric.ExemplarSlice
}

// dataPoints is a pdata slice of points.
type dataPoints[P dataPoint] interface {
	Len() int
	At(i int) P
	RemoveIf(f func(P) bool)
}

// kind is what merging needs to know of a kind of point.
type kind[P dataPoint] struct {
	// compatible reports whether b's buckets can be added to a's.
	compatible func(a, b P) bool
	fold       func(into, from P)
	layout     func(P) buckets.Layout
}

func mergePoints[P dataPoint, S dataPoints[P]](h identity.Hasher, keys Keys, dps S, k kind[P]) Result {
	var res Result
	n := dps.Len()
	carried := false
	for i := range n {
		if keys.carried(dps.At(i).Attributes()) {
			carried = true
			break
		}
	}
	if !carried {
		return res
	}
	into := receivers(h, keys, dps, k.compatible, &res)
	sources := make([][]int, n)
	var drops []int
	for i := range n {
		switch to := into[i]; to {
		case -1:
			sources[i] = []int{i}
		case i:
			sources[i] = append(sources[i], i)
			keys.remove(dps.At(i).Attributes())
		default:
			k.fold(dps.At(to), dps.At(i))
			sources[to] = append(sources[to], i)
			drops = append(drops, i)
			res.Merged++
		}
	}
	dps.RemoveIf(pdataslice.AtIndexes[P](drops))
	for i := range n {
		if into[i] == i || into[i] == -1 {
			res.Sources = append(res.Sources, sources[i])
		}
	}
	for i, src := range res.Sources {
		if len(src) > 1 {
			dp := dps.At(i)
			onePerBucket(dp.Exemplars(), k.layout(dp))
		}
	}
	return res
}

// receivers returns, per point, the point it is folded into: the first
// compatible point of its stream (streams by attributes without the IDs),
// itself for those first points, or -1 for a point left alone because its
// buckets differ from its stream's first point.
func receivers[P dataPoint, S dataPoints[P]](h identity.Hasher, keys Keys, dps S, compatible func(a, b P) bool, res *Result) []int {
	heads := map[uint64]int{}
	into := make([]int, dps.Len())
	for i := range into {
		attrs := dps.At(i).Attributes()
		key := h.Map(attrs, keys.TraceID, keys.SpanID)
		head, ok := heads[key]
		switch {
		case !ok:
			heads[key] = i
			into[i] = i
		case compatible(dps.At(head), dps.At(i)):
			into[i] = head
		default:
			// Cannot be added to its stream: leave it exactly as it is.
			into[i] = -1
			if keys.carried(attrs) {
				res.BoundsDiffer++
			}
		}
	}
	return into
}

// onePerBucket keeps the newest exemplar of each bucket: merged points
// bring the exemplars of all their parts.
func onePerBucket(exs pmetric.ExemplarSlice, layout buckets.Layout) {
	if exs.Len() < 2 {
		return
	}
	newest := map[int]int{}
	for i := 0; i < exs.Len(); i++ {
		ex := exs.At(i)
		b := layout.Of(buckets.ExemplarValue(ex))
		if j, ok := newest[b]; !ok || ex.Timestamp() > exs.At(j).Timestamp() {
			newest[b] = i
		}
	}
	var drops []int
	for i := 0; i < exs.Len(); i++ {
		if newest[layout.Of(buckets.ExemplarValue(exs.At(i)))] != i {
			drops = append(drops, i)
		}
	}
	exs.RemoveIf(pdataslice.AtIndexes[pmetric.Exemplar](drops))
}

func foldCommon(startInto, startFrom, timeInto, timeFrom pcommon.Timestamp) (start, end pcommon.Timestamp) {
	start, end = startInto, timeInto
	if startFrom != 0 && (start == 0 || startFrom < start) {
		start = startFrom
	}
	return start, max(end, timeFrom)
}

func foldHistogram(into, from pmetric.HistogramDataPoint) {
	start, end := foldCommon(into.StartTimestamp(), from.StartTimestamp(), into.Timestamp(), from.Timestamp())
	into.SetStartTimestamp(start)
	into.SetTimestamp(end)
	into.SetCount(into.Count() + from.Count())
	foldSumMinMax(&into, &from)
	ic, fc := into.BucketCounts(), from.BucketCounts()
	if ic.Len() < fc.Len() {
		// Only empty bucket counts differ in length among equal bounds.
		for ic.Len() < fc.Len() {
			ic.Append(0)
		}
	}
	for i := 0; i < fc.Len(); i++ {
		ic.SetAt(i, ic.At(i)+fc.At(i))
	}
	from.Exemplars().MoveAndAppendTo(into.Exemplars())
}

// sumMinMax is what explicit and exponential points share for merging.
type sumMinMax interface {
	HasSum() bool
	Sum() float64
	SetSum(float64)
	RemoveSum()
	HasMin() bool
	Min() float64
	SetMin(float64)
	RemoveMin()
	HasMax() bool
	Max() float64
	SetMax(float64)
	RemoveMax()
}

func foldSumMinMax[P sumMinMax](into, from P) {
	if into.HasSum() && from.HasSum() {
		into.SetSum(into.Sum() + from.Sum())
	} else {
		into.RemoveSum()
	}
	if into.HasMin() && from.HasMin() {
		into.SetMin(math.Min(into.Min(), from.Min()))
	} else {
		into.RemoveMin()
	}
	if into.HasMax() && from.HasMax() {
		into.SetMax(math.Max(into.Max(), from.Max()))
	} else {
		into.RemoveMax()
	}
}

func foldExponential(into, from pmetric.ExponentialHistogramDataPoint) {
	start, end := foldCommon(into.StartTimestamp(), from.StartTimestamp(), into.Timestamp(), from.Timestamp())
	into.SetStartTimestamp(start)
	into.SetTimestamp(end)
	into.SetCount(into.Count() + from.Count())
	into.SetZeroCount(into.ZeroCount() + from.ZeroCount())
	foldSumMinMax(&into, &from)
	scale := min(into.Scale(), from.Scale())
	downscale(into.Positive(), into.Scale()-scale)
	downscale(into.Negative(), into.Scale()-scale)
	into.SetScale(scale)
	addBuckets(into.Positive(), from.Positive(), from.Scale()-scale)
	addBuckets(into.Negative(), from.Negative(), from.Scale()-scale)
	from.Exemplars().MoveAndAppendTo(into.Exemplars())
}

// foldedBuckets is how many buckets a and b fold into (both ranges at the
// smaller scale and the zero bucket), or MaxInt64 when an index overflows.
func foldedBuckets(a, b pmetric.ExponentialHistogramDataPoint) int64 {
	scale := min(a.Scale(), b.Scale())
	shifts := [2]int32{a.Scale() - scale, b.Scale() - scale}
	n := int64(1)
	for _, r := range [2][2]pmetric.ExponentialHistogramDataPointBuckets{{a.Positive(), b.Positive()}, {a.Negative(), b.Negative()}} {
		lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
		for i, bs := range r {
			shift := shifts[i]
			if bs.BucketCounts().Len() == 0 {
				continue
			}
			first, last := int64(bs.Offset()), int64(bs.Offset())+int64(bs.BucketCounts().Len())-1
			if last > math.MaxInt32 {
				return math.MaxInt64
			}
			lo, hi = min(lo, first>>shift), max(hi, last>>shift)
		}
		if hi >= lo {
			n += hi - lo + 1
		}
	}
	return n
}

// downscale merges buckets in place for a scale shift bits lower.
func downscale(b pmetric.ExponentialHistogramDataPointBuckets, shift int32) {
	if shift == 0 || b.BucketCounts().Len() == 0 {
		return
	}
	counts := b.BucketCounts().AsRaw()
	lo := b.Offset() >> shift
	hi := (b.Offset() + int32(len(counts)) - 1) >> shift
	out := make([]uint64, hi-lo+1)
	for i, c := range counts {
		out[((b.Offset()+int32(i))>>shift)-lo] += c
	}
	b.SetOffset(lo)
	b.BucketCounts().FromRaw(out)
}

// addBuckets adds from's buckets, downscaled by shift, into into.
func addBuckets(into, from pmetric.ExponentialHistogramDataPointBuckets, shift int32) {
	fc := from.BucketCounts()
	if fc.Len() == 0 {
		return
	}
	flo := from.Offset() >> shift
	fhi := (from.Offset() + int32(fc.Len()) - 1) >> shift
	ic := into.BucketCounts().AsRaw()
	lo, hi := flo, fhi
	if len(ic) > 0 {
		lo = min(lo, into.Offset())
		hi = max(hi, into.Offset()+int32(len(ic))-1)
	}
	out := make([]uint64, hi-lo+1)
	for i, c := range ic {
		out[into.Offset()+int32(i)-lo] += c
	}
	for i := 0; i < fc.Len(); i++ {
		out[((from.Offset()+int32(i))>>shift)-lo] += fc.At(i)
	}
	into.SetOffset(lo)
	into.BucketCounts().FromRaw(slices.Clip(out))
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"

import (
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/buckets"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/identity"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/streams"
)

// pointView sees histogram points through their bucket layout, reusing its
// memory from point to point. A point gets no view when it is not valid or
// has more than maxBuckets buckets (see verdict).
type pointView struct {
	maxBuckets int

	counts []uint64
	// bounds are the last explicit bounds read, boundsKey their hash and
	// boundsValid whether a point may have them.
	bounds                  []float64
	boundsKey               uint64
	boundsValid, boundsRead bool
	pt                      enrich.Point
	explicitLayout          buckets.Explicit
	expo                    buckets.Exponential
}

// verdict is what a point's view found.
type verdict uint8

const (
	// viewed: the point is valid and within the bucket cap.
	viewed verdict = iota
	// invalid: counts that do not fit the bounds; NaN, infinite or
	// unsorted bounds; a zero start or end time, or a start after the end
	// (the window of requests the point counts is unknown); an exponential
	// scale or zero threshold out of range, or bucket indexes that
	// overflow.
	invalid
	// tooManyBuckets: more buckets than streams.max_buckets; the point is
	// not read further.
	tooManyBuckets
)

// times checks a point's start and end times.
func times(start, end pcommon.Timestamp) verdict {
	if start == 0 || end == 0 || start > end {
		return invalid
	}
	return viewed
}

func (v *pointView) explicit(dp pmetric.HistogramDataPoint, cumulative bool) (*enrich.Point, verdict) {
	bc, eb := dp.BucketCounts(), dp.ExplicitBounds()
	if vd := times(dp.StartTimestamp(), dp.Timestamp()); vd != viewed {
		return nil, vd
	}
	if bc.Len() > v.maxBuckets || eb.Len() >= v.maxBuckets {
		return nil, tooManyBuckets
	}
	if !v.sameBounds(eb) {
		v.readBounds(eb)
	}
	if bc.Len() == 0 || !v.boundsValid || bc.Len() != len(v.bounds)+1 {
		return nil, invalid
	}
	v.counts = v.counts[:0]
	for i := 0; i < bc.Len(); i++ {
		v.counts = append(v.counts, bc.At(i))
	}
	v.explicitLayout = buckets.Explicit{Bounds: v.bounds}
	fillPoint(v, dp, &v.explicitLayout, cumulative, streams.Layout{Key: v.boundsKey})
	return &v.pt, viewed
}

// sameBounds reports whether eb holds the bounds the view read last, bit
// for bit: the points of a metric share them, and reading them again (the
// layout's hash, the validation) costs more than comparing.
func (v *pointView) sameBounds(eb pcommon.Float64Slice) bool {
	if !v.boundsRead || eb.Len() != len(v.bounds) {
		return false
	}
	for i, b := range v.bounds {
		if math.Float64bits(eb.At(i)) != math.Float64bits(b) {
			return false
		}
	}
	return true
}

// readBounds copies eb, hashes it into the stream layout key and checks
// that the bounds are usable (sorted, finite).
func (v *pointView) readBounds(eb pcommon.Float64Slice) {
	v.bounds = v.bounds[:0]
	v.boundsKey = uint64(eb.Len())
	for i := 0; i < eb.Len(); i++ {
		b := eb.At(i)
		v.bounds = append(v.bounds, b)
		v.boundsKey = identity.Combine(v.boundsKey, math.Float64bits(b))
	}
	v.boundsValid = buckets.ValidateExplicit(v.bounds, len(v.bounds)+1) == nil
	v.boundsRead = true
}

func (v *pointView) exponential(dp pmetric.ExponentialHistogramDataPoint, cumulative bool) (*enrich.Point, verdict) {
	if vd := times(dp.StartTimestamp(), dp.Timestamp()); vd != viewed {
		return nil, vd
	}
	pos, neg := dp.Positive().BucketCounts(), dp.Negative().BucketCounts()
	if 1+pos.Len()+neg.Len() > v.maxBuckets {
		return nil, tooManyBuckets
	}
	if buckets.ValidateExponential(dp.Scale(), dp.ZeroThreshold()) != nil ||
		buckets.ValidateRange(dp.Positive().Offset(), pos.Len()) != nil ||
		buckets.ValidateRange(dp.Negative().Offset(), neg.Len()) != nil {
		return nil, invalid
	}
	v.expo = buckets.ExponentialOf(dp)
	v.counts = append(v.counts[:0], dp.ZeroCount())
	for i := 0; i < pos.Len(); i++ {
		v.counts = append(v.counts, pos.At(i))
	}
	for i := 0; i < neg.Len(); i++ {
		v.counts = append(v.counts, neg.At(i))
	}
	zt := math.Float64bits(dp.ZeroThreshold())
	key := uint64(uint32(dp.Scale()))<<32 | uint64(uint32(zt^zt>>32))
	fillPoint(v, dp, &v.expo, cumulative, streams.Layout{Key: key, PosOffset: v.expo.PosOffset, PosLen: v.expo.PosLen, NegOffset: v.expo.NegOffset})
	v.pt.Exp = &v.expo
	return &v.pt, viewed
}

// release drops the view's reference to the last point's pdata: the
// processor keeps none after Consume returns.
func (v *pointView) release() { v.pt = enrich.Point{} }

// histogramPoint is what explicit and exponential histogram data points share.
type histogramPoint interface {
	StartTimestamp() pcommon.Timestamp
	Timestamp() pcommon.Timestamp
	Count() uint64
	Sum() float64
	HasSum() bool
	Exemplars() pmetric.ExemplarSlice
}

// fillPoint sets v.pt from dp's common fields, the layout and v.counts. It
// is generic rather than taking the interface so dp is not boxed on the heap.
func fillPoint[P histogramPoint](v *pointView, dp P, layout buckets.Layout, cumulative bool, sl streams.Layout) {
	v.pt = enrich.Point{
		Layout:       layout,
		Counts:       v.counts,
		Start:        uint64(dp.StartTimestamp()),
		Time:         uint64(dp.Timestamp()),
		Cumulative:   cumulative,
		Count:        dp.Count(),
		Sum:          dp.Sum(),
		HasSum:       dp.HasSum(),
		StreamLayout: sl,
		Exemplars:    dp.Exemplars(),
	}
}

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
// memory from point to point. A point that is not valid (counts do not fit
// the bounds, NaN or unsorted bounds, zero timestamp, scale or zero
// threshold out of range) gets no view.
type pointView struct {
	counts         []uint64
	bounds         []float64
	pt             enrich.Point
	explicitLayout buckets.Explicit
	expo           buckets.Exponential
}

func (v *pointView) explicit(dp pmetric.HistogramDataPoint, cumulative bool) (*enrich.Point, bool) {
	bc, eb := dp.BucketCounts(), dp.ExplicitBounds()
	v.bounds = v.bounds[:0]
	layoutKey := uint64(eb.Len())
	for i := 0; i < eb.Len(); i++ {
		b := eb.At(i)
		v.bounds = append(v.bounds, b)
		layoutKey = identity.Combine(layoutKey, math.Float64bits(b))
	}
	if dp.Timestamp() == 0 || bc.Len() == 0 || buckets.ValidateExplicit(v.bounds, bc.Len()) != nil {
		return nil, false
	}
	v.counts = v.counts[:0]
	for i := 0; i < bc.Len(); i++ {
		v.counts = append(v.counts, bc.At(i))
	}
	v.explicitLayout = buckets.Explicit{Bounds: v.bounds}
	fillPoint(v, dp, &v.explicitLayout, cumulative, streams.Layout{Key: layoutKey})
	return &v.pt, true
}

func (v *pointView) exponential(dp pmetric.ExponentialHistogramDataPoint, cumulative bool) (*enrich.Point, bool) {
	if dp.Timestamp() == 0 || buckets.ValidateExponential(dp.Scale(), dp.ZeroThreshold()) != nil {
		return nil, false
	}
	v.expo = layoutOf(dp)
	pos, neg := dp.Positive().BucketCounts(), dp.Negative().BucketCounts()
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
	return &v.pt, true
}

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

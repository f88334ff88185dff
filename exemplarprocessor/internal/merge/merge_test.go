// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package merge

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/identity"
)

var keys = Keys{TraceID: "trace_id", SpanID: "span_id"}

// ids returns attributes of a point of route carrying the i-th trace and
// span IDs.
func ids(route string, i int) map[string]any {
	return map[string]any{
		"http.route": route,
		"trace_id":   string(rune('a'+i)) + "0000000000000000000000000000001",
		"span_id":    string(rune('a'+i)) + "000000000000001",
	}
}

// hist describes an explicit-bucket point.
type hist struct {
	attrs            map[string]any
	start, time      uint64
	bounds           []float64
	counts           []uint64
	sum, min, max    float64
	noSum, noMin     bool
	exemplars        []exemplar
	exemplarIntValue bool
}

type exemplar struct {
	value float64
	time  uint64
}

func histograms(t *testing.T, points ...hist) pmetric.HistogramDataPointSlice {
	dps := pmetric.NewHistogramDataPointSlice()
	for _, p := range points {
		dp := dps.AppendEmpty()
		require.NoError(t, dp.Attributes().FromRaw(p.attrs))
		dp.SetStartTimestamp(pcommon.Timestamp(p.start))
		dp.SetTimestamp(pcommon.Timestamp(p.time))
		dp.ExplicitBounds().FromRaw(p.bounds)
		dp.BucketCounts().FromRaw(p.counts)
		var n uint64
		for _, c := range p.counts {
			n += c
		}
		dp.SetCount(n)
		if !p.noSum {
			dp.SetSum(p.sum)
		}
		if !p.noMin {
			dp.SetMin(p.min)
		}
		dp.SetMax(p.max)
		for _, e := range p.exemplars {
			ex := dp.Exemplars().AppendEmpty()
			if p.exemplarIntValue {
				ex.SetIntValue(int64(e.value))
			} else {
				ex.SetDoubleValue(e.value)
			}
			ex.SetTimestamp(pcommon.Timestamp(e.time))
		}
	}
	return dps
}

func TestHistogramsFoldStreams(t *testing.T) {
	bounds := []float64{10, 100}
	dps := histograms(t,
		hist{attrs: ids("/cart", 0), start: 100, time: 1000, bounds: bounds, counts: []uint64{1, 0, 0}, sum: 5, min: 5, max: 5},
		hist{attrs: ids("/pay", 1), start: 100, time: 1000, bounds: bounds, counts: []uint64{0, 1, 0}, sum: 50, min: 50, max: 50},
		hist{attrs: ids("/cart", 2), start: 50, time: 900, bounds: bounds, counts: []uint64{0, 2, 1}, sum: 320, min: 20, max: 300},
		hist{attrs: ids("/cart", 3), start: 200, time: 1100, bounds: bounds, counts: []uint64{1, 0, 0}, sum: 1, min: 1, max: 1},
	)
	res := Histograms(identity.New(), dps, keys)

	assert.Equal(t, 2, res.Merged)
	assert.Zero(t, res.BoundsDiffer)
	assert.Equal(t, [][]int{{0, 2, 3}, {1}}, res.Sources, "every point left stands for its originals")
	require.Equal(t, 2, dps.Len())

	cart := dps.At(0)
	assert.Equal(t, map[string]any{"http.route": "/cart"}, cart.Attributes().AsRaw(), "IDs removed")
	assert.Equal(t, uint64(5), cart.Count())
	assert.Equal(t, []uint64{2, 2, 1}, cart.BucketCounts().AsRaw())
	assert.Equal(t, []float64{10, 100}, cart.ExplicitBounds().AsRaw())
	assert.Equal(t, 326.0, cart.Sum())
	assert.Equal(t, 1.0, cart.Min())
	assert.Equal(t, 300.0, cart.Max())
	assert.Equal(t, pcommon.Timestamp(50), cart.StartTimestamp(), "earliest start")
	assert.Equal(t, pcommon.Timestamp(1100), cart.Timestamp(), "latest time")

	pay := dps.At(1)
	assert.Equal(t, map[string]any{"http.route": "/pay"}, pay.Attributes().AsRaw(), "a point alone loses its IDs too")
	assert.Equal(t, uint64(1), pay.Count())
	assert.Equal(t, 50.0, pay.Sum())
}

func TestHistogramsFoldDetails(t *testing.T) {
	bounds := []float64{10}
	for _, tc := range []struct {
		name  string
		a, b  hist
		check func(t *testing.T, dp pmetric.HistogramDataPoint)
	}{
		{
			"a missing sum or min drops it; max kept",
			hist{attrs: ids("/", 0), time: 1, bounds: bounds, counts: []uint64{1, 0}, sum: 1, min: 1, max: 1},
			hist{attrs: ids("/", 1), time: 1, bounds: bounds, counts: []uint64{1, 0}, noSum: true, noMin: true, max: 2},
			func(t *testing.T, dp pmetric.HistogramDataPoint) {
				assert.False(t, dp.HasSum())
				assert.False(t, dp.HasMin())
				assert.Equal(t, 2.0, dp.Max())
			},
		},
		{
			"an unknown (zero) start is not the earliest",
			hist{attrs: ids("/", 0), start: 0, time: 5, bounds: bounds, counts: []uint64{1, 0}},
			hist{attrs: ids("/", 1), start: 3, time: 4, bounds: bounds, counts: []uint64{1, 0}},
			func(t *testing.T, dp pmetric.HistogramDataPoint) {
				assert.Equal(t, pcommon.Timestamp(3), dp.StartTimestamp())
				assert.Equal(t, pcommon.Timestamp(5), dp.Timestamp())
			},
		},
		{
			"empty bucket counts take the other's",
			hist{attrs: ids("/", 0), time: 1, bounds: bounds},
			hist{attrs: ids("/", 1), time: 1, bounds: bounds, counts: []uint64{3, 4}},
			func(t *testing.T, dp pmetric.HistogramDataPoint) {
				assert.Equal(t, []uint64{3, 4}, dp.BucketCounts().AsRaw())
				assert.Equal(t, uint64(7), dp.Count())
			},
		},
		{
			"a point without IDs joins its stream",
			hist{attrs: map[string]any{"http.route": "/"}, time: 1, bounds: bounds, counts: []uint64{1, 0}},
			hist{attrs: ids("/", 1), time: 1, bounds: bounds, counts: []uint64{0, 1}},
			func(t *testing.T, dp pmetric.HistogramDataPoint) {
				assert.Equal(t, []uint64{1, 1}, dp.BucketCounts().AsRaw())
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dps := histograms(t, tc.a, tc.b)
			res := Histograms(identity.New(), dps, keys)
			assert.Equal(t, 1, res.Merged)
			require.Equal(t, 1, dps.Len())
			assert.Equal(t, map[string]any{"http.route": "/"}, dps.At(0).Attributes().AsRaw())
			tc.check(t, dps.At(0))
		})
	}
}

// Points whose buckets cannot be added stay exactly as they came, IDs and
// all, and are counted.
func TestHistogramsBoundsDiffer(t *testing.T) {
	dps := histograms(t,
		hist{attrs: ids("/", 0), time: 1, bounds: []float64{10}, counts: []uint64{1, 0}},
		hist{attrs: ids("/", 1), time: 1, bounds: []float64{20}, counts: []uint64{1, 0}},
		hist{attrs: ids("/", 2), time: 1, bounds: []float64{10}, counts: []uint64{0, 1}},
		hist{attrs: map[string]any{"http.route": "/"}, time: 1, bounds: []float64{5}, counts: []uint64{0, 1}},
	)
	res := Histograms(identity.New(), dps, keys)
	assert.Equal(t, 1, res.Merged)
	assert.Equal(t, 1, res.BoundsDiffer, "only points that carried IDs count")
	assert.Equal(t, [][]int{{0, 2}, {1}, {3}}, res.Sources)
	require.Equal(t, 3, dps.Len())
	assert.Equal(t, ids("/", 1), dps.At(1).Attributes().AsRaw())
	assert.Equal(t, []float64{20}, dps.At(1).ExplicitBounds().AsRaw())
	assert.Equal(t, []uint64{1, 0}, dps.At(1).BucketCounts().AsRaw())
	assert.Equal(t, []uint64{1, 1}, dps.At(0).BucketCounts().AsRaw())
}

// encoded is the points' wire form, to compare them byte for byte.
func encoded(t *testing.T, dps pmetric.HistogramDataPointSlice) []byte {
	md := pmetric.NewMetrics()
	dps.CopyTo(md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptyHistogram().DataPoints())
	b, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	require.NoError(t, err)
	return b
}

// Without ID attributes nothing changes: not even the order of attributes.
func TestNoIDsUntouched(t *testing.T) {
	dps := histograms(t,
		hist{attrs: map[string]any{"http.route": "/", "b": 1}, time: 1, bounds: []float64{10}, counts: []uint64{1, 0}},
		hist{attrs: map[string]any{"http.route": "/", "b": 1}, time: 2, bounds: []float64{10}, counts: []uint64{0, 1}},
	)
	before := encoded(t, dps)
	res := Histograms(identity.New(), dps, keys)
	assert.Equal(t, Result{}, res)
	assert.Equal(t, before, encoded(t, dps))

	edps := pmetric.NewExponentialHistogramDataPointSlice()
	edps.AppendEmpty().SetCount(1)
	edps.AppendEmpty().SetCount(2)
	assert.Equal(t, Result{}, ExponentialHistograms(identity.New(), edps, keys, 321))
	assert.Equal(t, 2, edps.Len())
}

// The newest exemplar of each bucket stays; merged points bring several.
func TestOneExemplarPerBucket(t *testing.T) {
	bounds := []float64{10, 100}
	for _, intValue := range []bool{false, true} {
		dps := histograms(t,
			hist{
				attrs: ids("/", 0), time: 1, bounds: bounds, counts: []uint64{0, 2, 1}, exemplarIntValue: intValue,
				exemplars: []exemplar{{value: 20, time: 10}, {value: 200, time: 5}},
			},
			hist{
				attrs: ids("/", 1), time: 1, bounds: bounds, counts: []uint64{0, 1, 0}, exemplarIntValue: intValue,
				exemplars: []exemplar{{value: 30, time: 20}},
			},
			hist{
				attrs: ids("/", 2), time: 1, bounds: bounds, counts: []uint64{1, 1, 0}, exemplarIntValue: intValue,
				exemplars: []exemplar{{value: 40, time: 15}, {value: 100, time: 30}, {value: 1, time: 1}},
			},
		)
		Histograms(identity.New(), dps, keys)
		require.Equal(t, 1, dps.Len())
		exs := dps.At(0).Exemplars()
		var got []exemplar
		for i := 0; i < exs.Len(); i++ {
			v := exs.At(i).DoubleValue()
			if intValue {
				v = float64(exs.At(i).IntValue())
			}
			got = append(got, exemplar{value: v, time: uint64(exs.At(i).Timestamp())})
		}
		// (10, 100]: 20@10, 30@20, 40@15, 100@30 -> 100@30 (upper-inclusive).
		assert.Equal(t, []exemplar{{200, 5}, {100, 30}, {1, 1}}, got, "int values: %v", intValue)
	}
}

// expo builds an exponential point at scale from observations.
func expo(t *testing.T, attrs map[string]any, scale int32, zeroThreshold float64, values ...float64) func(pmetric.ExponentialHistogramDataPoint) {
	return func(dp pmetric.ExponentialHistogramDataPoint) {
		require.NoError(t, dp.Attributes().FromRaw(attrs))
		dp.SetScale(scale)
		dp.SetZeroThreshold(zeroThreshold)
		dp.SetTimestamp(1)
		pos, neg := modelBuckets(scale, zeroThreshold, values)
		for _, b := range []struct {
			m   map[int32]uint64
			out pmetric.ExponentialHistogramDataPointBuckets
		}{{pos, dp.Positive()}, {neg, dp.Negative()}} {
			if len(b.m) == 0 {
				continue
			}
			lo, hi := int32(math.MaxInt32), int32(math.MinInt32)
			for i := range b.m {
				lo, hi = min(lo, i), max(hi, i)
			}
			counts := make([]uint64, hi-lo+1)
			for i, c := range b.m {
				counts[i-lo] = c
			}
			b.out.SetOffset(lo)
			b.out.BucketCounts().FromRaw(counts)
		}
		for _, v := range values {
			if math.Abs(v) <= zeroThreshold {
				dp.SetZeroCount(dp.ZeroCount() + 1)
			}
			dp.SetCount(dp.Count() + 1)
			dp.SetSum(dp.Sum() + v)
		}
	}
}

// modelBuckets counts values per exponential bucket index by the data
// model's definition: index i holds (2^(i/2^scale), 2^((i+1)/2^scale)].
func modelBuckets(scale int32, zeroThreshold float64, values []float64) (pos, neg map[int32]uint64) {
	pos, neg = map[int32]uint64{}, map[int32]uint64{}
	for _, v := range values {
		if math.Abs(v) <= zeroThreshold {
			continue
		}
		i := int32(math.Ceil(math.Log2(math.Abs(v))*math.Exp2(float64(scale)))) - 1
		if v > 0 {
			pos[i]++
		} else {
			neg[i]++
		}
	}
	return pos, neg
}

func bucketMap(b pmetric.ExponentialHistogramDataPointBuckets) map[int32]uint64 {
	m := map[int32]uint64{}
	for i := 0; i < b.BucketCounts().Len(); i++ {
		if c := b.BucketCounts().At(i); c > 0 {
			m[b.Offset()+int32(i)] = c
		}
	}
	return m
}

// Points at different scales merge at the coarser scale, with the counts
// the merged observations have there.
func TestExponentialDownscaled(t *testing.T) {
	a := []float64{1.1, 1.3, 1.7, 2.5, 3.9, 7, 0.3, -1.2, -5, 0.001}
	b := []float64{1.05, 6.1, 33, -0.7, -5.5, 0}
	c := []float64{100, 0.01}
	dps := pmetric.NewExponentialHistogramDataPointSlice()
	expo(t, ids("/", 0), 3, 0.01, a...)(dps.AppendEmpty())
	expo(t, ids("/", 1), 1, 0.01, b...)(dps.AppendEmpty())
	expo(t, ids("/", 2), 2, 0.01, c...)(dps.AppendEmpty())

	res := ExponentialHistograms(identity.New(), dps, keys, 321)
	assert.Equal(t, 2, res.Merged)
	assert.Equal(t, [][]int{{0, 1, 2}}, res.Sources)
	require.Equal(t, 1, dps.Len())
	dp := dps.At(0)
	all := append(append(append([]float64{}, a...), b...), c...)
	pos, neg := modelBuckets(1, 0.01, all)
	assert.Equal(t, int32(1), dp.Scale(), "the smallest scale")
	assert.Equal(t, pos, bucketMap(dp.Positive()))
	assert.Equal(t, neg, bucketMap(dp.Negative()))
	assert.Equal(t, uint64(3), dp.ZeroCount())
	assert.Equal(t, uint64(len(all)), dp.Count())
	assert.Equal(t, map[string]any{"http.route": "/"}, dp.Attributes().AsRaw())
}

// Exemplars of an exponential point are kept one per bucket of the merged
// (coarser) layout: two that were in different buckets may now share one.
func TestExponentialExemplarsPerMergedBucket(t *testing.T) {
	dps := pmetric.NewExponentialHistogramDataPointSlice()
	fine := dps.AppendEmpty()
	expo(t, ids("/", 0), 1, 0, 1.1, 1.9)(fine)
	fine.Exemplars().AppendEmpty().SetDoubleValue(1.1) // index 0 at scale 1, 0 at scale 0
	fine.Exemplars().At(0).SetTimestamp(10)
	fine.Exemplars().AppendEmpty().SetDoubleValue(1.9) // index 1 at scale 1, 0 at scale 0
	fine.Exemplars().At(1).SetTimestamp(20)
	coarse := dps.AppendEmpty()
	expo(t, ids("/", 1), 0, 0, 3)(coarse)
	coarse.Exemplars().AppendEmpty().SetIntValue(3)
	coarse.Exemplars().At(0).SetTimestamp(5)

	ExponentialHistograms(identity.New(), dps, keys, 321)
	require.Equal(t, 1, dps.Len())
	exs := dps.At(0).Exemplars()
	require.Equal(t, 2, exs.Len())
	assert.Equal(t, 1.9, exs.At(0).DoubleValue(), "the newest of (1, 2]")
	assert.Equal(t, int64(3), exs.At(1).IntValue(), "alone in (2, 4]")
}

func TestExponentialZeroThresholdsDiffer(t *testing.T) {
	dps := pmetric.NewExponentialHistogramDataPointSlice()
	expo(t, ids("/", 0), 1, 0.01, 1, 2)(dps.AppendEmpty())
	expo(t, ids("/", 1), 1, 0.1, 1, 2)(dps.AppendEmpty())
	expo(t, ids("/", 2), 1, 0.01, 4)(dps.AppendEmpty())
	res := ExponentialHistograms(identity.New(), dps, keys, 321)
	assert.Equal(t, 1, res.Merged)
	assert.Equal(t, 1, res.BoundsDiffer)
	assert.Equal(t, [][]int{{0, 2}, {1}}, res.Sources)
	require.Equal(t, 2, dps.Len())
	assert.Equal(t, ids("/", 1), dps.At(1).Attributes().AsRaw(), "left as it came")
	assert.Equal(t, 0.1, dps.At(1).ZeroThreshold())
	assert.Equal(t, uint64(3), dps.At(0).Count())
}

// Points whose buckets together pass maxBuckets, or whose indexes overflow,
// are not folded: a sender choosing offsets at both ends of int32 would
// otherwise make one merge allocate billions of buckets.
func TestExponentialFarApartNotFolded(t *testing.T) {
	dps := pmetric.NewExponentialHistogramDataPointSlice()
	near := func(offset int32) {
		dp := dps.AppendEmpty()
		expo(t, ids("/", dps.Len()), 20, 0, 1)(dp)
		dp.Positive().SetOffset(offset)
		dp.Positive().BucketCounts().FromRaw([]uint64{1, 1})
	}
	near(math.MinInt32)
	near(math.MaxInt32 - 1) // its last index is MaxInt32: fits
	near(math.MaxInt32)     // its last index passes MaxInt32
	near(math.MinInt32 + 100)
	res := ExponentialHistograms(identity.New(), dps, keys, 321)
	assert.Equal(t, 1, res.Merged, "only the point within 321 buckets of the first")
	assert.Equal(t, 2, res.BoundsDiffer)
	require.Equal(t, 3, dps.Len())
	folded := dps.At(0).Positive()
	assert.Equal(t, int32(math.MinInt32), folded.Offset())
	assert.Equal(t, 102, folded.BucketCounts().Len(), "from the first index to the fourth point's last")
}

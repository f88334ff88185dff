// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"

import (
	"math"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
)

// What the walks need of a point's bucket layout: each bucket's duration
// classes, and which bucket every span of a class falls in. The points of
// one metric share their layout, so this is kept from point to point while
// the explicit layout and the parameters stay the same.

// layoutMemo is the walks' view of one layout.
type layoutMemo struct {
	// key identifies an explicit layout and its parameters. params is held,
	// so its address cannot be reused by other parameters while it is the
	// key; the values the memo depends on are compared too, in case the
	// caller changed them (Input.Params).
	key    uint64
	n      int
	params *Params
	values paramValues
	valid  bool

	ranges []classRange // per bucket
	// ownOf is the bucket every span of a duration class falls in,
	// straddles when the class straddles a bucket bound (or values are not
	// durations): then the span's own value decides; unknownBucket until
	// the class is first met.
	ownOf [classes]int16
}

// paramValues are the parameters a layoutMemo depends on besides the
// timing.
type paramValues struct {
	unitNanos, tolerance float64
	valueSlot            int
}

// classes is the number of duration classes (spanindex.Fine).
const classes = 128

// classLow is the shortest duration, in ns, of each duration class; 0 for
// class 0 (no duration) and math.MaxInt64 past the last class.
var classLow = func() (low [classes + 1]int64) {
	for f := range low {
		low[f] = math.MaxInt64
	}
	low[0] = 0
	for f := 1; f < classes; f++ {
		// The least ns of class f: Fine is monotonic in ns.
		lo, hi := int64(1), int64(math.MaxInt64)
		if spanindex.Fine(hi) < uint8(f) {
			break
		}
		for lo < hi {
			mid := lo + (hi-lo)/2
			if spanindex.Fine(mid) >= uint8(f) {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		low[f] = lo
	}
	return low
}()

// reset prepares the memo for point p with params, keeping it when p's
// layout and params are the ones it describes.
func (m *layoutMemo) reset(p *Point, params *Params) {
	explicit := p.Exp == nil
	values := paramValues{params.UnitNanos, params.Tolerance, params.ValueSlot}
	if explicit && m.valid && m.key == p.StreamLayout.Key && m.n == len(p.Counts) && m.params == params && m.values == values {
		return
	}
	m.ranges = resize(m.ranges, len(p.Counts))
	m.key, m.n, m.params, m.values, m.valid = p.StreamLayout.Key, len(p.Counts), params, values, explicit
	// Classes are placed when first met: a point meets a few of them.
	fill := int16(unknownBucket)
	if !explicit || params.ValueSlot >= 0 || params.UnitNanos <= 0 {
		// Exponential layouts change from point to point (offsets), and
		// attribute values have no duration class: the value decides.
		fill = straddles
	}
	for f := range m.ownOf {
		m.ownOf[f] = fill
	}
}

// ownOf values that are no bucket.
const (
	// straddles: the class's spans fall in different buckets.
	straddles = -1
	// unknownBucket: not worked out yet.
	unknownBucket = -2
)

// own returns the bucket of a span of duration d whose value is v.
func (m *layoutMemo) own(c *collector, d int64, v float64) int {
	f := spanindex.Fine(d)
	b := m.ownOf[f]
	if b == unknownBucket {
		b = m.place(c, f)
	}
	if b >= 0 {
		return int(b)
	}
	return c.p.Layout.Of(v)
}

// place works out the bucket of every span of class f, if there is one:
// a span's value is monotonic in its duration, so a class whose shortest
// and longest durations fall in one bucket lies in it.
func (m *layoutMemo) place(c *collector, f uint8) int16 {
	b := int16(straddles)
	if next := classLow[f+1]; next != math.MaxInt64 {
		first := c.p.Layout.Of(float64(classLow[f]) / c.params.UnitNanos)
		if first == c.p.Layout.Of(float64(next-1)/c.params.UnitNanos) {
			b = int16(first)
		}
	}
	m.ownOf[f] = b
	return b
}

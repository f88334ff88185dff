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
	// key identifies an explicit layout and its parameters; params is held
	// (Params are never changed once made), so its address cannot be
	// reused by other parameters while it is the key.
	key    uint64
	n      int
	params *Params
	valid  bool

	ranges []classRange // per bucket
	// ownOf is the bucket every span of a duration class falls in, -1 when
	// the class straddles a bucket bound (or values are not durations):
	// then the span's own value decides.
	ownOf [classes]int16
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
	if explicit && m.valid && m.key == p.StreamLayout.Key && m.n == len(p.Counts) && m.params == params {
		return
	}
	m.ranges = resize(m.ranges, len(p.Counts))
	wasValid := m.valid
	m.key, m.n, m.params, m.valid = p.StreamLayout.Key, len(p.Counts), params, explicit
	if wasValid || m.ownOf[0] != -1 {
		for f := range m.ownOf {
			m.ownOf[f] = -1
		}
	}
	if !explicit || params.ValueSlot >= 0 || params.UnitNanos <= 0 {
		// Exponential layouts change from point to point (offsets): the
		// classes' buckets would cost more to find than they save.
		return
	}
	for f := range classes {
		if classLow[f+1] == math.MaxInt64 {
			break
		}
		first := p.Layout.Of(float64(classLow[f]) / params.UnitNanos)
		if first == p.Layout.Of(float64(classLow[f+1]-1)/params.UnitNanos) {
			m.ownOf[f] = int16(first)
		}
	}
}

// own returns the bucket of a span of duration d whose value is v.
func (m *layoutMemo) own(c *collector, d int64, v float64) int {
	if c.params.ValueSlot < 0 {
		if b := m.ownOf[spanindex.Fine(d)]; b >= 0 {
			return int(b)
		}
	}
	return c.p.Layout.Of(v)
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"

import (
	"math"
	"time"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
)

// Which spans are honest candidates of a bucket: the window, arrival,
// monotonic timestamps, and when a span from outside a bucket may stand in
// for it.

// eligible returns the rank a span would have as bucket b's candidate, or
// rankNone when it cannot honestly be one.
func (c *collector) eligible(ref *spanindex.Ref, b int) rank {
	w, prev := &c.pl.w, &c.pl.prev[b]
	end := ref.End
	if end <= prev.LastExemplar || end <= w.start || end > w.end || c.pl.wasUsed(ref.Seq) {
		return rankNone
	}
	if !w.continuing {
		return rankFresh
	}
	if end > w.prevTime {
		// Ended since the previous point: it can only explain growth.
		if c.pl.grown[b] {
			return rankFresh
		}
		return rankNone
	}
	// Ended before the previous point: whenever it arrived, one that ended
	// in an interval in which the bucket grew without an exemplar of its
	// own; or one of the bucket's observations that arrived after that
	// point was processed, for a bucket that grew now.
	switch {
	case c.pl.owedAt(b, end):
		return rankOwed
	case c.pl.grown[b] && ref.Seq >= w.prevSeq:
		return rankLate
	default:
		return rankNone
	}
}

// near returns span ref as a candidate of bucket b from outside it: a span
// that ended just after the point (timestamp clamped to the point), or a
// stand-in for a neighbouring bucket (value clamped into it).
func (c *collector) near(ref *spanindex.Ref, v float64, own, b int) (candidate, bool) {
	if c.params.Tolerance <= 0 || b < 0 || !c.pl.target[b] {
		return candidate{}, false
	}
	if b != own {
		return c.standIn(ref, v, own, b)
	}
	if c.eligible(ref, b) != rankNone || !c.admits(ref, b) {
		return candidate{}, false // inside its own bucket: not a near candidate
	}
	ts, r := c.straddles(ref, b)
	if r == rankNone {
		return candidate{}, false
	}
	return candidate{ref: *ref, value: v, ts: ts, ok: true, rank: nearOf(r)}, true
}

// standIn returns span ref, whose value v lies in bucket own, as a stand-in
// for bucket b, its value clamped into b. A span stands in only where it is
// very likely the request b counted, timed differently: it ended in the
// window since the previous point (a late span waits for its own bucket
// instead); its instrumentation could have recorded a value in b for it
// (Params.Timing, direction-aware, within the tolerance); and its own
// bucket holds more of the window's spans than it counted, so one of them
// was counted elsewhere.
func (c *collector) standIn(ref *spanindex.Ref, v float64, own, b int) (candidate, bool) {
	if c.params.Timing == nil || c.eligible(ref, b) != rankFresh || !c.admits(ref, b) || !c.surplus(own) {
		return candidate{}, false
	}
	clamped, ok := clampInto(c.p.Layout, b, v)
	if !ok {
		return candidate{}, false
	}
	return candidate{ref: *ref, value: clamped, ts: ref.End, ok: true, rank: rankNearFresh, dist: math.Abs(clamped - v)}, true
}

// admits reports whether the metric could have counted span ref's request
// in bucket b (Params.Timing). Without a timing, or with the tolerance 0, a
// span's value is taken as the metric's.
func (c *collector) admits(ref *spanindex.Ref, b int) bool {
	if c.params.Timing == nil || c.params.Tolerance <= 0 {
		return true
	}
	lo, hi := c.p.Layout.Range(b)
	return c.params.Timing.Admits(time.Duration(ref.Duration), lo, hi, c.params.UnitNanos)
}

// surplus reports whether bucket own holds more spans of the point's window
// than its count grew by there (delta and first points: its count): then at
// least one of them was counted in another bucket. A value outside every
// bucket of an exponential point lies where the point counted nothing.
func (c *collector) surplus(own int) bool {
	if own < 0 {
		return true
	}
	if c.surpluses == nil {
		c.surpluses = resize(c.buf.surpluses, len(c.pl.target))
		c.buf.surpluses = c.surpluses
	}
	if c.surpluses[own] == 0 {
		c.surpluses[own] = 1
		if c.countSpans(own, c.growth(own)+1) > c.growth(own) {
			c.surpluses[own] = 2
		}
	}
	return c.surpluses[own] == 2
}

// growth is how many requests bucket b counted in the point's window.
func (c *collector) growth(b int) uint64 {
	if c.pl.w.continuing {
		return c.p.Counts[b] - c.pl.prev[b].Count
	}
	return c.p.Counts[b]
}

// countSpans counts, up to enough and within the read budget, the spans of
// the join groups whose value lies in bucket b and that ended in the
// point's window since the previous point.
func (c *collector) countSpans(b int, enough uint64) uint64 {
	w := &c.pl.w
	low := w.start
	if w.continuing {
		low = w.prevTime
	}
	lo, hi := c.p.Layout.Range(b)
	fLo, fHi := fineRange(lo, hi, c.params.UnitNanos)
	var n uint64
	for f := int(fHi); f >= int(fLo) && n < enough; f-- {
		for _, g := range c.groups {
			it := c.r.List(g, uint8(f))
			if it.MaxEnd() <= low {
				continue
			}
			for n < enough && c.read() {
				ref, ok := it.Next(w.seqFloor)
				if !ok {
					break
				}
				if ref.End > low && ref.End <= w.end && c.lay.own(c, ref.Duration, c.spanValue(&ref)) == b {
					n++
				}
			}
		}
	}
	return n
}

// straddles admits a span that ended just after the point for a bucket that
// grew in it: the metric counted the request before the point's time, its
// span ended a moment later. The exemplar takes the point's time.
//
// The same holds for a bucket owed an exemplar for an earlier interval: a
// span that ended just after that interval's point takes the point's time.
func (c *collector) straddles(ref *spanindex.Ref, b int) (uint64, rank) {
	w, prev := &c.pl.w, &c.pl.prev[b]
	tol := uint64(c.params.ToleranceTime.Nanoseconds())
	end := ref.End
	if c.pl.wasUsed(ref.Seq) {
		return 0, rankNone
	}
	if w.continuing && !c.pl.grown[b] {
		for i := 0; prev.Owed>>i != 0 && i < len(c.pl.times); i++ {
			owedTo := c.pl.times[i]
			if prev.Owed&(1<<i) != 0 && end > owedTo && end-owedTo <= tol && owedTo > prev.LastExemplar {
				return owedTo, rankLate
			}
		}
		return 0, rankNone
	}
	if end <= w.end || end-w.end > tol || w.end <= prev.LastExemplar || w.end <= w.start {
		return 0, rankNone
	}
	return w.end, rankFresh
}

// considerExact adds a span the data point names by its IDs. When the point
// tells the observation's value (obs), that value is the exemplar's: it
// lies in the bucket that counted it.
func (c *collector) considerExact(x *Exact, obs observation, res *Result) {
	if x.HasValue || obs.known {
		v := x.Value
		if !x.HasValue {
			v = obs.value
		}
		if b := c.p.Layout.Of(v); b >= 0 && c.pl.target[b] && c.eligible(&x.Ref, b) != rankNone {
			c.cs.add(b, candidate{ref: x.Ref, value: v, ts: x.Ref.End, ok: true, rank: rankExact})
		}
		return
	}
	v := c.spanValue(&x.Ref)
	if math.IsNaN(v) {
		res.ExactValueUnknown++
		return
	}
	own := c.p.Layout.Of(v)
	if own >= 0 && c.pl.target[own] && c.eligible(&x.Ref, own) != rankNone {
		c.cs.add(own, candidate{ref: x.Ref, value: v, ts: x.Ref.End, ok: true, rank: rankExact})
		return
	}
	// The point names the request: it may stand in, without count
	// evidence, for the nearest bucket its timing admits.
	if b, ok := c.nearestAdmitting(&x.Ref, own); ok {
		if clamped, ok := clampInto(c.p.Layout, b, v); ok {
			c.cs.add(b, candidate{ref: x.Ref, value: clamped, ts: x.Ref.End, ok: true, rank: rankExact, dist: math.Abs(clamped - v)})
		}
	}
}

// maxReach bounds how many buckets away from its own a span is tried as a
// stand-in: the timing admits only buckets within the tolerance, which at
// the finest exponential scales is still a few dozen buckets.
const maxReach = 64

// nearestAdmitting returns the target bucket nearest to own, other than
// own, whose window the span fits and for which its timing admits it.
func (c *collector) nearestAdmitting(ref *spanindex.Ref, own int) (int, bool) {
	if c.params.Tolerance <= 0 || c.params.Timing == nil || own < 0 {
		return 0, false
	}
	for d := 1; d <= maxReach; d++ {
		for _, b := range [2]int{own - d, own + d} {
			if b >= 0 && b < len(c.pl.target) && c.pl.target[b] && c.eligible(ref, b) != rankNone && c.admits(ref, b) {
				return b, true
			}
		}
	}
	return 0, false
}

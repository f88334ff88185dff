// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"

import (
	"math"

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
	if end <= prev.LastExemplar || end <= w.start || end > w.end {
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
	// Ended before the previous point: one of this bucket's observations in
	// (start, time] that arrived after the previous point was processed. A
	// bucket that did not grow now takes it only if it ended in the interval
	// in which the bucket grew without an exemplar.
	if ref.Seq < w.prevSeq {
		return rankNone
	}
	if !c.pl.grown[b] && (end <= prev.OwedFrom || end > prev.OwedTo) {
		return rankNone
	}
	return rankLate
}

// near returns span ref as a candidate of bucket b from outside it: its
// duration within the tolerance of b (value clamped into b), or its end
// within the tolerance after the point (timestamp clamped to the point).
func (c *collector) near(ref *spanindex.Ref, v float64, own, b int) (candidate, bool) {
	params := c.params
	if params.Tolerance <= 0 || b < 0 || !c.pl.target[b] {
		return candidate{}, false
	}
	val := v
	if b != own {
		if !c.mayStandIn(ref) {
			return candidate{}, false
		}
		clamped, ok := clampInto(c.p.Layout, b, v)
		if !ok || math.Abs(clamped-v) > params.Tolerance {
			return candidate{}, false
		}
		val = clamped
	}
	ts, r := ref.End, c.eligible(ref, b)
	if r == rankNone {
		if ts, r = c.straddles(ref, b); r == rankNone {
			return candidate{}, false
		}
	} else if b == own {
		return candidate{}, false // inside its own bucket: not a near candidate
	}
	return candidate{ref: *ref, value: val, ts: ts, ok: true, rank: nearOf(r)}, true
}

// straddles admits a span that ended just after the point for a bucket that
// grew in it: the metric counted the request before the point's time, its
// span ended a moment later. The exemplar takes the point's time.
//
// The same holds for a bucket owed since an earlier point: a span that
// ended just after that point and arrived late takes that point's time.
func (c *collector) straddles(ref *spanindex.Ref, b int) (uint64, rank) {
	w, prev := &c.pl.w, &c.pl.prev[b]
	tol := uint64(c.params.ToleranceTime.Nanoseconds())
	end := ref.End
	if w.continuing && !c.pl.grown[b] {
		owedTo := prev.OwedTo
		if owedTo == 0 || ref.Seq < w.prevSeq || end <= owedTo || end-owedTo > tol || owedTo <= prev.LastExemplar {
			return 0, rankNone
		}
		return owedTo, rankLate
	}
	if end <= w.end || end-w.end > tol || w.end <= prev.LastExemplar || w.end <= w.start {
		return 0, rankNone
	}
	return w.end, rankFresh
}

// mayStandIn reports whether span ref may stand in for a neighbouring
// bucket of the point. A cumulative stream's first point counts every
// request since the stream started, usually long before this processor did
// (a restarted gateway, a stream forgotten by the stream table): a bucket
// with nothing inside then holds requests the processor never saw, and the
// span next to it is another request. So a span stands in only if it ended
// after the stream's SeenFrom; on the first point, only if the processor
// holds at least as many of the stream's spans in the window as the point
// counts (seenWhole).
func (c *collector) mayStandIn(ref *spanindex.Ref) bool {
	switch {
	case !c.p.Cumulative:
		return true // a delta point counts only its own interval
	case c.pl.w.continuing:
		return ref.End > c.pl.w.seenFrom
	default:
		return c.seenWhole()
	}
}

// seenWhole reports whether the processor holds at least as many of the
// point's spans in its window as the point counts (those ending within the
// tolerance after it included: the metric may have counted them just
// before).
func (c *collector) seenWhole() bool {
	if c.whole == 0 {
		c.whole = 1
		if c.countInWindow(c.p.Count) >= c.p.Count {
			c.whole = 2
		}
	}
	return c.whole == 2
}

// countInWindow counts the point's spans that ended in its window or within
// the tolerance after it, stopping at enough or after maxCount spans read.
// Every span read is a cache miss at scale, so it reads none when the
// groups' sizes already tell the answer: a point that counts more requests
// than the processor holds (the first after a restart) costs nothing.
func (c *collector) countInWindow(enough uint64) uint64 {
	if enough > maxCount {
		return 0 // more than a read may find: not worth reading
	}
	var held uint64
	for _, g := range c.groups {
		held += c.r.Size(g)
	}
	if held < enough {
		return held // even every span of the stream falls short
	}
	w := &c.pl.w
	end := w.end + uint64(c.params.ToleranceTime.Nanoseconds())
	var n uint64
	read := 0
	for _, g := range c.groups {
		c.buf.countFines = c.r.Fines(g, c.buf.countFines[:0])
		for _, f := range c.buf.countFines {
			it := c.r.List(g, f)
			if it.MaxEnd() <= w.start {
				continue
			}
			for ; read < maxCount && n < enough && c.read(); read++ {
				ref, ok := it.Next(w.seqFloor)
				if !ok {
					break
				}
				if ref.End > w.start && ref.End <= end {
					n++
				}
			}
		}
	}
	return n
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
	tol := c.params.Tolerance
	for _, b := range [2]int{c.p.Layout.Of(v - tol), c.p.Layout.Of(v + tol)} {
		if cand, ok := c.near(&x.Ref, v, own, b); ok {
			cand.rank = rankExact
			c.cs.add(b, cand)
			return
		}
	}
}

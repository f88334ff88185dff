// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"

import (
	"math"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/buckets"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
)

// Candidate collection. Every bucket that needs an exemplar collects
// candidate spans in order of preference: named by the point's own IDs,
// then ended since the previous point, then late, then within the tolerance
// outside the bucket (fresh, then late); a later end first within each.
//
// Collecting is cheap by default: a bucket's walk stops at its first fresh
// span and looks outside the bucket only when it found nothing inside. The
// matching asks a bucket to collect all its candidates (complete) only when
// its first choice is taken.

const (
	// maxWalk bounds the spans visited per duration class list of a group:
	// a bucket's own fresh spans sit on top of its lists (newest first), so
	// a walk that read this many without finding one would find old spans
	// only.
	maxWalk = 512
	// peekWalk is the first, shallow pass over every class of a bucket: the
	// list heads keep copies of their newest spans, so it reads no record.
	peekWalk = spanindex.Peek
	// maxReads is the budget of spans one point may read in all its walks,
	// so its cost does not grow with the spans that match it: under a
	// millisecond at a cache miss per span. A 30-bucket point usually reads
	// a few dozen.
	maxReads = 8192
)

// depth is how much of a bucket's candidates a collection gathers.
type depth uint8

const (
	// quick stops at the bucket's first fresh span and looks outside the
	// bucket only when nothing inside was found.
	quick depth = iota
	// complete gathers every candidate, inside and within the tolerance.
	complete
)

// reach says which spans a walk makes candidates of the bucket it is for.
type reach uint8

const (
	// inside: spans whose value lies in a bucket that needs an exemplar.
	inside reach = iota
	// nearToo: also spans within the tolerance outside the bucket.
	nearToo
)

// stopRule says whether a walk ends at the first fresh candidate of the
// bucket it is for.
type stopRule uint8

const (
	collectAll stopRule = iota
	stopAtFresh
)

// walkSpec is one walk over duration classes for bucket want (-1: none).
type walkSpec struct {
	want  int
	limit int
	reach reach
	stop  stopRule
}

// collector gathers one point's candidates from its join groups.
type collector struct {
	r      spanindex.Reader
	p      *Point
	pl     *plan
	params *Params
	groups []spanindex.GroupID
	cs     *candidates
	buf    *walkBuffers
	lay    *layoutMemo
	// surpluses: surplus' answers per bucket (0 unknown, 1 no, 2 yes);
	// nil until asked.
	surpluses []uint8
	// reads counts the spans read against maxReads.
	reads int
}

// walkBuffers is the collector's reusable scratch.
type walkBuffers struct {
	fines     []uint8
	newest    []spanindex.Recent
	surpluses []uint8
	lists     listMemo
}

// collectAll gathers candidates for every target bucket without a fresh
// one, slowest bucket first.
func (c *collector) collectAll() {
	if len(c.groups) == 0 {
		return
	}
	if c.params.ValueSlot >= 0 {
		// Attribute values are not ordered by duration class: walk every
		// class of every group.
		spec := walkSpec{want: -1, limit: maxWalk, reach: inside, stop: collectAll}
		for i, g := range c.groups {
			c.buf.fines = c.r.Fines(g, c.buf.fines[:0])
			for _, f := range c.buf.fines {
				c.walk(i, f, spec)
			}
		}
		return
	}
	for b := len(c.pl.target) - 1; b >= 0; b-- {
		enough := rankFresh
		if c.pl.prev[b].Owed != 0 {
			enough = rankOwed
		}
		if c.pl.target[b] && !c.cs.hasRank(b, enough) {
			c.fillBucket(b, quick)
		}
	}
}

// collectBucket collects every candidate of bucket b (for the matching).
func (c *collector) collectBucket(b int) { c.fillBucket(b, complete) }

// classRange is the duration classes a bucket's walks visit: its own
// (lo-hi) and, with a tolerance, those from which spans may come from
// outside it (nearLo-nearHi).
type classRange struct {
	lo, hi, nearLo, nearHi uint8
	// ok: the bucket can hold durations (it is not below zero).
	ok    bool
	known bool
}

// classes returns bucket b's class range, computed once per layout.
func (c *collector) classes(b int) classRange {
	r := &c.lay.ranges[b]
	if r.known {
		return *r
	}
	params := c.params
	r.known = true
	lo, hi := c.p.Layout.Range(b)
	if hi < 0 {
		return *r // durations are never negative
	}
	r.ok = true
	r.lo, r.hi = fineRange(lo, hi, params.UnitNanos)
	// Spans from outside the bucket: those that ended just after the point
	// lie inside it; stand-ins as far as the instrumentation's timing reaches.
	r.nearLo, r.nearHi = r.lo, r.hi
	if params.Tolerance > 0 && params.Timing != nil {
		sLo, sHi := params.Timing.SpanRange(lo, hi, params.UnitNanos)
		nLo, nHi := fineRange(sLo, sHi, params.UnitNanos)
		r.nearLo, r.nearHi = min(nLo, r.lo), max(nHi, r.hi)
	}
	return *r
}

// fillBucket collects candidates of bucket b from the duration classes of
// its range, newest spans first (see depth).
func (c *collector) fillBucket(b int, d depth) {
	if c.params.ValueSlot >= 0 || len(c.groups) == 0 {
		return // collectAll walked everything already, or there is nothing to walk
	}
	r := c.classes(b)
	if !r.ok {
		return
	}
	tolerant := c.params.Tolerance > 0
	// An owed bucket's spans of older intervals may have arrived before
	// newer ones and lie below them: its quick search reads deep.
	if d == complete || c.pl.prev[b].Owed != 0 {
		c.walkClasses(r.lo, r.hi, walkSpec{want: b, limit: maxWalk, reach: inside, stop: collectAll})
		if tolerant {
			c.walkClasses(r.nearLo, r.nearHi, walkSpec{want: b, limit: maxWalk, reach: nearToo, stop: collectAll})
		}
		return
	}
	if c.walkClasses(r.lo, r.hi, walkSpec{want: b, limit: peekWalk, reach: inside, stop: stopAtFresh}) {
		return
	}
	// Late spans arrive last and sit on top of fresh ones: a peek that found
	// only late ones walks deep too.
	if c.walkClasses(r.lo, r.hi, walkSpec{want: b, limit: maxWalk, reach: inside, stop: stopAtFresh}) || c.cs.hasRank(b, rankLate) {
		return
	}
	if tolerant {
		c.walkClasses(r.nearLo, r.nearHi, walkSpec{want: b, limit: maxWalk, reach: nearToo, stop: stopAtFresh})
	}
}

// walkClasses walks the duration classes hi down to lo of every join group
// and reports whether a walk found what it stops at. Lists the point found
// empty are skipped (listMemo).
func (c *collector) walkClasses(lo, hi uint8, spec walkSpec) bool {
	m := &c.buf.lists
	for f := int(hi); f >= int(lo); f-- {
		for i := range c.groups {
			if m.mayHold(i, uint8(f)) && c.walk(i, uint8(f), spec) {
				return true
			}
		}
	}
	return false
}

// fineRange returns the duration classes of spans whose value in the unit
// of unitNanos lies in [lo, hi].
func fineRange(lo, hi, unitNanos float64) (uint8, uint8) {
	fLo := uint8(0)
	if l := lo * unitNanos; l > 0 {
		fLo = spanindex.Fine(int64(math.Min(l, math.MaxInt64/2)))
	}
	fHi := uint8(127)
	if h := hi * unitNanos; h < math.MaxInt64/2 {
		fHi = spanindex.Fine(int64(math.Ceil(h)))
	}
	return fLo, fHi
}

// walk visits one duration class of a group, newest first, and reports
// whether it stopped at what spec stops at. A walk of at most
// spanindex.Peek spans reads the copies the list head keeps of its newest
// spans, not their records.
func (c *collector) walk(gi int, fine uint8, spec walkSpec) bool {
	w := &c.pl.w
	it := c.r.List(c.groups[gi], fine)
	live := c.reachable(&it)
	c.buf.lists.checked(gi, fine, live)
	if !live || (spec.want >= 0 && it.MaxEnd() <= c.pl.prev[spec.want].LastExemplar) {
		return false
	}
	if spec.limit <= spanindex.Peek {
		c.buf.newest = it.Newest(c.buf.newest[:0])
		for _, s := range c.buf.newest[:min(spec.limit, len(c.buf.newest))] {
			if s.Seq < w.seqFloor || !c.read() {
				return false
			}
			ref := c.r.RefOf(s)
			if c.visit(&ref, spec) {
				return true
			}
		}
		return false
	}
	for visited := 0; visited < spec.limit; visited++ {
		if !c.read() {
			return false
		}
		// Lists run newest first: below the floor the rest arrived earlier still.
		ref, ok := it.Next(w.seqFloor)
		if !ok {
			return false
		}
		if c.visit(&ref, spec) {
			return true
		}
	}
	return false
}

// visit makes a span a candidate of the target bucket it lies in and, when
// the walk reaches near, of bucket spec.want within the tolerance; it
// reports whether the walk may stop.
func (c *collector) visit(ref *spanindex.Ref, spec walkSpec) bool {
	v := c.spanValue(ref)
	own := c.lay.own(c, ref.Duration, v)
	if own >= 0 && c.pl.target[own] {
		// eligible compares integers; admits does float arithmetic behind
		// an interface: ask it only of spans the window lets in.
		if r := c.eligible(ref, own); r != rankNone && c.admits(ref, own) {
			c.cs.add(own, candidate{ref: *ref, value: v, ts: ref.End, ok: true, rank: r})
			if spec.stop == stopAtFresh && own == spec.want && r == rankFresh {
				return true
			}
		}
	}
	if spec.reach == nearToo {
		if cand, ok := c.near(ref, v, own, spec.want); ok {
			c.cs.add(spec.want, cand)
			if spec.stop == stopAtFresh && cand.rank == rankNearFresh {
				return true
			}
		}
	}
	return false
}

// read takes one span read from the point's budget and reports whether
// there was one.
func (c *collector) read() bool {
	if c.reads >= maxReads {
		return false
	}
	c.reads++
	return true
}

// reachable tells from a list's head alone whether it can hold a candidate
// of the point: some span must end inside the window, and, in a continuing
// window, spans that ended by the previous point count only if they arrived
// after it or, where some bucket is owed an exemplar, ended in an owed
// interval (whenever they arrived). (A bucket's walk also needs a span that
// ended after the bucket's last exemplar: see walk.)
func (c *collector) reachable(it *spanindex.Iter) bool {
	w := &c.pl.w
	maxEnd := it.MaxEnd()
	if maxEnd <= w.start {
		return false
	}
	if head := it.HeadSeq(); head < w.seqFloor {
		return false
	} else if w.continuing && maxEnd <= w.prevTime && head < w.prevSeq {
		return c.pl.owedFrom != 0 && maxEnd > c.pl.owedFrom
	}
	return true
}

// spanValue is a span's value in the metric's unit, or NaN.
func (c *collector) spanValue(ref *spanindex.Ref) float64 {
	if c.params.ValueSlot >= 0 {
		if x := c.r.Extra(*ref); x != nil && c.params.ValueSlot < len(x.Values) {
			return x.Values[c.params.ValueSlot]
		}
		return math.NaN()
	}
	if c.params.UnitNanos > 0 {
		return float64(ref.Duration) / c.params.UnitNanos
	}
	return math.NaN()
}

// clampInto returns the value of bucket b nearest to v.
func clampInto(l buckets.Layout, b int, v float64) (float64, bool) {
	lo, hi := l.Range(b)
	c := hi
	if v <= lo {
		c = math.Nextafter(lo, math.Inf(1))
	}
	// Bounds of exponential buckets are computed: step inwards until the
	// exact mapping agrees.
	for range 4 {
		if l.Of(c) == b {
			return c, true
		}
		if v <= lo {
			c = math.Nextafter(c, math.Inf(1))
		} else {
			c = math.Nextafter(c, math.Inf(-1))
		}
	}
	return 0, false
}

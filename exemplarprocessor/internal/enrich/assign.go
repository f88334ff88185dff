// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"

import (
	"math"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/buckets"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/streams"
)

// Candidates and their assignment.
//
// Every bucket that needs an exemplar collects candidate spans in order of
// preference: named by the point's own IDs, then ended since the previous
// point, then late, then within the tolerance outside the bucket (fresh,
// then late); a later end first within each. Spans are then assigned to
// buckets by augmenting paths (Kuhn's matching), slowest bucket first: a
// bucket takes its most preferred candidate that is free, or that the bucket
// holding it can give up for another of its own. So every bucket that can
// have an exemplar gets one, and a span explains at most one bucket.
//
// Collecting is cheap by default: a bucket's walk stops at its first fresh
// span and looks outside the bucket only when it found nothing inside. A
// bucket asked to give up its span collects all its candidates then.

// maxCandidates bounds a bucket's candidate list.
const maxCandidates = 8

// better orders candidates of one bucket.
func (c *candidate) better(o *candidate) bool {
	return c.rank > o.rank || (c.rank == o.rank && c.ref.End > o.ref.End)
}

// add puts c into bucket b's candidates, kept sorted best first.
func (e *Enricher) add(b int, c candidate) {
	l := e.lists[b]
	for i := range l {
		if l[i].ref.Seq == c.ref.Seq {
			if !c.better(&l[i]) {
				return
			}
			l = append(l[:i], l[i+1:]...) // re-insert at its new place
			break
		}
	}
	i := len(l)
	for i > 0 && c.better(&l[i-1]) {
		i--
	}
	if i == maxCandidates {
		e.lists[b] = l
		return
	}
	if len(l) < maxCandidates {
		l = append(l, candidate{})
	}
	copy(l[i+1:], l[i:])
	l[i] = c
	e.lists[b] = l
}

func (e *Enricher) hasRank(b int, r rank) bool {
	l := e.lists[b]
	return len(l) > 0 && l[0].rank >= r
}

// considerExact adds a span the data point names by its IDs.
func (e *Enricher) considerExact(p *Point, w *window, x *Exact, obs float64, hasObs bool, params *Params, res *Result) {
	if x.HasValue || hasObs {
		v := x.Value
		if !x.HasValue {
			v = obs
		}
		// The measured value itself: it lies in the bucket that counted it.
		if b := p.Layout.Of(v); b >= 0 && e.target[b] && e.eligible(w, &x.Ref, b) != rankNone {
			e.add(b, candidate{ref: x.Ref, value: v, ts: x.Ref.End, ok: true, rank: rankExact})
		}
		return
	}
	v := e.spanValue(&x.Ref, params)
	if math.IsNaN(v) {
		res.ExactValueUnknown++
		return
	}
	own := p.Layout.Of(v)
	if own >= 0 && e.target[own] && e.eligible(w, &x.Ref, own) != rankNone {
		e.add(own, candidate{ref: x.Ref, value: v, ts: x.Ref.End, ok: true, rank: rankExact})
		return
	}
	for _, b := range [2]int{p.Layout.Of(v - params.Tolerance), p.Layout.Of(v + params.Tolerance)} {
		if c, ok := e.near(p, w, &x.Ref, v, own, b, params); ok {
			c.rank = rankExact
			e.add(b, c)
			return
		}
	}
}

// near returns span ref as a candidate of bucket b from outside it: its
// duration within the tolerance of b (value clamped into b), or its end
// within the tolerance after the point (timestamp clamped to the point).
func (e *Enricher) near(p *Point, w *window, ref *spanindex.Ref, v float64, own, b int, params *Params) (candidate, bool) {
	if params.Tolerance <= 0 || b < 0 || !e.target[b] {
		return candidate{}, false
	}
	val := v
	if b != own {
		if !e.mayStandIn(ref) {
			return candidate{}, false
		}
		c, ok := clampInto(p.Layout, b, v)
		if !ok || math.Abs(c-v) > params.Tolerance {
			return candidate{}, false
		}
		val = c
	}
	ts, r := ref.End, e.eligible(w, ref, b)
	if r == rankNone {
		if ts, r = e.straddles(w, ref, b, params); r == rankNone {
			return candidate{}, false
		}
	} else if b == own {
		return candidate{}, false // inside its own bucket: not a near candidate
	}
	return candidate{ref: *ref, value: val, ts: ts, ok: true, rank: r - (rankLate - rankNearLate)}, true
}

// maxCount bounds the spans read to tell whether a stream's first point
// was seen whole.
const maxCount = 4096

// mayStandIn reports whether span ref may stand in for a neighbouring
// bucket of the current point. A cumulative stream's first point counts
// every request since the stream started, usually long before this
// processor did (a restarted gateway, a stream forgotten by the stream
// table): a bucket with nothing inside then holds requests the processor
// never saw, and the span next to it is another request. So a span stands
// in only if it ended after the stream's SeenFrom; on the first point, only
// if the processor holds at least as many of the stream's spans in the
// window as the point counts (seenWhole).
func (e *Enricher) mayStandIn(ref *spanindex.Ref) bool {
	p, w := e.cur.p, &e.cur.w
	switch {
	case !p.Cumulative:
		return true // a delta point counts only its own interval
	case w.continuing:
		return ref.End > w.seenFrom
	default:
		return e.seenWhole()
	}
}

// seenWhole reports whether the processor holds at least as many of the
// current point's spans in its window as the point counts (those ending
// within the tolerance after it included: the metric may have counted them
// just before).
func (e *Enricher) seenWhole() bool {
	p := e.cur.p
	if !e.cur.wholeKnown {
		e.cur.wholeKnown = true
		e.cur.whole = e.countInWindow(p.Count) >= p.Count
	}
	return e.cur.whole
}

// countInWindow counts the current point's spans that ended in its window
// or within the tolerance after it, stopping at enough or after maxCount
// spans read. Every span read is a cache miss at scale, so it reads none
// when the groups' sizes already tell the answer: a point that counts more
// requests than the processor holds (the first after a restart) costs
// nothing.
func (e *Enricher) countInWindow(enough uint64) uint64 {
	if enough > maxCount {
		return 0 // more than a read may find: not worth reading
	}
	var held uint64
	for _, g := range e.groups {
		held += e.reader.Size(g)
	}
	if held < enough {
		return held // even every span of the stream falls short
	}
	w := &e.cur.w
	end := w.end + e.cur.params.ToleranceNanos
	var n uint64
	read := 0
	for _, g := range e.groups {
		e.countFines = e.reader.Fines(g, e.countFines[:0])
		for _, f := range e.countFines {
			it := e.reader.List(g, f)
			if it.MaxEnd() <= w.start {
				continue
			}
			for ; read < maxCount && n < enough; read++ {
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

// straddles admits a span that ended just after the point for a bucket that
// grew in it: the metric counted the request before the point's time, its
// span ended a moment later. The exemplar takes the point's time.
//
// The same holds for a bucket owed since an earlier point: a span that
// ended just after that point and arrived late takes the point's time.
func (e *Enricher) straddles(w *window, ref *spanindex.Ref, b int, params *Params) (uint64, rank) {
	end := ref.End
	if w.continuing && !e.grown[b] {
		owedTo := e.prev[b].OwedTo
		if owedTo == 0 || ref.Seq < w.prevSeq || end <= owedTo || end-owedTo > params.ToleranceNanos || owedTo <= e.prev[b].LastExemplar {
			return 0, rankNone
		}
		return owedTo, rankLate
	}
	if end <= w.end || end-w.end > params.ToleranceNanos || w.end <= e.prev[b].LastExemplar || w.end <= w.start {
		return 0, rankNone
	}
	return w.end, rankFresh
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

// KeySource builds a data point's join key on demand: a stream whose join
// groups are cached needs none.
type KeySource interface {
	JoinKey() *spanindex.Key
}

// joinGroups sets e.groups to the index groups the point's key selects,
// from the stream's cache while the index says they have not changed: a
// point's key often has wildcards (dimensions of other rules) and would scan
// every group of its service.
func (e *Enricher) joinGroups(st *streams.State, keys KeySource) {
	if st.GroupsGen != 0 && e.reader.GenerationOf(st.GroupsRK) == st.GroupsGen {
		e.groups = e.groups[:0]
		for _, g := range st.Groups {
			e.groups = append(e.groups, spanindex.GroupID(g))
		}
		return
	}
	key := keys.JoinKey()
	e.groups = e.reader.Groups(key, e.groups[:0])
	st.Groups, st.GroupsGen, st.GroupsRK = st.Groups[:0], e.reader.Generation(key), key.RKHash()
	for _, g := range e.groups {
		st.Groups = append(st.Groups, uint32(g))
	}
}

// collect gathers candidates for every target bucket of e.cur without a
// fresh one, slowest bucket first.
func (e *Enricher) collect() {
	params := e.cur.params
	if len(e.groups) == 0 {
		return
	}
	if params.ValueSlot >= 0 {
		// Attribute values are not ordered by duration class: walk every
		// class of every group.
		for _, g := range e.groups {
			e.fines = e.reader.Fines(g, e.fines[:0])
			for _, f := range e.fines {
				e.walk(g, f, -1, maxWalk, false, false)
			}
		}
		return
	}
	for b := len(e.target) - 1; b >= 0; b-- {
		if e.target[b] && !e.hasRank(b, rankFresh) {
			e.fillBucket(b, false)
		}
	}
}

// fillBucket collects candidates of bucket b from the duration classes of
// its range, newest spans first. Quick: peek at the newest spans of every
// class, walk deep only when they held no fresh span, and look outside the
// bucket (within the tolerance) only when nothing inside was found. Full:
// walk everything, inside and within the tolerance.
func (e *Enricher) fillBucket(b int, full bool) {
	p, params := e.cur.p, e.cur.params
	if params.ValueSlot >= 0 || len(e.groups) == 0 {
		return // collect walked everything already, or there is nothing to walk
	}
	lo, hi := p.Layout.Range(b)
	if hi < 0 {
		return // durations are never negative
	}
	fLo, fHi := fineRange(lo, hi, params.UnitNanos)
	if full {
		e.walkClasses(b, fLo, fHi, maxWalk, false, false)
		if params.Tolerance > 0 {
			nLo, nHi := fineRange(lo-params.Tolerance, hi+params.Tolerance, params.UnitNanos)
			e.walkClasses(b, nLo, nHi, maxWalk, true, false)
		}
		return
	}
	if e.walkClasses(b, fLo, fHi, peekWalk, false, true) {
		return
	}
	// Late spans arrive last and sit on top of fresh ones: a peek that found
	// only late ones walks deep too.
	if e.walkClasses(b, fLo, fHi, maxWalk, false, true) || e.hasRank(b, rankLate) {
		return
	}
	if params.Tolerance > 0 {
		nLo, nHi := fineRange(lo-params.Tolerance, hi+params.Tolerance, params.UnitNanos)
		e.walkClasses(b, nLo, nHi, maxWalk, true, true)
	}
}

// walkClasses walks the duration classes hi down to lo of every join group
// for bucket b and reports whether a walk found what it stops at.
func (e *Enricher) walkClasses(b int, lo, hi uint8, limit int, near, stop bool) bool {
	for f := int(hi); f >= int(lo); f-- {
		for _, g := range e.groups {
			if e.walk(g, uint8(f), b, limit, near, stop) {
				return true
			}
		}
	}
	return false
}

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

// walk visits one duration class of a group, newest first. Every span
// becomes a candidate of the target bucket it lies in; in the near pass also
// of bucket want when within the tolerance. With stop, the walk ends at a
// fresh candidate of want (inside it, or in the near pass within the
// tolerance) and reports true. A peek (limit up to spanindex.Peek) reads the
// copies the list head keeps of its newest spans, not their records.
func (e *Enricher) walk(g spanindex.GroupID, fine uint8, want, limit int, near, stop bool) bool {
	w := &e.cur.w
	it := e.reader.List(g, fine)
	if !e.reachable(w, &it, want) {
		return false
	}
	if limit <= spanindex.Peek {
		e.newest = it.Newest(e.newest[:0])
		for _, s := range e.newest[:min(limit, len(e.newest))] {
			if s.Seq < w.seqFloor {
				return false
			}
			ref := e.reader.RefOf(s)
			if e.visit(&ref, want, near, stop) {
				return true
			}
		}
		return false
	}
	for visited := 0; visited < limit; visited++ {
		// Lists run newest first: below the floor the rest arrived earlier still.
		ref, ok := it.Next(w.seqFloor)
		if !ok {
			return false
		}
		if e.visit(&ref, want, near, stop) {
			return true
		}
	}
	return false
}

// visit makes a span a candidate of the buckets it can serve and reports
// whether the walk may stop (see walk).
func (e *Enricher) visit(ref *spanindex.Ref, want int, near, stop bool) bool {
	p, w, params := e.cur.p, &e.cur.w, e.cur.params
	v := e.spanValue(ref, params)
	own := p.Layout.Of(v)
	if own >= 0 && e.target[own] {
		if r := e.eligible(w, ref, own); r != rankNone {
			e.add(own, candidate{ref: *ref, value: v, ts: ref.End, ok: true, rank: r})
			if stop && own == want && r == rankFresh {
				return true
			}
		}
	}
	if near {
		if c, ok := e.near(p, w, ref, v, own, want, params); ok {
			e.add(want, c)
			if stop && c.rank == rankNearFresh {
				return true
			}
		}
	}
	return false
}

// reachable tells from a list's head alone whether it can hold a candidate:
// some span must end inside the window and after the bucket's last exemplar,
// and, in a continuing window, spans that ended by the previous point count
// only if they arrived after it.
func (e *Enricher) reachable(w *window, it *spanindex.Iter, want int) bool {
	maxEnd := it.MaxEnd()
	if maxEnd <= w.start || (want >= 0 && maxEnd <= e.prev[want].LastExemplar) {
		return false
	}
	if head := it.HeadSeq(); head < w.seqFloor {
		return false
	} else if w.continuing && maxEnd <= w.prevTime && head < w.prevSeq {
		return false
	}
	return true
}

// assign matches spans to target buckets, slowest bucket first, and leaves
// each matched bucket's candidate in e.best. First only with spans inside
// their bucket; then spans within the tolerance fill the buckets left empty,
// moving a span away from its own bucket only when that bucket can take
// another: an unclamped exemplar is preferred whenever it costs no bucket.
func (e *Enricher) assign() {
	e.owners = e.owners[:0]
	for _, near := range [2]bool{false, true} {
		for b := len(e.target) - 1; b >= 0; b-- {
			if e.target[b] && len(e.lists[b]) > 0 && !e.best[b].ok {
				e.seen = e.seen[:0]
				e.augment(b, near)
			}
		}
	}
}

// augment gives bucket b a span: its most preferred candidate that is free,
// or whose holder can take another of its own; candidates from outside the
// bucket only when near is set.
func (e *Enricher) augment(b int, near bool) bool {
	for i := 0; ; i++ {
		// Past its first choice a bucket settles for nothing before it has
		// collected all its candidates: a quick list stops at the first
		// fresh span and may hide another.
		if i > 0 && !e.full[b] {
			e.full[b] = true
			e.fillBucket(b, true)
			i = 0 // the list is re-sorted: look again, seen spans are skipped
		}
		if i == len(e.lists[b]) {
			return false
		}
		c := e.lists[b][i]
		if (!near && c.rank < rankLate) || e.wasSeen(c.ref.Seq) {
			continue
		}
		e.seen = append(e.seen, c.ref.Seq)
		if o := e.ownerOf(c.ref.Seq); o < 0 || e.augment(o, near) {
			e.setOwner(c.ref.Seq, b)
			e.best[b] = c
			return true
		}
	}
}

type owner struct {
	seq    uint64
	bucket int
}

func (e *Enricher) ownerOf(seq uint64) int {
	for _, o := range e.owners {
		if o.seq == seq {
			return o.bucket
		}
	}
	return -1
}

func (e *Enricher) setOwner(seq uint64, b int) {
	for i := range e.owners {
		if e.owners[i].seq == seq {
			e.owners[i].bucket = b
			return
		}
	}
	e.owners = append(e.owners, owner{seq: seq, bucket: b})
}

func (e *Enricher) wasSeen(seq uint64) bool {
	for _, s := range e.seen {
		if s == seq {
			return true
		}
	}
	return false
}

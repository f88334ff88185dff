// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth // import "github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Coverage: of the grown buckets, how many the workload's spans could
// honestly fill at once (matchable), and how many of those got a valid
// exemplar of their window (covered). "At once" takes two matchings: per
// point, a span fills one bucket; per stream, a bucket carries one
// exemplar per point (a slot), which serves the growth of the point's own
// window or, on a cumulative stream, an earlier window's still owed.

// demand is a grown bucket b of point k for which the point's matching
// found a span: the slots where it could get its exemplar, the one that
// covers it first.
type demand struct {
	k, b    int
	covered bool
	slots   []slot
	// cands are the candidates (window indexes) that could fill it.
	cands []int
}

// slot is bucket b of point m: it carries one exemplar.
type slot struct{ m, b int }

// candidateSet says which of a window's candidates a matching may use.
type candidateSet uint8

const (
	// anyFit: a span of the bucket's own or a stand-in.
	anyFit candidateSet = iota
	// ownOnly: only spans whose own duration lies in the bucket.
	ownOnly
)

// coverage counts, over the points of s, the grown buckets, those filled,
// those matchable and those covered; and how many of them spans of their
// own buckets alone could fill (InsideMatchable).
func (j *Judge) coverage(mr *MetricReport, s *Stream) {
	var ds []demand
	for k, p := range s.Points {
		mr.Exponential = mr.Exponential || p.Layout.Exponential()
		pm := j.pointDemands(s, k, anyFit)
		mr.Grown += pm.grown
		mr.Filled += pm.filled
		for _, why := range pm.unmatched {
			addCount(&mr.Unmatchable, why, 1)
		}
		ds = append(ds, pm.demands...)
	}
	for i, ok := range slotMatching(ds) {
		d := ds[i]
		switch {
		case !ok:
			addCount(&mr.Unmatchable, UnmatchableSlot, 1)
		case d.covered:
			mr.Matchable++
			mr.Covered++
		default:
			mr.Matchable++
			j.uncovered(mr, j.windowOf(s, d.k), d.b, d.cands)
		}
	}
	var own []demand
	for k := range s.Points {
		own = append(own, j.pointDemands(s, k, ownOnly).demands...)
	}
	for _, ok := range slotMatching(own) {
		if ok {
			mr.InsideMatchable++
		}
	}
	mr.NeededStandIns += j.neededStandIns(mr, s)
}

// slotMatching matches demands to the slots where they could get their
// exemplar, covered ones first: a maximum matching keeps every demand it
// has matched, so it holds as many covered ones as any can. It sorts ds
// so (covered first, stable) and reports which of them are matched.
func slotMatching(ds []demand) []bool {
	sort.SliceStable(ds, func(a, b int) bool { return ds[a].covered && !ds[b].covered })
	index := map[slot]int{}
	adj := make([][]int, len(ds))
	for i, d := range ds {
		for _, sl := range d.slots {
			if _, ok := index[sl]; !ok {
				index[sl] = len(index)
			}
			adj[i] = append(adj[i], index[sl])
		}
	}
	return maxMatching(adj)
}

// pointMatch is what one point's matching found: its grown and filled
// buckets, why those left without a span are, and the others as demands.
type pointMatch struct {
	grown, filled int
	unmatched     []string
	demands       []demand
}

// pointDemands matches point k's grown buckets to the candidates of its
// window that set allows (covered buckets first).
func (j *Judge) pointDemands(s *Stream, k int, set candidateSet) pointMatch {
	w := j.windowOf(s, k)
	var pm pointMatch
	var covered, open []int
	var by []covering
	var at []int
	for b := range s.Points[k].Counts {
		if !s.Grown(k, b) {
			continue
		}
		pm.grown++
		if ex, m, ok := j.coveredBy(s, k, b); ok {
			pm.filled++
			covered, at = append(covered, b), append(at, m)
			by = append(by, covering{ex: ex, sdk: j.given(s, m, ex)})
		} else {
			open = append(open, b)
		}
	}
	buckets := slices.Concat(covered, open)
	adj := j.adjacency(w, buckets, by, set)
	for i, ok := range maxMatching(adj) {
		if !ok {
			pm.unmatched = append(pm.unmatched, j.whyUnmatchable(w, buckets[i]))
			continue
		}
		d := demand{k: k, b: buckets[i], covered: i < len(covered), cands: adj[i]}
		if d.covered {
			d.slots = []slot{{at[i], s.BucketAt(at[i], k, d.b)}}
		}
		pm.demands = append(pm.demands, j.slotsOf(w, d))
	}
	return pm
}

// adjacency lists, per bucket, the candidates of point w (by index) that
// could honestly fill it, but for spans a valid exemplar placed in another
// window (one request is counted once); the first len(by) buckets are
// covered, by those exemplars, whose span could fill them whatever the
// model of arrival says (a valid exemplar shows it). With ownOnly, only
// spans whose duration lies in the bucket, and a covering span where the
// exemplar is the SDK's (kept whatever the processor's tolerance) or its
// value is the span's duration (after an exponential downscale, a span of
// a finer neighbour is the coarser bucket's own).
func (j *Judge) adjacency(w *window, buckets []int, by []covering, set candidateSet) [][]int {
	cands := w.candidates()
	adj := make([][]int, len(buckets))
	for i, b := range buckets {
		for si, sp := range cands {
			d := sp.Value(w.s.UnitNanos)
			if i < len(by) && by[i].names(sp) {
				if set == anyFit || by[i].sdk || closeTo(by[i].ex.Value, d, relTolerance) {
					adj[i] = append(adj[i], si)
				}
				continue
			}
			if set == ownOnly && w.s.Points[w.k].Layout.Of(d) != b {
				continue
			}
			if j.free(w, b, sp, set) && j.canFill(w, b, sp) {
				adj[i] = append(adj[i], si)
			}
		}
	}
	return adj
}

// free reports whether sp may still explain bucket b of window w: no valid
// exemplar placed its request in another window or, but for the in-bucket
// limit (what duration_tolerance 0 could reach, stand-ins or not), in
// another bucket.
func (j *Judge) free(w *window, b int, sp *Span, set candidateSet) bool {
	at, ok := j.placed[w.s][sp]
	switch {
	case !ok:
		return true
	case at.jk != w.k:
		return false
	case set == ownOnly:
		return true
	}
	lo, hi := w.s.Points[w.k].Layout.Range(b)
	return !at.apart(lo, hi)
}

// covering is the exemplar that covers a grown bucket; sdk: the point
// arrived with it.
type covering struct {
	ex  Exemplar
	sdk bool
}

func (c covering) names(sp *Span) bool {
	return sp.TraceID == c.ex.TraceID && sp.SpanID == c.ex.SpanID
}

// given reports whether point m of s arrived with exemplar ex.
func (j *Judge) given(s *Stream, m int, ex Exemplar) bool {
	src := j.in.ByID(s.ID)
	return src != nil && m < len(src.Points) && slices.Contains(src.Points[m].Exemplars, ex)
}

// slotsOf adds to d the slots where its candidates could give it an
// exemplar: its own point for one delivered by then, later points of the
// run for a late span of its own (lateSlots).
func (j *Judge) slotsOf(w *window, d demand) demand {
	s, k := w.s, w.k
	add := func(m int) {
		if sl := (slot{m, s.BucketAt(m, k, d.b)}); sl.b >= 0 && !slices.Contains(d.slots, sl) {
			d.slots = append(d.slots, sl)
		}
	}
	cands := w.candidates()
	for _, si := range d.cands {
		sp := cands[si]
		if sp.Tick <= s.Points[k].Tick {
			add(k)
			continue
		}
		if j.fitOf(w, d.b, sp, s.Points[k].Tick) != fitOwn {
			continue
		}
		from, to := lateSlots(s, k, d.b, sp)
		for m := from; m <= to; m++ {
			add(m)
		}
	}
	return d
}

// lateSlots returns the points from..to (from > to: none) at which bucket b
// of cumulative point k may take a span sp of its own that arrived after
// k: from the first point it had arrived by, as long as the bucket did not
// grow again before (a newer growth is owed the bucket's exemplar next; to
// recover the older one after it would step back in time), up to and
// including the next point at which it grew.
func lateSlots(s *Stream, k, b int, sp *Span) (from, to int) {
	from, to = -1, -2
	for m := k + 1; s.Cumulative && m < len(s.Points) && s.Continues(m); m++ {
		bm := s.BucketAt(m, k, b)
		if bm < 0 {
			break
		}
		if from < 0 && sp.Tick <= s.Points[m].Tick {
			from = m
		}
		if from >= 0 {
			to = m
		}
		if s.Grown(m, bm) {
			break
		}
	}
	return from, to
}

// candidates are the spans that may fill a bucket of the window's point:
// those that ended in the window, then those that ended just after it.
func (w *window) candidates() []*Span { return slices.Concat(w.spans, w.after) }

// fit is how a span may fill a bucket.
type fit uint8

const (
	fitNone fit = iota
	// fitOwn: the span's duration lies in the bucket.
	fitOwn
	// fitStandIn: the span may stand in for the bucket.
	fitStandIn
)

// fitOf says how span sp, one of point w's candidates, may fill bucket b
// by the rules: its duration in the bucket, or a stand-in (a span of the
// window, within the instrumentation's skew and the product's tolerance,
// with count evidence among the spans delivered by tick upTo, see
// window.evidence); either only where the instrumentation could have
// counted its request there.
func (j *Judge) fitOf(w *window, b int, sp *Span, upTo int) fit {
	s, p := w.s, w.s.Points[w.k]
	lo, hi := p.Layout.Range(b)
	if !j.skews.For(s.Scope).Within(Tolerance).Admits(float64(sp.Nanos()), lo, hi, s.UnitNanos) {
		return fitNone
	}
	d := sp.Value(s.UnitNanos)
	switch {
	case p.Layout.Of(d) == b:
		return fitOwn
	case sp.End > w.hi:
		return fitNone // a straddling span fills its own bucket only
	}
	if _, ok := p.Layout.ClampInto(b, d); !ok || !w.evidence(d, upTo) {
		return fitNone
	}
	return fitStandIn
}

// canFill reports whether span sp, one of point w's candidates, could
// honestly fill bucket b: it fits, and arrived in time; a stand-in before
// the point itself (a late span never stands in), a span of the bucket's
// own before the point or a later one that may still recover it.
func (j *Judge) canFill(w *window, b int, sp *Span) bool {
	tick := w.s.Points[w.k].Tick
	switch j.fitOf(w, b, sp, tick) {
	case fitOwn:
		if sp.Tick <= tick {
			return true
		}
		from, to := lateSlots(w.s, w.k, b, sp)
		return from <= to
	case fitStandIn:
		return sp.Tick <= tick
	default:
		return false
	}
}

// Why a grown bucket is not matchable.
const (
	UnmatchableNoSpan   = "no span joins the point in its window"
	UnmatchableNoFit    = "no span of the window fits the bucket"
	UnmatchableLate     = "its spans arrived too late"
	UnmatchableContends = "its spans are needed by other buckets of the point"
	UnmatchableSlot     = "the bucket's one exemplar is needed by another window"
)

func (j *Judge) whyUnmatchable(w *window, b int) string {
	if len(w.spans)+len(w.after) == 0 {
		return UnmatchableNoSpan
	}
	fits, arrived := false, false
	for _, sp := range w.candidates() {
		if j.fitOf(w, b, sp, anyTick) != fitNone {
			fits = true
			arrived = arrived || j.canFill(w, b, sp)
		}
	}
	switch {
	case !fits:
		return UnmatchableNoFit
	case !arrived:
		return UnmatchableLate
	default:
		return UnmatchableContends
	}
}

func addCount(m *map[string]int, key string, n int) {
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[key] += n
}

// coveredBy returns the valid exemplar naming a span from its window that
// grown bucket b of point k carries, on the point or (a recovered late
// span) a later point m of the same cumulative run, and m.
func (j *Judge) coveredBy(s *Stream, k, b int) (Exemplar, int, bool) {
	lo, hi := s.Window(k)
	for m := k; m < len(s.Points) && (m == k || s.Cumulative && s.Continues(m)); m++ {
		bm := s.BucketAt(m, k, b)
		for i, ex := range s.Points[m].Exemplars {
			if bm >= 0 && ex.Bucket == bm && ex.HasIDs() && ex.TS > lo && ex.TS <= hi && !j.invalid[exemplarRef{s, m, i}] {
				return ex, m, true
			}
		}
	}
	return Exemplar{}, -1, false
}

// maxMatching matches left vertices (buckets) to right ones (spans), each
// used once, by augmenting paths in the order given; a vertex once matched
// stays matched. It reports which left vertices are matched.
func maxMatching(adj [][]int) []bool {
	owner := map[int]int{} // right vertex -> left vertex
	matched := make([]bool, len(adj))
	var try func(u int, seen map[int]bool) bool
	try = func(u int, seen map[int]bool) bool {
		for _, v := range adj[u] {
			if seen[v] {
				continue
			}
			seen[v] = true
			if o, taken := owner[v]; !taken || try(o, seen) {
				owner[v] = u
				return true
			}
		}
		return false
	}
	for u := range adj {
		matched[u] = try(u, map[int]bool{})
	}
	return matched
}

// uncovered records an example of a matchable bucket left without an
// exemplar: what grew, and the spans that could have filled it.
func (j *Judge) uncovered(mr *MetricReport, w *window, b int, cands []int) {
	if len(mr.Uncovered) >= maxExamples {
		return
	}
	p := w.s.Points[w.k]
	desc := make([]string, 0, len(cands))
	for _, si := range cands {
		sp := w.candidates()[si]
		desc = append(desc, fmt.Sprintf("span %s/%s %.6f %s ended %d delivered at tick %d",
			sp.TraceID, sp.SpanID, sp.Value(w.s.UnitNanos), w.s.Unit, sp.End, sp.Tick))
	}
	mr.Uncovered = append(mr.Uncovered, fmt.Sprintf("stream %s point %d (tick %d, window (%d, %d]) bucket %s grew by %d; it could have had: %s",
		w.s.ID, w.k, p.Tick, w.lo, w.hi, p.Layout.Describe(b), w.added(b), strings.Join(desc, "; ")))
}

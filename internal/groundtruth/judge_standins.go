// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth // import "github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// Stand-ins the workload forces. A valid stand-in is an honest exemplar
// (its request was very likely counted in the bucket), yet a span of the
// bucket's own duration says so without any doubt: a processor should use
// a stand-in only where no such span could take its place.
//
// Where could one have? The processor fills the buckets of a point when
// the point arrives, from the spans it holds then; a stand-in cannot wait
// for a better span (a late span never stands in), and whether the
// bucket's own late span will come is not known. So the judge asks, per
// point: with the spans that had reached the collector by the point, could
// the point have served as many windows' growth as the processor's
// exemplars on it serve, with fewer stand-ins? The fewest is a
// minimum-cost matching of the point's buckets to those spans, of the size
// the processor filled, where a span of the bucket's own costs nothing and
// a stand-in costs one:
//
//   - a grown bucket takes a span of the point's window (ended in it or,
//     of the bucket's own, at most Tolerance after it) that no valid
//     exemplar placed in another window: of its own duration, or standing
//     in within the skew and the tolerance with count evidence among the
//     spans delivered by the point;
//   - on a cumulative stream a bucket also takes a late span of its own
//     from an earlier window of the run that it is still owed one for,
//     if the span is newer than the bucket's last exemplar; a late span on
//     a bucket that grew now but owes its window nothing serves no
//     window's growth (coverage does not count it) and counts for neither
//     side;
//   - a span is free only if no valid exemplar of an earlier point names
//     it (one request, one exemplar); buckets and spans of the SDK's own
//     exemplars are not the processor's to choose and are left out; every
//     valid exemplar the processor added that serves a window is an edge,
//     so its own choice is one of the matchings weighed and it never needs
//     fewer than it attached.
//
// The simpler figure, covered buckets minus those spans of their own
// buckets alone could fill (InsideMatchable), is no measure of this: it
// counts spans that arrived after the point as able to replace a stand-in
// on it (on a cumulative stream the bucket's own late span, recovered in
// hindsight; docs/sdk-compatibility.md has the figures), and a lower
// bound is not the fewest (where a span of a bucket's own must
// move to stand in for its neighbour, covering one more bucket takes two
// stand-ins).

// excess records an example of a point the processor gave more stand-ins
// than it needed: its stand-ins, and the spans of their buckets' own a
// cheapest matching uses instead.
func (j *Judge) excess(mr *MetricReport, g *fillGraph, m *matching, cost int) {
	if len(mr.Excess) >= maxExamples {
		return
	}
	s, p := g.s, g.s.Points[g.k]
	spans := make([]*Span, len(g.right))
	for sp, v := range g.right {
		spans[v] = sp
	}
	var took, instead []string
	for b, sp := range g.standIns {
		if e := m.left[g.left[b]]; e < 0 || spans[m.adj[g.left[b]][e].to] != sp {
			took = append(took, fmt.Sprintf("%s from span %s/%s %.6f %s", p.Layout.Describe(b), sp.TraceID, sp.SpanID, sp.Value(s.UnitNanos), s.Unit))
		}
	}
	for b, u := range g.left {
		if e := m.left[u]; e >= 0 && m.adj[u][e].cost == 0 {
			sp := spans[m.adj[u][e].to]
			if ex, ok := j.exemplarOn(s, g.k, b); !ok || ex.SpanID != sp.SpanID || ex.TraceID != sp.TraceID {
				instead = append(instead, fmt.Sprintf("%s from span %s/%s %.6f %s ended %d delivered at tick %d",
					p.Layout.Describe(b), sp.TraceID, sp.SpanID, sp.Value(s.UnitNanos), s.Unit, sp.End, sp.Tick))
			}
		}
	}
	sort.Strings(took)
	sort.Strings(instead)
	mr.Excess = append(mr.Excess, fmt.Sprintf("stream %s point %d (tick %d): %d stand-ins where %d do; the cheapest matching differs on the stand-ins on %s; it fills with spans of their own %s",
		s.ID, g.k, p.Tick, len(g.standIns), cost, strings.Join(took, "; "), strings.Join(instead, "; ")))
}

// exemplarOn returns the exemplar bucket b of point k carries.
func (j *Judge) exemplarOn(s *Stream, k, b int) (Exemplar, bool) {
	for _, ex := range s.Points[k].Exemplars {
		if ex.Bucket == b {
			return ex, true
		}
	}
	return Exemplar{}, false
}

// costEdge is an edge of a matching with its cost.
type costEdge struct{ to, cost int }

// fillGraph is one point's buckets (left) and the spans that could fill
// them (right), each edge costing 1 for a stand-in.
type fillGraph struct {
	s     *Stream
	k     int
	left  map[int]int // bucket -> left vertex
	right map[*Span]int
	adj   [][]costEdge
	// taken: buckets an SDK exemplar fills; skip: spans that are not
	// free (an SDK exemplar of the point names them, or a valid exemplar
	// of an earlier point: one request is one exemplar).
	taken map[int]bool
	skip  map[*Span]bool
	// filled counts the valid exemplars the processor added that serve a
	// window's growth; standIns holds those that stand in, by bucket.
	filled   int
	standIns map[int]*Span
}

// neededStandIns returns, summed over the points of s, the fewest
// stand-ins with which each point could have had as many exemplars from
// the processor as it got, and records examples of points that had more.
func (j *Judge) neededStandIns(mr *MetricReport, s *Stream) int {
	src := j.in.ByID(s.ID)
	if src == nil || len(src.Points) != len(s.Points) {
		return 0
	}
	used := j.usedSpans(s, src)
	needed := 0
	for k := range s.Points {
		g := j.fillGraphOf(s, k, src.Points[k].Exemplars, used)
		cost, m := minCostMatching(g.adj, len(g.right), g.filled)
		needed += cost
		if len(g.standIns) > cost {
			j.excess(mr, g, m, cost)
		}
	}
	return needed
}

// usedSpans returns, per span a valid exemplar of s names (the SDK's or
// the processor's), the points that carry one.
func (j *Judge) usedSpans(s, src *Stream) map[*Span][]int {
	used := map[*Span][]int{}
	for k, p := range src.Points {
		for _, ex := range p.Exemplars {
			for _, sp := range j.spans.Lookup(ex.TraceID, ex.SpanID) {
				used[sp] = append(used[sp], k)
			}
		}
	}
	for _, r := range j.attached[s] {
		if r.sp != nil && !j.invalid[exemplarRef{s, r.k, r.i}] {
			used[r.sp] = append(used[r.sp], r.k)
		}
	}
	return used
}

// fillGraphOf builds point k's graph: the processor's valid exemplars
// first, then every other honest way to fill a bucket.
func (j *Judge) fillGraphOf(s *Stream, k int, given []Exemplar, used map[*Span][]int) *fillGraph {
	g := &fillGraph{
		s: s, k: k, left: map[int]int{}, right: map[*Span]int{},
		taken: map[int]bool{}, skip: map[*Span]bool{}, standIns: map[int]*Span{},
	}
	for _, ex := range given {
		if ex.HasIDs() {
			g.taken[ex.Bucket] = true
			for _, sp := range j.spans.Lookup(ex.TraceID, ex.SpanID) {
				g.skip[sp] = true
			}
		}
	}
	for sp, at := range used {
		if slices.ContainsFunc(at, func(m int) bool { return m < k }) {
			g.skip[sp] = true
		}
	}
	for _, r := range j.attached[s] {
		ex := s.Points[r.k].Exemplars[r.i]
		if r.k != k || r.sp == nil || j.invalid[exemplarRef{s, r.k, r.i}] || g.taken[ex.Bucket] ||
			r.jk < 0 || r.jk < k && !owedSince(s, r.jk, k, ex.Bucket) {
			continue // invalid, or a late span serving no window's growth
		}
		g.filled++
		g.add(ex.Bucket, r.sp, costOf(r.standIn))
		if r.standIn {
			g.standIns[ex.Bucket] = r.sp
		}
	}
	j.freshEdges(g)
	if s.Continues(k) {
		j.lateEdges(g)
	}
	return g
}

// freshEdges adds the spans of point k's window delivered by the point:
// each on the grown buckets it fits.
func (j *Judge) freshEdges(g *fillGraph) {
	s, k := g.s, g.k
	w := j.windowOf(s, k)
	tick := s.Points[k].Tick
	for _, sp := range w.candidates() {
		if sp.Tick > tick || g.skip[sp] || j.placedElsewhere(s, sp, k) {
			continue
		}
		for b := range s.Points[k].Counts {
			if !s.Grown(k, b) || g.taken[b] {
				continue
			}
			switch j.fitOf(w, b, sp, tick) {
			case fitOwn:
				g.add(b, sp, 0)
			case fitStandIn:
				g.add(b, sp, 1)
			default:
			}
		}
	}
}

// lateEdges adds the late spans a cumulative point k may take: delivered
// by the point, ended in an earlier window of its run, on the bucket of
// their own duration where it is owed one since their window, newer than
// that bucket's last exemplar.
func (j *Judge) lateEdges(g *fillGraph) {
	s, k := g.s, g.k
	first := k
	for first > 0 && s.Continues(first) {
		first--
	}
	runLo, _ := s.Window(first)
	lo, _ := s.Window(k)
	all := j.joinedOf(s)
	from := sort.Search(len(all), func(i int) bool { return all[i].End > runLo })
	to := sort.Search(len(all), func(i int) bool { return all[i].End > lo })
	last := lastExemplars(s, k)
	p := s.Points[k]
	skew := j.skews.For(s.Scope).Within(Tolerance)
	for _, sp := range all[from:to] {
		jk := s.Interval(sp.End, k-1)
		b := p.Layout.Of(sp.Value(s.UnitNanos))
		if sp.Tick > p.Tick || g.skip[sp] || jk < 0 || b < 0 || g.taken[b] || j.placedElsewhere(s, sp, jk) {
			continue
		}
		bl, bh := p.Layout.Range(b)
		if !skew.Admits(float64(sp.Nanos()), bl, bh, s.UnitNanos) || sp.End <= last[p.Layout.ID(b)] {
			continue
		}
		if owedSince(s, jk, k, b) {
			g.add(b, sp, 0)
		}
	}
}

// placedElsewhere reports whether a valid exemplar placed span sp's
// request in a window of s other than point k's.
func (j *Judge) placedElsewhere(s *Stream, sp *Span, k int) bool {
	at, ok := j.placed[s][sp]
	return ok && at.jk != k
}

// lastExemplars returns the newest exemplar timestamp of each bucket of s
// before point k.
func lastExemplars(s *Stream, k int) map[BucketID]uint64 {
	last := map[BucketID]uint64{}
	for m := range k {
		l := s.Points[m].Layout
		for _, ex := range s.Points[m].Exemplars {
			if id := l.ID(ex.Bucket); ex.HasIDs() && ex.Bucket >= 0 && ex.TS > last[id] {
				last[id] = ex.TS
			}
		}
	}
	return last
}

// add adds an edge from bucket b to span sp, once (the cheaper, if twice).
func (g *fillGraph) add(b int, sp *Span, cost int) {
	u, ok := g.left[b]
	if !ok {
		u = len(g.adj)
		g.left[b] = u
		g.adj = append(g.adj, nil)
	}
	v, ok := g.right[sp]
	if !ok {
		v = len(g.right)
		g.right[sp] = v
	}
	if i := slices.IndexFunc(g.adj[u], func(e costEdge) bool { return e.to == v }); i >= 0 {
		g.adj[u][i].cost = min(g.adj[u][i].cost, cost)
		return
	}
	g.adj[u] = append(g.adj[u], costEdge{to: v, cost: cost})
}

func costOf(standIn bool) int {
	if standIn {
		return 1
	}
	return 0
}

// minCostMatching returns the least total cost of a matching of n left
// vertices to right ones (of as many as can be matched, if fewer), and
// that matching, by successive cheapest augmenting paths: a cheapest
// matching of one size augmented along a cheapest path is a cheapest
// matching of the next.
func minCostMatching(adj [][]costEdge, nRight, n int) (int, *matching) {
	m := &matching{adj: adj, left: make([]int, len(adj)), right: make([]int, nRight)}
	for i := range m.left {
		m.left[i] = -1
	}
	for i := range m.right {
		m.right[i] = -1
	}
	total := 0
	for range n {
		c, ok := m.augment()
		if !ok {
			break
		}
		total += c
	}
	return total, m
}

// matching is a bipartite matching: left[u] is the index in adj[u] of
// u's matched edge, right[v] the left vertex matched to v (-1: none).
type matching struct {
	adj         [][]costEdge
	left, right []int
}

// step is how a cheapest path reached a right vertex: by edge adj[u][edge].
type step struct{ u, edge int }

// augment matches one more left vertex along a cheapest augmenting path
// (Bellman-Ford: a matched edge walked back refunds its cost) and returns
// the path's cost.
func (m *matching) augment() (int, bool) {
	const inf = math.MaxInt / 2
	distL, distR := make([]int, len(m.adj)), make([]int, len(m.right))
	via := make([]step, len(m.right))
	for u := range distL {
		distL[u] = inf
		if m.left[u] < 0 {
			distL[u] = 0
		}
	}
	for v := range distR {
		distR[v] = inf
	}
	for changed, rounds := true, 0; changed && rounds <= len(distL)+len(distR); rounds++ {
		changed = false
		for u, edges := range m.adj {
			for ei, e := range edges {
				if distL[u] < inf && ei != m.left[u] && distL[u]+e.cost < distR[e.to] {
					distR[e.to], via[e.to], changed = distL[u]+e.cost, step{u, ei}, true
				}
			}
		}
		for v, u := range m.right {
			if u >= 0 && distR[v] < inf && distR[v]-m.adj[u][m.left[u]].cost < distL[u] {
				distL[u], changed = distR[v]-m.adj[u][m.left[u]].cost, true
			}
		}
	}
	end := -1
	for v, u := range m.right {
		if u < 0 && distR[v] < inf && (end < 0 || distR[v] < distR[end]) {
			end = v
		}
	}
	if end < 0 {
		return 0, false
	}
	for v := end; ; {
		u := via[v].u
		old := m.left[u]
		m.left[u], m.right[v] = via[v].edge, u
		if old < 0 {
			break
		}
		v = m.adj[u][old].to
	}
	return distR[end], true
}

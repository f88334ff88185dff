// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth // import "github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"

import (
	"fmt"
	"slices"
	"strings"
)

// coverage counts, over the points of s, the grown buckets, how many of
// them the workload's spans could honestly fill at once, and how many of
// those carry a valid exemplar of their window.
func (j *Judge) coverage(mr *MetricReport, s *Stream) {
	for k, p := range s.Points {
		w := j.windowOf(s, k)
		var covered, open []int
		for b := range p.Counts {
			if !s.Grown(k, b) {
				continue
			}
			mr.Grown++
			if j.covered(s, k, b) {
				covered = append(covered, b)
			} else {
				open = append(open, b)
			}
		}
		// Covered buckets first: a maximum matching keeps every bucket it
		// has matched, so it holds as many covered ones as any can.
		buckets := slices.Concat(covered, open)
		adj := make([][]int, len(buckets))
		for i, b := range buckets {
			for si, sp := range w.spans {
				if j.canFill(w, b, sp) {
					adj[i] = append(adj[i], si)
				}
			}
		}
		for i, ok := range maxMatching(adj) {
			switch {
			case !ok:
				addCount(&mr.Unmatchable, j.whyUnmatchable(w, buckets[i]))
			case i < len(covered):
				mr.Matchable++
				mr.Covered++
			default:
				mr.Matchable++
				j.uncovered(mr, w, buckets[i], adj[i])
			}
		}
	}
}

// canFill reports whether span sp of point w's window could honestly fill
// bucket b there: it fits the bucket, and arrived in time (recoverable).
func (j *Judge) canFill(w *window, b int, sp *Span) bool {
	return j.recoverable(w.s, w.k, b, sp) && j.fits(w, b, sp)
}

// fits reports whether span sp of point w's window lies in bucket b, or
// may stand in for it by the rules.
func (j *Judge) fits(w *window, b int, sp *Span) bool {
	s, p := w.s, w.s.Points[w.k]
	d := sp.Value(s.UnitNanos)
	if p.Layout.Of(d) == b {
		return true
	}
	if _, ok := p.Layout.ClampInto(b, d); !ok {
		return false
	}
	return j.skews.For(s.Scope, s.Unit).Allows(p.Layout.Distance(b, d)*s.UnitNanos) && w.evidence(d)
}

// Why a grown bucket is not matchable.
const (
	UnmatchableNoSpan   = "no span joins the point in its window"
	UnmatchableNoFit    = "no span of the window fits the bucket"
	UnmatchableLate     = "its spans arrived too late"
	UnmatchableContends = "its spans are needed by other buckets of the point"
)

func (j *Judge) whyUnmatchable(w *window, b int) string {
	if len(w.spans) == 0 {
		return UnmatchableNoSpan
	}
	fit, arrived := false, false
	for _, sp := range w.spans {
		if j.fits(w, b, sp) {
			fit = true
			arrived = arrived || j.recoverable(w.s, w.k, b, sp)
		}
	}
	switch {
	case !fit:
		return UnmatchableNoFit
	case !arrived:
		return UnmatchableLate
	default:
		return UnmatchableContends
	}
}

func addCount(m *map[string]int, key string) {
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[key]++
}

// recoverable reports whether sp reached the processor before point k, or,
// on a cumulative stream, before a later point of the same run while the
// bucket is still owed an exemplar: until a point whose own growth has a
// span of its own there, which takes the bucket's one exemplar (and a
// later recovery would step back in time).
func (j *Judge) recoverable(s *Stream, k, b int, sp *Span) bool {
	if sp.Tick <= s.Points[k].Tick {
		return true
	}
	for m := k + 1; s.Cumulative && m < len(s.Points) && s.Continues(m); m++ {
		bm := s.BucketAt(m, k, b)
		if bm < 0 || j.claimed(s, m, bm) {
			return false
		}
		if sp.Tick <= s.Points[m].Tick {
			return true
		}
	}
	return false
}

type slotKey struct {
	s    *Stream
	k, b int
}

// claimed reports whether bucket b of point k grew and a span that fits it
// had arrived by then: the point's own growth takes the bucket.
func (j *Judge) claimed(s *Stream, k, b int) bool {
	key := slotKey{s, k, b}
	if v, ok := j.claims[key]; ok {
		return v
	}
	claim := false
	if s.Grown(k, b) {
		w := j.windowOf(s, k)
		for _, sp := range w.spans {
			if sp.Tick <= s.Points[k].Tick && j.fits(w, b, sp) {
				claim = true
				break
			}
		}
	}
	j.claims[key] = claim
	return claim
}

// covered reports whether grown bucket b of point k carries a valid
// exemplar naming a span from its window, on the point or (a recovered late
// span) a later point of the same cumulative run.
func (j *Judge) covered(s *Stream, k, b int) bool {
	lo, hi := s.Window(k)
	for m := k; m < len(s.Points) && (m == k || s.Cumulative && s.Continues(m)); m++ {
		bm := s.BucketAt(m, k, b)
		for i, ex := range s.Points[m].Exemplars {
			if bm >= 0 && ex.Bucket == bm && ex.HasIDs() && ex.TS > lo && ex.TS <= hi && !j.invalid[exemplarRef{s, m, i}] {
				return true
			}
		}
	}
	return false
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
		sp := w.spans[si]
		desc = append(desc, fmt.Sprintf("span %s/%s %.6f %s ended %d delivered at tick %d",
			sp.TraceID, sp.SpanID, sp.Value(w.s.UnitNanos), w.s.Unit, sp.End, sp.Tick))
	}
	mr.Uncovered = append(mr.Uncovered, fmt.Sprintf("stream %s point %d (tick %d, window (%d, %d]) bucket %s grew by %d; it could have had: %s",
		w.s.ID, w.k, p.Tick, w.lo, w.hi, p.Layout.Describe(b), w.added(b), strings.Join(desc, "; ")))
}

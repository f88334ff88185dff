// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"

import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"

// maxCandidates bounds a bucket's candidate list. The matching moves a span
// to another bucket only along candidates it holds; eight per bucket give
// every chain of give-and-take on a 15-30 bucket point room while keeping a
// point's lists small enough to stay in cache.
const maxCandidates = 8

// candidate is a span that may be a bucket's exemplar.
type candidate struct {
	ref   spanindex.Ref
	value float64
	ts    uint64 // exemplar timestamp: the span's end, or the point's time when clamped
	ok    bool
	rank  rank
	// dist is how far a stand-in's span lies outside the bucket (metric's
	// unit): the nearer, the likelier it is the request the bucket counted.
	dist float64
}

// rank orders candidates for one bucket; a higher rank wins, then a later end.
type rank uint8

const (
	rankNone rank = iota
	// rankNearLate and rankNearFresh: from outside the bucket. Fresh: a
	// stand-in (value clamped into the bucket) or a span that ended just
	// after the point (timestamp clamped); late: a late span that ended just
	// after the point its bucket is owed for.
	rankNearLate
	rankNearFresh
	// rankLate: ended before the previous point, arrived after it, for a
	// bucket that grew.
	rankLate
	// rankFresh: ended since the previous point (or in the window).
	rankFresh
	// rankOwed: ended in an interval the bucket is owed an exemplar for. It
	// goes before a fresh one: that interval can only be served before a
	// newer one (timestamps never go back), while the fresh spans stay
	// candidates of the newer interval, owed in turn, on the next point.
	rankOwed
	// rankExact: named by the data point's own trace/span IDs.
	rankExact
)

// nearOf is the rank of a span from outside its bucket that would have had
// rank r inside it.
func nearOf(r rank) rank { return r - (rankLate - rankNearLate) }

// better orders candidates of one bucket: by rank; among those from
// outside the bucket the nearest; late and owed ones oldest first (an
// older interval can only be filled before a newer one: timestamps never
// go back); others the later end.
func (c *candidate) better(o *candidate) bool {
	switch {
	case c.rank != o.rank:
		return c.rank > o.rank
	case c.rank <= rankNearFresh && c.dist != o.dist:
		return c.dist < o.dist
	case c.rank == rankLate || c.rank == rankOwed || c.rank == rankNearLate:
		return c.ts < o.ts
	default:
		return c.ref.End > o.ref.End
	}
}

// candidates holds every target bucket's candidate list, best first.
type candidates struct {
	lists [][]candidate
	// full: the bucket's list holds all its candidates (not only those a
	// quick collection stopped at).
	full []bool
}

func (cs *candidates) reset(n int) {
	if cap(cs.lists) < n {
		cs.lists = make([][]candidate, n)
	}
	cs.lists = cs.lists[:n]
	for b := range cs.lists {
		cs.lists[b] = cs.lists[b][:0]
	}
	cs.full = resize(cs.full, n)
}

// add puts c into bucket b's candidates, kept sorted best first.
func (cs *candidates) add(b int, c candidate) {
	l := cs.lists[b]
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
		cs.lists[b] = l
		return
	}
	if len(l) < maxCandidates {
		l = append(l, candidate{})
	}
	copy(l[i+1:], l[i:])
	l[i] = c
	cs.lists[b] = l
}

// hasRank reports whether bucket b's best candidate ranks at least r.
func (cs *candidates) hasRank(b int, r rank) bool {
	l := cs.lists[b]
	return len(l) > 0 && l[0].rank >= r
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth // import "github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"

import (
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// rank orders a bucket's candidates as the processor documents it; a
// higher rank wins.
type rank int

const (
	rankNone rank = iota
	// within the tolerance outside the bucket (value clamped to its
	// bound), or ending within the tolerance after the point (timestamp
	// clamped to it); late: ended before the previous point
	rankNearLate
	rankNearFresh
	// in the bucket; late: ended before the previous point, delivered
	// after it
	rankLate
	rankFresh
)

func (r rank) String() string {
	return [...]string{"none", "near-late", "near-fresh", "late", "fresh"}[r]
}

// inside reports whether the rank is that of a span inside the bucket.
func (r rank) inside() bool { return r >= rankLate }

// lateWait is how long a bucket that grew without an exemplar waits for a
// late span from the window it grew in (the processor's documented 60 s).
const lateWait = 60e9 // ns

// straddleMax bounds how long after the metric is recorded a span ends.
const straddleMax = 50e6 // ns

// bucketState is what the output so far says of one bucket of a stream.
type bucketState struct {
	// lastEnd is the newest end of the spans of the bucket's exemplars: a
	// span's own end even when its exemplar took a point's time, so a span
	// that straddled a point serves no later one.
	lastEnd uint64
	// owedLo, owedHi: the window in which the bucket last grew without
	// getting an exemplar since; owedHi 0 when nothing is owed.
	owedLo, owedHi uint64
}

// cand is one way a span can fill one bucket of a point: its rank, and the
// exemplar it makes.
type cand struct {
	sp   *Span
	rank rank
	// value is the span's duration, or that duration clamped into the
	// bucket when it lies within the tolerance outside it.
	value float64
	// ts is the span's end, or (straddle) the time of the point just
	// before it ended: this one's, or the owed window's end.
	ts uint64
	// sure: the span had surely been delivered when the point was
	// enriched (a held batch's enrichment time is known only roughly).
	sure bool
	// dur is the span's duration in the metric's unit.
	dur float64
}

func (x *cand) clamped() bool   { return x.value != x.dur }
func (x *cand) straddles() bool { return x.ts != x.sp.End }

// pointView replays the documented rules for one point: which buckets need
// an exemplar and which delivered spans are candidates for each, of which
// rank, and the candidate each exemplar was.
type pointView struct {
	s          *Stream
	k          int
	p          *Point
	continuing bool
	prevTime   uint64
	prevTick   int
	state      []bucketState
	target     []bool
	tolerance  float64 // the metric's unit
	tolNanos   uint64
	seenMaybe  uint64
	seenSure   uint64
	// cands lists, per bucket, every span the rules make a candidate for it.
	cands [][]cand
	// used maps the span of each of the point's exemplars to its bucket.
	used map[pcommon.SpanID]int
	// exCand is, per bucket, the candidate its exemplar is; nil for none, or
	// for an exemplar that is no candidate the rules allow.
	exCand []*cand
	// wholeMaybe and wholeSure: whether a span may stand in for a
	// neighbouring bucket (always, except on a cumulative stream's first
	// point: only when the spans that may have been, or surely were,
	// delivered number at least the point's count).
	wholeMaybe, wholeSure bool
}

func (c *Check) newPointView(s *Stream, k int, state []bucketState) *pointView {
	v := &pointView{
		s: s, k: k, p: s.Points[k], continuing: s.Continues(k), prevTick: -1, state: state,
		tolerance: c.tolerance(s), tolNanos: c.tolNanos, wholeMaybe: true, wholeSure: true,
	}
	if v.continuing {
		v.prevTime, v.prevTick = s.Points[k-1].Time, s.Points[k-1].Tick
	}
	n := len(v.p.Counts)
	v.target = make([]bool, n)
	for b := range v.target {
		owed := v.continuing && state[b].owedHi > 0 && v.p.Time-state[b].owedHi <= lateWait
		v.target[b] = s.Grown(k, b) || owed
	}
	if s.Cumulative && !v.continuing {
		c.firstPoint(v)
	}
	v.seenMaybe, v.seenSure = c.seenFromMaybe[s], c.seenFromSure[s]
	v.cands = make([][]cand, n)
	for _, sp := range c.spansOf(s) {
		for b := range n {
			if x, ok := v.candidate(sp, b); ok {
				v.cands[b] = append(v.cands[b], x)
			}
		}
	}
	v.used = map[pcommon.SpanID]int{}
	v.exCand = make([]*cand, n)
	for _, e := range v.p.Exemplars {
		v.used[e.SpanID] = e.Bucket
		for i := range v.cands[e.Bucket] {
			if x := &v.cands[e.Bucket][i]; x.sp.SpanID == e.SpanID && x.value == e.Value && x.ts == e.TS {
				v.exCand[e.Bucket] = x
			}
		}
	}
	return v
}

// firstPoint decides, on a cumulative stream's first point, whether spans
// may stand in for neighbouring buckets: only when the spans that may have
// been, or surely were, delivered number at least the point's count.
func (c *Check) firstPoint(v *pointView) {
	var count, maybe, sure uint64
	for _, n := range v.p.Counts {
		count += n
	}
	for _, sp := range c.spansOf(v.s) {
		if sp.End > v.p.Start && sp.End <= v.p.Time+v.tolNanos {
			if sp.MaybeTick <= v.p.Tick {
				maybe++
			}
			if sp.Tick <= v.p.Tick {
				sure++
			}
		}
	}
	v.wholeMaybe, v.wholeSure = maybe >= count, sure >= count
	c.seenFromMaybe[v.s], c.seenFromSure[v.s] = v.p.Time, v.p.Time
	if v.wholeMaybe {
		c.seenFromMaybe[v.s] = v.p.Start
	}
	if v.wholeSure {
		c.seenFromSure[v.s] = v.p.Start
	}
}

// candidate returns what sp would be as bucket b's candidate: inside b and
// eligible by its end and delivery; or within the tolerance of b, by its
// duration (value clamped to b's bound; on a cumulative stream's first
// point only when it counts no more requests than there were spans, and
// later only for spans that ended after it if it counted more) or by its
// end (straddle: timestamp clamped to the point's time or the owed window's
// end), ranked below every span inside.
func (v *pointView) candidate(sp *Span, b int) (cand, bool) {
	if !v.target[b] || sp.MaybeTick > v.p.Tick {
		return cand{}, false
	}
	d := sp.Value(v.s.UnitNanos)
	x := cand{sp: sp, value: d, dur: d, ts: sp.End, sure: sp.Tick <= v.p.Tick}
	near := v.p.Layout.Of(d) != b
	if near {
		c, ok := v.p.Layout.ClampInto(b, d)
		if v.tolerance <= 0 || !ok || abs(c-d) > v.tolerance || !v.wholeMaybe || (v.continuing && sp.End <= v.seenMaybe) {
			return cand{}, false
		}
		x.value = c
		x.sure = x.sure && v.wholeSure && (!v.continuing || sp.End > v.seenSure)
	}
	if x.rank = v.eligible(sp, b); x.rank == rankNone {
		if x.ts, x.rank = v.straddles(sp, b); x.rank == rankNone {
			return cand{}, false
		}
		near = true
	}
	if near {
		x.rank -= rankLate - rankNearLate
	}
	return x, true
}

// eligible returns the rank sp would have as bucket b's candidate if its
// duration lay in b: it ended in the point's window after the end of b's
// previous exemplar's span and, continuing a cumulative stream, either
// since the previous point (b grew) or before it but delivered after it (b
// grew, or is owed an exemplar from the window sp ended in).
func (v *pointView) eligible(sp *Span, b int) rank {
	st := v.state[b]
	if sp.End <= st.lastEnd || sp.End <= v.p.Start || sp.End > v.p.Time {
		return rankNone
	}
	if !v.continuing {
		return rankFresh
	}
	grown := v.s.Grown(v.k, b)
	if sp.End > v.prevTime {
		if grown {
			return rankFresh
		}
		return rankNone
	}
	if sp.Tick <= v.prevTick {
		return rankNone
	}
	if !grown && (sp.End <= st.owedLo || sp.End > st.owedHi) {
		return rankNone
	}
	return rankLate
}

// straddles returns the timestamp and rank (fresh or late, before the near
// demotion) of sp as a straddling candidate of bucket b: it ended within
// the tolerance after the point, b having grown (the metric counted the
// request just before the point); or, b owed an exemplar and not grown
// now, within the tolerance after the owed window's end, delivered after
// the previous point.
func (v *pointView) straddles(sp *Span, b int) (uint64, rank) {
	st := v.state[b]
	if v.continuing && !v.s.Grown(v.k, b) {
		if st.owedHi == 0 || sp.Tick <= v.prevTick || sp.End <= st.owedHi || sp.End-st.owedHi > v.tolNanos || st.owedHi <= st.lastEnd {
			return 0, rankNone
		}
		return st.owedHi, rankLate
	}
	if sp.End <= v.p.Time || sp.End-v.p.Time > v.tolNanos || v.p.Time <= st.lastEnd || v.p.Time <= v.p.Start {
		return 0, rankNone
	}
	return v.p.Time, rankFresh
}

// couldHave reports whether bucket b could have had candidate x instead of
// its exemplar: x must have surely been delivered and be no exemplar of the
// point. One on another bucket counts only when it lies inside b, stands in
// there for a neighbour and b is left empty: a span leaves its own bucket
// only when that bucket finds another, and moves back when it wants it.
func (v *pointView) couldHave(b int, x *cand) bool {
	if !x.sure {
		return false
	}
	ub, used := v.used[x.sp.SpanID]
	switch {
	case !used:
		return true
	case ub == b:
		return false
	default:
		return x.rank.inside() && v.exCand[b] == nil && v.s.ExemplarOn(v.k, b) == nil
	}
}

// bestAlternative returns the best candidate bucket b could have had
// instead of its exemplar (ties: the later end), or nil.
func (v *pointView) bestAlternative(b int) *cand {
	var best *cand
	for i := range v.cands[b] {
		x := &v.cands[b][i]
		if !v.couldHave(b, x) {
			continue
		}
		if best == nil || x.rank > best.rank || (x.rank == best.rank && x.sp.End > best.sp.End) {
			best = x
		}
	}
	return best
}

// otherCandidate reports whether bucket b had a candidate besides span
// except that no exemplar of the point uses, and whether one lay inside b.
func (v *pointView) otherCandidate(b int, except pcommon.SpanID) (anyOther, inside bool) {
	for i := range v.cands[b] {
		x := &v.cands[b][i]
		if _, used := v.used[x.sp.SpanID]; used || x.sp.SpanID == except || !x.sure {
			continue
		}
		anyOther = true
		inside = inside || x.rank.inside()
	}
	return anyOther, inside
}

// describe lists bucket b's candidates: span, rank, use.
func (v *pointView) describe(b int) string {
	parts := make([]string, 0, len(v.cands[b]))
	for i := range v.cands[b] {
		x := &v.cands[b][i]
		desc := fmt.Sprintf("%s %s %.6f %s end %d", x.sp.SpanID, x.rank, x.dur, v.s.Unit, x.sp.End)
		if x.clamped() {
			desc += fmt.Sprintf(" value %v", x.value)
		}
		if x.straddles() {
			desc += fmt.Sprintf(" timestamp %d", x.ts)
		}
		if !x.sure {
			desc += " (maybe delivered)"
		}
		if ub, used := v.used[x.sp.SpanID]; used {
			desc += fmt.Sprintf(" exemplar of bucket %d", ub)
		}
		parts = append(parts, desc)
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

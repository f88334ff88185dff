// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth // import "github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"

import (
	"fmt"
	"sort"
	"strings"
)

// Completeness replays the rules point by point: every exemplar is a
// candidate of its bucket, no bucket that needs an exemplar stays empty
// while it could have had a delivered candidate, and none takes one ranked
// below a candidate it could have had; grown buckets left without an
// exemplar from their window are classified by cause.
func (c *Check) Completeness(out *Streams) {
	for _, s := range out.All() {
		if !s.HasRule || s.UnitNanos == 0 {
			continue // no rule joins its points to spans
		}
		var state []bucketState
		for k, p := range s.Points {
			if len(state) != len(p.Counts) {
				state = make([]bucketState, len(p.Counts))
			}
			v := c.newPointView(s, k, state)
			lo, hi := s.Window(k)
			for b := range p.Counts {
				c.judge(v, b)
				if s.Grown(k, b) && !s.HasExemplar(k, k, b, lo, hi) {
					c.classify(v, b)
				}
			}
			c.advance(v)
		}
	}
}

// advance carries each bucket's state past point v: the newest end of its
// exemplars' spans, and what it is owed.
func (c *Check) advance(v *pointView) {
	s, k, state := v.s, v.k, v.state
	lo, hi := s.Window(k)
	for b := range state {
		switch {
		case s.ExemplarOn(k, b) != nil:
			for _, e := range v.p.Exemplars {
				end := e.TS
				if sp := c.spans.First(e.SpanID); sp != nil {
					end = max(end, sp.End)
				}
				if e.Bucket == b {
					state[b].lastEnd = max(state[b].lastEnd, end)
				}
			}
			state[b].owedLo, state[b].owedHi = 0, 0
		case !v.target[b] || !s.Cumulative:
			state[b].owedLo, state[b].owedHi = 0, 0
		case s.Grown(k, b):
			state[b].owedLo, state[b].owedHi = lo, hi
		}
	}
}

// judge checks bucket b's exemplar (if any) against its candidates.
func (c *Check) judge(v *pointView, b int) {
	s, p := v.s, v.p
	ex := s.ExemplarOn(v.k, b)
	what := "grew"
	switch {
	case !v.target[b]:
		what = "neither grew nor is owed an exemplar"
	case !s.Grown(v.k, b):
		what = fmt.Sprintf("owed an exemplar from (%d, %d]", v.state[b].owedLo, v.state[b].owedHi)
	}
	where := fmt.Sprintf("stream %s point %d (time %d) bucket %s %s", s.ID, v.k, p.Time, p.Layout.Describe(b), what)
	x := v.exCand[b]
	if ex != nil {
		sp := c.spans.First(ex.SpanID)
		if sp == nil {
			return // Validate reports it
		}
		if x == nil {
			c.Unexplained = append(c.Unexplained, fmt.Sprintf("%s: exemplar span %s (%v %s, end %d, delivered before tick %d; point tick %d) with value %v and timestamp %d is no candidate the rules allow; its candidates: %s",
				where, ex.SpanID, sp.Value(s.UnitNanos), s.Unit, sp.End, sp.Tick, p.Tick, ex.Value, ex.TS, v.describe(b)))
			return
		}
		c.countExemplar(v, b, x)
	}
	if !v.target[b] {
		return
	}
	best := v.bestAlternative(b)
	switch {
	case best == nil:
	case ex == nil:
		own := p.Layout.Of(best.dur)
		c.Missed = append(c.Missed, fmt.Sprintf("%s: no exemplar although span %s (%v %s, end %d, delivered before tick %d; point tick %d) was a %s candidate; its candidates: %s; the span's own bucket %d: exemplar %s, candidates %s",
			where, best.sp.SpanID, best.dur, s.Unit, best.sp.End, best.sp.Tick, p.Tick, best.rank, v.describe(b),
			own, spanIDOf(s, v.k, own), v.describeOwn(own)))
	case best.rank > x.rank:
		c.Ranking = append(c.Ranking, fmt.Sprintf("%s: exemplar span %s (%v %s, value %v, timestamp %d) is a %s candidate; span %s (%v, end %d) was a %s one; its candidates: %s",
			where, ex.SpanID, x.dur, s.Unit, ex.Value, ex.TS, x.rank, best.sp.SpanID, best.dur, best.sp.End, best.rank, v.describe(b)))
	case best.rank == x.rank && best.sp.End > x.sp.End:
		c.TieBreak = append(c.TieBreak, fmt.Sprintf("stream %s point %d bucket %d: %s exemplar span %s ended at %d, %s candidate %s at %d",
			s.ID, v.k, b, x.rank, ex.SpanID, x.sp.End, best.rank, best.sp.SpanID, best.sp.End))
	}
}

func (v *pointView) describeOwn(b int) string {
	if b < 0 || b >= len(v.cands) {
		return "[]"
	}
	return v.describe(b)
}

// spanIDOf renders the span ID of point k's exemplar on bucket b, or "none".
func spanIDOf(s *Stream, k, b int) string {
	if b < 0 {
		return "none"
	}
	if ex := s.ExemplarOn(k, b); ex != nil {
		return ex.SpanID.String()
	}
	return "none"
}

// countExemplar counts exemplar candidate x of bucket b as straddling an
// owed bucket's point, and as swapped when its span lies inside another
// bucket of the point that it could have filled: that bucket took another
// span and this one stands in for a neighbour.
func (c *Check) countExemplar(v *pointView, b int, x *cand) {
	if x.straddles() && !v.s.Grown(v.k, b) {
		c.StraddledOwed++
	}
	if x.rank.inside() {
		return
	}
	own := v.p.Layout.Of(x.dur)
	if own == b || own < 0 {
		return
	}
	for i := range v.cands[own] {
		if y := &v.cands[own][i]; y.sp == x.sp && y.rank.inside() {
			c.Swapped++
			if len(c.Swaps) < 3 {
				c.Swaps = append(c.Swaps, fmt.Sprintf("stream %s point %d: span %s (%v %s) stands in for bucket %s, its own bucket %s took span %s",
					v.s.ID, v.k, x.sp.SpanID, x.dur, v.s.Unit, v.p.Layout.Describe(b), v.p.Layout.Describe(own), spanIDOf(v.s, v.k, own)))
			}
		}
	}
}

// explain records, for an uncovered bucket, what the metric counted and what
// the spans of the window say: duration against the bucket's bounds and
// the tolerance, and which bucket's candidate and exemplar each span was.
func (c *Check) explain(cause string, v *pointView, b int) {
	if len(c.Examples) >= 12 {
		return
	}
	s, p := v.s, v.p
	lo, hi := s.Window(v.k)
	var durs []string
	for _, sp := range c.spansOf(s) {
		if sp.End > lo && sp.End <= hi+uint64(straddleMax) {
			durs = append(durs, v.explainSpan(sp, b, hi))
		}
	}
	sort.Strings(durs)
	c.Examples = append(c.Examples, fmt.Sprintf("%s: %s %s point %d: bucket %s grew, tolerance %v %s; the window added %v; its requests: %v",
		cause, s.Metric, s.ID, v.k, p.Layout.Describe(b), v.tolerance, s.Unit, s.Added(v.k), durs))
}

// explainSpan describes one span of an uncovered bucket's window.
func (v *pointView) explainSpan(sp *Span, b int, hi uint64) string {
	p := v.p
	bLo, bHi := p.Layout.Range(b)
	d := sp.Value(v.s.UnitNanos)
	own := p.Layout.Of(d)
	desc := fmt.Sprintf("span %s %.6f %s (bucket %d", sp.SpanID, d, v.s.Unit, own)
	switch {
	case own > b:
		desc += fmt.Sprintf(", %.3f ms above %g", (d-bHi)*v.s.UnitNanos/1e6, bHi)
	case own < b:
		desc += fmt.Sprintf(", %.3f ms below %g", (bLo-d)*v.s.UnitNanos/1e6, bLo)
	}
	desc += fmt.Sprintf(", delivered before tick %d)", sp.Tick)
	if sp.HasMeasured {
		desc = fmt.Sprintf("measured %.6f (bucket %d) / %s", sp.Measured, p.Layout.Of(sp.Measured), desc)
	}
	if sp.End > hi {
		desc += fmt.Sprintf(" ended %.3f ms after the point", float64(sp.End-hi)/1e6)
	}
	for cb := range v.cands {
		for i := range v.cands[cb] {
			if x := &v.cands[cb][i]; x.sp == sp {
				desc += fmt.Sprintf(" %s candidate of bucket %d", x.rank, cb)
			}
		}
	}
	if ub, used := v.used[sp.SpanID]; used {
		desc += fmt.Sprintf(" (exemplar of bucket %d)", ub)
	}
	return desc
}

// Inherent reports whether a cause of a grown bucket without an exemplar
// is one the processor cannot avoid: the span ended after the point (the
// metric counted the request just before it) and was not there yet; span
// and metric disagree by more than the tolerance; the only span near the
// bucket is its own bucket's only candidate; the stream had no span in the
// window; the span arrived after the point; or a cumulative stream's first
// point counts requests whose spans the processor did not get, so it cannot
// tell which neighbouring span stands in for which.
func Inherent(cause string) bool {
	for _, prefix := range []string{
		causeUnseen, causeStraddle, causeBoundary, causeContendedOnly, causeNoSpan, causeLate,
	} {
		if strings.HasPrefix(cause, prefix) {
			return true
		}
	}
	return false
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth // import "github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"

import "fmt"

// Causes of a grown bucket left without an exemplar from its window.
const (
	causeEarlier         = "filled from an earlier window"
	causeMissed          = "missed: a delivered candidate"
	causeLate            = "late: its span arrived after the point"
	causeContendedInside = "contended: its span within the tolerance went to its own bucket, which had another candidate inside it"
	causeContendedWithin = "contended: its span within the tolerance went to its own bucket, which had another candidate within the tolerance of it"
	causeContendedOnly   = "contended: its span within the tolerance went to its own bucket, that bucket's only candidate"
	causeMonotonic       = "monotonic: its spans ended before the end of the bucket's previous exemplar's span, which straddled a point"
	causeStraddle        = "straddle: counted before the point, span ended after it by more than the tolerance"
	causeUnseen          = "unseen: a cumulative stream's first point counted more requests than there were spans; a span within the tolerance from then stands in for none"
	causeBoundary        = "boundary: the window's spans lie beyond the tolerance"
	causeNoSpan          = "no span of the stream in the window"
)

// windowSpans is what the spans of a bucket's window say about it.
type windowSpans struct {
	late, monotonic, straddle, unseen, inWindow bool
}

// scanWindow classifies the spans around grown bucket b's window.
func (c *Check) scanWindow(v *pointView, b int) windowSpans {
	s, p := v.s, v.p
	lo, hi := s.Window(v.k)
	// fits: inside b, or within the tolerance outside it.
	fits := func(d float64) bool {
		if p.Layout.Of(d) == b {
			return true
		}
		cl, ok := p.Layout.ClampInto(b, d)
		return ok && abs(cl-d) <= v.tolerance
	}
	var w windowSpans
	for _, sp := range c.spansOf(s) {
		d := sp.Value(s.UnitNanos)
		inWindow := sp.End > lo && sp.End <= hi
		switch {
		case (inWindow || (sp.End > hi && sp.End-hi <= c.tolNanos)) && fits(d) && sp.Tick > p.Tick:
			w.late = true
		case inWindow && fits(d) && sp.End <= v.state[b].lastEnd:
			w.monotonic = true
		case sp.End > hi && sp.End <= hi+uint64(straddleMax) && fits(d):
			w.straddle = true
		case inWindow && (!v.wholeSure || (v.continuing && sp.End <= c.seenFromSure[s])) && p.Layout.Of(d) != b && fits(d):
			w.unseen = true
		case inWindow:
			w.inWindow = true
		}
	}
	return w
}

// contention returns the cause when a candidate of b is another bucket's
// exemplar: would giving the span to b have left the bucket using it empty?
// (The rules swap when it had another: one inside it, or one within the
// tolerance of it.) "" when no candidate of b went elsewhere.
func (v *pointView) contention(b int) string {
	found, within, inside := false, false, false
	for i := range v.cands[b] {
		x := &v.cands[b][i]
		ub, used := v.used[x.sp.SpanID]
		if !x.sure || !used || ub == b {
			continue
		}
		found = true
		o, in := v.otherCandidate(ub, x.sp.SpanID)
		within, inside = within || (o && !in), inside || in
	}
	switch {
	case !found:
		return ""
	case inside:
		return causeContendedInside
	case within:
		return causeContendedWithin
	default:
		return causeContendedOnly
	}
}

// classify records why grown bucket b of point v has no exemplar from its
// window.
func (c *Check) classify(v *pointView, b int) {
	s := v.s
	w := c.scanWindow(v, b)
	cause, explain := causeNoSpan, true
	contended := v.contention(b)
	switch {
	case s.ExemplarOn(v.k, b) != nil:
		cause, explain = causeEarlier, false
	case v.bestAlternative(b) != nil:
		cause, explain = causeMissed, false
	case w.late:
		cause, explain = causeLate, false
	case contended != "":
		cause = contended
	case w.monotonic:
		cause = causeMonotonic
	case w.straddle:
		cause = causeStraddle
	case w.unseen:
		cause = causeUnseen
	case w.inWindow:
		cause = causeBoundary
	}
	if explain {
		c.explain(cause, v, b)
	}
	addCause(c.Uncovered, s.Metric, cause)
	if s.Cumulative {
		c.neverCovered(v, b, cause)
	}
}

// neverCovered records a cumulative bucket no later point covered either.
func (c *Check) neverCovered(v *pointView, b int, cause string) {
	s := v.s
	lo, hi := s.Window(v.k)
	for j := v.k + 1; j < len(s.Points); j++ {
		if s.HasExemplar(j, v.k, b, lo, hi) {
			return
		}
	}
	for j := v.k + 1; j < len(s.Points); j++ {
		if bj := s.BucketAt(j, v.k, b); bj >= 0 {
			if later := s.ExemplarOn(j, bj); later != nil && later.TS > hi {
				cause += fmt.Sprintf("; a later point's exemplar came from a later window first (after %d points)", j-v.k)
				break
			}
		}
	}
	addCause(c.NeverCovered, s.Metric, cause)
}

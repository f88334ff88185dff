// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth // import "github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"

import (
	"fmt"
	"sort"
	"time"
)

// exemplar judges one exemplar the processor attached to point k of s, and
// reports whether its value stands in for its span's duration. With
// duplicate span IDs it is valid when one of the spans so named makes it so.
func (j *Judge) exemplar(s *Stream, k int, ex Exemplar) ([]Finding, bool) {
	switch {
	case !s.HasRule:
		return []Finding{finding(s, k, ex, RuleNoRule, "no default rule selects this metric")}, false
	case s.UnitNanos == 0:
		return []Finding{finding(s, k, ex, RuleUnit, fmt.Sprintf("unit %q is no duration unit", s.Unit))}, false
	case !ex.HasIDs():
		return []Finding{finding(s, k, ex, RuleNoIDs, "the exemplar names no span")}, false
	case ex.Bucket < 0:
		return []Finding{finding(s, k, ex, RuleBucket, fmt.Sprintf("value %v lies in no bucket the point carries", ex.Value))}, false
	}
	spans := j.spans.Lookup(ex.TraceID, ex.SpanID)
	if len(spans) == 0 {
		return []Finding{finding(s, k, ex, RuleNoSpan, "no span of the workload has these IDs")}, false
	}
	var best []Finding
	bestStandIn := false
	for i, sp := range spans {
		fs, standIn := j.againstSpan(s, k, ex, sp)
		if i == 0 || len(fs) < len(best) {
			best, bestStandIn = fs, standIn
		}
	}
	return best, bestStandIn
}

// againstSpan judges ex as naming span sp.
func (j *Judge) againstSpan(s *Stream, k int, ex Exemplar, sp *Span) ([]Finding, bool) {
	var fs []Finding
	add := func(rule, format string, args ...any) {
		fs = append(fs, finding(s, k, ex, rule, fmt.Sprintf(format, args...)))
	}
	if rule, why := s.Mismatch(sp); rule != "" {
		add(rule, "%s", why)
	}
	if ex.TS != sp.End {
		add(RuleTimestamp, "timestamp %d, the span ended at %d", ex.TS, sp.End)
	}
	jk, rule, why := j.window(s, k, ex, sp)
	if rule != "" {
		add(rule, "%s", why)
	}
	standIn, rule, why := j.value(s, k, jk, ex, sp)
	if rule != "" {
		add(rule, "%s", why)
	}
	return fs, standIn
}

// window returns the point whose window the span ended in (k, or for a
// late span an earlier point of the same cumulative run), and the rule the
// exemplar breaks by when its span ended ("" for none).
func (j *Judge) window(s *Stream, k int, ex Exemplar, sp *Span) (int, string, string) {
	lo, hi := s.Window(k)
	switch {
	case sp.End > hi:
		return -1, RuleWindow, fmt.Sprintf("the span ended at %d, %s after the point's window (%d, %d]", sp.End, time.Duration(sp.End-hi), lo, hi)
	case sp.End > lo && !s.Grown(k, ex.Bucket):
		return k, RuleBucket, fmt.Sprintf("the bucket did not grow in the window (added %v)", s.Added(k))
	case sp.End > lo:
		return k, "", ""
	case !s.Continues(k):
		return -1, RuleWindow, fmt.Sprintf("the span ended at %d, %s before the point's window (%d, %d]", sp.End, time.Duration(lo-sp.End), lo, hi)
	}
	// A late span: ended before the previous point, in the same run.
	jk := s.Interval(sp.End, k-1)
	if jk < 0 || !s.sameRun(jk, k) {
		return -1, RuleWindow, fmt.Sprintf("the span ended at %d, before the stream's run that point %d continues", sp.End, k)
	}
	if s.Grown(k, ex.Bucket) {
		return jk, "", ""
	}
	if owedSince(s, jk, k, ex.Value) {
		return jk, "", ""
	}
	return jk, RuleLate, fmt.Sprintf("a late span from point %d's window: the bucket did not grow at point %d, and is owed no exemplar since point %d (it did not grow then, or a point since carried one from that window)", jk, k, jk)
}

// owedSince reports whether the bucket holding v grew at point jk and no
// point from jk to k-1 carried an exemplar from jk's window on it (an
// exemplar recovered there for an older window serves that one).
func owedSince(s *Stream, jk, k int, v float64) bool {
	if b := s.Points[jk].Layout.Of(v); b < 0 || !s.Grown(jk, b) {
		return false
	}
	lo, hi := s.Window(jk)
	for m := jk; m < k; m++ {
		b := s.Points[m].Layout.Of(v)
		for _, ex := range s.Points[m].Exemplars {
			if ex.Bucket == b && ex.HasIDs() && ex.TS > lo && ex.TS <= hi {
				return false
			}
		}
	}
	return true
}

// value judges the exemplar's value: the span's duration in the metric's
// unit, or a stand-in clamped to the bound of a bucket the duration lies
// outside, within the instrumentation's skew and with count evidence in
// window jk (the point whose window the span ended in).
func (j *Judge) value(s *Stream, k, jk int, ex Exemplar, sp *Span) (bool, string, string) {
	d := sp.Value(s.UnitNanos)
	l := s.Points[k].Layout
	switch {
	case closeTo(ex.Value, d, relTolerance):
		return false, "", ""
	case l.Of(d) == ex.Bucket:
		return false, RuleValue, fmt.Sprintf("value %v is not the span's duration %v %s, which lies in the same bucket", ex.Value, d, s.Unit)
	case !l.AtBound(ex.Bucket, ex.Value, relTolerance):
		return false, RuleValue, fmt.Sprintf("value %v is neither the span's duration %v %s nor a bound of its bucket", ex.Value, d, s.Unit)
	}
	skew := l.Distance(ex.Bucket, d) * s.UnitNanos
	w := j.skews.For(s.Scope, s.Unit)
	if !w.Allows(skew) {
		return true, RuleSkew, fmt.Sprintf("stand-in: the span's duration %v %s lies %s outside the bucket; %s allows a metric-minus-span skew of [%s, %s] (%s)",
			d, s.Unit, time.Duration(skew), s.Scope, w.Lo, w.Hi, w.Why)
	}
	if jk < 0 {
		return true, "", ""
	}
	if w := j.windowOf(s, jk); !w.evidence(d) {
		own := s.Points[jk].Layout.Of(d)
		return true, RuleEvidence, fmt.Sprintf("stand-in: in point %d's window the span's own bucket %s grew by %d and holds %d of the window's spans: none of them need have been counted elsewhere",
			jk, describeOr(s.Points[jk].Layout, own), w.added(own), w.own[own])
	}
	return true, "", ""
}

func describeOr(l Layout, b int) string {
	if b < 0 {
		return "none (outside the point's buckets)"
	}
	return l.Describe(b)
}

type windowKey struct {
	s *Stream
	k int
}

// window is what the spans that join a stream say about one point's
// window: those that ended in it, and how many lie in each bucket.
type window struct {
	s      *Stream
	k      int
	lo, hi uint64
	spans  []*Span
	own    map[int]int
}

// windowOf returns (and caches) point k's window of s.
func (j *Judge) windowOf(s *Stream, k int) *window {
	key := windowKey{s, k}
	if w, ok := j.windows[key]; ok {
		return w
	}
	w := &window{s: s, k: k, own: map[int]int{}}
	w.lo, w.hi = s.Window(k)
	all := j.joinedOf(s)
	from := sort.Search(len(all), func(i int) bool { return all[i].End > w.lo })
	to := sort.Search(len(all), func(i int) bool { return all[i].End > w.hi })
	w.spans = all[from:to]
	for _, sp := range w.spans {
		w.own[s.Points[k].Layout.Of(sp.Value(s.UnitNanos))]++
	}
	j.windows[key] = w
	return w
}

// added is what bucket b grew by in the window (0 for no bucket).
func (w *window) added(b int) uint64 {
	if b < 0 {
		return 0
	}
	return w.s.Added(w.k)[b]
}

// evidence reports whether the own bucket of a span of duration d holds
// more of the window's spans than it grew by: one of them, very likely,
// was counted in another bucket.
func (w *window) evidence(d float64) bool {
	own := w.s.Points[w.k].Layout.Of(d)
	return uint64(w.own[own]) > w.added(own)
}

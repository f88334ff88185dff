// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth // import "github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// verdict is what judging one exemplar found besides the rules it broke.
type verdict struct {
	// standIn: the value is not the span's own duration.
	standIn bool
	// late: the span ended in an earlier window of the run than the point's.
	late bool
	// straddle: the span ended just after the point whose time it carries.
	straddle bool
	// owed: the bucket did not grow at the exemplar's point; it was owed
	// one since the span's window.
	owed bool
	// sp is the span judged (of several with its IDs, the best) and jk the
	// point whose window its observation lies in (-1: none).
	sp *Span
	jk int
}

// subject is one exemplar of point k of s judged as naming span sp.
type subject struct {
	s  *Stream
	k  int
	ex Exemplar
	sp *Span
}

func (x subject) finding(rule, format string, args ...any) Finding {
	return finding(x.s, x.k, x.ex, rule, fmt.Sprintf(format, args...))
}

// exemplar judges one exemplar the processor attached to point k of s.
// With duplicate span IDs it is valid when one of the spans so named makes
// it so.
func (j *Judge) exemplar(s *Stream, k int, ex Exemplar) ([]Finding, verdict) {
	switch {
	case !s.HasRule:
		return []Finding{finding(s, k, ex, RuleNoRule, "no default rule selects this metric")}, verdict{jk: -1}
	case s.UnitNanos == 0:
		return []Finding{finding(s, k, ex, RuleUnit, fmt.Sprintf("unit %q is no duration unit", s.Unit))}, verdict{jk: -1}
	case !ex.HasIDs():
		return []Finding{finding(s, k, ex, RuleNoIDs, "the exemplar names no span")}, verdict{jk: -1}
	case ex.Bucket < 0:
		return []Finding{finding(s, k, ex, RuleBucket, fmt.Sprintf("value %v lies in no bucket the point carries", ex.Value))}, verdict{jk: -1}
	}
	spans := j.spans.Lookup(ex.TraceID, ex.SpanID)
	if len(spans) == 0 {
		return []Finding{finding(s, k, ex, RuleNoSpan, "no span of the workload has these IDs")}, verdict{jk: -1}
	}
	var best []Finding
	bestVerdict := verdict{jk: -1}
	for i, sp := range spans {
		fs, v := j.againstSpan(subject{s: s, k: k, ex: ex, sp: sp})
		if i == 0 || len(fs) < len(best) {
			best, bestVerdict = fs, v
		}
	}
	return best, bestVerdict
}

// againstSpan judges x.ex as naming span x.sp.
func (j *Judge) againstSpan(x subject) ([]Finding, verdict) {
	var fs []Finding
	add := func(rule, why string) {
		if rule != "" {
			fs = append(fs, x.finding(rule, "%s", why))
		}
	}
	add(x.s.Mismatch(x.sp))
	at, straddle, rule, why := observedAt(x)
	add(rule, why)
	pl, rule, why := j.window(x, at)
	add(rule, why)
	standIn, rule, why := j.value(x, pl.jk, straddle)
	add(rule, why)
	return fs, verdict{standIn: standIn, late: pl.jk >= 0 && pl.jk < x.k, straddle: straddle, owed: pl.owed, sp: x.sp, jk: pl.jk}
}

// observedAt returns when the exemplar says its request was observed: the
// span's end, its timestamp; or, for a span that ended at most Tolerance
// after a point of the stream up to x.k (a straddle), that point's time,
// its timestamp then.
func observedAt(x subject) (at uint64, straddle bool, rule, why string) {
	ts, end := x.ex.TS, x.sp.End
	switch {
	case ts == end:
		return end, false, "", ""
	case end > ts && end-ts <= uint64(Tolerance) && x.s.pointAt(ts, x.k) >= 0:
		return ts, true, "", ""
	}
	return end, false, RuleTimestamp, fmt.Sprintf("timestamp %d is neither the span's end %d nor the time of a point the span ended at most %s after",
		ts, end, Tolerance)
}

// placement is where an exemplar's observation lies: jk is the point
// whose window holds it (x.k, or for a late span an earlier point of the
// same cumulative run; -1 for none); owed, that the bucket did not grow at
// x.k and is owed an exemplar since point jk.
type placement struct {
	jk   int
	owed bool
}

// window places observation time at and returns the rule the exemplar
// breaks by it ("" for none).
func (j *Judge) window(x subject, at uint64) (placement, string, string) {
	s, k, ex := x.s, x.k, x.ex
	lo, hi := s.Window(k)
	switch {
	case at > hi:
		return placement{jk: -1}, RuleWindow, fmt.Sprintf("the span ended at %d, %s after the point's window (%d, %d]", at, time.Duration(at-hi), lo, hi)
	case at > lo && !s.Grown(k, ex.Bucket):
		return placement{jk: k}, RuleBucket, fmt.Sprintf("the bucket did not grow in the window (added %v)", s.Added(k))
	case at > lo:
		return placement{jk: k}, "", ""
	case !s.Continues(k):
		return placement{jk: -1}, RuleWindow, fmt.Sprintf("the span ended at %d, %s before the point's window (%d, %d]", at, time.Duration(lo-at), lo, hi)
	}
	// A late span: ended before the previous point, in the same run.
	jk := s.Interval(at, k-1)
	if jk < 0 || !s.sameRun(jk, k) {
		return placement{jk: -1}, RuleWindow, fmt.Sprintf("the span ended at %d, before the stream's run that point %d continues", at, k)
	}
	if s.Grown(k, ex.Bucket) {
		return placement{jk: jk}, "", ""
	}
	if owedSince(s, jk, k, ex.Bucket) {
		return placement{jk: jk, owed: true}, "", ""
	}
	return placement{jk: jk}, RuleLate, fmt.Sprintf("a late span from point %d's window: the bucket did not grow at point %d, and is owed no exemplar since point %d (it did not grow then, or a point since carried one from that window)", jk, k, jk)
}

// owedSince reports whether bucket b of point k is owed an exemplar since
// point jk of its run: a bucket of jk that folds into it (after an
// exponential stream scaled down, b holds several) grew there, and no point
// from jk to k-1 carried an exemplar from jk's window on the bucket that
// held it (an exemplar recovered there for an older window serves that one).
func owedSince(s *Stream, jk, k, b int) bool {
	lo, hi := s.Window(jk)
	carried := func(bj int) bool {
		for m := jk; m < k; m++ {
			bm := s.BucketAt(m, jk, bj)
			for _, ex := range s.Points[m].Exemplars {
				if bm >= 0 && ex.Bucket == bm && ex.HasIDs() && ex.TS > lo && ex.TS <= hi {
					return true
				}
			}
		}
		return false
	}
	for bj := range s.Points[jk].Counts {
		if s.Grown(jk, bj) && s.BucketAt(k, jk, bj) == b && !carried(bj) {
			return true
		}
	}
	return false
}

// value judges the exemplar's value: the span's own duration, in a bucket
// the instrumentation's timing could have counted its request in; or a
// stand-in, the duration clamped into a bucket it lies outside of, of a
// span that ended in the point's own window (jk, not straddling), within
// the instrumentation's skew and with count evidence there.
func (j *Judge) value(x subject, jk int, straddle bool) (bool, string, string) {
	s, k, ex := x.s, x.k, x.ex
	d := x.sp.Value(s.UnitNanos)
	l := s.Points[k].Layout
	lo, hi := l.Range(ex.Bucket)
	w := j.skews.For(s.Scope)
	admitted := w.Admits(float64(x.sp.Nanos()), lo, hi, s.UnitNanos)
	if closeTo(ex.Value, d, relTolerance) {
		if !admitted {
			return false, RuleSkew, fmt.Sprintf("the span's duration %v %s lies in the bucket, yet its request cannot have been counted there: %s", d, s.Unit, w)
		}
		return false, "", ""
	}
	if l.Of(d) == ex.Bucket {
		return false, RuleValue, fmt.Sprintf("value %v is not the span's duration %v %s, which lies in the same bucket", ex.Value, d, s.Unit)
	}
	if c, ok := l.ClampInto(ex.Bucket, d); !ok || !closeTo(ex.Value, c, relTolerance) {
		return false, RuleValue, fmt.Sprintf("value %v is neither the span's duration %v %s nor that duration clamped into the bucket", ex.Value, d, s.Unit)
	}
	switch {
	case straddle || (jk >= 0 && jk != k):
		return true, RuleStandInLate, fmt.Sprintf("stand-in: the span's duration %v %s lies outside the bucket, and the span did not end in the point's window (a late span waits for its own bucket; one that ended after the point fills only its own)", d, s.Unit)
	case !admitted:
		return true, RuleSkew, fmt.Sprintf("stand-in: the span's duration %v %s lies %s outside the bucket; %s",
			d, s.Unit, time.Duration(l.Distance(ex.Bucket, d)*s.UnitNanos), w)
	case jk < 0:
		return true, "", ""
	}
	if win := j.windowOf(s, jk); !win.evidence(d, anyTick) {
		own := s.Points[jk].Layout.Of(d)
		return true, RuleEvidence, fmt.Sprintf("stand-in: in point %d's window the span's own bucket %s grew by %d and holds %d of the window's spans: none of them need have been counted elsewhere",
			jk, describeOr(s.Points[jk].Layout, own), win.added(own), win.own[own])
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
// window: those that ended in it, how many lie in each bucket, and those
// that ended at most Tolerance after it (which may straddle the point).
type window struct {
	s      *Stream
	k      int
	lo, hi uint64
	spans  []*Span
	after  []*Span
	own    map[int]int
	// delivered caches, per bucket, how many of the window's spans lie in
	// it and were delivered by the point.
	delivered map[int]int
}

// anyTick counts every span of a window, delivered or not.
const anyTick = math.MaxInt

// windowOf returns (and caches) point k's window of s.
func (j *Judge) windowOf(s *Stream, k int) *window {
	key := windowKey{s, k}
	if w, ok := j.windows[key]; ok {
		return w
	}
	w := &window{s: s, k: k, own: map[int]int{}, delivered: map[int]int{}}
	w.lo, w.hi = s.Window(k)
	all := j.joinedOf(s)
	endingBy := func(t uint64) int { return sort.Search(len(all), func(i int) bool { return all[i].End > t }) }
	from, to := endingBy(w.lo), endingBy(w.hi)
	w.spans = all[from:to]
	w.after = all[to:endingBy(w.hi+uint64(Tolerance))]
	for _, sp := range w.spans {
		b := s.Points[k].Layout.Of(sp.Value(s.UnitNanos))
		w.own[b]++
		if sp.Tick <= s.Points[k].Tick {
			w.delivered[b]++
		}
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
// was counted in another bucket. With upTo the point's tick it counts the
// spans delivered by the point (what a processor could have counted), with
// anyTick all of them (the truth).
func (w *window) evidence(d float64, upTo int) bool {
	own := w.s.Points[w.k].Layout.Of(d)
	n := w.own[own]
	if upTo != anyTick {
		n = w.delivered[own]
	}
	return uint64(n) > w.added(own)
}

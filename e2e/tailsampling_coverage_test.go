// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"fmt"
	"math"
	"time"
)

// Coverage behind a tail sampler. A grown bucket (a stream's bucket whose
// count grew at a point) is "kept" when at least one request it counted
// belongs to a trace the sampler kept: only those can honestly get an
// exemplar. Each kept growth ends in one of:
//
//   - immediate: the point itself carries an exemplar in that bucket from
//     the growth's own interval;
//   - recovered: a later point, within the late-span window, carries one from
//     the growth's own interval (the span arrived after the point, typically
//     decision_wait late);
//   - superseded: no exemplar from its own interval, and the bucket took a
//     fresher request first (timestamps only move forward, so its own
//     interval's can no longer follow);
//   - missed: none of these.
//
// The requirement is on immediate + recovered ("own"): the latency spike of
// that interval links to one of its own requests.

type tsGrowthKey struct {
	stream string
	k, b   int
}

type tsCoverage struct {
	grown       int // grown buckets, kept or not
	kept        int // grown buckets with at least one kept request
	droppedOnly int // grown buckets whose requests were all dropped
	immediate   int
	recovered   int
	superseded  int
	missed      int
	// onPoint counts kept growths whose point itself carries an exemplar in
	// the bucket, from any interval (a late span of an earlier growth).
	onPoint int
	// unmapped are kept SERVER/CLIENT spans no grown bucket of their stream
	// accounts for (clock or timer edges); few or none.
	unmapped int
	// exemplars written, the ones naming a span of no kept trace, and the
	// ones whose timestamp did not move forward in their stream's bucket.
	exemplars, notKept, backwards int
	// clamped exemplars name a span outside their bucket (value clamped,
	// exemplars.duration_tolerance); standIns are those the counts prove to
	// be another request: the bucket's growth in the span's interval is
	// fully explained by spans well inside the bucket.
	clamped, standIns int
	// wrong exemplars: value, timestamp or window differ from the span's.
	wrong          int
	problems       []string
	missedExamples []string
}

func (c *tsCoverage) own() float64 { return soRatio(c.immediate+c.recovered, c.kept) }

// current is the share of kept growths whose bucket shows a kept request of
// that interval or a fresher one: everything but missed. Which of two kept
// requests' spans reaches the processor first depends on when each sampler
// decided, so own() alone varies with the layout while current() does not.
func (c *tsCoverage) current() float64 {
	return soRatio(c.immediate+c.recovered+c.superseded, c.kept)
}

func (c *tsCoverage) String() string {
	return fmt.Sprintf("grown buckets %d: kept %d (immediate %d, recovered later %d, superseded %d, missed %d), dropped-only %d; "+
		"own-interval coverage %.1f%% (an exemplar on the grown point itself, any interval: %.1f%%); exemplars %d (naming no kept trace %d, "+
		"timestamp not forward %d, value/time/window wrong %d, span outside the bucket %d of which another request %d); unmapped kept spans %d",
		c.grown, c.kept, c.immediate, c.recovered, c.superseded, c.missed, c.droppedOnly,
		100*c.own(), 100*soRatio(c.onPoint, c.kept), c.exemplars, c.notKept, c.backwards, c.wrong, c.clamped, c.standIns, c.unmapped)
}

// tsInterval is the window of a stream's point k in which the requests it
// newly counted ended, the buckets that grew and by how much.
type tsInterval struct {
	lo, hi uint64
	grown  []bool
	growth []uint64
	// certain counts, per bucket, the spans sent (kept or not) that the
	// point surely counted there: ended and lasted well inside (tsTimerGap
	// from every edge), whatever the instrumentation's timer saw.
	certain []int
}

// tsTimerGap bounds how differently otelhttp times one request for its
// metric and its span (measured: median 20-35 µs, p99 0.35 ms).
const tsTimerGap = 500 * time.Microsecond

func tsIntervals(s *tsStream) []tsInterval {
	out := make([]tsInterval, len(s.points))
	for k, p := range s.points {
		iv := tsInterval{
			lo: p.start, hi: p.time,
			grown: make([]bool, len(p.counts)), growth: make([]uint64, len(p.counts)), certain: make([]int, len(p.counts)),
		}
		var prev *tsPoint
		if s.cumulative && k > 0 && s.points[k-1].start == p.start {
			prev = &s.points[k-1]
			iv.lo = prev.time
		}
		for b, n := range p.counts {
			iv.growth[b] = n
			if prev != nil && b < len(prev.counts) {
				iv.growth[b] = n - min(n, prev.counts[b])
			}
			iv.grown[b] = iv.growth[b] > 0
		}
		out[k] = iv
	}
	return out
}

// tsModel is what the judgement allows for.
type tsModel struct {
	// lateWindow bounds how much later a point may recover a growth.
	lateWindow time.Duration
	// timer is how far a span's end or duration may lie from the metric's
	// view of the same request (the instrumentation times them separately).
	timer time.Duration
	// straddle is the processor's exemplars.duration_tolerance: a span
	// that ended this little after a point may stand in with the point's
	// time. 0: every exemplar carries its span's end.
	straddle time.Duration
}

// tsAnalyze judges the exemplars of streams against the kept and all spans.
func tsAnalyze(streams map[string]*tsStream, kept, all *tsTraces, m tsModel) *tsCoverage {
	c := &tsCoverage{}
	ivs := map[string][]tsInterval{}
	for key, s := range streams {
		ivs[key] = tsIntervals(s)
	}
	for _, sp := range all.spans {
		if s := streams[sp.streamKey()]; s != nil {
			tsCountCertain(s, ivs[s.key], sp)
		}
	}
	keptIn := map[tsGrowthKey]int{}
	for _, sp := range kept.spans {
		key := sp.streamKey()
		s := streams[key]
		if s == nil {
			continue
		}
		if g, ok := tsLocate(s, ivs[key], sp, m.timer); ok {
			keptIn[g]++
		} else {
			c.unmapped++
		}
	}
	for key, s := range streams {
		tsJudgeExemplars(c, s, ivs[key], kept, all, m.straddle)
		for k, iv := range ivs[key] {
			for b, g := range iv.grown {
				if !g {
					continue
				}
				c.grown++
				gk := tsGrowthKey{key, k, b}
				if keptIn[gk] == 0 {
					c.droppedOnly++
					continue
				}
				c.kept++
				tsJudgeGrowth(c, s, ivs[key], gk, m.lateWindow)
			}
		}
	}
	return c
}

// tsLocate finds the grown bucket that counted a span: the interval its end
// lies in and the bucket of its duration, allowing the metric's own timer
// to see the request up to tolerance earlier or shorter or longer.
func tsLocate(s *tsStream, ivs []tsInterval, sp *tsSpan, tolerance time.Duration) (tsGrowthKey, bool) {
	tol := uint64(tolerance.Nanoseconds())
	for _, end := range []uint64{sp.end, sp.end - tol} {
		for _, d := range []float64{sp.seconds(), sp.seconds() - tolerance.Seconds(), sp.seconds() + tolerance.Seconds()} {
			for k, iv := range ivs {
				if end <= iv.lo || end > iv.hi {
					continue
				}
				b := tsBucketOf(s.points[k].bounds, d)
				if b < len(iv.grown) && iv.grown[b] {
					return tsGrowthKey{s.key, k, b}, true
				}
			}
		}
	}
	return tsGrowthKey{}, false
}

// tsCountCertain counts sp in the bucket of the interval that surely
// counted it, if any.
func tsCountCertain(s *tsStream, ivs []tsInterval, sp *tsSpan) {
	gap := uint64(tsTimerGap.Nanoseconds())
	for k, iv := range ivs {
		if sp.end <= iv.lo+gap || sp.end+gap > iv.hi {
			continue
		}
		bounds := s.points[k].bounds
		d, g := sp.seconds(), tsTimerGap.Seconds()
		if b := tsBucketOf(bounds, d); b == tsBucketOf(bounds, d-g) && b == tsBucketOf(bounds, d+g) && b < len(iv.certain) {
			iv.certain[b]++
		}
		return
	}
}

// tsJudgeExemplars checks every exemplar of s: it names a span of a kept
// trace, carries its duration as value and its end as timestamp, the span
// ended in the point's window, and per bucket timestamps only move forward.
// A span outside the exemplar's bucket (value clamped) is counted, and
// counted as another request when the counts prove it.
func tsJudgeExemplars(c *tsCoverage, s *tsStream, ivs []tsInterval, kept, all *tsTraces, straddle time.Duration) {
	last := map[int]uint64{}
	for k, p := range s.points {
		for _, ex := range p.exemplars {
			c.exemplars++
			b := tsBucketOf(p.bounds, ex.value)
			if ex.time <= last[b] {
				c.backwards++
				c.problems = append(c.problems, fmt.Sprintf("%s bucket %d: exemplar timestamp %d after %d", s.key, b, ex.time, last[b]))
			}
			last[b] = max(last[b], ex.time)
			sp, ok := kept.spans[ex.spanID]
			if !ok || sp.traceID != ex.traceID {
				c.notKept++
				where := "in no trace the SDKs sent"
				if _, sent := all.spans[ex.spanID]; sent {
					where = "of a trace the sampler dropped"
				}
				c.problems = append(c.problems, fmt.Sprintf("%s: exemplar %s/%s names a span %s", s.key, ex.traceID, ex.spanID, where))
				continue
			}
			if p := tsExemplarProblem(s, k, ex, sp, straddle); p != "" {
				c.wrong++
				c.problems = append(c.problems, p)
			}
			if tsBucketOf(p.bounds, sp.seconds()) != b {
				c.clamped++
				if tsProvenOther(ivs, sp, b) {
					c.standIns++
				}
			}
		}
	}
}

// tsExemplarProblem describes what is wrong with an exemplar of point k
// naming span sp, or returns "". Only a span that ended within straddle
// after a point may stand in with that point's time.
func tsExemplarProblem(s *tsStream, k int, ex tsExemplar, sp *tsSpan, straddle time.Duration) string {
	p := s.points[k]
	where := fmt.Sprintf("%s point %d: exemplar %s", s.key, k, ex.spanID)
	clamped := ex.time < sp.end && sp.end-ex.time <= uint64(straddle.Nanoseconds())
	switch {
	case sp.streamKey() != s.key:
		return fmt.Sprintf("%s names a span of another stream (%s)", where, sp.streamKey())
	case sp.end <= p.start || (sp.end > p.time && !clamped):
		return where + ": its span ended outside the point's window"
	case ex.time != sp.end && !clamped:
		return fmt.Sprintf("%s: timestamp %d, its span ended at %d", where, ex.time, sp.end)
	case tsBucketOf(p.bounds, sp.seconds()) == tsBucketOf(p.bounds, ex.value) && math.Abs(ex.value-sp.seconds()) > 1e-9:
		return fmt.Sprintf("%s: value %g, its span lasted %g s", where, ex.value, sp.seconds())
	}
	return ""
}

// tsProvenOther reports whether the counts prove that sp, lying outside
// bucket b, is not a request b counted: b did not grow in sp's interval, or
// spans surely inside b explain all of its growth there.
func tsProvenOther(ivs []tsInterval, sp *tsSpan, b int) bool {
	for _, iv := range ivs {
		if sp.end > iv.lo && sp.end <= iv.hi {
			return b >= len(iv.growth) || uint64(iv.certain[b]) >= iv.growth[b]
		}
	}
	return false
}

// tsJudgeGrowth classifies one kept growth (see the file comment). Exemplar
// timestamps only move forward per bucket, so once the bucket carries one
// from after the growth's interval, none from the interval can follow.
func tsJudgeGrowth(c *tsCoverage, s *tsStream, ivs []tsInterval, g tsGrowthKey, lateWindow time.Duration) {
	own := ivs[g.k]
	for _, ex := range s.points[g.k].exemplars {
		if tsBucketOf(s.points[g.k].bounds, ex.value) == g.b {
			c.onPoint++
		}
	}
	for j := g.k; j < len(s.points); j++ {
		if j > g.k && (!s.cumulative || s.points[j].time-own.hi > uint64(lateWindow.Nanoseconds())) {
			break
		}
		for _, ex := range s.points[j].exemplars {
			if tsBucketOf(s.points[j].bounds, ex.value) != g.b || ex.time <= own.lo {
				continue
			}
			switch {
			case ex.time > own.hi:
				c.superseded++
			case j == g.k:
				c.immediate++
			default:
				c.recovered++
			}
			return
		}
	}
	c.missed++
	if len(c.missedExamples) < 10 {
		c.missedExamples = append(c.missedExamples, fmt.Sprintf("%s point %d bucket %d (interval %s)",
			g.stream, g.k, g.b, time.Unix(0, int64(own.hi)).Format("15:04:05.000")))
	}
}

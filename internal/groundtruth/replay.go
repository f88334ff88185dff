// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth // import "github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Check validates the exemplars a processor attached to a workload whose
// delivery order is known (out minus in) and, point by point, replays the
// processor's documented candidate ranking (README "Which span": in the
// bucket before within exemplars.duration_tolerance, ended in the window
// before late, a span that ended within the tolerance after the point
// standing in with the point's time) to find the buckets it left empty or
// filled with a lower-ranked span than it had. It judges the Go SDK
// workload, whose tolerance is the processor's default.
type Check struct {
	spans *Spans
	// tolNanos is exemplars.duration_tolerance: how far outside a bucket a
	// span's duration may lie when the exemplar's value is clamped into it,
	// and how long after a point a span may end when the exemplar's
	// timestamp is clamped to the point's time.
	tolNanos uint64
	// candidates caches, per stream, the spans that join its points,
	// sorted by end.
	candidates map[*Stream][]*Span
	// seenFromMaybe and seenFromSure, per stream: a span that ended by then
	// stands in for no neighbouring bucket of a continuing point (the spans
	// that may have been, or surely were, there at the stream's first
	// point did not number its count).
	seenFromMaybe, seenFromSure map[*Stream]uint64

	Attached, Late, OwedFills int
	// Recovered counts exemplars whose span was delivered after their
	// point's batch had been fed: the batch was held and enriched later.
	Recovered int
	// Clamped exemplars, ClampedDown of them to an upper bound.
	Clamped, ClampedDown int
	// Straddled: exemplars whose span ended just after the point whose time
	// they carry; StraddledOwed of them on a bucket owed an exemplar since
	// that point.
	Straddled, StraddledOwed int
	// Swapped: exemplars whose span lies inside another bucket of the point
	// that it could have filled, which took another span instead; Swaps
	// shows a few.
	Swapped int
	Swaps   []string
	// Errors break what the processor promises of an attached exemplar.
	Errors []string
	// OtherBucket are attached exemplars whose request the metric counted
	// in another bucket (its span's duration and its measured value lie on
	// either side of a bound), NotGrown those whose span ended in a window
	// in which their bucket did not grow at all: true of the span, not of
	// the observation.
	OtherBucket, NotGrown []string
	// Missed are buckets that needed an exemplar (grew, or owed one since
	// they grew) and got none although they could have had a delivered span
	// that the rules make a candidate for them.
	Missed []string
	// Ranking are exemplars chosen over a better-ranked candidate their
	// bucket could have had.
	Ranking []string
	// TieBreak are exemplars chosen over a candidate of the same rank that
	// ended later (measured: the search stops at the first fresh span).
	TieBreak []string
	// Unexplained are exemplars that are no candidate of their bucket by
	// the replayed rules.
	Unexplained []string
	// Uncovered classifies, per metric, the grown buckets without an
	// exemplar from their window by cause; Examples explains some.
	Uncovered map[string]map[string]int
	Examples  []string
	// NeverCovered: of those on cumulative streams, the ones no later point
	// covered either, by cause.
	NeverCovered map[string]map[string]int
}

// NewCheck returns a check of the workload's spans with the processor's
// exemplars.duration_tolerance.
func NewCheck(spans *Spans, tolerance time.Duration) *Check {
	return &Check{
		spans: spans, tolNanos: uint64(tolerance.Nanoseconds()),
		candidates:    map[*Stream][]*Span{},
		seenFromMaybe: map[*Stream]uint64{}, seenFromSure: map[*Stream]uint64{},
		Uncovered: map[string]map[string]int{}, NeverCovered: map[string]map[string]int{},
	}
}

// spansOf returns the spans that join s's points, sorted by end.
func (c *Check) spansOf(s *Stream) []*Span {
	if list, ok := c.candidates[s]; ok {
		return list
	}
	var list []*Span
	for _, sp := range c.spans.All() {
		if ok, _ := s.Match(sp); ok {
			list = append(list, sp)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].End < list[j].End })
	c.candidates[s] = list
	return list
}

func addCause(into map[string]map[string]int, metric, cause string) {
	if into[metric] == nil {
		into[metric] = map[string]int{}
	}
	into[metric][cause]++
}

func (c *Check) errorf(format string, args ...any) {
	c.Errors = append(c.Errors, fmt.Sprintf(format, args...))
}

// Validate checks every exemplar of out that is not on the same point of in.
func (c *Check) Validate(in, out *Streams) {
	for _, s := range out.All() {
		src := in.ByID(s.ID)
		if src == nil || len(src.Points) != len(s.Points) {
			c.errorf("stream %s: points changed", s.ID)
			continue
		}
		// Per bucket, what the next exemplar's timestamp must exceed: the
		// newest end of the spans of the exemplars attached so far (a
		// straddling span's own end, not the point's time it took), or the
		// newest timestamp of the exemplars that came with the points.
		last := map[int]uint64{}
		for k, p := range s.Points {
			c.uniquePerPoint(s, k)
			for _, ex := range p.Exemplars {
				if !slices.Contains(src.Points[k].Exemplars, ex) {
					c.Attached++
					c.exemplar(s, k, ex, last[ex.Bucket])
				}
			}
			for _, ex := range p.Exemplars {
				end := ex.TS
				if sp := c.spans.First(ex.SpanID); sp != nil && !slices.Contains(src.Points[k].Exemplars, ex) {
					end = max(end, sp.End)
				}
				last[ex.Bucket] = max(last[ex.Bucket], end)
			}
		}
	}
}

// uniquePerPoint checks that point k has at most one exemplar per bucket
// and that no span explains two buckets.
func (c *Check) uniquePerPoint(s *Stream, k int) {
	perBucket := map[int]int{}
	perSpan := map[pcommon.SpanID]int{}
	for _, ex := range s.Points[k].Exemplars {
		perBucket[ex.Bucket]++
		perSpan[ex.SpanID]++
	}
	for id, n := range perSpan {
		if n > 1 {
			c.errorf("stream %s point %d: span %s is the exemplar of %d buckets", s.ID, k, id, n)
		}
	}
	for b, n := range perBucket {
		if n > 1 {
			c.errorf("stream %s point %d: %d exemplars on bucket %d", s.ID, k, n, b)
		}
	}
}

// tolerance is the tolerance in s's unit.
func (c *Check) tolerance(s *Stream) float64 { return float64(c.tolNanos) / s.UnitNanos }

// clampedFrom reports whether v is the value of bucket b nearest to a
// duration d that lies outside it within the tolerance.
func (c *Check) clampedFrom(s *Stream, l Layout, b int, v, d float64) bool {
	if l.Of(d) == b {
		return false
	}
	cl, ok := l.ClampInto(b, d)
	return ok && v == cl && abs(cl-d) <= c.tolerance(s)
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// exemplar validates one attached exemplar on point k of s; newest is the
// newest exemplar timestamp of its bucket on earlier points.
func (c *Check) exemplar(s *Stream, k int, ex Exemplar, newest uint64) {
	p := s.Points[k]
	where := fmt.Sprintf("stream %s point %d exemplar span %s", s.ID, k, ex.SpanID)
	sp := c.spans.First(ex.SpanID)
	if sp == nil {
		c.errorf("%s: no such span in the workload", where)
		return
	}
	if sp.TraceID != ex.TraceID {
		c.errorf("%s: trace ID %s, the span's is %s", where, ex.TraceID, sp.TraceID)
	} else if ok, why := s.Match(sp); !ok {
		c.errorf("%s: the span does not match the point: %s", where, why)
	}
	d := sp.Value(s.UnitNanos)
	switch {
	case ex.Value == d:
	case c.clampedFrom(s, p.Layout, ex.Bucket, ex.Value, d):
		c.Clamped++
		if ex.Value < d {
			c.ClampedDown++
		}
	default:
		c.errorf("%s: value %v is neither the span's duration %v %s nor, with that duration within the tolerance %v outside bucket %s, the bucket's bound it is clamped to",
			where, ex.Value, d, s.Unit, c.tolerance(s), p.Layout.Describe(ex.Bucket))
	}
	if ex.TS != sp.End {
		// The straddle rule: a span that ended just after a point (its
		// request counted before it) takes that point's time.
		if sp.End > ex.TS && sp.End-ex.TS <= c.tolNanos && s.IsPointTime(ex.TS) {
			c.Straddled++
		} else {
			c.errorf("%s: timestamp %d, span end %d", where, ex.TS, sp.End)
		}
	}
	if sp.FedTick > p.Tick {
		c.Recovered++
	}
	if ex.TS <= p.Start || ex.TS > p.Time {
		c.errorf("%s: timestamp %d outside (start %d, time %d]", where, ex.TS, p.Start, p.Time)
		return
	}
	if ex.TS <= newest {
		c.errorf("%s: timestamp %d not after the bucket's previous exemplar (its span's end, or its timestamp if it came with the point) %d", where, ex.TS, newest)
	}
	if sp.HasMeasured && p.Layout.Of(sp.Measured) != ex.Bucket {
		c.OtherBucket = append(c.OtherBucket, fmt.Sprintf("%s: span %.6f %s, exemplar %v in bucket %d, request measured %.6f (bucket %d)",
			s.Metric, d, s.Unit, ex.Value, ex.Bucket, sp.Measured, p.Layout.Of(sp.Measured)))
	}
	c.exemplarWindow(s, k, ex, sp, where)
}

// exemplarWindow checks the window of an exemplar's timestamp: its own
// point's, with a bucket that grew; or, a late span, an earlier one's of a
// bucket that grows now or is owed an exemplar since it grew then.
func (c *Check) exemplarWindow(s *Stream, k int, ex Exemplar, sp *Span, where string) {
	j := s.Interval(ex.TS, k)
	if j < 0 {
		c.errorf("%s: timestamp %d in no window up to the point", where, ex.TS)
		return
	}
	if !s.Grown(j, ex.Bucket) {
		c.NotGrown = append(c.NotGrown, fmt.Sprintf("%s: bucket %d (value %v) did not grow in the span's window %d (added %v)",
			where, ex.Bucket, ex.Value, j, s.Added(j)))
	}
	if j == k {
		if !s.Grown(k, ex.Bucket) {
			c.errorf("%s: bucket %d did not grow", where, ex.Bucket)
		}
		return
	}
	c.Late++
	if sp.Tick <= s.Points[k-1].Tick {
		c.errorf("%s: span from window %d was delivered before point %d, yet attached only to point %d", where, j, k-1, k)
	}
	if s.Grown(k, ex.Bucket) {
		return
	}
	c.OwedFills++
	lo, hi, owed := s.Owed(k, ex.Bucket)
	switch {
	case !owed:
		c.errorf("%s: bucket %d neither grew nor is owed an exemplar", where, ex.Bucket)
	case ex.TS <= lo || ex.TS > hi:
		c.errorf("%s: bucket %d is owed an exemplar from (%d, %d], in which it grew; the span ended at %d", where, ex.Bucket, lo, hi, ex.TS)
	}
}

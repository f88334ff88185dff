// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth // import "github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// Rules an exemplar can break, as findings name them.
const (
	RuleNoRule    = "no-rule"   // attached to a metric no default rule selects
	RuleUnit      = "unit"      // attached to a metric whose unit is no duration
	RuleNoIDs     = "no-ids"    // attached without a trace or span ID
	RuleNoSpan    = "no-span"   // names no span of the workload
	RuleService   = "service"   // the span is another service's
	RuleKind      = "kind"      // the span's kind is not the metric's
	RuleAttribute = "attribute" // a mapped point attribute differs or is missing
	RuleTimestamp = "timestamp" // the timestamp is not the span's end
	RuleWindow    = "window"    // the span did not end inside the point's window
	RuleBucket    = "bucket"    // the value's bucket did not grow, or no bucket holds it
	RuleLate      = "late"      // a late span on a bucket that neither grew nor is owed one
	RuleValue     = "value"     // the value is neither the duration nor a stand-in's bound
	RuleSkew      = "skew"      // the instrumentation cannot have counted the span's request in the bucket
	// RuleStandInLate: a stand-in whose span did not end in the point's
	// window since the previous point: a late span waits for its own
	// bucket, and one that ended after the point fills only its own.
	RuleStandInLate = "stand-in-late"
	RuleEvidence    = "stand-in-count" // a stand-in whose own bucket counted every such span
	RuleBackwards   = "backwards"      // older than an earlier exemplar of its bucket
	RulePerBucket   = "per-bucket"     // more than one exemplar on a bucket
	RulePerSpan     = "per-span"       // one span explains several buckets of a point
	RuleOneWindow   = "one-window"     // one span is the exemplar of two windows, or two buckets, of a stream
	RuleKept        = "sdk-kept"       // an SDK exemplar naming a span was dropped
	RulePoints      = "points"         // the stream's points changed
)

// relTolerance is how close an exemplar value must be to the span's
// duration, or to a bucket bound, relative to it.
const relTolerance = 1e-9

// Finding is one exemplar that broke a rule.
type Finding struct {
	Rule, Metric, Stream string
	Point                int
	Bucket, Span, Detail string
}

func (f Finding) String() string {
	return fmt.Sprintf("[%s] metric %s stream %s point %d bucket %s span %s: %s", f.Rule, f.Metric, f.Stream, f.Point, f.Bucket, f.Span, f.Detail)
}

// MetricReport sums up one metric of a workload.
type MetricReport struct {
	Metric string
	// Grown buckets: a delta point's non-zero buckets, a cumulative
	// point's buckets that grew. Filled: those carrying a valid exemplar
	// of their window (on a later point, for a recovered late span), the
	// SDK's own included. Matchable: as many of them as the workload's
	// spans can honestly fill at once (one span per bucket of a point),
	// delivered before the point or, on a cumulative stream, before a
	// later point of it while the bucket is still owed (no point between
	// grew with a span of its own to take the bucket's one exemplar); a
	// stand-in only on its own point. Covered: the matchable ones filled.
	Grown, Filled, Matchable, Covered int
	// InsideMatchable: as many grown buckets as spans of their own
	// buckets alone could honestly fill at once, by the same matchings as
	// Matchable without stand-ins: at best what a processor attaching no
	// stand-in (exemplars.duration_tolerance 0) could cover.
	InsideMatchable int
	// NeededStandIns: of the processor's stand-ins, how many the workload
	// forced. Per point, the fewest stand-ins with which the spans that
	// had reached the collector by the point could fill as many of its
	// buckets as the processor filled there (judge_standins.go).
	NeededStandIns int
	// Attached: exemplars the processor added; Invalid: those breaking a
	// rule; StandIns: those whose value is not their span's own duration;
	// Late: those whose span ended in an earlier window of the run;
	// Straddles: those whose span ended just after the point whose time
	// they carry; Owed: those on a bucket that did not grow at their
	// point, owed an exemplar since their span's window; OwedStraddles:
	// straddles there.
	Attached, Invalid, StandIns, Late, Straddles, Owed, OwedStraddles int
	// SDK: exemplars that came with the points; Traceless: of those, the
	// ones naming no span.
	SDK, Traceless int
	// Uncovered shows a few matchable buckets left without an exemplar;
	// Unmatchable counts the grown buckets that are not matchable, by why.
	Uncovered   []string
	Unmatchable map[string]int
	// Excess shows a few points that carry more stand-ins than needed.
	Excess []string
	// Exponential: a stream of the metric has exponential buckets.
	Exponential bool
}

// maxExamples bounds the examples a report keeps per metric.
const maxExamples = 5

// Coverage is the share of matchable grown buckets covered (NaN without).
func (m *MetricReport) Coverage() float64 { return ratio(m.Covered, m.Matchable) }

// Share is the share of grown buckets filled (NaN without).
func (m *MetricReport) Share() float64 { return ratio(m.Filled, m.Grown) }

// Add adds o's counts (not its examples) to m.
func (m *MetricReport) Add(o *MetricReport) {
	m.Grown += o.Grown
	m.Filled += o.Filled
	m.Matchable += o.Matchable
	m.Covered += o.Covered
	m.InsideMatchable += o.InsideMatchable
	m.NeededStandIns += o.NeededStandIns
	m.Attached += o.Attached
	m.Invalid += o.Invalid
	m.StandIns += o.StandIns
	m.Late += o.Late
	m.Straddles += o.Straddles
	m.Owed += o.Owed
	m.OwedStraddles += o.OwedStraddles
	m.SDK += o.SDK
	m.Traceless += o.Traceless
	for why, n := range o.Unmatchable {
		addCount(&m.Unmatchable, why, n)
	}
	m.Exponential = m.Exponential || o.Exponential
}

// Unmatched is how many grown buckets are not matchable.
func (m *MetricReport) Unmatched() int { return m.Grown - m.Matchable }

// StandInShare is the share of attached exemplars that are stand-ins.
func (m *MetricReport) StandInShare() float64 { return ratio(m.StandIns, m.Attached) }

// ExcessStandIns is how many stand-ins the processor attached beyond those
// the workload forced: where a span of the bucket's own could have served.
func (m *MetricReport) ExcessStandIns() int { return m.StandIns - m.NeededStandIns }

// ExcessShare is the share of attached exemplars that are excess
// stand-ins.
func (m *MetricReport) ExcessShare() float64 { return ratio(m.ExcessStandIns(), m.Attached) }

func ratio(n, d int) float64 {
	if d == 0 {
		return math.NaN()
	}
	return float64(n) / float64(d)
}

// Report is what the judge found.
type Report struct {
	Findings []Finding
	byMetric map[string]*MetricReport
}

// Metrics returns the per-metric reports, by metric name.
func (r *Report) Metrics() []*MetricReport {
	out := make([]*MetricReport, 0, len(r.byMetric))
	for _, m := range r.byMetric {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Metric < out[j].Metric })
	return out
}

// Metric returns the report of one metric (zero when it had no stream).
func (r *Report) Metric(name string) *MetricReport {
	if m, ok := r.byMetric[name]; ok {
		return m
	}
	return &MetricReport{Metric: name}
}

func (r *Report) metric(name string) *MetricReport {
	m, ok := r.byMetric[name]
	if !ok {
		m = &MetricReport{Metric: name}
		r.byMetric[name] = m
	}
	return m
}

// Judge judges the exemplars a processor attached to a replayed workload
// against every span of it, with its own rules, and measures how many of
// the buckets that could honestly have one got one.
type Judge struct {
	spans   *Spans
	in, out *Streams
	skews   Skews
	// joined caches, per stream, the spans that join its points, by end.
	joined  map[*Stream][]*Span
	windows map[windowKey]*window
	// invalid marks the processor's exemplars that broke a rule.
	invalid map[exemplarRef]bool
	// placed records, per stream, the window (point) each span a valid
	// exemplar names was observed in, and the bucket it was counted in:
	// one request is counted once, in one bucket.
	placed map[*Stream]map[*Span]spanPlace
	// attached lists, per stream, the exemplars the processor added.
	attached map[*Stream][]attachedRef
}

// attachedRef is exemplar i of point k the processor added, judged as
// naming span sp (nil: none) observed in point jk's window, a stand-in or
// not.
type attachedRef struct {
	k, i, jk int
	sp       *Span
	standIn  bool
}

type exemplarRef struct {
	s    *Stream
	k, i int
}

// NewJudge returns a judge of out (what the processor passed on) against in
// (what it received) and the workload's spans.
func NewJudge(spans *Spans, in, out *Streams, skews Skews) *Judge {
	return &Judge{
		spans: spans, in: in, out: out, skews: skews,
		joined: map[*Stream][]*Span{}, windows: map[windowKey]*window{}, invalid: map[exemplarRef]bool{},
		placed: map[*Stream]map[*Span]spanPlace{}, attached: map[*Stream][]attachedRef{},
	}
}

// Run judges every exemplar and measures the coverage.
func (j *Judge) Run() *Report {
	rep := &Report{byMetric: map[string]*MetricReport{}}
	for _, s := range j.out.All() {
		j.judgeStream(rep, s)
	}
	for _, s := range j.out.All() {
		if s.HasRule && s.UnitNanos > 0 && j.in.ByID(s.ID) != nil {
			j.coverage(rep.metric(s.Metric), s)
		}
	}
	sort.SliceStable(rep.Findings, func(a, b int) bool {
		fa, fb := rep.Findings[a], rep.Findings[b]
		if fa.Metric != fb.Metric {
			return fa.Metric < fb.Metric
		}
		if fa.Stream != fb.Stream {
			return fa.Stream < fb.Stream
		}
		return fa.Point < fb.Point
	})
	return rep
}

// joinedOf returns the spans that join s's points, sorted by end.
func (j *Judge) joinedOf(s *Stream) []*Span {
	if list, ok := j.joined[s]; ok {
		return list
	}
	var list []*Span
	for _, sp := range j.spans.All() {
		if ok, _ := s.Match(sp); ok {
			list = append(list, sp)
		}
	}
	sort.SliceStable(list, func(a, b int) bool { return list[a].End < list[b].End })
	j.joined[s] = list
	return list
}

// judgeStream judges every exemplar of one stream that the input did not
// have, point by point.
func (j *Judge) judgeStream(rep *Report, s *Stream) {
	src := j.in.ByID(s.ID)
	if src == nil || len(src.Points) != len(s.Points) {
		rep.Findings = append(rep.Findings, Finding{Rule: RulePoints, Metric: s.Metric, Stream: s.ID, Point: -1, Detail: "the stream's points differ from the input's"})
		return
	}
	if !s.HasRule && !addedAny(src, s) {
		return // no rule, nothing attached: nothing to judge or count
	}
	mr := rep.metric(s.Metric)
	last := map[BucketID]Exemplar{}
	for k, p := range s.Points {
		given := src.Points[k].Exemplars
		rep.Findings = append(rep.Findings, j.pointRules(s, k, given)...)
		for i, ex := range p.Exemplars {
			if slices.Contains(given, ex) {
				continue
			}
			mr.Attached++
			fs, v := j.exemplar(s, k, ex)
			fs = append(fs, backwards(s, k, ex, last)...)
			if len(fs) == 0 {
				fs = j.place(s, k, ex, v)
			}
			mr.count(v)
			j.attached[s] = append(j.attached[s], attachedRef{k: k, i: i, jk: v.jk, sp: v.sp, standIn: v.standIn})
			if len(fs) > 0 || j.invalid[exemplarRef{s, k, i}] {
				mr.Invalid++
				j.invalid[exemplarRef{s, k, i}] = true
			}
			rep.Findings = append(rep.Findings, fs...)
		}
		for _, ex := range given {
			mr.SDK++
			if !ex.HasIDs() {
				mr.Traceless++
			}
		}
		for _, ex := range p.Exemplars {
			if id := p.Layout.ID(ex.Bucket); ex.HasIDs() && ex.Bucket >= 0 && ex.TS >= last[id].TS {
				last[id] = ex
			}
		}
	}
}

// spanPlace is where a valid exemplar put its span's request: the window
// of point jk, bucket (lo, hi].
type spanPlace struct {
	jk     int
	lo, hi float64
}

// apart reports whether bucket (lo, hi] shares no value with p's bucket
// (buckets of an exponential stream that changed scale may nest).
func (p spanPlace) apart(lo, hi float64) bool { return hi <= p.lo || p.hi <= lo }

// place records the window and bucket a valid exemplar's span was
// observed in, or finds it placed in another window or, for the same
// window, in another bucket already: a request is counted once. A stand-in
// and, on a later point, the same span as its own bucket's late exemplar
// would count it twice.
func (j *Judge) place(s *Stream, k int, ex Exemplar, v verdict) []Finding {
	if v.sp == nil || v.jk < 0 {
		return nil
	}
	if j.placed[s] == nil {
		j.placed[s] = map[*Span]spanPlace{}
	}
	lo, hi := s.Points[k].Layout.Range(ex.Bucket)
	prev, ok := j.placed[s][v.sp]
	switch {
	case ok && prev.jk != v.jk:
		return []Finding{finding(s, k, ex, RuleOneWindow, fmt.Sprintf("the exemplar places the span's request in point %d's window; an earlier exemplar placed it in point %d's: a request is counted once", v.jk, prev.jk))}
	case ok && prev.apart(lo, hi):
		return []Finding{finding(s, k, ex, RuleOneWindow, fmt.Sprintf("the exemplar places the span's request in bucket (%g, %g]; an earlier exemplar placed it in (%g, %g] of the same window: a request is counted once", lo, hi, prev.lo, prev.hi))}
	}
	if !ok {
		j.placed[s][v.sp] = spanPlace{jk: v.jk, lo: lo, hi: hi}
	}
	return nil
}

// count counts an attached exemplar's verdict.
func (m *MetricReport) count(v verdict) {
	for _, c := range []struct {
		n  *int
		is bool
	}{{&m.StandIns, v.standIn}, {&m.Late, v.late}, {&m.Straddles, v.straddle}, {&m.Owed, v.owed}, {&m.OwedStraddles, v.owed && v.straddle}} {
		if c.is {
			*c.n++
		}
	}
}

// addedAny reports whether out carries an exemplar in did not.
func addedAny(in, out *Stream) bool {
	for k, p := range out.Points {
		for _, ex := range p.Exemplars {
			if !slices.Contains(in.Points[k].Exemplars, ex) {
				return true
			}
		}
	}
	return false
}

// finding starts a finding about exemplar ex of point k of s.
func finding(s *Stream, k int, ex Exemplar, rule, detail string) Finding {
	bucket := "none"
	if ex.Bucket >= 0 {
		bucket = s.Points[k].Layout.Describe(ex.Bucket)
	}
	return Finding{
		Rule: rule, Metric: s.Metric, Stream: s.ID, Point: k, Bucket: bucket,
		Span: fmt.Sprintf("%s/%s", ex.TraceID, ex.SpanID), Detail: detail,
	}
}

// backwards checks that ex is newer than every earlier exemplar of its
// bucket in the stream (Prometheus drops older ones); re-sending the same
// exemplar is no step back.
func backwards(s *Stream, k int, ex Exemplar, last map[BucketID]Exemplar) []Finding {
	if ex.Bucket < 0 {
		return nil
	}
	prev, ok := last[s.Points[k].Layout.ID(ex.Bucket)]
	if !ok || ex.TS > prev.TS || ex == prev {
		return nil
	}
	return []Finding{finding(s, k, ex, RuleBackwards, fmt.Sprintf("timestamp %d is not after %d of the bucket's earlier exemplar (span %s)", ex.TS, prev.TS, prev.SpanID))}
}

// pointRules checks point k as a whole: at most one exemplar per bucket,
// one bucket per span, and every SDK exemplar naming a span kept. The
// processor's exemplars involved are marked invalid.
func (j *Judge) pointRules(s *Stream, k int, given []Exemplar) []Finding {
	var fs []Finding
	p := s.Points[k]
	perBucket, perSpan := map[int][]int{}, map[[2]string][]int{}
	for i, ex := range p.Exemplars {
		perBucket[ex.Bucket] = append(perBucket[ex.Bucket], i)
		if ex.HasIDs() {
			id := [2]string{ex.TraceID.String(), ex.SpanID.String()}
			perSpan[id] = append(perSpan[id], i)
		}
	}
	for _, idx := range perBucket {
		if len(idx) > 1 {
			fs = append(fs, j.markAdded(s, k, given, violation{idx, RulePerBucket, fmt.Sprintf("%d exemplars on one bucket", len(idx))})...)
		}
	}
	for _, idx := range perSpan {
		if len(idx) > 1 && p.Exemplars[idx[0]].Bucket != p.Exemplars[idx[1]].Bucket {
			fs = append(fs, j.markAdded(s, k, given, violation{idx, RulePerSpan, fmt.Sprintf("the span is the exemplar of %d buckets of the point", len(idx))})...)
		}
	}
	for _, ex := range given {
		if ex.HasIDs() && !slices.Contains(p.Exemplars, ex) {
			fs = append(fs, finding(s, k, ex, RuleKept, "an SDK exemplar naming a span was removed"))
		}
	}
	return fs
}

// violation is a rule that exemplars idx of a point break together.
type violation struct {
	idx          []int
	rule, detail string
}

// markAdded reports the processor's exemplars among v.idx as breaking v.rule.
func (j *Judge) markAdded(s *Stream, k int, given []Exemplar, v violation) []Finding {
	var fs []Finding
	for _, i := range v.idx {
		ex := s.Points[k].Exemplars[i]
		if slices.Contains(given, ex) {
			continue
		}
		j.invalid[exemplarRef{s, k, i}] = true
		fs = append(fs, finding(s, k, ex, v.rule, v.detail))
	}
	return fs
}

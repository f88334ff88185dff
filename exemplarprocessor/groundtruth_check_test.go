// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor_test

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// What the validation knows about the workload: every span, and every
// histogram stream of the two request-duration metrics, point by point.

const (
	gtServerMetric = "http.server.request.duration"
	gtClientMetric = "http.client.request.duration"
)

// gtJoinAttributes are the attributes a span and a data point of one
// request share, per span kind: what "matching attributes" means here.
var gtJoinAttributes = map[ptrace.SpanKind][]string{
	ptrace.SpanKindServer: {"http.request.method", "http.route", "http.response.status_code"},
	ptrace.SpanKindClient: {"http.request.method", "http.response.status_code", "server.address", "server.port"},
}

var gtResourceKeys = []string{"service.namespace", "service.name", "service.instance.id"}

// gtJoinKey renders service identity, span kind and join attributes. name
// is the span's name ("" for a data point): an HTTP server span without
// http.route has its route in its name, "{METHOD} {route}", as
// otelhttp.NewHandler around a whole ServeMux names it.
func gtJoinKey(res pcommon.Map, kind ptrace.SpanKind, attrs pcommon.Map, name string) string {
	var b strings.Builder
	for _, k := range gtResourceKeys {
		v, _ := res.Get(k)
		fmt.Fprintf(&b, "%s=%s ", k, v.AsString())
	}
	b.WriteString(kind.String())
	for _, k := range gtJoinAttributes[kind] {
		v, ok := attrs.Get(k)
		switch {
		case ok:
			fmt.Fprintf(&b, " %s=%s", k, v.AsString())
		case k == "http.route" && kind == ptrace.SpanKindServer && gtRouteFromName(name) != "":
			fmt.Fprintf(&b, " %s=%s", k, gtRouteFromName(name))
		default:
			fmt.Fprintf(&b, " %s=<absent>", k)
		}
	}
	return b.String()
}

// gtRouteFromName returns the route of a span named "{METHOD} {route}", or "".
func gtRouteFromName(name string) string {
	method, route, ok := strings.Cut(name, " ")
	if !ok || method == "" || method != strings.ToUpper(method) || !strings.HasPrefix(route, "/") || strings.Contains(route, " ") {
		return ""
	}
	return route
}

func gtRender(m pcommon.Map) string {
	kv := make([]string, 0, m.Len())
	m.Range(func(k string, v pcommon.Value) bool {
		kv = append(kv, k+"="+v.AsString())
		return true
	})
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// gtSpanInfo is one workload span.
type gtSpanInfo struct {
	traceID pcommon.TraceID
	spanID  pcommon.SpanID
	key     string
	metric  string // the duration metric its request was counted on
	end     uint64
	dur     int64 // ns
	// tick is the index of the first tick whose metrics could surely use
	// it: it was delivered before them (or, held, before they were
	// enriched); maybeTick the first whose metrics may have used it (a
	// held batch is enriched some time after its delay).
	tick, maybeTick int
	// fedTick is the tick whose metrics it was delivered before.
	fedTick int
	// measured is the value the request recorded on metric (tapped runs).
	measured    float64
	hasMeasured bool
}

func (s *gtSpanInfo) seconds() float64 { return float64(s.dur) / 1e9 }

func gtSpanInfos(td ptrace.Traces, tick int, into map[pcommon.SpanID]*gtSpanInfo) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		res := rss.At(i).Resource().Attributes()
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				metric := gtServerMetric
				if sp.Kind() == ptrace.SpanKindClient {
					metric = gtClientMetric
				}
				into[sp.SpanID()] = &gtSpanInfo{
					traceID:   sp.TraceID(),
					spanID:    sp.SpanID(),
					key:       gtJoinKey(res, sp.Kind(), sp.Attributes(), sp.Name()),
					metric:    metric,
					end:       uint64(sp.EndTimestamp()),
					dur:       int64(sp.EndTimestamp()) - int64(sp.StartTimestamp()),
					tick:      tick,
					maybeTick: tick,
					fedTick:   tick,
				}
			}
		}
	}
}

// gtBucket is the explicit bucket of v: upper-inclusive bounds.
func gtBucket(bounds []float64, v float64) int {
	return sort.Search(len(bounds), func(i int) bool { return v <= bounds[i] })
}

type gtExemplar struct {
	traceID pcommon.TraceID
	spanID  pcommon.SpanID
	ts      uint64
	value   float64
	bucket  int
}

type gtPoint struct {
	tick        int
	start, time uint64
	bounds      []float64
	counts      []uint64
	exemplars   []gtExemplar
}

// gtStream is one histogram stream: resource, scope, metric and attributes.
type gtStream struct {
	id         string
	joinKey    string
	metric     string
	cumulative bool
	points     []*gtPoint
	// seenFromMaybe and seenFromSure: a span that ended by then stands in
	// for no neighbouring bucket of a continuing point (the processor's
	// SeenFrom, for the spans that may have been, or surely were, there
	// at the stream's first point).
	seenFromMaybe, seenFromSure uint64
}

// gtStreams splits the per-tick batches into streams.
func gtStreams(batches []pmetric.Metrics) []*gtStream {
	byID := map[string]*gtStream{}
	var order []*gtStream
	for tick, md := range batches {
		rms := md.ResourceMetrics()
		for i := 0; i < rms.Len(); i++ {
			res := rms.At(i).Resource().Attributes()
			sms := rms.At(i).ScopeMetrics()
			for j := 0; j < sms.Len(); j++ {
				scope := sms.At(j).Scope()
				ms := sms.At(j).Metrics()
				for k := 0; k < ms.Len(); k++ {
					m := ms.At(k)
					kind := ptrace.SpanKindServer
					switch {
					case m.Name() == gtClientMetric:
						kind = ptrace.SpanKindClient
					case m.Name() != gtServerMetric:
						continue
					}
					dps := m.Histogram().DataPoints()
					for d := 0; d < dps.Len(); d++ {
						dp := dps.At(d)
						id := gtRender(res) + "|" + scope.Name() + "|" + m.Name() + "|" + gtRender(dp.Attributes())
						s, ok := byID[id]
						if !ok {
							s = &gtStream{
								id:         id,
								joinKey:    gtJoinKey(res, kind, dp.Attributes(), ""),
								metric:     m.Name(),
								cumulative: m.Histogram().AggregationTemporality() == pmetric.AggregationTemporalityCumulative,
							}
							byID[id] = s
							order = append(order, s)
						}
						p := &gtPoint{
							tick:   tick,
							start:  uint64(dp.StartTimestamp()),
							time:   uint64(dp.Timestamp()),
							bounds: dp.ExplicitBounds().AsRaw(),
							counts: dp.BucketCounts().AsRaw(),
						}
						exs := dp.Exemplars()
						for e := 0; e < exs.Len(); e++ {
							ex := exs.At(e)
							v := ex.DoubleValue()
							if ex.ValueType() == pmetric.ExemplarValueTypeInt {
								v = float64(ex.IntValue())
							}
							p.exemplars = append(p.exemplars, gtExemplar{
								traceID: ex.TraceID(), spanID: ex.SpanID(), ts: uint64(ex.Timestamp()),
								value: v, bucket: gtBucket(p.bounds, v),
							})
						}
						s.points = append(s.points, p)
					}
				}
			}
		}
	}
	return order
}

// continues reports whether point k continues point k-1 of a cumulative
// stream (same start, no count went down).
func (s *gtStream) continues(k int) bool {
	if !s.cumulative || k == 0 {
		return false
	}
	p, q := s.points[k-1], s.points[k]
	if p.start != q.start || len(p.counts) != len(q.counts) {
		return false
	}
	for b := range q.counts {
		if q.counts[b] < p.counts[b] {
			return false
		}
	}
	return true
}

// grown reports whether bucket b received observations in point k's
// interval.
func (s *gtStream) grown(k, b int) bool {
	if s.continues(k) {
		return s.points[k].counts[b] > s.points[k-1].counts[b]
	}
	return s.points[k].counts[b] > 0
}

// window is the interval (lo, hi] whose observations point k adds.
func (s *gtStream) window(k int) (lo, hi uint64) {
	if s.continues(k) {
		return s.points[k-1].time, s.points[k].time
	}
	return s.points[k].start, s.points[k].time
}

// interval returns the point whose window holds ts, or -1.
func (s *gtStream) interval(ts uint64) int {
	for k := range s.points {
		if lo, hi := s.window(k); ts > lo && ts <= hi {
			return k
		}
	}
	return -1
}

// hasExemplar reports whether point k carries an exemplar on bucket b whose
// timestamp lies in (lo, hi].
func (s *gtStream) hasExemplar(k, b int, lo, hi uint64) bool {
	if k >= len(s.points) {
		return false
	}
	for _, ex := range s.points[k].exemplars {
		if ex.bucket == b && ex.ts > lo && ex.ts <= hi {
			return true
		}
	}
	return false
}

// exemplarOn returns point k's (first) exemplar on bucket b, or nil.
func (s *gtStream) exemplarOn(k, b int) *gtExemplar {
	for i, ex := range s.points[k].exemplars {
		if ex.bucket == b {
			return &s.points[k].exemplars[i]
		}
	}
	return nil
}

// gtShare counts, over every point of the streams of one metric, the
// buckets that grew and those that carry an exemplar of that growth.
type gtShare struct {
	grown int
	// covered: the point itself carries an exemplar from its interval.
	covered int
	// eventual: the point or a later point of the stream carries one (a
	// late span placed on a following point).
	eventual int
}

func (sh gtShare) ratio(n int) float64 {
	if sh.grown == 0 {
		return math.NaN()
	}
	return float64(n) / float64(sh.grown)
}

func (sh gtShare) String() string {
	return fmt.Sprintf("%.4f (%d/%d grown buckets; eventually %.4f)", sh.ratio(sh.covered), sh.covered, sh.grown, sh.ratio(sh.eventual))
}

func (sh *gtShare) add(o gtShare) {
	sh.grown += o.grown
	sh.covered += o.covered
	sh.eventual += o.eventual
}

func gtMeasure(streams []*gtStream, metric string) gtShare {
	var sh gtShare
	for _, s := range streams {
		if s.metric != metric {
			continue
		}
		for k, p := range s.points {
			lo, hi := s.window(k)
			for b := range p.counts {
				if !s.grown(k, b) {
					continue
				}
				sh.grown++
				now := s.hasExemplar(k, b, lo, hi)
				if now {
					sh.covered++
				}
				later := false
				for j := k + 1; s.cumulative && j < len(s.points) && !now && !later; j++ {
					later = s.hasExemplar(j, b, lo, hi)
				}
				if now || later {
					sh.eventual++
				}
			}
		}
	}
	return sh
}

// gtCheck validates the exemplars a processor attached (out minus in) and,
// point by point, works out which spans the processor's documented rules
// made candidates for each bucket, to find the buckets it left empty or
// filled with a lower-ranked span than it had.
type gtCheck struct {
	spans map[pcommon.SpanID]*gtSpanInfo
	// byKey lists the spans of each join key.
	byKey map[string][]*gtSpanInfo
	// tolerance is exemplars.duration_tolerance in seconds (the metrics'
	// unit): how far outside a bucket a span's duration may lie when the
	// exemplar's value is clamped into it; tolNanos is the same in time:
	// how long after a point a span may end when the exemplar's timestamp
	// is clamped to the point's time.
	tolerance float64
	tolNanos  uint64

	attached, late, owedFills int
	// recovered counts exemplars whose span was delivered after their
	// point's batch had been fed: the batch was held and enriched later.
	recovered int
	// clamped exemplars, clampedDown of them to an upper bound.
	clamped, clampedDown int
	// straddled: exemplars whose span ended just after the point whose time
	// they carry; straddledOwed of them on a bucket owed an exemplar since
	// that point.
	straddled, straddledOwed int
	// swapped: exemplars whose span lies inside another bucket of the point
	// that it could have filled, which took another span instead; swaps
	// shows a few.
	swapped int
	swaps   []string
	// errors break what the processor promises of an attached exemplar.
	errors []string
	// otherBucket are attached exemplars whose request the metric counted
	// in another bucket (its span's duration and its measured value lie on
	// either side of a bound), notGrown those whose span ended in an
	// interval in which their bucket did not grow at all: true of the span,
	// not of the observation.
	otherBucket, notGrown []string
	// missed are buckets that needed an exemplar (grew, or owed one since
	// they grew) and got none although they could have had a delivered
	// span that the rules make a candidate for them: one no exemplar of
	// the point uses, or one inside the bucket that stands in for a
	// neighbour while the bucket is left empty.
	missed []string
	// ranking are exemplars chosen over a better-ranked candidate their
	// bucket could have had: in-bucket before within the tolerance, ended
	// in the interval before late.
	ranking []string
	// tieBreak are exemplars chosen over a candidate of the same rank that
	// ended later (measured: the search stops at the first fresh span).
	tieBreak []string
	// unexplained are exemplars that are no candidate of their bucket by
	// the rules replayed here: span, value and timestamp.
	unexplained []string
	// uncovered classifies, per metric, the grown buckets without an
	// exemplar from their interval by cause; examples explains some with
	// numbers.
	uncovered map[string]map[string]int
	examples  []string
	// neverCovered: of those on cumulative streams, the ones no later point
	// covered either, by cause.
	neverCovered map[string]map[string]int
}

func (c *gtCheck) cause(into map[string]map[string]int, metric, cause string) {
	if into[metric] == nil {
		into[metric] = map[string]int{}
	}
	into[metric][cause]++
}

func newGTCheck(spans map[pcommon.SpanID]*gtSpanInfo, tolerance time.Duration) *gtCheck {
	c := &gtCheck{
		spans: spans, byKey: map[string][]*gtSpanInfo{},
		uncovered: map[string]map[string]int{}, neverCovered: map[string]map[string]int{},
		tolerance: tolerance.Seconds(), tolNanos: uint64(tolerance.Nanoseconds()),
	}
	for _, s := range spans {
		c.byKey[s.key] = append(c.byKey[s.key], s)
	}
	for _, list := range c.byKey {
		sort.Slice(list, func(i, j int) bool { return list[i].end < list[j].end })
	}
	return c
}

func (c *gtCheck) errorf(format string, args ...any) {
	c.errors = append(c.errors, fmt.Sprintf(format, args...))
}

// validate checks every exemplar of out that is not on the same point of in.
func (c *gtCheck) validate(in, out []*gtStream) {
	inByID := map[string]*gtStream{}
	for _, s := range in {
		inByID[s.id] = s
	}
	for _, s := range out {
		src := inByID[s.id]
		if src == nil || len(src.points) != len(s.points) {
			c.errorf("stream %s: points changed", s.id)
			continue
		}
		// Per bucket, what the next exemplar's timestamp must exceed: the
		// newest end of the spans of the exemplars attached so far (a
		// straddling span's own end, not the point's time it took), or
		// the newest timestamp of the exemplars that came with the points.
		last := map[int]uint64{}
		for k, p := range s.points {
			perBucket := map[int]int{}
			perSpan := map[pcommon.SpanID]int{}
			for _, ex := range p.exemplars {
				perBucket[ex.bucket]++
				perSpan[ex.spanID]++
			}
			for id, n := range perSpan {
				if n > 1 {
					c.errorf("stream %s point %d: span %s is the exemplar of %d buckets", s.id, k, id, n)
				}
			}
			for b, n := range perBucket {
				if n > 1 {
					c.errorf("stream %s point %d: %d exemplars on bucket %d", s.id, k, n, b)
				}
			}
			for _, ex := range p.exemplars {
				if !slices.Contains(src.points[k].exemplars, ex) {
					c.attached++
					c.exemplar(s, k, ex, last[ex.bucket])
				}
			}
			for _, ex := range p.exemplars {
				end := ex.ts
				if sp := c.spans[ex.spanID]; sp != nil && !slices.Contains(src.points[k].exemplars, ex) {
					end = max(end, sp.end)
				}
				last[ex.bucket] = max(last[ex.bucket], end)
			}
		}
	}
}

// clampedFrom reports whether v is the value of bucket b nearest to a
// duration d that lies outside it within the tolerance: b's upper bound for
// a d above it, the float just above b's lower bound for a d at or below it.
func (c *gtCheck) clampedFrom(bounds []float64, b int, v, d float64) bool {
	if gtBucket(bounds, d) == b {
		return false
	}
	cl, ok := gtClampInto(bounds, b, d)
	return ok && v == cl && math.Abs(cl-d) <= c.tolerance
}

// exemplar validates one attached exemplar on point k of s; newest is the
// newest exemplar timestamp of its bucket on earlier points.
func (c *gtCheck) exemplar(s *gtStream, k int, ex gtExemplar, newest uint64) {
	p := s.points[k]
	where := fmt.Sprintf("stream %s point %d exemplar span %s", s.id, k, ex.spanID)
	sp := c.spans[ex.spanID]
	switch {
	case sp == nil:
		c.errorf("%s: no such span in the workload", where)
		return
	case sp.traceID != ex.traceID:
		c.errorf("%s: trace ID %s, the span's is %s", where, ex.traceID, sp.traceID)
	case sp.key != s.joinKey:
		c.errorf("%s: span %q does not match the point %q", where, sp.key, s.joinKey)
	}
	switch {
	case ex.value == sp.seconds():
	case c.clampedFrom(p.bounds, ex.bucket, ex.value, sp.seconds()):
		c.clamped++
		if ex.value < sp.seconds() {
			c.clampedDown++
		}
	default:
		c.errorf("%s: value %v is neither the span's duration %v s nor, with that duration within the tolerance %v s outside bucket %d %s, the bucket's bound it is clamped to",
			where, ex.value, sp.seconds(), c.tolerance, ex.bucket, gtBucketRange(p.bounds, ex.bucket))
	}
	if ex.ts != sp.end {
		// The straddle rule: a span that ended just after a point (its
		// request counted before it) takes that point's time.
		if sp.end > ex.ts && sp.end-ex.ts <= c.tolNanos && s.isPointTime(ex.ts) {
			c.straddled++
		} else {
			c.errorf("%s: timestamp %d, span end %d", where, ex.ts, sp.end)
		}
	}
	if sp.fedTick > p.tick {
		c.recovered++
	}
	if ex.ts <= p.start || ex.ts > p.time {
		c.errorf("%s: timestamp %d outside (start %d, time %d]", where, ex.ts, p.start, p.time)
		return
	}
	if ex.ts <= newest {
		c.errorf("%s: timestamp %d not after the bucket's previous exemplar (its span's end, or its timestamp if it came with the point) %d", where, ex.ts, newest)
	}
	if sp.hasMeasured && gtBucket(p.bounds, sp.measured) != ex.bucket {
		c.otherBucket = append(c.otherBucket, fmt.Sprintf("%s: span %.6f s, exemplar %v in bucket %d, request measured %.6f s (bucket %d)",
			s.metric, sp.seconds(), ex.value, ex.bucket, sp.measured, gtBucket(p.bounds, sp.measured)))
	}
	j := s.interval(ex.ts)
	if j < 0 || j > k {
		c.errorf("%s: timestamp %d in no interval up to the point", where, ex.ts)
		return
	}
	if !s.grown(j, ex.bucket) {
		c.notGrown = append(c.notGrown, fmt.Sprintf("%s: bucket %d (value %v) did not grow in the span's interval %d (counts %v -> %v)",
			where, ex.bucket, ex.value, j, s.prevCounts(j), s.points[j].counts))
	}
	if j == k {
		if !s.grown(k, ex.bucket) {
			c.errorf("%s: bucket %d did not grow", where, ex.bucket)
		}
		return
	}
	// A late span: it must have arrived after the previous point, and the
	// bucket must have grown now or be owed an exemplar since it grew, in
	// the interval the span ended in.
	c.late++
	if sp.tick <= s.points[k-1].tick {
		c.errorf("%s: span from interval %d was delivered before point %d, yet attached only to point %d", where, j, k-1, k)
	}
	if !s.grown(k, ex.bucket) {
		c.owedFills++
		lo, hi, owed := s.owed(k, ex.bucket)
		switch {
		case !owed:
			c.errorf("%s: bucket %d neither grew nor is owed an exemplar", where, ex.bucket)
		case ex.ts <= lo || ex.ts > hi:
			c.errorf("%s: bucket %d is owed an exemplar from (%d, %d], in which it grew; the span ended at %d", where, ex.bucket, lo, hi, ex.ts)
		}
	}
}

// isPointTime reports whether ts is the time of one of the stream's points.
func (s *gtStream) isPointTime(ts uint64) bool {
	for _, p := range s.points {
		if p.time == ts {
			return true
		}
	}
	return false
}

// owed reports whether bucket b grew at a point before k and no point since
// (up to k-1) carried an exemplar on it, and the interval in which it last
// grew.
func (s *gtStream) owed(k, b int) (lo, hi uint64, ok bool) {
	for j := k - 1; j >= 0; j-- {
		if s.exemplarOn(j, b) != nil {
			return 0, 0, false
		}
		if s.grown(j, b) {
			lo, hi = s.window(j)
			return lo, hi, true
		}
	}
	return 0, 0, false
}

func (s *gtStream) prevCounts(k int) []uint64 {
	if s.continues(k) {
		return s.points[k-1].counts
	}
	return nil
}

// gtRank orders a bucket's candidates as the processor documents it; a
// higher rank wins.
type gtRank int

const (
	gtRankNone gtRank = iota
	// within the tolerance outside the bucket (value clamped to its
	// bound), or ending within the tolerance after the point (timestamp
	// clamped to it); late: ended before the previous point
	gtRankNearLate
	gtRankNearFresh
	// in the bucket; late: ended before the previous point, delivered
	// after it
	gtRankLate
	gtRankFresh
)

func (r gtRank) String() string {
	return [...]string{"none", "near-late", "near-fresh", "late", "fresh"}[r]
}

// inside reports whether the rank is that of a span inside the bucket.
func (r gtRank) inside() bool { return r >= gtRankLate }

// gtLateWait is how long a bucket that grew without an exemplar waits for a
// late span from the interval it grew in.
const gtLateWait = 60e9 // ns

// gtBucketState is what the output so far says of one bucket of a stream.
type gtBucketState struct {
	// lastEnd is the newest end of the spans of the bucket's exemplars:
	// a span's own end even when its exemplar took a point's time, so a
	// span that straddled a point serves no later one.
	lastEnd uint64
	// owedLo, owedHi: the interval in which the bucket last grew without
	// getting an exemplar since; owedHi 0 when nothing is owed.
	owedLo, owedHi uint64
}

// gtCand is one way a span can fill one bucket of a point: its rank, and the
// exemplar it makes.
type gtCand struct {
	sp   *gtSpanInfo
	rank gtRank
	// value is the span's duration, or that duration clamped into the
	// bucket when it lies within the tolerance outside it.
	value float64
	// ts is the span's end, or (straddle) the time of the point just
	// before it ended: this one's, or the owed interval's end.
	ts uint64
	// sure: the span had surely been delivered when the point was
	// enriched (a held batch's enrichment time is known only roughly).
	sure bool
}

func (x *gtCand) clamped() bool   { return x.value != x.sp.seconds() }
func (x *gtCand) straddles() bool { return x.ts != x.sp.end }

// gtPointView replays the documented rules for one point: which buckets need
// an exemplar and which delivered spans are candidates for each, of which
// rank, and the candidate each exemplar was.
type gtPointView struct {
	s          *gtStream
	k          int
	p          *gtPoint
	continuing bool
	prevTime   uint64
	prevTick   int
	state      []gtBucketState
	target     []bool
	tolerance  float64 // seconds
	tolNanos   uint64
	// cands lists, per bucket, every span the rules make a candidate for it.
	cands [][]gtCand
	// used maps the span of each of the point's exemplars to its bucket.
	used map[pcommon.SpanID]int
	// exCand is, per bucket, the candidate its exemplar is; nil for none, or
	// for an exemplar that is no candidate the rules allow.
	exCand []*gtCand
	// wholeMaybe and wholeSure: whether a span may stand in for a
	// neighbouring bucket (always, except on a cumulative stream's first
	// point: only when the spans that may have been, or surely were,
	// delivered number at least the point's count).
	wholeMaybe, wholeSure bool
}

func newGTPointView(s *gtStream, k int, state []gtBucketState, c *gtCheck) *gtPointView {
	v := &gtPointView{s: s, k: k, p: s.points[k], continuing: s.continues(k), prevTick: -1, state: state, tolerance: c.tolerance, tolNanos: c.tolNanos}
	if v.continuing {
		v.prevTime, v.prevTick = s.points[k-1].time, s.points[k-1].tick
	}
	n := len(v.p.counts)
	v.target = make([]bool, n)
	for b := range v.target {
		owed := v.continuing && state[b].owedHi > 0 && v.p.time-state[b].owedHi <= gtLateWait
		v.target[b] = s.grown(k, b) || owed
	}
	v.wholeMaybe, v.wholeSure = true, true
	if s.cumulative && !v.continuing {
		var count, maybe, sure uint64
		for _, n := range v.p.counts {
			count += n
		}
		for _, sp := range c.byKey[s.joinKey] {
			if sp.end > v.p.start && sp.end <= v.p.time+v.tolNanos {
				if sp.maybeTick <= v.p.tick {
					maybe++
				}
				if sp.tick <= v.p.tick {
					sure++
				}
			}
		}
		v.wholeMaybe, v.wholeSure = maybe >= count, sure >= count
		s.seenFromMaybe, s.seenFromSure = v.p.time, v.p.time
		if v.wholeMaybe {
			s.seenFromMaybe = v.p.start
		}
		if v.wholeSure {
			s.seenFromSure = v.p.start
		}
	}
	v.cands = make([][]gtCand, n)
	for _, sp := range c.byKey[s.joinKey] {
		for b := range n {
			if x, ok := v.candidate(sp, b); ok {
				v.cands[b] = append(v.cands[b], x)
			}
		}
	}
	v.used = map[pcommon.SpanID]int{}
	v.exCand = make([]*gtCand, n)
	for _, e := range v.p.exemplars {
		v.used[e.spanID] = e.bucket
		for i := range v.cands[e.bucket] {
			if x := &v.cands[e.bucket][i]; x.sp.spanID == e.spanID && x.value == e.value && x.ts == e.ts {
				v.exCand[e.bucket] = x
			}
		}
	}
	return v
}

// candidate returns what sp would be as bucket b's candidate: inside b and
// eligible by its end and delivery; or within the tolerance of b, by its
// duration (value clamped to b's bound; on a cumulative stream's first point
// only when it counts no more requests than there were spans, and later only
// for spans that ended after it if it counted more) or by its end (straddle: timestamp
// clamped to the point's time or the owed interval's end), ranked below
// every span inside.
func (v *gtPointView) candidate(sp *gtSpanInfo, b int) (gtCand, bool) {
	if !v.target[b] || sp.maybeTick > v.p.tick {
		return gtCand{}, false
	}
	d := sp.seconds()
	x := gtCand{sp: sp, value: d, ts: sp.end, sure: sp.tick <= v.p.tick}
	near := gtBucket(v.p.bounds, d) != b
	if near {
		c, ok := gtClampInto(v.p.bounds, b, d)
		if v.tolerance <= 0 || !ok || math.Abs(c-d) > v.tolerance || !v.wholeMaybe || (v.continuing && sp.end <= v.s.seenFromMaybe) {
			return gtCand{}, false
		}
		x.value = c
		x.sure = x.sure && v.wholeSure && (!v.continuing || sp.end > v.s.seenFromSure)
	}
	if x.rank = v.eligible(sp, b); x.rank == gtRankNone {
		if x.ts, x.rank = v.straddles(sp, b); x.rank == gtRankNone {
			return gtCand{}, false
		}
		near = true
	}
	if near {
		x.rank -= gtRankLate - gtRankNearLate
	}
	return x, true
}

// eligible returns the rank sp would have as bucket b's candidate if its
// duration lay in b: it ended in the point's window after the end of b's
// previous exemplar's span and, continuing a cumulative stream, either since
// the previous point (b grew) or before it but delivered after it (b grew,
// or is owed an exemplar from the interval sp ended in).
func (v *gtPointView) eligible(sp *gtSpanInfo, b int) gtRank {
	st := v.state[b]
	if sp.end <= st.lastEnd || sp.end <= v.p.start || sp.end > v.p.time {
		return gtRankNone
	}
	if !v.continuing {
		return gtRankFresh
	}
	grown := v.s.grown(v.k, b)
	if sp.end > v.prevTime {
		if grown {
			return gtRankFresh
		}
		return gtRankNone
	}
	if sp.tick <= v.prevTick {
		return gtRankNone
	}
	if !grown && (sp.end <= st.owedLo || sp.end > st.owedHi) {
		return gtRankNone
	}
	return gtRankLate
}

// straddles returns the timestamp and rank (fresh or late, before the near
// demotion) of sp as a straddling candidate of bucket b: it ended within the
// tolerance after the point, b having grown (the metric counted the request
// just before the point); or, b owed an exemplar and not grown now, within
// the tolerance after the owed interval's end, delivered after the previous
// point.
func (v *gtPointView) straddles(sp *gtSpanInfo, b int) (uint64, gtRank) {
	st := v.state[b]
	if v.continuing && !v.s.grown(v.k, b) {
		if st.owedHi == 0 || sp.tick <= v.prevTick || sp.end <= st.owedHi || sp.end-st.owedHi > v.tolNanos || st.owedHi <= st.lastEnd {
			return 0, gtRankNone
		}
		return st.owedHi, gtRankLate
	}
	if sp.end <= v.p.time || sp.end-v.p.time > v.tolNanos || v.p.time <= st.lastEnd || v.p.time <= v.p.start {
		return 0, gtRankNone
	}
	return v.p.time, gtRankFresh
}

// couldHave reports whether bucket b could have had candidate x instead of
// its exemplar: x must have surely been delivered and be no exemplar of the
// point. One on another bucket counts only when it lies inside b, stands in
// there for a neighbour and b is left empty: a span leaves its own bucket
// only when that bucket finds another, and moves back when it wants it.
func (v *gtPointView) couldHave(b int, x *gtCand) bool {
	if !x.sure {
		return false
	}
	ub, used := v.used[x.sp.spanID]
	switch {
	case !used:
		return true
	case ub == b:
		return false
	default:
		return x.rank.inside() && v.exCand[b] == nil && v.s.exemplarOn(v.k, b) == nil
	}
}

// bestAlternative returns the best candidate bucket b could have had
// instead of its exemplar (ties: the later end), or nil.
func (v *gtPointView) bestAlternative(b int) *gtCand {
	var best *gtCand
	for i := range v.cands[b] {
		x := &v.cands[b][i]
		if !v.couldHave(b, x) {
			continue
		}
		if best == nil || x.rank > best.rank || (x.rank == best.rank && x.sp.end > best.sp.end) {
			best = x
		}
	}
	return best
}

// otherCandidate reports whether bucket b had a candidate besides span
// except that no exemplar of the point uses, and whether one lay inside b.
func (v *gtPointView) otherCandidate(b int, except pcommon.SpanID) (anyOther, inside bool) {
	for i := range v.cands[b] {
		x := &v.cands[b][i]
		if _, used := v.used[x.sp.spanID]; used || x.sp.spanID == except || !x.sure {
			continue
		}
		anyOther = true
		inside = inside || x.rank.inside()
	}
	return anyOther, inside
}

// completeness replays the rules point by point: every exemplar is a
// candidate of its bucket, no bucket that needs an exemplar stays empty
// while it could have had a delivered candidate, and none takes one ranked
// below a candidate it could have had; grown buckets left without an
// exemplar from their interval are classified by cause.
func (c *gtCheck) completeness(out []*gtStream) {
	for _, s := range out {
		var state []gtBucketState
		for k, p := range s.points {
			if len(state) != len(p.counts) {
				state = make([]gtBucketState, len(p.counts))
			}
			v := newGTPointView(s, k, state, c)
			lo, hi := s.window(k)
			for b := range p.counts {
				c.judge(v, b)
				if s.grown(k, b) && !s.hasExemplar(k, b, lo, hi) {
					c.classify(v, b)
				}
			}
			for b := range state {
				switch {
				case s.exemplarOn(k, b) != nil:
					for _, e := range p.exemplars {
						end := e.ts
						if sp := c.spans[e.spanID]; sp != nil {
							end = max(end, sp.end)
						}
						if e.bucket == b {
							state[b].lastEnd = max(state[b].lastEnd, end)
						}
					}
					state[b].owedLo, state[b].owedHi = 0, 0
				case !v.target[b] || !s.cumulative:
					state[b].owedLo, state[b].owedHi = 0, 0
				case s.grown(k, b):
					state[b].owedLo, state[b].owedHi = lo, hi
				}
			}
		}
	}
}

// judge checks bucket b's exemplar (if any) against its candidates.
func (c *gtCheck) judge(v *gtPointView, b int) {
	s, p := v.s, v.p
	ex := s.exemplarOn(v.k, b)
	what := "grew"
	switch {
	case !v.target[b]:
		what = "neither grew nor is owed an exemplar"
	case !s.grown(v.k, b):
		what = fmt.Sprintf("owed an exemplar from (%d, %d]", v.state[b].owedLo, v.state[b].owedHi)
	}
	x := v.exCand[b]
	if ex != nil {
		sp := c.spans[ex.spanID]
		if sp == nil {
			return // validity reports it
		}
		if x == nil {
			c.unexplained = append(c.unexplained, fmt.Sprintf("stream %s point %d (time %d) bucket %d %s %s: exemplar span %s (%v s, end %d, delivered before tick %d; point tick %d) with value %v and timestamp %d is no candidate the rules allow; its candidates: %s",
				s.id, v.k, p.time, b, gtBucketRange(p.bounds, b), what, ex.spanID, sp.seconds(), sp.end, sp.tick, p.tick, ex.value, ex.ts, v.describe(b)))
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
		own := gtBucket(p.bounds, best.sp.seconds())
		c.missed = append(c.missed, fmt.Sprintf("stream %s point %d (time %d) bucket %d %s %s: no exemplar although span %s (%v s, end %d, delivered before tick %d; point tick %d) was a %s candidate; its candidates: %s; the span's own bucket %d: exemplar %s, candidates %s",
			s.id, v.k, p.time, b, gtBucketRange(p.bounds, b), what, best.sp.spanID, best.sp.seconds(), best.sp.end, best.sp.tick, p.tick, best.rank, v.describe(b),
			own, gtSpanIDOf(s.exemplarOn(v.k, own)), v.describe(own)))
	case best.rank > x.rank:
		c.ranking = append(c.ranking, fmt.Sprintf("stream %s point %d (time %d) bucket %d %s %s: exemplar span %s (%v s, value %v, timestamp %d) is a %s candidate; span %s (%v s, end %d) was a %s one; its candidates: %s",
			s.id, v.k, p.time, b, gtBucketRange(p.bounds, b), what, ex.spanID, x.sp.seconds(), ex.value, ex.ts, x.rank, best.sp.spanID, best.sp.seconds(), best.sp.end, best.rank, v.describe(b)))
	case best.rank == x.rank && best.sp.end > x.sp.end:
		c.tieBreak = append(c.tieBreak, fmt.Sprintf("stream %s point %d bucket %d: %s exemplar span %s ended at %d, %s candidate %s at %d",
			s.id, v.k, b, x.rank, ex.spanID, x.sp.end, best.rank, best.sp.spanID, best.sp.end))
	}
}

// countExemplar counts exemplar candidate x of bucket b as straddling an
// owed bucket's point, and as swapped when its span lies inside another
// bucket of the point that it could have filled: that bucket took another
// span and this one stands in for a neighbour.
func (c *gtCheck) countExemplar(v *gtPointView, b int, x *gtCand) {
	if x.straddles() && !v.s.grown(v.k, b) {
		c.straddledOwed++
	}
	if x.rank.inside() {
		return
	}
	own := gtBucket(v.p.bounds, x.sp.seconds())
	if own == b {
		return
	}
	for i := range v.cands[own] {
		if y := &v.cands[own][i]; y.sp == x.sp && y.rank.inside() {
			c.swapped++
			if len(c.swaps) < 3 {
				c.swaps = append(c.swaps, fmt.Sprintf("stream %s point %d: span %s (%v s) stands in for bucket %d %s, its own bucket %d %s took span %s",
					v.s.id, v.k, x.sp.spanID, x.sp.seconds(), b, gtBucketRange(v.p.bounds, b), own, gtBucketRange(v.p.bounds, own), gtSpanIDOf(v.s.exemplarOn(v.k, own))))
			}
		}
	}
}

// describe lists bucket b's candidates: span, rank, use.
func (v *gtPointView) describe(b int) string {
	parts := make([]string, 0, len(v.cands[b]))
	for i := range v.cands[b] {
		x := &v.cands[b][i]
		desc := fmt.Sprintf("%s %s %.6f s end %d", x.sp.spanID, x.rank, x.sp.seconds(), x.sp.end)
		if x.clamped() {
			desc += fmt.Sprintf(" value %v", x.value)
		}
		if x.straddles() {
			desc += fmt.Sprintf(" timestamp %d", x.ts)
		}
		if !x.sure {
			desc += " (maybe delivered)"
		}
		if ub, used := v.used[x.sp.spanID]; used {
			desc += fmt.Sprintf(" exemplar of bucket %d", ub)
		}
		parts = append(parts, desc)
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

// classify records why grown bucket b of point v has no exemplar from its
// interval.
func (c *gtCheck) classify(v *gtPointView, b int) {
	s, p := v.s, v.p
	ex := s.exemplarOn(v.k, b)
	lo, hi := s.window(v.k)
	// fits: inside b, or within the tolerance outside it.
	fits := func(d float64) bool {
		if gtBucket(p.bounds, d) == b {
			return true
		}
		cl, ok := gtClampInto(p.bounds, b, d)
		return ok && math.Abs(cl-d) <= c.tolerance
	}
	var late, monotonic, straddle, unseen, inWindow bool
	for _, sp := range c.byKey[s.joinKey] {
		inInterval := sp.end > lo && sp.end <= hi
		switch {
		case (inInterval || (sp.end > hi && sp.end-hi <= c.tolNanos)) && fits(sp.seconds()) && sp.tick > p.tick:
			late = true
		case inInterval && fits(sp.seconds()) && sp.end <= v.state[b].lastEnd:
			monotonic = true
		case sp.end > hi && sp.end <= hi+uint64(gtStraddle) && fits(sp.seconds()):
			straddle = true
		case inInterval && (!v.wholeSure || (v.continuing && sp.end <= s.seenFromSure)) && gtBucket(p.bounds, sp.seconds()) != b && fits(sp.seconds()):
			unseen = true
		case inInterval:
			inWindow = true
		}
	}
	// contended: a candidate of b is another bucket's exemplar.
	var contended []*gtCand
	for i := range v.cands[b] {
		if x := &v.cands[b][i]; x.sure {
			if ub, used := v.used[x.sp.spanID]; used && ub != b {
				contended = append(contended, x)
			}
		}
	}
	var cause string
	switch {
	case ex != nil:
		cause = "filled from an earlier interval"
	case v.bestAlternative(b) != nil:
		cause = "missed: a delivered candidate"
	case late:
		cause = "late: its span arrived after the point"
	case len(contended) > 0:
		// Would giving the span to b have left the bucket using it empty?
		// (The rules swap when it had another: one inside it, or one
		// within the tolerance of it.)
		within, inside := false, false
		for _, x := range contended {
			o, i := v.otherCandidate(v.used[x.sp.spanID], x.sp.spanID)
			within, inside = within || (o && !i), inside || i
		}
		switch {
		case inside:
			cause = "contended: its span within the tolerance went to its own bucket, which had another candidate inside it"
		case within:
			cause = "contended: its span within the tolerance went to its own bucket, which had another candidate within the tolerance of it"
		default:
			cause = "contended: its span within the tolerance went to its own bucket, that bucket's only candidate"
		}
		c.explain(cause, v, b)
	case monotonic:
		cause = "monotonic: its spans ended before the end of the bucket's previous exemplar's span, which straddled a point"
		c.explain(cause, v, b)
	case straddle:
		cause = "straddle: counted before the point, span ended after it by more than the tolerance"
		c.explain(cause, v, b)
	case unseen:
		cause = "unseen: a cumulative stream's first point counted more requests than there were spans; a span within the tolerance from then stands in for none"
		c.explain(cause, v, b)
	case inWindow:
		cause = "boundary: the interval's spans lie beyond the tolerance"
		c.explain(cause, v, b)
	default:
		cause = "no span of the stream in the interval"
		c.explain(cause, v, b)
	}
	c.cause(c.uncovered, s.metric, cause)
	if !s.cumulative {
		return
	}
	// Never covered later either: why not.
	for j := v.k + 1; j < len(s.points); j++ {
		if s.hasExemplar(j, b, lo, hi) {
			return
		}
	}
	for j := v.k + 1; j < len(s.points); j++ {
		if later := s.exemplarOn(j, b); later != nil && later.ts > hi {
			cause += fmt.Sprintf("; a later point's exemplar came from a later interval first (after %d points)", j-v.k)
			break
		}
	}
	c.cause(c.neverCovered, s.metric, cause)
}

// explain records, for an uncovered bucket, what the metric counted and what
// the spans of the interval say: duration against the bucket's bounds and
// the tolerance, and which bucket's candidate and exemplar each span was.
func (c *gtCheck) explain(cause string, v *gtPointView, b int) {
	if len(c.examples) >= 12 {
		return
	}
	s, p := v.s, v.p
	lo, hi := s.window(v.k)
	added := make([]uint64, len(p.counts))
	prev := s.prevCounts(v.k)
	for i := range added {
		added[i] = p.counts[i]
		if prev != nil {
			added[i] -= prev[i]
		}
	}
	bLo, bHi := gtRange(p.bounds, b)
	var durs []string
	for _, sp := range c.byKey[s.joinKey] {
		if sp.end <= lo || sp.end > hi+uint64(gtStraddle) {
			continue
		}
		d := sp.seconds()
		own := gtBucket(p.bounds, d)
		desc := fmt.Sprintf("span %s %.6f s (bucket %d", sp.spanID, d, own)
		switch {
		case own > b:
			desc += fmt.Sprintf(", %.3f ms above %g", (d-bHi)*1e3, bHi)
		case own < b:
			desc += fmt.Sprintf(", %.3f ms below %g", (bLo-d)*1e3, bLo)
		}
		desc += fmt.Sprintf(", delivered before tick %d)", sp.tick)
		if sp.hasMeasured {
			desc = fmt.Sprintf("measured %.6f s (bucket %d) / %s", sp.measured, gtBucket(p.bounds, sp.measured), desc)
		}
		if sp.end > hi {
			desc += fmt.Sprintf(" ended %.3f ms after the point", float64(sp.end-hi)/1e6)
		}
		for cb := range v.cands {
			for i := range v.cands[cb] {
				if x := &v.cands[cb][i]; x.sp == sp {
					desc += fmt.Sprintf(" %s candidate of bucket %d", x.rank, cb)
				}
			}
		}
		if ub, used := v.used[sp.spanID]; used {
			desc += fmt.Sprintf(" (exemplar of bucket %d)", ub)
		}
		durs = append(durs, desc)
	}
	sort.Strings(durs)
	c.examples = append(c.examples, fmt.Sprintf("%s: %s %s point %d: bucket %d %s grew, tolerance %v s; the interval added %v; its requests: %v",
		cause, s.metric, s.joinKey, v.k, b, gtBucketRange(p.bounds, b), c.tolerance, added, durs))
}

// gtClampInto returns the value of explicit bucket b nearest to v, as the
// processor clamps a value within the tolerance outside a bucket: its upper
// bound, or the float just above its lower bound.
func gtClampInto(bounds []float64, b int, v float64) (float64, bool) {
	lo, hi := gtRange(bounds, b)
	c := hi
	if v <= lo {
		c = math.Nextafter(lo, math.Inf(1))
	}
	if math.IsInf(c, 0) || gtBucket(bounds, c) != b {
		return 0, false
	}
	return c, true
}

// gtSpanIDOf renders the span ID of ex, or "none".
func gtSpanIDOf(ex *gtExemplar) string {
	if ex == nil {
		return "none"
	}
	return ex.spanID.String()
}

// gtRange returns the bounds of explicit bucket b: (lo, hi].
func gtRange(bounds []float64, b int) (lo, hi float64) {
	lo, hi = math.Inf(-1), math.Inf(1)
	if b > 0 {
		lo = bounds[b-1]
	}
	if b < len(bounds) {
		hi = bounds[b]
	}
	return lo, hi
}

func gtBucketRange(bounds []float64, b int) string {
	lo, hi := gtRange(bounds, b)
	return fmt.Sprintf("(%g, %g]", lo, hi)
}

// gtStraddle bounds how long after the metric is recorded a span ends.
const gtStraddle = 50e6 // ns

// gtAgreement compares, over every request of a tapped run, the value the
// SDK measured with the duration of the request's span: how far apart they
// are, and how often they fall in different buckets.
type gtAgreement struct {
	requests, otherBucket int
	diffs                 []float64 // span duration - measured value, seconds
	examples              []string
}

func gtAgree(spans map[pcommon.SpanID]*gtSpanInfo, metric string, bounds []float64) gtAgreement {
	var a gtAgreement
	for _, sp := range spans {
		if sp.metric != metric || !sp.hasMeasured {
			continue
		}
		a.requests++
		a.diffs = append(a.diffs, sp.seconds()-sp.measured)
		if gtBucket(bounds, sp.seconds()) != gtBucket(bounds, sp.measured) {
			a.otherBucket++
			if len(a.examples) < 4 {
				a.examples = append(a.examples, fmt.Sprintf("measured %.6f s, span %.6f s", sp.measured, sp.seconds()))
			}
		}
	}
	sort.Float64s(a.diffs)
	return a
}

func (a gtAgreement) String() string {
	if len(a.diffs) == 0 {
		return "no measured requests"
	}
	q := func(f float64) float64 { return a.diffs[int(f*float64(len(a.diffs)-1))] * 1e6 }
	return fmt.Sprintf("%d requests; span duration - measured value (µs): min %.1f, p50 %.1f, p99 %.1f, max %.1f; in another bucket: %d, e.g. %v",
		a.requests, q(0), q(0.5), q(0.99), q(1), a.otherBucket, a.examples)
}

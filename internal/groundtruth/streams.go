// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth // import "github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"

import (
	"fmt"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Exemplar is one exemplar of a point, and the bucket its value lies in.
type Exemplar struct {
	TraceID pcommon.TraceID
	SpanID  pcommon.SpanID
	TS      uint64
	Value   float64
	Bucket  int
}

// HasIDs reports whether the exemplar names a span at all.
func (e Exemplar) HasIDs() bool { return !e.TraceID.IsEmpty() && !e.SpanID.IsEmpty() }

// Point is one histogram data point of a stream.
type Point struct {
	// Tick is the point's batch position (see Span.Tick).
	Tick        int
	Start, Time uint64
	Layout      Layout
	Counts      []uint64
	Exemplars   []Exemplar
	// Sum is the point's sum, when it has one.
	Sum    float64
	HasSum bool
	// continues: the point continues the previous one of a cumulative
	// stream (same start, same or coarser buckets, no count went down);
	// added is then what each bucket grew by, else its count.
	continues bool
	added     []uint64
}

// Requirement is a data point attribute a span must match.
type Requirement struct {
	PointKey, Canonical, Value string
}

// Stream is one histogram stream: resource, scope, metric and attributes.
type Stream struct {
	ID, Metric, Unit, Scope, Service string
	// UnitNanos is how many nanoseconds one unit is; 0 for a unit that is
	// no duration unit.
	UnitNanos  float64
	Cumulative bool
	// HasRule: a default rule selects the metric; Kind and Required are
	// then what a span must have to join its points.
	HasRule  bool
	Kind     ptrace.SpanKind
	Required []Requirement
	Points   []*Point
}

// Streams splits metric batches into streams, in first-seen order.
type Streams struct {
	byID  map[string]*Stream
	order []*Stream
}

// NewStreams returns an empty stream set.
func NewStreams() *Streams { return &Streams{byID: map[string]*Stream{}} }

// All returns the streams in first-seen order.
func (ss *Streams) All() []*Stream { return ss.order }

// ByID returns the stream with id, or nil.
func (ss *Streams) ByID(id string) *Stream { return ss.byID[id] }

// StreamsOf splits batches, batch i at tick i.
func StreamsOf(batches []pmetric.Metrics) *Streams {
	ss := NewStreams()
	for tick, md := range batches {
		ss.Add(md, tick)
	}
	return ss
}

// Add records the histogram points of md, delivered at tick.
func (ss *Streams) Add(md pmetric.Metrics, tick int) {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		res := rms.At(i).Resource().Attributes()
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			scope := sms.At(j).Scope().Name()
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				ss.addMetric(res, scope, ms.At(k), tick)
			}
		}
	}
}

func (ss *Streams) addMetric(res pcommon.Map, scope string, m pmetric.Metric, tick int) {
	switch m.Type() {
	case pmetric.MetricTypeHistogram:
		h := m.Histogram()
		cumulative := h.AggregationTemporality() == pmetric.AggregationTemporalityCumulative
		for d := 0; d < h.DataPoints().Len(); d++ {
			dp := h.DataPoints().At(d)
			l, counts := explicitPoint(dp)
			p := newPoint(tick, dp.StartTimestamp(), dp.Timestamp(), l, counts)
			p.Sum, p.HasSum = dp.Sum(), dp.HasSum()
			ss.stream(res, scope, m, dp.Attributes(), cumulative).add(p, dp.Exemplars())
		}
	case pmetric.MetricTypeExponentialHistogram:
		h := m.ExponentialHistogram()
		cumulative := h.AggregationTemporality() == pmetric.AggregationTemporalityCumulative
		for d := 0; d < h.DataPoints().Len(); d++ {
			dp := h.DataPoints().At(d)
			l, counts := expoPoint(dp)
			p := newPoint(tick, dp.StartTimestamp(), dp.Timestamp(), l, counts)
			p.Sum, p.HasSum = dp.Sum(), dp.HasSum()
			ss.stream(res, scope, m, dp.Attributes(), cumulative).add(p, dp.Exemplars())
		}
	default:
	}
}

func newPoint(tick int, start, ts pcommon.Timestamp, l Layout, counts []uint64) *Point {
	return &Point{Tick: tick, Start: uint64(start), Time: uint64(ts), Layout: l, Counts: counts}
}

func (ss *Streams) stream(res pcommon.Map, scope string, m pmetric.Metric, attrs pcommon.Map, cumulative bool) *Stream {
	id := render(res) + "|" + scope + "|" + m.Name() + "|" + render(attrs)
	if s, ok := ss.byID[id]; ok {
		return s
	}
	s := &Stream{
		ID: id, Metric: m.Name(), Unit: m.Unit(), Scope: scope, Service: ServiceOf(res),
		Cumulative: cumulative,
	}
	s.UnitNanos, _ = UnitNanos(m.Unit())
	if rule, ok := RuleFor(m.Name()); ok {
		s.HasRule, s.Kind = true, rule.Kind
		attrs.Range(func(k string, v pcommon.Value) bool {
			if canonical, mapped := rule.Attributes[k]; mapped {
				s.Required = append(s.Required, Requirement{PointKey: k, Canonical: canonical, Value: v.AsString()})
			}
			return true
		})
		sort.Slice(s.Required, func(i, j int) bool { return s.Required[i].PointKey < s.Required[j].PointKey })
	}
	ss.byID[id] = s
	ss.order = append(ss.order, s)
	return s
}

func (s *Stream) add(p *Point, exs pmetric.ExemplarSlice) {
	for e := 0; e < exs.Len(); e++ {
		ex := exs.At(e)
		v := ex.DoubleValue()
		if ex.ValueType() == pmetric.ExemplarValueTypeInt {
			v = float64(ex.IntValue())
		}
		p.Exemplars = append(p.Exemplars, Exemplar{
			TraceID: ex.TraceID(), SpanID: ex.SpanID(), TS: uint64(ex.Timestamp()),
			Value: v, Bucket: p.Layout.Of(v),
		})
	}
	p.added = p.Counts
	if n := len(s.Points); s.Cumulative && n > 0 {
		if added, ok := growth(s.Points[n-1], p); ok {
			p.continues, p.added = true, added
		}
	}
	s.Points = append(s.Points, p)
}

// growth returns what each bucket of q grew by since p, false when q does
// not continue p: another start, a zero threshold or buckets that do not
// fold into q's, or a count that went down (a reset).
func growth(p, q *Point) ([]uint64, bool) {
	if p.Start != q.Start || p.Layout.expo != q.Layout.expo || p.Layout.zero != q.Layout.zero {
		return nil, false
	}
	if !q.Layout.expo && !equalBounds(p.Layout.bounds, q.Layout.bounds) {
		return nil, false
	}
	before := make([]uint64, len(q.Counts))
	for pb, n := range p.Counts {
		if n == 0 {
			continue
		}
		qb := q.Layout.fold(p.Layout.ID(pb))
		if qb < 0 {
			return nil, false
		}
		before[qb] += n
	}
	added := make([]uint64, len(q.Counts))
	for b := range q.Counts {
		if q.Counts[b] < before[b] {
			return nil, false
		}
		added[b] = q.Counts[b] - before[b]
	}
	return added, true
}

// fold returns the bucket of l that holds every value of bucket id, or -1.
func (l Layout) fold(id BucketID) int {
	for b := range l.Len() {
		if contains(l.ID(b), id) {
			return b
		}
	}
	return -1
}

func equalBounds(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// render renders a map, keys sorted.
func render(m pcommon.Map) string {
	kv := make([]string, 0, m.Len())
	m.Range(func(k string, v pcommon.Value) bool {
		kv = append(kv, k+"="+v.AsString())
		return true
	})
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// UnitNanos returns how many nanoseconds one of a duration unit is.
func UnitNanos(unit string) (float64, bool) {
	switch unit {
	case "ns":
		return 1, true
	case "us", "µs", "μs":
		return 1e3, true
	case "ms":
		return 1e6, true
	case "s":
		return 1e9, true
	case "min":
		return 60e9, true
	case "h":
		return 3600e9, true
	}
	return 0, false
}

// Match reports whether span sp may join the stream's points by service,
// span kind and attributes, and if not, why.
func (s *Stream) Match(sp *Span) (bool, string) {
	rule, why := s.Mismatch(sp)
	return rule == "", why
}

// Mismatch returns the rule span sp breaks to join the stream's points (""
// for none) and how.
func (s *Stream) Mismatch(sp *Span) (rule, why string) {
	switch {
	case !s.HasRule:
		return RuleNoRule, fmt.Sprintf("no default rule selects metric %s", s.Metric)
	case sp.Service != s.Service:
		return RuleService, fmt.Sprintf("span's %s, point's %s", sp.Service, s.Service)
	case sp.Kind != s.Kind:
		return RuleKind, fmt.Sprintf("span is %s, %s joins %s spans", sp.Kind, s.Metric, s.Kind)
	}
	for _, r := range s.Required {
		v, ok := sp.Resolve(r.Canonical)
		if !ok {
			return RuleAttribute, fmt.Sprintf("point %s=%q: the span has no %s and none can be derived", r.PointKey, r.Value, r.Canonical)
		}
		if v != r.Value {
			return RuleAttribute, fmt.Sprintf("point %s=%q: the span's %s is %q", r.PointKey, r.Value, r.Canonical, v)
		}
	}
	return "", ""
}

// Continues reports whether point k continues point k-1 of a cumulative
// stream.
func (s *Stream) Continues(k int) bool { return s.Points[k].continues }

// Added returns what each bucket of point k received in its window.
func (s *Stream) Added(k int) []uint64 { return s.Points[k].added }

// Grown reports whether bucket b received observations in point k's window.
func (s *Stream) Grown(k, b int) bool { return s.Points[k].added[b] > 0 }

// Window is the interval (lo, hi] whose observations point k adds: for a
// point continuing a cumulative stream the time since the previous point,
// else since the start.
func (s *Stream) Window(k int) (lo, hi uint64) {
	if s.Continues(k) {
		return s.Points[k-1].Time, s.Points[k].Time
	}
	return s.Points[k].Start, s.Points[k].Time
}

// Interval returns the latest point up to last whose window holds ts, or -1.
func (s *Stream) Interval(ts uint64, last int) int {
	for k := min(last, len(s.Points)-1); k >= 0; k-- {
		if lo, hi := s.Window(k); ts > lo && ts <= hi {
			return k
		}
	}
	return -1
}

// sameRun reports whether points j < k belong to one unbroken cumulative
// run: each point from j+1 to k continues its predecessor.
func (s *Stream) sameRun(j, k int) bool {
	for i := j + 1; i <= k; i++ {
		if !s.Continues(i) {
			return false
		}
	}
	return j <= k
}

// BucketAt returns the bucket of point j that holds every value of bucket b
// of point k (the same index for explicit buckets; the coarser bucket after
// an exponential stream scaled down), or -1.
func (s *Stream) BucketAt(j, k, b int) int {
	if j == k {
		return b
	}
	return s.Points[j].Layout.fold(s.Points[k].Layout.ID(b))
}

// pointAt returns the point up to last whose time is ts, or -1.
func (s *Stream) pointAt(ts uint64, last int) int {
	for k := min(last, len(s.Points)-1); k >= 0; k-- {
		if s.Points[k].Time == ts {
			return k
		}
	}
	return -1
}

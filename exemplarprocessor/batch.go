// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"

import (
	"encoding/hex"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/identity"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/join"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/merge"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/rules"
)

// The metrics path per batch: for every histogram metric, the points' own
// trace/span IDs are read (exact join) and, when configured, the points of
// the trace_id workaround merged; then every point is enriched on its own:
// its view through the bucket layout (points.go), the join (package join),
// the stages of package enrich, and the commit to its stream's state.

// batch is the reusable state of enriching one pmetric.Metrics.
type batch struct {
	mp   *metricsProcessor
	st   metricStats // this batch's outcomes
	now  time.Time
	e    enrich.Enricher
	join *join.Resolver

	view    pointView
	exactBy []exactIDs // per original point of the current metric
	exact   []enrich.Exact
	own     [1]int
}

// metricWork is what every point of one metric shares.
type metricWork struct {
	res pcommon.Map
	// rule is nil when no rule selects the metric: then only the points'
	// own trace/span IDs can join.
	rule       *rules.Rule
	hash       uint64 // resource + scope + metric identity
	params     *enrich.Params
	cumulative bool
}

// metric enriches the points of m, a metric of the instrumentation scope
// named scope.
func (bt *batch) metric(res pcommon.Map, scope string, scopeHash uint64, m pmetric.Metric) {
	n := histogramPoints(m)
	if n < 0 {
		bt.st.notEnriched[notEnrichedNoRule] += uint64(dataPointCount(m))
		return
	}
	if n == 0 {
		return
	}
	rule, _ := bt.mp.core.rules.Lookup(scope, m.Name())
	params, ok := bt.mp.params.get(rule, m.Unit())
	if !ok {
		bt.st.notEnriched[notEnrichedUnit] += uint64(n)
		return
	}
	mw := metricWork{res: res, rule: rule, params: params, hash: identity.Combine(scopeHash, bt.mp.hasher.String(m.Name()))}
	keys := merge.Keys{TraceID: bt.mp.core.cfg.ExactJoin.TraceIDAttribute, SpanID: bt.mp.core.cfg.ExactJoin.SpanIDAttribute}
	var merged merge.Result
	if m.Type() == pmetric.MetricTypeHistogram {
		h := m.Histogram()
		mw.cumulative = h.AggregationTemporality() == pmetric.AggregationTemporalityCumulative
		merged = enrichPoints(bt, &mw, h.DataPoints(),
			func() merge.Result { return merge.Histograms(bt.mp.hasher, h.DataPoints(), keys) },
			bt.view.explicit)
	} else {
		h := m.ExponentialHistogram()
		mw.cumulative = h.AggregationTemporality() == pmetric.AggregationTemporalityCumulative
		merged = enrichPoints(bt, &mw, h.DataPoints(),
			func() merge.Result {
				return merge.ExponentialHistograms(bt.mp.hasher, h.DataPoints(), keys, bt.mp.core.cfg.Streams.MaxBuckets)
			},
			bt.view.exponential)
	}
	bt.st.merged += uint64(merged.Merged)
	bt.st.boundsDiffer += uint64(merged.BoundsDiffer)
	bt.exactBy = bt.exactBy[:0]
}

// histPoint is what explicit and exponential histogram points share here.
type histPoint interface {
	Attributes() pcommon.Map
	Count() uint64
	Sum() float64
	HasSum() bool
}

// pointSlice is a pdata slice of histogram points.
type pointSlice[P histPoint] interface {
	Len() int
	At(i int) P
}

// enrichPoints enriches a metric's points: it reads the IDs the points
// carry, merges the points when configured (the slice then holds the merged
// ones), and enriches each remaining point.
func enrichPoints[P histPoint, S pointSlice[P]](bt *batch, mw *metricWork, dps S, mergeFn func() merge.Result, view func(P, bool) (*enrich.Point, verdict)) merge.Result {
	for i := range dps.Len() {
		collectExact(bt, i, dps.At(i))
	}
	var merged merge.Result
	if bt.mp.core.cfg.ExactJoin.RemoveAttributes {
		merged = mergeFn()
	}
	for i := range dps.Len() {
		dp := dps.At(i)
		p, vd := view(dp, mw.cumulative)
		bt.point(mw, pointIn{p: p, verdict: vd, attrs: dp.Attributes(), exact: bt.exactFor(i, merged.Sources)})
	}
	return merged
}

// exactIDs are the trace/span IDs a point carries as attributes.
type exactIDs struct {
	tid   [16]byte
	sid   [8]byte
	value float64
	// hasValue: the point counted one observation and its sum is its value.
	hasValue bool
	ok       bool
}

// collectExact reads the IDs the i-th point carries. When points are merged
// and the point counted exactly one observation, its sum is that
// observation's value: the exemplar carries the measured value instead of
// the span's duration.
//
// It is generic rather than taking the interface so dp is not boxed on the
// heap, once per point.
func collectExact[P histPoint](bt *batch, i int, dp P) {
	for len(bt.exactBy) <= i {
		bt.exactBy = append(bt.exactBy, exactIDs{})
	}
	x := bt.readIDs(dp.Attributes())
	if x.ok && bt.mp.core.cfg.ExactJoin.RemoveAttributes && dp.Count() == 1 && dp.HasSum() {
		x.value, x.hasValue = dp.Sum(), true
	}
	bt.exactBy[i] = x
}

// exactFor returns the IDs of the point now at index i: its own, or those
// of every point merged into it.
func (bt *batch) exactFor(i int, sources [][]int) []int {
	if sources == nil {
		bt.own[0] = i
		return bt.own[:]
	}
	return sources[i]
}

// readIDs parses a point's trace/span ID attributes.
func (bt *batch) readIDs(attrs pcommon.Map) exactIDs {
	cfg := &bt.mp.core.cfg.ExactJoin
	tv, ok1 := attrs.Get(cfg.TraceIDAttribute)
	sv, ok2 := attrs.Get(cfg.SpanIDAttribute)
	if !ok1 && !ok2 {
		return exactIDs{}
	}
	var x exactIDs
	if !ok1 || !ok2 || !decodeID(x.tid[:], tv) || !decodeID(x.sid[:], sv) {
		bt.st.exactJoin[exactInvalidID]++
		return exactIDs{}
	}
	x.ok = true
	return x
}

// decodeID decodes a hex ID of exactly len(dst) bytes, in any case.
func decodeID(dst []byte, v pcommon.Value) bool {
	if v.Type() != pcommon.ValueTypeStr {
		return false
	}
	s := v.Str()
	if len(s) != 2*len(dst) {
		return false
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return false
	}
	for _, b := range dst {
		if b != 0 {
			return true
		}
	}
	return false // all-zero IDs are invalid
}

// pointIn is one point to enrich.
type pointIn struct {
	p       *enrich.Point
	verdict verdict
	attrs   pcommon.Map
	exact   []int // indexes into batch.exactBy
}

// point enriches one point under its own hold of the index's read lock and
// counts the outcome.
func (bt *batch) point(mw *metricWork, in pointIn) {
	c := bt.mp.core
	r := c.index.BeginRead()
	defer r.End()
	bt.e.Reset(r, bt.now)
	bt.exact = bt.exact[:0]
	for _, j := range in.exact {
		x := &bt.exactBy[j]
		if !x.ok {
			continue
		}
		ref, found := r.Lookup(x.tid, x.sid)
		if !found {
			bt.st.exactJoin[exactNotFound]++
			continue
		}
		bt.st.exactJoin[exactJoined]++
		bt.exact = append(bt.exact, enrich.Exact{Ref: ref, Value: x.value, HasValue: x.hasValue})
	}
	switch in.verdict {
	case invalid:
		bt.st.notEnriched[notEnrichedInvalidPoint]++
		return
	case tooManyBuckets:
		bt.st.notEnriched[notEnrichedTooManyBuckets]++
		return
	}
	if mw.rule == nil && len(bt.exact) == 0 {
		bt.st.notEnriched[notEnrichedNoRule]++
		return
	}
	st := c.streams.Get(identity.Combine(mw.hash, bt.mp.hasher.Map(in.attrs)), bt.now)
	ein := enrich.Input{Point: in.p, Stream: st, Exact: bt.exact, Params: mw.params, Joined: mw.rule != nil}
	if ein.Joined {
		ein.Groups = bt.join.Groups(r, st, join.Point{Resource: mw.res, Rule: mw.rule, Attributes: in.attrs})
	}
	res := bt.e.Enrich(&ein)
	if res.Reason == enrich.ReasonNoSpan && ein.Joined && r.Spans() > 0 && !bt.join.ServiceKnown(r) {
		// Not a missing span: this instance holds none of the service's.
		res.Reason = enrich.ReasonNone
		bt.st.notEnriched[notEnrichedNoServiceSpans]++
		c.misroutes.warn(bt.mp.logger, bt.now, mw.res)
	}
	bt.st.add(&res)
}

// histogramPoints is the number of histogram points of m, -1 when m is not
// a histogram.
func histogramPoints(m pmetric.Metric) int {
	switch m.Type() {
	case pmetric.MetricTypeHistogram:
		return m.Histogram().DataPoints().Len()
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().DataPoints().Len()
	default:
		return -1
	}
}

func dataPointCount(m pmetric.Metric) int {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints().Len()
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints().Len()
	case pmetric.MetricTypeSummary:
		return m.Summary().DataPoints().Len()
	default:
		return max(histogramPoints(m), 0)
	}
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"

import (
	"context"
	"encoding/hex"
	"math"
	"sync"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/buckets"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/identity"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/metadata"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/rules"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
)

// Reasons a data point leaves without a new exemplar (telemetry attribute).
const (
	reasonNoRule       = "no_rule"
	reasonUnit         = "unit"
	reasonInvalidPoint = "invalid_point"
)

var notEnrichedReasons = []string{
	reasonNoRule, reasonUnit, reasonInvalidPoint,
	enrich.ReasonNoSpan, enrich.ReasonUnchanged, enrich.ReasonOutOfOrder, enrich.ReasonComplete,
}

// Exact join outcomes (telemetry attribute).
const (
	exactJoined       = "joined"
	exactNotFound     = "not_found"
	exactInvalidID    = "invalid_id"
	exactValueUnknown = "value_unknown"
)

// metricsProcessor is the metrics-pipeline face of a core: it enriches
// histogram points with exemplars from the shared span index.
type metricsProcessor struct {
	core      *core
	telemetry *metadata.TelemetryBuilder
	hasher    identity.Hasher
	params    paramsCache
	enrichers sync.Pool

	optReason   map[string]metric.AddOption
	optJoin     [2]metric.AddOption // exact, match
	optDangling [3]metric.AddOption // kept, dropped, replaced
	optExact    map[string]metric.AddOption
	optMerge    [2]metric.AddOption // merged, bounds_differ
	optStreams  [2]metric.AddOption // capacity, idle
}

func newMetricsProcessor(c *core, set processor.Settings, _ consumer.Metrics) (*metricsProcessor, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	mp := &metricsProcessor{
		core:        c,
		telemetry:   tb,
		hasher:      identity.New(),
		optReason:   map[string]metric.AddOption{},
		optExact:    map[string]metric.AddOption{},
		optJoin:     [2]metric.AddOption{attrOpt("join", "exact"), attrOpt("join", "match")},
		optDangling: [3]metric.AddOption{attrOpt("outcome", "kept"), attrOpt("outcome", "dropped"), attrOpt("outcome", "replaced")},
		optMerge:    [2]metric.AddOption{attrOpt("outcome", "merged"), attrOpt("outcome", "bounds_differ")},
		optStreams:  [2]metric.AddOption{attrOpt("reason", "capacity"), attrOpt("reason", "idle")},
	}
	for _, r := range notEnrichedReasons {
		mp.optReason[r] = attrOpt("reason", r)
	}
	for _, o := range []string{exactJoined, exactNotFound, exactInvalidID, exactValueUnknown} {
		mp.optExact[o] = attrOpt("outcome", o)
	}
	mp.params.set = c.rules
	mp.params.cfg = c.cfg
	err = tb.RegisterProcessorExemplarStreamsTrackedCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(int64(c.streams.Len()))
		return nil
	})
	if err != nil {
		tb.Shutdown()
		return nil, err
	}
	return mp, nil
}

func (mp *metricsProcessor) shutdown(context.Context) error {
	mp.telemetry.Shutdown()
	return nil
}

func (mp *metricsProcessor) process(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	var st metricStats
	mp.enrichMetrics(md, &st)
	mp.record(ctx, &st)
	return md, nil
}

// metricStats counts one batch's outcomes for telemetry.
type metricStats struct {
	notEnriched              map[string]uint64
	exact, matched, unfilled uint64
	dangling                 [3]uint64
	exactJoin                map[string]uint64
	merged, boundsDiffer     uint64
}

func (st *metricStats) notEnrichedBy(reason string, n uint64) {
	if st.notEnriched == nil {
		st.notEnriched = map[string]uint64{}
	}
	st.notEnriched[reason] += n
}

func (st *metricStats) exactOutcome(outcome string) {
	if st.exactJoin == nil {
		st.exactJoin = map[string]uint64{}
	}
	st.exactJoin[outcome]++
}

func (mp *metricsProcessor) record(ctx context.Context, st *metricStats) {
	tb := mp.telemetry
	add := func(c metric.Int64Counter, n uint64, opts ...metric.AddOption) {
		if n > 0 {
			c.Add(ctx, int64(n), opts...)
		}
	}
	add(tb.ProcessorExemplarExemplarsAttached, st.exact, mp.optJoin[0])
	add(tb.ProcessorExemplarExemplarsAttached, st.matched, mp.optJoin[1])
	add(tb.ProcessorExemplarBucketsUnfilled, st.unfilled)
	for reason, n := range st.notEnriched {
		add(tb.ProcessorExemplarDatapointsNotEnriched, n, mp.optReason[reason])
	}
	for i, n := range st.dangling {
		add(tb.ProcessorExemplarExemplarsDangling, n, mp.optDangling[i])
	}
	for outcome, n := range st.exactJoin {
		add(tb.ProcessorExemplarExactJoin, n, mp.optExact[outcome])
	}
	add(tb.ProcessorExemplarDatapointsMerged, st.merged, mp.optMerge[0])
	add(tb.ProcessorExemplarDatapointsMerged, st.boundsDiffer, mp.optMerge[1])
	mp.core.streams.Lock()
	capacity, idle := mp.core.streams.TakeEvictions()
	mp.core.streams.Unlock()
	add(tb.ProcessorExemplarStreamsEvicted, capacity, mp.optStreams[0])
	add(tb.ProcessorExemplarStreamsEvicted, idle, mp.optStreams[1])
}

// batch is the state of enriching one pmetric.Metrics.
type batch struct {
	mp  *metricsProcessor
	st  *metricStats
	e   enrich.Enricher
	key *spanindex.Key
	r   spanindex.Reader
	now int64

	counts   []uint64
	bounds   []float64
	exact    []enrich.Exact
	pt       enrich.Point
	explicit buckets.Explicit
	expo     buckets.Exponential
}

func (mp *metricsProcessor) enrichMetrics(md pmetric.Metrics, st *metricStats) {
	c := mp.core
	now := c.clock.Now().UnixNano()
	c.index.Expire(now)

	c.streams.Lock()
	defer c.streams.Unlock()
	r := c.index.BeginRead()
	defer r.End()

	b := mp.enrichers.Get()
	bt, _ := b.(*batch)
	if bt == nil {
		bt = &batch{}
	}
	defer mp.enrichers.Put(bt)
	bt.mp, bt.st, bt.r, bt.now = mp, st, r, now
	bt.e.Reset(r, c.streams, now)
	bt.key = c.key()
	defer c.putKey(bt.key)

	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		res := rm.Resource().Attributes()
		resHash := mp.hasher.Map(res)
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			sm := sms.At(j)
			scopeHash := identity.Combine(resHash, identity.Combine(mp.hasher.String(sm.Scope().Name()), mp.hasher.String(sm.Scope().Version())))
			ms := sm.Metrics()
			for k := 0; k < ms.Len(); k++ {
				bt.metric(res, scopeHash, ms.At(k))
			}
		}
	}
}

func (bt *batch) metric(res pcommon.Map, scopeHash uint64, m pmetric.Metric) {
	var n int
	switch m.Type() {
	case pmetric.MetricTypeHistogram:
		n = m.Histogram().DataPoints().Len()
	case pmetric.MetricTypeExponentialHistogram:
		n = m.ExponentialHistogram().DataPoints().Len()
	default:
		bt.st.notEnrichedBy(reasonNoRule, uint64(dataPointCount(m)))
		return
	}
	if n == 0 {
		return
	}
	rule, _ := bt.mp.core.rules.Lookup(m.Name())
	params, ok := bt.mp.params.get(rule, m.Unit())
	if !ok {
		bt.st.notEnrichedBy(reasonUnit, uint64(n))
		return
	}
	metricHash := identity.Combine(scopeHash, bt.mp.hasher.String(m.Name()))
	if m.Type() == pmetric.MetricTypeHistogram {
		dps := m.Histogram().DataPoints()
		cumulative := m.Histogram().AggregationTemporality() == pmetric.AggregationTemporalityCumulative
		for i := 0; i < dps.Len(); i++ {
			dp := dps.At(i)
			p, valid := bt.explicitPoint(dp, cumulative)
			bt.point(p, valid, res, rule, metricHash, dp.Attributes(), params)
		}
		return
	}
	dps := m.ExponentialHistogram().DataPoints()
	cumulative := m.ExponentialHistogram().AggregationTemporality() == pmetric.AggregationTemporalityCumulative
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		p, valid := bt.exponentialPoint(dp, cumulative)
		bt.point(p, valid, res, rule, metricHash, dp.Attributes(), params)
	}
}

// point enriches one point and counts the outcome. rule is nil when no rule
// selects the metric: then only the point's own trace/span IDs can join.
func (bt *batch) point(p *enrich.Point, valid bool, res pcommon.Map, rule *rules.Rule, metricHash uint64, attrs pcommon.Map, params *enrich.Params) {
	st := bt.st
	if !valid {
		st.notEnrichedBy(reasonInvalidPoint, 1)
		return
	}
	bt.exact = bt.exactSpans(attrs, bt.exact[:0])
	var key *spanindex.Key
	if rule != nil {
		bt.mp.core.rules.PointKey(bt.key, res, rule, attrs)
		key = bt.key
	} else if len(bt.exact) == 0 {
		st.notEnrichedBy(reasonNoRule, 1)
		return
	}
	stream := identity.Combine(metricHash, bt.mp.hasher.Map(attrs))
	out := bt.e.Enrich(p, key, stream, bt.exact, params)
	st.exact += uint64(out.Exact)
	st.matched += uint64(out.Matched)
	st.unfilled += uint64(out.Unfilled)
	st.dangling[0] += uint64(out.DanglingKept)
	st.dangling[1] += uint64(out.DanglingDropped)
	st.dangling[2] += uint64(out.DanglingReplaced)
	for range out.ExactValueUnknown {
		st.exactOutcome(exactValueUnknown)
	}
	if out.Reason != "" {
		st.notEnrichedBy(out.Reason, 1)
	}
}

// exactSpans appends the span named by a point's trace/span ID attributes.
func (bt *batch) exactSpans(attrs pcommon.Map, dst []enrich.Exact) []enrich.Exact {
	cfg := &bt.mp.core.cfg.ExactJoin
	tv, ok1 := attrs.Get(cfg.TraceIDAttribute)
	sv, ok2 := attrs.Get(cfg.SpanIDAttribute)
	if !ok1 && !ok2 {
		return dst
	}
	var tid [16]byte
	var sid [8]byte
	if !ok1 || !ok2 || !decodeID(tid[:], tv) || !decodeID(sid[:], sv) {
		bt.st.exactOutcome(exactInvalidID)
		return dst
	}
	ref, found := bt.r.Lookup(tid, sid)
	if !found {
		bt.st.exactOutcome(exactNotFound)
		return dst
	}
	bt.st.exactOutcome(exactJoined)
	return append(dst, enrich.Exact{Ref: ref})
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

func (bt *batch) explicitPoint(dp pmetric.HistogramDataPoint, cumulative bool) (*enrich.Point, bool) {
	bc, eb := dp.BucketCounts(), dp.ExplicitBounds()
	bt.bounds = bt.bounds[:0]
	layoutKey := uint64(eb.Len())
	for i := 0; i < eb.Len(); i++ {
		b := eb.At(i)
		bt.bounds = append(bt.bounds, b)
		layoutKey = identity.Combine(layoutKey, math.Float64bits(b))
	}
	if dp.Timestamp() == 0 || bc.Len() == 0 || buckets.ValidateExplicit(bt.bounds, bc.Len()) != nil {
		return nil, false
	}
	bt.counts = bt.counts[:0]
	for i := 0; i < bc.Len(); i++ {
		bt.counts = append(bt.counts, bc.At(i))
	}
	bt.explicit = buckets.Explicit{Bounds: bt.bounds}
	bt.pt = enrich.Point{
		Layout:     &bt.explicit,
		Counts:     bt.counts,
		Start:      uint64(dp.StartTimestamp()),
		Time:       uint64(dp.Timestamp()),
		Cumulative: cumulative,
		Count:      dp.Count(),
		Sum:        dp.Sum(),
		HasSum:     dp.HasSum(),
		LayoutKey:  layoutKey,
		Exemplars:  dp.Exemplars(),
	}
	return &bt.pt, true
}

func (bt *batch) exponentialPoint(dp pmetric.ExponentialHistogramDataPoint, cumulative bool) (*enrich.Point, bool) {
	if dp.Timestamp() == 0 || buckets.ValidateExponential(dp.Scale(), dp.ZeroThreshold()) != nil {
		return nil, false
	}
	pos, neg := dp.Positive().BucketCounts(), dp.Negative().BucketCounts()
	bt.expo = buckets.Exponential{
		Scale:         dp.Scale(),
		ZeroThreshold: dp.ZeroThreshold(),
		PosOffset:     dp.Positive().Offset(),
		PosLen:        pos.Len(),
		NegOffset:     dp.Negative().Offset(),
		NegLen:        neg.Len(),
	}
	bt.counts = append(bt.counts[:0], dp.ZeroCount())
	for i := 0; i < pos.Len(); i++ {
		bt.counts = append(bt.counts, pos.At(i))
	}
	for i := 0; i < neg.Len(); i++ {
		bt.counts = append(bt.counts, neg.At(i))
	}
	zt := math.Float64bits(dp.ZeroThreshold())
	bt.pt = enrich.Point{
		Layout:     &bt.expo,
		Counts:     bt.counts,
		Start:      uint64(dp.StartTimestamp()),
		Time:       uint64(dp.Timestamp()),
		Cumulative: cumulative,
		Count:      dp.Count(),
		Sum:        dp.Sum(),
		HasSum:     dp.HasSum(),
		LayoutKey:  uint64(uint32(dp.Scale()))<<32 | uint64(uint32(zt^zt>>32)),
		Exp:        &bt.expo,
		Exemplars:  dp.Exemplars(),
	}
	return &bt.pt, true
}

func dataPointCount(m pmetric.Metric) int {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints().Len()
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints().Len()
	case pmetric.MetricTypeSummary:
		return m.Summary().DataPoints().Len()
	case pmetric.MetricTypeHistogram:
		return m.Histogram().DataPoints().Len()
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().DataPoints().Len()
	default:
		return 0
	}
}

// paramsCache holds the enrich parameters per (rule, metric unit): a
// pipeline sees few distinct pairs.
type paramsCache struct {
	set *rules.Set
	cfg *Config

	mu sync.Mutex
	m  map[paramsKey]*enrich.Params
}

type paramsKey struct {
	rule *rules.Rule
	unit string
}

var danglingPolicies = map[string]int{
	DanglingKeep:    enrich.DanglingKeep,
	DanglingDrop:    enrich.DanglingDrop,
	DanglingReplace: enrich.DanglingReplace,
}

// get returns the parameters for a metric of rule (nil: exact joins only)
// with unit, and false when the unit is not a duration the rule can use.
func (pc *paramsCache) get(rule *rules.Rule, unit string) (*enrich.Params, bool) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	k := paramsKey{rule: rule, unit: unit}
	if p, ok := pc.m[k]; ok {
		return p, p != nil
	}
	if len(pc.m) > 1000 || pc.m == nil {
		pc.m = map[paramsKey]*enrich.Params{}
	}
	p := &enrich.Params{
		ValueSlot:          -1,
		MaxPerPoint:        pc.cfg.Exemplars.MaxPerDataPoint,
		FilteredAttributes: len(pc.cfg.Exemplars.FilteredAttributes) > 0,
		Dangling:           danglingPolicies[pc.cfg.Exemplars.Dangling],
		DanglingGrace:      pc.cfg.Exemplars.DanglingGrace.Nanoseconds(),
		TTL:                pc.cfg.Index.TTL.Nanoseconds(),
	}
	if rule != nil {
		p.ValueSlot = rule.ValueSlot
		if rule.ValueSlot < 0 {
			u := unit
			if rule.Unit != "" {
				u = rule.Unit
			}
			nanos, ok := rules.UnitNanos(u)
			if !ok {
				pc.m[k] = nil
				return nil, false
			}
			p.UnitNanos = nanos
			p.Tolerance = float64(pc.cfg.Exemplars.DurationTolerance.Nanoseconds()) / nanos
		}
	}
	pc.m[k] = p
	return p, true
}

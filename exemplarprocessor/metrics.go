// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"

import (
	"context"
	"encoding/hex"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/buckets"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/hold"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/identity"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/merge"
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
	next      consumer.Metrics

	// hold keeps delta batches back for late spans; nil when disabled.
	hold       *hold.Queue
	tick       time.Duration
	stop, done chan struct{}
	lastErrLog atomic.Int64

	optReason   map[string]metric.AddOption
	optJoin     [2]metric.AddOption // exact, match
	optDangling [3]metric.AddOption // kept, dropped, replaced
	optExact    map[string]metric.AddOption
	optMerge    [2]metric.AddOption // merged, bounds_differ
	optStreams  [2]metric.AddOption // capacity, idle
}

func newMetricsProcessor(c *core, set processor.Settings, next consumer.Metrics) (*metricsProcessor, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	mp := &metricsProcessor{
		core:        c,
		next:        next,
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
	if err == nil && c.cfg.DeltaHold.Delay > 0 {
		mp.hold = hold.New(c.cfg.DeltaHold.Delay.Nanoseconds(), c.cfg.DeltaHold.MaxDataPoints)
		mp.tick = min(max(c.cfg.DeltaHold.Delay/10, 10*time.Millisecond), time.Second)
		err = tb.RegisterProcessorExemplarHoldDatapointsCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(mp.hold.Points()))
			return nil
		})
	}
	if err != nil {
		tb.Shutdown()
		return nil, err
	}
	return mp, nil
}

func (mp *metricsProcessor) start(ctx context.Context, host component.Host) error {
	if err := mp.core.start(ctx, host); err != nil {
		return err
	}
	if mp.hold != nil {
		mp.stop, mp.done = make(chan struct{}), make(chan struct{})
		// Held batches outlive the request that brought them and Start's
		// context alike; deliveries run on their own.
		go mp.releaseLoop() //nolint:gosec // G118: no request context applies

	}
	return nil
}

// shutdown stops the hold's timer and delivers everything still held,
// returning the next consumer's errors: nothing is kept after Shutdown.
func (mp *metricsProcessor) shutdown(ctx context.Context) error {
	defer mp.telemetry.Shutdown()
	if mp.hold == nil {
		return nil
	}
	if mp.stop != nil {
		close(mp.stop)
		<-mp.done
		mp.stop = nil
	}
	var errs []error
	for _, h := range mp.hold.Drain() {
		if err := mp.deliver(ctx, h); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (mp *metricsProcessor) process(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	if mp.hold != nil && mp.holdable(md) && mp.hold.Add(md, mp.core.clock.Now().UnixNano()) {
		// Held: delivered by the timer (or Shutdown) once late spans had
		// time to arrive. A full hold processes the batch now instead.
		return md, processorhelper.ErrSkipProcessingData
	}
	mp.enrich(ctx, md)
	return md, nil
}

func (mp *metricsProcessor) enrich(ctx context.Context, md pmetric.Metrics) {
	var st metricStats
	mp.enrichMetrics(md, &st)
	mp.record(ctx, &st)
}

// holdable reports whether md has a delta histogram a rule selects.
func (mp *metricsProcessor) holdable(md pmetric.Metrics) bool {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			scope := sms.At(j).Scope().Name()
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				var t pmetric.AggregationTemporality
				switch m.Type() {
				case pmetric.MetricTypeHistogram:
					t = m.Histogram().AggregationTemporality()
				case pmetric.MetricTypeExponentialHistogram:
					t = m.ExponentialHistogram().AggregationTemporality()
				default:
					continue
				}
				if t != pmetric.AggregationTemporalityDelta {
					continue
				}
				if _, ok := mp.core.rules.Lookup(scope, m.Name()); ok {
					return true
				}
			}
		}
	}
	return false
}

func (mp *metricsProcessor) releaseLoop() {
	defer close(mp.done)
	t := time.NewTicker(mp.tick)
	defer t.Stop()
	for {
		select {
		case <-mp.stop:
			return
		case <-t.C:
			mp.releaseDue(context.Background())
		}
	}
}

// releaseDue delivers the held batches whose delay has passed. A batch the
// next consumer refuses with a retryable error stays held, with those after
// it, and is tried again on the next tick; a permanent error drops it. Either
// is counted and logged at most every ten seconds.
func (mp *metricsProcessor) releaseDue(ctx context.Context) {
	now := mp.core.clock.Now().UnixNano()
	due := mp.hold.Due(now)
	for i, h := range due {
		err := mp.deliver(ctx, h)
		if err == nil {
			continue
		}
		mp.telemetry.ProcessorExemplarHoldReleaseErrors.Add(ctx, 1)
		permanent := consumererror.IsPermanent(err)
		if last := mp.lastErrLog.Load(); now-last >= int64(10*time.Second) && mp.lastErrLog.CompareAndSwap(last, now) {
			mp.core.logger.Warn("Next consumer refused a held metric batch", zap.Error(err), zap.Bool("dropped", permanent))
		}
		if permanent {
			continue
		}
		due[i].Enriched = true
		mp.hold.Retry(due[i:], now)
		return
	}
}

// deliver enriches a held batch, now that late spans had time to arrive, and
// passes it on.
func (mp *metricsProcessor) deliver(ctx context.Context, h hold.Held) error {
	if !h.Enriched {
		mp.enrich(ctx, h.MD)
	}
	return mp.next.ConsumeMetrics(ctx, h.MD)
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

	counts  []uint64
	bounds  []float64
	exact   []enrich.Exact
	exactBy []exactOf // per original point of the current metric
	// The current point's key inputs, for JoinKey.
	keyRes   pcommon.Map
	keyRule  *rules.Rule
	keyAttrs pcommon.Map
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
				bt.metric(res, sm.Scope().Name(), scopeHash, ms.At(k))
			}
		}
	}
}

func (bt *batch) metric(res pcommon.Map, scope string, scopeHash uint64, m pmetric.Metric) {
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
	rule, _ := bt.mp.core.rules.Lookup(scope, m.Name())
	params, ok := bt.mp.params.get(rule, m.Unit())
	if !ok {
		bt.st.notEnrichedBy(reasonUnit, uint64(n))
		return
	}
	metricHash := identity.Combine(scopeHash, bt.mp.hasher.String(m.Name()))
	cfg := &bt.mp.core.cfg.ExactJoin
	keys := merge.Keys{TraceID: cfg.TraceIDAttribute, SpanID: cfg.SpanIDAttribute}
	var merged merge.Result
	if m.Type() == pmetric.MetricTypeHistogram {
		h := m.Histogram()
		cumulative := h.AggregationTemporality() == pmetric.AggregationTemporalityCumulative
		merged = enrichPoints(bt, res, rule, metricHash, params, h.DataPoints().Len, h.DataPoints().At,
			func() merge.Result { return merge.Histograms(bt.mp.hasher, h.DataPoints(), keys) },
			func(dp pmetric.HistogramDataPoint) (*enrich.Point, bool) { return bt.explicitPoint(dp, cumulative) })
	} else {
		h := m.ExponentialHistogram()
		cumulative := h.AggregationTemporality() == pmetric.AggregationTemporalityCumulative
		merged = enrichPoints(bt, res, rule, metricHash, params, h.DataPoints().Len, h.DataPoints().At,
			func() merge.Result { return merge.ExponentialHistograms(bt.mp.hasher, h.DataPoints(), keys) },
			func(dp pmetric.ExponentialHistogramDataPoint) (*enrich.Point, bool) {
				return bt.exponentialPoint(dp, cumulative)
			})
	}
	bt.st.merged += uint64(merged.Merged)
	bt.st.boundsDiffer += uint64(merged.BoundsDiffer)
	bt.exactBy = bt.exactBy[:0]
}

type exactOf struct {
	x  enrich.Exact
	ok bool
}

// histPoint is what explicit and exponential histogram points share here.
type histPoint interface {
	Attributes() pcommon.Map
	Count() uint64
	Sum() float64
	HasSum() bool
}

// enrichPoints enriches a metric's points: it collects the spans the points
// name by their IDs, merges the points when configured (len and at see the
// slice after merging), and enriches each remaining point.
func enrichPoints[P histPoint](bt *batch, res pcommon.Map, rule *rules.Rule, metricHash uint64, params *enrich.Params,
	length func() int, at func(int) P, mergeFn func() merge.Result, point func(P) (*enrich.Point, bool),
) merge.Result {
	for i := range length() {
		dp := at(i)
		bt.collectExact(i, dp.Attributes(), dp.Count(), dp.Sum(), dp.HasSum())
	}
	var merged merge.Result
	if bt.mp.core.cfg.ExactJoin.RemoveAttributes {
		merged = mergeFn()
	}
	for i := range length() {
		dp := at(i)
		p, valid := point(dp)
		bt.point(p, valid, res, rule, metricHash, dp.Attributes(), bt.exactFor(i, merged.Sources), params)
	}
	return merged
}

// collectExact records the span the i-th point names by its trace/span ID
// attributes. When points are merged and the point counted exactly one
// observation, its sum is that observation's value: the exemplar carries the
// measured value instead of the span's duration.
func (bt *batch) collectExact(i int, attrs pcommon.Map, count uint64, sum float64, hasSum bool) {
	for len(bt.exactBy) <= i {
		bt.exactBy = append(bt.exactBy, exactOf{})
	}
	x, ok := bt.exactSpan(attrs)
	if ok && bt.mp.core.cfg.ExactJoin.RemoveAttributes && count == 1 && hasSum {
		x.Value, x.HasValue = sum, true
	}
	bt.exactBy[i] = exactOf{x: x, ok: ok}
}

// exactFor returns the exact spans of the point now at index i: its own, or
// those of every point merged into it.
func (bt *batch) exactFor(i int, sources [][]int) []enrich.Exact {
	bt.exact = bt.exact[:0]
	if sources == nil {
		if e := bt.exactBy[i]; e.ok {
			bt.exact = append(bt.exact, e.x)
		}
		return bt.exact
	}
	for _, j := range sources[i] {
		if e := bt.exactBy[j]; e.ok {
			bt.exact = append(bt.exact, e.x)
		}
	}
	return bt.exact
}

// point enriches one point and counts the outcome. rule is nil when no rule
// selects the metric: then only the point's own trace/span IDs can join.
func (bt *batch) point(p *enrich.Point, valid bool, res pcommon.Map, rule *rules.Rule, metricHash uint64, attrs pcommon.Map, exact []enrich.Exact, params *enrich.Params) {
	st := bt.st
	if !valid {
		st.notEnrichedBy(reasonInvalidPoint, 1)
		return
	}
	var keys enrich.KeySource
	if rule != nil {
		bt.keyRes, bt.keyRule, bt.keyAttrs = res, rule, attrs
		keys = bt
	} else if len(exact) == 0 {
		st.notEnrichedBy(reasonNoRule, 1)
		return
	}
	stream := identity.Combine(metricHash, bt.mp.hasher.Map(attrs))
	out := bt.e.Enrich(p, keys, stream, exact, params)
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

// JoinKey builds the current point's join key (enrich.KeySource).
func (bt *batch) JoinKey() *spanindex.Key {
	bt.mp.core.rules.PointKey(bt.key, bt.keyRes, bt.keyRule, bt.keyAttrs)
	return bt.key
}

// exactSpan finds the span named by a point's trace/span ID attributes.
func (bt *batch) exactSpan(attrs pcommon.Map) (enrich.Exact, bool) {
	cfg := &bt.mp.core.cfg.ExactJoin
	tv, ok1 := attrs.Get(cfg.TraceIDAttribute)
	sv, ok2 := attrs.Get(cfg.SpanIDAttribute)
	if !ok1 && !ok2 {
		return enrich.Exact{}, false
	}
	var tid [16]byte
	var sid [8]byte
	if !ok1 || !ok2 || !decodeID(tid[:], tv) || !decodeID(sid[:], sv) {
		bt.st.exactOutcome(exactInvalidID)
		return enrich.Exact{}, false
	}
	ref, found := bt.r.Lookup(tid, sid)
	if !found {
		bt.st.exactOutcome(exactNotFound)
		return enrich.Exact{}, false
	}
	bt.st.exactOutcome(exactJoined)
	return enrich.Exact{Ref: ref}, true
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
	fillPoint(bt, dp, &bt.explicit, cumulative, layoutKey)
	return &bt.pt, true
}

// histogramPoint is what explicit and exponential histogram data points share.
type histogramPoint interface {
	StartTimestamp() pcommon.Timestamp
	Timestamp() pcommon.Timestamp
	Count() uint64
	Sum() float64
	HasSum() bool
	Exemplars() pmetric.ExemplarSlice
}

// fillPoint sets bt.pt from dp's common fields, the layout and bt.counts. It
// is generic rather than taking the interface so dp is not boxed on the heap.
func fillPoint[P histogramPoint](bt *batch, dp P, layout buckets.Layout, cumulative bool, layoutKey uint64) {
	bt.pt = enrich.Point{
		Layout:     layout,
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
	fillPoint(bt, dp, &bt.expo, cumulative, uint64(uint32(dp.Scale()))<<32|uint64(uint32(zt^zt>>32)))
	bt.pt.Exp = &bt.expo
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
			p.ToleranceNanos = uint64(pc.cfg.Exemplars.DurationTolerance.Nanoseconds())
		}
	}
	pc.m[k] = p
	return p, true
}

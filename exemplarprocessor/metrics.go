// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/identity"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/join"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/metadata"
)

// metricsProcessor is the metrics-pipeline face of a core: it enriches
// histogram points with exemplars from the shared span index.
//
// Every batch takes one path: processorhelper calls process, which enriches
// it (or leaves a delta batch for the hold), then passes it to out: the hold
// stage when delta_hold is on, else the next consumer. The hold stage sends
// what it held, once enriched, to the next consumer the same way.
type metricsProcessor struct {
	core      *core
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	hasher    identity.Hasher
	params    paramsCache
	batches   sync.Pool // *batch

	// out is where processorhelper passes batches: hold or the next consumer.
	out  consumer.Metrics
	hold *holdStage // nil when delta_hold is off
}

func newMetricsProcessor(c *core, set processor.Settings, next consumer.Metrics) (*metricsProcessor, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	mp := &metricsProcessor{
		core:      c,
		logger:    set.Logger,
		telemetry: tb,
		hasher:    identity.New(),
		params:    paramsCache{cfg: c.cfg},
		out:       next,
	}
	if c.cfg.DeltaHold.Delay > 0 {
		if mp.hold, err = newHoldStage(mp, next); err != nil {
			tb.Shutdown()
			return nil, err
		}
		mp.out = mp.hold
	}
	return mp, nil
}

func (mp *metricsProcessor) start(context.Context, component.Host) error {
	if mp.hold != nil {
		mp.hold.start()
	}
	return nil
}

// shutdown delivers everything still held, returning the next consumer's
// errors: nothing is kept after Shutdown.
func (mp *metricsProcessor) shutdown(ctx context.Context) error {
	defer mp.telemetry.Shutdown()
	if mp.hold == nil {
		return nil
	}
	return mp.hold.shutdown(ctx)
}

func (mp *metricsProcessor) process(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	if mp.hold != nil && mp.hold.holdable(md) {
		// Enriched by the hold stage once late spans had time to arrive.
		return md, nil
	}
	mp.enrich(ctx, md)
	return md, nil
}

// enrich attaches exemplars to md's histogram points and counts the
// outcomes.
func (mp *metricsProcessor) enrich(ctx context.Context, md pmetric.Metrics) {
	bt, _ := mp.batches.Get().(*batch)
	if bt == nil {
		c := mp.core
		bt = &batch{join: join.NewResolver(c.rules, c.index), view: pointView{maxBuckets: c.cfg.Streams.MaxBuckets}}
	}
	mp.enrichMetrics(md, bt)
	mp.record(ctx, &bt.st)
	bt.view.release()
	mp.batches.Put(bt)
}

// enrichMetrics walks md's metrics with bt, whose counts it starts afresh.
// The stream table is locked for the batch; the span index only per point
// (see batch.point), so span intake never waits for more than one point's
// work.
func (mp *metricsProcessor) enrichMetrics(md pmetric.Metrics, bt *batch) {
	c := mp.core
	now := c.clock.Now()
	c.index.Expire(now)

	c.streams.Lock()
	defer c.streams.Unlock()
	bt.mp, bt.now = mp, now
	bt.st = metricStats{}

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

// metricStats counts one batch's outcomes for telemetry.
type metricStats struct {
	notEnriched              [numNotEnriched]uint64
	exact, matched, unfilled uint64
	dangling                 enrich.DanglingCounts
	traceless                enrich.TracelessCounts
	exactJoin                [numExactOutcomes]uint64
	merged, boundsDiffer     uint64
}

// add counts one point's enrichment.
func (st *metricStats) add(res *enrich.Result) {
	st.exact += uint64(res.Exact)
	st.matched += uint64(res.Matched)
	st.unfilled += uint64(res.Unfilled)
	st.dangling.Kept += res.Dangling.Kept
	st.dangling.Dropped += res.Dangling.Dropped
	st.dangling.Replaced += res.Dangling.Replaced
	st.traceless.Replaced += res.Traceless.Replaced
	st.traceless.Kept += res.Traceless.Kept
	st.exactJoin[exactValueUnknown] += uint64(res.ExactValueUnknown)
	if r, ok := notEnrichedOf(res.Reason); ok {
		st.notEnriched[r]++
	}
}

func (mp *metricsProcessor) record(ctx context.Context, st *metricStats) {
	tb := mp.telemetry
	addWith(ctx, tb.ProcessorExemplarExemplarsAttached, st.exact, joinExact)
	addWith(ctx, tb.ProcessorExemplarExemplarsAttached, st.matched, joinMatch)
	addCount(ctx, tb.ProcessorExemplarBucketsUnfilled, st.unfilled)
	for r, n := range st.notEnriched {
		addWith(ctx, tb.ProcessorExemplarDatapointsNotEnriched, n, notEnrichedOpts[r])
	}
	addWith(ctx, tb.ProcessorExemplarExemplarsDangling, uint64(st.dangling.Kept), danglingKept)
	addWith(ctx, tb.ProcessorExemplarExemplarsDangling, uint64(st.dangling.Dropped), danglingDropped)
	addWith(ctx, tb.ProcessorExemplarExemplarsDangling, uint64(st.dangling.Replaced), danglingReplaced)
	addWith(ctx, tb.ProcessorExemplarExemplarsTraceless, uint64(st.traceless.Replaced), tracelessReplaced)
	addWith(ctx, tb.ProcessorExemplarExemplarsTraceless, uint64(st.traceless.Kept), tracelessKept)
	for o, n := range st.exactJoin {
		addWith(ctx, tb.ProcessorExemplarExactJoin, n, exactOutcomeOpts[o])
	}
	addWith(ctx, tb.ProcessorExemplarDatapointsMerged, st.merged, mergeMerged)
	addWith(ctx, tb.ProcessorExemplarDatapointsMerged, st.boundsDiffer, mergeBoundsDiffer)
}

// addWith is addCount with one attribute option. The option's variadic
// slice escapes into the SDK: built only for a non-zero count, a batch
// allocates for the counters it moves, not for all two dozen.
func addWith(ctx context.Context, c metric.Int64Counter, n uint64, opt metric.AddOption) {
	if n > 0 {
		c.Add(ctx, int64(n), opt)
	}
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/hold"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/ratelimit"
)

// holdStage sits between processorhelper and the next consumer when
// delta_hold is on. Batches with a delta histogram a rule selects reach it
// not yet enriched: it holds a copy (the bounded hold) and enriches and
// passes it on once late spans had time to arrive; a batch that does not
// fit is enriched and passed on at once, so memory stays bounded and the
// sender feels back-pressure. Every other batch passes straight through.
type holdStage struct {
	mp    *metricsProcessor
	next  consumer.Metrics
	queue *hold.Queue
	tick  time.Duration

	stop, done chan struct{}
	// errLog limits warnings about refused batches: a refusing exporter
	// refuses every tick.
	errLog *ratelimit.Limiter[struct{}]
}

func newHoldStage(mp *metricsProcessor, next consumer.Metrics) (*holdStage, error) {
	cfg := mp.core.cfg.DeltaHold
	h := &holdStage{
		mp:    mp,
		next:  next,
		queue: hold.New(cfg.Delay, cfg.MaxDataPoints),
		// A tenth of the delay keeps a batch at most 10 % late, within
		// [10 ms, 1 s] so an idle hold does not spin nor a long one lag.
		tick:   min(max(cfg.Delay/10, 10*time.Millisecond), time.Second),
		errLog: ratelimit.New[struct{}](errLogInterval, 1),
	}
	err := mp.telemetry.RegisterProcessorExemplarHoldDatapointsCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(int64(h.queue.Points()))
		return nil
	})
	return h, err
}

// Capabilities implements consumer.Metrics: held batches are enriched.
func (*holdStage) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}

// ConsumeMetrics holds md when it is holdable and fits, and passes it on
// otherwise (enriching it now when it was left for the hold).
func (h *holdStage) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	if h.holdable(md) {
		if h.queue.Add(md, h.mp.core.clock.Now()) {
			return nil
		}
		h.mp.enrich(ctx, md)
	}
	return h.next.ConsumeMetrics(ctx, md)
}

// holdable reports whether md has a delta histogram a rule selects.
func (h *holdStage) holdable(md pmetric.Metrics) bool {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			scope, ms := sms.At(j).Scope().Name(), sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				if isDeltaHistogram(ms.At(k)) {
					if _, ok := h.mp.core.rules.Lookup(scope, ms.At(k).Name()); ok {
						return true
					}
				}
			}
		}
	}
	return false
}

func isDeltaHistogram(m pmetric.Metric) bool {
	switch m.Type() {
	case pmetric.MetricTypeHistogram:
		return m.Histogram().AggregationTemporality() == pmetric.AggregationTemporalityDelta
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().AggregationTemporality() == pmetric.AggregationTemporalityDelta
	default:
		return false
	}
}

func (h *holdStage) start() {
	h.stop, h.done = make(chan struct{}), make(chan struct{})
	// Held batches outlive the request that brought them and Start's
	// context alike; deliveries run on their own.
	go h.releaseLoop() //nolint:gosec // G118: no request context applies
}

// shutdown stops the timer and delivers everything still held, returning
// the next consumer's errors.
func (h *holdStage) shutdown(ctx context.Context) error {
	if h.stop != nil {
		close(h.stop)
		<-h.done
		h.stop = nil
	}
	var errs []error
	for _, held := range h.queue.Drain() {
		if err := h.deliver(ctx, held); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (h *holdStage) releaseLoop() {
	defer close(h.done)
	t := time.NewTicker(h.tick)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			h.releaseDue(context.Background())
		}
	}
}

// errLogInterval is the least time between two warnings about refused held
// batches.
const errLogInterval = 10 * time.Second

// releaseDue delivers the held batches whose delay has passed. A batch the
// next consumer refuses with a retryable error stays held, with those after
// it, and is tried again on the next tick; a permanent error drops it.
// Either is counted and logged at most every errLogInterval.
func (h *holdStage) releaseDue(ctx context.Context) {
	now := h.mp.core.clock.Now()
	due := h.queue.Due(now)
	for i, held := range due {
		err := h.deliver(ctx, held)
		if err == nil {
			continue
		}
		h.mp.telemetry.ProcessorExemplarHoldReleaseErrors.Add(ctx, 1)
		permanent := consumererror.IsPermanent(err)
		if n, ok := h.errLog.Allow(struct{}{}, 0, now); ok {
			h.mp.logger.Warn("Next consumer refused a held metric batch", zap.Error(err), zap.Bool("dropped", permanent), zap.Uint64("refusals", n.Total()))
		}
		if permanent {
			continue
		}
		due[i].Enriched = true
		h.queue.Retry(due[i:], now)
		return
	}
}

// deliver enriches a held batch, now that late spans had time to arrive, and
// passes it on.
func (h *holdStage) deliver(ctx context.Context, held hold.Held) error {
	if !held.Enriched {
		h.mp.enrich(ctx, held.MD)
	}
	return h.next.ConsumeMetrics(ctx, held.MD)
}

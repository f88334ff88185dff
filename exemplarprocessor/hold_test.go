// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// holdHarness is a harness whose metrics face holds delta batches and
// delivers to next.
func holdHarness(t *testing.T, maxPoints int, next consumer.Metrics) (*harness, *metricsProcessor) {
	t.Helper()
	cfg := createDefaultConfig()
	cfg.DeltaHold.Delay = 10 * time.Second
	cfg.DeltaHold.MaxDataPoints = maxPoints
	h := newHarness(t, cfg)
	set := nopSettings()
	set.TelemetrySettings = h.telemetry.NewTelemetrySettings()
	mp, err := newMetricsProcessor(h.core, set, next)
	require.NoError(t, err)
	return h, mp
}

// send passes md through the metrics face as processorhelper does: process,
// then the stage after it (the hold).
func send(mp *metricsProcessor, md pmetric.Metrics) error {
	out, err := mp.process(context.Background(), md)
	if err != nil {
		return err
	}
	return mp.out.ConsumeMetrics(context.Background(), out)
}

func deltaPoint(end time.Time) pmetric.Metrics {
	return metricsOf(serverHist("shop", end.Add(-10*time.Second), end, []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0}))
}

// A delta point counts a request whose span is still in the SDK's batch
// span processor. Held for the delay, the point gets the span's exemplar.
func TestHoldJoinsLateSpans(t *testing.T) {
	sink := new(consumertest.MetricsSink)
	h, mp := holdHarness(t, 100, sink)
	T := t0.Add(10 * time.Second)
	h.clock.Set(T.Add(100 * time.Millisecond))
	require.NoError(t, send(mp, deltaPoint(T)))
	assert.Empty(t, sink.AllMetrics(), "held, not passed on yet")
	assert.Equal(t, 1, mp.hold.queue.Points())

	h.clock.Set(T.Add(5 * time.Second))
	h.consumeTraces(t, tracesOf(serverSpan(1, "shop", "/a", T.Add(-time.Second), 30*time.Millisecond)))
	mp.hold.releaseDue(context.Background())
	assert.Empty(t, sink.AllMetrics(), "not due before the delay")

	h.clock.Set(T.Add(11 * time.Second))
	mp.hold.releaseDue(context.Background())
	require.Len(t, sink.AllMetrics(), 1)
	assert.Equal(t, [][]uint64{{1}}, exemplarIDs(sink.AllMetrics()[0]))
	assert.Zero(t, mp.hold.queue.Points())
	require.NoError(t, mp.shutdown(context.Background()))
}

// Cumulative batches and batches without selected histograms are not held.
func TestHoldOnlyDeltaHistograms(t *testing.T) {
	sink := new(consumertest.MetricsSink)
	_, mp := holdHarness(t, 100, sink)
	require.NoError(t, send(mp, metricsOf(cumulative(serverHist("shop", t0, t0.Add(10*time.Second), []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0})))))
	other := serverHist("shop", t0, t0.Add(10*time.Second), []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0})
	other.metric = "queue.latency"
	require.NoError(t, send(mp, metricsOf(other)))
	assert.Zero(t, mp.hold.queue.Points())
	assert.Len(t, sink.AllMetrics(), 2, "passed straight on")
	require.NoError(t, mp.shutdown(context.Background()))
}

// When holding would exceed max_data_points the batch is processed at once,
// so memory stays bounded and the sender sees back-pressure.
func TestHoldFullProcessesNow(t *testing.T) {
	sink := new(consumertest.MetricsSink)
	h, mp := holdHarness(t, 1, sink)
	h.clock.Set(t0.Add(11 * time.Second))
	require.NoError(t, send(mp, deltaPoint(t0.Add(10*time.Second))))
	require.NoError(t, send(mp, deltaPoint(t0.Add(20*time.Second))))
	require.Len(t, sink.AllMetrics(), 1, "no room: enriched and passed on at once")
	assert.Equal(t, 1, sink.AllMetrics()[0].DataPointCount())
	assert.Equal(t, 1, mp.hold.queue.Points())
	require.NoError(t, mp.shutdown(context.Background()))
	assert.Len(t, sink.AllMetrics(), 2, "Shutdown delivered the held one")
}

// Shutdown delivers everything held and returns the next consumer's error.
func TestHoldShutdownFlushesAndReturnsErrors(t *testing.T) {
	refuse := errors.New("exporter queue is full")
	sink := new(consumertest.MetricsSink)
	calls := 0
	next := consumerFunc(func(ctx context.Context, md pmetric.Metrics) error {
		calls++
		if calls == 1 {
			return refuse
		}
		return sink.ConsumeMetrics(ctx, md)
	})
	h, mp := holdHarness(t, 100, next)
	require.NoError(t, mp.start(context.Background(), componenttest.NewNopHost()))
	h.clock.Set(t0.Add(11 * time.Second))
	for i := range 3 {
		require.NoError(t, send(mp, deltaPoint(t0.Add(time.Duration(10+i)*time.Second))))
	}
	err := mp.shutdown(context.Background())
	require.ErrorIs(t, err, refuse)
	assert.Len(t, sink.AllMetrics(), 2, "the others were delivered")
	assert.Zero(t, mp.hold.queue.Points(), "nothing is held after Shutdown")
}

// A retryable refusal keeps the batch (and those after it) for the next
// tick; a permanent one drops it. Both are counted.
func TestHoldRetriesTransientErrors(t *testing.T) {
	sink := new(consumertest.MetricsSink)
	var fail error
	next := consumerFunc(func(ctx context.Context, md pmetric.Metrics) error {
		if fail != nil {
			return fail
		}
		return sink.ConsumeMetrics(ctx, md)
	})
	h, mp := holdHarness(t, 100, next)
	h.clock.Set(t0.Add(11 * time.Second))
	require.NoError(t, send(mp, deltaPoint(t0.Add(10*time.Second))))
	require.NoError(t, send(mp, deltaPoint(t0.Add(11*time.Second))))
	h.clock.Set(t0.Add(30 * time.Second))

	fail = errors.New("temporarily unavailable")
	mp.hold.releaseDue(context.Background())
	assert.Equal(t, 2, mp.hold.queue.Points(), "kept for retry")

	fail = nil
	mp.hold.releaseDue(context.Background())
	assert.Len(t, sink.AllMetrics(), 2)
	assert.Equal(t, [][]uint64{{}}, exemplarIDs(sink.AllMetrics()[0]))

	require.NoError(t, send(mp, deltaPoint(t0.Add(29*time.Second))))
	h.clock.Set(t0.Add(50 * time.Second))
	fail = consumererror.NewPermanent(errors.New("bad data"))
	mp.hold.releaseDue(context.Background())
	assert.Zero(t, mp.hold.queue.Points(), "a permanent error drops the batch")
	assert.Equal(t, int64(2), counter(h, "otelcol_processor_exemplar_hold_release_errors"))
	require.NoError(t, mp.shutdown(context.Background()))
}

type consumerFunc func(context.Context, pmetric.Metrics) error

func (f consumerFunc) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	return f(ctx, md)
}
func (consumerFunc) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

// The timer delivers held batches without anyone calling releaseDue.
func TestHoldTimerDelivers(t *testing.T) {
	sink := new(consumertest.MetricsSink)
	h, mp := holdHarness(t, 100, sink)
	mp.hold.tick = 5 * time.Millisecond
	require.NoError(t, mp.start(context.Background(), componenttest.NewNopHost()))
	h.clock.Set(t0.Add(11 * time.Second))
	require.NoError(t, send(mp, deltaPoint(t0.Add(10*time.Second))))
	h.clock.Set(t0.Add(30 * time.Second))
	require.Eventually(t, func() bool { return len(sink.AllMetrics()) == 1 }, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, mp.shutdown(context.Background()))
}

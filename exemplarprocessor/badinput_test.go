// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// Spans that cannot describe a request a latency histogram counted pass on
// untouched, are counted by reason and never become exemplars: with a start
// time of 0 a span lasts decades and would land in every +Inf bucket.
func TestInvalidSpansNeverJoin(t *testing.T) {
	end := t0.Add(5 * time.Second)
	zeroStart := serverSpan(1, "shop", "/a", end, 0)
	zeroStart.start = time.Unix(0, 0)
	zeroEnd := serverSpan(2, "shop", "/a", end, 30*time.Millisecond)
	zeroEnd.end = time.Unix(0, 0)
	tooLong := serverSpan(3, "shop", "/a", end, 2*time.Hour)
	for _, tc := range []struct {
		name   string
		span   span
		reason string
	}{
		{"zero start", zeroStart, "zero_timestamp"},
		{"zero end", zeroEnd, "zero_timestamp"},
		{"longer than max_span_duration", tooLong, "too_long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, createDefaultConfig())
			in := tracesOf(tc.span)
			want := ptrace.NewTraces()
			in.CopyTo(want)
			out := h.consumeTraces(t, in)
			assert.Equal(t, want, out, "passed on untouched")
			assert.Zero(t, h.core.index.Stats().Spans, "not indexed")
			assert.Equal(t, int64(1), counter(h, "otelcol_processor_exemplar_spans_invalid", "reason", tc.reason))

			// Every bucket, +Inf included, counts a request: none gets it.
			h.clock.Set(t0.Add(11 * time.Second))
			md := h.consumeMetrics(t, metricsOf(serverHist("shop", t0, t0.Add(10*time.Second), []uint64{1, 1, 1, 1, 1, 1, 1, 1, 1})))
			assert.Zero(t, exemplarsOf(md).Len())
		})
	}
}

// Points whose window or bounds cannot be trusted pass on byte for byte and
// are counted invalid_point.
func TestInvalidPointsPassUntouched(t *testing.T) {
	at := t0.Add
	base := func() hist { return serverHist("shop", at(0), at(10*time.Second), []uint64{0, 0, 0, 1, 0, 0, 0, 0, 1}) }
	withBound := func(i int, v float64) hist {
		p := base()
		p.bounds = append([]float64{}, p.bounds...)
		p.bounds[i] = v
		return p
	}
	zeroStart, startAfterEnd := base(), base()
	zeroStart.start = time.Unix(0, 0)
	startAfterEnd.start = at(11 * time.Second)
	for _, tc := range []struct {
		name string
		p    hist
	}{
		{"first bound -Inf", withBound(0, math.Inf(-1))},
		{"last bound +Inf", withBound(7, math.Inf(1))},
		{"NaN bound", withBound(2, math.NaN())},
		{"zero start time, delta", zeroStart},
		{"zero start time, cumulative", cumulative(zeroStart)},
		{"start after time", startAfterEnd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, createDefaultConfig())
			h.consumeTraces(t, tracesOf(serverSpan(1, "shop", "/a", at(5*time.Second), 30*time.Millisecond), serverSpan(2, "shop", "/a", at(6*time.Second), 900*time.Millisecond)))
			h.clock.Set(at(11 * time.Second))
			in := metricsOf(tc.p)
			want := protoBytes(t, in)
			out := h.consumeMetrics(t, in)
			assert.Equal(t, want, protoBytes(t, out))
			assert.Equal(t, int64(1), notEnrichedCount(h, "invalid_point"))
		})
	}
}

// A point with more buckets than streams.max_buckets is not read: it passes
// untouched and is counted, however large it is.
func TestTooManyBucketsPassUntouched(t *testing.T) {
	h := newHarness(t, createDefaultConfig())
	h.consumeTraces(t, tracesOf(serverSpan(1, "shop", "/a", t0.Add(5*time.Second), 30*time.Millisecond)))
	h.clock.Set(t0.Add(11 * time.Second))
	hostile := expHist{
		service: "shop", metric: "http.server.request.duration", unit: "s", cumulative: true,
		start: t0, time: t0.Add(10 * time.Second), scale: 20, posOffset: math.MaxInt32 - 1_000_000,
		pos:   make([]uint64, 1_000_000),
		attrs: map[string]any{"http.request.method": "GET", "http.route": "/a", "http.response.status_code": int64(200)},
	}
	for i := range hostile.pos {
		hostile.pos[i] = 1
	}
	explicit := serverHist("shop", t0, t0.Add(10*time.Second), make([]uint64, 400))
	explicit.bounds = make([]float64, 399)
	for i := range explicit.bounds {
		explicit.bounds[i] = float64(i+1) / 1000
	}
	explicit.counts[30] = 1
	inExp := expMetricsOf(hostile)
	wantExp := protoBytes(t, inExp)
	assert.Equal(t, wantExp, protoBytes(t, h.consumeMetrics(t, inExp)))
	inExplicit := metricsOf(explicit)
	wantExplicit := protoBytes(t, inExplicit)
	assert.Equal(t, wantExplicit, protoBytes(t, h.consumeMetrics(t, inExplicit)))
	assert.Equal(t, int64(2), notEnrichedCount(h, "too_many_buckets"))
	assert.Zero(t, h.core.streams.Len(), "no stream state for points not read")
}

// Metrics of a service this instance holds no span of, while it holds spans
// of others, are counted no_service_spans and named in a warning at most
// once a minute per service: the usual cause is a misrouted gateway.
func TestNoServiceSpansNamedAndRateLimited(t *testing.T) {
	h := newHarness(t, createDefaultConfig())
	core, logs := observer.New(zapcore.WarnLevel)
	h.metrics.logger = zap.New(core)
	h.consumeTraces(t, tracesOf(serverSpan(1, "cart", "/a", t0.Add(5*time.Second), 30*time.Millisecond)))
	h.clock.Set(t0.Add(11 * time.Second))
	point := func(service string, end time.Time) []hist {
		return []hist{serverHist(service, end.Add(-10*time.Second), end, []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0})}
	}
	h.consumeMetrics(t, metricsOf(append(point("shop", t0.Add(10*time.Second)), point("checkout", t0.Add(10*time.Second))...)...))
	h.clock.Set(t0.Add(21 * time.Second))
	h.consumeMetrics(t, metricsOf(point("shop", t0.Add(20*time.Second))...))
	// The service with spans but none matching is an ordinary no_span.
	h.consumeMetrics(t, metricsOf(serverHist("cart", t0.Add(10*time.Second), t0.Add(20*time.Second), []uint64{0, 0, 0, 0, 0, 0, 0, 0, 1})))

	assert.Equal(t, int64(3), notEnrichedCount(h, "no_service_spans"))
	assert.Equal(t, int64(1), notEnrichedCount(h, "no_span"))
	warnings := logs.FilterMessage("Metrics arrive for a service with no spans in this instance").All()
	require.Len(t, warnings, 2, "one per service within the interval")
	var named []string
	for _, w := range warnings {
		named = append(named, w.ContextMap()["service.name"].(string))
		assert.Contains(t, w.ContextMap()["likely_causes"], "routing_key: service")
	}
	assert.ElementsMatch(t, []string{"shop", "checkout"}, named)

	h.clock.Set(t0.Add(90 * time.Second))
	h.consumeMetrics(t, metricsOf(point("shop", t0.Add(80*time.Second))...))
	assert.Len(t, logs.FilterMessage("Metrics arrive for a service with no spans in this instance").All(), 3, "again after the interval")
}

// With no span indexed at all the processor cannot tell a misroute from an
// idle traces pipeline: plain no_span.
func TestNoSpansAtAllIsNoSpan(t *testing.T) {
	h := newHarness(t, createDefaultConfig())
	h.clock.Set(t0.Add(11 * time.Second))
	h.consumeMetrics(t, metricsOf(serverHist("shop", t0, t0.Add(10*time.Second), []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0})))
	assert.Equal(t, int64(1), notEnrichedCount(h, "no_span"))
	assert.Zero(t, notEnrichedCount(h, "no_service_spans"))
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// captured is what the in-memory exporters saw; the SDK reuses its
// buffers, so the metric exporter copies what the tests need.
type captured struct {
	spans *tracetest.InMemoryExporter

	mu          sync.Mutex
	temporality map[string]metricdata.Temporality
	exemplars   map[string]int
	// workaround holds each point of the trace_id/span_id histograms.
	workaround []workaroundPoint
}

type workaroundPoint struct {
	traceID, spanID string
	sum             float64
	count           uint64
}

func memoryExporters(c *captured) exporters {
	return exporters{
		span: func(context.Context) (sdktrace.SpanExporter, error) { return keepSpans{c.spans}, nil },
		metric: func(_ context.Context, sel sdkmetric.TemporalitySelector) (sdkmetric.Exporter, error) {
			return &memoryMetricExporter{c: c, sel: sel}, nil
		},
	}
}

// keepSpans keeps the spans past Shutdown, which InMemoryExporter clears.
type keepSpans struct{ *tracetest.InMemoryExporter }

func (keepSpans) Shutdown(context.Context) error { return nil }

type memoryMetricExporter struct {
	c   *captured
	sel sdkmetric.TemporalitySelector
}

func (e *memoryMetricExporter) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	return e.sel(k)
}

func (*memoryMetricExporter) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.DefaultAggregationSelector(k)
}

func (e *memoryMetricExporter) Export(_ context.Context, rm *metricdata.ResourceMetrics) error {
	e.c.mu.Lock()
	defer e.c.mu.Unlock()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			h, ok := m.Data.(metricdata.Histogram[float64])
			if !ok {
				continue
			}
			e.c.temporality[m.Name] = h.Temporality
			for _, dp := range h.DataPoints {
				e.c.exemplars[m.Name] += len(dp.Exemplars)
				if m.Name == chargeMetric || m.Name == checkoutMetric {
					tid, _ := dp.Attributes.Value("trace_id")
					sid, _ := dp.Attributes.Value("span_id")
					e.c.workaround = append(e.c.workaround, workaroundPoint{tid.AsString(), sid.AsString(), dp.Sum, dp.Count})
				}
			}
		}
	}
	return nil
}

func (*memoryMetricExporter) ForceFlush(context.Context) error { return nil }
func (*memoryMetricExporter) Shutdown(context.Context) error   { return nil }

// runPayment serves n payments through the real handler and returns what
// the exporters captured once the providers are shut down.
func runPayment(t *testing.T, n int, flags ...string) (*captured, *telemetry) {
	t.Helper()
	cfg, err := parseFlags(append([]string{"-service", "payment", "-error-rate", "0", "-latency-scale", "0.01", "-metric-interval", "1h"}, flags...))
	require.NoError(t, err)
	c := &captured{spans: tracetest.NewInMemoryExporter(), temporality: map[string]metricdata.Temporality{}, exemplars: map[string]int{}}
	tel, err := newTelemetry(t.Context(), cfg, memoryExporters(c))
	require.NoError(t, err)
	h, err := newService(cfg, tel)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for range n {
		resp, err := http.Post(srv.URL+"/payments", "application/json", strings.NewReader(`{"amount":10}`))
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, tel.shutdown(ctx))
	return c, tel
}

func TestSDKEmitsNoExemplarsByDefault(t *testing.T) {
	c, _ := runPayment(t, 20)
	require.Contains(t, c.exemplars, "http.server.request.duration", "otelhttp records the stable duration metric")
	for name, n := range c.exemplars {
		assert.Zero(t, n, "%s carries exemplars from the SDK", name)
	}

	// The same run with the SDK's default filter does attach some: the
	// check above would see them.
	c, _ = runPayment(t, 20, "-sdk-exemplar-filter", "trace_based")
	assert.Positive(t, c.exemplars["http.server.request.duration"])
}

func TestDoubleInitExportsEverySpanTwice(t *testing.T) {
	const requests = 10
	c, tel := runPayment(t, requests, "-double-init")
	spans := c.spans.GetSpans()
	// Each payment is a server span and a "charge" span, each exported twice.
	require.Len(t, spans, 4*requests)
	assert.Equal(t, int64(len(spans)), tel.spans.ok.Load())
	copies := map[[2]string][]tracetest.SpanStub{}
	for _, s := range spans {
		k := [2]string{s.SpanContext.TraceID().String(), s.SpanContext.SpanID().String()}
		copies[k] = append(copies[k], s)
	}
	require.Len(t, copies, 2*requests)
	for id, cc := range copies {
		require.Len(t, cc, 2, "span %v", id)
		assert.Equal(t, cc[0].Name, cc[1].Name)
		assert.Equal(t, cc[0].StartTime, cc[1].StartTime)
		assert.Equal(t, cc[0].EndTime, cc[1].EndTime)
	}

	c, _ = runPayment(t, requests)
	assert.Len(t, c.spans.GetSpans(), 2*requests, "without -double-init every span is exported once")
}

func TestTraceIDAttributesNameTheSpanExactly(t *testing.T) {
	const requests = 10
	c, _ := runPayment(t, requests, "-trace-id-attributes", "1", "-temporality", "delta")
	assert.Equal(t, metricdata.DeltaTemporality, c.temporality["http.server.request.duration"])
	charges := map[[2]string]time.Duration{}
	for _, s := range c.spans.GetSpans() {
		if s.Name == "charge" {
			charges[[2]string{s.SpanContext.TraceID().String(), s.SpanContext.SpanID().String()}] = s.EndTime.Sub(s.StartTime)
		}
	}
	require.Len(t, c.workaround, requests)
	for _, p := range c.workaround {
		d, ok := charges[[2]string{p.traceID, p.spanID}]
		require.True(t, ok, "point names trace %s span %s, which is no charge span", p.traceID, p.spanID)
		assert.Equal(t, uint64(1), p.count)
		assert.Equal(t, d.Seconds(), p.sum, "the recorded value is the span's duration")
	}
}

func TestFlagsAreValidated(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-service", "shop"},
		{"-service", "order", "-temporality", "sideways"},
		{"-service", "order", "-sdk-exemplar-filter", "sometimes"},
		{"-service", "order", "-trace-id-attributes", "1.5"},
		{"-service", "payment", "-load-rps", "5"},
		{"-service", "order", "-otelhttp-wrap", "nowhere"},
		{"-service", "order", "-metric-interval", "0s"},
	} {
		_, err := parseFlags(args)
		require.Error(t, err, "%v", args)
	}
	cfg, err := parseFlags([]string{"-service", "order", "-load-rps", "5"})
	require.NoError(t, err)
	assert.Equal(t, "always_off", cfg.exemplarFilter)
	assert.Equal(t, "cumulative", cfg.temporality)
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// exporters builds the exporters a service sends through; tests swap in
// in-memory ones.
type exporters struct {
	span   func(context.Context) (sdktrace.SpanExporter, error)
	metric func(context.Context, sdkmetric.TemporalitySelector) (sdkmetric.Exporter, error)
}

func grpcExporters(cfg config) exporters {
	return exporters{
		span: func(ctx context.Context) (sdktrace.SpanExporter, error) {
			return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(cfg.otlpEndpoint), otlptracegrpc.WithInsecure())
		},
		metric: func(ctx context.Context, sel sdkmetric.TemporalitySelector) (sdkmetric.Exporter, error) {
			return otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(cfg.otlpEndpoint), otlpmetricgrpc.WithInsecure(),
				otlpmetricgrpc.WithTemporalitySelector(sel))
		},
	}
}

// telemetry is a service's TracerProvider and MeterProvider, with counts of
// what they exported so a test can compare them with what arrived.
type telemetry struct {
	tp *sdktrace.TracerProvider
	mp *sdkmetric.MeterProvider

	spans   exportCounts
	metrics exportCounts
}

type exportCounts struct {
	ok, failed atomic.Int64
}

func newTelemetry(ctx context.Context, cfg config, exp exporters) (*telemetry, error) {
	res, err := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName(cfg.service),
		semconv.ServiceNamespace(cfg.namespace),
		semconv.ServiceInstanceID(cfg.instanceID),
	))
	if err != nil {
		return nil, fmt.Errorf("resource: %w", err)
	}
	t := &telemetry{}

	// The double-init mistake: a second setup call adds its own exporter
	// and batch processor to the provider the first call created.
	inits := 1
	if cfg.doubleInit {
		inits = 2
	}
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSampler(sdktrace.AlwaysSample())}
	for range inits {
		se, err := exp.span(ctx)
		if err != nil {
			return nil, fmt.Errorf("span exporter: %w", err)
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(&countingSpanExporter{SpanExporter: se, counts: &t.spans},
			sdktrace.WithBatchTimeout(cfg.spanBatchDelay)))
	}
	t.tp = sdktrace.NewTracerProvider(tpOpts...)

	selector := sdkmetric.DefaultTemporalitySelector
	if cfg.temporality == "delta" {
		selector = sdkmetric.DeltaTemporalitySelector
	}
	me, err := exp.metric(ctx, selector)
	if err != nil {
		return nil, fmt.Errorf("metric exporter: %w", err)
	}
	t.mp = sdkmetric.NewMeterProvider(
		sdkmetric.WithResource(res),
		sdkmetric.WithExemplarFilter(exemplarFilter(cfg.exemplarFilter)),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(&countingMetricExporter{Exporter: me, counts: &t.metrics},
			sdkmetric.WithInterval(cfg.metricInterval))),
	)
	return t, nil
}

// exemplarFilter maps the flag to the SDK filter. always_off makes the SDK
// behave like the SDKs and instrumentations that emit no exemplars at all.
func exemplarFilter(name string) exemplar.Filter {
	switch name {
	case "always_on":
		return exemplar.AlwaysOnFilter
	case "trace_based":
		return exemplar.TraceBasedFilter
	default:
		return exemplar.AlwaysOffFilter
	}
}

func (t *telemetry) shutdown(ctx context.Context) error {
	return errors.Join(t.tp.Shutdown(ctx), t.mp.Shutdown(ctx))
}

type summary struct {
	Service              string      `json:"service"`
	InstanceID           string      `json:"instance_id"`
	DoubleInit           bool        `json:"double_init"`
	SpansExported        int64       `json:"spans_exported"`
	SpansFailed          int64       `json:"spans_failed"`
	MetricPointsExported int64       `json:"metric_points_exported"`
	MetricPointsFailed   int64       `json:"metric_points_failed"`
	Load                 *loadResult `json:"load,omitempty"`
}

func (t *telemetry) summary(cfg config, load *loadResult) string {
	b, _ := json.Marshal(summary{
		Service:              cfg.service,
		InstanceID:           cfg.instanceID,
		DoubleInit:           cfg.doubleInit,
		SpansExported:        t.spans.ok.Load(),
		SpansFailed:          t.spans.failed.Load(),
		MetricPointsExported: t.metrics.ok.Load(),
		MetricPointsFailed:   t.metrics.failed.Load(),
		Load:                 load,
	})
	return string(b)
}

// countingSpanExporter counts the spans its exporter accepted or refused.
type countingSpanExporter struct {
	sdktrace.SpanExporter
	counts *exportCounts
}

func (e *countingSpanExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	if err != nil {
		e.counts.failed.Add(int64(len(spans)))
	} else {
		e.counts.ok.Add(int64(len(spans)))
	}
	return err
}

// countingMetricExporter counts the data points its exporter accepted or
// refused.
type countingMetricExporter struct {
	sdkmetric.Exporter
	counts *exportCounts
}

func (e *countingMetricExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	n := int64(dataPoints(rm))
	// The periodic reader cancels an export in flight when it shuts down;
	// the points may then have reached the collector or not, and nobody
	// knows. Let the export finish on its own timeout instead.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := e.Exporter.Export(ctx, rm)
	if err != nil {
		e.counts.failed.Add(n)
	} else {
		e.counts.ok.Add(n)
	}
	return err
}

func dataPoints(rm *metricdata.ResourceMetrics) int {
	n := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Gauge[int64]:
				n += len(d.DataPoints)
			case metricdata.Gauge[float64]:
				n += len(d.DataPoints)
			case metricdata.Sum[int64]:
				n += len(d.DataPoints)
			case metricdata.Sum[float64]:
				n += len(d.DataPoints)
			case metricdata.Histogram[int64]:
				n += len(d.DataPoints)
			case metricdata.Histogram[float64]:
				n += len(d.DataPoints)
			case metricdata.ExponentialHistogram[int64]:
				n += len(d.DataPoints)
			case metricdata.ExponentialHistogram[float64]:
				n += len(d.DataPoints)
			case metricdata.Summary:
				n += len(d.DataPoints)
			}
		}
	}
	return n
}

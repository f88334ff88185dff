// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// providers are a service's SDK providers; tests build them on in-memory
// exporters and readers.
type providers struct {
	tp *sdktrace.TracerProvider
	mp *sdkmetric.MeterProvider
}

func (p providers) shutdown(ctx context.Context) error {
	return errors.Join(p.tp.Shutdown(ctx), p.mp.Shutdown(ctx))
}

// newOTLPProviders sets the SDK up the way the Go getting-started guide
// does, with every setting left to the standard environment variables:
// OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_BSP_SCHEDULE_DELAY,
// OTEL_METRIC_EXPORT_INTERVAL, OTEL_METRICS_EXEMPLAR_FILTER,
// OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES.
//
// The exporters are OTLP/gRPC: the module's go.mod carries those of SDK
// v1.45.0, and the transport does not change what the collector records.
func newOTLPProviders(ctx context.Context, service string) (providers, error) {
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithAttributes(semconv.ServiceName(service)),
		// Last, so OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win.
		resource.WithFromEnv(),
	)
	if err != nil {
		return providers{}, fmt.Errorf("resource: %w", err)
	}
	se, err := otlptracegrpc.New(ctx)
	if err != nil {
		return providers{}, fmt.Errorf("span exporter: %w", err)
	}
	me, err := otlpmetricgrpc.New(ctx)
	if err != nil {
		return providers{}, fmt.Errorf("metric exporter: %w", err)
	}
	p := providers{
		tp: sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(se)),
		mp: sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(sdkmetric.NewPeriodicReader(me))),
	}
	otel.SetTracerProvider(p.tp)
	otel.SetMeterProvider(p.mp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return p, nil
}

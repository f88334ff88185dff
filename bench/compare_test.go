// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Package bench compares the exemplar processor's traces path with the
// contrib spanmetrics connector's ConsumeTraces on the same batches, both
// built through their factories as the collector builds them.
package bench

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/connector/spanmetricsconnector"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"
	"github.com/otelcol-exemplar/otelcol-exemplar/internal/benchdata"
)

const (
	indexSize     = 1_000_000
	scopes        = 10
	spansPerScope = 100
)

// runTraces feeds renumbered copies of one realistic batch (10 scopes x 100
// spans, 8 attributes each) to c and reports ns per span.
func runTraces(b *testing.B, c consumer.Traces, warm int) {
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	next := uint64(0)
	for done := 0; done < warm; done += 10_000 {
		td := benchdata.Traces(rng, 1, 1, 10_000, now, time.Minute, next)
		next += 10_000
		if err := c.ConsumeTraces(context.Background(), td); err != nil {
			b.Fatal(err)
		}
	}
	td := benchdata.Traces(rng, 1, scopes, spansPerScope, now, time.Minute, 0)
	spans := td.SpanCount()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		batch := ptrace.NewTraces()
		td.CopyTo(batch)
		next = benchdata.Renumber(batch, next)
		b.StartTimer()
		if err := c.ConsumeTraces(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spans), "ns/span")
}

// BenchmarkExemplarTraces is the exemplar processor with a full 1M-span
// index, through its factory (processorhelper included).
func BenchmarkExemplarTraces(b *testing.B) {
	f := exemplarprocessor.NewFactory()
	cfg := f.CreateDefaultConfig().(*exemplarprocessor.Config)
	cfg.Index.MaxSpans = indexSize
	p, err := f.CreateTraces(context.Background(), processortest.NewNopSettings(f.Type()), cfg, consumertest.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = p.Shutdown(context.Background()) }()
	runTraces(b, p, indexSize)
}

// BenchmarkSpanmetricsTraces is contrib's spanmetrics connector with its
// default configuration (it keeps no span index; its cost is the
// aggregation into histograms).
func BenchmarkSpanmetricsTraces(b *testing.B) {
	f := spanmetricsconnector.NewFactory()
	cfg := f.CreateDefaultConfig()
	set := connectortest.NewNopSettings(f.Type())
	c, err := f.CreateTracesToMetrics(context.Background(), set, cfg, consumertest.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Shutdown(context.Background()) }()
	runTraces(b, c, 0)
}

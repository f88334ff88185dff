// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/duplog"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/metadata"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/rules"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/streams"
)

// clock is injected so window and TTL logic is tested without sleeping.
type clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// core is the state one component ID shares across its traces and metrics
// pipelines. Data flows one way: traces -> index; metrics -> join against
// the index -> enrich -> next consumer.
type core struct {
	cfg    *Config
	logger *zap.Logger
	clock  clock

	rules   *rules.Set
	index   *spanindex.Index
	streams *streams.Table
	dups    *duplog.Logger
	// misroutes warns about metrics of services without spans here.
	misroutes misrouteWarner

	// telemetry reports the shared state: gauges and eviction counters are
	// registered once here, whichever pipeline created the core.
	telemetry *metadata.TelemetryBuilder
}

func newCore(cfg *Config, set component.TelemetrySettings, clk clock) (*core, error) {
	set.Logger.Debug("Creating exemplar processor state")
	ruleSet, err := cfg.compileRules()
	if err != nil {
		return nil, err
	}
	idx, err := spanindex.New(cfg.indexConfig())
	if err != nil {
		return nil, err
	}
	c := &core{
		cfg:     cfg,
		logger:  set.Logger,
		clock:   clk,
		rules:   ruleSet,
		index:   idx,
		streams: streams.New(cfg.Streams.MaxStreams, cfg.Streams.IdleTimeout),
		dups:    duplog.New(cfg.Duplicates.LogInterval),

		misroutes: newMisrouteWarner(),
	}
	if c.telemetry, err = c.registerTelemetry(set); err != nil {
		return nil, err
	}
	return c, nil
}

// Telemetry attribute sets of the shared state.
var (
	evictedTTL      = metric.WithAttributeSet(reasonSet("ttl"))
	evictedCapacity = metric.WithAttributeSet(reasonSet("capacity"))
	evictedIdle     = metric.WithAttributeSet(reasonSet("idle"))
)

// registerTelemetry registers the callbacks that read the shared state.
// They only read: a scrape never evicts or expires anything.
func (c *core) registerTelemetry(set component.TelemetrySettings) (*metadata.TelemetryBuilder, error) {
	tb, err := metadata.NewTelemetryBuilder(set)
	if err != nil {
		return nil, err
	}
	register := []error{
		tb.RegisterProcessorExemplarIndexSpansCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(c.index.Stats().Spans))
			return nil
		}),
		tb.RegisterProcessorExemplarIndexEvictionsCallback(func(_ context.Context, o metric.Int64Observer) error {
			ttl, capacity := c.index.Evictions()
			observeCount(o, ttl, evictedTTL)
			observeCount(o, capacity, evictedCapacity)
			return nil
		}),
		tb.RegisterProcessorExemplarStreamsTrackedCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(c.streams.Len()))
			return nil
		}),
		tb.RegisterProcessorExemplarStreamsEvictedCallback(func(_ context.Context, o metric.Int64Observer) error {
			capacity, idle := c.streams.Evictions()
			observeCount(o, capacity, evictedCapacity)
			observeCount(o, idle, evictedIdle)
			return nil
		}),
	}
	for _, err := range register {
		if err != nil {
			tb.Shutdown()
			return nil, err
		}
	}
	return tb, nil
}

// observeCount reports a cumulative count once it is not zero, as a
// synchronous counter would: a series appears with its first event.
func observeCount(o metric.Int64Observer, n uint64, opt metric.ObserveOption) {
	if n > 0 {
		o.Observe(int64(n), opt)
	}
}

// shutdown runs when the last pipeline using this core shuts down. The core
// owns no goroutines; dropping it releases the index and stream state.
func (c *core) shutdown(context.Context) error {
	st := c.index.Stats()
	c.logger.Info("Exemplar processor stopped", zap.Int("indexed_spans", st.Spans), zap.Int("join_groups", st.Groups), zap.Int("streams", c.streams.Len()))
	c.telemetry.Shutdown()
	return nil
}

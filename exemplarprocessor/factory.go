// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/metadata"
)

// The collector creates one processor per pipeline. Spans seen in a traces
// pipeline must enrich metrics in a metrics pipeline, so every processor
// created for one component ID shares one core, counted by reference: the
// last Shutdown tears it down and forgets it, and a later Create starts over.
type factory struct {
	clock clock

	mu    sync.Mutex
	cores map[component.ID]*sharedCore
}

type sharedCore struct {
	core *core
	refs int
}

// NewFactory returns the factory of the exemplar processor.
func NewFactory() processor.Factory {
	return newFactory(systemClock{})
}

// newFactory is NewFactory with the clock its processors read: tests replay
// recorded telemetry on the clock of its recording.
func newFactory(clk clock) processor.Factory {
	f := &factory{clock: clk, cores: map[component.ID]*sharedCore{}}
	return processor.NewFactory(
		metadata.Type,
		func() component.Config { return createDefaultConfig() },
		processor.WithTraces(f.createTraces, metadata.TracesStability),
		processor.WithMetrics(f.createMetrics, metadata.MetricsStability),
	)
}

var capabilities = consumer.Capabilities{MutatesData: true}

func (f *factory) createTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	c, release, err := f.acquire(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	tp, err := newTracesProcessor(c, set)
	if err != nil {
		_ = release(ctx)
		return nil, err
	}
	return processorhelper.NewTraces(ctx, set, cfg, next, tp.process,
		processorhelper.WithCapabilities(capabilities),

		processorhelper.WithShutdown(shutdownOnce(tp.shutdown, release)))
}

func (f *factory) createMetrics(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	c, release, err := f.acquire(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	mp, err := newMetricsProcessor(c, set, next)
	if err != nil {
		_ = release(ctx)
		return nil, err
	}
	return processorhelper.NewMetrics(ctx, set, cfg, mp.out, mp.process,
		processorhelper.WithCapabilities(capabilities),
		processorhelper.WithStart(mp.start),
		processorhelper.WithShutdown(shutdownOnce(mp.shutdown, release)))
}

// acquire returns the core of set.ID, creating it on first use, and the
// function that gives the reference back.
func (f *factory) acquire(set processor.Settings, cfg *Config) (*core, func(context.Context) error, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sc, ok := f.cores[set.ID]
	if !ok {
		c, err := newCore(cfg, set.TelemetrySettings, f.clock)
		if err != nil {
			return nil, nil, err
		}
		sc = &sharedCore{core: c}
		f.cores[set.ID] = sc
	}
	sc.refs++
	release := func(ctx context.Context) error {
		f.mu.Lock()
		sc.refs--
		last := sc.refs == 0
		if last && f.cores[set.ID] == sc {
			delete(f.cores, set.ID)
		}
		f.mu.Unlock()
		if last {
			return sc.core.shutdown(ctx)
		}
		return nil
	}
	return sc.core, release, nil
}

// shutdownOnce runs a pipeline processor's own shutdown, then gives back its
// reference on the core, once however often Shutdown is called.
func shutdownOnce(own, release func(context.Context) error) component.ShutdownFunc {
	var once sync.Once
	var err error
	return func(ctx context.Context) error {
		once.Do(func() {
			err = own(ctx)
			if rerr := release(ctx); err == nil {
				err = rerr
			}
		})
		return err
	}
}

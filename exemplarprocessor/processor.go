// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/duplog"
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
// pipelines. Data flows one way: traces -> index; metrics -> match against
// the index -> attach -> next consumer.
type core struct {
	cfg    *Config
	logger *zap.Logger
	clock  clock

	rules   *rules.Set
	index   *spanindex.Index
	streams *streams.Table
	dups    *duplog.Logger

	// keys recycles the join keys built per batch; a Key is too large to
	// build on every call's stack frame without escaping.
	keys sync.Pool
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
	}
	c.keys.New = func() any { return idx.NewKey() }
	return c, nil
}

func (c *core) key() *spanindex.Key     { return c.keys.Get().(*spanindex.Key) }
func (c *core) putKey(k *spanindex.Key) { c.keys.Put(k) }

func (c *core) start(context.Context, component.Host) error {
	return nil
}

// shutdown runs when the last pipeline using this core shuts down. The core
// owns no goroutines; dropping it releases the index and stream state.
func (c *core) shutdown(context.Context) error {
	st := c.index.Stats()
	c.logger.Info("Exemplar processor stopped", zap.Int("indexed_spans", st.Spans), zap.Int("join_groups", st.Groups), zap.Int("streams", c.streams.Len()))
	return nil
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/metadatatest"
)

const dupKey = "exemplar.duplicate_span"

// flags returns, in order, the duplicate flag of every span ("" when none)
// keyed by span name, and the span count.
func flags(td ptrace.Traces) []string {
	var out []string
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				v, _ := spans.At(k).Attributes().Get(dupKey)
				out = append(out, spans.At(k).Name()+"="+v.Str())
			}
		}
	}
	return out
}

func named(s span, name string) span {
	s.name = name
	return s
}

func TestGoldenTraces(t *testing.T) {
	end := t0.Add(time.Second)
	a := named(serverSpan(1, "shop", "/a", end, 20*time.Millisecond), "A")
	b := named(serverSpan(2, "shop", "/b", end, 30*time.Millisecond), "B")
	c := named(serverSpan(3, "shop", "/c", end, 40*time.Millisecond), "C")
	aOther := named(serverSpan(1, "shop", "/a", end.Add(time.Millisecond), 5*time.Millisecond), "A-other")
	at := t0.Add
	tr := func(spans ...span) func() ptrace.Traces { return func() ptrace.Traces { return tracesOf(spans...) } }

	for _, tc := range []goldenCase{
		{
			name:  "replay_same_batch",
			steps: []step{{at: at(2 * time.Second), traces: tr(a, b, a)}},
			check: func(t *testing.T, h *harness, outs []any) {
				assert.Equal(t, []string{"A=", "B=", "A=replay"}, flags(outs[0].(ptrace.Traces)), "only the second copy is flagged")
				metadatatest.AssertEqualProcessorExemplarSpansDuplicate(t, h.telemetry, []metricdata.DataPoint[int64]{
					{Value: 1, Attributes: attrSet("kind", "replay")},
				}, metricdatatest.IgnoreTimestamp())
				metadatatest.AssertEqualProcessorExemplarSpansIndexed(t, h.telemetry, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
			},
		},
		{
			name: "replay_across_batches",
			steps: []step{
				{at: at(2 * time.Second), traces: tr(a, b)},
				{at: at(5 * time.Second), traces: tr(c, a)},
			},
			check: func(t *testing.T, _ *harness, outs []any) {
				assert.Equal(t, []string{"A=", "B="}, flags(outs[0].(ptrace.Traces)))
				assert.Equal(t, []string{"C=", "A=replay"}, flags(outs[1].(ptrace.Traces)))
			},
		},
		{
			name: "collision",
			steps: []step{
				{at: at(2 * time.Second), traces: tr(a)},
				{at: at(3 * time.Second), traces: tr(aOther, b)},
			},
			check: func(t *testing.T, h *harness, outs []any) {
				assert.Equal(t, []string{"A-other=collision", "B="}, flags(outs[1].(ptrace.Traces)))
				metadatatest.AssertEqualProcessorExemplarSpansDuplicate(t, h.telemetry, []metricdata.DataPoint[int64]{
					{Value: 1, Attributes: attrSet("kind", "collision")},
				}, metricdatatest.IgnoreTimestamp())
			},
		},
		{
			name: "drop_replays",
			cfg:  func(c *Config) { c.Duplicates.Action = ActionDropReplays },
			steps: []step{
				{at: at(2 * time.Second), traces: tr(a, b, a, aOther)},
				{at: at(3 * time.Second), traces: tr(b, c)},
			},
			check: func(t *testing.T, h *harness, outs []any) {
				assert.Equal(t, []string{"A=", "B=", "A-other=collision"}, flags(outs[0].(ptrace.Traces)), "replay removed, collision kept and flagged")
				assert.Equal(t, []string{"C="}, flags(outs[1].(ptrace.Traces)))
				metadatatest.AssertEqualProcessorExemplarSpansDropped(t, h.telemetry, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
			},
		},
		{
			name: "zero_ids",
			steps: []step{{at: at(2 * time.Second), traces: func() ptrace.Traces {
				td := tracesOf(a, b, c, a)
				spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
				spans.At(1).SetTraceID(pcommon.TraceID{})
				spans.At(2).SetSpanID(pcommon.SpanID{})
				return td
			}}},
			check: func(t *testing.T, h *harness, outs []any) {
				assert.Equal(t, []string{"A=", "B=", "C=", "A=replay"}, flags(outs[0].(ptrace.Traces)), "spans without IDs pass untouched")
				assert.Equal(t, 1, h.core.index.Stats().Spans)
				metadatatest.AssertEqualProcessorExemplarSpansInvalid(t, h.telemetry, []metricdata.DataPoint[int64]{
					{Value: 2, Attributes: attrSet("reason", "invalid_id")},
				}, metricdatatest.IgnoreTimestamp())
			},
		},
		{
			name: "end_before_start",
			steps: []step{{at: at(2 * time.Second), traces: func() ptrace.Traces {
				backwards := a
				backwards.start, backwards.end = a.end, a.start
				return tracesOf(backwards, backwards)
			}}},
			check: func(t *testing.T, h *harness, outs []any) {
				assert.Equal(t, []string{"A=", "A=replay"}, flags(outs[0].(ptrace.Traces)))
				r := h.core.index.BeginRead()
				ref, ok := r.Lookup(traceID(1), spanID(1))
				r.End()
				require.True(t, ok)
				assert.Zero(t, ref.Duration, "duration clamps to 0, never wraps")
			},
		},
		{
			name: "ttl_expiry",
			cfg: func(c *Config) {
				c.Index.TTL = 10 * time.Second
				c.Duplicates.Window = 10 * time.Second
				c.Exemplars.DanglingGrace = 5 * time.Second
				c.Exemplars.LateSpanWindow = 10 * time.Second
			},
			steps: []step{
				{at: at(2 * time.Second), traces: tr(a, b)},
				{at: at(11 * time.Second), traces: tr(b)},
				{at: at(13 * time.Second), traces: tr(a)},
			},
			check: func(t *testing.T, h *harness, outs []any) {
				assert.Equal(t, []string{"B=replay"}, flags(outs[1].(ptrace.Traces)), "within the TTL")
				assert.Equal(t, []string{"A="}, flags(outs[2].(ptrace.Traces)), "expired after the TTL: new again")
				metadatatest.AssertEqualProcessorExemplarIndexEvictions(t, h.telemetry, []metricdata.DataPoint[int64]{
					{Value: 2, Attributes: attrSet("reason", "ttl")},
				}, metricdatatest.IgnoreTimestamp())
			},
		},
		{
			name: "cap_eviction",
			cfg:  func(c *Config) { c.Index.MaxSpans = 2 },
			steps: []step{
				{at: at(2 * time.Second), traces: tr(a, b, c)},
				{at: at(3 * time.Second), traces: tr(a, c)},
			},
			check: func(t *testing.T, h *harness, outs []any) {
				assert.Equal(t, []string{"A=", "C=replay"}, flags(outs[1].(ptrace.Traces)), "A was evicted by the cap, C was still held")
				assert.Equal(t, 2, h.core.index.Stats().Spans)
				metadatatest.AssertEqualProcessorExemplarIndexEvictions(t, h.telemetry, []metricdata.DataPoint[int64]{
					{Value: 2, Attributes: attrSet("reason", "capacity")},
				}, metricdatatest.IgnoreTimestamp())
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) { runGolden(t, tc) })
	}
}

func TestAllSpansDroppedSkipsNextConsumer(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Duplicates.Action = ActionDropReplays
	h := newHarness(t, cfg)
	a := serverSpan(1, "shop", "/a", t0, time.Millisecond)
	h.consumeTraces(t, tracesOf(a))
	_, err := h.traces.process(context.Background(), tracesOf(a, a))
	require.ErrorIs(t, err, processorhelper.ErrSkipProcessingData)
}

func TestDuplicateWarningRateLimitedPerService(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	cfg := createDefaultConfig()
	cfg.Duplicates.LogInterval = time.Minute
	h := newHarness(t, cfg)
	h.traces.logger = zap.New(core)

	shop := serverSpan(1, "shop", "/a", t0, time.Millisecond)
	cart := serverSpan(2, "cart", "/a", t0, time.Millisecond)
	h.consumeTraces(t, tracesOf(shop, cart))
	for i := range 5 {
		h.clock.Set(t0.Add(time.Duration(i) * 10 * time.Second))
		h.consumeTraces(t, tracesOf(shop, cart))
	}
	// Two services, five replays each within a minute: one warning each.
	require.Equal(t, 2, logs.Len())
	first := logs.All()[0].ContextMap()
	assert.Equal(t, "shop", first["service.name"])
	assert.Contains(t, first["likely_cause"], "initialised twice")
	assert.Equal(t, "replay", first["kind"])

	h.clock.Set(t0.Add(70 * time.Second))
	h.consumeTraces(t, tracesOf(shop))
	require.Equal(t, 3, logs.Len(), "a new interval warns again")
	again := logs.All()[2].ContextMap()
	assert.Equal(t, uint64(5), again["replays"], "four suppressed replays plus this one")
}

func TestConcurrentConsumeTraces(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Index.MaxSpans = 5000
	h := newHarness(t, cfg)
	const workers, batches, perBatch = 8, 50, 20
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				var spans []span
				for i := range perBatch {
					id := uint64(w*batches*perBatch + b*perBatch + i + 1)
					spans = append(spans, serverSpan(id, "shop", "/a", t0, time.Millisecond))
				}
				td := tracesOf(spans...)
				// Every batch is sent twice: exactly one copy of each span
				// may be flagged, whichever goroutine wins.
				out, err := h.traces.process(context.Background(), td)
				assert.NoError(t, err)
				assert.Equal(t, perBatch, out.SpanCount())
				_, err = h.traces.process(context.Background(), tracesOf(spans...))
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	st := h.core.index.Stats()
	assert.Equal(t, 5000, st.Spans, "cap holds under concurrency")
	// Every copy is accounted for once: indexed, or flagged as the other
	// copy's replay. A second copy is indexed anew only when its first was
	// evicted in between (8000 spans pass a 5000-span cap), so the
	// replays are all but a few of the 8000.
	unique := int64(workers * batches * perBatch)
	indexed := counter(h, "otelcol_processor_exemplar_spans_indexed")
	replays := counter(h, "otelcol_processor_exemplar_spans_duplicate", "kind", "replay")
	assert.Equal(t, 2*unique, indexed+replays)
	assert.Greater(t, replays, unique*9/10)
	assert.Zero(t, counter(h, "otelcol_processor_exemplar_spans_duplicate", "kind", "collision"))
}

// The same component ID in a traces and a metrics pipeline shares one index;
// another ID has its own.
func TestPipelinesShareStatePerComponentID(t *testing.T) {
	f := NewFactory()
	cfg := f.CreateDefaultConfig()
	setFor := func(id component.ID) processorSettings { s := nopSettings(); s.ID = id; return s }
	idA := component.MustNewID("exemplar")
	idB := component.MustNewIDWithName("exemplar", "edge")

	tracesSink, metricsA, metricsB := new(consumertest.TracesSink), new(consumertest.MetricsSink), new(consumertest.MetricsSink)
	tpA, err := f.CreateTraces(context.Background(), setFor(idA), cfg, tracesSink)
	require.NoError(t, err)
	mpA, err := f.CreateMetrics(context.Background(), setFor(idA), cfg, metricsA)
	require.NoError(t, err)
	mpB, err := f.CreateMetrics(context.Background(), setFor(idB), cfg, metricsB)
	require.NoError(t, err)
	for _, c := range []component.Component{tpA, mpA, mpB} {
		require.NoError(t, c.Start(context.Background(), componentHost()))
	}

	now := time.Now()
	require.NoError(t, tpA.ConsumeTraces(context.Background(), tracesOf(serverSpan(7, "shop", "/a", now.Add(-time.Second), 30*time.Millisecond))))
	point := serverHist("shop", now.Add(-10*time.Second), now, []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0})
	require.NoError(t, mpA.ConsumeMetrics(context.Background(), metricsOf(point)))
	require.NoError(t, mpB.ConsumeMetrics(context.Background(), metricsOf(point)))

	exA := exemplarsOf(metricsA.AllMetrics()[0])
	require.Equal(t, 1, exA.Len(), "exemplar (same ID) saw the span")
	assert.Equal(t, traceID(7), exA.At(0).TraceID())
	assert.Equal(t, 0, exemplarsOf(metricsB.AllMetrics()[0]).Len(), "exemplar/edge has its own, empty index")

	for _, c := range []component.Component{tpA, mpA, mpB} {
		require.NoError(t, c.Shutdown(context.Background()))
	}

	// After the last Shutdown the state is gone: a re-created pipeline
	// starts with an empty index.
	mpA2, err := f.CreateMetrics(context.Background(), setFor(idA), cfg, metricsA)
	require.NoError(t, err)
	require.NoError(t, mpA2.Start(context.Background(), componentHost()))
	metricsA.Reset()
	require.NoError(t, mpA2.ConsumeMetrics(context.Background(), metricsOf(point)))
	assert.Equal(t, 0, exemplarsOf(metricsA.AllMetrics()[0]).Len())
	require.NoError(t, mpA2.Shutdown(context.Background()))
	require.NoError(t, mpA2.Shutdown(context.Background()), "Shutdown twice is safe")
}

// Shutting down one pipeline keeps the state for the other.
func TestSharedStateOutlivesFirstShutdown(t *testing.T) {
	f := NewFactory()
	cfg := f.CreateDefaultConfig()
	set := nopSettings()
	sink := new(consumertest.MetricsSink)
	tp, err := f.CreateTraces(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	mp, err := f.CreateMetrics(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, tp.Start(context.Background(), componentHost()))
	require.NoError(t, mp.Start(context.Background(), componentHost()))
	now := time.Now()
	require.NoError(t, tp.ConsumeTraces(context.Background(), tracesOf(serverSpan(9, "shop", "/a", now.Add(-time.Second), 30*time.Millisecond))))
	require.NoError(t, tp.Shutdown(context.Background()))

	require.NoError(t, mp.ConsumeMetrics(context.Background(), metricsOf(serverHist("shop", now.Add(-10*time.Second), now, []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0}))))
	assert.Equal(t, 1, exemplarsOf(sink.AllMetrics()[0]).Len())
	require.NoError(t, mp.Shutdown(context.Background()))
}

// Only scopes emptied by drop_replays are removed; an empty scope that came
// in passes on.
func TestDropReplaysRemovesOnlyScopesItEmptied(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Duplicates.Action = ActionDropReplays
	h := newHarness(t, cfg)
	a := serverSpan(1, "shop", "/a", t0, time.Millisecond)
	h.consumeTraces(t, tracesOf(a))

	td := tracesOf(serverSpan(2, "shop", "/b", t0, time.Millisecond))
	rs := td.ResourceSpans().At(0)
	rs.ScopeSpans().AppendEmpty().Scope().SetName("arrived-empty")
	replays := rs.ScopeSpans().AppendEmpty()
	replays.Scope().SetName("only-replays")
	tracesOf(a).ResourceSpans().At(0).ScopeSpans().At(0).Spans().CopyTo(replays.Spans())

	out := h.consumeTraces(t, td)
	scopes := out.ResourceSpans().At(0).ScopeSpans()
	require.Equal(t, 2, scopes.Len())
	assert.Equal(t, 1, scopes.At(0).Spans().Len())
	assert.Equal(t, "arrived-empty", scopes.At(1).Scope().Name())
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/duplog"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/metadata"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
)

// tracesProcessor is the traces-pipeline face of a core: it indexes spans
// and handles duplicate span IDs. Its telemetry carries its pipeline's
// attributes.
type tracesProcessor struct {
	core      *core
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	drop      bool
	batches   sync.Pool

	optReplay, optCollision         metric.AddOption
	optInvalidID, optEndBeforeStart metric.AddOption
	optEvictTTL, optEvictCapacity   metric.AddOption
}

func attrOpt(key, value string) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String(key, value)))
}

func newTracesProcessor(c *core, set processor.Settings) (*tracesProcessor, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	tp := &tracesProcessor{
		core:              c,
		logger:            set.Logger,
		telemetry:         tb,
		drop:              c.cfg.Duplicates.Action == ActionDropReplays,
		optReplay:         attrOpt("kind", "replay"),
		optCollision:      attrOpt("kind", "collision"),
		optInvalidID:      attrOpt("reason", "invalid_id"),
		optEndBeforeStart: attrOpt("reason", "end_before_start"),
		optEvictTTL:       attrOpt("reason", "ttl"),
		optEvictCapacity:  attrOpt("reason", "capacity"),
	}
	tp.batches.New = func() any { return &spanBatch{key: c.index.NewKey()} }
	err = tb.RegisterProcessorExemplarIndexSpansCallback(func(_ context.Context, o metric.Int64Observer) error {
		c.index.Expire(c.clock.Now().UnixNano())
		o.Observe(int64(c.index.Stats().Spans))
		return nil
	})
	if err != nil {
		tb.Shutdown()
		return nil, err
	}
	return tp, nil
}

func (tp *tracesProcessor) shutdown(context.Context) error {
	tp.telemetry.Shutdown()
	return nil
}

type traceStats struct {
	indexed, replays, collisions, dropped uint64
	invalidID, endBeforeStart             uint64
	emptiedScopes                         [][2]int // resource, scope index
}

func (tp *tracesProcessor) process(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	c := tp.core
	now := c.clock.Now()
	sb := tp.batches.Get().(*spanBatch)
	defer tp.batches.Put(sb)

	var st traceStats
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := rs.Resource().Attributes()
		c.rules.ResourceKey(sb.key, res)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			tp.processSpans(now, sb, [2]int{i, j}, res, sss.At(j).Spans(), &st)
		}
	}
	tp.record(ctx, &st)

	if len(st.emptiedScopes) > 0 {
		// Only scopes this call emptied go; empty ones sent to us pass on.
		removeEmptied(td, st.emptiedScopes)
		if td.ResourceSpans().Len() == 0 {
			return td, processorhelper.ErrSkipProcessingData
		}
	}
	return td, nil
}

// spanBatch is the per-call scratch of the traces path.
type spanBatch struct {
	key    *spanindex.Key
	spans  [prefetchBatch]spanindex.Span
	hashes [prefetchBatch]uint64
	drops  []int
}

// prefetchBatch is how many spans are hashed and prefetched together.
const prefetchBatch = 256

// processSpans indexes one scope's spans under one lock acquisition and
// flags or drops the duplicates.
func (tp *tracesProcessor) processSpans(now time.Time, sb *spanBatch, scope [2]int, res pcommon.Map, spans ptrace.SpanSlice, st *traceStats) {
	c := tp.core
	sb.drops = sb.drops[:0]
	w := c.index.BeginWrite(now.UnixNano())
	for from := 0; from < spans.Len(); from += prefetchBatch {
		to := min(from+prefetchBatch, spans.Len())
		// Read IDs and hash them all first, then touch their table slots
		// together: the cache misses overlap instead of queueing.
		for k := from; k < to; k++ {
			span := spans.At(k)
			s := &sb.spans[k-from]
			*s = spanindex.Span{
				TraceID:  span.TraceID(),
				SpanID:   span.SpanID(),
				Start:    uint64(span.StartTimestamp()),
				End:      uint64(span.EndTimestamp()),
				NameHash: nameHash(span.Name()),
				Kind:     uint8(span.Kind()),
			}
			sb.hashes[k-from] = w.Hash(s)
		}
		w.Prefetch(sb.hashes[:to-from])
		for k := from; k < to; k++ {
			tp.insert(&w, sb, k, &sb.spans[k-from], sb.hashes[k-from], spans.At(k), now, res, st)
		}
	}
	w.End()

	if len(sb.drops) > 0 {
		st.dropped += uint64(len(sb.drops))
		i, next := 0, 0
		spans.RemoveIf(func(ptrace.Span) bool {
			drop := next < len(sb.drops) && sb.drops[next] == i
			if drop {
				next++
			}
			i++
			return drop
		})
		if spans.Len() == 0 {
			st.emptiedScopes = append(st.emptiedScopes, scope)
		}
	}
}

func (tp *tracesProcessor) insert(w *spanindex.Writer, sb *spanBatch, k int, s *spanindex.Span, h uint64, span ptrace.Span, now time.Time, res pcommon.Map, st *traceStats) {
	c := tp.core
	if pcommon.TraceID(s.TraceID).IsEmpty() || pcommon.SpanID(s.SpanID).IsEmpty() {
		st.invalidID++
		return
	}
	if s.End < s.Start {
		st.endBeforeStart++
	}
	outcome, ref := w.InsertHashed(s, h, c.rules.SpanKey(sb.key, span))
	switch outcome {
	case spanindex.Indexed:
		st.indexed++
		if c.rules.NeedsExtra() {
			w.SetExtra(ref, c.rules.Extra(span))
		}
	case spanindex.Replay:
		st.replays++
		if tp.drop {
			sb.drops = append(sb.drops, k)
		} else {
			span.Attributes().PutStr(c.cfg.Duplicates.Attribute, "replay")
		}
		c.dups.Report(tp.logger, now, serviceName(res), duplog.Replay, duplog.Example{TraceID: s.TraceID, SpanID: s.SpanID, Name: span.Name()})
	case spanindex.Collision:
		st.collisions++
		span.Attributes().PutStr(c.cfg.Duplicates.Attribute, "collision")
		c.dups.Report(tp.logger, now, serviceName(res), duplog.Collision, duplog.Example{TraceID: s.TraceID, SpanID: s.SpanID, Name: span.Name()})
	}
}

func (tp *tracesProcessor) record(ctx context.Context, st *traceStats) {
	tb := tp.telemetry
	add := func(c metric.Int64Counter, n uint64, opts ...metric.AddOption) {
		if n > 0 {
			c.Add(ctx, int64(n), opts...)
		}
	}
	add(tb.ProcessorExemplarSpansIndexed, st.indexed)
	add(tb.ProcessorExemplarSpansDuplicate, st.replays, tp.optReplay)
	add(tb.ProcessorExemplarSpansDuplicate, st.collisions, tp.optCollision)
	add(tb.ProcessorExemplarSpansDropped, st.dropped)
	add(tb.ProcessorExemplarSpansInvalid, st.invalidID, tp.optInvalidID)
	add(tb.ProcessorExemplarSpansInvalid, st.endBeforeStart, tp.optEndBeforeStart)
	ttl, capacity := tp.core.index.TakeEvictions()
	add(tb.ProcessorExemplarIndexEvictions, ttl, tp.optEvictTTL)
	add(tb.ProcessorExemplarIndexEvictions, capacity, tp.optEvictCapacity)
}

func serviceName(res pcommon.Map) string {
	if v, ok := res.Get("service.name"); ok {
		return v.AsString()
	}
	return "unknown_service"
}

// nameHash is a 16-bit FNV-1a of the span name: together with exact start
// and end times it tells a replayed span from a colliding one.
func nameHash(name string) uint16 {
	h := uint32(2166136261)
	for i := 0; i < len(name); i++ {
		h ^= uint32(name[i])
		h *= 16777619
	}
	return uint16(h ^ h>>16)
}

// removeEmptied drops the scopes that dropping replays emptied (by their
// resource and scope index) and resources left without scopes by that;
// scopes that arrived empty pass on untouched.
func removeEmptied(td ptrace.Traces, emptied [][2]int) {
	i := 0
	td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
		j := 0
		removed := false
		rs.ScopeSpans().RemoveIf(func(ptrace.ScopeSpans) bool {
			gone := len(emptied) > 0 && emptied[0] == [2]int{i, j}
			if gone {
				emptied = emptied[1:]
				removed = true
			}
			j++
			return gone
		})
		i++
		return removed && rs.ScopeSpans().Len() == 0
	})
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/duplog"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/metadata"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
)

// tracesProcessor is the traces-pipeline face of a core: it indexes spans
// and handles duplicate span IDs. Its telemetry carries its pipeline's
// attributes.
type tracesProcessor struct {
	core      *core
	telemetry *metadata.TelemetryBuilder
	drop      bool

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
		telemetry:         tb,
		drop:              c.cfg.Duplicates.Action == ActionDropReplays,
		optReplay:         attrOpt("kind", "replay"),
		optCollision:      attrOpt("kind", "collision"),
		optInvalidID:      attrOpt("reason", "invalid_id"),
		optEndBeforeStart: attrOpt("reason", "end_before_start"),
		optEvictTTL:       attrOpt("reason", "ttl"),
		optEvictCapacity:  attrOpt("reason", "capacity"),
	}
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
}

func (tp *tracesProcessor) process(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	c := tp.core
	now := c.clock.Now()
	key := c.key()
	defer c.putKey(key)

	var st traceStats
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := rs.Resource().Attributes()
		c.rules.ResourceKey(key, res)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			tp.processSpans(now, key, res, sss.At(j).Spans(), &st)
		}
	}
	tp.record(ctx, &st)

	if st.dropped > 0 {
		removeEmpty(td)
		if td.ResourceSpans().Len() == 0 {
			return td, processorhelper.ErrSkipProcessingData
		}
	}
	return td, nil
}

// processSpans indexes one scope's spans under one lock acquisition and
// flags or drops the duplicates.
func (tp *tracesProcessor) processSpans(now time.Time, key *spanindex.Key, res pcommon.Map, spans ptrace.SpanSlice, st *traceStats) {
	c := tp.core
	var dropBuf [8]int
	drops := dropBuf[:0]

	w := c.index.BeginWrite(now.UnixNano())
	for k := 0; k < spans.Len(); k++ {
		span := spans.At(k)
		tid, sid := span.TraceID(), span.SpanID()
		if tid.IsEmpty() || sid.IsEmpty() {
			st.invalidID++
			continue
		}
		s := spanindex.Span{
			TraceID:  tid,
			SpanID:   sid,
			Start:    uint64(span.StartTimestamp()),
			End:      uint64(span.EndTimestamp()),
			NameHash: nameHash(span.Name()),
			Kind:     uint8(span.Kind()),
		}
		if s.End < s.Start {
			st.endBeforeStart++
		}
		outcome, ref := w.Insert(&s, c.rules.SpanKey(key, span))
		switch outcome {
		case spanindex.Indexed:
			st.indexed++
			if c.rules.NeedsExtra() {
				w.SetExtra(ref, c.rules.Extra(span))
			}
		case spanindex.Replay:
			st.replays++
			if tp.drop {
				drops = append(drops, k)
			} else {
				span.Attributes().PutStr(c.cfg.Duplicates.Attribute, "replay")
			}
			c.dups.Report(now, serviceName(res), duplog.Replay, duplog.Example{TraceID: tid, SpanID: sid, Name: span.Name()})
		case spanindex.Collision:
			st.collisions++
			span.Attributes().PutStr(c.cfg.Duplicates.Attribute, "collision")
			c.dups.Report(now, serviceName(res), duplog.Collision, duplog.Example{TraceID: tid, SpanID: sid, Name: span.Name()})
		}
	}
	w.End()

	if len(drops) > 0 {
		st.dropped += uint64(len(drops))
		i, next := 0, 0
		spans.RemoveIf(func(ptrace.Span) bool {
			drop := next < len(drops) && drops[next] == i
			if drop {
				next++
			}
			i++
			return drop
		})
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

// removeEmpty drops scopes and resources left without spans.
func removeEmpty(td ptrace.Traces) {
	td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
		rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool { return ss.Spans().Len() == 0 })
		return rs.ScopeSpans().Len() == 0
	})
}

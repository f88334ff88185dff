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
	"go.uber.org/zap"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/duplog"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/metadata"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/pdataslice"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/rules"
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
	// maxDuration is index.max_span_duration in ns.
	maxDuration uint64
	batches     sync.Pool
}

func newTracesProcessor(c *core, set processor.Settings) (*tracesProcessor, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	tp := &tracesProcessor{
		core:        c,
		logger:      set.Logger,
		telemetry:   tb,
		drop:        c.cfg.Duplicates.Action == ActionDropReplays,
		maxDuration: uint64(c.cfg.Index.MaxSpanDuration.Nanoseconds()),
	}
	tp.batches.New = func() any { return &spanBatch{keyer: c.rules.NewSpanKeyer(c.index.NewKey())} }
	return tp, nil
}

func (tp *tracesProcessor) shutdown(context.Context) error {
	tp.telemetry.Shutdown()
	return nil
}

type traceStats struct {
	indexed, replays, collisions, dropped uint64
	invalidID, endBeforeStart             uint64
	zeroTimestamp, tooLong                uint64
	emptiedScopes                         [][2]int // resource, scope index
}

func (tp *tracesProcessor) process(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	sb := tp.batches.Get().(*spanBatch)
	defer tp.batches.Put(sb)

	var st traceStats
	now := tp.core.clock.Now()
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := rs.Resource().Attributes()
		sb.keyer.Resource(res)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			sw := scopeWrite{tp: tp, sb: sb, st: &st, now: now, res: res, at: [2]int{i, j}}
			sw.write(sss.At(j).Spans())
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
	keyer  *rules.SpanKeyer
	spans  [prefetchBatch]spanindex.Span
	hashes [prefetchBatch]uint64
	checks [prefetchBatch]spanCheck
	groups [prefetchBatch]spanindex.GroupID
	drops  []int
}

// prefetchBatch is how many spans are hashed and prefetched together.
const prefetchBatch = 256

// spanCheck says whether a span can describe a request, and so is indexed.
type spanCheck uint8

const (
	spanOK spanCheck = iota
	// spanEndBeforeStart is indexed with no duration, and counted.
	spanEndBeforeStart
	spanInvalidID
	spanZeroTimestamp
	spanTooLong
)

// scopeWrite indexes one scope's spans.
type scopeWrite struct {
	tp  *tracesProcessor
	sb  *spanBatch
	st  *traceStats
	now time.Time
	res pcommon.Map
	at  [2]int // resource and scope index
}

// write indexes the scope's spans under one lock acquisition and flags or
// drops the duplicates.
func (sw *scopeWrite) write(spans ptrace.SpanSlice) {
	sb := sw.sb
	sb.drops = sb.drops[:0]
	w := sw.tp.core.index.BeginWrite(sw.now)
	for from := 0; from < spans.Len(); from += prefetchBatch {
		to := min(from+prefetchBatch, spans.Len())
		sw.read(&w, spans, from, to)
		// Touch the ID table slots of the block together: the cache misses
		// overlap instead of queueing.
		w.Prefetch(sb.hashes[:to-from])
		for k := from; k < to; k++ {
			sw.insert(&w, k, k-from, spans.At(k))
		}
	}
	w.End()

	if len(sb.drops) > 0 {
		sw.st.dropped += uint64(len(sb.drops))
		spans.RemoveIf(pdataslice.AtIndexes[ptrace.Span](sb.drops))
		if spans.Len() == 0 {
			sw.st.emptiedScopes = append(sw.st.emptiedScopes, sw.at)
		}
	}
}

// read takes what the index keeps of spans [from, to), hashes their IDs
// and, for those that will be indexed, pins their join groups.
func (sw *scopeWrite) read(w *spanindex.Writer, spans ptrace.SpanSlice, from, to int) {
	sb := sw.sb
	for k := from; k < to; k++ {
		span := spans.At(k)
		i := k - from
		s := &sb.spans[i]
		*s = spanindex.Span{
			TraceID:  span.TraceID(),
			SpanID:   span.SpanID(),
			Start:    uint64(span.StartTimestamp()),
			End:      uint64(span.EndTimestamp()),
			NameHash: w.NameHash(span.Name()),
			Kind:     uint8(span.Kind()),
		}
		sb.hashes[i] = w.Hash(s)
		sb.checks[i] = sw.tp.check(s)
		sb.groups[i] = spanindex.NoGroup
		if sb.checks[i] <= spanEndBeforeStart {
			if key := sb.keyer.Key(span); key != nil {
				sb.groups[i] = w.Pin(key)
			}
		}
	}
}

// check says whether s describes a request.
func (tp *tracesProcessor) check(s *spanindex.Span) spanCheck {
	switch {
	case pcommon.TraceID(s.TraceID).IsEmpty() || pcommon.SpanID(s.SpanID).IsEmpty():
		return spanInvalidID
	case s.Start == 0 || s.End == 0:
		// Not a request: a latency join would read a decades-long span.
		return spanZeroTimestamp
	case s.End > s.Start && s.End-s.Start > tp.maxDuration:
		return spanTooLong
	case s.End < s.Start:
		return spanEndBeforeStart
	}
	return spanOK
}

// insert indexes the k-th span (slot i of the block) and flags or marks for
// dropping a duplicate.
func (sw *scopeWrite) insert(w *spanindex.Writer, k, i int, span ptrace.Span) {
	c, sb, st := sw.tp.core, sw.sb, sw.st
	switch sb.checks[i] {
	case spanInvalidID:
		st.invalidID++
		return
	case spanZeroTimestamp:
		st.zeroTimestamp++
		return
	case spanTooLong:
		st.tooLong++
		return
	case spanEndBeforeStart:
		st.endBeforeStart++
	case spanOK:
	}
	outcome, ref := w.InsertPinned(&sb.spans[i], sb.hashes[i], sb.groups[i])
	switch outcome {
	case spanindex.Indexed:
		st.indexed++
		if c.rules.NeedsExtra() {
			w.SetExtra(ref, c.rules.Extra(span))
		}
	case spanindex.Replay:
		st.replays++
		if sw.tp.drop {
			sb.drops = append(sb.drops, k)
		} else {
			span.Attributes().PutStr(c.cfg.Duplicates.Attribute, "replay")
		}
		sw.report(duplog.Replay, span)
	case spanindex.Collision:
		st.collisions++
		span.Attributes().PutStr(c.cfg.Duplicates.Attribute, "collision")
		sw.report(duplog.Collision, span)
	}
}

// report counts a duplicate of the scope's service for the rate-limited
// warning.
func (sw *scopeWrite) report(kind duplog.Kind, span ptrace.Span) {
	ex := duplog.Example{TraceID: span.TraceID(), SpanID: span.SpanID(), Name: span.Name()}
	sw.tp.core.dups.Report(sw.tp.logger, sw.now, serviceName(sw.res), kind, ex)
}

func (tp *tracesProcessor) record(ctx context.Context, st *traceStats) {
	tb := tp.telemetry
	addCount(ctx, tb.ProcessorExemplarSpansIndexed, st.indexed)
	addCount(ctx, tb.ProcessorExemplarSpansDuplicate, st.replays, duplicateReplay)
	addCount(ctx, tb.ProcessorExemplarSpansDuplicate, st.collisions, duplicateCollision)
	addCount(ctx, tb.ProcessorExemplarSpansDropped, st.dropped)
	addCount(ctx, tb.ProcessorExemplarSpansInvalid, st.invalidID, invalidID)
	addCount(ctx, tb.ProcessorExemplarSpansInvalid, st.endBeforeStart, invalidEndBeforeStart)
	addCount(ctx, tb.ProcessorExemplarSpansInvalid, st.zeroTimestamp, invalidZeroTimestamp)
	addCount(ctx, tb.ProcessorExemplarSpansInvalid, st.tooLong, invalidTooLong)
}

func serviceName(res pcommon.Map) string {
	if v, ok := res.Get("service.name"); ok {
		return v.AsString()
	}
	return "unknown_service"
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

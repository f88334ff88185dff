// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth_test

import (
	"encoding/binary"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"
)

// Hand-built workloads: one histogram stream and a few spans, each span in
// its own batch and each point in its own, delivered in tick order.

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

const otelhttpScope = "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

// bounds are the stable HTTP duration buckets (s), cut short.
var bounds = []float64{0.005, 0.01, 0.025, 0.05, 0.1}

type spanSpec struct {
	id      uint64
	traceID uint64 // 0: id
	service string
	kind    ptrace.SpanKind
	name    string
	attrs   map[string]any
	end     time.Duration // after t0
	dur     time.Duration
	tick    int
}

type exSpec struct {
	span    uint64
	traceID uint64 // 0: span
	value   float64
	ts      time.Duration // after t0; 0: the span's end
	// replaced: an exemplar the point arrived with that the processor
	// removed (a traceless one whose bucket a span's exemplar took).
	replaced bool
}

type pointSpec struct {
	start, time time.Duration // after t0
	counts      []uint64      // explicit buckets, or positive expo buckets
	given       []exSpec      // exemplars the point arrives with
	attached    []exSpec      // exemplars the processor added
	tick        int
	// rescaled: an exponential point at scale and offset, not the
	// stream's.
	rescaled      bool
	scale, offset int32
}

// stream says what the scenario's metric is.
type stream struct {
	metric, unit, scope string
	cumulative          bool
	// expo: an exponential histogram at scale with positive buckets from
	// offset; else explicit with bounds.
	expo          bool
	scale, offset int32
	bounds        []float64
	attrs         map[string]any
}

type scenario struct {
	stream stream
	spans  []spanSpec
	points []pointSpec
}

// serverStream is a delta http.server.request.duration stream of otelhttp.
func serverStream() stream {
	return stream{
		metric: "http.server.request.duration", unit: "s", scope: otelhttpScope, bounds: bounds,
		attrs: map[string]any{"http.request.method": "GET", "http.route": "/a", "http.response.status_code": 200},
	}
}

// serverSpan is a span that joins serverStream's points.
func serverSpan(id uint64, end, dur time.Duration) spanSpec {
	return spanSpec{
		id: id, service: "svc", kind: ptrace.SpanKindServer, name: "GET /a", end: end, dur: dur,
		attrs: map[string]any{"http.request.method": "GET", "http.route": "/a", "http.response.status_code": 200},
	}
}

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

func traceID(n uint64) pcommon.TraceID {
	var id pcommon.TraceID
	binary.BigEndian.PutUint64(id[8:], n)
	return id
}

func spanID(n uint64) pcommon.SpanID {
	var id pcommon.SpanID
	binary.BigEndian.PutUint64(id[:], n)
	return id
}

func putAttrs(m pcommon.Map, attrs map[string]any) {
	for k, v := range attrs {
		switch v := v.(type) {
		case int:
			m.PutInt(k, int64(v))
		case string:
			m.PutStr(k, v)
		}
	}
}

func (sc *scenario) traces(s spanSpec) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", s.service)
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	tid := s.traceID
	if tid == 0 {
		tid = s.id
	}
	sp.SetTraceID(traceID(tid))
	sp.SetSpanID(spanID(s.id))
	sp.SetKind(s.kind)
	sp.SetName(s.name)
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(t0.Add(s.end - s.dur)))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(t0.Add(s.end)))
	putAttrs(sp.Attributes(), s.attrs)
	return td
}

func (sc *scenario) spanEnd(id uint64) time.Duration {
	for _, s := range sc.spans {
		if s.id == id {
			return s.end
		}
	}
	return 0
}

// metrics builds point p, with its given exemplars and, for the output,
// the attached ones after them.
func (sc *scenario) metrics(p pointSpec, output bool) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "svc")
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(sc.stream.scope)
	m := sm.Metrics().AppendEmpty()
	m.SetName(sc.stream.metric)
	m.SetUnit(sc.stream.unit)
	temporality := pmetric.AggregationTemporalityDelta
	if sc.stream.cumulative {
		temporality = pmetric.AggregationTemporalityCumulative
	}
	var exs []exSpec
	for _, e := range p.given {
		if !output || !e.replaced {
			exs = append(exs, e)
		}
	}
	if output {
		exs = append(exs, p.attached...)
	}
	var dst pmetric.ExemplarSlice
	if sc.stream.expo {
		h := m.SetEmptyExponentialHistogram()
		h.SetAggregationTemporality(temporality)
		dp := h.DataPoints().AppendEmpty()
		putAttrs(dp.Attributes(), sc.stream.attrs)
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(t0.Add(p.start)))
		dp.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(p.time)))
		scale, offset := sc.stream.scale, sc.stream.offset
		if p.rescaled {
			scale, offset = p.scale, p.offset
		}
		dp.SetScale(scale)
		dp.Positive().SetOffset(offset)
		dp.Positive().BucketCounts().FromRaw(p.counts)
		dst = dp.Exemplars()
	} else {
		h := m.SetEmptyHistogram()
		h.SetAggregationTemporality(temporality)
		dp := h.DataPoints().AppendEmpty()
		putAttrs(dp.Attributes(), sc.stream.attrs)
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(t0.Add(p.start)))
		dp.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(p.time)))
		dp.ExplicitBounds().FromRaw(sc.stream.bounds)
		dp.BucketCounts().FromRaw(p.counts)
		dst = dp.Exemplars()
	}
	for _, e := range exs {
		ex := dst.AppendEmpty()
		tid := e.traceID
		if tid == 0 {
			tid = e.span
		}
		if e.span != 0 {
			ex.SetTraceID(traceID(tid))
			ex.SetSpanID(spanID(e.span))
		}
		ts := e.ts
		if ts == 0 {
			ts = sc.spanEnd(e.span)
		}
		ex.SetTimestamp(pcommon.NewTimestampFromTime(t0.Add(ts)))
		ex.SetDoubleValue(e.value)
	}
	return md
}

// judge runs the judge over the scenario.
func (sc *scenario) judge() *groundtruth.Report {
	spans := groundtruth.NewSpans()
	for _, s := range sc.spans {
		spans.Add(sc.traces(s), s.tick)
	}
	in, out := groundtruth.NewStreams(), groundtruth.NewStreams()
	for _, p := range sc.points {
		in.Add(sc.metrics(p, false), p.tick)
		out.Add(sc.metrics(p, true), p.tick)
	}
	return groundtruth.NewJudge(spans, in, out, groundtruth.DefaultSkews()).Run()
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor_test

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// The SDK's data converted to pdata the way an OTLP exporter and receiver
// pair would deliver it to the collector.

func gtPutAttributes(dst pcommon.Map, kvs []attribute.KeyValue) {
	dst.EnsureCapacity(len(kvs))
	for _, kv := range kvs {
		gtPutValue(dst.PutEmpty(string(kv.Key)), kv.Value)
	}
}

func gtPutValue(dst pcommon.Value, v attribute.Value) {
	switch v.Type() {
	case attribute.BOOL:
		dst.SetBool(v.AsBool())
	case attribute.INT64:
		dst.SetInt(v.AsInt64())
	case attribute.FLOAT64:
		dst.SetDouble(v.AsFloat64())
	case attribute.STRING:
		dst.SetStr(v.AsString())
	case attribute.BOOLSLICE:
		s := dst.SetEmptySlice()
		for _, b := range v.AsBoolSlice() {
			s.AppendEmpty().SetBool(b)
		}
	case attribute.INT64SLICE:
		s := dst.SetEmptySlice()
		for _, i := range v.AsInt64Slice() {
			s.AppendEmpty().SetInt(i)
		}
	case attribute.FLOAT64SLICE:
		s := dst.SetEmptySlice()
		for _, f := range v.AsFloat64Slice() {
			s.AppendEmpty().SetDouble(f)
		}
	case attribute.STRINGSLICE:
		s := dst.SetEmptySlice()
		for _, str := range v.AsStringSlice() {
			s.AppendEmpty().SetStr(str)
		}
	default:
		dst.SetStr(v.String())
	}
}

func gtPutScope(dst pcommon.InstrumentationScope, s instrumentation.Scope) {
	dst.SetName(s.Name)
	dst.SetVersion(s.Version)
	gtPutAttributes(dst.Attributes(), s.Attributes.ToSlice())
}

// gtMetrics converts the histograms of rms (the only instruments otelhttp
// records) to pdata.
func gtMetrics(rms []*metricdata.ResourceMetrics) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for _, rm := range rms {
		prm := md.ResourceMetrics().AppendEmpty()
		prm.SetSchemaUrl(rm.Resource.SchemaURL())
		gtPutAttributes(prm.Resource().Attributes(), rm.Resource.Attributes())
		for _, sm := range rm.ScopeMetrics {
			psm := prm.ScopeMetrics().AppendEmpty()
			psm.SetSchemaUrl(sm.Scope.SchemaURL)
			gtPutScope(psm.Scope(), sm.Scope)
			for _, m := range sm.Metrics {
				switch data := m.Data.(type) {
				case metricdata.Histogram[float64]:
					gtHistogram(psm.Metrics().AppendEmpty(), m, data)
				case metricdata.Histogram[int64]:
					gtHistogram(psm.Metrics().AppendEmpty(), m, data)
				}
			}
		}
	}
	return md
}

func gtHistogram[N int64 | float64](dst pmetric.Metric, m metricdata.Metrics, h metricdata.Histogram[N]) {
	dst.SetName(m.Name)
	dst.SetDescription(m.Description)
	dst.SetUnit(m.Unit)
	ph := dst.SetEmptyHistogram()
	ph.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	if h.Temporality == metricdata.DeltaTemporality {
		ph.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	}
	for _, dp := range h.DataPoints {
		pdp := ph.DataPoints().AppendEmpty()
		gtPutAttributes(pdp.Attributes(), dp.Attributes.ToSlice())
		pdp.SetStartTimestamp(pcommon.NewTimestampFromTime(dp.StartTime))
		pdp.SetTimestamp(pcommon.NewTimestampFromTime(dp.Time))
		pdp.SetCount(dp.Count)
		pdp.SetSum(float64(dp.Sum))
		if v, ok := dp.Min.Value(); ok {
			pdp.SetMin(float64(v))
		}
		if v, ok := dp.Max.Value(); ok {
			pdp.SetMax(float64(v))
		}
		pdp.ExplicitBounds().FromRaw(dp.Bounds)
		pdp.BucketCounts().FromRaw(dp.BucketCounts)
		for _, ex := range dp.Exemplars {
			pex := pdp.Exemplars().AppendEmpty()
			gtPutAttributes(pex.FilteredAttributes(), ex.FilteredAttributes)
			pex.SetTimestamp(pcommon.NewTimestampFromTime(ex.Time))
			switch v := any(ex.Value).(type) {
			case int64:
				pex.SetIntValue(v)
			case float64:
				pex.SetDoubleValue(v)
			}
			var tid pcommon.TraceID
			var sid pcommon.SpanID
			copy(tid[:], ex.TraceID)
			copy(sid[:], ex.SpanID)
			pex.SetTraceID(tid)
			pex.SetSpanID(sid)
		}
	}
}

var gtSpanKinds = map[trace.SpanKind]ptrace.SpanKind{
	trace.SpanKindInternal: ptrace.SpanKindInternal,
	trace.SpanKindServer:   ptrace.SpanKindServer,
	trace.SpanKindClient:   ptrace.SpanKindClient,
	trace.SpanKindProducer: ptrace.SpanKindProducer,
	trace.SpanKindConsumer: ptrace.SpanKindConsumer,
}

// gtTraces converts spans to pdata, one ResourceSpans per resource and one
// ScopeSpans per scope within it, in first-seen order.
func gtTraces(spans []sdktrace.ReadOnlySpan) ptrace.Traces {
	td := ptrace.NewTraces()
	type scopeKey struct {
		res   attribute.Distinct
		scope instrumentation.Scope
	}
	resources := map[attribute.Distinct]ptrace.ResourceSpans{}
	scopes := map[scopeKey]ptrace.SpanSlice{}
	for _, s := range spans {
		rk := s.Resource().Equivalent()
		rs, ok := resources[rk]
		if !ok {
			rs = td.ResourceSpans().AppendEmpty()
			rs.SetSchemaUrl(s.Resource().SchemaURL())
			gtPutAttributes(rs.Resource().Attributes(), s.Resource().Attributes())
			resources[rk] = rs
		}
		sk := scopeKey{res: rk, scope: s.InstrumentationScope()}
		ss, ok := scopes[sk]
		if !ok {
			pss := rs.ScopeSpans().AppendEmpty()
			pss.SetSchemaUrl(s.InstrumentationScope().SchemaURL)
			gtPutScope(pss.Scope(), s.InstrumentationScope())
			ss = pss.Spans()
			scopes[sk] = ss
		}
		gtSpan(ss.AppendEmpty(), s)
	}
	return td
}

func gtSpan(dst ptrace.Span, s sdktrace.ReadOnlySpan) {
	sc := s.SpanContext()
	dst.SetTraceID(pcommon.TraceID(sc.TraceID()))
	dst.SetSpanID(pcommon.SpanID(sc.SpanID()))
	dst.TraceState().FromRaw(sc.TraceState().String())
	if p := s.Parent(); p.SpanID().IsValid() {
		dst.SetParentSpanID(pcommon.SpanID(p.SpanID()))
	}
	dst.SetName(s.Name())
	dst.SetKind(gtSpanKinds[s.SpanKind()])
	dst.SetStartTimestamp(pcommon.NewTimestampFromTime(s.StartTime()))
	dst.SetEndTimestamp(pcommon.NewTimestampFromTime(s.EndTime()))
	gtPutAttributes(dst.Attributes(), s.Attributes())
	dst.SetDroppedAttributesCount(uint32(s.DroppedAttributes())) //nolint:gosec // a count
	switch s.Status().Code {
	case codes.Error:
		dst.Status().SetCode(ptrace.StatusCodeError)
	case codes.Ok:
		dst.Status().SetCode(ptrace.StatusCodeOk)
	}
	dst.Status().SetMessage(s.Status().Description)
	for _, ev := range s.Events() {
		pev := dst.Events().AppendEmpty()
		pev.SetName(ev.Name)
		pev.SetTimestamp(pcommon.NewTimestampFromTime(ev.Time))
		gtPutAttributes(pev.Attributes(), ev.Attributes)
	}
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Bad input never panics and never loses data: whatever OTLP the fuzzer
// makes, every span leaves the traces path (flag mode) and every data point
// leaves the metrics path (no merging), and their number is unchanged.
//
// `go test` runs the seeds; `go test -fuzz FuzzConsume -run '^$'` explores.

func fuzzSeedsTraces(f *testing.F) {
	m := &ptrace.ProtoMarshaler{}
	end := t0.Add(time.Second)
	for _, td := range []ptrace.Traces{
		tracesOf(serverSpan(1, "shop", "/a", end, 30*time.Millisecond), serverSpan(1, "shop", "/a", end, 30*time.Millisecond)),
		func() ptrace.Traces {
			td := tracesOf(serverSpan(2, "shop", "/a", end, -time.Second))
			td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetTraceID(pcommon.TraceID{})
			return td
		}(),
		ptrace.NewTraces(),
	} {
		b, err := m.MarshalTraces(td)
		require.NoError(f, err)
		f.Add(b)
	}
}

func FuzzConsumeTraces(f *testing.F) {
	fuzzSeedsTraces(f)
	h := newHarness(f, createDefaultConfig())
	u := &ptrace.ProtoUnmarshaler{}
	f.Fuzz(func(t *testing.T, b []byte) {
		td, err := u.UnmarshalTraces(b)
		if err != nil {
			return
		}
		in := td.SpanCount()
		out, err := h.traces.process(context.Background(), td)
		require.NoError(t, err)
		require.Equal(t, in, out.SpanCount())
	})
}

func FuzzConsumeMetrics(f *testing.F) {
	m := &pmetric.ProtoMarshaler{}
	for _, md := range []pmetric.Metrics{
		metricsOf(serverHist("shop", t0, t0.Add(10*time.Second), []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0})),
		metricsOf(serverHist("shop", t0, t0.Add(10*time.Second), []uint64{1, 2})),
		expMetricsOf(expHist{
			service: "shop", metric: "http.server.request.duration", unit: "s", start: t0, time: t0.Add(time.Second),
			scale: 20, zeroCount: 1, posOffset: -5, pos: []uint64{1, 0, 1}, negOffset: 3, neg: []uint64{2},
		}),
		metricsOf(withIDs(serverHist("shop", t0, t0.Add(10*time.Second), []uint64{0, 0, 0, 1, 0, 0, 0, 0, 0}), 1, true)),
	} {
		b, err := m.MarshalMetrics(md)
		require.NoError(f, err)
		f.Add(b)
	}
	h := newHarness(f, createDefaultConfig())
	h.consumeTraces(f, tracesOf(serverSpan(1, "shop", "/a", t0.Add(5*time.Second), 30*time.Millisecond)))
	u := &pmetric.ProtoUnmarshaler{}
	f.Fuzz(func(t *testing.T, b []byte) {
		md, err := u.UnmarshalMetrics(b)
		if err != nil {
			return
		}
		in := md.DataPointCount()
		out, err := h.metrics.process(context.Background(), md)
		require.NoError(t, err)
		require.Equal(t, in, out.DataPointCount())
	})
}

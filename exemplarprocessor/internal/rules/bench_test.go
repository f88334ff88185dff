// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
)

// BenchmarkSpanKey measures the span side of the join for real attribute
// sets: spans that carry every mapped attribute, and spans whose address,
// port or route are derived.
func BenchmarkSpanKey(b *testing.B) {
	set, err := Compile(nil, true, []string{"service.namespace", "service.name", "service.instance.id"}, nil)
	require.NoError(b, err)
	idx, err := spanindex.New(spanindex.Config{MaxSpans: 10, TTL: 1e12, DuplicateWindow: 1e12})
	require.NoError(b, err)
	k := idx.NewKey()
	res := pcommon.NewMap()
	res.PutStr("service.name", "checkout")
	set.ResourceKey(k, res)
	for _, tc := range []struct {
		name string
		span ptrace.Span
	}{
		{name: "own/python_old_server", span: benchSpan(b, ptrace.SpanKindServer, "GET /process", pythonOldServerSpan())},
		{name: "own/go_stable_server", span: benchSpan(b, ptrace.SpanKindServer, "GET /items/{id}", goStableServerSpan())},
		{name: "own/go_stable_client", span: benchSpan(b, ptrace.SpanKindClient, "GET", goStableClientSpan())},
		{name: "derived/python_old_client_url", span: benchSpan(b, ptrace.SpanKindClient, "GET", pythonOldClientSpan())},
		{name: "derived/route_from_span_name", span: benchSpan(b, ptrace.SpanKindServer, "GET /items/{id}", map[string]any{
			"http.request.method": "GET", "url.scheme": "http", "server.address": "shop", "http.response.status_code": int64(200),
		})},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				set.SpanKey(k, tc.span)
			}
		})
	}
}

func benchSpan(tb testing.TB, kind ptrace.SpanKind, name string, attrs map[string]any) ptrace.Span {
	tb.Helper()
	sp := ptrace.NewSpan()
	sp.SetKind(kind)
	sp.SetName(name)
	require.NoError(tb, sp.Attributes().FromRaw(attrs))
	return sp
}

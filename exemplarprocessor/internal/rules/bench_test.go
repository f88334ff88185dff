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

// BenchmarkSpanKey measures the span side of the join for the captured
// attribute sets: spans that carry what the default rules map (or lack it
// with nothing to derive), and spans that derive a path, an address and port,
// or a route.
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
		{name: "own/python_stable_server", span: benchSpan(b, ptrace.SpanKindServer, "POST /charge", pythonStableServerSpan())},
		{name: "own/go_client", span: benchSpan(b, ptrace.SpanKindClient, "HTTP POST", goStableClientSpan())},
		{name: "own/node_server_no_route", span: benchSpan(b, ptrace.SpanKindServer, "POST", nodeStableServerSpan())},
		{name: "derived/python_old_server_path_from_target", span: benchSpan(b, ptrace.SpanKindServer, "POST /process", pythonOldServerSpan())},
		{name: "derived/python_old_client_address_port_from_url", span: benchSpan(b, ptrace.SpanKindClient, "POST", pythonOldClientSpan())},
		{name: "derived/go_server_route_from_span_name", span: benchSpan(b, ptrace.SpanKindServer, "POST /charge", goStableServerSpan())},
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

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
)

// TestFamiliesKeyAsEveryDimension: reading only a rule family's dimensions
// gives every span the key that reading all of its kind's dimensions
// gives, whatever mix of attributes it carries: a span shares a group with
// exactly the spans it did.
func TestFamiliesKeyAsEveryDimension(t *testing.T) {
	specs := []Spec{{Metric: "app.duration", SpanKind: "server", Attributes: map[string]string{"tenant": "app.tenant"}}}
	set, err := Compile(specs, true, []string{"service.name"}, nil)
	require.NoError(t, err)
	full, err := Compile(specs, true, []string{"service.name"}, nil)
	require.NoError(t, err)
	for kind := range full.readers {
		full.readers[kind].families = nil
	}
	require.NotEmpty(t, set.readers[ptrace.SpanKindServer].families)
	require.NotEmpty(t, set.readers[ptrace.SpanKindClient].families)

	for name, tc := range map[string]struct {
		kind  ptrace.SpanKind
		name  string
		attrs map[string]any
	}{
		"http server":               {ptrace.SpanKindServer, "GET /a", pythonStableServerSpan()},
		"http server, rpc too":      {ptrace.SpanKindServer, "GET /a", with(goStableServerSpan(), map[string]any{"rpc.service": "Pay"})},
		"grpc server named a route": {ptrace.SpanKindServer, "GET /a", map[string]any{"rpc.system": "grpc", "rpc.method": "Charge"}},
		"grpc server":               {ptrace.SpanKindServer, "pay.Pay/Charge", map[string]any{"rpc.system.name": "grpc", "rpc.grpc.status_code": int64(4)}},
		"nothing joinable":          {ptrace.SpanKindServer, "work", map[string]any{"thread.id": int64(3)}},
		"user rule attribute":       {ptrace.SpanKindServer, "GET /a", with(goStableServerSpan(), map[string]any{"app.tenant": "t1"})},
		"http client":               {ptrace.SpanKindClient, "GET", goStableClientSpan()},
		"http client from url":      {ptrace.SpanKindClient, "GET", pythonOldClientSpan()},
		"db client with error":      {ptrace.SpanKindClient, "SELECT", map[string]any{"db.system": "postgresql", "db.operation": "SELECT", "error.type": "timeout", "server.address": "db"}},
		"db client from url":        {ptrace.SpanKindClient, "SELECT", map[string]any{"db.system.name": "mysql", "url.full": "mysql://db:3306/x"}},
		"grpc client":               {ptrace.SpanKindClient, "pay.Pay/Charge", map[string]any{"rpc.system": "grpc", "server.address": "pay", "server.port": int64(50051)}},
		"http client with db name":  {ptrace.SpanKindClient, "GET", with(goStableClientSpan(), map[string]any{"db.collection.name": "orders"})},
	} {
		t.Run(name, func(t *testing.T) {
			sp := benchSpan(t, tc.kind, tc.name, tc.attrs)
			assert.True(t, sameKey(t, set.SpanKey, full.SpanKey, sp), "family read keys like the full read")
			assert.True(t, sameKey(t, full.SpanKey, set.SpanKey, sp))
		})
	}
}

// sameKey reports whether the keys two readers build for span name one
// group: a span indexed under the first is found by the second, exactly.
func sameKey(t *testing.T, a, b func(*spanindex.Key, ptrace.Span) *spanindex.Key, sp ptrace.Span) bool {
	t.Helper()
	idx, err := spanindex.New(spanindex.Config{MaxSpans: 10, TTL: 1e12, DuplicateWindow: 1e12})
	require.NoError(t, err)
	res := pcommon.NewMap()
	res.PutStr("service.name", "shop")
	key := func(read func(*spanindex.Key, ptrace.Span) *spanindex.Key) *spanindex.Key {
		k := idx.NewKey()
		k.AddString("shop")
		return read(k, sp)
	}
	w := idx.BeginWrite(time.Unix(0, 1))
	w.Insert(&spanindex.Span{TraceID: [16]byte{1}, SpanID: [8]byte{1}, Start: 1, End: 2}, key(a))
	w.End()
	r := idx.BeginRead()
	defer r.End()
	return len(r.Groups(key(b), nil)) == 1
}

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

func TestRouteFromSpanName(t *testing.T) {
	for name, want := range map[string]string{
		"GET /items/{id}": "/items/{id}",
		"POST /orders":    "/orders",
		"_OTHER /x":       "/x",
		"GET":             "",
		"GET items":       "",
		"get /items":      "",
		"HTTP GET /a b":   "",
		"GET /a b":        "",
		"/items/{id}":     "",
		"SELECT orders":   "",
		"GET /":           "/",
	} {
		got, ok := RouteFromSpanName(name)
		assert.Equal(t, want, got, name)
		assert.Equal(t, want != "", ok, name)
	}
}

func TestLookupFirstMatchWins(t *testing.T) {
	set, err := Compile([]Spec{
		{Metric: "http.server.request.duration", SpanKind: "client"},
		{MetricRegex: `app\..*`, SpanKind: "internal"},
	}, true, []string{"service.name"}, nil)
	require.NoError(t, err)
	r, ok := set.Lookup("", "http.server.request.duration")
	require.True(t, ok)
	assert.Equal(t, ptrace.SpanKindClient, r.Kind, "a user rule replaces the default for its metric")
	r, ok = set.Lookup("", "app.checkout.duration")
	require.True(t, ok)
	assert.Equal(t, ptrace.SpanKindInternal, r.Kind)
	r, ok = set.Lookup("", "db.client.operation.duration")
	require.True(t, ok)
	assert.Equal(t, ptrace.SpanKindClient, r.Kind)
	_, ok = set.Lookup("", "process.cpu.time")
	assert.False(t, ok)
	_, ok = set.Lookup("", "app") // anchored
	assert.False(t, ok)
}

// spanKeyMatchesPoint reports whether a point of metric from scope joins
// span: it interns the span's key into a throwaway index and asks the index
// for the groups the point's key selects, the observable form of what
// SpanKey and PointKey built.
func spanKeyMatchesPoint(t *testing.T, set *Set, res map[string]any, span ptrace.Span, metric string, point map[string]any) bool {
	t.Helper()
	return joins(t, set, joinCase{res: res, span: span, metric: metric, point: point})
}

type joinCase struct {
	res           map[string]any
	span          ptrace.Span
	scope, metric string
	point         map[string]any
}

func joins(t *testing.T, set *Set, c joinCase) bool {
	t.Helper()
	idx, err := spanindex.New(spanindex.Config{MaxSpans: 10, TTL: 1e12, DuplicateWindow: 1e12})
	require.NoError(t, err)
	resMap := pcommon.NewMap()
	require.NoError(t, resMap.FromRaw(c.res))
	k := idx.NewKey()
	set.ResourceKey(k, resMap)
	sk := set.SpanKey(k, c.span)
	require.NotNil(t, sk)
	w := idx.BeginWrite(time.Unix(0, 1))
	s := spanindex.Span{TraceID: [16]byte{1}, SpanID: [8]byte{1}, Start: 1, End: 2}
	w.Insert(&s, sk)
	w.End()

	rule, ok := set.Lookup(c.scope, c.metric)
	require.True(t, ok)
	attrs := pcommon.NewMap()
	require.NoError(t, attrs.FromRaw(c.point))
	pk := idx.NewKey()
	set.PointKey(pk, resMap, rule, attrs)
	r := idx.BeginRead()
	defer r.End()
	return len(r.Groups(pk, nil)) == 1
}

func TestAliasesAndNormalisation(t *testing.T) {
	set, err := Compile(nil, true, []string{"service.name", "service.instance.id"}, nil)
	require.NoError(t, err)
	res := map[string]any{"service.name": "flask-app"}
	server := func(name string, attrs map[string]any) ptrace.Span {
		sp := ptrace.NewSpan()
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetName(name)
		require.NoError(t, sp.Attributes().FromRaw(attrs))
		return sp
	}
	oldFlask := server("GET /users/<id>", map[string]any{"http.method": "GET", "http.route": "/users/<id>", "http.target": "/users/42", "http.status_code": int64(200)})

	for _, tc := range []struct {
		name   string
		span   ptrace.Span
		metric string
		point  map[string]any
		want   bool
	}{
		{
			"flask old metric: route in http.target, status as string", oldFlask, "http.server.duration",
			map[string]any{"http.method": "GET", "http.target": "/users/<id>", "http.status_code": "200"},
			true,
		},
		{
			"stable metric against old span", oldFlask, "http.server.request.duration",
			map[string]any{"http.request.method": "GET", "http.route": "/users/<id>", "http.response.status_code": int64(200)},
			true,
		},
		{
			"status differs", oldFlask, "http.server.request.duration",
			map[string]any{"http.request.method": "GET", "http.response.status_code": int64(500)},
			false,
		},
		{
			"route beats target when both present", oldFlask, "http.server.duration",
			map[string]any{"http.method": "GET", "http.route": "/users/<id>", "http.target": "/users/42"},
			true,
		},
		{
			"unmapped point attributes do not constrain", oldFlask, "http.server.request.duration",
			map[string]any{"http.request.method": "GET", "network.protocol.version": "2"},
			true,
		},
		{
			"route from the span name", server("GET /items/{id}", map[string]any{"http.request.method": "GET", "http.response.status_code": int64(404)}),
			"http.server.request.duration",
			map[string]any{"http.request.method": "GET", "http.route": "/items/{id}", "http.response.status_code": int64(404)},
			true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, spanKeyMatchesPoint(t, set, res, tc.span, tc.metric, tc.point))
		})
	}
}

func TestResourceIdentity(t *testing.T) {
	set, err := Compile(nil, true, []string{"service.name", "service.instance.id"}, nil)
	require.NoError(t, err)
	sp := ptrace.NewSpan()
	sp.SetKind(ptrace.SpanKindClient)
	require.NoError(t, sp.Attributes().FromRaw(map[string]any{"http.request.method": "GET", "server.address": "pay", "server.port": int64(80)}))
	point := map[string]any{"http.request.method": "GET", "server.address": "pay", "server.port": "80"}
	assert.True(t, spanKeyMatchesPoint(t, set, map[string]any{"service.name": "orders"}, sp, "http.client.request.duration", point),
		"instance id absent on both sides matches")

	idx, err := spanindex.New(spanindex.Config{MaxSpans: 10, TTL: 1e12, DuplicateWindow: 1e12})
	require.NoError(t, err)
	spanRes, pointRes := pcommon.NewMap(), pcommon.NewMap()
	spanRes.PutStr("service.name", "orders")
	pointRes.PutStr("service.name", "orders")
	pointRes.PutStr("service.instance.id", "pod-1")
	k := idx.NewKey()
	set.ResourceKey(k, spanRes)
	w := idx.BeginWrite(time.Unix(0, 1))
	w.Insert(&spanindex.Span{TraceID: [16]byte{1}, SpanID: [8]byte{1}, End: 1}, set.SpanKey(k, sp))
	w.End()
	rule, _ := set.Lookup("", "http.client.request.duration")
	attrs := pcommon.NewMap()
	require.NoError(t, attrs.FromRaw(point))
	pk := idx.NewKey()
	set.PointKey(pk, pointRes, rule, attrs)
	r := idx.BeginRead()
	defer r.End()
	assert.Empty(t, r.Groups(pk, nil), "instance id on one side only does not match")
}

func TestUnitNanos(t *testing.T) {
	for unit, want := range map[string]float64{"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9, "min": 60e9} {
		got, ok := UnitNanos(unit)
		assert.True(t, ok, unit)
		assert.InDelta(t, want, got, 0, unit)
	}
	_, ok := UnitNanos("By")
	assert.False(t, ok)
	_, ok = UnitNanos("")
	assert.False(t, ok)
}

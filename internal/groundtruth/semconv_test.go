// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"
)

func TestSpanValueAliasesAndDerivations(t *testing.T) {
	const (
		server = ptrace.SpanKindServer
		client = ptrace.SpanKindClient
	)
	for _, tc := range []struct {
		name      string
		kind      ptrace.SpanKind
		spanName  string
		attrs     map[string]any
		canonical string
		want      string // "" for: cannot be derived
	}{
		{"stable name", server, "", map[string]any{"http.request.method": "GET"}, groundtruth.AttrMethod, "GET"},
		{"old name", server, "", map[string]any{"http.method": "GET"}, groundtruth.AttrMethod, "GET"},
		{"stable wins over old", server, "", map[string]any{"http.method": "POST", "http.request.method": "GET"}, groundtruth.AttrMethod, "GET"},
		{"integer status as string", server, "", map[string]any{"http.status_code": 404}, groundtruth.AttrStatus, "404"},
		{"route attribute", server, "GET /x", map[string]any{"http.route": "/items/{id}"}, groundtruth.AttrRoute, "/items/{id}"},
		{"route from a server span's name", server, "GET /items/{id}", nil, groundtruth.AttrRoute, "/items/{id}"},
		{"no route from a client span's name", client, "GET /items/{id}", nil, groundtruth.AttrRoute, ""},
		{"no route from a bare method", server, "GET", nil, groundtruth.AttrRoute, ""},
		{"server: net.host.name", server, "", map[string]any{"net.host.name": "example.com"}, groundtruth.AttrServerAddress, "example.com"},
		{"server: host:port net.host.name", server, "", map[string]any{"net.host.name": "127.0.0.1:25100"}, groundtruth.AttrServerAddress, "127.0.0.1"},
		{"server: port of host:port net.host.name", server, "", map[string]any{"net.host.name": "127.0.0.1:25100"}, groundtruth.AttrServerPort, "25100"},
		{"server: net.host.port", server, "", map[string]any{"net.host.port": 8080}, groundtruth.AttrServerPort, "8080"},
		{"server: host:port http.host", server, "", map[string]any{"http.host": "shop:8443"}, groundtruth.AttrServerPort, "8443"},
		{"server: net.peer.name is the client", server, "", map[string]any{"net.peer.name": "10.0.0.1"}, groundtruth.AttrServerAddress, ""},
		{"client: net.peer.name", client, "", map[string]any{"net.peer.name": "pay"}, groundtruth.AttrServerAddress, "pay"},
		{"client: net.peer.port", client, "", map[string]any{"net.peer.port": 25101}, groundtruth.AttrServerPort, "25101"},
		{"client: net.host.name is not the server", client, "", map[string]any{"net.host.name": "me"}, groundtruth.AttrServerAddress, ""},
		{"client: address from http.url", client, "", map[string]any{"http.url": "http://127.0.0.1:25101/charge"}, groundtruth.AttrServerAddress, "127.0.0.1"},
		{"client: port from http.url", client, "", map[string]any{"http.url": "http://127.0.0.1:25101/charge"}, groundtruth.AttrServerPort, "25101"},
		{"client: default port of https", client, "", map[string]any{"url.full": "https://pay.example/charge"}, groundtruth.AttrServerPort, "443"},
		{"client: scheme from url.full", client, "", map[string]any{"url.full": "https://pay.example/charge"}, groundtruth.AttrScheme, "https"},
		{"client: IPv6 host", client, "", map[string]any{"url.full": "http://[::1]:80/"}, groundtruth.AttrServerAddress, "::1"},
		{"client: a relative URL names no server", client, "", map[string]any{"http.url": "/charge"}, groundtruth.AttrServerAddress, ""},
		{"nothing to derive from", client, "", map[string]any{"http.method": "GET"}, groundtruth.AttrServerPort, ""},
		{"db: old system name", client, "", map[string]any{"db.system": "postgresql"}, groundtruth.AttrDBSystem, "postgresql"},
		{"rpc: old system name", server, "", map[string]any{"rpc.system": "grpc"}, groundtruth.AttrRPCSystem, "grpc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			attrs := pcommon.NewMap()
			putAttrs(attrs, tc.attrs)
			got, ok := groundtruth.SpanValue(tc.kind, tc.spanName, attrs, tc.canonical)
			if tc.want == "" {
				assert.False(t, ok, "derived %q", got)
				return
			}
			assert.True(t, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestRuleFor(t *testing.T) {
	for metric, kind := range map[string]ptrace.SpanKind{
		"http.server.request.duration": ptrace.SpanKindServer, "http.server.duration": ptrace.SpanKindServer,
		"http.client.request.duration": ptrace.SpanKindClient, "http.client.duration": ptrace.SpanKindClient,
		"rpc.server.duration": ptrace.SpanKindServer, "rpc.client.duration": ptrace.SpanKindClient,
		"db.client.operation.duration": ptrace.SpanKindClient,
	} {
		r, ok := groundtruth.RuleFor(metric)
		assert.True(t, ok, metric)
		assert.Equal(t, kind, r.Kind, metric)
	}
	_, ok := groundtruth.RuleFor("http.server.request.body.size")
	assert.False(t, ok)
	old, _ := groundtruth.RuleFor("http.server.duration")
	stable, _ := groundtruth.RuleFor("http.server.request.duration")
	assert.Equal(t, groundtruth.AttrRoute, old.Attributes["http.target"], "Flask's old metrics carry the route in http.target")
	assert.NotContains(t, stable.Attributes, "http.target", "on stable metrics http.target is no route")
}

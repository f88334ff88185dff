// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

type instrumentationCase struct {
	name     string
	kind     ptrace.SpanKind
	spanName string
	span     map[string]any
	scope    string
	metric   string
	point    map[string]any
	want     bool
}

func runJoinCases(t *testing.T, set *Set, cases []instrumentationCase) {
	t.Helper()
	res := map[string]any{"service.name": "checkout"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			span := benchSpan(t, tc.kind, tc.spanName, tc.span)
			got := joins(t, set, joinCase{res: res, span: span, scope: tc.scope, metric: tc.metric, point: tc.point})
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestDefaultRulesJoinPerInstrumentation joins each instrumentation's real
// span attributes to its own metric points under the default rules, and
// shows that a point differing in a mapped attribute, or one the span cannot
// derive, does not join.
func TestDefaultRulesJoinPerInstrumentation(t *testing.T) {
	set, err := Compile(nil, true, []string{"service.name"}, nil)
	require.NoError(t, err)
	server, client := ptrace.SpanKindServer, ptrace.SpanKindClient
	runJoinCases(t, set, []instrumentationCase{
		{"python old server: route template in the point's http.target", server, "POST /process", pythonOldServerSpan(), scopeFlask, "http.server.duration", pythonOldServerPoint(), true},
		{"python old server: other status", server, "POST /process", pythonOldServerSpan(), scopeFlask, "http.server.duration", with(pythonOldServerPoint(), map[string]any{"http.status_code": int64(500)}), false},
		{"python old server: other route", server, "POST /process", pythonOldServerSpan(), scopeFlask, "http.server.duration", with(pythonOldServerPoint(), map[string]any{"http.target": "/refund"}), false},
		{"python old client: address and port derived from http.url", client, "POST", pythonOldClientSpan(), scopeRequests, "http.client.duration", pythonOldClientPoint(), true},
		{"python old client: wrong port", client, "POST", pythonOldClientSpan(), scopeRequests, "http.client.duration", with(pythonOldClientPoint(), map[string]any{"net.peer.port": int64(25102)}), false},
		{"python old client: different host", client, "POST", with(pythonOldClientSpan(), map[string]any{"http.url": "http://127.0.0.2:25101/charge"}), scopeRequests, "http.client.duration", pythonOldClientPoint(), false},
		{"python old client: no URL, nothing to derive", client, "POST", with(pythonOldClientSpan(), map[string]any{"http.url": nil}), scopeRequests, "http.client.duration", pythonOldClientPoint(), false},
		{"python old client: relative http.url derives nothing", client, "POST", with(pythonOldClientSpan(), map[string]any{"http.url": "/charge"}), scopeRequests, "http.client.duration", pythonOldClientPoint(), false},
		{"python old client: userinfo stripped", client, "POST", with(pythonOldClientSpan(), map[string]any{"http.url": "http://REDACTED:REDACTED@127.0.0.1:25101/charge?x=1"}), scopeRequests, "http.client.duration", pythonOldClientPoint(), true},
		{"python stable server: host:port server.address on the span, none on the point", server, "POST /charge", pythonStableServerSpan(), scopeFlask, "http.server.request.duration", pythonStableServerPoint(), true},
		{"python stable client", client, "POST", pythonStableClientSpan(), scopeRequests, "http.client.request.duration", pythonStableClientPoint(), true},
		{"python stable client: wrong port", client, "POST", pythonStableClientSpan(), scopeRequests, "http.client.request.duration", with(pythonStableClientPoint(), map[string]any{"server.port": int64(25100)}), false},
		{"node old server", server, "GET", nodeOldServerSpan(), scopeNodeHTTP, "http.server.duration", nodeOldServerPoint(), true},
		{"node old client", client, "POST", nodeOldClientSpan(), scopeNodeHTTP, "http.client.duration", nodeOldClientPoint(), true},
		{"node old client: other peer", client, "POST", nodeOldClientSpan(), scopeNodeHTTP, "http.client.duration", with(nodeOldClientPoint(), map[string]any{"net.peer.name": "payments"}), false},
		{"python stable server: other error", server, "POST /charge", pythonStableServerSpan(), scopeFlask, "http.server.request.duration", with(pythonStableServerPoint(), map[string]any{"error.type": "TimeoutError", "http.response.status_code": nil}), false},
		{"node stable server", server, "POST", nodeStableServerSpan(), scopeNodeHTTP, "http.server.request.duration", nodeStableServerPoint(), true},
		{"node stable server: a failed request without status is no 502", server, "POST", with(nodeStableServerSpan(), map[string]any{"error.type": nil, "http.response.status_code": int64(200)}), scopeNodeHTTP, "http.server.request.duration", with(nodeStableServerPoint(), map[string]any{"http.response.status_code": nil, "error.type": "ECONNRESET"}), false},
		{"node stable client", client, "POST", nodeStableClientSpan(), scopeNodeHTTP, "http.client.request.duration", nodeStableClientPoint(), true},
		{"go server: route from the span name", server, "POST /charge", goStableServerSpan(), scopeOtelHTTP, "http.server.request.duration", goStableServerPoint(), true},
		{"go server: other route", server, "POST /charge", goStableServerSpan(), scopeOtelHTTP, "http.server.request.duration", with(goStableServerPoint(), map[string]any{"http.route": "/refund"}), false},
		{"go server: no route anywhere on the span", server, "POST", goStableServerSpan(), scopeOtelHTTP, "http.server.request.duration", goStableServerPoint(), false},
		{"go client: error.type on the span only", client, "HTTP POST", goStableClientSpan(), scopeOtelHTTP, "http.client.request.duration", goStableClientPoint(), true},
		{"go client: default port omitted on both sides", client, "HTTP POST", with(goStableClientSpan(), map[string]any{"url.full": "https://shop.example/items/42", "server.address": "shop.example", "server.port": nil}), scopeOtelHTTP, "http.client.request.duration", with(goStableClientPoint(), map[string]any{"server.address": "shop.example", "server.port": nil}), true},
	})
}

// TestAddressesAndPorts pins what equals what for addresses and ports.
// Address values compare by host part ("h:1" equals "h" and "[::1]" equals
// "::1"); ports compare by number. A side without a port attribute takes the
// port of its host:port value (span: also of its URL, with the scheme's
// default); a point that has neither does not constrain the port, a span
// that has neither has it absent.
func TestAddressesAndPorts(t *testing.T) {
	set, err := Compile([]Spec{{
		Metric: "http.server.duration", SpanKind: "server",
		Attributes: map[string]string{"net.host.name": "server.address", "net.host.port": "server.port", "server.address": "server.address", "server.port": "server.port"},
	}}, true, []string{"service.name"}, nil)
	require.NoError(t, err)
	server, client := ptrace.SpanKindServer, ptrace.SpanKindClient
	srv := func(attrs map[string]any) map[string]any {
		return with(map[string]any{"http.method": "GET", "http.status_code": int64(200)}, attrs)
	}
	cli := func(url string) map[string]any {
		return map[string]any{"http.method": "GET", "http.url": url, "http.status_code": int64(200)}
	}
	peer := func(name string, port any) map[string]any {
		return map[string]any{"http.method": "GET", "net.peer.name": name, "net.peer.port": port, "http.status_code": int64(200)}
	}
	sm, cm := "http.server.duration", "http.client.duration"
	runJoinCases(t, set, []instrumentationCase{
		{"python old: both sides host:port", server, "GET", pythonOldServerSpan(), scopeFlask, sm, with(pythonOldServerPoint(), map[string]any{"http.method": "POST", "http.target": nil}), true},
		{"span host:port, point host", server, "GET", srv(map[string]any{"net.host.name": "127.0.0.1:25100", "net.host.port": int64(25100)}), "", sm, srv(map[string]any{"net.host.name": "127.0.0.1", "net.host.port": int64(25100)}), true},
		{"span host, point host:port, same port", server, "GET", srv(map[string]any{"server.address": "127.0.0.1", "server.port": int64(25100)}), "", sm, srv(map[string]any{"server.address": "127.0.0.1:25100"}), true},
		{"span host, point host:port, other port", server, "GET", srv(map[string]any{"server.address": "127.0.0.1", "server.port": int64(9999)}), "", sm, srv(map[string]any{"server.address": "127.0.0.1:25100"}), false},
		{"span host without port, point host:port", server, "GET", srv(map[string]any{"server.address": "127.0.0.1"}), "", sm, srv(map[string]any{"server.address": "127.0.0.1:25100"}), false},
		{"span host:port gives the port", server, "GET", srv(map[string]any{"server.address": "127.0.0.1:25100"}), "", sm, srv(map[string]any{"server.address": "127.0.0.1", "server.port": "25100"}), true},
		{"span port from http.host", server, "GET", srv(map[string]any{"net.host.name": "shop", "http.host": "shop:8080"}), "", sm, srv(map[string]any{"net.host.name": "shop", "net.host.port": int64(8080)}), true},
		{"span address from http.host", server, "GET", srv(map[string]any{"http.host": "shop:8080"}), "", sm, srv(map[string]any{"net.host.name": "shop"}), true},
		{"span address from http.url", server, "GET", srv(map[string]any{"http.url": "http://shop:8080/x"}), "", sm, srv(map[string]any{"net.host.name": "shop", "net.host.port": int64(8080)}), true},
		{"point without port does not constrain it", server, "GET", srv(map[string]any{"net.host.name": "shop", "net.host.port": int64(8080)}), "", sm, srv(map[string]any{"net.host.name": "shop"}), true},
		{"address missing, not derivable", server, "GET", srv(nil), "", sm, srv(map[string]any{"net.host.name": "shop"}), false},
		{"host part only: different host", server, "GET", srv(map[string]any{"net.host.name": "shop:8080"}), "", sm, srv(map[string]any{"net.host.name": "shop2:8080"}), false},
		{"IPv6 URL against bare literal", client, "GET", cli("http://[::1]:25101/x"), "", cm, peer("::1", int64(25101)), true},
		{"IPv6 URL against bracketed name (Node.js)", client, "GET", cli("http://[::1]:25101/x"), "", cm, peer("[::1]", int64(25101)), true},
		{"IPv6 URL, other port", client, "GET", cli("http://[::1]:25101/x"), "", cm, peer("::1", int64(25102)), false},
		{"IPv6 URL without port: scheme default", client, "GET", cli("https://[2001:db8::1]/x"), "", cm, peer("2001:db8::1", int64(443)), true},
		{"https default port 443", client, "GET", cli("https://pay.example/charge"), "", cm, peer("pay.example", int64(443)), true},
		{"http default port 80", client, "GET", cli("http://pay.example/charge"), "", cm, peer("pay.example", "80"), true},
		{"default port is not another port", client, "GET", cli("https://pay.example/charge"), "", cm, peer("pay.example", int64(80)), false},
		{"explicit port beats the default", client, "GET", cli("https://pay.example:8443/charge"), "", cm, peer("pay.example", int64(8443)), true},
		{"unknown scheme has no default port", client, "GET", cli("ftp://pay.example/charge"), "", cm, peer("pay.example", int64(21)), false},
		{"malformed port derives nothing", client, "GET", cli("http://pay.example:99999/charge"), "", cm, peer("pay.example", int64(99999)), false},
		{"own attributes beat the URL", client, "GET", with(cli("http://other:1/x"), map[string]any{"net.peer.name": "pay", "net.peer.port": int64(2)}), "", cm, peer("pay", int64(2)), true},
	})
}

// TestTargetMeaningByScope shows that a point's http.target joins the span's
// route where the instrumentation puts the route template there, the span's
// path where it puts the raw path, and the route when the scope does not tell.
func TestTargetMeaningByScope(t *testing.T) {
	set, err := Compile(nil, true, []string{"service.name"}, nil)
	require.NoError(t, err)
	server := ptrace.SpanKindServer
	span := map[string]any{"http.method": "GET", "http.target": "/users/42?x=1", "http.route": "/users/<id>", "http.status_code": int64(200)}
	tornadoSpan := map[string]any{"http.method": "GET", "http.target": "/users/42?x=1", "http.status_code": int64(200)}
	point := func(target string) map[string]any {
		return map[string]any{"http.method": "GET", "http.target": target, "http.status_code": int64(200)}
	}
	sm := "http.server.duration"
	runJoinCases(t, set, []instrumentationCase{
		{"flask: template", server, "GET /users/<id>", span, scopeFlask, sm, point("/users/<id>"), true},
		{"flask: a raw path is no route", server, "GET /users/<id>", span, scopeFlask, sm, point("/users/42"), false},
		{"django: template", server, "GET /users/<id>", span, "opentelemetry.instrumentation.django", sm, point("/users/<id>"), true},
		{"unknown scope: template, as before", server, "GET /users/<id>", span, "", sm, point("/users/<id>"), true},
		{"unknown scope: raw path does not join the route", server, "GET /users/<id>", span, "my.scope", sm, point("/users/42"), false},
		{"tornado: raw path joins the span's path", server, "MainHandler.get", tornadoSpan, scopeTornado, sm, point("/users/42"), true},
		{"tornado: other path", server, "MainHandler.get", tornadoSpan, scopeTornado, sm, point("/users/7"), false},
		{"tornado: stable span path", server, "GET", map[string]any{"http.method": "GET", "url.path": "/users/42", "http.status_code": int64(200)}, scopeTornado, sm, point("/users/42"), true},
		{"tornado: a span without any path", server, "GET", map[string]any{"http.method": "GET", "http.status_code": int64(200)}, scopeTornado, sm, point("/users/42"), false},
	})
}

// TestGRPCStatusForms joins the numeric rpc.grpc.status_code to the named
// rpc.response.status_code.
func TestGRPCStatusForms(t *testing.T) {
	set, err := Compile(nil, true, []string{"service.name"}, nil)
	require.NoError(t, err)
	span := map[string]any{"rpc.system": "grpc", "rpc.service": "shop.Cart", "rpc.method": "Add", "rpc.grpc.status_code": int64(4)}
	point := func(status any) map[string]any {
		return map[string]any{"rpc.system.name": "grpc", "rpc.service": "shop.Cart", "rpc.method": "Add", "rpc.response.status_code": status}
	}
	runJoinCases(t, set, []instrumentationCase{
		{"number against name", ptrace.SpanKindServer, "shop.Cart/Add", span, "", "rpc.server.duration", point("DEADLINE_EXCEEDED"), true},
		{"number against number", ptrace.SpanKindServer, "shop.Cart/Add", span, "", "rpc.server.duration", with(point(nil), map[string]any{"rpc.grpc.status_code": int64(4)}), true},
		{"other status", ptrace.SpanKindServer, "shop.Cart/Add", span, "", "rpc.server.duration", point("OK"), false},
		{"unknown code stays a number", ptrace.SpanKindClient, "x", with(span, map[string]any{"rpc.grpc.status_code": int64(99)}), "", "rpc.client.duration", point("99"), true},
	})
}

func TestCompileBoundsAttributeNames(t *testing.T) {
	attrs := map[string]string{}
	for i := range maxSlots + 1 {
		attrs[string(rune('a'+i%26))+string(rune('a'+i/26))] = string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	_, err := Compile([]Spec{{Metric: "m", SpanKind: "internal", Attributes: attrs}}, false, nil, nil)
	require.ErrorIs(t, err, errTooManyNames)
	delete(attrs, "aa")
	_, err = Compile([]Spec{{Metric: "m", SpanKind: "internal", Attributes: attrs}}, false, nil, nil)
	require.NoError(t, err)
}

func TestLongAttributeNames(t *testing.T) {
	long := "app.an.attribute.name.well.beyond.sixty.four.characters.to.test.the.fallback"
	set, err := Compile([]Spec{{Metric: "m", SpanKind: "internal", Attributes: map[string]string{long: long}}}, false, []string{"service.name"}, nil)
	require.NoError(t, err)
	span := benchSpan(t, ptrace.SpanKindInternal, "x", map[string]any{long: "v"})
	res := map[string]any{"service.name": "s"}
	assert.True(t, joins(t, set, joinCase{res: res, span: span, metric: "m", point: map[string]any{long: "v"}}))
	assert.False(t, joins(t, set, joinCase{res: res, span: span, metric: "m", point: map[string]any{long: "w"}}))
}

// TestDefaultRulesMapEveryAlias: the default rules name canonical attributes
// only; every name the conventions table gives one constrains the join on
// the point side, and a span carrying any of them is read.
func TestDefaultRulesMapEveryAlias(t *testing.T) {
	set, err := Compile(nil, true, []string{"service.name"}, nil)
	require.NoError(t, err)
	res := map[string]any{"service.name": "s"}
	checked := 0
	for _, d := range defaultRules() {
		kind, ok := spanKindOf(d.kind)
		require.True(t, ok)
		for _, canon := range d.canonical {
			for _, spanName := range set.conv.names(canon, kind) {
				for _, pointName := range set.conv.names(canon, kind) {
					span := benchSpan(t, kind, "x", map[string]any{spanName: "v"})
					c := joinCase{res: res, span: span, metric: d.metric}
					c.point = map[string]any{pointName: "v"}
					assert.True(t, joins(t, set, c), "%s: span %s, point %s", d.metric, spanName, pointName)
					c.point = map[string]any{pointName: "w"}
					assert.False(t, joins(t, set, c), "%s: span %s, point %s differs", d.metric, spanName, pointName)
					checked++
				}
			}
		}
	}
	assert.Greater(t, checked, 50)
}

// TestSchemeFromURL: a rule that maps the scheme joins a span that has it
// only in its URL.
func TestSchemeFromURL(t *testing.T) {
	set, err := Compile([]Spec{{
		Metric: "http.client.duration", SpanKind: "client",
		Attributes: map[string]string{"http.method": "http.request.method", "http.scheme": "url.scheme", "net.peer.name": "server.address"},
	}}, false, []string{"service.name"}, nil)
	require.NoError(t, err)
	client, cm := ptrace.SpanKindClient, "http.client.duration"
	runJoinCases(t, set, []instrumentationCase{
		{"python old client", client, "POST", pythonOldClientSpan(), scopeRequests, cm, pythonOldClientPoint(), true},
		{"other scheme", client, "POST", pythonOldClientSpan(), scopeRequests, cm, with(pythonOldClientPoint(), map[string]any{"http.scheme": "https"}), false},
		{"upper-case scheme in the URL", client, "POST", with(pythonOldClientSpan(), map[string]any{"http.url": "HTTP://127.0.0.1:25101/charge"}), scopeRequests, cm, pythonOldClientPoint(), true},
		{"own url.scheme beats the URL", client, "POST", with(pythonOldClientSpan(), map[string]any{"url.scheme": "https"}), scopeRequests, cm, pythonOldClientPoint(), false},
	})
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
)

func TestSplitHostPort(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want hostPort
		ok   bool
	}{
		{"127.0.0.1:25100", hostPort{"127.0.0.1", 25100, true}, true},
		{"127.0.0.1", hostPort{host: "127.0.0.1"}, true},
		{"shop.example", hostPort{host: "shop.example"}, true},
		{"shop:0080", hostPort{"shop", 80, true}, true},
		{"shop:", hostPort{host: "shop"}, true},
		{"[::1]:8080", hostPort{"::1", 8080, true}, true},
		{"[::1]", hostPort{host: "::1"}, true},
		{"::1", hostPort{host: "::1"}, true},
		{"2001:db8::1", hostPort{host: "2001:db8::1"}, true},
		{"[fe80::1%25en0]:443", hostPort{"fe80::1%25en0", 443, true}, true},
		{"shop:65536", hostPort{}, false},
		{"shop:123456", hostPort{}, false},
		{"shop:http", hostPort{}, false},
		{":8080", hostPort{}, false},
		{"[::1", hostPort{}, false},
		{"[]:80", hostPort{}, false},
		{"[::1]x", hostPort{}, false},
		{"", hostPort{}, false},
	} {
		got, ok := splitHostPort(tc.in)
		assert.Equal(t, tc.ok, ok, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

func TestHostOf(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:25100": "127.0.0.1",
		"127.0.0.1":       "127.0.0.1",
		"[::1]:80":        "::1",
		"[::1]":           "::1",
		"::1":             "::1",
		"shop:http":       "shop:http", // no host:port form: compared whole
		"":                "",
	} {
		assert.Equal(t, want, hostOf(in), in)
	}
}

func TestSplitURL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want urlParts
		ok   bool
	}{
		{"http://127.0.0.1:25101/charge", urlParts{"http", hostPort{"127.0.0.1", 25101, true}, "/charge"}, true},
		{"https://pay.example/charge?id=1#top", urlParts{"https", hostPort{"pay.example", 443, true}, "/charge"}, true},
		{"http://pay.example", urlParts{"http", hostPort{"pay.example", 80, true}, "/"}, true},
		{"http://pay.example?x=1", urlParts{"http", hostPort{"pay.example", 80, true}, "/"}, true},
		{"HTTPS://pay.example:8443/", urlParts{"https", hostPort{"pay.example", 8443, true}, "/"}, true},
		{"wss://pay.example/socket", urlParts{"wss", hostPort{"pay.example", 443, true}, "/socket"}, true},
		{"ftp://files.example/a", urlParts{"ftp", hostPort{host: "files.example"}, "/a"}, true},
		{"http://user:p%40ss@pay.example:81/x", urlParts{"http", hostPort{"pay.example", 81, true}, "/x"}, true},
		{"http://REDACTED:REDACTED@[::1]:8080/x", urlParts{"http", hostPort{"::1", 8080, true}, "/x"}, true},
		{"http://[2001:db8::1]/", urlParts{"http", hostPort{"2001:db8::1", 80, true}, "/"}, true},
		{"/charge", urlParts{}, false},
		{"pay.example:80/charge", urlParts{}, false},
		{"://pay.example/", urlParts{}, false},
		{"1http://pay.example/", urlParts{}, false},
		{"http:///charge", urlParts{}, false},
		{"http://pay.example:99999/", urlParts{}, false},
	} {
		got, ok := splitURL(tc.in)
		assert.Equal(t, tc.ok, ok, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

func TestPathOf(t *testing.T) {
	for in, want := range map[string]string{"/a/b?c=1": "/a/b", "/a#x": "/a", "/": "/", "?x": "/"} {
		assert.Equal(t, want, pathOf(in), in)
	}
}

// TestSpanKeyAllocatesNothing holds the hot path to its promise: reading and
// deriving a span's dimensions allocates nothing.
func TestSpanKeyAllocatesNothing(t *testing.T) {
	set, err := Compile(nil, true, []string{"service.name"}, nil)
	require.NoError(t, err)
	idx, err := spanindex.New(spanindex.Config{MaxSpans: 10, TTL: 1e12, DuplicateWindow: 1e12})
	require.NoError(t, err)
	k := idx.NewKey()
	res := pcommon.NewMap()
	res.PutStr("service.name", "checkout")
	set.ResourceKey(k, res)
	for name, sp := range map[string]ptrace.Span{
		"url":         benchSpan(t, ptrace.SpanKindClient, "GET", with(pythonOldClientSpan(), map[string]any{"http.url": "HTTPS://u:p@[::1]/x?y"})),
		"host:port":   benchSpan(t, ptrace.SpanKindServer, "GET", pythonStableServerSpan()),
		"target path": benchSpan(t, ptrace.SpanKindServer, "GET", pythonOldServerSpan()),
		"span name":   benchSpan(t, ptrace.SpanKindServer, "POST /charge", goStableServerSpan()),
		"grpc":        benchSpan(t, ptrace.SpanKindServer, "x", map[string]any{"rpc.grpc.status_code": int64(4)}),
	} {
		assert.Zero(t, testing.AllocsPerRun(100, func() { set.SpanKey(k, sp) }), name)
	}
}

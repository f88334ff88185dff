// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package rules

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const ms = time.Millisecond

func TestTimingPerInstrumentation(t *testing.T) {
	set, err := Compile([]Spec{{Metric: "queue.process.duration", SpanKind: "consumer"}}, true, []string{"service.name"}, nil)
	require.NoError(t, err)
	us := time.Microsecond
	for _, tc := range []struct {
		name, scope, metric, unit string
		tolerance                 time.Duration
		want                      Timing
	}{
		{"go server: metric recorded before span.End", scopeOtelHTTP, "http.server.request.duration", "s", 2 * ms, Timing{-2 * ms, 250 * us, 0}},
		{"go client: span ends at body close, after the metric", scopeOtelHTTP, "http.client.request.duration", "s", 2 * ms, Timing{-2 * ms, 250 * us, 0}},
		{"node server: metric wraps the span", scopeNodeHTTP, "http.server.duration", "ms", 2 * ms, Timing{-10 * us, 2 * ms, 0}},
		{"node client, stable", scopeNodeHTTP, "http.client.request.duration", "s", 2 * ms, Timing{-10 * us, 2 * ms, 0}},
		{"flask old: whole ms, timer wraps the span", scopeFlask, "http.server.duration", "ms", 2 * ms, Timing{-10*us - ms/2, 2 * ms, ms}},
		{"flask stable: not rounded", scopeFlask, "http.server.request.duration", "s", 2 * ms, Timing{-10 * us, 2 * ms, 0}},
		{"django old: timer inside the span", "opentelemetry.instrumentation.django", "http.server.duration", "ms", 2 * ms, Timing{-2 * ms, 10*us + ms/2, ms}},
		{"requests old: timer inside the span", scopeRequests, "http.client.duration", "ms", 2 * ms, Timing{-2 * ms, 10*us + ms/2, ms}},
		{"requests stable", scopeRequests, "http.client.request.duration", "s", 2 * ms, Timing{-2 * ms, 10 * us, 0}},
		{"a python instrumentation the table does not name", "opentelemetry.instrumentation.httpx", "http.client.duration", "ms", 2 * ms, Timing{-2 * ms, 2 * ms, 0}},
		{"unknown scope: symmetric tolerance", "io.opentelemetry.tomcat-10.0", "http.server.request.duration", "s", 2 * ms, Timing{-2 * ms, 2 * ms, 0}},
		{"no scope", "", "http.server.duration", "ms", 3 * ms, Timing{-3 * ms, 3 * ms, 0}},
		{"known scope, kind it has no figures for", scopeOtelHTTP, "queue.process.duration", "s", 2 * ms, Timing{-2 * ms, 2 * ms, 0}},
		{"tolerance clamps", scopeFlask, "http.server.duration", "ms", ms / 5, Timing{-ms / 5, ms / 5, ms}},
		{"zero tolerance", scopeOtelHTTP, "http.client.request.duration", "s", 0, Timing{0, 0, 0}},
		{"negative tolerance counts as zero", "", "http.server.duration", "ms", -ms, Timing{0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := set.Lookup(tc.scope, tc.metric)
			require.True(t, ok)
			assert.Equal(t, tc.want, r.Timing(tc.unit, tc.tolerance))
		})
	}
}

func TestTimingAdmits(t *testing.T) {
	inf := math.Inf(1)
	node := Timing{-10 * time.Microsecond, 200 * time.Microsecond, 0}
	goClient := Timing{-2 * ms, 50 * time.Microsecond, 0}
	requests := Timing{-ms - ms/2, ms / 2, ms}
	for _, tc := range []struct {
		name   string
		timing Timing
		span   time.Duration
		lo, hi float64
		unit   float64
		want   bool
	}{
		{"node: span just below the bucket, metric longer", node, 4900 * time.Microsecond, 5, 10, 1e6, true},
		{"node: span too far below", node, 4700 * time.Microsecond, 5, 10, 1e6, false},
		{"node: span just above, metric never shorter", node, 10050 * time.Microsecond, 5, 10, 1e6, false},
		{"node: span inside", node, 7 * ms, 5, 10, 1e6, true},
		{"go client: span above, metric shorter", goClient, 11500 * time.Microsecond, 5, 10, 1e6, true},
		{"go client: span just below", goClient, 4990 * time.Microsecond, 5, 10, 1e6, true},
		{"go client: span below by more than the start gap", goClient, 4900 * time.Microsecond, 5, 10, 1e6, false},
		{"go client: seconds", goClient, 4990 * time.Microsecond, 0.005, 0.01, 1e9, true},
		{"whole ms: 5.3 ms is recorded 4 or 5, not in (5, 10]", requests, 5300 * time.Microsecond, 5, 10, 1e6, false},
		{"whole ms: 5.3 ms fits (0, 5]", requests, 5300 * time.Microsecond, 0, 5, 1e6, true},
		{"whole ms: 5.6 ms may be recorded 6", requests, 5600 * time.Microsecond, 5, 10, 1e6, true},
		{"whole ms: no whole ms inside (5, 5.9]", requests, 5500 * time.Microsecond, 5, 5.9, 1e6, false},
		{"whole ms: 0.3 ms recorded 0 in (-Inf, 0]", requests, 300 * time.Microsecond, math.Inf(-1), 0, 1e6, true},
		{"whole ms: open last bucket", requests, 10600 * time.Microsecond, 10, inf, 1e6, true},
		{"durations are never negative", Timing{-2 * ms, 2 * ms, 0}, ms, math.Inf(-1), -0.5, 1e6, false},
		{"zero bucket of a span of 0", Timing{}, 0, math.Inf(-1), 0, 1e6, true},
		{"no unit", node, ms, 0, 10, 0, false},
		{"NaN bound", node, ms, math.NaN(), 10, 1e6, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.timing.Admits(tc.span, tc.lo, tc.hi, tc.unit))
		})
	}
}

func TestTimingSpanRange(t *testing.T) {
	node := Timing{-10 * time.Microsecond, 200 * time.Microsecond, 0}
	lo, hi := node.SpanRange(5, 10, 1e6)
	assert.InDelta(t, 4.8, lo, 1e-9)
	assert.InDelta(t, 10.01, hi, 1e-9)
	lo, hi = node.SpanRange(math.Inf(-1), math.Inf(1), 1e6)
	assert.True(t, math.IsInf(lo, -1))
	assert.True(t, math.IsInf(hi, 1))
}

// TestLookupPerScope: each instrumentation gets its own rule value, the same
// on every lookup, so that callers may key caches by the pointer.
func TestLookupPerScope(t *testing.T) {
	set, err := Compile(nil, true, []string{"service.name"}, nil)
	require.NoError(t, err)
	flask, ok := set.Lookup(scopeFlask, "http.server.duration")
	require.True(t, ok)
	again, _ := set.Lookup(scopeFlask, "http.server.duration")
	node, _ := set.Lookup(scopeNodeHTTP, "http.server.duration")
	unknown, _ := set.Lookup("", "http.server.duration")
	other, _ := set.Lookup("com.example.mine", "http.server.duration")
	httpx, _ := set.Lookup("opentelemetry.instrumentation.httpx", "http.server.duration")
	assert.Same(t, flask, again)
	assert.NotSame(t, flask, node)
	assert.Same(t, unknown, other)
	assert.Same(t, unknown, httpx)
	assert.Equal(t, flask.Name, node.Name)
	_, ok = set.Lookup(scopeFlask, "process.cpu.time")
	assert.False(t, ok)
}

// TestTimingDocumentedExample is the example of docs/semantic-conventions.md:
// bucket (5, 10] ms, tolerance 2 ms.
func TestTimingDocumentedExample(t *testing.T) {
	set, err := Compile(nil, true, []string{"service.name"}, nil)
	require.NoError(t, err)
	for _, tc := range []struct {
		scope, metric string
		below, above  bool
	}{
		{scopeOtelHTTP, "http.server.request.duration", false, true},
		{scopeNodeHTTP, "http.server.request.duration", true, false},
		{"", "http.server.request.duration", true, true},
	} {
		r, ok := set.Lookup(tc.scope, tc.metric)
		require.True(t, ok)
		timing := r.Timing("s", 2*ms)
		assert.Equal(t, tc.below, timing.Admits(4700*time.Microsecond, 0.005, 0.010, 1e9), "%q 4.7 ms", tc.scope)
		assert.Equal(t, tc.above, timing.Admits(10100*time.Microsecond, 0.005, 0.010, 1e9), "%q 10.1 ms", tc.scope)
	}
}

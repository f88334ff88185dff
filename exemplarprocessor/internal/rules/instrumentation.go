// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package rules // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/rules"

import (
	"math"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// instrumentation is what the join knows about one SDK instrumentation,
// which a metric names by its instrumentation scope: what its old metrics
// carry in http.target, and how the value it records for a request relates
// to the duration of the request's span. Scope names are those the
// instrumentations pass to their meter provider.
type instrumentation struct {
	// scope is the instrumentation scope name.
	scope string
	// target says what http.target means on the instrumentation's points.
	target targetMeaning
	// server and client bound the recorded value minus the span's duration
	// for the metrics of server and client spans, before rounding.
	server, client window
	// roundsMillis: values in ms are whole milliseconds (Python rounds them).
	roundsMillis bool
}

// targetMeaning says what http.target holds on an instrumentation's points.
type targetMeaning uint8

const (
	// targetRoute: the matched route template (Flask, Django, the ASGI
	// middleware under FastAPI and Starlette put it there on their old
	// metrics), joined to the span's http.route. Also used when the scope
	// does not tell: it is what the default rules did before.
	targetRoute targetMeaning = iota
	// targetPath: the raw request path (Tornado), joined to the span's
	// url.path or the path of its http.target.
	targetPath
)

// window bounds the recorded value minus the span's duration. A side the
// instrumentation does not bound is math.MinInt64 or math.MaxInt64: the
// tolerance bounds it.
type window struct{ low, high time.Duration }

func unbounded() window { return window{low: math.MinInt64, high: math.MaxInt64} }

// Where an instrumentation's timer starts and stops relative to its span
// bounds the difference on one side only: a stall (a GC pause, a busy CPU)
// between the two readings at the other end can be as long as it likes. The
// bounded sides (docs/semantic-conventions.md has the source and the
// measurements for each):
const (
	// otelhttp takes requestStartTime, then extracts the context, builds
	// the span's attributes and starts the span: the metric is longer than
	// the span by at most that. Measured (302 requests, loaded machine): at
	// most 151 µs (client), 97 µs (server).
	goStartGap = 250 * time.Microsecond
	// clockNoise covers the conversions of timestamps (Node.js: floating
	// point milliseconds) and wall against monotonic clock over a request,
	// where the metric's timer wraps the span's or lies inside it.
	clockNoise = 10 * time.Microsecond
)

// instrumentations returns the table; index 0 is the unknown
// instrumentation, used for every scope the table does not name.
func instrumentations() []instrumentation {
	return []instrumentation{
		{scope: "", server: unbounded(), client: unbounded()},
		{
			// The metric is recorded before the deferred span.End (server)
			// or at the response headers while the span ends when the body
			// is closed (client): shorter by any amount.
			scope:  "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
			server: window{math.MinInt64, goStartGap}, client: window{math.MinInt64, goStartGap},
		},
		{
			// startTime before the span starts; the end read right after
			// span.End, span processors' onEnd in between: never shorter.
			scope:  "@opentelemetry/instrumentation-http",
			server: window{-clockNoise, math.MaxInt64}, client: window{-clockNoise, math.MaxInt64},
		},
		{
			// The span's start time is read right before the timer starts;
			// the span ends in teardown_request, before the timer stops.
			scope:  "opentelemetry.instrumentation.flask",
			server: window{-clockNoise, math.MaxInt64}, client: unbounded(), roundsMillis: true,
		},
		{
			// The timer starts after the span and stops before it ends.
			scope:  "opentelemetry.instrumentation.django",
			server: window{math.MinInt64, clockNoise}, client: unbounded(), roundsMillis: true,
		},
		{
			// The timer runs around Session.send, inside the span.
			scope:  "opentelemetry.instrumentation.requests",
			server: unbounded(), client: window{math.MinInt64, clockNoise}, roundsMillis: true,
		},
		{scope: "opentelemetry.instrumentation.tornado", target: targetPath, server: unbounded(), client: unbounded()},
	}
}

// instrumentationIndex returns the table index of the instrumentation that
// names its metrics' scope so; 0 when the table does not know it.
func (s *Set) instrumentationIndex(scope string) int {
	return s.instByScope[scope] // 0 when absent
}

// timing returns the instrumentation's Timing for metrics of spans of kind
// in unit, clamped to tolerance.
func (in *instrumentation) timing(kind ptrace.SpanKind, unit string, tolerance time.Duration) Timing {
	w := unbounded()
	switch kind {
	case ptrace.SpanKindServer:
		w = in.server
	case ptrace.SpanKindClient:
		w = in.client
	default:
	}
	var t Timing
	if unit == "ms" && in.roundsMillis {
		half := time.Millisecond / 2
		w.low, w.high = saturatingAdd(w.low, -half), saturatingAdd(w.high, half)
		t.Step = time.Millisecond
	}
	tolerance = max(tolerance, 0)
	t.MetricMinusSpanLow = min(max(w.low, -tolerance), tolerance)
	t.MetricMinusSpanHigh = max(min(w.high, tolerance), -tolerance)
	return t
}

func saturatingAdd(a, b time.Duration) time.Duration {
	switch {
	case b > 0 && a > math.MaxInt64-b:
		return math.MaxInt64
	case b < 0 && a < math.MinInt64-b:
		return math.MinInt64
	}
	return a + b
}

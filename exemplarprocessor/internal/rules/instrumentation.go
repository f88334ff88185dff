// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package rules // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/rules"

import (
	"math"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// instrumentation is what the join knows about one SDK instrumentation,
// which a metric names by its instrumentation scope: what its old metrics
// carry in http.target, and how the value it records for a request relates
// to the duration of the request's span. Scope names are those the
// instrumentations pass to their meter provider.
type instrumentation struct {
	// name is the scope name, or its prefix when prefix is set.
	name   string
	prefix bool
	// target says what http.target means on the instrumentation's points.
	target targetMeaning
	// server and client bound the recorded value minus the span's duration
	// for the metrics of server and client spans, before rounding.
	server, client window
	// roundsMillis: values in ms are whole milliseconds (Python rounds them).
	roundsMillis bool
	// maybeRoundsMillis: values in ms may be whole milliseconds; the windows
	// widen by half a millisecond either way, without the step check.
	maybeRoundsMillis bool
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

// window bounds the recorded value minus the span's duration.
type window struct{ low, high time.Duration }

// unbounded is the window of an instrumentation the table does not know:
// clamped to the tolerance, it is the symmetric [-tolerance, +tolerance].
func unbounded() window { return window{low: math.MinInt64, high: math.MaxInt64} }

// Gaps between an instrumentation's own timer and its span's timestamps,
// read off its source (see docs/semantic-conventions.md for each):
const (
	// otelhttp takes requestStartTime, then extracts the context, builds the
	// span's attributes and starts the span; it records the metric before
	// the deferred span.End. Both gaps are a few microseconds of Go.
	goGap = 50 * time.Microsecond
	// instrumentation-http takes startTime before it builds the span's
	// attributes and starts the span, and reads the end time right after
	// span.End (span processors' onEnd run in between), synchronously on
	// the event loop. Timestamps convert through floating point
	// milliseconds: a microsecond either way.
	nodeGap   = 200 * time.Microsecond
	nodeNoise = time.Microsecond
	// Python instrumentations run their timer a few statements inside or
	// outside the span (per instrumentation below).
	pythonGap = time.Millisecond
	// Flask takes the span's start time (time_ns) right before its timer.
	pythonAdjacent = 10 * time.Microsecond
)

// instrumentations returns the table; index 0 is the unknown
// instrumentation, used for every scope the table does not name.
func instrumentations() []instrumentation {
	return []instrumentation{
		{name: "", server: unbounded(), client: unbounded()},
		{
			// The client span ends when the caller closes the response body,
			// possibly long after the metric was recorded at the headers.
			name:   "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
			server: window{-goGap, goGap}, client: window{math.MinInt64, goGap},
		},
		{
			name:   "@opentelemetry/instrumentation-http",
			server: window{-nodeNoise, nodeGap}, client: window{-nodeNoise, nodeGap},
		},
		{
			// Timer started right after the span's start time, stopped after
			// the span ended in teardown_request.
			name:   "opentelemetry.instrumentation.flask",
			server: window{-pythonAdjacent, pythonGap}, client: unbounded(), roundsMillis: true,
		},
		{
			// Timer started after the span, stopped before it ends.
			name:   "opentelemetry.instrumentation.django",
			server: window{-pythonGap, 0}, client: unbounded(), roundsMillis: true,
		},
		{
			// Timer around Session.send inside the span.
			name:   "opentelemetry.instrumentation.requests",
			server: unbounded(), client: window{-pythonGap, 0}, roundsMillis: true,
		},
		{name: "opentelemetry.instrumentation.tornado", target: targetPath, server: unbounded(), client: unbounded()},
		{
			name: "opentelemetry.instrumentation.", prefix: true, maybeRoundsMillis: true,
			server: window{-pythonGap, pythonGap}, client: window{-pythonGap, pythonGap},
		},
	}
}

// instrumentationIndex returns the table index of the instrumentation that
// names its metrics' scope so; 0 when the table does not know it.
func (s *Set) instrumentationIndex(scope string) int {
	if i, ok := s.instByScope[scope]; ok {
		return i
	}
	for i := range s.insts {
		if in := &s.insts[i]; in.prefix && strings.HasPrefix(scope, in.name) {
			return i
		}
	}
	return 0
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
	if unit == "ms" && (in.roundsMillis || in.maybeRoundsMillis) {
		half := time.Millisecond / 2
		w.low, w.high = saturatingAdd(w.low, -half), saturatingAdd(w.high, half)
		if in.roundsMillis {
			t.Step = time.Millisecond
		}
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

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth // import "github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"

import (
	"strings"
	"time"
)

// Skew is how far an instrumentation's duration metric may measure a
// request apart from the request's span: metric value minus span duration
// lies in [Lo, Hi]. A span whose duration lies outside a bucket may stand in
// for it only within that window: then the metric very likely counted the
// same request in the bucket, timed by its own clock.
type Skew struct {
	// Scope is the instrumentation scope name, or a prefix ending in "*";
	// "" matches every scope.
	Scope string
	// Unit restricts the entry to metrics in one unit; "" matches any.
	Unit   string
	Lo, Hi time.Duration
	// Why says where the figures come from.
	Why string
}

// Skews is a table of skew windows, the first matching entry wins.
type Skews []Skew

// DefaultSkews is the model's table. The figures are the instrumentations'
// timer placement, calibrated against the captures (TestCaptures logs the
// per-request skews it can reconstruct from point sums).
func DefaultSkews() Skews {
	const ms = time.Millisecond
	return Skews{
		{
			Scope: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", Lo: -2 * ms, Hi: 0,
			Why: "otelhttp starts the metric's timer after the span and records it before the span ends: the metric is shorter, by tens of microseconds, by milliseconds on a loaded host",
		},
		{
			Scope: "@opentelemetry/instrumentation-http", Lo: 0, Hi: ms / 5,
			Why: "Node.js http records the metric after ending the span, from the span's own start: longer by microseconds",
		},
		{
			Scope: "opentelemetry.instrumentation.flask", Unit: "ms", Lo: -6 * ms / 10, Hi: 6 * ms / 10,
			Why: "Flask's old-convention histogram records whole milliseconds rounded from its own timer, which ends after the span",
		},
		{
			Scope: "opentelemetry.instrumentation.requests", Unit: "ms", Lo: -8 * ms / 10, Hi: 6 * ms / 10,
			Why: "requests' old-convention histogram records whole milliseconds rounded from a timer that starts after the span and stops before it ends (-0.15 to -0.25 ms before rounding)",
		},
		{
			Scope: "opentelemetry.instrumentation.flask", Lo: -ms / 10, Hi: ms / 2,
			Why: "Flask's WSGI timer starts just after the span and stops after it ended: +0.03 to +0.07 ms per request on average in the captures",
		},
		{
			Scope: "opentelemetry.instrumentation.requests", Lo: -6 * ms / 10, Hi: ms / 10,
			Why: "requests' timer runs inside the span: -0.15 to -0.23 ms per request on average in the captures",
		},
		{Lo: -2 * ms, Hi: 2 * ms, Why: "unknown instrumentation"},
	}
}

// For returns the window of a metric of scope and unit.
func (t Skews) For(scope, unit string) Skew {
	for _, s := range t {
		if s.Unit != "" && s.Unit != unit {
			continue
		}
		if s.Scope == "" || s.Scope == scope || (strings.HasSuffix(s.Scope, "*") && strings.HasPrefix(scope, strings.TrimSuffix(s.Scope, "*"))) {
			return s
		}
	}
	return Skew{}
}

// Allows reports whether a metric-minus-span difference of skew nanoseconds
// lies in the window.
func (s Skew) Allows(skew float64) bool {
	return skew >= float64(s.Lo) && skew <= float64(s.Hi)
}

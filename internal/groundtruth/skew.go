// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth // import "github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Tolerance is the product's default exemplars.duration_tolerance (README,
// "How matching works"): how long after a point a span may end and still
// be of a request the point counted (the metric is recorded before the span
// ends, as otelhttp does, or while the SDK collects: the point's time is
// read when the collection begins), the exemplar then carrying the point's
// time; and how far outside a bucket a stand-in's duration may lie. The
// judge holds attached stand-ins to the instrumentation's measured window
// (an exemplar beyond the tolerance may still be true), and counts a bucket
// matchable only within the tolerance too (the product may not go further).
const Tolerance = 2 * time.Millisecond

// Skew is how far an instrumentation's duration metric may measure a
// request apart from the request's span: the value it records lies within
// [Lo, Hi] of the span's duration, before rounding. A span may be the
// exemplar of a bucket only if its request could have been counted there:
// its duration clamped into a bucket it lies outside of (a stand-in) only
// within that window, and not even its own duration's bucket where the
// rounding rules that out.
type Skew struct {
	// Scope is the instrumentation scope name; "" matches every scope.
	Scope  string
	Lo, Hi time.Duration
	// RoundsMillis: in metrics of unit "ms" the instrumentation records
	// max(round(value), 0), whole milliseconds (Python's old histograms).
	RoundsMillis bool
	// Why says where the figures come from.
	Why string
}

// Skews is a table of skew windows, the first matching entry wins.
type Skews []Skew

const otelhttpScope = "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

// DefaultSkews is the model's table: where each instrumentation reads its
// metric's timer against its span's timestamps, and what was measured. The
// windows contain what was measured (per request where a capture exported
// after every request, else per export window) and what the source code
// allows at the end where two readings are adjacent statements; the end a
// stall between two readings can stretch is bounded by what was measured,
// so a stand-in further away is not "very likely the same request".
func DefaultSkews() Skews {
	const us = time.Microsecond
	return Skews{
		{
			Scope: otelhttpScope, Lo: -2500 * us, Hi: 250 * us,
			Why: "otelhttp 0.70 reads requestStartTime before it starts the span (metric longer by at most that gap: " +
				"151 µs measured over 302 requests, docs/semantic-conventions.md) and records the metric before the " +
				"deferred span.End, the client's at the response headers (metric shorter: 272 single requests of the " +
				"go-otelhttp calibration capture measured -2.37 ms to +0.16 ms, median -41 µs)",
		},
		{
			Scope: "@opentelemetry/instrumentation-http", Lo: -10 * us, Hi: 1200 * us,
			Why: "Node.js instrumentation-http reads startTime before the span starts and the end after span.end(), " +
				"so the metric is never shorter but for clock noise (10 µs: timestamps pass through floating-point " +
				"milliseconds); 140 single requests of the node-http calibration capture measured +81 µs to +3.2 ms, " +
				"median 142 µs, p99 1.14 ms: beyond 1.2 ms lie fewer than 1 in 100 requests",
		},
		{
			Scope: "opentelemetry.instrumentation.flask", Lo: -100 * us, Hi: 500 * us, RoundsMillis: true,
			Why: "Flask's WSGI timer starts right after the span's start and stops after teardown_request ended the " +
				"span: +28 to +68 µs per request in 35 export windows of the python-flask-stable capture; the old " +
				"ms histogram rounds that to whole milliseconds",
		},
		{
			Scope: "opentelemetry.instrumentation.requests", Lo: -600 * us, Hi: 100 * us, RoundsMillis: true,
			Why: "requests' timer runs around Session.send, inside the span: -154 to -232 µs per request in 16 " +
				"export windows of the python-flask-stable capture, -509 µs in the old one; the old ms histogram " +
				"rounds to whole milliseconds",
		},
		{Lo: -Tolerance, Hi: Tolerance, Why: "unknown instrumentation: the product's default duration tolerance either way"},
	}
}

// For returns the window of a metric of scope.
func (t Skews) For(scope string) Skew {
	for _, s := range t {
		if s.Scope == "" || s.Scope == scope {
			return s
		}
	}
	return Skew{}
}

// Admits reports whether the instrumentation, timing a request whose span
// lasted span nanoseconds, could have recorded a value in bucket (lo, hi]
// of a metric whose unit is unitNanos nanoseconds (lo may be -Inf, hi
// +Inf). Recorded durations are never negative.
func (s Skew) Admits(span, lo, hi, unitNanos float64) bool {
	a := math.Max((span+float64(s.Lo))/unitNanos, 0)
	b := math.Max((span+float64(s.Hi))/unitNanos, 0)
	if !s.rounds(unitNanos) {
		return b > lo && a <= hi
	}
	// Whole milliseconds: every integer from round(a) to round(b) can be
	// recorded; the bucket must hold one of them.
	first := math.Max(math.Round(a), math.Floor(lo)+1)
	last := math.Min(math.Round(b), math.Floor(hi))
	return first <= last
}

func (s Skew) rounds(unitNanos float64) bool { return s.RoundsMillis && unitNanos == 1e6 }

// Within returns the window clamped into [-tol, +tol].
func (s Skew) Within(tol time.Duration) Skew {
	s.Lo, s.Hi = max(s.Lo, -tol), min(s.Hi, tol)
	return s
}

// String renders the window for findings.
func (s Skew) String() string {
	var b strings.Builder
	name := s.Scope
	if name == "" {
		name = "an unknown instrumentation"
	}
	fmt.Fprintf(&b, "%s records the span's duration %s to %s", name, signed(s.Lo), signed(s.Hi))
	if s.RoundsMillis {
		b.WriteString(", rounded to whole milliseconds in ms histograms")
	}
	fmt.Fprintf(&b, " (%s)", s.Why)
	return b.String()
}

func signed(d time.Duration) string {
	if d >= 0 {
		return "+" + d.String()
	}
	return d.String()
}

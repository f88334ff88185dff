// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package rules // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/rules"

import (
	"math"
	"time"
)

// Timing bounds how the value an instrumentation records in a duration
// histogram for a request relates to the duration of the request's span: the
// two come from different clocks read at different statements, and old
// Python histograms round to whole milliseconds. A span whose duration lies
// outside a bucket may stand in for it only if the instrumentation could have
// recorded a value inside the bucket for the same request.
type Timing struct {
	// MetricMinusSpanLow and MetricMinusSpanHigh bound the recorded value
	// minus the span's duration, rounding included, clamped into
	// [-tolerance, +tolerance] (exemplars.duration_tolerance).
	MetricMinusSpanLow, MetricMinusSpanHigh time.Duration
	// Step is the resolution of the recorded values: one millisecond for
	// histograms in ms that round, 0 for values that are not rounded.
	Step time.Duration
}

// Timing returns how the values of the rule's metric relate to span
// durations, for the instrumentation the rule was looked up for (see
// Set.Lookup) and the metric's unit, clamped to tolerance.
func (r *Rule) Timing(unit string, tolerance time.Duration) Timing {
	return r.inst.timing(r.Kind, unit, tolerance)
}

// Admits reports whether the instrumentation, timing a request whose span
// lasted span, could have recorded a value in the bucket (lo, hi], given in
// the metric's unit of unitNanos nanoseconds (lo may be -Inf, hi +Inf).
// Recorded durations are never negative. It is exact for spans inside the
// bucket too: a 5.3 ms span of a histogram that rounds to whole
// milliseconds was recorded as 5 and counted in (0, 5], not (5, 10].
func (t Timing) Admits(span time.Duration, lo, hi, unitNanos float64) bool {
	if unitNanos <= 0 || math.IsNaN(lo) || math.IsNaN(hi) {
		return false
	}
	a := max(float64(span+t.MetricMinusSpanLow)/unitNanos, 0)
	b := float64(span+t.MetricMinusSpanHigh) / unitNanos
	if b < a {
		return false
	}
	if t.Step <= 0 {
		return b > lo && a <= hi
	}
	step := float64(t.Step) / unitNanos
	first, last := math.Ceil(a/step), math.Floor(b/step)
	if !math.IsInf(lo, -1) {
		first = max(first, math.Floor(lo/step)+1)
	}
	if !math.IsInf(hi, 1) {
		last = min(last, math.Floor(hi/step))
	}
	return first <= last
}

// SpanRange returns, in the metric's unit, the span durations d for which
// Admits can hold for the bucket (lo, hi]: lo - high < d <= hi - low. It
// bounds a search; Admits decides.
func (t Timing) SpanRange(lo, hi, unitNanos float64) (float64, float64) {
	return lo - float64(t.MetricMinusSpanHigh)/unitNanos, hi - float64(t.MetricMinusSpanLow)/unitNanos
}

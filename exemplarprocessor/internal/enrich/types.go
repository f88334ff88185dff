// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Package enrich attaches exemplars to one histogram data point. It runs in
// stages, each a function with explicit inputs and outputs:
//
//  1. bucket choice (plan.go): compared with the stream's previous point,
//     which buckets need an exemplar (counts present for delta, counts grown
//     or still owed for cumulative) and in which time window;
//  2. the point's own exemplars (existing.go): which buckets they fill, which
//     go (dangling policy, exemplars without trace context);
//  3. candidate collection (collect.go): which indexed spans of the join
//     groups are honest candidates for each bucket (window, arrival, bucket,
//     monotonic timestamps, stand-ins), ranked;
//  4. assignment (match.go): one span per bucket and one bucket per span, as
//     a matching over the candidate lists;
//  5. attaching the exemplars (attach.go);
//  6. the commit to stream state (commit.go), through streams.State methods.
//
// The join groups a point's spans come from are resolved before, by the
// caller (package join). Nothing about the point but its exemplars changes.
package enrich // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/buckets"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/streams"
)

// Reason says why a point got no new exemplar.
type Reason string

// Reasons a point gets no new exemplar.
const (
	ReasonNone       Reason = ""
	ReasonNoSpan     Reason = "no_span"
	ReasonUnchanged  Reason = "unchanged"
	ReasonOutOfOrder Reason = "out_of_order"
	ReasonComplete   Reason = "complete"
)

// Dangling is the policy for an existing exemplar whose span the index
// should know but does not.
type Dangling uint8

// Dangling policies.
const (
	// DanglingKeep leaves it.
	DanglingKeep Dangling = iota
	// DanglingDrop removes it; its bucket may then be filled.
	DanglingDrop
	// DanglingReplace removes it only when a span takes its place.
	DanglingReplace
)

// PrometheusLabelBudget is the rune budget of an exemplar's labels in
// Prometheus; trace_id and span_id (names and hex values) take 63 of it.
const (
	PrometheusLabelBudget = 128
	idLabelRunes          = len("trace_id") + 32 + len("span_id") + 16
)

// Params are the per-metric settings.
type Params struct {
	// UnitNanos converts span durations to the metric's unit; 0 when values
	// do not come from durations.
	UnitNanos float64
	// ValueSlot reads values from a numeric span attribute, -1 for duration.
	ValueSlot int
	// MaxPerPoint caps the exemplars of a point, 0 for one per bucket.
	MaxPerPoint int
	// FilteredAttributes copies span attributes onto exemplars.
	FilteredAttributes bool
	// Dangling is the policy for existing exemplars whose span is unknown.
	Dangling Dangling
	// DanglingGrace and TTL bound the exemplar ages that can be judged.
	DanglingGrace, TTL time.Duration
	// Tolerance bounds (in the metric's unit) how far a span's duration may
	// lie outside a bucket and still stand in for it, its value clamped to
	// the bucket: instrumentations time the metric and the span separately.
	// 0 disables stand-ins; only duration values use it.
	Tolerance float64
	// Timing is how the metric's instrumentation times a request against
	// its span (within Tolerance); nil for attribute values.
	Timing Timing
	// ToleranceTime is the same tolerance in time: a span that ended this
	// little after the point (the metric counted the request just before
	// it) may fill a bucket that grew, its timestamp clamped to the point.
	ToleranceTime time.Duration
	// LateWindow is how long after a cumulative bucket grew without an
	// exemplar it waits for a late span.
	LateWindow time.Duration
}

// Timing is how an instrumentation's recorded value relates to the duration
// of the request's span (rules.Timing).
type Timing interface {
	// Admits reports whether the instrumentation, timing a request whose
	// span lasted span, could have recorded a value in the bucket (lo, hi]
	// of the metric's unit of unitNanos nanoseconds.
	Admits(span time.Duration, lo, hi, unitNanos float64) bool
	// SpanRange bounds, in the metric's unit, the span durations for which
	// Admits can hold for the bucket (lo, hi].
	SpanRange(lo, hi, unitNanos float64) (float64, float64)
}

// Point is a histogram data point seen through its bucket layout.
type Point struct {
	Layout     buckets.Layout
	Counts     []uint64 // per flat bucket of Layout
	Start      uint64
	Time       uint64
	Cumulative bool
	Count      uint64
	Sum        float64
	HasSum     bool
	// StreamLayout identifies the layout for the stream state: it changes
	// when bounds, scale or zero threshold change.
	StreamLayout streams.Layout
	// Exp is set for exponential points.
	Exp       *buckets.Exponential
	Exemplars pmetric.ExemplarSlice
}

// Exact is a span named by the data point's own trace/span ID attributes.
type Exact struct {
	Ref spanindex.Ref
	// Value is the observation's value when the caller knows it exactly
	// (a merged point that counted one observation).
	Value    float64
	HasValue bool
}

// Input is what Enrich needs of one point.
type Input struct {
	Point  *Point
	Stream *streams.State
	// Joined is set when a rule selects the point's metric; Groups are then
	// the span index groups its key resolved to (package join). Without a
	// rule only Exact spans can be used.
	Joined bool
	Groups []spanindex.GroupID
	Exact  []Exact
	// Params may be shared by many points; its Timing must not change
	// once an Enricher used it (the walks keep what it implies for a
	// layout from point to point).
	Params *Params
}

// DanglingCounts counts existing exemplars whose span was not found.
type DanglingCounts struct {
	Kept, Dropped, Replaced int
}

// TracelessCounts counts existing exemplars without trace context.
type TracelessCounts struct {
	// Replaced: a span's exemplar took the bucket.
	Replaced int
	// Kept: no span was found for the bucket (or it needed none).
	Kept int
}

// Result reports what Enrich did.
type Result struct {
	Matched, Exact int
	Unfilled       int
	// Reason is set when no exemplar was attached.
	Reason    Reason
	Dangling  DanglingCounts
	Traceless TracelessCounts
	// ExactValueUnknown counts exact spans whose value could not be placed.
	ExactValueUnknown int
}

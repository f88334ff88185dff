// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"
)

// The attribute values of the processor's own telemetry, as named values.

func reasonSet(v string) attribute.Set { return attribute.NewSet(attribute.String("reason", v)) }

func outcomeOpt(v string) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", v)))
}

var (
	duplicateReplay    = metric.WithAttributeSet(attribute.NewSet(attribute.String("kind", "replay")))
	duplicateCollision = metric.WithAttributeSet(attribute.NewSet(attribute.String("kind", "collision")))

	invalidID             = metric.WithAttributeSet(reasonSet("invalid_id"))
	invalidEndBeforeStart = metric.WithAttributeSet(reasonSet("end_before_start"))
	invalidZeroTimestamp  = metric.WithAttributeSet(reasonSet("zero_timestamp"))
	invalidTooLong        = metric.WithAttributeSet(reasonSet("too_long"))

	joinExact = metric.WithAttributeSet(attribute.NewSet(attribute.String("join", "exact")))
	joinMatch = metric.WithAttributeSet(attribute.NewSet(attribute.String("join", "match")))

	danglingKept     = outcomeOpt("kept")
	danglingDropped  = outcomeOpt("dropped")
	danglingReplaced = outcomeOpt("replaced")

	tracelessReplaced = outcomeOpt("replaced")
	tracelessKept     = outcomeOpt("kept")

	mergeMerged       = outcomeOpt("merged")
	mergeBoundsDiffer = outcomeOpt("bounds_differ")
)

// notEnriched is why a data point left without a new exemplar.
type notEnriched uint8

const (
	notEnrichedNoRule notEnriched = iota
	notEnrichedUnit
	notEnrichedInvalidPoint
	notEnrichedNoSpan
	notEnrichedUnchanged
	notEnrichedOutOfOrder
	notEnrichedComplete
	notEnrichedTooManyBuckets
	notEnrichedNoServiceSpans
	numNotEnriched
)

var notEnrichedOpts = [numNotEnriched]metric.MeasurementOption{
	notEnrichedNoRule:         metric.WithAttributeSet(reasonSet("no_rule")),
	notEnrichedUnit:           metric.WithAttributeSet(reasonSet("unit")),
	notEnrichedInvalidPoint:   metric.WithAttributeSet(reasonSet("invalid_point")),
	notEnrichedNoSpan:         metric.WithAttributeSet(reasonSet(string(enrich.ReasonNoSpan))),
	notEnrichedUnchanged:      metric.WithAttributeSet(reasonSet(string(enrich.ReasonUnchanged))),
	notEnrichedOutOfOrder:     metric.WithAttributeSet(reasonSet(string(enrich.ReasonOutOfOrder))),
	notEnrichedComplete:       metric.WithAttributeSet(reasonSet(string(enrich.ReasonComplete))),
	notEnrichedTooManyBuckets: metric.WithAttributeSet(reasonSet("too_many_buckets")),
	notEnrichedNoServiceSpans: metric.WithAttributeSet(reasonSet("no_service_spans")),
}

// notEnrichedOf maps an enrich reason to its telemetry value.
func notEnrichedOf(r enrich.Reason) (notEnriched, bool) {
	switch r {
	case enrich.ReasonNoSpan:
		return notEnrichedNoSpan, true
	case enrich.ReasonUnchanged:
		return notEnrichedUnchanged, true
	case enrich.ReasonOutOfOrder:
		return notEnrichedOutOfOrder, true
	case enrich.ReasonComplete:
		return notEnrichedComplete, true
	default:
		return 0, false
	}
}

// exactOutcome is what happened to a data point's trace/span ID attributes.
type exactOutcome uint8

const (
	exactJoined exactOutcome = iota
	exactNotFound
	exactInvalidID
	exactValueUnknown
	numExactOutcomes
)

var exactOutcomeOpts = [numExactOutcomes]metric.MeasurementOption{
	exactJoined:       outcomeOpt("joined"),
	exactNotFound:     outcomeOpt("not_found"),
	exactInvalidID:    outcomeOpt("invalid_id"),
	exactValueUnknown: outcomeOpt("value_unknown"),
}

// addCount adds n to a counter unless it is zero.
func addCount(ctx context.Context, c metric.Int64Counter, n uint64, opts ...metric.AddOption) {
	if n > 0 {
		c.Add(ctx, int64(n), opts...)
	}
}

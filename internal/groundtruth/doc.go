// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Package groundtruth is an independent model of the exemplar processor's
// product rules (../shared/SPEC.md, the README's "How matching works"),
// written to judge what the processor does, never to help it do it.
//
// It must never import the exemplarprocessor package or any of its internal
// packages (buckets, rules, enrich, spanindex, streams, ...): a judge that
// shares the code it judges repeats its mistakes. Everything the rules need
// is modelled here on its own:
//
//   - bucket math: explicit buckets, upper-inclusive; exponential buckets per
//     the OpenTelemetry data model, with the zero bucket, the negative range,
//     every scale from -10 to 20 and exact powers of the base in the lower
//     bucket (buckets.go, expo.go);
//   - which metric joins which span kind and which data point attributes must
//     equal the span's, with the old and stable semantic-convention names as
//     aliases and what the conventions let one derive from a span that lacks
//     an attribute (semconv.go);
//   - streams, point windows, growth and resets of cumulative points
//     (streams.go);
//   - the judge of every exemplar attached to a recorded workload (judge*.go)
//     with its table of how far an instrumentation's metric and span timers
//     may disagree (skew.go), recorded SDK captures and when their batches
//     reach a collector (capture.go);
//   - a replay of the processor's documented candidate ranking for the Go SDK
//     workload (replay*.go).
package groundtruth // import "github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"

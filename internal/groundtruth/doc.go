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
//   - the judge of every exemplar attached to a recorded workload (judge*.go):
//     is it true (a real span of a request its bucket counted: same service,
//     kind and attributes; ended in the point's window, or a late span on a
//     bucket that grew or is still owed one, or a span that ended just after
//     the point whose time it carries; its own duration, or a fresh span
//     standing in from outside the bucket where the instrumentation's timing
//     and the counts make it very likely the same request; one per bucket,
//     one bucket per span, one window per request, never older than the
//     bucket's last), and how many of the grown buckets the workload's
//     delivered spans could honestly fill at once got one, how many spans
//     of their own buckets alone could fill, and how many of the
//     processor's stand-ins the spans it held forced (judge_standins.go).
//     It judges truth, coverage and needless stand-ins, never which of
//     several honest spans of a bucket's own a processor prefers;
//   - how far an instrumentation's metric and span timers may disagree
//     (skew.go), recorded SDK captures and when their batches reach a
//     collector (capture.go).
package groundtruth // import "github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"

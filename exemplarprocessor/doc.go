// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:generate go tool -modfile=../internal/tools/go.mod mdatagen metadata.yaml

// Package exemplarprocessor implements the exemplar processor: it indexes the
// spans of a traces pipeline, flags duplicate span IDs, and attaches exemplars
// that point to those spans to the histogram data points of a metrics
// pipeline.
package exemplarprocessor // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Package duplog warns about duplicate span IDs at most once per interval per
// service, naming the service and the likely cause, so an operator can find
// the misconfigured process without a log line per span.
package duplog // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/duplog"

import (
	"encoding/hex"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/ratelimit"
)

// Kind is a kind of duplicate.
type Kind int

const (
	// Replay is the same span exported again.
	Replay Kind = iota
	// Collision is a different span with the same IDs.
	Collision
)

var causes = [...]string{
	Replay:    "the same span was exported twice: tracing is likely initialised twice in this process (Flask debug reloader, opentelemetry-instrument plus manual SDK setup, or two span processors on one tracer provider)",
	Collision: "different spans share trace and span IDs: span ID generation is likely broken (fixed random seed, or random state copied across fork)",
}

var kindNames = [...]string{Replay: "replay", Collision: "collision"}

// maxServices bounds the services remembered; past it the least recently
// seen is forgotten, which at worst warns about it again early.
const maxServices = 4096

// Logger rate-limits duplicate warnings per service. It is safe for
// concurrent use.
type Logger struct {
	limit *ratelimit.Limiter[string]
}

// New returns a Logger that warns at most once per interval per service.
func New(interval time.Duration) *Logger {
	return &Logger{limit: ratelimit.New[string](interval, maxServices)}
}

// Example identifies one duplicate span for the warning.
type Example struct {
	TraceID [16]byte
	SpanID  [8]byte
	Name    string
}

// Report counts a duplicate of service and warns on logger (the traces
// pipeline's, so the warning names it) when the service's interval has
// passed, with the counts since its previous warning.
func (l *Logger) Report(logger *zap.Logger, now time.Time, service string, kind Kind, ex Example) {
	counts, ok := l.limit.Allow(service, int(kind), now)
	if !ok {
		return
	}
	logger.Warn("Duplicate span IDs received",
		zap.String("service.name", service),
		zap.String("kind", kindNames[kind]),
		zap.String("likely_cause", causes[kind]),
		zap.Uint64("replays", counts[Replay]),
		zap.Uint64("collisions", counts[Collision]),
		zap.String("example.trace_id", hex.EncodeToString(ex.TraceID[:])),
		zap.String("example.span_id", hex.EncodeToString(ex.SpanID[:])),
		zap.String("example.span_name", ex.Name),
		zap.Duration("next_warning_after", l.limit.Interval()),
	)
}

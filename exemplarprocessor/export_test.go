// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor

import (
	"time"

	"go.opentelemetry.io/collector/processor"
)

// ClockFunc reads the time a replaying test decides.
type ClockFunc func() time.Time

// Now implements clock.
func (f ClockFunc) Now() time.Time { return f() }

// NewFactoryWithClock returns a factory whose processors read now instead of
// the system clock, for tests outside this package that replay recorded
// telemetry at the times it was sent.
func NewFactoryWithClock(now func() time.Time) processor.Factory {
	return newFactory(ClockFunc(now))
}

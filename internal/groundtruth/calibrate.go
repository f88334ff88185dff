// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth // import "github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"

import (
	"fmt"
	"sort"
	"time"
)

// Calibration is what a workload says of one instrumentation's
// metric-minus-span skew. Where a point's window counted exactly as many
// requests as there are spans that join it, the growth of its sum minus the
// spans' durations, per request, is the mean skew of those requests; with
// one request it is that request's own.
type Calibration struct {
	Scope, Unit string
	// Windows is how many windows counted as many requests as spans;
	// Mismatched how many did not.
	Windows, Mismatched int
	// Means are the per-window mean skews, Singles those of one-request
	// windows.
	Means, Singles []time.Duration
}

func (c *Calibration) String() string {
	return fmt.Sprintf("%s (%s): %d windows with as many spans as requests (%d without); per-window mean skew %s; one-request windows (%d) %s",
		c.Scope, c.Unit, c.Windows, c.Mismatched, spread(c.Means), len(c.Singles), spread(c.Singles))
}

// spread renders the distribution: min, p10, median, p90, p99, max.
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	q := func(f float64) time.Duration { return s[int(f*float64(len(s)-1))] }
	return fmt.Sprintf("min %s p10 %s p50 %s p90 %s p99 %s max %s", s[0], q(0.1), q(0.5), q(0.9), q(0.99), s[len(s)-1])
}

// Calibrate reconstructs skews from the points' sums, per scope and unit.
func (j *Judge) Calibrate() []*Calibration {
	by := map[[2]string]*Calibration{}
	var order []*Calibration
	for _, s := range j.in.All() {
		if !s.HasRule || s.UnitNanos == 0 {
			continue
		}
		key := [2]string{s.Scope, s.Unit}
		c, ok := by[key]
		if !ok {
			c = &Calibration{Scope: s.Scope, Unit: s.Unit}
			by[key] = c
			order = append(order, c)
		}
		j.calibrateStream(c, s)
	}
	return order
}

func (j *Judge) calibrateStream(c *Calibration, s *Stream) {
	for k, p := range s.Points {
		if !p.HasSum || (s.Continues(k) && !s.Points[k-1].HasSum) {
			continue
		}
		var n uint64
		for _, a := range s.Added(k) {
			n += a
		}
		if n == 0 {
			continue
		}
		sum := p.Sum
		if s.Continues(k) {
			sum -= s.Points[k-1].Sum
		}
		w := j.windowOf(s, k)
		if uint64(len(w.spans)) != n {
			c.Mismatched++
			continue
		}
		for _, sp := range w.spans {
			sum -= sp.Value(s.UnitNanos)
		}
		mean := time.Duration(sum / float64(n) * s.UnitNanos)
		c.Windows++
		c.Means = append(c.Means, mean)
		if n == 1 {
			c.Singles = append(c.Singles, mean)
		}
	}
}

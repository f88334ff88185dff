// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth // import "github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"

import (
	"fmt"
	"math"
)

// Share counts, over every point of the streams of one metric, the buckets
// that grew and those that carry an exemplar of that growth.
type Share struct {
	Grown int
	// Covered: the point itself carries an exemplar from its window.
	Covered int
	// Eventual: the point or a later point of the stream carries one (a
	// late span placed on a following point).
	Eventual int
}

// Ratio is n as a share of the grown buckets (NaN without any).
func (sh Share) Ratio(n int) float64 {
	if sh.Grown == 0 {
		return math.NaN()
	}
	return float64(n) / float64(sh.Grown)
}

func (sh Share) String() string {
	return fmt.Sprintf("%.4f (%d/%d grown buckets; eventually %.4f)", sh.Ratio(sh.Covered), sh.Covered, sh.Grown, sh.Ratio(sh.Eventual))
}

// Add adds o's counts.
func (sh *Share) Add(o Share) {
	sh.Grown += o.Grown
	sh.Covered += o.Covered
	sh.Eventual += o.Eventual
}

// Measure counts the share of metric's grown buckets with an exemplar.
func Measure(streams []*Stream, metric string) Share {
	var sh Share
	for _, s := range streams {
		if s.Metric != metric {
			continue
		}
		for k, p := range s.Points {
			lo, hi := s.Window(k)
			for b := range p.Counts {
				if !s.Grown(k, b) {
					continue
				}
				sh.Grown++
				now := s.HasExemplar(k, k, b, lo, hi)
				if now {
					sh.Covered++
				}
				if now || s.coveredLater(k, b, lo, hi) {
					sh.Eventual++
				}
			}
		}
	}
	return sh
}

// coveredLater reports whether a later point of the same cumulative run
// carries an exemplar of bucket b of point k from its window (lo, hi].
func (s *Stream) coveredLater(k, b int, lo, hi uint64) bool {
	for j := k + 1; s.Cumulative && j < len(s.Points) && s.Continues(j); j++ {
		if s.HasExemplar(j, k, b, lo, hi) {
			return true
		}
	}
	return false
}

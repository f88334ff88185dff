// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"

import (
	"time"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/buckets"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/streams"
)

// Bucket choice: which buckets of a point need an exemplar, and from which
// time window its spans may come.

// window is what makes a span an honest candidate for a bucket.
type window struct {
	start, end uint64 // the span must end in (start, end]
	// continuing: a cumulative point that continues the stream's previous
	// one; spans ending by prevTime must then be late (Seq >= prevSeq).
	continuing bool
	prevTime   uint64
	prevSeq    uint64
	// seqFloor: spans numbered below it arrived too early to be candidates.
	seqFloor uint64
}

// observation is the value of the one observation a point added, when its
// count and sum tell it.
type observation struct {
	value float64
	known bool
}

// plan is bucket choice's answer for one point.
type plan struct {
	w window
	// prev is the stream's previous point's buckets in this point's layout
	// (zero when the stream starts afresh).
	prev   []streams.Bucket
	grown  []bool // counts present (delta, first point) or grown since prev
	target []bool // needs an exemplar: grown, or still owed a late span
	needed bool   // some bucket needed one before existing exemplars counted
	obs    observation
	// times are the stream's recent point times (streams.Previous.Times):
	// prev[b].Owed's bit i is the interval (times[i+1], times[i]].
	times []uint64
	// usedSeqs (ended at usedEnds) are spans that were the stream's
	// exemplars and could otherwise be candidates again
	// (streams.Previous.UsedSeqs): they serve no bucket.
	usedSeqs, usedEnds []uint64
	// owedFrom is the start of the oldest interval some bucket is owed an
	// exemplar for (0: none): spans that arrived since then may fill it.
	owedFrom uint64
}

// choose compares p with the stream's previous point. It returns the plan
// (kept in s, so the stages that share it do not move it to the heap per
// point), or a reason when the point needs no work at all (unchanged, out
// of order).
func choose(p *Point, st *streams.State, params *Params, s *scratch) (*plan, Reason) {
	n := p.Layout.Len()
	s.pl = plan{
		w:      window{start: p.Start, end: p.Time},
		prev:   resize(s.pl.prev, n),
		grown:  resize(s.pl.grown, n),
		target: resize(s.pl.target, n),
	}
	pl := &s.pl

	prev, prevBuckets, known := st.Previous()
	compatible, downscaled := false, false
	if known {
		compatible, downscaled = mapPrevious(pl.prev, prev.Layout, prevBuckets, p)
		pl.usedSeqs, pl.usedEnds = prev.UsedSeqs, prev.UsedEnds
	}
	if p.Cumulative && compatible && prev.Start == p.Start {
		switch {
		case p.Time == prev.Time:
			return pl, ReasonUnchanged
		case p.Time < prev.Time:
			return pl, ReasonOutOfOrder
		case !countsFell(p.Counts, pl.prev):
			pl.w.continuing, pl.w.prevTime, pl.w.prevSeq = true, prev.Time, prev.Seq
			pl.times = prev.Times
		}
	}
	if !compatible {
		clear(pl.prev)
	}
	pl.settleOwed(p.Time, params.LateWindow, downscaled)
	pl.chooseTargets(p)
	pl.obs = observed(p, prev, pl.w.continuing)
	return pl, ReasonNone
}

// countsFell reports a reset: a bucket whose cumulative count went down.
func countsFell(counts []uint64, prev []streams.Bucket) bool {
	for b := range counts {
		if counts[b] < prev[b].Count {
			return true
		}
	}
	return false
}

// settleOwed keeps, of the intervals each bucket is owed an exemplar for,
// those that can still be filled at now: within the late window, and ending
// after the bucket's last exemplar (timestamps never go backwards). After a
// downscale a coarse bucket whose last exemplar lies in an interval got one
// for it through one of its parts: that interval is settled too. A stream
// that starts afresh owes nothing.
func (pl *plan) settleOwed(now uint64, lateWindow time.Duration, downscaled bool) {
	late := uint64(lateWindow.Nanoseconds())
	for b := range pl.prev {
		owed, last := pl.prev[b].Owed, pl.prev[b].LastExemplar
		if !pl.w.continuing {
			owed = 0
		}
		for i := 0; owed>>i != 0; i++ {
			if owed&(1<<i) == 0 {
				continue
			}
			if i+1 >= len(pl.times) || now-pl.times[i] > late || pl.times[i] <= last || (downscaled && pl.times[i+1] < last) {
				owed &^= 1 << i
				continue
			}
			if pl.owedFrom == 0 || pl.times[i+1] < pl.owedFrom {
				pl.owedFrom = pl.times[i+1]
			}
		}
		pl.prev[b].Owed = owed
	}
}

// owedAt reports whether bucket b is owed an exemplar for the interval in
// which time t lies.
func (pl *plan) owedAt(b int, t uint64) bool {
	owed := pl.prev[b].Owed
	for i := 0; owed>>i != 0 && i+1 < len(pl.times); i++ {
		if t > pl.times[i+1] && t <= pl.times[i] {
			return owed&(1<<i) != 0
		}
	}
	return false
}

// wasUsed reports whether span seq was one of the stream's exemplars that
// it remembers (streams.Previous.UsedSeqs).
func (pl *plan) wasUsed(seq uint64) bool {
	for _, u := range pl.usedSeqs {
		if u == seq {
			return true
		}
	}
	return false
}

// chooseTargets marks the buckets that grew and those that need an
// exemplar: a continuing cumulative bucket also while it is owed one.
func (pl *plan) chooseTargets(p *Point) {
	for b := range p.Counts {
		if pl.w.continuing {
			pl.grown[b] = p.Counts[b] > pl.prev[b].Count
			pl.target[b] = pl.grown[b] || pl.prev[b].Owed != 0
		} else {
			pl.grown[b] = p.Counts[b] > 0
			pl.target[b] = pl.grown[b]
		}
		pl.needed = pl.needed || pl.target[b]
	}
}

// observed is the exact observation value, when the point tells it: one
// new count, and a sum.
func observed(p *Point, prev streams.Previous, continuing bool) observation {
	if !p.HasSum {
		return observation{}
	}
	switch {
	case !continuing && p.Count == 1:
		return observation{value: p.Sum, known: true}
	case continuing && p.Count == prev.Count+1:
		return observation{value: p.Sum - prev.Sum, known: true}
	}
	return observation{}
}

// mapPrevious fills prev with the stream's previous buckets in p's layout,
// merging buckets when an exponential histogram was downscaled. It reports
// false when the layouts cannot be compared (the stream starts afresh), and
// whether buckets were merged.
func mapPrevious(prev []streams.Bucket, layout streams.Layout, from streams.Buckets, p *Point) (compatible, merged bool) {
	if p.Exp == nil {
		if layout.Key != p.StreamLayout.Key || from.Len() != len(prev) {
			return false, false
		}
		from.CopyTo(prev)
		return true, false
	}
	// For exponential points the layout key holds the scale and the zero
	// threshold; the scale is compared here because a downscale is
	// comparable.
	prevScale, pScale := int32(layout.Key>>32), p.Exp.Scale
	if uint32(layout.Key) != uint32(p.StreamLayout.Key) || prevScale < pScale {
		return false, false
	}
	old := buckets.Exponential{Scale: prevScale, PosOffset: layout.PosOffset, PosLen: layout.PosLen, NegOffset: layout.NegOffset, NegLen: from.Len() - 1 - layout.PosLen}
	for b := range from.Len() {
		pb := from.At(b)
		to := downscaled(old, b, prevScale-pScale, p.Exp)
		if to < 0 {
			if pb.Count > 0 {
				return false, false // counts vanished: not the same cumulative stream
			}
			continue
		}
		mergeBucket(&prev[to], pb)
	}
	return true, prevScale > pScale
}

// downscaled returns the bucket of to that flat bucket b of from falls in
// after a downscale by shift, or -1 when to has no such bucket.
func downscaled(from buckets.Exponential, b int, shift int32, to *buckets.Exponential) int {
	sign, idx := from.Bucket(b)
	switch sign {
	case 0:
		return 0
	case 1:
		k := int64(idx>>shift) - int64(to.PosOffset)
		if k < 0 || k >= int64(to.PosLen) {
			return -1
		}
		return 1 + int(k)
	default:
		k := int64(idx>>shift) - int64(to.NegOffset)
		if k < 0 || k >= int64(to.NegLen) {
			return -1
		}
		return 1 + to.PosLen + int(k)
	}
}

// mergeBucket adds a previous bucket into the one it was downscaled into.
// The coarse bucket is owed what either part was; an interval one part got
// an exemplar of is settled for both (settleOwed).
func mergeBucket(q *streams.Bucket, pb streams.Bucket) {
	q.Count += pb.Count
	q.LastExemplar = max(q.LastExemplar, pb.LastExemplar)
	q.Owed |= pb.Owed
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}

func anyTarget(target []bool) bool {
	for _, t := range target {
		if t {
			return true
		}
	}
	return false
}

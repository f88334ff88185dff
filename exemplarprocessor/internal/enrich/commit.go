// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"

import (
	"cmp"
	"slices"
	"time"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/streams"
)

// commitInput is what the commit to stream state needs of the earlier
// stages.
type commitInput struct {
	p    *Point
	pl   *plan
	best []candidate
	// nextSeq is the span index's next sequence number now.
	nextSeq uint64
	// lateWindow bounds the intervals remembered for late spans.
	lateWindow time.Duration
	// scratch holds the new recent times and the used spans until the
	// stream state copies them.
	scratch *commitScratch
}

// commitScratch is the commit's reusable memory.
type commitScratch struct {
	times              []uint64
	used               []usedSpan
	usedSeqs, usedEnds []uint64
}

// usedSpan is a span the stream named: its index sequence number and end.
type usedSpan struct{ seq, end uint64 }

// committed counts what the commit found unfilled.
type committed struct {
	// grown: buckets that grew and got no exemplar at all.
	grown int
	// targets: buckets that needed one (grown or owed) and got none.
	targets int
}

// commit remembers the point as the stream's previous one. A cumulative
// bucket that grew without an exemplar of its own interval is owed one for
// that interval: a late span that ended in it may fill the bucket on a
// later point, oldest interval first, within the late window. Filling an
// interval settles it and every older one (timestamps never go back).
func commit(st *streams.State, in *commitInput, out []streams.Bucket) committed {
	p, pl := in.p, in.pl
	sc := in.scratch
	sc.times = nextTimes(in, sc.times[:0])
	var n committed
	for b := range out {
		c := &in.best[b]
		// The span's own end, even when the exemplar took a point's time:
		// a span that straddled this point must not serve the next one.
		last := pl.prev[b].LastExemplar
		if c.ok && c.ref.End > last {
			last = c.ref.End
		}
		out[b] = streams.Bucket{Count: p.Counts[b], LastExemplar: last, Owed: owedAfter(in, b, len(sc.times)-1)}
		if pl.target[b] && !c.ok {
			n.targets++
			if pl.grown[b] {
				n.grown++
			}
		}
	}
	sc.used = usedAfter(in, out, sc.times, sc.used[:0])
	sc.usedSeqs, sc.usedEnds = sc.usedSeqs[:0], sc.usedEnds[:0]
	for _, u := range sc.used {
		sc.usedSeqs, sc.usedEnds = append(sc.usedSeqs, u.seq), append(sc.usedEnds, u.end)
	}
	st.Remember(streams.Previous{
		Start: p.Start, Time: p.Time, Seq: in.nextSeq,
		Count: p.Count, Sum: p.Sum,
		Layout: p.StreamLayout, Times: sc.times, UsedSeqs: sc.usedSeqs, UsedEnds: sc.usedEnds,
	}, out)
	return n
}

// usedAfter returns the spans the stream remembers as used after this
// point (streams.Previous.UsedSeqs): its exemplars that ended after it (they
// took its time and must not serve the next point), and, of the earlier
// ones and this point's, those that ended in an interval some bucket is
// still owed an exemplar for, or just after one (a late span that ended
// just after an owed interval's point may fill it with that point's time).
// Past streams.MaxUsed the oldest go, and with them every debt they could
// serve.
func usedAfter(in *commitInput, out []streams.Bucket, times []uint64, used []usedSpan) []usedSpan {
	var owed uint32
	for b := range out {
		owed |= out[b].Owed
	}
	keep := func(end uint64) bool {
		if end > in.p.Time {
			return true
		}
		j := intervalOf(times, end)
		return j >= 0 && (owed>>j)&3 != 0 // bit j: inside; bit j+1: just after
	}
	for i, seq := range in.pl.usedSeqs {
		if end := in.pl.usedEnds[i]; keep(end) {
			used = append(used, usedSpan{seq: seq, end: end})
		}
	}
	for i := range in.best {
		if c := &in.best[i]; c.ok && keep(c.ref.End) {
			used = append(used, usedSpan{seq: c.ref.Seq, end: c.ref.End})
		}
	}
	if len(used) > streams.MaxUsed {
		used = letUsedGo(in.p.Time, out, times, used)
	}
	return used
}

// letUsedGo keeps of used every span that ended after the point and the
// streams.MaxUsed latest others, and settles the debts the others could
// serve: every interval from the newest one let go back.
func letUsedGo(now uint64, out []streams.Bucket, times []uint64, used []usedSpan) []usedSpan {
	slices.SortFunc(used, func(a, b usedSpan) int { return cmp.Compare(b.end, a.end) })
	after := 0
	for after < len(used) && used[after].end > now {
		after++
	}
	limit := after + streams.MaxUsed
	if len(used) <= limit {
		return used
	}
	if j := intervalOf(times, used[limit].end); j >= 0 {
		for b := range out {
			out[b].Owed &= 1<<j - 1
		}
	}
	return used[:limit]
}

// owedAfter is bucket b's owed intervals after this point, numbered in the
// new times (bit 0: this point's interval), among intervals of at most
// n.
func owedAfter(in *commitInput, b, n int) uint32 {
	p, pl, c := in.p, in.pl, &in.best[b]
	if !p.Cumulative || n <= 0 {
		return 0
	}
	low := pl.w.start
	if pl.w.continuing {
		low = pl.w.prevTime
	}
	var owed uint32
	if pl.w.continuing {
		owed = pl.prev[b].Owed << 1
	}
	switch {
	case c.ok && c.ts > low:
		owed = 0 // this interval's own exemplar: every older one is past
	case c.ok:
		// A late fill of an older interval settles it and older ones.
		if j := pl.interval(c.ts); j >= 0 {
			owed &= 1<<(j+1) - 1
		}
	}
	if pl.target[b] && pl.grown[b] && (!c.ok || c.ts <= low) {
		owed |= 1
	}
	if n < 32 {
		owed &= 1<<n - 1
	}
	return owed
}

// interval returns the index in pl.times of the interval containing t, or
// -1.
func (pl *plan) interval(t uint64) int { return intervalOf(pl.times, t) }

// intervalOf returns i such that t lies in (times[i+1], times[i]], or -1.
func intervalOf(times []uint64, t uint64) int {
	for i := 0; i+1 < len(times); i++ {
		if t > times[i+1] && t <= times[i] {
			return i
		}
	}
	return -1
}

// nextTimes are the stream's recent point times after this point, newest
// first, then the start of the oldest interval: as many as the late window
// and streams.MaxOwed keep useful. Delta streams keep none.
func nextTimes(in *commitInput, times []uint64) []uint64 {
	p, pl := in.p, in.pl
	if !p.Cumulative {
		return times
	}
	late := uint64(in.lateWindow.Nanoseconds())
	times = append(times, p.Time)
	if !pl.w.continuing {
		return append(times, p.Start)
	}
	for _, t := range pl.times {
		times = append(times, t)
		if p.Time-t > late || len(times) == streams.MaxOwed+1 {
			break // the start of the oldest interval still in the window
		}
	}
	return times
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"

import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/streams"

// commitInput is what the commit to stream state needs of the earlier
// stages.
type commitInput struct {
	p    *Point
	pl   *plan
	best []candidate
	// seenFrom is the stream's new SeenFrom (see collector.mayStandIn).
	seenFrom uint64
	// nextSeq is the span index's next sequence number now.
	nextSeq uint64
}

// commit remembers the point as the stream's previous one and returns how
// many buckets needed an exemplar and got none. Such a cumulative bucket is
// owed one for the interval it grew in, so a late span is awaited for a
// bounded time and only from that interval.
func commit(st *streams.State, in commitInput, out []streams.Bucket) int {
	p, pl := in.p, in.pl
	unfilled := 0
	for b := range out {
		// The span's own end, even when the exemplar took the point's time:
		// a span that straddled this point must not serve the next one.
		last := pl.prev[b].LastExemplar
		if c := in.best[b]; c.ok && c.ref.End > last {
			last = c.ref.End
		}
		out[b] = streams.Bucket{Count: p.Counts[b], LastExemplar: last}
		if !pl.target[b] || in.best[b].ok {
			continue
		}
		unfilled++
		if !p.Cumulative {
			continue
		}
		switch {
		case pl.w.continuing && !pl.grown[b]:
			out[b].OwedFrom, out[b].OwedTo = pl.prev[b].OwedFrom, pl.prev[b].OwedTo
		case pl.w.continuing:
			out[b].OwedFrom, out[b].OwedTo = pl.w.prevTime, p.Time
		default:
			out[b].OwedFrom, out[b].OwedTo = pl.w.start, p.Time
		}
	}
	st.Remember(streams.Previous{
		Start: p.Start, Time: p.Time, Seq: in.nextSeq,
		Count: p.Count, Sum: p.Sum,
		SeenFrom: in.seenFrom,
		Layout:   p.StreamLayout,
	}, out)
	return unfilled
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"

import (
	"sort"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/buckets"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/pdataslice"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
)

// The point's own exemplars: the buckets they fill need no new one. The
// dangling policy applies to those whose span the index should know but
// does not: keep leaves it, drop removes it (its bucket may then be filled
// like any empty one), replace removes it only when a matching span takes
// its place (settle).
//
// An exemplar without a trace or span ID (an SDK's always_on filter
// recording outside a span) links to nothing, and the Prometheus exporter
// drops it: it does not fill its bucket. It is removed when a span's
// exemplar takes its bucket, and kept otherwise.

// existing is what the point's own exemplars decided.
type existing struct {
	removals  []int            // exemplar indexes to remove
	pending   []pendingReplace // dangling ones that go only if replaced
	traceless []pendingReplace // without trace context: go if replaced
	// kept is how many exemplars with trace context stay.
	kept int
}

// pendingReplace is an existing exemplar that goes only if a span replaces
// it.
type pendingReplace struct {
	index, bucket int
	ts            uint64
}

// read marks the buckets the point's own exemplars fill in pl and applies
// the dangling policy.
func (x *existing) read(p *Point, pl *plan, params *Params, d danglingCheck, res *Result) {
	x.removals, x.pending, x.traceless = x.removals[:0], x.pending[:0], x.traceless[:0]
	exs := p.Exemplars
	for i := 0; i < exs.Len(); i++ {
		ex := exs.At(i)
		b := p.Layout.Of(buckets.ExemplarValue(ex))
		if ex.TraceID().IsEmpty() || ex.SpanID().IsEmpty() {
			x.traceless = append(x.traceless, pendingReplace{index: i, bucket: b})
			continue
		}
		if d.dangling(ex, params) {
			switch {
			case params.Dangling == DanglingDrop:
				res.Dangling.Dropped++
				x.removals = append(x.removals, i)
				continue
			case params.Dangling == DanglingReplace && b >= 0 && pl.target[b]:
				x.pending = append(x.pending, pendingReplace{index: i, bucket: b, ts: uint64(ex.Timestamp())})
				continue
			default:
				res.Dangling.Kept++
			}
		}
		pl.fill(b, uint64(ex.Timestamp()))
	}
}

// fill records that bucket b holds an exemplar with timestamp ts.
func (pl *plan) fill(b int, ts uint64) {
	if b < 0 {
		return
	}
	pl.target[b] = false
	if ts > pl.prev[b].LastExemplar {
		pl.prev[b].LastExemplar = ts
	}
}

// settle replaces the dangling exemplars a span was found for (best) and
// keeps the others. kept is then the number of existing exemplars with
// trace context that stay.
func (x *existing) settle(p *Point, pl *plan, best []candidate, res *Result) {
	for _, pr := range x.pending {
		if best[pr.bucket].ok {
			res.Dangling.Replaced++
			x.removals = append(x.removals, pr.index)
			continue
		}
		res.Dangling.Kept++
		pl.fill(pr.bucket, pr.ts)
	}
	x.kept = p.Exemplars.Len() - len(x.removals) - len(x.traceless)
}

// remove drops the exemplars that go, once the new ones are attached (a
// capped bucket may have lost its span): traceless ones whose bucket got a
// span's exemplar, dropped and replaced dangling ones.
func (x *existing) remove(p *Point, best []candidate, res *Result) {
	for _, tl := range x.traceless {
		if tl.bucket >= 0 && best[tl.bucket].ok {
			res.Traceless.Replaced++
			x.removals = append(x.removals, tl.index)
			continue
		}
		res.Traceless.Kept++
	}
	if len(x.removals) == 0 {
		return
	}
	sort.Ints(x.removals)
	p.Exemplars.RemoveIf(pdataslice.AtIndexes[pmetric.Exemplar](x.removals))
}

// danglingCheck tells whether an exemplar names a span the index should
// know but does not.
type danglingCheck struct {
	r   spanindex.Reader
	now int64
}

// dangling: old enough for the span to have arrived, young enough not to
// have been evicted, and not in the index.
func (d danglingCheck) dangling(ex pmetric.Exemplar, params *Params) bool {
	tid, sid := ex.TraceID(), ex.SpanID()
	if tid.IsEmpty() || sid.IsEmpty() {
		return false
	}
	age := time.Duration(d.now - int64(ex.Timestamp()))
	if age < params.DanglingGrace || age > params.TTL {
		return false
	}
	_, found := d.r.Lookup(tid, sid)
	return !found
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"

import (
	"sort"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
)

// attacher appends the assigned exemplars to a point.
type attacher struct {
	r      spanindex.Reader
	params *Params
	chosen []int
}

// attach appends the exemplars of best, slowest buckets first when capped,
// and returns how many were added. kept is the number of existing exemplars
// the point keeps. A bucket the cap leaves out had its span: its
// assignment is undone in best and it needs no exemplar any more (target),
// so it counts neither as unfilled nor as owed.
func (a *attacher) attach(p *Point, best []candidate, target []bool, kept int, res *Result) int {
	a.chosen = a.chosen[:0]
	for b, c := range best {
		if c.ok {
			a.chosen = append(a.chosen, b)
		}
	}
	if room := max(a.params.MaxPerPoint-kept, 0); a.params.MaxPerPoint > 0 && len(a.chosen) > room {
		sort.Slice(a.chosen, func(i, j int) bool { return best[a.chosen[i]].value > best[a.chosen[j]].value })
		for _, b := range a.chosen[room:] {
			best[b].ok = false
			target[b] = false
		}
		a.chosen = a.chosen[:room]
		sort.Ints(a.chosen)
	}
	// The IDs live in the spans' records, at scale one cache miss each:
	// read them all before building anything, so the misses overlap.
	for _, b := range a.chosen {
		a.r.LoadIDs(&best[b].ref)
	}
	// One allocation for the point's new exemplars, not one per doubling:
	// a received point's slice is usually empty.
	p.Exemplars.EnsureCapacity(p.Exemplars.Len() + len(a.chosen))
	for _, b := range a.chosen {
		c := &best[b]
		ex := p.Exemplars.AppendEmpty()
		ex.SetTraceID(c.ref.TraceID)
		ex.SetSpanID(c.ref.SpanID)
		ex.SetTimestamp(pcommon.Timestamp(c.ts))
		ex.SetDoubleValue(c.value)
		if a.params.FilteredAttributes {
			a.filtered(ex, c.ref)
		}
		if c.rank == rankExact {
			res.Exact++
		} else {
			res.Matched++
		}
	}
	return len(a.chosen)
}

// filtered copies the kept span attributes while Prometheus' exemplar label
// budget holds.
func (a *attacher) filtered(ex pmetric.Exemplar, ref spanindex.Ref) {
	x := a.r.Extra(ref)
	if x == nil {
		return
	}
	budget := PrometheusLabelBudget - idLabelRunes
	for _, kv := range x.Attributes {
		cost := utf8.RuneCountInString(kv.Key) + utf8.RuneCountInString(kv.Value)
		if cost > budget {
			continue
		}
		budget -= cost
		ex.FilteredAttributes().PutStr(kv.Key, kv.Value)
	}
}

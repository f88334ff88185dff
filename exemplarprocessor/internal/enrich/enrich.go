// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Package enrich attaches exemplars to one histogram data point: it decides
// which buckets need one (counts present for delta, counts grown for
// cumulative), which spans are honest candidates for each (time window,
// arrival, bucket, monotonic timestamps), finds them in the span index and
// appends the exemplars. Nothing else about the point is changed.
package enrich // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"

import (
	"math"
	"sort"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/buckets"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/streams"
)

// Reasons a point gets no new exemplar.
const (
	ReasonNoSpan     = "no_span"
	ReasonUnchanged  = "unchanged"
	ReasonOutOfOrder = "out_of_order"
	ReasonComplete   = "complete"
)

// Dangling policies.
const (
	DanglingKeep = iota
	DanglingDrop
	DanglingReplace
)

// PrometheusLabelBudget is the rune budget of an exemplar's labels in
// Prometheus; trace_id and span_id (names and hex values) take 63 of it.
const (
	PrometheusLabelBudget = 128
	idLabelRunes          = len("trace_id") + 32 + len("span_id") + 16
)

const (
	// maxWalk bounds the spans visited per duration class list; peekWalk is
	// the first, shallow pass over every class of a bucket.
	maxWalk  = 512
	peekWalk = 4
	// lateSlack is how long a bucket that grew without an exemplar waits for
	// a late span.
	lateSlack = int64(60e9)
	// clockSkew is how far ahead of the collector's clock an SDK's clock may
	// run: a span that reached the collector more than this before a window
	// opened cannot have ended inside it.
	clockSkew = int64(10e9)
)

// Params are the per-metric settings.
type Params struct {
	// UnitNanos converts span durations to the metric's unit; 0 when values
	// do not come from durations.
	UnitNanos float64
	// ValueSlot reads values from a numeric span attribute, -1 for duration.
	ValueSlot int
	// MaxPerPoint caps the exemplars of a point, 0 for one per bucket.
	MaxPerPoint int
	// FilteredAttributes copies span attributes onto exemplars.
	FilteredAttributes bool
	// Dangling is the policy for existing exemplars whose span is unknown.
	Dangling int
	// DanglingGrace and TTL bound the exemplar ages that can be judged (ns).
	DanglingGrace, TTL int64
	// Tolerance is how far (in the metric's unit) a span's duration may lie
	// outside a bucket that needs an exemplar and still fill it, its value
	// clamped to the bucket: instrumentations time the metric and the span
	// separately. 0 disables; only duration values use it.
	Tolerance float64
	// ToleranceNanos is the same tolerance in time: a span that ended this
	// little after the point (the metric counted the request just before
	// it) may fill a bucket that grew, its timestamp clamped to the point.
	ToleranceNanos uint64
}

// Point is a histogram data point seen through its bucket layout.
type Point struct {
	Layout     buckets.Layout
	Counts     []uint64 // per flat bucket of Layout
	Start      uint64
	Time       uint64
	Cumulative bool
	Count      uint64
	Sum        float64
	HasSum     bool
	// LayoutKey changes when bounds, scale or zero threshold change.
	LayoutKey uint64
	// Exp is set for exponential points.
	Exp       *buckets.Exponential
	Exemplars pmetric.ExemplarSlice
}

// Exact is a span named by the data point's own trace/span ID attributes.
type Exact struct {
	Ref spanindex.Ref
	// Value is the observation's value when the caller knows it exactly
	// (a merged point that counted one observation).
	Value    float64
	HasValue bool
}

// Result reports what Enrich did.
type Result struct {
	Matched, Exact int
	Unfilled       int
	// Reason is set when no exemplar was attached.
	Reason                                          string
	DanglingKept, DanglingDropped, DanglingReplaced int
	// ExactValueUnknown counts exact spans whose value could not be placed.
	ExactValueUnknown int
}

// Enricher holds the reusable scratch space of one metrics batch. It is not
// safe for concurrent use.
type Enricher struct {
	reader  spanindex.Reader
	streams *streams.Table
	now     int64

	prev   []streams.Bucket
	grown  []bool
	target []bool
	filled []bool
	best   []candidate
	groups []spanindex.GroupID
	fines  []uint8
	// countFines is countInWindow's, apart from fines: it may run while a
	// walk over fines is under way.
	countFines []uint8
	chosen     []int
	removals   []int
	pending    []pendingReplace

	// Candidates and their assignment (assign.go).
	newest []spanindex.Recent
	lists  [][]candidate // per bucket, best first
	full   []bool        // the bucket's list holds all its candidates
	owners []owner       // which bucket each assigned span explains
	seen   []uint64      // spans tried by the current augmenting search
	// The last ArrivedSince answer (the index does not change while the
	// Enricher reads it).
	floorAt    int64
	floorSeq   uint64
	floorValid bool
	// cur is the point being searched.
	cur struct {
		p      *Point
		w      window // a copy: a pointer would move every point's window to the heap
		params *Params
		// whole: seenWhole's answer, once wholeKnown.
		whole, wholeKnown bool
	}
}

// pendingReplace is a dangling exemplar that goes only if a span replaces it.
type pendingReplace struct {
	index, bucket int
	ts            uint64
}

type candidate struct {
	ref   spanindex.Ref
	value float64
	ts    uint64 // exemplar timestamp: the span's end, or the point's time when clamped
	ok    bool
	rank  rank
}

// rank orders candidates for one bucket; a higher rank wins, then a later end.
type rank uint8

const (
	rankNone rank = iota
	// rankNearLate and rankNearFresh: duration within the tolerance of the
	// bucket, value clamped; late means it ended before the previous point.
	rankNearLate
	rankNearFresh
	// rankLate: ended before the previous point, arrived after it.
	rankLate
	// rankFresh: ended since the previous point (or in the window).
	rankFresh
	// rankExact: named by the data point's own trace/span IDs.
	rankExact
)

// Reset points a (possibly reused) Enricher at r and t at time now. The
// caller holds r's read lock and t's lock while it uses the Enricher.
func (e *Enricher) Reset(r spanindex.Reader, t *streams.Table, now int64) {
	e.reader, e.streams, e.now = r, t, now
	e.floorValid = false
}

// arrivedSince is Reader.ArrivedSince, remembered for the last time asked:
// the points of one export share their timestamps.
func (e *Enricher) arrivedSince(t int64) uint64 {
	if !e.floorValid || e.floorAt != t {
		e.floorAt, e.floorSeq, e.floorValid = t, e.reader.ArrivedSince(t), true
	}
	return e.floorSeq
}

// window is what makes a span an honest candidate for a bucket.
type window struct {
	start, end uint64 // the span must end in (start, end]
	continuing bool
	prevTime   uint64 // continuing cumulative: spans ending by here must be late
	prevSeq    uint64
	seenFrom   uint64 // continuing cumulative: the stream's SeenFrom
	// seqFloor: spans numbered below it arrived too early to be candidates.
	seqFloor uint64
}

// eligible returns the rank a span would have as bucket b's candidate, or
// rankNone when it cannot honestly be one.
func (e *Enricher) eligible(w *window, ref *spanindex.Ref, b int) rank {
	end := ref.End
	if end <= e.prev[b].LastExemplar || end <= w.start || end > w.end {
		return rankNone
	}
	if !w.continuing {
		return rankFresh
	}
	if end > w.prevTime {
		// Ended since the previous point: it can only explain growth.
		if e.grown[b] {
			return rankFresh
		}
		return rankNone
	}
	// Ended before the previous point: one of this bucket's observations in
	// (start, time] that arrived after the previous point was processed. A
	// bucket that did not grow now takes it only if it ended in the interval
	// in which the bucket grew without an exemplar.
	if ref.Seq < w.prevSeq {
		return rankNone
	}
	if !e.grown[b] && (end <= e.prev[b].OwedFrom || end > e.prev[b].OwedTo) {
		return rankNone
	}
	return rankLate
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// Enrich attaches exemplars to p. keys gives the key that selects the join
// groups (nil when no rule applies: only exact spans can be used); stream
// identifies p's stream.
func (e *Enricher) Enrich(p *Point, keys KeySource, stream uint64, exact []Exact, params *Params) Result {
	var res Result
	n := p.Layout.Len()
	e.prev = resize(e.prev, n)
	e.grown = resize(e.grown, n)
	e.target = resize(e.target, n)
	e.filled = resize(e.filled, n)
	e.best = resize(e.best, n)
	e.full = resize(e.full, n)
	if cap(e.lists) < n {
		e.lists = make([][]candidate, n)
	}
	e.lists = e.lists[:n]
	for b := range e.lists {
		e.lists[b] = e.lists[b][:0]
	}

	st, isNew := e.streams.Get(stream, e.now)
	compatible := !isNew && e.mapPrevious(st, p)
	w := window{start: p.Start, end: p.Time}
	var prevCount uint64
	if p.Cumulative && compatible && st.Start == p.Start {
		if p.Time == st.Time {
			res.Reason = ReasonUnchanged
			return res
		}
		if p.Time < st.Time {
			res.Reason = ReasonOutOfOrder
			return res
		}
		reset := false
		for b := range n {
			if p.Counts[b] < e.prev[b].Count {
				reset = true
				break
			}
		}
		if !reset {
			w.continuing, w.prevTime, w.prevSeq, w.seenFrom = true, st.Time, st.Seq, st.SeenFrom
			prevCount = st.Count
		}
	}
	if !compatible {
		clear(e.prev)
	}

	needed := false
	for b := range n {
		if w.continuing {
			e.grown[b] = p.Counts[b] > e.prev[b].Count
			owed := e.prev[b].OwedTo > 0 && int64(p.Time-e.prev[b].OwedTo) <= lateSlack
			e.target[b] = e.grown[b] || owed
		} else {
			e.grown[b] = p.Counts[b] > 0
			e.target[b] = e.grown[b]
		}
		needed = needed || e.target[b]
	}

	e.existing(p, params, &res)
	for b := range n {
		if e.filled[b] {
			e.target[b] = false
		}
	}

	// The exact observation value, when the point tells it: one new count.
	obs, hasObs := 0.0, false
	if p.HasSum {
		switch {
		case !w.continuing && p.Count == 1:
			obs, hasObs = p.Sum, true
		case w.continuing && p.Count == prevCount+1:
			obs, hasObs = p.Sum-st.Sum, true
		}
	}
	if anyTarget(e.target) {
		for i := range exact {
			e.considerExact(p, &w, &exact[i], obs, hasObs, params, &res)
		}
	}
	if keys != nil {
		low := w.start
		if w.continuing {
			// Non-late candidates end after the previous point; late ones
			// arrived after it was processed (Seq >= prevSeq).
			low = w.prevTime
		}
		w.seqFloor = e.arrivedSince(int64(low) - clockSkew)
		if w.continuing {
			w.seqFloor = min(w.seqFloor, w.prevSeq)
		}
		e.joinGroups(st, keys)
	} else {
		e.groups = e.groups[:0] // no rule: only the point's own spans
	}
	e.cur.p, e.cur.w, e.cur.params = p, w, params
	e.cur.wholeKnown = false
	e.collect()
	e.assign()
	kept := e.settleExisting(p, &res)
	attached := e.attach(p, params, kept, &res)

	// Remember the point.
	if p.Cumulative && !w.continuing {
		// Requests counted before a first point the processor did not see
		// whole are not its to stand in for, now or later.
		st.SeenFrom = p.Start
		if keys != nil && !e.seenWhole() {
			st.SeenFrom = p.Time
		}
	}
	st.Start, st.Time, st.Count, st.Sum = p.Start, p.Time, p.Count, p.Sum
	st.Seq = e.reader.NextSeq()
	st.LayoutKey = p.LayoutKey
	if p.Exp != nil {
		st.PosOffset, st.PosLen, st.NegOffset = p.Exp.PosOffset, p.Exp.PosLen, p.Exp.NegOffset
	}
	st.Buckets = resize(st.Buckets, n)
	for b := range n {
		// The span's own end, even when the exemplar took the point's time:
		// a span that straddled this point must not serve the next one.
		last := e.prev[b].LastExemplar
		if c := e.best[b]; c.ok && c.ref.End > last {
			last = c.ref.End
		}
		st.Buckets[b] = streams.Bucket{Count: p.Counts[b], LastExemplar: last}
		if e.target[b] && !e.best[b].ok {
			res.Unfilled++
			if p.Cumulative {
				// Owed for the interval it grew in, so a late span is
				// awaited for a bounded time and only from that interval.
				from := w.start
				if w.continuing {
					from = w.prevTime
				}
				st.Buckets[b].OwedFrom, st.Buckets[b].OwedTo = from, p.Time
				if w.continuing && !e.grown[b] {
					st.Buckets[b].OwedFrom, st.Buckets[b].OwedTo = e.prev[b].OwedFrom, e.prev[b].OwedTo
				}
			}
		}
	}

	if attached == 0 {
		switch {
		case res.Unfilled > 0:
			res.Reason = ReasonNoSpan
		case needed:
			res.Reason = ReasonComplete
		default:
			res.Reason = ReasonUnchanged
		}
	}
	return res
}

// mapPrevious fills e.prev with the stream's previous buckets in p's layout,
// merging buckets when an exponential histogram was downscaled. It reports
// false when the layouts cannot be compared (the stream starts afresh).
func (e *Enricher) mapPrevious(st *streams.State, p *Point) bool {
	if p.Exp == nil {
		if st.LayoutKey != p.LayoutKey || len(st.Buckets) != len(e.prev) {
			return false
		}
		copy(e.prev, st.Buckets)
		return true
	}
	// For exponential points LayoutKey holds the zero threshold; the scale
	// is compared here because a downscale is comparable.
	prevScale, pScale := int32(st.LayoutKey>>32), p.Exp.Scale
	if uint32(st.LayoutKey) != uint32(p.LayoutKey) || prevScale < pScale {
		return false
	}
	shift := prevScale - pScale
	prevLayout := buckets.Exponential{Scale: prevScale, PosOffset: st.PosOffset, PosLen: st.PosLen, NegOffset: st.NegOffset, NegLen: len(st.Buckets) - 1 - st.PosLen}
	for b, pb := range st.Buckets {
		sign, idx := prevLayout.Bucket(b)
		var to int
		switch sign {
		case 0:
			to = 0
		case 1:
			k := int64(idx>>shift) - int64(p.Exp.PosOffset)
			if k < 0 || k >= int64(p.Exp.PosLen) {
				to = -1
			} else {
				to = 1 + int(k)
			}
		default:
			k := int64(idx>>shift) - int64(p.Exp.NegOffset)
			if k < 0 || k >= int64(p.Exp.NegLen) {
				to = -1
			} else {
				to = 1 + p.Exp.PosLen + int(k)
			}
		}
		if to < 0 {
			if pb.Count > 0 {
				return false // counts vanished: not the same cumulative stream
			}
			continue
		}
		q := &e.prev[to]
		q.Count += pb.Count
		q.LastExemplar = max(q.LastExemplar, pb.LastExemplar)
		if pb.OwedTo > 0 {
			if q.OwedTo == 0 || pb.OwedFrom < q.OwedFrom {
				q.OwedFrom = pb.OwedFrom
			}
			q.OwedTo = max(q.OwedTo, pb.OwedTo)
		}
	}
	return true
}

// existing marks the buckets the point's own exemplars fill and applies the
// dangling policy: keep leaves a dangling exemplar, drop removes it (its
// bucket may then be filled like any empty one), replace removes it only
// when a matching span takes its place (see settleExisting).
func (e *Enricher) existing(p *Point, params *Params, res *Result) {
	e.removals, e.pending = e.removals[:0], e.pending[:0]
	exs := p.Exemplars
	for i := 0; i < exs.Len(); i++ {
		ex := exs.At(i)
		b := p.Layout.Of(exemplarValue(ex))
		if e.dangling(ex, params) {
			switch {
			case params.Dangling == DanglingDrop:
				res.DanglingDropped++
				e.removals = append(e.removals, i)
				continue
			case params.Dangling == DanglingReplace && b >= 0 && e.target[b]:
				e.pending = append(e.pending, pendingReplace{index: i, bucket: b, ts: uint64(ex.Timestamp())})
				continue
			default:
				res.DanglingKept++
			}
		}
		e.fill(b, uint64(ex.Timestamp()))
	}
}

func (e *Enricher) fill(b int, ts uint64) {
	if b < 0 {
		return
	}
	e.filled[b] = true
	e.target[b] = false
	if ts > e.prev[b].LastExemplar {
		e.prev[b].LastExemplar = ts
	}
}

// settleExisting replaces the dangling exemplars a span was found for, keeps
// the others, removes what goes and returns how many existing ones stay.
func (e *Enricher) settleExisting(p *Point, res *Result) int {
	for _, pr := range e.pending {
		if e.best[pr.bucket].ok {
			res.DanglingReplaced++
			e.removals = append(e.removals, pr.index)
			continue
		}
		res.DanglingKept++
		e.fill(pr.bucket, pr.ts)
	}
	exs := p.Exemplars
	if len(e.removals) == 0 {
		return exs.Len()
	}
	sort.Ints(e.removals)
	i, next := 0, 0
	exs.RemoveIf(func(pmetric.Exemplar) bool {
		d := next < len(e.removals) && e.removals[next] == i
		if d {
			next++
		}
		i++
		return d
	})
	return exs.Len()
}

// dangling reports whether an exemplar names a span the index should know
// but does not: old enough for the span to have arrived, young enough not to
// have been evicted.
func (e *Enricher) dangling(ex pmetric.Exemplar, params *Params) bool {
	tid, sid := ex.TraceID(), ex.SpanID()
	if tid.IsEmpty() || sid.IsEmpty() {
		return false
	}
	age := e.now - int64(ex.Timestamp())
	if age < params.DanglingGrace || age > params.TTL {
		return false
	}
	_, found := e.reader.Lookup(tid, sid)
	return !found
}

func exemplarValue(ex pmetric.Exemplar) float64 {
	if ex.ValueType() == pmetric.ExemplarValueTypeInt {
		return float64(ex.IntValue())
	}
	return ex.DoubleValue()
}

// spanValue is a span's value in the metric's unit, or NaN.
func (e *Enricher) spanValue(ref *spanindex.Ref, params *Params) float64 {
	if params.ValueSlot >= 0 {
		if x := e.reader.Extra(*ref); x != nil && params.ValueSlot < len(x.Values) {
			return x.Values[params.ValueSlot]
		}
		return math.NaN()
	}
	if params.UnitNanos > 0 {
		return float64(ref.Duration) / params.UnitNanos
	}
	return math.NaN()
}

func anyTarget(target []bool) bool {
	for _, t := range target {
		if t {
			return true
		}
	}
	return false
}

// attach appends the chosen exemplars, slowest buckets first when capped,
// and returns how many were added.
func (e *Enricher) attach(p *Point, params *Params, kept int, res *Result) int {
	e.chosen = e.chosen[:0]
	for b, c := range e.best {
		if c.ok {
			e.chosen = append(e.chosen, b)
		}
	}
	if params.MaxPerPoint > 0 {
		room := max(params.MaxPerPoint-kept, 0)
		if len(e.chosen) > room {
			sort.Slice(e.chosen, func(i, j int) bool { return e.best[e.chosen[i]].value > e.best[e.chosen[j]].value })
			for _, b := range e.chosen[room:] {
				e.best[b].ok = false
			}
			e.chosen = e.chosen[:room]
			sort.Ints(e.chosen)
		}
	}
	for _, b := range e.chosen {
		c := &e.best[b]
		e.reader.LoadIDs(&c.ref)
		ex := p.Exemplars.AppendEmpty()
		ex.SetTraceID(c.ref.TraceID)
		ex.SetSpanID(c.ref.SpanID)
		ex.SetTimestamp(pcommon.Timestamp(c.ts))
		ex.SetDoubleValue(c.value)
		if params.FilteredAttributes {
			e.filtered(ex, c.ref)
		}
		if c.rank == rankExact {
			res.Exact++
		} else {
			res.Matched++
		}
	}
	return len(e.chosen)
}

// filtered copies the kept span attributes while Prometheus' exemplar label
// budget holds.
func (e *Enricher) filtered(ex pmetric.Exemplar, ref spanindex.Ref) {
	x := e.reader.Extra(ref)
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

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/buckets"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/streams"
)

// The fixture is one join group of a real span index (service "shop",
// SERVER spans of route "/a"), one stream of a stream table, and points of
// a millisecond duration histogram. Times are offsets from base; spans are
// inserted at chosen arrival times and points enriched at chosen processing
// times, both in the order the test gives them, as a collector sees them.

const (
	sec  = time.Second
	msec = time.Millisecond
	usec = time.Microsecond
	// base is the fixture's time zero, Unix ns.
	base = int64(1_793_000_000) * int64(time.Second)
	// defaultTolerance is exemplars.duration_tolerance's default.
	defaultTolerance = 2 * msec
)

// msBounds are the bounds (ms) of the fixture's explicit points, those of
// the semantic conventions' HTTP duration histogram:
// 0 (-inf,5], 1 (5,10], 2 (10,25], 3 (25,50], 4 (50,75], 5 (75,100],
// 6 (100,250], 7 (250,500], 8 (500,+inf).
func msBounds() []float64 { return []float64{5, 10, 25, 50, 75, 100, 250, 500} }

// at is the fixture time d as Unix ns.
func at(d time.Duration) uint64 { return uint64(base + d.Nanoseconds()) }

// wall is the fixture time d.
func wall(d time.Duration) time.Time { return time.Unix(0, base+d.Nanoseconds()) }

// sp is a span of the fixture's join group: number n (its trace and span
// IDs), ended at end after lasting dur, reaching the collector at arrive.
type sp struct {
	n          uint64
	end, dur   time.Duration
	arrive     time.Duration        // 0: half a second after it ended
	attrs      []spanindex.KeyValue // filtered attributes kept for it
	values     []float64            // numeric attributes (value slots)
	otherGroup bool                 // another route: never a candidate
}

// decoy is span n of duration dur that is no candidate of any point of the
// tests (it ends ten minutes in) but makes a walk read its duration class: a
// list whose spans all ended before a window or a bucket's last exemplar, or
// arrived too early, is skipped from its head alone, which would hide the
// rule a test means to check span by span.
func decoy(n uint64, dur, arrive time.Duration) sp {
	return sp{n: n, end: 10 * time.Minute, dur: dur, arrive: arrive}
}

type fixture struct {
	t      *testing.T
	idx    *spanindex.Index
	key    *spanindex.Key
	other  *spanindex.Key
	table  *streams.Table
	params Params
	e      Enricher
	// stream is the hash of the stream the points belong to.
	stream uint64
	// noRule: no rule selects the metric, only the point's own spans join.
	noRule bool
	// now is the last arrival or processing time: the fixture runs forward.
	now  time.Duration
	refs map[uint64]spanindex.Ref
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	idx, err := spanindex.New(spanindex.Config{MaxSpans: 4096, TTL: time.Hour, DuplicateWindow: time.Minute})
	require.NoError(t, err)
	return &fixture{
		t:     t,
		idx:   idx,
		key:   groupKey(idx, "/a"),
		other: groupKey(idx, "/b"),
		table: streams.New(16, time.Hour),
		params: Params{
			UnitNanos:     1e6,
			ValueSlot:     -1,
			DanglingGrace: 30 * sec,
			TTL:           time.Hour,
			LateWindow:    time.Minute,
		},
		stream: 1,
		now:    math.MinInt64,
		refs:   map[uint64]spanindex.Ref{},
	}
}

func groupKey(idx *spanindex.Index, route string) *spanindex.Key {
	k := idx.NewKey()
	k.AddString("shop")
	k.SetKind(2)
	k.AddString(route)
	return k
}

// tolerant sets exemplars.duration_tolerance, with the timing of an
// instrumentation nothing is known of: the metric's value of a request may
// lie anywhere within the tolerance of its span's duration.
func (f *fixture) tolerant(d time.Duration) *fixture {
	f.params.Tolerance = float64(d.Nanoseconds()) / f.params.UnitNanos
	f.params.ToleranceTime = d
	f.params.Timing = skew{low: -d, high: d}
	return f
}

// timed sets the instrumentation's timing: its metric value of a request
// lies in [low, high] of the span's duration.
func (f *fixture) timed(low, high time.Duration) *fixture {
	f.params.Timing = skew{low: low, high: high}
	return f
}

// skew is a Timing for the tests: the metric's value of a request lies
// within [low, high] of its span's duration, not rounded.
type skew struct{ low, high time.Duration }

func (w skew) Admits(span time.Duration, lo, hi, unitNanos float64) bool {
	a, b := float64(span+w.low)/unitNanos, float64(span+w.high)/unitNanos
	return b > lo && a <= hi
}

func (w skew) SpanRange(lo, hi, unitNanos float64) (float64, float64) {
	return lo - float64(w.high)/unitNanos, hi - float64(w.low)/unitNanos
}

func (f *fixture) advance(to time.Duration) {
	f.t.Helper()
	require.GreaterOrEqual(f.t, to, f.now, "the fixture runs forward")
	f.now = to
}

// add indexes spans, each at its arrival time (default: half a second
// after it ended).
func (f *fixture) add(spans ...sp) {
	f.t.Helper()
	for _, s := range spans {
		arrive := s.arrive
		if arrive == 0 {
			arrive = s.end + sec/2
		}
		f.advance(arrive)
		span := spanindex.Span{TraceID: traceID(s.n), SpanID: spanID(s.n), Start: at(s.end - s.dur), End: at(s.end), Kind: 2}
		key := f.key
		if s.otherGroup {
			key = f.other
		}
		w := f.idx.BeginWrite(wall(arrive))
		out, ref := w.Insert(&span, key)
		if s.attrs != nil || s.values != nil {
			w.SetExtra(ref, spanindex.Extra{Attributes: s.attrs, Values: s.values})
		}
		w.End()
		require.Equal(f.t, spanindex.Indexed, out, "span %d", s.n)
		f.refs[s.n] = ref
	}
}

// enrich runs the enricher on p at processing time now.
func (f *fixture) enrich(p *Point, now time.Duration, exact ...Exact) Result {
	f.t.Helper()
	f.advance(now)
	r := f.idx.BeginRead()
	defer r.End()
	f.table.Lock()
	defer f.table.Unlock()
	f.e.Reset(r, wall(now))
	st := f.table.Get(f.stream, wall(now))
	in := Input{Point: p, Stream: st, Exact: exact, Params: &f.params}
	if !f.noRule {
		in.Joined, in.Groups = true, r.Groups(f.key, nil)
	}
	return f.e.Enrich(&in)
}

// step is one point of a scenario: the spans that reach the collector
// before it, then the point, processed at proc (0: a second after its time).
type step struct {
	add   []sp
	point *Point
	proc  time.Duration
}

// run runs the steps and returns the last one's result.
func (f *fixture) run(steps ...step) Result {
	f.t.Helper()
	var res Result
	for _, s := range steps {
		f.add(s.add...)
		proc := s.proc
		if proc == 0 {
			proc = time.Duration(int64(s.point.Time)-base) + sec
		}
		res = f.enrich(s.point, proc)
	}
	return res
}

// exact names span n as the point's own (trace/span ID attributes).
func (f *fixture) exact(n uint64) Exact {
	f.t.Helper()
	ref, ok := f.refs[n]
	require.True(f.t, ok, "span %d was not added", n)
	return Exact{Ref: ref}
}

// previous is the stream's remembered state (buckets copied).
func (f *fixture) previous() (streams.Previous, []streams.Bucket, bool) {
	f.table.Lock()
	defer f.table.Unlock()
	prev, bs, ok := f.table.Get(f.stream, wall(f.now)).Previous()
	var out []streams.Bucket
	if bs.Len() > 0 {
		out = make([]streams.Bucket, bs.Len())
		bs.CopyTo(out)
	}
	return prev, out, ok
}

func traceID(n uint64) [16]byte {
	var id [16]byte
	id[0] = 0xab
	binary.BigEndian.PutUint64(id[8:], n)
	return id
}

func spanID(n uint64) [8]byte {
	var id [8]byte
	binary.BigEndian.PutUint64(id[:], n)
	return id
}

// explicitPoint is a point of msBounds ending at end, counting counts.
func explicitPoint(cumulative bool, start, end time.Duration, counts ...uint64) *Point {
	return explicitWith(msBounds(), cumulative, start, end, counts...)
}

func delta(start, end time.Duration, counts ...uint64) *Point {
	return explicitPoint(false, start, end, counts...)
}

func cumulative(start, end time.Duration, counts ...uint64) *Point {
	return explicitPoint(true, start, end, counts...)
}

func explicitWith(bounds []float64, cumulative bool, start, end time.Duration, counts ...uint64) *Point {
	key := uint64(len(bounds))
	for _, b := range bounds {
		key = key*1_000_003 ^ math.Float64bits(b)
	}
	return &Point{
		Layout:       buckets.Explicit{Bounds: bounds},
		Counts:       counts,
		Start:        at(start),
		Time:         at(end),
		Cumulative:   cumulative,
		Count:        total(counts),
		StreamLayout: streams.Layout{Key: key},
		Exemplars:    pmetric.NewExemplarSlice(),
	}
}

// expPoint is an exponential point without negative buckets: counts are
// the zero bucket's, then the positive buckets' from offset.
func expPoint(cumulative bool, scale, offset int32, start, end time.Duration, counts ...uint64) *Point {
	x := &buckets.Exponential{Scale: scale, PosOffset: offset, PosLen: len(counts) - 1}
	return &Point{
		Layout:       x,
		Exp:          x,
		Counts:       counts,
		Start:        at(start),
		Time:         at(end),
		Cumulative:   cumulative,
		Count:        total(counts),
		StreamLayout: streams.Layout{Key: uint64(uint32(scale)) << 32, PosOffset: offset, PosLen: len(counts) - 1},
		Exemplars:    pmetric.NewExemplarSlice(),
	}
}

func total(counts []uint64) uint64 {
	var n uint64
	for _, c := range counts {
		n += c
	}
	return n
}

// sdkExemplar gives p an exemplar as an SDK would: naming span n (0: no
// trace context), recorded at ts with value v.
func sdkExemplar(p *Point, n uint64, ts time.Duration, v float64) {
	ex := p.Exemplars.AppendEmpty()
	if n != 0 {
		ex.SetTraceID(traceID(n))
		ex.SetSpanID(spanID(n))
	}
	ex.SetTimestamp(pcommon.Timestamp(at(ts)))
	ex.SetDoubleValue(v)
}

// spansOf is the span number of each exemplar of p, in order (0 for an
// exemplar without a span ID).
func spansOf(p *Point) []uint64 {
	out := []uint64{}
	for i := 0; i < p.Exemplars.Len(); i++ {
		sid := p.Exemplars.At(i).SpanID()
		out = append(out, binary.BigEndian.Uint64(sid[:]))
	}
	return out
}

// byBucket maps each bucket of p that holds an exemplar to its span number.
func byBucket(p *Point) map[int]uint64 {
	out := map[int]uint64{}
	for i := 0; i < p.Exemplars.Len(); i++ {
		ex := p.Exemplars.At(i)
		sid := ex.SpanID()
		out[p.Layout.Of(buckets.ExemplarValue(ex))] = binary.BigEndian.Uint64(sid[:])
	}
	return out
}

// exemplarOf returns the exemplar of p naming span n.
func exemplarOf(t *testing.T, p *Point, n uint64) pmetric.Exemplar {
	t.Helper()
	for i := 0; i < p.Exemplars.Len(); i++ {
		if ex := p.Exemplars.At(i); ex.SpanID() == pcommon.SpanID(spanID(n)) {
			return ex
		}
	}
	require.Failf(t, "no exemplar", "span %d has no exemplar on the point", n)
	return pmetric.Exemplar{}
}

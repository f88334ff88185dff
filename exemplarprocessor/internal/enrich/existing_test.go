// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The point's own exemplars: a bucket holding one gets no new exemplar.
func TestExistingExemplarFillsItsBucket(t *testing.T) {
	f := newFixture(t)
	f.add(sp{n: 9, end: 14 * sec, dur: 7 * msec}, sp{n: 1, end: 16 * sec, dur: 7 * msec}, sp{n: 2, end: 17 * sec, dur: 15 * msec})
	p := delta(10*sec, 20*sec, 0, 1, 1, 0, 0, 0, 0, 0, 0)
	sdkExemplar(p, 9, 14*sec, 7)
	res := f.enrich(p, 21*sec)
	assert.Equal(t, []uint64{9, 2}, spansOf(p), "kept first, one new for bucket 2")
	assert.Equal(t, Result{Matched: 1}, res)
}

// An integer-valued exemplar fills the bucket of its value; one whose value
// lies in no bucket of the point fills none.
func TestExistingExemplarBucketByValue(t *testing.T) {
	f := newFixture(t)
	f.add(sp{n: 1, end: 16 * sec, dur: 7 * msec}, sp{n: 2, end: 17 * sec, dur: 1500 * usec})
	p := delta(10*sec, 20*sec, 1, 1, 0, 0, 0, 0, 0, 0, 0)
	ex := p.Exemplars.AppendEmpty()
	ex.SetTraceID(traceID(1))
	ex.SetSpanID(spanID(1))
	ex.SetTimestamp(pcommon.Timestamp(at(16 * sec)))
	ex.SetIntValue(7)
	f.enrich(p, 21*sec)
	assert.Equal(t, []uint64{1, 2}, spansOf(p), "bucket 1 held the int exemplar")

	// Exponential: (1, 2] ms only; an exemplar of 100 ms is outside.
	g := newFixture(t)
	g.add(sp{n: 1, end: 16 * sec, dur: 1500 * usec})
	q := expPoint(false, 0, 0, 10*sec, 20*sec, 0, 1)
	sdkExemplar(q, 7, 15*sec, 100)
	g.enrich(q, 21*sec)
	assert.Equal(t, []uint64{7, 1}, spansOf(q))
}

// An existing exemplar raises the bucket's newest timestamp: a later point
// takes no span that ended before it.
func TestExistingExemplarRaisesLastExemplar(t *testing.T) {
	for _, tc := range []struct {
		name string
		ts   time.Duration // of the SDK's exemplar on the first point
		want map[int]uint64
	}{
		{"SDK exemplar after the late span", 9 * sec, map[int]uint64{}},
		{"SDK exemplar before the late span", 8 * sec, map[int]uint64{1: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			first := cumulative(0, 10*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)
			sdkExemplar(first, 1, tc.ts, 7)
			f.run(step{add: []sp{{n: 1, end: tc.ts, dur: 7 * msec}}, point: first})
			_, bs, _ := f.previous()
			require.Equal(t, at(tc.ts), bs[1].LastExemplar)

			p := cumulative(0, 20*sec, 0, 2, 0, 0, 0, 0, 0, 0, 0)
			f.run(step{add: []sp{{n: 2, end: 8500 * msec, dur: 7 * msec, arrive: 12 * sec}}, point: p})
			assert.Equal(t, tc.want, byBucket(p))
		})
	}
}

// Dangling exemplars name a span the index should know but does not: old
// enough (dangling grace) for the span to have arrived, young enough (TTL)
// not to have been evicted. The policy decides: keep leaves it, drop
// removes it, replace removes it only when a span takes its place.
func TestDanglingExemplars(t *testing.T) {
	const proc = 101 * sec // the point (90s, 100s] is processed then
	for _, tc := range []struct {
		name    string
		policy  Dangling
		age     time.Duration // of the exemplar at proc
		known   bool          // its span is in the index
		span    bool          // a span of bucket 1 is there to replace it
		want    []uint64      // the point's exemplars after
		counts  DanglingCounts
		reason  Reason
		inCount bool // bucket 1 counted a request (else the exemplar sits in a bucket without growth)
	}{
		{name: "keep", policy: DanglingKeep, age: time.Minute, span: true, want: []uint64{8}, counts: DanglingCounts{Kept: 1}, reason: ReasonComplete, inCount: true},
		{name: "drop, a span fills the bucket", policy: DanglingDrop, age: time.Minute, span: true, want: []uint64{1}, counts: DanglingCounts{Dropped: 1}, inCount: true},
		{name: "drop, no span", policy: DanglingDrop, age: time.Minute, want: []uint64{}, counts: DanglingCounts{Dropped: 1}, reason: ReasonNoSpan, inCount: true},
		{name: "replace, a span takes its place", policy: DanglingReplace, age: time.Minute, span: true, want: []uint64{1}, counts: DanglingCounts{Replaced: 1}, inCount: true},
		{name: "replace, no span: kept", policy: DanglingReplace, age: time.Minute, want: []uint64{8}, counts: DanglingCounts{Kept: 1}, reason: ReasonComplete, inCount: true},
		{name: "replace, its bucket needs none: kept", policy: DanglingReplace, age: time.Minute, span: true, want: []uint64{8}, counts: DanglingCounts{Kept: 1}, reason: ReasonUnchanged},
		{name: "drop, its bucket needs none: dropped", policy: DanglingDrop, age: time.Minute, span: true, want: []uint64{}, counts: DanglingCounts{Dropped: 1}, reason: ReasonUnchanged},
		{name: "younger than the grace: not judged", policy: DanglingDrop, age: 30*sec - 1, span: true, want: []uint64{8}, reason: ReasonComplete, inCount: true},
		{name: "as old as the grace: judged", policy: DanglingDrop, age: 30 * sec, span: true, want: []uint64{1}, counts: DanglingCounts{Dropped: 1}, inCount: true},
		{name: "as old as the TTL: judged", policy: DanglingDrop, age: time.Hour, span: true, want: []uint64{1}, counts: DanglingCounts{Dropped: 1}, inCount: true},
		{name: "older than the TTL: not judged", policy: DanglingDrop, age: time.Hour + 1, span: true, want: []uint64{8}, reason: ReasonComplete, inCount: true},
		{name: "its span is known: not dangling", policy: DanglingDrop, age: time.Minute, known: true, span: true, want: []uint64{8}, reason: ReasonComplete, inCount: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.params.Dangling = tc.policy
			if tc.known {
				f.add(sp{n: 8, end: 50 * sec, dur: 7 * msec})
			}
			if tc.span {
				f.add(sp{n: 1, end: 95 * sec, dur: 7 * msec})
			}
			var c uint64
			if tc.inCount {
				c = 1
			}
			p := delta(90*sec, 100*sec, 0, c, 0, 0, 0, 0, 0, 0, 0)
			sdkExemplar(p, 8, proc-tc.age, 7)
			res := f.enrich(p, proc)
			assert.Equal(t, tc.want, spansOf(p))
			assert.Equal(t, tc.counts, res.Dangling)
			assert.Equal(t, tc.reason, res.Reason)
		})
	}
}

// Exemplars with an empty trace or span ID (an always_on exemplar filter
// recording outside a span) link to nothing and the Prometheus exporter
// drops them: they do not fill their bucket and are never judged dangling.
// A span's exemplar takes the bucket and the traceless one goes; without a
// span it stays.
func TestExemplarWithoutTraceContext(t *testing.T) {
	for _, tc := range []struct {
		name     string
		trace    bool
		spanPart bool
	}{
		{"no trace or span ID", false, false},
		{"no span ID", true, false},
		{"no trace ID", false, true},
	} {
		for _, policy := range []Dangling{DanglingKeep, DanglingDrop, DanglingReplace} {
			for _, withSpan := range []bool{true, false} {
				f := newFixture(t)
				f.params.Dangling = policy
				if withSpan {
					f.add(sp{n: 1, end: 95 * sec, dur: 7 * msec})
				}
				p := delta(90*sec, 100*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)
				ex := p.Exemplars.AppendEmpty()
				if tc.trace {
					ex.SetTraceID(traceID(8))
				}
				if tc.spanPart {
					ex.SetSpanID(spanID(8))
				}
				ex.SetTimestamp(pcommon.Timestamp(at(40 * sec)))
				ex.SetDoubleValue(7)
				res := f.enrich(p, 101*sec)
				what := fmt.Sprintf("%s, policy %d, span %t", tc.name, policy, withSpan)
				assert.Equal(t, DanglingCounts{}, res.Dangling, what)
				require.Equal(t, 1, p.Exemplars.Len(), what)
				if withSpan {
					assert.Equal(t, []uint64{1}, spansOf(p), "%s: the span's exemplar replaced it", what)
					assert.Equal(t, TracelessCounts{Replaced: 1}, res.Traceless, what)
					assert.Equal(t, ReasonNone, res.Reason, what)
				} else {
					assert.Equal(t, pcommon.NewTraceIDEmpty() == p.Exemplars.At(0).TraceID(), !tc.trace, "%s: kept as it came", what)
					assert.Equal(t, TracelessCounts{Kept: 1}, res.Traceless, what)
					assert.Equal(t, ReasonNoSpan, res.Reason, "%s: the bucket is not complete", what)
				}
			}
		}
	}
}

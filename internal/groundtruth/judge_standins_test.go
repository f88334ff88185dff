// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"
)

// standInFigures are the stand-in figures of the server metric.
type standInFigures struct{ StandIns, Needed, Excess int }

func figuresOf(m *groundtruth.MetricReport) standInFigures {
	return standInFigures{m.StandIns, m.NeededStandIns, m.ExcessStandIns()}
}

// justAbove is the smallest value of an explicit bucket whose lower bound
// is lo: a stand-in from below is clamped there.
func justAbove(lo float64) float64 { return math.Nextafter(lo, math.Inf(1)) }

// TestJudgeNeededStandIns: of the processor's valid stand-ins, those no
// span of the bucket's own that had reached the collector by the point
// could have replaced (keeping as many buckets filled) are needed; the
// others are excess. (otelhttp: a request's metric is up to 2.5 ms
// shorter than its span, so a span stands in for the bucket below its own.)
func TestJudgeNeededStandIns(t *testing.T) {
	t.Run("needed: no span of the bucket's own", func(t *testing.T) {
		rep := standIn().judge()
		require.Empty(t, rep.Findings)
		m := rep.Metric(serverMetric)
		assert.Equal(t, standInFigures{1, 1, 0}, figuresOf(m))
		assert.Empty(t, m.Excess)
	})
	t.Run("excess: a span of the bucket's own was free", func(t *testing.T) {
		sc := standIn()
		sc.spans = append(sc.spans, serverSpan(2, 6*time.Second, ms(7)))
		rep := sc.judge()
		require.Empty(t, rep.Findings)
		m := rep.Metric(serverMetric)
		assert.Equal(t, standInFigures{1, 0, 1}, figuresOf(m))
		require.Len(t, m.Excess, 1)
		assert.Contains(t, m.Excess[0], "0000000000000002 0.007000 s")
	})
	t.Run("needed: the bucket's own span is the neighbour's only one", func(t *testing.T) {
		rep := chain().judge()
		require.Empty(t, rep.Findings)
		m := rep.Metric(serverMetric)
		assert.Equal(t, standInFigures{2, 2, 0}, figuresOf(m))
		// Covered minus inside-matchable is a lower bound, not the fewest.
		assert.Equal(t, []int{2, 1}, []int{m.Covered, m.InsideMatchable})
	})
	t.Run("excess: two crossed stand-ins where the spans fill their own buckets", func(t *testing.T) {
		rep := crossed().judge()
		require.Empty(t, rep.Findings)
		m := rep.Metric(serverMetric)
		assert.Equal(t, standInFigures{2, 0, 2}, figuresOf(m))
		require.Len(t, m.Excess, 1)
	})
	t.Run("needed: the bucket's own span reached the collector after the point", func(t *testing.T) {
		sc := ownSpanArrivesLate()
		rep := sc.judge()
		require.Empty(t, rep.Findings)
		m := rep.Metric(serverMetric)
		assert.Equal(t, standInFigures{1, 1, 0}, figuresOf(m))
		// In hindsight the late span could have covered the bucket on
		// point 1: covered minus inside-matchable would call the
		// stand-in avoidable.
		assert.Equal(t, []int{1, 1}, []int{m.Covered, m.InsideMatchable})
	})
	t.Run("excess: a fresh stand-in where the bucket's own late span was owed", func(t *testing.T) {
		rep := ownLateSpanOwed().judge()
		require.Empty(t, rep.Findings)
		assert.Equal(t, standInFigures{1, 0, 1}, figuresOf(rep.Metric(serverMetric)))
	})
	t.Run("needed: a late span of the bucket's own from a window it owes nothing", func(t *testing.T) {
		sc := ownLateSpanOwed()
		// Point 0 counted span 1's request in the bucket above its own
		// (its metric 0.1 ms longer): bucket (0.005, 0.01] owes window 0
		// nothing.
		sc.spans[0].dur = ms(9.9)
		sc.points[0].counts = []uint64{0, 0, 1, 0, 0, 0}
		sc.points[1].counts = []uint64{0, 1, 1, 0, 0, 0}
		rep := sc.judge()
		require.Empty(t, rep.Findings)
		assert.Equal(t, standInFigures{1, 1, 0}, figuresOf(rep.Metric(serverMetric)))
	})
	t.Run("a span another point's exemplar names is not free", func(t *testing.T) {
		rep := ownSpanUsedBefore().judge()
		require.Empty(t, rep.Findings)
		// Point 0's stand-in is excess (span 1 could fill its own bucket);
		// point 1's is needed: span 1 is point 0's exemplar.
		assert.Equal(t, standInFigures{2, 1, 1}, figuresOf(rep.Metric(serverMetric)))
	})
	t.Run("a bucket the SDK's exemplar fills is not the processor's to fill", func(t *testing.T) {
		// Bucket (0.005, 0.01] carries the SDK's exemplar of span 1 (7 ms);
		// span 2 (5.5 ms) lies there too and stands in for (-inf, 0.005].
		sc := base()
		sc.spans = append(sc.spans, serverSpan(2, 6*time.Second, ms(5.5)))
		sc.points[0].counts = []uint64{1, 1, 0, 0, 0, 0}
		sc.points[0].given = []exSpec{{span: 1, value: 0.007}}
		sc.points[0].attached = []exSpec{{span: 2, value: 0.005}}
		rep := sc.judge()
		require.Empty(t, rep.Findings)
		assert.Equal(t, standInFigures{1, 1, 0}, figuresOf(rep.Metric(serverMetric)))
	})
	t.Run("invalid stand-ins are excess", func(t *testing.T) {
		sc := standIn()
		sc.spans[0].dur = ms(13) // 3 ms above the bucket: beyond otelhttp's skew
		rep := sc.judge()
		assertRule(t, rep, groundtruth.RuleSkew)
		assert.Equal(t, standInFigures{1, 0, 1}, figuresOf(rep.Metric(serverMetric)))
	})
}

// crossed is a delta point that counted one request in (0.01, 0.025] and
// one in (0.025, 0.05]; span 1 (25.1 ms) lies in the upper, span 2
// (24.9 ms) in the lower, and each stands in for the other's bucket, as
// the timing allows. Count evidence comes from spans 3 and 4 (one more in
// each bucket), which reach the collector only after the point. A
// processor that crosses them attaches two stand-ins where none is needed.
func crossed() *scenario {
	sc := base()
	sc.spans = []spanSpec{
		serverSpan(1, 5*time.Second, ms(25.1)),
		serverSpan(2, 6*time.Second, ms(24.9)),
		serverSpan(3, 7*time.Second, ms(25.2)),
		serverSpan(4, 8*time.Second, ms(24.8)),
	}
	sc.spans[2].tick, sc.spans[3].tick = 2, 2
	sc.points[0].counts = []uint64{0, 0, 1, 1, 0, 0}
	sc.points[0].attached = []exSpec{{span: 1, value: 0.025}, {span: 2, value: justAbove(0.025)}}
	return sc
}

// ownSpanArrivesLate is a cumulative stream whose point 0 counted one
// request in (0.005, 0.01]; span 1 (10.5 ms, delivered before the point)
// stands in for it; span 2 (7 ms, of the bucket's own) ended in the
// window too but reached the collector after the point.
func ownSpanArrivesLate() *scenario {
	sc := standIn()
	sc.stream.cumulative = true
	late := serverSpan(2, 6*time.Second, ms(7))
	late.tick = 2
	sc.spans = append(sc.spans, late)
	sc.points = append(sc.points, pointSpec{time: 20 * time.Second, tick: 3, counts: []uint64{0, 1, 0, 0, 0, 0}})
	return sc
}

// ownLateSpanOwed is a cumulative stream whose point 0 counted one request
// in (0.005, 0.01], its span (span 1, 7 ms) reaching the collector after
// the point; point 1 counted one more there, whose only fresh candidate
// is span 2 (10.5 ms) standing in. Point 1 carries the stand-in; span 1,
// delivered by then and still owed, could have filled the bucket instead.
func ownLateSpanOwed() *scenario {
	sc := base()
	sc.stream.cumulative = true
	sc.spans[0].tick = 2
	sc.spans = append(sc.spans, serverSpan(2, 15*time.Second, ms(10.5)))
	sc.spans[1].tick = 2
	sc.points[0].attached = nil
	sc.points = append(sc.points, pointSpec{
		time: 20 * time.Second, tick: 3, counts: []uint64{0, 2, 0, 0, 0, 0},
		attached: []exSpec{{span: 2, value: 0.01}},
	})
	return sc
}

// ownSpanUsedBefore is a cumulative stream. Point 0 counted a request in
// (0.005, 0.01] and one in (0.01, 0.025]: span 1 (10.2 ms, of the upper)
// stands in for the lower, the upper's other span (span 3, 10.4 ms)
// reaches the collector only later, so the upper stays owed. Point 1
// counted one more in (0.01, 0.025], whose only fresh candidate, span 2
// (25.5 ms), stands in.
func ownSpanUsedBefore() *scenario {
	sc := base()
	sc.stream.cumulative = true
	sc.spans = []spanSpec{
		serverSpan(1, 5*time.Second, ms(10.2)),
		serverSpan(2, 15*time.Second, ms(25.5)),
		serverSpan(3, 6*time.Second, ms(10.4)),
	}
	sc.spans[1].tick, sc.spans[2].tick = 2, 5
	sc.points[0].counts = []uint64{0, 1, 1, 0, 0, 0}
	sc.points[0].attached = []exSpec{{span: 1, value: 0.01}}
	sc.points = append(sc.points, pointSpec{
		time: 20 * time.Second, tick: 3, counts: []uint64{0, 1, 2, 0, 0, 0},
		attached: []exSpec{{span: 2, value: 0.025}},
	})
	return sc
}

// chain is a delta point that counted one request in (-inf, 0.005] and
// one in (0.005, 0.01]. Span 1 (5.5 ms) lies in the upper and is the only
// span that can stand in for the lower (span 3, 5.8 ms, the upper's other
// request, reaches the collector after the point); span 2 (10.3 ms) can
// stand in for the upper. Filling both takes two stand-ins, though one
// bucket alone could be filled without any.
func chain() *scenario {
	sc := base()
	sc.spans = []spanSpec{
		serverSpan(1, 5*time.Second, ms(5.5)),
		serverSpan(2, 6*time.Second, ms(10.3)),
		serverSpan(3, 7*time.Second, ms(5.8)),
	}
	sc.spans[2].tick = 2
	sc.points[0].counts = []uint64{1, 1, 0, 0, 0, 0}
	sc.points[0].attached = []exSpec{{span: 1, value: 0.005}, {span: 2, value: 0.01}}
	return sc
}

// TestJudgeInsideMatchable: the grown buckets spans of their own buckets
// alone could fill, the most a processor attaching no stand-in could
// cover.
func TestJudgeInsideMatchable(t *testing.T) {
	t.Run("a stand-in's bucket is not", func(t *testing.T) {
		m := standIn().judge().Metric(serverMetric)
		assert.Equal(t, []int{1, 1, 0}, []int{m.Matchable, m.Covered, m.InsideMatchable})
	})
	t.Run("a bucket the SDK's exemplar fills is, whatever its span's duration", func(t *testing.T) {
		// The SDK's exemplar carries its metric's value (9.9 ms); its span
		// lasted 10.1 ms and reached the collector after the point. The
		// processor keeps it with any tolerance.
		sc := base()
		sc.spans[0].dur, sc.spans[0].tick = ms(10.1), 2
		sc.points[0].given = []exSpec{{span: 1, value: 0.0099}}
		sc.points[0].attached = nil
		rep := sc.judge()
		require.Empty(t, rep.Findings)
		m := rep.Metric(serverMetric)
		assert.Equal(t, []int{1, 1, 1, 0}, []int{m.Matchable, m.Covered, m.InsideMatchable, m.StandIns})
	})
}

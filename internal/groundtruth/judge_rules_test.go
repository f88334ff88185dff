// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"
)

const serverMetric = "http.server.request.duration"

// lateStandIn is a cumulative stream whose point 0 (10 s) counted a request
// in (0.005, 0.01] whose span (10.5 ms, just above: otelhttp's metric is
// shorter than its span) arrived only after point 0; point 1 (20 s)
// counted nothing more. The span would be an otherwise valid stand-in.
func lateStandIn() *scenario {
	sc := standIn()
	sc.stream.cumulative = true
	sc.spans[0].tick = 2
	sc.points[0].attached = nil
	sc.points = append(sc.points, pointSpec{
		time: 20 * time.Second, tick: 3, counts: []uint64{0, 1, 0, 0, 0, 0},
		attached: []exSpec{{span: 1, value: 0.01}},
	})
	return sc
}

// TestJudgeStandInsAreFresh: a span stands in for a bucket only on the
// point whose window it ended in; a late one waits for its own bucket.
func TestJudgeStandInsAreFresh(t *testing.T) {
	t.Run("valid: delivered before its point", func(t *testing.T) {
		sc := lateStandIn()
		sc.spans[0].tick = 0
		sc.points[0].attached = []exSpec{{span: 1, value: 0.01}}
		sc.points[1].attached = nil
		rep := sc.judge()
		require.Empty(t, rep.Findings)
		m := rep.Metric(serverMetric)
		assert.Equal(t, []int{1, 1, 1, 1}, []int{m.Grown, m.Matchable, m.Covered, m.StandIns})
	})
	t.Run("invalid: a late span standing in for an owed bucket", func(t *testing.T) {
		assertRule(t, lateStandIn().judge(), groundtruth.RuleStandInLate)
	})
	t.Run("invalid: a late span standing in for a bucket that grew again", func(t *testing.T) {
		sc := lateStandIn()
		sc.points[1].counts[1] = 2
		assertRule(t, sc.judge(), groundtruth.RuleStandInLate)
	})
	t.Run("a bucket only a late stand-in could fill is not matchable", func(t *testing.T) {
		sc := lateStandIn()
		sc.points[1].attached = nil
		m := sc.judge().Metric(serverMetric)
		assert.Equal(t, []int{1, 0, 0}, []int{m.Grown, m.Matchable, m.Covered})
		assert.Equal(t, map[string]int{groundtruth.UnmatchableLate: 1}, m.Unmatchable)
	})
}

// straddle is base with span 1 ending 1 ms after the delta point that
// counted it; the exemplar carries the point's time.
func straddle() *scenario {
	sc := base()
	sc.spans[0].end = 10*time.Second + ms(1)
	sc.points[0].attached[0].ts = 10 * time.Second
	return sc
}

// TestJudgeStraddles: a span that ended at most Tolerance after a point
// may fill a bucket of its own duration that grew there, with the point's
// time; on a cumulative stream also later, while the bucket is owed.
func TestJudgeStraddles(t *testing.T) {
	t.Run("valid: its own bucket grew", func(t *testing.T) {
		rep := straddle().judge()
		require.Empty(t, rep.Findings)
		m := rep.Metric(serverMetric)
		assert.Equal(t, []int{1, 1, 1, 1, 0}, []int{m.Grown, m.Matchable, m.Covered, m.Straddles, m.StandIns})
	})
	t.Run("valid: on an owed bucket after it arrived late", func(t *testing.T) {
		sc := straddle()
		sc.stream.cumulative = true
		sc.spans[0].tick = 2
		sc.points[0].attached = nil
		sc.points = append(sc.points, pointSpec{
			time: 20 * time.Second, tick: 3, counts: []uint64{0, 1, 0, 0, 0, 0},
			attached: []exSpec{{span: 1, value: 0.007, ts: 10 * time.Second}},
		})
		rep := sc.judge()
		require.Empty(t, rep.Findings)
		m := rep.Metric(serverMetric)
		assert.Equal(t, []int{1, 1, 1}, []int{m.Grown, m.Matchable, m.Covered})
		assert.Equal(t, []int{1, 1, 1, 1}, []int{m.Straddles, m.Late, m.Owed, m.OwedStraddles})
	})
	t.Run("invalid: its bucket did not grow", func(t *testing.T) {
		sc := straddle()
		sc.points[0].counts = []uint64{0, 0, 1, 0, 0, 0}
		assertRule(t, sc.judge(), groundtruth.RuleBucket)
	})
	t.Run("invalid: standing in for another bucket", func(t *testing.T) {
		sc := straddle()
		sc.spans[0].dur = ms(10.5)
		sc.points[0].attached[0].value = 0.01
		assertRule(t, sc.judge(), groundtruth.RuleStandInLate)
	})
	t.Run("invalid: the timestamp is no point's time", func(t *testing.T) {
		sc := straddle()
		sc.points[0].attached[0].ts = 10*time.Second - ms(1)
		assertRule(t, sc.judge(), groundtruth.RuleTimestamp)
	})
	t.Run("a bucket only a straddling span can fill is matchable", func(t *testing.T) {
		sc := straddle()
		sc.points[0].attached = nil
		m := sc.judge().Metric(serverMetric)
		assert.Equal(t, []int{1, 1, 0}, []int{m.Grown, m.Matchable, m.Covered})
	})
	t.Run("a straddling span stands in for nothing", func(t *testing.T) {
		sc := straddle()
		sc.spans[0].dur = ms(10.5)
		sc.points[0].attached = nil
		m := sc.judge().Metric(serverMetric)
		assert.Equal(t, []int{1, 0}, []int{m.Grown, m.Matchable})
	})
}

// TestJudgeTracelessSDKExemplars: an SDK exemplar without trace or span ID
// fills no bucket; the processor replaces it with a span's, never keeps
// both, and never drops an SDK exemplar that names a span.
func TestJudgeTracelessSDKExemplars(t *testing.T) {
	traceless := func(replaced bool) *scenario {
		sc := base()
		sc.points[0].given = []exSpec{{value: 0.008, ts: 4 * time.Second, replaced: replaced}}
		return sc
	}
	t.Run("covers nothing", func(t *testing.T) {
		sc := traceless(false)
		sc.points[0].attached = nil
		m := sc.judge().Metric(serverMetric)
		assert.Equal(t, []int{1, 1, 0, 0, 1, 1}, []int{m.Grown, m.Matchable, m.Covered, m.Filled, m.SDK, m.Traceless})
	})
	t.Run("valid: replaced by a span's exemplar", func(t *testing.T) {
		rep := traceless(true).judge()
		require.Empty(t, rep.Findings)
		m := rep.Metric(serverMetric)
		assert.Equal(t, []int{1, 1, 1, 1}, []int{m.Grown, m.Matchable, m.Covered, m.Traceless})
	})
	t.Run("invalid: a span's exemplar next to the traceless one", func(t *testing.T) {
		assertRule(t, traceless(false).judge(), groundtruth.RulePerBucket)
	})
	t.Run("invalid: an SDK exemplar naming a span removed", func(t *testing.T) {
		sc := base()
		sc.spans = append(sc.spans, serverSpan(2, 6*time.Second, ms(8)))
		sc.points[0].counts[1] = 2
		sc.points[0].given = []exSpec{{span: 2, value: 0.008, replaced: true}}
		assertRule(t, sc.judge(), groundtruth.RuleKept)
	})
	t.Run("an SDK exemplar naming a span fills its bucket", func(t *testing.T) {
		sc := base()
		sc.points[0].given = sc.points[0].attached
		sc.points[0].attached = nil
		rep := sc.judge()
		require.Empty(t, rep.Findings)
		m := rep.Metric(serverMetric)
		assert.Equal(t, []int{1, 1, 1, 0}, []int{m.Filled, m.Covered, m.SDK, m.Attached})
		assert.InDelta(t, 1.0, m.Share(), 1e-12)
	})
}

// TestJudgeTiming: each instrumentation's timers decide which buckets a
// span's request can have been counted in, in the direction they run and
// with the old Python histograms' rounding to whole milliseconds.
func TestJudgeTiming(t *testing.T) {
	node := func(dur time.Duration, bucket int, value float64) *scenario {
		sc := base()
		sc.stream.scope = "@opentelemetry/instrumentation-http"
		sc.spans[0].dur = dur
		sc.points[0].counts = make([]uint64, len(bounds)+1)
		sc.points[0].counts[bucket] = 1
		sc.points[0].attached[0].value = value
		return sc
	}
	python := func(scope string, kind ptrace.SpanKind, dur time.Duration, bucket int, value float64) *scenario {
		sc := node(dur, bucket, value)
		sc.stream.scope, sc.stream.unit, sc.stream.bounds = scope, "ms", msBounds
		sc.stream.metric = "http.server.duration"
		sc.stream.attrs = map[string]any{"http.method": "GET", "http.status_code": 200}
		sc.spans[0].kind = kind
		if kind == ptrace.SpanKindClient {
			sc.stream.metric = "http.client.duration"
		}
		sc.spans[0].attrs = map[string]any{"http.method": "GET", "http.status_code": 200}
		return sc
	}
	above5 := math.Nextafter(0.005, 1)
	for _, tc := range []struct {
		name string
		sc   *scenario
		rule string
	}{
		{"Node.js: the metric 1 ms longer than the span", node(ms(4), 1, above5), ""},
		{"Node.js: the metric 1.3 ms longer than the span", node(ms(3.7), 1, above5), groundtruth.RuleSkew},
		{"Node.js: the metric shorter than the span", node(ms(10.1), 1, 0.01), groundtruth.RuleSkew},
		{"otelhttp: the metric 0.2 ms longer than the span", func() *scenario {
			sc := node(ms(4.8), 1, above5)
			sc.stream.scope = otelhttpScope
			return sc
		}(), ""},
		{"requests, whole ms: own duration 5.45 ms may be recorded as 6", python("opentelemetry.instrumentation.requests", ptrace.SpanKindClient, ms(5.45), 2, 5.45), ""},
		{"requests, whole ms: own duration 5.3 ms is recorded as 5 at most", python("opentelemetry.instrumentation.requests", ptrace.SpanKindClient, ms(5.3), 2, 5.3), groundtruth.RuleSkew},
		{"Flask, whole ms: 5.4 ms may be recorded as 5", python("opentelemetry.instrumentation.flask", ptrace.SpanKindServer, ms(5.4), 1, 5), ""},
		{"Flask, whole ms: 4.7 ms is recorded as 5 at most", python("opentelemetry.instrumentation.flask", ptrace.SpanKindServer, ms(4.7), 2, math.Nextafter(5, 6)), groundtruth.RuleSkew},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := tc.sc.judge()
			if tc.rule == "" {
				assert.Empty(t, rep.Findings)
				return
			}
			assertRule(t, rep, tc.rule)
		})
	}
}

func TestSkewAdmits(t *testing.T) {
	const msNanos = 1e6
	skews := groundtruth.DefaultSkews()
	otelhttp, node := skews.For(otelhttpScope), skews.For("@opentelemetry/instrumentation-http")
	flask := skews.For("opentelemetry.instrumentation.flask")
	assert.Equal(t, []time.Duration{-2500 * time.Microsecond, 250 * time.Microsecond}, []time.Duration{otelhttp.Lo, otelhttp.Hi})
	assert.Equal(t, []time.Duration{-10 * time.Microsecond, 1200 * time.Microsecond}, []time.Duration{node.Lo, node.Hi})
	assert.Equal(t, groundtruth.Tolerance, skews.For("some.other").Hi, "unknown instrumentations: either way")
	for _, tc := range []struct {
		name   string
		s      groundtruth.Skew
		span   float64 // ms
		lo, hi float64 // ms
		want   bool
	}{
		{"inside", otelhttp, 7, 5, 10, true},
		{"otelhttp below by 0.25 ms", otelhttp, 4.75, 5, 10, false},
		{"otelhttp below by 0.2 ms", otelhttp, 4.8, 5, 10, true},
		{"otelhttp above by 2.4 ms", otelhttp, 12.4, 5, 10, true},
		{"otelhttp above by 2.6 ms", otelhttp, 12.6, 5, 10, false},
		{"Node.js above by 5 µs", node, 10.005, 5, 10, true},
		{"Node.js above by 20 µs", node, 10.02, 5, 10, false},
		{"never negative: a 0 ms span lands in (-Inf, 0]", node, 0, math.Inf(-1), 0, true},
		{"whole ms: 5.4 rounds to 5 or 6", flask, 5.4, 5, 10, true},
		{"whole ms: 5.4 rounds to 5 or 6, so (0, 5]", flask, 5.4, 0, 5, true},
		{"whole ms: 4.9 rounds to 5 at most", flask, 4.9, 5, 10, false},
		{"whole ms: to +Inf", flask, 60, 50, math.Inf(1), true},
	} {
		assert.Equal(t, tc.want, tc.s.Admits(tc.span*msNanos, tc.lo, tc.hi, msNanos), tc.name)
	}
}

// TestJudgeOneWindowPerRequest: a span names one request, counted in one
// window; exemplars that place it in two windows of a stream contradict
// each other.
func TestJudgeOneWindowPerRequest(t *testing.T) {
	twice := func() *scenario {
		sc := straddle()
		sc.points = append(sc.points, pointSpec{
			start: 10 * time.Second, time: 20 * time.Second, tick: 2, counts: []uint64{0, 1, 0, 0, 0, 0},
			attached: []exSpec{{span: 1, value: 0.007}},
		})
		return sc
	}
	t.Run("invalid: straddling one point, fresh on the next", func(t *testing.T) {
		assertRule(t, twice().judge(), groundtruth.RuleOneWindow)
	})
	t.Run("invalid: a stand-in named again for its own owed bucket", func(t *testing.T) {
		// Point 0 placed span 1 (10.2 ms) in (0.005, 0.01] as a stand-in;
		// point 1 names it for its own bucket's growth of window 0, still
		// owed: the same request would be counted in two buckets.
		sc := ownSpanUsedBefore()
		sc.points[1].attached = []exSpec{{span: 1, value: 0.0102}}
		rep := sc.judge()
		require.Len(t, rep.Findings, 1, "%v", rep.Findings)
		assert.Equal(t, groundtruth.RuleOneWindow, rep.Findings[0].Rule)
		assert.Contains(t, rep.Findings[0].Detail, "bucket")
	})
	t.Run("valid: the owed bucket's other span", func(t *testing.T) {
		sc := ownSpanUsedBefore()
		sc.points[1].attached = []exSpec{{span: 3, value: 0.0104}}
		require.Empty(t, sc.judge().Findings)
	})
	t.Run("a span placed in one window is no candidate of another", func(t *testing.T) {
		sc := twice()
		sc.points[1].attached = nil
		m := sc.judge().Metric(serverMetric)
		assert.Equal(t, []int{2, 1, 1}, []int{m.Grown, m.Matchable, m.Covered})
	})
}

// TestJudgeOwedAcrossADownscale: after an exponential stream scaled down, a
// bucket holds several of the previous point's; it is owed an exemplar as
// long as one of them grew without one.
func TestJudgeOwedAcrossADownscale(t *testing.T) {
	// Scale 2: bucket -30 is (5.52 ms, 6.57 ms], -29 (6.57 ms, 7.81 ms];
	// at scale 1 both are bucket -15. Point 0 counts one request in each
	// and carries span 1's exemplar on -29; span 2 (7.2 ms, in point 0's
	// window) arrives after it and goes on point 1's bucket -15.
	sc := func(sdkOnSibling bool) *scenario {
		sc := base()
		sc.stream.cumulative, sc.stream.expo, sc.stream.scale, sc.stream.offset = true, true, 2, -30
		sc.spans = append(sc.spans, serverSpan(2, 6*time.Second, ms(7.2)), serverSpan(3, 4*time.Second, ms(6)))
		sc.spans[1].tick = 2
		sc.points[0].counts = []uint64{1, 1}
		if sdkOnSibling {
			sc.points[0].given = []exSpec{{span: 3, value: 0.006}}
		}
		sc.points = append(sc.points, pointSpec{
			time: 20 * time.Second, tick: 3, counts: []uint64{2}, rescaled: true, scale: 1, offset: -15,
			attached: []exSpec{{span: 2, value: 0.0072}},
		})
		return sc
	}
	t.Run("valid: the sibling grew without one", func(t *testing.T) {
		rep := sc(false).judge()
		require.Empty(t, rep.Findings)
		m := rep.Metric(serverMetric)
		assert.Equal(t, []int{1, 1}, []int{m.Late, m.Owed})
	})
	t.Run("a late span of the coarser bucket's own is no stand-in", func(t *testing.T) {
		// Without span 3, only span 2 (in -29 at scale 2, in -15 its own
		// duration) covers -30's growth: in-bucket, as a processor with
		// duration_tolerance 0 could.
		s := sc(false)
		s.spans = s.spans[:2]
		rep := s.judge()
		require.Empty(t, rep.Findings)
		m := rep.Metric(serverMetric)
		assert.Equal(t, []int{2, 2, 0}, []int{m.Covered, m.InsideMatchable, m.StandIns})
	})
	t.Run("invalid: both had one", func(t *testing.T) {
		assertRule(t, sc(true).judge(), groundtruth.RuleLate)
	})
}

// TestJudgeEvidenceOfDeliveredSpans: a stand-in is matchable only with
// count evidence among the spans delivered by its point; the truth of an
// attached one counts every span of the window.
func TestJudgeEvidenceOfDeliveredSpans(t *testing.T) {
	// Bucket (0.005, 0.01] grew by one, bucket (0.01, 0.025] by two: span 1
	// (10.5 ms) lies in the latter with span 3 (12 ms) and span 2 (13 ms),
	// which arrives only after the point.
	sc := standIn()
	sc.spans = append(sc.spans, serverSpan(2, 6*time.Second, ms(13)), serverSpan(3, 7*time.Second, ms(12)))
	sc.spans[1].tick = 2
	sc.points[0].counts = []uint64{0, 1, 2, 0, 0, 0}
	t.Run("valid: one of the three was counted elsewhere", func(t *testing.T) {
		assert.Empty(t, sc.judge().Findings)
	})
	t.Run("not matchable: by the point only two had arrived", func(t *testing.T) {
		sc.points[0].attached = nil
		m := sc.judge().Metric(serverMetric)
		assert.Equal(t, []int{2, 1}, []int{m.Grown, m.Matchable})
	})
}

// TestJudgeStandInBeyondTheTolerance: otelhttp's metric may be 2.4 ms
// shorter than its span, so such a stand-in is true; but the product stands
// in only within its duration tolerance, so the bucket is not matchable.
func TestJudgeStandInBeyondTheTolerance(t *testing.T) {
	sc := standIn()
	sc.spans[0].dur = ms(12.4)
	t.Run("valid", func(t *testing.T) {
		rep := sc.judge()
		assert.Empty(t, rep.Findings)
		assert.Equal(t, 1, rep.Metric(serverMetric).Covered)
	})
	t.Run("not matchable", func(t *testing.T) {
		sc.points[0].attached = nil
		m := sc.judge().Metric(serverMetric)
		assert.Equal(t, []int{1, 0}, []int{m.Grown, m.Matchable})
		assert.Equal(t, map[string]int{groundtruth.UnmatchableNoFit: 1}, m.Unmatchable)
	})
}

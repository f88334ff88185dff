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

// base is a delta point over (0 s, 10 s] that counted one request in bucket
// (0.005, 0.01], span 1 (7 ms, ended at 5 s) delivered before it, and the
// exemplar a correct processor attaches.
func base() *scenario {
	return &scenario{
		stream: serverStream(),
		spans:  []spanSpec{serverSpan(1, 5*time.Second, ms(7))},
		points: []pointSpec{{
			start: 0, time: 10 * time.Second, tick: 1,
			counts:   []uint64{0, 1, 0, 0, 0, 0},
			attached: []exSpec{{span: 1, value: 0.007}},
		}},
	}
}

// standIn is base with span 1 lasting 10.5 ms, just above the bucket that
// counted the request: otelhttp's metric, shorter than its span, counted it
// in (0.005, 0.01]; the exemplar stands in with the bucket's upper bound.
func standIn() *scenario {
	sc := base()
	sc.spans[0].dur = ms(10.5)
	sc.points[0].attached[0].value = 0.01
	return sc
}

// msBounds are the old HTTP duration buckets (ms), cut short.
var msBounds = []float64{0, 5, 10, 25, 50}

// TestJudgeFlagsEveryBrokenRule shows that the judge fails each exemplar
// that breaks one rule, with that rule, and passes the valid ones: a judge
// that cannot fail would prove nothing.
func TestJudgeFlagsEveryBrokenRule(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*scenario) *scenario
		rule string // "" for a valid exemplar
	}{
		{"valid: the span's own duration", func(sc *scenario) *scenario { return sc }, ""},
		{"valid: stand-in within otelhttp's skew with count evidence", func(*scenario) *scenario { return standIn() }, ""},
		{"wrong service", func(sc *scenario) *scenario { sc.spans[0].service = "other"; return sc }, groundtruth.RuleService},
		{"wrong kind", func(sc *scenario) *scenario { sc.spans[0].kind = ptrace.SpanKindClient; return sc }, groundtruth.RuleKind},
		{"wrong attribute", func(sc *scenario) *scenario { sc.spans[0].attrs["http.route"] = "/b"; return sc }, groundtruth.RuleAttribute},
		{"wrong status code", func(sc *scenario) *scenario {
			sc.spans[0].attrs["http.response.status_code"] = 500
			return sc
		}, groundtruth.RuleAttribute},
		{"missing attribute that cannot be derived", func(sc *scenario) *scenario {
			delete(sc.spans[0].attrs, "http.route")
			sc.spans[0].name = "GET"
			return sc
		}, groundtruth.RuleAttribute},
		{"ended after the point, timestamp its end", func(sc *scenario) *scenario {
			sc.spans[0].end = 10*time.Second + ms(1)
			return sc
		}, groundtruth.RuleWindow},
		{"ended too long after the point to straddle it", func(sc *scenario) *scenario {
			sc.spans[0].end = 10*time.Second + ms(2.5)
			sc.points[0].attached[0].ts = 10 * time.Second
			return sc
		}, groundtruth.RuleTimestamp},
		{"ended before the delta point's start", func(sc *scenario) *scenario {
			sc.points[0].start = 6 * time.Second
			return sc
		}, groundtruth.RuleWindow},
		{"wrong bucket: its bucket did not grow", func(sc *scenario) *scenario {
			sc.points[0].counts = []uint64{0, 0, 1, 0, 0, 0}
			return sc
		}, groundtruth.RuleBucket},
		{"value is not the span's duration", func(sc *scenario) *scenario { sc.points[0].attached[0].value = 0.008; return sc }, groundtruth.RuleValue},
		{"timestamp is not the span's end", func(sc *scenario) *scenario { sc.points[0].attached[0].ts = 6 * time.Second; return sc }, groundtruth.RuleTimestamp},
		{"names no span", func(sc *scenario) *scenario { sc.points[0].attached[0].span = 9; return sc }, groundtruth.RuleNoSpan},
		{"trace ID of another trace", func(sc *scenario) *scenario {
			sc.points[0].attached[0].traceID = 9
			return sc
		}, groundtruth.RuleNoSpan},
		{"stand-in beyond otelhttp's skew", func(*scenario) *scenario {
			sc := standIn()
			sc.spans[0].dur = ms(13) // 3 ms above the bucket
			return sc
		}, groundtruth.RuleSkew},
		{"stand-in against otelhttp's direction", func(*scenario) *scenario {
			sc := standIn()
			sc.spans[0].dur = ms(4.6) // the metric would be 0.4 ms longer than the span
			sc.points[0].attached[0].value = math.Nextafter(0.005, 1)
			return sc
		}, groundtruth.RuleSkew},
		{"stand-in without count evidence", func(*scenario) *scenario {
			sc := standIn()
			// The span's own bucket counted one request, and it holds only
			// this span: it need not have been counted elsewhere.
			sc.points[0].counts = []uint64{0, 1, 1, 0, 0, 0}
			return sc
		}, groundtruth.RuleEvidence},
		{"two exemplars on one bucket", func(sc *scenario) *scenario {
			sc.spans = append(sc.spans, serverSpan(2, 6*time.Second, ms(8)))
			sc.points[0].counts[1] = 2
			sc.points[0].attached = append(sc.points[0].attached, exSpec{span: 2, value: 0.008})
			return sc
		}, groundtruth.RulePerBucket},
		{"one span explains two buckets", func(*scenario) *scenario {
			sc := standIn()
			sc.points[0].counts = []uint64{0, 1, 1, 0, 0, 0}
			sc.spans = append(sc.spans, serverSpan(2, 6*time.Second, ms(10.7)))
			sc.points[0].attached = append(sc.points[0].attached, exSpec{span: 1, value: 0.0105})
			return sc
		}, groundtruth.RulePerSpan},
		{"attached to a metric no rule selects", func(sc *scenario) *scenario {
			sc.stream.metric = "http.server.request.body.size"
			return sc
		}, groundtruth.RuleNoRule},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := tc.edit(base()).judge()
			m := rep.Metric(serverStreamMetric(tc.name))
			if tc.rule == "" {
				assert.Empty(t, rep.Findings)
				assert.Equal(t, 1, m.Attached)
				assert.Zero(t, m.Invalid)
				return
			}
			require.NotEmpty(t, rep.Findings, "the judge let a broken exemplar pass")
			rules := map[string]bool{}
			for _, f := range rep.Findings {
				rules[f.Rule] = true
				assert.NotEmpty(t, f.Span)
				assert.NotEmpty(t, f.Stream)
			}
			assert.True(t, rules[tc.rule], "findings %v do not name rule %s", rep.Findings, tc.rule)
			assert.Positive(t, m.Invalid)
		})
	}
}

func serverStreamMetric(name string) string {
	if name == "attached to a metric no rule selects" {
		return "http.server.request.body.size"
	}
	return "http.server.request.duration"
}

// TestJudgeLateSpans: on a cumulative stream a span that ended before the
// previous point and arrived after it may fill a bucket that grew (or is
// owed one since it grew), not one that did not; and per bucket exemplar
// timestamps never go backwards.
func TestJudgeLateSpans(t *testing.T) {
	late := func() *scenario {
		sc := base()
		sc.stream.cumulative = true
		sc.spans[0].tick = 2 // after the first point
		sc.points[0].attached = nil
		sc.points = append(sc.points, pointSpec{
			start: 0, time: 20 * time.Second, tick: 3,
			counts:   []uint64{0, 2, 0, 0, 0, 0},
			attached: []exSpec{{span: 1, value: 0.007}},
		})
		return sc
	}
	t.Run("valid: the bucket grew again", func(t *testing.T) {
		rep := late().judge()
		assert.Empty(t, rep.Findings)
	})
	t.Run("valid: owed since it grew", func(t *testing.T) {
		sc := late()
		sc.points[1].counts[1] = 1
		assert.Empty(t, sc.judge().Findings)
	})
	t.Run("valid: owed although the point since carried an older window's span", func(t *testing.T) {
		sc := late()
		// Span 2 ends in point 1's window and arrives after it; point 1
		// carries span 1 (point 0's), so point 1's growth is still owed.
		sc.spans = append(sc.spans, serverSpan(2, 15*time.Second, ms(8)))
		sc.spans[1].tick = 4
		sc.points = append(sc.points, pointSpec{
			time: 30 * time.Second, tick: 5, counts: []uint64{0, 2, 0, 0, 0, 0},
			attached: []exSpec{{span: 2, value: 0.008}},
		})
		rep := sc.judge()
		assert.Empty(t, rep.Findings)
		m := rep.Metric("http.server.request.duration")
		assert.Equal(t, []int{2, 2, 2}, []int{m.Grown, m.Matchable, m.Covered})
	})
	t.Run("invalid: neither grew nor owed", func(t *testing.T) {
		sc := late()
		sc.points[0].counts = []uint64{0, 0, 1, 0, 0, 0}
		sc.points[1].counts = []uint64{0, 0, 1, 0, 0, 0}
		sc.points[1].attached[0] = exSpec{span: 1, value: 0.007}
		assertRule(t, sc.judge(), groundtruth.RuleLate)
	})
	t.Run("invalid: older than the bucket's previous exemplar", func(t *testing.T) {
		sc := late()
		sc.spans = append(sc.spans, serverSpan(2, 8*time.Second, ms(9)))
		sc.points[0].counts[1] = 2
		sc.points[1].counts[1] = 3
		sc.points[0].attached = []exSpec{{span: 2, value: 0.009}}
		assertRule(t, sc.judge(), groundtruth.RuleBackwards)
	})
	t.Run("invalid: ended before the stream's start", func(t *testing.T) {
		sc := late()
		sc.points[0].start, sc.points[1].start = 6*time.Second, 6*time.Second
		assertRule(t, sc.judge(), groundtruth.RuleWindow)
	})
}

// TestJudgeSemanticConventions: old and stable names are aliases, and what
// a span lacks is derived per the conventions or does not match.
func TestJudgeSemanticConventions(t *testing.T) {
	flaskOld := func() *scenario {
		sc := base()
		sc.stream = stream{
			metric: "http.server.duration", unit: "ms", scope: "opentelemetry.instrumentation.flask", bounds: msBounds,
			attrs: map[string]any{"http.method": "POST", "http.status_code": 200, "http.target": "/charge", "net.host.name": "127.0.0.1:25101"},
		}
		sc.spans[0].attrs = map[string]any{"http.method": "POST", "http.status_code": 200, "http.target": "/charge?x=1", "http.route": "/charge"}
		sc.points[0].counts = []uint64{0, 0, 1, 0, 0, 0}
		sc.points[0].attached[0].value = 7
		return sc
	}
	requestsOld := func(url string) *scenario {
		sc := base()
		sc.stream = stream{
			metric: "http.client.duration", unit: "ms", scope: "opentelemetry.instrumentation.requests", bounds: msBounds,
			attrs: map[string]any{"http.method": "POST", "http.status_code": 200, "net.peer.name": "127.0.0.1", "net.peer.port": 25101},
		}
		sc.spans[0].kind = ptrace.SpanKindClient
		sc.spans[0].name = "POST"
		sc.spans[0].attrs = map[string]any{"http.method": "POST", "http.status_code": 200, "http.url": url}
		sc.points[0].counts = []uint64{0, 0, 1, 0, 0, 0}
		sc.points[0].attached[0].value = 7
		return sc
	}
	t.Run("Flask old: http.target on the point is the span's http.route", func(t *testing.T) {
		assert.Empty(t, flaskOld().judge().Findings)
	})
	t.Run("Flask old: another route", func(t *testing.T) {
		sc := flaskOld()
		sc.spans[0].attrs["http.route"] = "/process"
		assertRule(t, sc.judge(), groundtruth.RuleAttribute)
	})
	t.Run("requests old: server address and port derived from http.url", func(t *testing.T) {
		assert.Empty(t, requestsOld("http://127.0.0.1:25101/charge").judge().Findings)
	})
	t.Run("requests old: http.url names another port", func(t *testing.T) {
		assertRule(t, requestsOld("http://127.0.0.1:25102/charge").judge(), groundtruth.RuleAttribute)
	})
	t.Run("requests old: nothing to derive the address from", func(t *testing.T) {
		sc := requestsOld("")
		delete(sc.spans[0].attrs, "http.url")
		assertRule(t, sc.judge(), groundtruth.RuleAttribute)
	})
	t.Run("stable point, old span", func(t *testing.T) {
		sc := base()
		sc.spans[0].attrs = map[string]any{"http.method": "GET", "http.route": "/a", "http.status_code": "200"}
		assert.Empty(t, sc.judge().Findings)
	})
}

// TestJudgeExponential: the same rules on exponential buckets.
func TestJudgeExponential(t *testing.T) {
	expo := func() *scenario {
		sc := base()
		// Scale 2: buckets of 2^(1/4); 7 ms = 2^-7.158, index -29 at
		// scale 2 is (2^-7.25, 2^-7] = (6.57 ms, 7.81 ms].
		sc.stream.expo, sc.stream.scale, sc.stream.offset = true, 2, -30
		sc.points[0].counts = []uint64{0, 1, 0}
		return sc
	}
	t.Run("valid", func(t *testing.T) {
		rep := expo().judge()
		assert.Empty(t, rep.Findings)
		assert.Equal(t, 1, rep.Metric("http.server.request.duration").Covered)
	})
	t.Run("wrong bucket", func(t *testing.T) {
		sc := expo()
		sc.points[0].counts = []uint64{1, 0, 0}
		assertRule(t, sc.judge(), groundtruth.RuleBucket)
	})
	t.Run("stand-in from two buckets away is beyond the skew", func(t *testing.T) {
		sc := expo()
		sc.spans[0].dur = ms(10.5) // 2.7 ms above the bucket, two buckets up
		sc.points[0].attached[0].value = math.Exp2(-7)
		assertRule(t, sc.judge(), groundtruth.RuleSkew)
	})
	t.Run("stand-in clamped to an exact power of two", func(t *testing.T) {
		sc := expo()
		sc.spans[0].dur = ms(7.9) // 0.09 ms above 2^-7 s
		sc.points[0].attached[0].value = math.Exp2(-7)
		rep := sc.judge()
		assert.Empty(t, rep.Findings)
		assert.Equal(t, 1, rep.Metric("http.server.request.duration").StandIns)
	})
}

// TestJudgeDuplicateSpanIDs: an exemplar naming IDs two distinct spans
// share is valid when one of them makes it so; a replayed copy is one span.
func TestJudgeDuplicateSpanIDs(t *testing.T) {
	sc := base()
	other := serverSpan(1, 5*time.Second, ms(30))
	other.attrs["http.route"] = "/b"
	sc.spans = append(sc.spans, other, serverSpan(1, 5*time.Second, ms(7)))
	rep := sc.judge()
	assert.Empty(t, rep.Findings)
	m := rep.Metric("http.server.request.duration")
	assert.Equal(t, 1, m.Matchable)
	assert.Equal(t, 1, m.Covered)
}

// TestJudgeCoverage: the matchable grown buckets are those delivered spans
// can honestly fill at once, and covered those with a valid exemplar.
func TestJudgeCoverage(t *testing.T) {
	t.Run("a bucket without a span is not matchable", func(t *testing.T) {
		sc := base()
		sc.points[0].counts = []uint64{0, 1, 0, 0, 1, 0}
		m := sc.judge().Metric("http.server.request.duration")
		assert.Equal(t, []int{2, 1, 1}, []int{m.Grown, m.Matchable, m.Covered})
	})
	t.Run("an empty matchable bucket is not covered", func(t *testing.T) {
		sc := base()
		sc.points[0].attached = nil
		m := sc.judge().Metric("http.server.request.duration")
		assert.Equal(t, []int{1, 1, 0}, []int{m.Grown, m.Matchable, m.Covered})
		assert.Zero(t, m.Coverage())
	})
	t.Run("a span delivered after a delta point is not matchable", func(t *testing.T) {
		sc := base()
		sc.spans[0].tick = 2
		sc.points[0].attached = nil
		m := sc.judge().Metric("http.server.request.duration")
		assert.Equal(t, []int{1, 0}, []int{m.Grown, m.Matchable})
	})
	t.Run("a late span recovered on a later cumulative point covers its window", func(t *testing.T) {
		sc := base()
		sc.stream.cumulative = true
		sc.spans[0].tick = 2
		sc.points[0].attached = nil
		sc.points = append(sc.points, pointSpec{
			time: 20 * time.Second, tick: 3, counts: []uint64{0, 1, 0, 0, 0, 0},
			attached: []exSpec{{span: 1, value: 0.007}},
		})
		rep := sc.judge()
		require.Empty(t, rep.Findings)
		m := rep.Metric("http.server.request.duration")
		assert.Equal(t, []int{1, 1, 1}, []int{m.Grown, m.Matchable, m.Covered})
	})
	t.Run("a late span competes with the bucket's next growth for its one exemplar", func(t *testing.T) {
		sc := base()
		sc.stream.cumulative = true
		sc.spans[0].tick = 2
		sc.points[0].attached = nil
		sc.spans = append(sc.spans, serverSpan(2, 15*time.Second, ms(8)))
		sc.spans[1].tick = 2
		sc.points = append(sc.points, pointSpec{
			time: 20 * time.Second, tick: 3, counts: []uint64{0, 2, 0, 0, 0, 0},
			attached: []exSpec{{span: 2, value: 0.008}},
		})
		rep := sc.judge()
		require.Empty(t, rep.Findings)
		m := rep.Metric("http.server.request.duration")
		assert.Equal(t, []int{2, 1, 1}, []int{m.Grown, m.Matchable, m.Covered})
		assert.Equal(t, map[string]int{groundtruth.UnmatchableSlot: 1}, m.Unmatchable)
	})
	t.Run("a bucket that grew again before its late span arrived is owed no more", func(t *testing.T) {
		sc := base()
		sc.stream.cumulative = true
		sc.spans[0].tick = 4
		sc.points[0].attached = nil
		sc.points = append(sc.points,
			pointSpec{time: 20 * time.Second, tick: 3, counts: []uint64{0, 2, 0, 0, 0, 0}},
			pointSpec{time: 30 * time.Second, tick: 5, counts: []uint64{0, 2, 0, 0, 0, 0}})
		m := sc.judge().Metric("http.server.request.duration")
		assert.Equal(t, []int{2, 0}, []int{m.Grown, m.Matchable})
		assert.Equal(t, map[string]int{groundtruth.UnmatchableLate: 1, groundtruth.UnmatchableNoSpan: 1}, m.Unmatchable)
	})
	t.Run("a window's late span recovered takes the slot a newer stand-in needed", func(t *testing.T) {
		// Point 0's request (span 1, 7 ms) arrives after it; point 1 counts
		// one more in the bucket, whose only span (span 2, 10.5 ms) could
		// stand in. Point 1 carries span 1: one of the two windows is
		// matchable, and it is covered.
		sc := base()
		sc.stream.cumulative = true
		sc.spans[0].tick = 2
		sc.points[0].attached = nil
		sc.spans = append(sc.spans, serverSpan(2, 15*time.Second, ms(10.5)))
		sc.spans[1].tick = 2
		sc.points = append(sc.points, pointSpec{
			time: 20 * time.Second, tick: 3, counts: []uint64{0, 2, 0, 0, 0, 0},
			attached: []exSpec{{span: 1, value: 0.007}},
		})
		rep := sc.judge()
		require.Empty(t, rep.Findings)
		m := rep.Metric("http.server.request.duration")
		assert.Equal(t, []int{2, 1, 1, 1}, []int{m.Grown, m.Filled, m.Matchable, m.Covered})
		assert.Equal(t, map[string]int{groundtruth.UnmatchableSlot: 1}, m.Unmatchable)
	})
	t.Run("one span fills one bucket of a point", func(t *testing.T) {
		sc := standIn()
		// The span could stand in for (0.005, 0.01] or fill its own bucket.
		sc.points[0].counts = []uint64{0, 1, 1, 0, 0, 0}
		sc.points[0].attached = nil
		m := sc.judge().Metric("http.server.request.duration")
		assert.Equal(t, []int{2, 1}, []int{m.Grown, m.Matchable})
	})
	t.Run("an invalid exemplar covers nothing", func(t *testing.T) {
		sc := base()
		sc.points[0].attached[0].value = 0.008
		m := sc.judge().Metric("http.server.request.duration")
		assert.Equal(t, []int{1, 1, 0, 1}, []int{m.Grown, m.Matchable, m.Covered, m.Invalid})
	})
	t.Run("a traceless SDK exemplar covers nothing", func(t *testing.T) {
		sc := base()
		sc.points[0].attached = nil
		sc.points[0].given = []exSpec{{span: 0, traceID: 0, value: 0.007, ts: 5 * time.Second}}
		m := sc.judge().Metric("http.server.request.duration")
		assert.Equal(t, []int{1, 1, 0, 1, 1}, []int{m.Grown, m.Matchable, m.Covered, m.SDK, m.Traceless})
	})
}

func assertRule(t *testing.T, rep *groundtruth.Report, rule string) {
	t.Helper()
	require.NotEmpty(t, rep.Findings, "the judge let a broken exemplar pass")
	for _, f := range rep.Findings {
		if f.Rule == rule {
			return
		}
	}
	t.Errorf("findings %v do not name rule %s", rep.Findings, rule)
}

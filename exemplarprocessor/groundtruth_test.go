// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"
	"github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"
)

// TestGroundTruthOpenTelemetryGoSDK records one HTTP workload twice with the
// OpenTelemetry Go SDK and otelhttp: run A with the SDK's own exemplars
// (trace_based filter), run B exporting none, its spans and metrics then
// sent through the processor. Run B's reservoir keeps no exemplar but tells
// the validation the value each request measured. Every exemplar the
// processor attaches must be true of the workload: its span's duration as
// value, or that duration clamped to the bucket's bound when it lies within
// exemplars.duration_tolerance outside it; its span's end as timestamp, or
// the time of the point the span ended just after. Replaying the documented
// rules point by point (a span explains one bucket of a point; one inside a
// bucket may stand in for an empty neighbour within the tolerance when its
// own bucket has another candidate), every exemplar must be a
// candidate of its bucket, no bucket that grew or is owed an exemplar may
// stay empty while it could have had a delivered candidate, and none may
// take a candidate ranked below one it could have had (in-bucket before
// within the tolerance, ended in the interval before late). Without late
// spans, or with delta_hold waiting for them, the share of grown buckets
// that get an exemplar must reach the SDK's own, or fall short only for
// causes no join can avoid.
func TestGroundTruthOpenTelemetryGoSDK(t *testing.T) {
	plan := gtPlanFor(t, 360, 2400*time.Millisecond)
	runA := gtRecord(t, plan, true, gtInterval, gtPerRoute)
	runB := gtRecord(t, plan, false, gtInterval, gtPerRoute)
	gtCheckRecordings(t, plan, runA, runB)

	variants := []gtVariant{
		{name: "cumulative", assertShare: true},
		{name: "delta", delta: true, assertShare: true},
		// Spans usually reach the collector after the metric export that
		// counted them: a cumulative bucket that grew without an exemplar
		// is owed one, and takes its late span on a following point (the
		// replayed rules require it whenever one had arrived).
		{name: "cumulative_late_spans", lag: gtLag},
		// Delta points cannot wait for them (delta_hold is off by default):
		// only validity, and that delivered spans are used, is asserted.
		{name: "delta_late_spans", delta: true, lag: gtLag},
		// With delta_hold a delta batch waits for its late spans: every
		// one that arrived within the delay is a candidate, and the share
		// is held to the SDK's as without late spans.
		{name: "delta_late_spans_hold", delta: true, lag: gtLag, hold: gtInterval, assertShare: true},
	}
	report := make([]string, 0, len(variants))
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			sdk, processor := gtCompare(t, runA, runB, v)
			report = append(report, fmt.Sprintf("%-22s SDK %s | processor %s", v.name, sdk, processor))
		})
	}

	// The SDK's own exemplars pass through untouched, and the processor
	// adds none that contradicts them.
	t.Run("sdk_exemplars_kept", func(t *testing.T) {
		in, out, spans := gtFeed(t, runA, gtVariant{}, true)
		inStreams, outStreams := groundtruth.StreamsOf(in), groundtruth.StreamsOf(out)
		for i := range in {
			require.NoError(t, pmetrictest.CompareMetrics(withoutExemplars(in[i]), withoutExemplars(out[i])), "tick %d", i)
		}
		kept := 0
		for _, s := range inStreams.All() {
			sOut := outStreams.ByID(s.ID)
			require.NotNil(t, sOut, s.ID)
			for k, p := range s.Points {
				for _, ex := range p.Exemplars {
					require.Contains(t, sOut.Points[k].Exemplars, ex, "stream %s point %d lost an SDK exemplar", s.ID, k)
					kept++
				}
			}
		}
		check := groundtruth.NewCheck(spans, gtConfig().Exemplars.DurationTolerance)
		check.Validate(inStreams, outStreams)
		gtFail(t, "invalid exemplar", check.Errors)
		t.Logf("%d SDK exemplars kept, %d added by the processor", kept, check.Attached)
	})

	for _, line := range report {
		t.Log("share " + line)
	}
}

// TestGroundTruthWholeMuxHandler is the same comparison for a backend that
// wraps its whole ServeMux with otelhttp, the other common wiring: there the
// spans carry no http.route while the metrics do; the processor takes the
// route from the span's name, "{METHOD} {route}".
func TestGroundTruthWholeMuxHandler(t *testing.T) {
	// A shorter plan: the variant is about the wiring, and the two tests
	// together stay within about ten seconds under -race.
	plan := gtPlanFor(t, 180, 1400*time.Millisecond)
	runA := gtRecord(t, plan, true, gtInterval, gtWholeMux)
	runB := gtRecord(t, plan, false, gtInterval, gtWholeMux)
	gtCheckRecordings(t, plan, runA, runB)
	for _, sp := range runB.spans {
		if sp.SpanKind() == trace.SpanKindServer {
			for _, kv := range sp.Attributes() {
				require.NotEqual(t, "http.route", string(kv.Key), "span %q has http.route: the variant tests nothing", sp.Name())
			}
			_, named := groundtruth.RouteFromName(sp.Name())
			require.True(t, named, "server span %q names no route", sp.Name())
		}
	}
	sdk, processor := gtCompare(t, runA, runB, gtVariant{name: "cumulative", assertShare: true})
	t.Logf("share cumulative SDK %s | processor %s", sdk, processor)
}

const (
	gtInterval = 300 * time.Millisecond
	gtLag      = 100 * time.Millisecond
)

// gtConfig is the configuration every variant runs the processor with: the
// defaults, whose exemplars.duration_tolerance the validation reads.
func gtConfig() *exemplarprocessor.Config {
	return exemplarprocessor.NewFactory().CreateDefaultConfig().(*exemplarprocessor.Config)
}

// gtPlanFor returns the plan of this test run: requests over about
// duration. The plan is random but logged; EXEMPLAR_GROUNDTRUTH_SEED replays
// one (the timing still varies).
func gtPlanFor(t *testing.T, requests int, duration time.Duration) []gtRequest {
	if testing.Short() {
		requests, duration = 150, 1400*time.Millisecond
	}
	seed := uint64(time.Now().UnixNano())
	if env := os.Getenv("EXEMPLAR_GROUNDTRUTH_SEED"); env != "" {
		var err error
		seed, err = strconv.ParseUint(env, 10, 64)
		require.NoError(t, err)
	}
	t.Logf("plan: %d requests over %s, EXEMPLAR_GROUNDTRUTH_SEED=%d", requests, duration, seed)
	return gtPlan(seed, requests, duration)
}

// gtCheckRecordings checks that both runs recorded the whole plan.
func gtCheckRecordings(t *testing.T, plan []gtRequest, runs ...*gtRecording) {
	t.Helper()
	for i, run := range runs {
		t.Logf("run %c: %d ticks, %d spans for %d requests", 'A'+i, len(run.ticks), len(run.spans), len(plan))
		require.Len(t, run.spans, 2*len(plan), "run %c: a client and a server span per request", 'A'+i)
		counted := map[string]uint64{}
		last := run.ticks[len(run.ticks)-1]
		for _, s := range groundtruth.StreamsOf([]pmetric.Metrics{gtMetrics(last.cumulative)}).All() {
			if s.Metric != gtServerMetric && s.Metric != gtClientMetric {
				continue
			}
			for _, c := range s.Points[0].Counts {
				counted[s.Metric] += c
			}
		}
		assert.Equal(t, map[string]uint64{gtServerMetric: uint64(len(plan)), gtClientMetric: uint64(len(plan))}, counted,
			"run %c: every request counted once per side", 'A'+i)
	}
}

type gtVariant struct {
	name  string
	delta bool
	// lag: spans that end within lag before a collection are delivered
	// only after it, as with a batching span exporter.
	lag time.Duration
	// hold is the processor's delta_hold.delay (0: off).
	hold time.Duration
	// assertShare requires the processor's share to reach the SDK's.
	assertShare bool
}

// gtCompare sends run B through the processor as v says, validates every
// exemplar it attached and compares the share of grown buckets with an
// exemplar with run A's own.
func gtCompare(t *testing.T, runA, runB *gtRecording, v gtVariant) (sdkShare, processorShare groundtruth.Share) {
	sdkIn, _, _ := gtFeed(t, runA, v, false)
	sdk := groundtruth.StreamsOf(sdkIn)
	in, out, spansB := gtFeed(t, runB, v, true)
	inStreams, outStreams := groundtruth.StreamsOf(in), groundtruth.StreamsOf(out)

	// The processor changes nothing but exemplars.
	for i := range in {
		require.NoError(t, pmetrictest.CompareMetrics(in[i], withoutExemplars(out[i])), "tick %d", i)
	}
	for _, s := range inStreams.All() {
		for k, p := range s.Points {
			require.Empty(t, p.Exemplars, "run B stream %s point %d came with exemplars", s.ID, k)
		}
	}

	check := groundtruth.NewCheck(spansB, gtConfig().Exemplars.DurationTolerance)
	check.Validate(inStreams, outStreams)
	check.Completeness(outStreams)
	t.Logf("processor attached %d exemplars (%d clamped into their bucket from a span within the tolerance %v s, %d of them down to the upper bound, %d standing in for a neighbour while their own bucket took another span; %d straddling a point; %d from late spans, %d of them on owed buckets that did not grow again); grown buckets without one from their interval, by cause: %v",
		check.Attached, check.Clamped, gtConfig().Exemplars.DurationTolerance.Seconds(), check.ClampedDown, check.Swapped, check.Straddled, check.Late, check.OwedFills, check.Uncovered)
	t.Logf("swaps, e.g.: %v", check.Swaps)
	if v.hold > 0 {
		t.Logf("%d exemplars came from spans delivered after their batch, which the hold kept for %s", check.Recovered, v.hold)
		assert.Positive(t, check.Recovered, "the hold recovered no late span")
	}
	gtFail(t, "invalid exemplar", check.Errors)
	gtFail(t, "exemplar that is no candidate of its bucket by the replayed rules", check.Unexplained)
	gtFail(t, "bucket that grew or is owed an exemplar left empty although it could have had a delivered candidate", check.Missed)
	gtFail(t, "exemplar ranked below a candidate its bucket could have had", check.Ranking)
	for _, e := range check.Examples {
		t.Log(e)
	}
	t.Logf("grown buckets no later point covered either, by cause: %v", check.NeverCovered)
	// Measured, not asserted: which candidate of the best rank wins (the
	// search stops at the first fresh span, newest arrival in the slowest
	// duration class first).
	t.Logf("exemplars where a same-rank candidate ended later: %d %v", len(check.TieBreak), gtFirst(check.TieBreak, 3))
	// Where span and metric disagree at a bound, an exemplar is true of
	// its span but not of the observation: measured, not asserted.
	t.Logf("attached exemplars whose request the metric counted in another bucket: %d of %d %v",
		len(check.OtherBucket), check.Attached, gtFirst(check.OtherBucket, 3))
	t.Logf("attached exemplars whose span ended in an interval in which their bucket did not grow: %d %v",
		len(check.NotGrown), gtFirst(check.NotGrown, 3))

	// The SDK misses a grown bucket when a request is measured after the
	// collection began but counted in it: its exemplar is newer than the point.
	newer := 0
	for _, s := range sdk.All() {
		for _, p := range s.Points {
			for _, ex := range p.Exemplars {
				if ex.TS > p.Time {
					newer++
				}
			}
		}
	}
	t.Logf("run A exemplars timestamped after their point: %d", newer)

	layout := outStreams.All()[0].Points[0].Layout
	for _, metric := range []string{gtServerMetric, gtClientMetric} {
		a, b := groundtruth.Measure(sdk.All(), metric), groundtruth.Measure(outStreams.All(), metric)
		sdkShare.Add(a)
		processorShare.Add(b)
		t.Logf("%s: SDK share %v; processor share %v", metric, a, b)
		t.Logf("%s in run B: %s", metric, gtAgree(spansB, metric, layout))
		require.Positive(t, a.Grown, "run A recorded no growth of %s", metric)
		require.Positive(t, b.Grown, "run B recorded no growth of %s", metric)
		if v.assertShare && b.Ratio(b.Covered) < a.Ratio(a.Covered) {
			// The SDK samples each measurement as it is taken; the processor
			// can only use spans that are there. Below the SDK's share, every
			// bucket left without an exemplar must be one no honest join
			// could fill; a candidate it missed, or a span it could have
			// moved, fails.
			var unexplained []string
			for cause, n := range check.Uncovered[metric] {
				if !groundtruth.Inherent(cause) {
					unexplained = append(unexplained, fmt.Sprintf("%s: %d", cause, n))
				}
			}
			assert.Empty(t, unexplained, "%s: the processor's share of grown buckets with an exemplar (%v) is below the SDK's own (%v), and not only for causes no join can avoid; all causes: %v",
				metric, b, a, check.Uncovered[metric])
			t.Logf("%s: the processor's share is below the SDK's, only for causes no join can avoid: %v", metric, check.Uncovered[metric])
		}
	}
	return sdkShare, processorShare
}

// gtFeed replays a recording, tick by tick, through a traces and a metrics
// processor of one component ID: before each tick's metrics it delivers the
// spans that ended v.lag or more before the tick's collection finished.
// With process false nothing goes through a processor (the SDK's own view).
// It returns the metrics fed and received per tick, and the spans with the
// tick they were delivered before; with v.hold, the first tick whose held
// batch was surely enriched after they had arrived, and the first whose
// batch may have been (it was passed on after they were sent).
func gtFeed(t *testing.T, rec *gtRecording, v gtVariant, process bool) (in, out []pmetric.Metrics, spans *groundtruth.Spans) {
	t.Helper()
	ctx := context.Background()
	tracesSink, metricsSink := &consumertest.TracesSink{}, &gtTimedSink{}
	var feedTraces func(ptrace.Traces) error
	var feedMetrics func(pmetric.Metrics) error
	if process {
		f := exemplarprocessor.NewFactory()
		set := processortest.NewNopSettings(f.Type())
		set.ID = component.NewIDWithName(f.Type(), "groundtruth")
		cfg := gtConfig()
		cfg.DeltaHold.Delay = v.hold
		require.NoError(t, cfg.Validate())
		tp, err := f.CreateTraces(ctx, set, cfg, tracesSink)
		require.NoError(t, err)
		mp, err := f.CreateMetrics(ctx, set, cfg, metricsSink)
		require.NoError(t, err)
		require.NoError(t, tp.Start(ctx, componenttest.NewNopHost()))
		require.NoError(t, mp.Start(ctx, componenttest.NewNopHost()))
		t.Cleanup(func() {
			assert.NoError(t, tp.Shutdown(ctx))
			assert.NoError(t, mp.Shutdown(ctx))
		})
		feedTraces = func(td ptrace.Traces) error { return tp.ConsumeTraces(ctx, td) }
		feedMetrics = func(md pmetric.Metrics) error { return mp.ConsumeMetrics(ctx, md) }
	} else {
		feedTraces = func(td ptrace.Traces) error { return tracesSink.ConsumeTraces(ctx, td) }
		feedMetrics = func(md pmetric.Metrics) error { return metricsSink.ConsumeMetrics(ctx, md) }
	}

	ended := append([]sdktrace.ReadOnlySpan(nil), rec.spans...)
	sort.Slice(ended, func(i, j int) bool { return ended[i].EndTime().Before(ended[j].EndTime()) })
	spans = groundtruth.NewSpans()
	spansIn := 0
	next := 0
	var previous time.Time
	// When each tick's metrics were fed and each span had been delivered:
	// a held batch is enriched no sooner than the delay after it was fed.
	fedAt := make([]time.Time, len(rec.ticks))
	sentAt, deliveredAt := map[pcommon.SpanID]time.Time{}, map[pcommon.SpanID]time.Time{}
	for tick, tk := range rec.ticks {
		cutoff := tk.after.Add(-v.lag)
		from := next
		for next < len(ended) && !ended[next].EndTime().After(cutoff) {
			next++
		}
		// Spans that ended before the previous collection are late: they
		// come in their own batch after the fresh ones, as from a slower
		// exporter.
		split := from
		for split < next && !ended[split].EndTime().After(previous) {
			split++
		}
		for _, batch := range [][]sdktrace.ReadOnlySpan{ended[split:next], ended[from:split]} {
			if len(batch) == 0 {
				continue
			}
			td := gtTraces(batch)
			spans.Add(td, tick)
			spansIn += td.SpanCount()
			sent := time.Now()
			require.NoError(t, feedTraces(td))
			now := time.Now()
			for _, sp := range batch {
				sentAt[pcommon.SpanID(sp.SpanContext().SpanID())] = sent
				deliveredAt[pcommon.SpanID(sp.SpanContext().SpanID())] = now
			}
		}
		previous = tk.after
		rms := tk.cumulative
		if v.delta {
			rms = tk.delta
		}
		md := gtMetrics(rms)
		clone := pmetric.NewMetrics()
		md.CopyTo(clone)
		in = append(in, clone)
		fedAt[tick] = time.Now()
		require.NoError(t, feedMetrics(md))
	}
	var receivedAt []time.Time
	if process && v.hold > 0 {
		require.Eventually(t, func() bool { return metricsSink.len() == len(rec.ticks) },
			v.hold+10*time.Second, 5*time.Millisecond, "held batches delivered after the delay")
		// A held batch is enriched after the delay and before it is passed
		// on: a span surely took part if it was delivered before the
		// delay ended, and may have if it was sent before it was passed on.
		out, receivedAt = metricsSink.all()
		require.Len(t, out, len(rec.ticks))
		out, receivedAt = gtMatchBatches(t, in, out, receivedAt)
		for id, at := range deliveredAt {
			sp := spans.First(id)
			sp.Tick, sp.MaybeTick = len(rec.ticks), len(rec.ticks)
			for k := len(fedAt) - 1; k >= 0; k-- {
				if fedAt[k].Add(v.hold).After(at) {
					sp.Tick = k
				}
				if receivedAt[k].After(sentAt[id]) {
					sp.MaybeTick = k
				}
			}
		}
	}
	if next < len(ended) {
		// Never delivered: known to the validation, never to the processor.
		spans.Add(gtTraces(ended[next:]), len(rec.ticks))
	}
	for id, v := range rec.measured {
		if sp := spans.First(id); sp != nil {
			sp.Measured, sp.HasMeasured = v, true
		}
	}

	// Spans pass through: none lost, none flagged as a duplicate (the SDK
	// generates unique IDs).
	require.Equal(t, spansIn, tracesSink.SpanCount())
	for _, td := range tracesSink.AllTraces() {
		rss := td.ResourceSpans()
		for i := 0; i < rss.Len(); i++ {
			sss := rss.At(i).ScopeSpans()
			for j := 0; j < sss.Len(); j++ {
				ss := sss.At(j).Spans()
				for k := 0; k < ss.Len(); k++ {
					_, flagged := ss.At(k).Attributes().Get("exemplar.duplicate_span")
					require.False(t, flagged, "span %s flagged as a duplicate", ss.At(k).SpanID())
				}
			}
		}
	}
	if receivedAt == nil {
		out, _ = metricsSink.all()
	}
	require.Len(t, out, len(rec.ticks))
	return in, out, spans
}

// gtAgreement compares, over every request of a tapped run, the value the
// SDK measured with the duration of the request's span: how far apart they
// are, and how often they fall in different buckets.
type gtAgreement struct {
	requests, otherBucket int
	diffs                 []float64 // span duration - measured value, seconds
	examples              []string
}

func gtAgree(spans *groundtruth.Spans, metric string, layout groundtruth.Layout) gtAgreement {
	var a gtAgreement
	for _, sp := range spans.All() {
		spanMetric := gtServerMetric
		if sp.Kind == ptrace.SpanKindClient {
			spanMetric = gtClientMetric
		}
		if spanMetric != metric || !sp.HasMeasured {
			continue
		}
		a.requests++
		a.diffs = append(a.diffs, sp.Seconds()-sp.Measured)
		if layout.Of(sp.Seconds()) != layout.Of(sp.Measured) {
			a.otherBucket++
			if len(a.examples) < 4 {
				a.examples = append(a.examples, fmt.Sprintf("measured %.6f s, span %.6f s", sp.Measured, sp.Seconds()))
			}
		}
	}
	sort.Float64s(a.diffs)
	return a
}

func (a gtAgreement) String() string {
	if len(a.diffs) == 0 {
		return "no measured requests"
	}
	q := func(f float64) float64 { return a.diffs[int(f*float64(len(a.diffs)-1))] * 1e6 }
	return fmt.Sprintf("%d requests; span duration - measured value (µs): min %.1f, p50 %.1f, p99 %.1f, max %.1f; in another bucket: %d, e.g. %v",
		a.requests, q(0), q(0.5), q(0.99), q(1), a.otherBucket, a.examples)
}

// gtTimedSink keeps the batches it receives and when each arrived.
type gtTimedSink struct {
	mu  sync.Mutex
	mds []pmetric.Metrics
	at  []time.Time
}

func (s *gtTimedSink) ConsumeMetrics(_ context.Context, md pmetric.Metrics) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mds, s.at = append(s.mds, md), append(s.at, time.Now())
	return nil
}

func (*gtTimedSink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (s *gtTimedSink) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mds)
}

func (s *gtTimedSink) all() ([]pmetric.Metrics, []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mds), slices.Clone(s.at)
}

// gtMatchBatches orders the received batches, and when each was received,
// as the fed ones: each fed batch with the first received one equal to it
// but for exemplars. Batches without a delta histogram are not held: they
// overtake the held ones.
func gtMatchBatches(t *testing.T, in, out []pmetric.Metrics, at []time.Time) ([]pmetric.Metrics, []time.Time) {
	t.Helper()
	matched := make([]pmetric.Metrics, len(in))
	matchedAt := make([]time.Time, len(in))
	used := make([]bool, len(out))
	moved := 0
	for i := range in {
		for j := range out {
			if !used[j] && pmetrictest.CompareMetrics(in[i], withoutExemplars(out[j])) == nil {
				matched[i], matchedAt[i], used[j] = out[j], at[j], true
				if i != j {
					moved++
				}
				break
			}
		}
		require.NotEqual(t, pmetric.Metrics{}, matched[i], "tick %d: no batch received equals it but for exemplars", i)
	}
	t.Logf("%d of %d batches were received at another position (batches that are not held overtake held ones)", moved, len(in))
	return matched, matchedAt
}

func gtFirst(s []string, n int) []string { return s[:min(n, len(s))] }

// gtFail reports each problem on its own line, the first few in full.
func gtFail(t *testing.T, what string, problems []string) {
	t.Helper()
	for i, p := range problems {
		if i == 10 {
			t.Errorf("%s: %d more", what, len(problems)-i)
			break
		}
		t.Errorf("%s: %s", what, p)
	}
}

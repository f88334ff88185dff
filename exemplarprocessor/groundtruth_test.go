// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
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
// sent through the processor. The ground-truth judge (internal/groundtruth,
// which never reads the processor's code) judges every exemplar the
// processor attaches against every span of the run: it must name a real
// span of a request its bucket counted (the rules, README "How matching
// works"), and it measures coverage: of the grown buckets, those the run's
// delivered spans could honestly fill at once (matchable), and of those the
// ones that got an exemplar. The processor's choice among honest candidates
// is its own business; the test judges truth and coverage only.
//
// Asserted in every variant: nothing changes but exemplars, and no exemplar
// is invalid. Where every span arrives before the metrics that counted it
// (cumulative, delta), or the delta hold waits for it: at least 99 % of the
// matchable buckets covered, and the share of grown buckets with an
// exemplar below run A's (the SDK's own) by no more than the buckets the
// judge finds not honestly fillable from what was delivered. With late
// spans and nothing to wait for them, coverage is reported.
func TestGroundTruthOpenTelemetryGoSDK(t *testing.T) {
	plan := gtPlanFor(t, 360, 2400*time.Millisecond)
	runA := gtRecord(t, plan, true, gtInterval, gtPerRoute)
	runB := gtRecord(t, plan, false, gtInterval, gtPerRoute)
	gtCheckRecordings(t, plan, runA, runB)

	variants := []gtVariant{
		{name: "cumulative"},
		{name: "delta", delta: true},
		// Spans usually reach the collector after the metric export that
		// counted them: a cumulative bucket that grew without an exemplar
		// is owed one, and takes its late span on a following point.
		{name: "cumulative_late_spans", lag: gtLag, late: true},
		// Delta points cannot wait for them (delta_hold is off by default).
		{name: "delta_late_spans", delta: true, lag: gtLag, late: true},
		// With delta_hold a delta batch waits for its late spans.
		{name: "delta_late_spans_hold", delta: true, lag: gtLag, hold: gtInterval},
	}
	report := make([]string, 0, len(variants))
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			sdk, processor := gtCompare(t, runA, runB, v)
			report = append(report, fmt.Sprintf("%-22s %s", v.name, gtSummary(sdk, processor)))
		})
	}

	// The SDK's own exemplars pass through untouched, and what the
	// processor adds to the buckets they leave empty is true.
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
		rep := groundtruth.NewJudge(spans, inStreams, outStreams, groundtruth.DefaultSkews()).Run()
		logReport(t, "run A through the processor", rep)
		assertValid(t, "run A through the processor", rep)
		total := gtTotal(rep)
		t.Logf("%d SDK exemplars kept, %d added by the processor", kept, total.Attached)
		assert.GreaterOrEqual(t, total.Coverage(), gtMinCoverage, "%d of %d matchable grown buckets covered", total.Covered, total.Matchable)
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
	sdk, processor := gtCompare(t, runA, runB, gtVariant{name: "cumulative"})
	t.Logf("share cumulative %s", gtSummary(sdk, processor))
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

// gtMinCoverage is the share of matchable grown buckets that must get an
// exemplar where every span is delivered in time: the processor may miss
// one now and then to a span the live workload delivers in the same
// instant as the point, never a class of buckets.
const gtMinCoverage = 0.99

type gtVariant struct {
	name  string
	delta bool
	// lag: spans that end within lag before a collection are delivered
	// only after it, as with a batching span exporter.
	lag time.Duration
	// hold is the processor's delta_hold.delay (0: off).
	hold time.Duration
	// late: spans arrive after the points that counted them and nothing
	// waits for them; coverage is reported, not asserted.
	late bool
}

// gtCompare sends run B through the processor as v says, judges every
// exemplar it attached and compares the share of grown buckets with an
// exemplar with run A's own; it returns both, summed over the metrics.
func gtCompare(t *testing.T, runA, runB *gtRecording, v gtVariant) (sdk, processor *groundtruth.MetricReport) {
	sdkIn, _, spansA := gtFeed(t, runA, v, false)
	sdkStreams := groundtruth.StreamsOf(sdkIn)
	sdkRep := groundtruth.NewJudge(spansA, sdkStreams, sdkStreams, groundtruth.DefaultSkews()).Run()
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

	rep := groundtruth.NewJudge(spansB, inStreams, outStreams, groundtruth.DefaultSkews()).Run()
	logReport(t, "run B through the processor ("+v.name+")", rep)
	assertValid(t, v.name, rep)
	t.Logf("attached stand-ins whose request the metric counted in another bucket (the tap knows): %s", gtMisplaced(spansB, outStreams))
	if v.hold > 0 {
		recovered := gtRecovered(spansB, outStreams)
		t.Logf("%d exemplars came from spans delivered after their batch, which the hold kept for %s", recovered, v.hold)
		assert.Positive(t, recovered, "the hold recovered no late span")
	}
	t.Logf("run A exemplars timestamped after their point: %d", gtNewerThanPoint(sdkStreams))

	for _, metric := range []string{gtServerMetric, gtClientMetric} {
		a, b := sdkRep.Metric(metric), rep.Metric(metric)
		t.Logf("%s: SDK %s | processor %s", metric, gtShare(a), gtShare(b))
		t.Logf("%s in run B: %s", metric, gtAgree(spansB, metric, outStreams.All()[0].Points[0].Layout))
		require.Positive(t, a.Grown, "run A recorded no growth of %s", metric)
		require.Positive(t, b.Grown, "run B recorded no growth of %s", metric)
		if v.late {
			continue
		}
		assert.GreaterOrEqual(t, b.Coverage(), gtMinCoverage, "%s: %d of %d matchable grown buckets covered", metric, b.Covered, b.Matchable)
		// The SDK samples each measurement as it is taken; the processor
		// can only use spans that are there. Below the SDK's share, every
		// bucket short must be one the judge finds no delivered span can
		// honestly fill.
		short := a.Share()*float64(b.Grown) - float64(b.Filled)
		assert.LessOrEqual(t, short, float64(b.Unmatched())+1e-9,
			"%s: the processor's share (%s) is below the SDK's (%s) by %.1f buckets, more than the %d the judge finds not honestly fillable (%v)",
			metric, gtShare(b), gtShare(a), short, b.Unmatched(), b.Unmatchable)
	}
	return gtTotal(sdkRep), gtTotal(rep)
}

// gtTotal sums a report's metrics.
func gtTotal(rep *groundtruth.Report) *groundtruth.MetricReport {
	total := &groundtruth.MetricReport{Metric: "total"}
	for _, m := range rep.Metrics() {
		total.Add(m)
	}
	return total
}

func gtShare(m *groundtruth.MetricReport) string {
	return fmt.Sprintf("share %.4f (%d/%d grown buckets), coverage %.4f (%d/%d matchable), %d attached, %d invalid",
		m.Share(), m.Filled, m.Grown, m.Coverage(), m.Covered, m.Matchable, m.Attached, m.Invalid)
}

func gtSummary(sdk, processor *groundtruth.MetricReport) string {
	return fmt.Sprintf("SDK share %.4f (%d/%d) | processor share %.4f (%d/%d), coverage %.4f (%d/%d matchable), invalid %d",
		sdk.Share(), sdk.Filled, sdk.Grown, processor.Share(), processor.Filled, processor.Grown,
		processor.Coverage(), processor.Covered, processor.Matchable, processor.Invalid)
}

// gtRecovered counts the exemplars whose span was fed after their point's
// batch: a held batch waited for it.
func gtRecovered(spans *groundtruth.Spans, out *groundtruth.Streams) int {
	n := 0
	for _, s := range out.All() {
		for _, p := range s.Points {
			for _, ex := range p.Exemplars {
				if sp := spans.First(ex.SpanID); sp != nil && sp.FedTick > p.Tick {
					n++
				}
			}
		}
	}
	return n
}

// gtMisplaced counts, of the attached exemplars whose value is not their
// span's duration, those whose request the tap saw measured in another
// bucket: measured, not asserted (the judge's count evidence makes a
// stand-in very likely the bucket's request, not certainly).
func gtMisplaced(spans *groundtruth.Spans, out *groundtruth.Streams) string {
	standIns, elsewhere := 0, 0
	var examples []string
	for _, s := range out.All() {
		for _, p := range s.Points {
			for _, ex := range p.Exemplars {
				sp := spans.First(ex.SpanID)
				if sp == nil || !sp.HasMeasured || ex.Value == sp.Value(s.UnitNanos) {
					continue
				}
				standIns++
				if p.Layout.Of(sp.Measured) != ex.Bucket {
					elsewhere++
					if len(examples) < 3 {
						examples = append(examples, fmt.Sprintf("%s: span %.6f %s, exemplar %v in %s, measured %.6f",
							s.Metric, sp.Value(s.UnitNanos), s.Unit, ex.Value, p.Layout.Describe(ex.Bucket), sp.Measured))
					}
				}
			}
		}
	}
	return fmt.Sprintf("%d of %d %v", elsewhere, standIns, examples)
}

// gtNewerThanPoint counts run A's exemplars timestamped after their point:
// the SDK misses a grown bucket when a request is measured after the
// collection began but counted in it.
func gtNewerThanPoint(sdk *groundtruth.Streams) int {
	n := 0
	for _, s := range sdk.All() {
		for _, p := range s.Points {
			for _, ex := range p.Exemplars {
				if ex.TS > p.Time {
					n++
				}
			}
		}
	}
	return n
}

// gtFeed replays a recording, tick by tick, through a traces and a metrics
// processor of one component ID: before each tick's metrics it delivers the
// spans that ended v.lag or more before the tick's collection finished.
// With process false nothing goes through a processor (the SDK's own view).
// It returns the metrics fed and received per tick, and the spans with the
// tick they were fed before; with v.hold, also the first tick whose held
// batch was surely enriched after they had arrived.
func gtFeed(t *testing.T, rec *gtRecording, v gtVariant, process bool) (in, out []pmetric.Metrics, spans *groundtruth.Spans) {
	t.Helper()
	ctx := context.Background()
	tracesSink, metricsSink := &consumertest.TracesSink{}, &consumertest.MetricsSink{}
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
	deliveredAt := map[pcommon.SpanID]time.Time{}
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
			require.NoError(t, feedTraces(td))
			now := time.Now()
			for _, sp := range batch {
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
	out = metricsSink.AllMetrics()
	if process && v.hold > 0 {
		require.Eventually(t, func() bool { return len(metricsSink.AllMetrics()) == len(rec.ticks) },
			v.hold+10*time.Second, 5*time.Millisecond, "held batches delivered after the delay")
		// A held batch is enriched after the delay: a span surely took
		// part if it was delivered before the delay ended.
		out = gtMatchBatches(t, in, metricsSink.AllMetrics())
		for id, at := range deliveredAt {
			sp := spans.First(id)
			sp.Tick = len(rec.ticks)
			for k := len(fedAt) - 1; k >= 0; k-- {
				if fedAt[k].Add(v.hold).After(at) {
					sp.Tick = k
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

// gtMatchBatches orders the received batches as the fed ones: each fed
// batch with the first received one equal to it but for exemplars. Batches
// without a delta histogram are not held: they overtake the held ones.
func gtMatchBatches(t *testing.T, in, out []pmetric.Metrics) []pmetric.Metrics {
	t.Helper()
	require.Len(t, out, len(in))
	matched := make([]pmetric.Metrics, len(in))
	used := make([]bool, len(out))
	moved := 0
	for i := range in {
		for j := range out {
			if !used[j] && pmetrictest.CompareMetrics(in[i], withoutExemplars(out[j])) == nil {
				matched[i], used[j] = out[j], true
				if i != j {
					moved++
				}
				break
			}
		}
		require.NotEqual(t, pmetric.Metrics{}, matched[i], "tick %d: no batch received equals it but for exemplars", i)
	}
	t.Logf("%d of %d batches were received at another position (batches that are not held overtake held ones)", moved, len(in))
	return matched
}

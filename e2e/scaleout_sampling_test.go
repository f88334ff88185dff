// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-exemplar/otelcol-exemplar/e2e/harness"
)

// ssSpec describes one run of the sampling scale-out workload.
type ssSpec struct {
	services, perRound int
	rounds             int
	// tailRounds are sent after the traffic stopped, metrics only
	// (cumulative streams), so late spans can still be taken.
	tailRounds   int
	period       time.Duration
	seed         uint64
	decisionWait time.Duration
	cumulative   bool
}

// holdDelay covers decision_wait, the sampler's 1 s tick and two
// load-balancing hops.
func (s ssSpec) holdDelay() time.Duration { return s.decisionWait + 2*time.Second }

// ssLatencyThreshold is the latency policy of the sampling tier's example.
const ssLatencyThreshold = time.Second

// ssRun is a finished run.
type ssRun struct {
	w         *ssWorkload
	out       *soOutput
	decisions ssDecisions
	elapsed   time.Duration
}

// ssDecisions are the samplers' own counts.
type ssDecisions struct{ sampled, notSampled int }

func ssReadDecisions(nodes ...*ssNode) ssDecisions {
	var d ssDecisions
	for _, n := range nodes {
		tel, err := harness.ScrapeMetricsPage(n.telemetryURL())
		if err != nil {
			continue
		}
		c := tsCountsFrom(tel)
		d.sampled += c.sampled
		d.notSampled += c.notSampled
	}
	return d
}

// ssDrive sends the rounds, each service through senders[i % len(senders)]:
// spans first, its histogram points half a period later.
func ssDrive(t *testing.T, spec ssSpec, w *ssWorkload, senders []*soSender) {
	t.Helper()
	for r := range spec.rounds + spec.tailRounds {
		next := time.Now().Add(spec.period)
		round := w.nextRound(r < spec.rounds)
		for i, svc := range w.services {
			senders[i%len(senders)].sendTraces(t, round, []string{svc})
		}
		time.Sleep(spec.period / 2)
		for i, svc := range w.services {
			senders[i%len(senders)].sendMetrics(t, round, []string{svc})
		}
		time.Sleep(time.Until(next))
	}
}

// ssAwait waits until every trace is decided and tier 3 wrote both spans of
// every kept trace and every point (or timeout), then a little longer so
// extra copies would show.
func ssAwait(t *testing.T, w *ssWorkload, samplers []*ssNode, writers []*ssNode, timeout time.Duration) (*soOutput, ssDecisions) {
	t.Helper()
	var nodes []*soTier2
	for _, n := range writers {
		nodes = append(nodes, n.asOutput())
	}
	deadline := time.Now().Add(timeout)
	for {
		d := ssReadDecisions(samplers...)
		out := readSOOutput(t, nodes)
		if d.sampled+d.notSampled == len(w.traces) && len(out.spans) >= 2*d.sampled && len(out.points) >= w.pointsSent {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("after %s: %d of %d traces decided (%d sampled); tier 3 wrote %d spans and %d/%d points",
				timeout, d.sampled+d.notSampled, len(w.traces), d.sampled, len(out.spans), len(out.points), w.pointsSent)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond)
	return readSOOutput(t, nodes), ssReadDecisions(samplers...)
}

// ssScaled runs the workload through the three tiers. Services hash onto
// tier 3 by their (random) ports; a run with every service on one instance
// would not test scale-out and is repeated (about 1 in 130).
func ssScaled(t *testing.T, spec ssSpec) (*ssRun, *ssCluster) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		c := startSSCluster(t, spec)
		run := &ssRun{w: newSSWorkload(spec.services, spec.perRound, spec.cumulative, spec.seed)}
		senders := []*soSender{newSOSender(t, c.route[0].endpoint()), newSOSender(t, c.route[1].endpoint())}
		began := time.Now()
		ssDrive(t, spec, run.w, senders)
		run.out, run.decisions = ssAwait(t, run.w, c.sample, c.exemplar, spec.holdDelay()+60*time.Second)
		run.elapsed = time.Since(began)
		homes := map[string]bool{}
		for _, s := range run.out.spans {
			homes[s.instance] = true
		}
		if len(homes) >= 2 || attempt == 3 {
			return run, c
		}
		t.Logf("attempt %d: every service hashed onto one exemplar instance; again with new ports", attempt)
		c.stop()
	}
}

// ssSingle runs the same workload against one collector that samples and
// enriches.
func ssSingle(t *testing.T, spec ssSpec) *ssRun {
	t.Helper()
	n := startSSSingle(t, spec)
	run := &ssRun{w: newSSWorkload(spec.services, spec.perRound, spec.cumulative, spec.seed)}
	began := time.Now()
	ssDrive(t, spec, run.w, []*soSender{newSOSender(t, n.endpoint())})
	run.out, run.decisions = ssAwait(t, run.w, []*ssNode{n}, []*ssNode{n}, spec.holdDelay()+60*time.Second)
	run.elapsed = time.Since(began)
	return run
}

// TestScaleOutSampling runs the gateway-with-sampling layout (two routers,
// two samplers, two exemplar instances) and the same workload on one
// collector: nothing lost but what the sampler drops by design (each trace
// decided once, kept traces whole, the same traces kept both ways), each
// service's kept spans and points on one exemplar instance, every exemplar
// true and naming a kept trace, and the same exemplar coverage.
func TestScaleOutSampling(t *testing.T) {
	t.Parallel() // with the other long runs, after the sequential tests
	for name, spec := range map[string]ssSpec{
		"delta": {services: 8, perRound: 8, rounds: 16, period: 500 * time.Millisecond, seed: 21, decisionWait: 2 * time.Second},
		"cumulative": {
			services: 8, perRound: 8, rounds: 16, tailRounds: 12, period: 500 * time.Millisecond, seed: 22,
			decisionWait: 2 * time.Second, cumulative: true,
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ssTest(t, spec)
		})
	}
}

func ssTest(t *testing.T, spec ssSpec) {
	scaled, cluster := ssScaled(t, spec)
	var tier []string
	for _, n := range append(append(append([]*ssNode{}, cluster.route...), cluster.sample...), cluster.exemplar...) {
		tier = append(tier, n.name)
	}
	single := ssSingle(t, spec)
	results := map[string]*tsCoverage{}
	kept := map[string]map[pcommon.TraceID]bool{}
	for _, run := range []struct {
		name string
		r    *ssRun
	}{{"scaled", scaled}, {"single", single}} {
		t.Run(run.name, func(t *testing.T) {
			kept[run.name] = ssAssertDelivery(t, run.r)
			results[run.name] = ssAssertExemplars(t, spec, run.r)
			t.Logf("%s run (%s), %s: %d traces sent, %d kept; coverage: %s", run.name, strings.Join(tier, ", "),
				run.r.elapsed.Round(time.Millisecond), len(run.r.w.traces), run.r.decisions.sampled, results[run.name])
		})
		if run.name == "scaled" {
			tier = []string{"single"}
			for _, n := range cluster.exemplar {
				soLogTelemetry(t, n.name, soScrape(n.telemetryURL(), "otelcol_processor_exemplar_"))
			}
		}
	}
	if len(kept["scaled"]) == 0 || fmt.Sprint(ssSorted(kept["scaled"])) != fmt.Sprint(ssSorted(kept["single"])) {
		t.Errorf("the gateway kept %d traces, one collector %d, not the same ones: the samplers did not see whole traces",
			len(kept["scaled"]), len(kept["single"]))
	}
	sc, si := results["scaled"], results["single"]
	t.Logf("kept grown buckets showing a kept request of their interval or a fresher one: scaled %.1f%%, single %.1f%%; "+
		"of their own interval: scaled %.1f%%, single %.1f%%", 100*sc.current(), 100*si.current(), 100*sc.own(), 100*si.own())
	// Two samplers decide on their own ticks, so a later request's span can
	// reach tier 3 before an earlier one's and supersede it; that moves
	// own() by a few points between layouts without any bucket going
	// without a current exemplar. A missed bucket is what scale-out must not add.
	if sc.current() < si.current()-0.02 {
		t.Errorf("scaled out, exemplars cover %.1f%% of the buckets that grew with a kept request, one collector %.1f%%",
			100*sc.current(), 100*si.current())
	}
	if !spec.cumulative && si.own() < tsMinOwnCoverage {
		t.Errorf("one collector with the delta hold covered %.1f%% of the buckets that grew with a kept request; want at least %.0f%%",
			100*si.own(), 100*tsMinOwnCoverage)
	}
}

func ssSorted(m map[pcommon.TraceID]bool) []string {
	out := make([]string, 0, len(m))
	for id := range m {
		out = append(out, id.String())
	}
	sort.Strings(out)
	return out
}

// ssAssertDelivery checks spans, traces, decisions and points, and returns
// the kept traces.
func ssAssertDelivery(t *testing.T, r *ssRun) map[pcommon.TraceID]bool {
	t.Helper()
	copies := map[pcommon.SpanID]int{}
	spanHome, pointHome := map[string]map[string]bool{}, map[string]map[string]bool{}
	home := func(m map[string]map[string]bool, svc, inst string) {
		if m[svc] == nil {
			m[svc] = map[string]bool{}
		}
		m[svc][inst] = true
	}
	kept := map[pcommon.TraceID]bool{}
	var unknown int
	for _, s := range r.out.spans {
		sp := r.w.spans[pcommon.SpanID(s.spanID)]
		if sp == nil {
			unknown++
			continue
		}
		copies[sp.spanID]++
		kept[sp.traceID] = true
		home(spanHome, s.service, s.instance)
	}
	var partial, extra, mustKeep, lostMustKeep, other, otherKept int
	for id, tr := range r.w.traces {
		if kept[id] {
			for _, sp := range tr.spans {
				switch n := copies[sp.spanID]; {
				case n == 0:
					partial++
				case n > 1:
					extra += n - 1
				}
			}
		}
		if tr.failed() || tr.duration() >= ssLatencyThreshold+time.Millisecond {
			mustKeep++
			if !kept[id] {
				lostMustKeep++
			}
			continue
		}
		other++
		if kept[id] {
			otherKept++
		}
	}
	if unknown != 0 || partial != 0 || extra != 0 {
		t.Errorf("spans written: %d never sent, %d of kept traces missing, %d extra copies", unknown, partial, extra)
	}
	if d := r.decisions; d.sampled != len(kept) || d.sampled+d.notSampled != len(r.w.traces) {
		t.Errorf("samplers decided %d traces (%d sampled); %d sent, %d written", d.sampled+d.notSampled, d.sampled, len(r.w.traces), len(kept))
	}
	if lostMustKeep != 0 {
		t.Errorf("%d of %d traces with an error or over the latency threshold were dropped", lostMustKeep, mustKeep)
	}
	if share := soRatio(otherKept, other); share < 0.1 || share > 0.3 {
		t.Errorf("the 20%% policy kept %d of %d other traces (%.1f%%)", otherKept, other, 100*share)
	}
	ssAssertPoints(t, r, pointHome)
	for svc, homes := range pointHome {
		if len(homes) != 1 {
			t.Errorf("points of %s were written by %d instances", svc, len(homes))
		}
		for h := range homes {
			if sh := spanHome[svc]; len(sh) != 1 || !sh[h] {
				t.Errorf("%s: kept spans went to %v, points to %q; the processor can only join them on one instance", svc, sh, h)
			}
		}
	}
	return kept
}

// ssAssertPoints checks every point was written once, unchanged.
func ssAssertPoints(t *testing.T, r *ssRun, pointHome map[string]map[string]bool) {
	t.Helper()
	written := map[soPointKey]int{}
	var changed, extra int
	for _, p := range r.out.points {
		if pointHome[p.key.service] == nil {
			pointHome[p.key.service] = map[string]bool{}
		}
		pointHome[p.key.service][p.instance] = true
		written[p.key]++
		sent, ok := r.w.points[p.key]
		switch {
		case !ok:
			extra++
		case sent.start != p.start || fmt.Sprint(sent.counts) != fmt.Sprint(p.counts):
			changed++
		}
	}
	var lost int
	for k := range r.w.points {
		switch n := written[k]; {
		case n == 0:
			lost++
		case n > 1:
			extra += n - 1
		}
	}
	if lost != 0 || extra != 0 || changed != 0 {
		t.Errorf("points: sent %d, written %d (lost %d, extra %d, changed %d)", r.w.pointsSent, len(r.out.points), lost, extra, changed)
	}
}

// ssAssertExemplars judges the exemplars with the tail-sampling test's
// model: each names a kept span of its stream, in its window and bucket,
// with its duration and end; timestamps move forward per bucket; and
// returns the coverage of the buckets that grew with a kept request.
func ssAssertExemplars(t *testing.T, spec ssSpec, r *ssRun) *tsCoverage {
	t.Helper()
	written := map[pcommon.SpanID]bool{}
	for _, s := range r.out.spans {
		written[pcommon.SpanID(s.spanID)] = true
	}
	kept := r.w.asTraces(func(id pcommon.SpanID) bool { return written[id] })
	cov := tsAnalyze(ssStreams(spec, r.out), kept, r.w.asTraces(nil), tsModel{lateWindow: tsLateSpanWindow})
	if cov.notKept != 0 || cov.backwards != 0 || cov.wrong != 0 || cov.clamped != 0 {
		t.Errorf("of %d exemplars, %d name a span of no kept trace, %d do not move forward in time, %d misstate their span, %d lie outside their bucket; e.g.:\n  %s",
			cov.exemplars, cov.notKept, cov.backwards, cov.wrong, cov.clamped, strings.Join(cov.problems[:min(10, len(cov.problems))], "\n  "))
	}
	if cov.exemplars == 0 || cov.unmapped != 0 {
		t.Errorf("%d exemplars; %d kept spans fit no grown bucket", cov.exemplars, cov.unmapped)
	}
	return cov
}

// ssStreams turns tier 3's points into the tail-sampling test's streams.
func ssStreams(spec ssSpec, out *soOutput) map[string]*tsStream {
	streams := map[string]*tsStream{}
	for _, p := range out.points {
		ep := soEndpoints[max(p.key.endpoint, 0)]
		key := tsStreamKey(p.key.service, tsServerMetric, ep.method, ep.route, itoa(ep.status))
		s := streams[key]
		if s == nil {
			s = &tsStream{key: key, cumulative: spec.cumulative}
			streams[key] = s
		}
		tp := tsPoint{start: p.start, time: p.key.time, counts: p.counts, bounds: soBounds}
		for _, ex := range p.exemplars {
			tp.exemplars = append(tp.exemplars, tsExemplar{
				traceID: pcommon.TraceID(ex.traceID).String(), spanID: pcommon.SpanID(ex.spanID).String(), value: ex.value, time: ex.time,
			})
		}
		s.points = append(s.points, tp)
	}
	for _, s := range streams {
		sort.SliceStable(s.points, func(i, j int) bool { return s.points[i].time < s.points[j].time })
	}
	return streams
}

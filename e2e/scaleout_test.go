// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// soSpec describes one run of the workload.
type soSpec struct {
	services      int
	spansPerRound int // per service
	rounds        int
	period        time.Duration
	seed          uint64
	// stopAfter and restartAfter are the rounds after which one tier-2
	// instance is stopped and started again; 0 means no restart.
	stopAfter, restartAfter int
	// afterCatchUp is how many rounds are still sent once the restarted
	// instance writes spans sent after its restart (its backlog is through);
	// maxRounds bounds the run.
	afterCatchUp, maxRounds int
}

// soRun is a finished run.
type soRun struct {
	w       *soWorkload
	nodes   []*soTier2
	tier1   *soTier1
	report  *soReport
	elapsed time.Duration

	restarted *soTier2
	// Time from the restart (process ready again) until its first span and
	// first point were written.
	firstSpanAfter, firstPointAfter time.Duration
	// Spans of the instance that kept running, sent while the other one was
	// down (rounds after the stop, before the last one), and how many of them
	// it had written when the other one came back.
	healthyDuringOutage, sentDuringOutage int
	// caughtUp is the round after which the restarted instance had written
	// a span sent after its restart; -1 if it never did during the run.
	caughtUp int
}

// soDrive sends the workload round by round: each service's spans first, its
// histogram point half a period later (SDKs export metrics after the spans
// they counted have ended), then after(round) runs. It sends spec.rounds
// rounds, and more while more(round) holds, up to spec.maxRounds.
func soDrive(t *testing.T, spec soSpec, w *soWorkload, s *soSender, after func(round int), more func(round int) bool) {
	t.Helper()
	for r := 0; r < spec.rounds || (more != nil && r < spec.maxRounds && more(r-1)); r++ {
		next := time.Now().Add(spec.period)
		round := w.nextRound(r)
		s.sendTraces(t, round, w.services)
		time.Sleep(spec.period / 2)
		s.sendMetrics(t, round, w.services)
		if after != nil {
			after(r)
		}
		time.Sleep(time.Until(next))
	}
}

// soAwait waits until tier 2 wrote as many span copies and points as were
// sent (or timeout), then a little longer so extra copies would show, and
// returns the analysis.
func soAwait(t *testing.T, w *soWorkload, nodes []*soTier2, timeout time.Duration) *soReport {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := readSOOutput(t, nodes)
		if len(out.spans) >= w.spansSent && len(out.points) >= w.pointsSent {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("after %s tier 2 wrote %d/%d spans and %d/%d points", timeout, len(out.spans), w.spansSent, len(out.points), w.pointsSent)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond)
	return analyzeSO(w, readSOOutput(t, nodes))
}

// soScaled runs the workload through one tier-1 and two tier-2 collectors.
// The ring position of each backend depends on its (random) port, so a run
// in which every service hashed onto one instance would not test scale-out;
// it is repeated with new ports (about 1 run in 500 with 10 services).
func soScaled(t *testing.T, spec soSpec) *soRun {
	t.Helper()
	for attempt := 1; ; attempt++ {
		run := soScaledOnce(t, spec)
		if len(run.report.instances) >= 2 || attempt == 3 {
			return run
		}
		t.Logf("attempt %d: every service hashed onto one tier-2 instance; again with new ports", attempt)
		run.tier1.proc.Stop()
		for _, n := range run.nodes {
			n.stop()
		}
	}
}

func soScaledOnce(t *testing.T, spec soSpec) *soRun {
	t.Helper()
	run := &soRun{nodes: []*soTier2{newSOTier2(t, "tier2-a"), newSOTier2(t, "tier2-b")}}
	for _, n := range run.nodes {
		n.start(t)
	}
	run.tier1 = startSOTier1(t, run.nodes)
	run.w = newSOWorkload(spec.services, spec.spansPerRound, spec.seed)
	sender := newSOSender(t, run.tier1.endpoint())

	var firstSpan, firstPoint atomic.Int64
	var restartedAt time.Time
	watchDone := make(chan struct{})
	began := time.Now()
	run.caughtUp = -1
	more := func(r int) bool {
		return spec.stopAfter > 0 && (run.caughtUp < 0 || r < run.caughtUp+spec.afterCatchUp)
	}
	soDrive(t, spec, run.w, sender, func(r int) {
		switch {
		case spec.stopAfter == 0:
		case r > spec.restartAfter && run.caughtUp < 0:
			if soWroteRoundAfter(t, run.w, run.restarted, spec.restartAfter) {
				run.caughtUp = r
				t.Logf("round %d: %s wrote spans sent after its restart", r, run.restarted.name)
			}
		case r == spec.stopAfter:
			// Stop an instance that holds services (tier2-b unless it has none).
			run.restarted = run.nodes[1]
			out := readSOOutput(t, run.nodes)
			homes := map[string]bool{}
			for _, s := range out.spans {
				homes[s.instance] = true
			}
			if !homes[run.restarted.name] {
				run.restarted = run.nodes[0]
			}
			t.Logf("round %d: stopping %s", r, run.restarted.name)
			run.restarted.stop()
		case r == spec.restartAfter:
			run.healthyDuringOutage, run.sentDuringOutage = soHealthyDuringOutage(t, run, spec)
			run.restarted.start(t)
			restartedAt = time.Now()
			t.Logf("round %d: %s ready again", r, run.restarted.name)
			go soWatchFirstWrite(run.restarted, restartedAt, &firstSpan, &firstPoint, watchDone)
		}
	}, more)
	run.report = soAwait(t, run.w, run.nodes, 90*time.Second)
	run.elapsed = time.Since(began)
	if !restartedAt.IsZero() {
		close(watchDone)
		run.firstSpanAfter = time.Duration(firstSpan.Load())
		run.firstPointAfter = time.Duration(firstPoint.Load())
	}
	return run
}

// soHealthyDuringOutage counts the spans the instances that kept running
// were sent in the rounds after the stop (all but the last, which may still
// be in flight), and how many of those they have written.
func soHealthyDuringOutage(t *testing.T, run *soRun, spec soSpec) (written, sent int) {
	t.Helper()
	out := readSOOutput(t, run.nodes)
	home := map[string]string{}
	for _, s := range out.spans {
		home[s.service] = s.instance
	}
	inOutage := func(round int) bool { return round > spec.stopAfter && round < spec.restartAfter }
	for id, sp := range run.w.spans {
		if h := home[sp.service]; h != "" && h != run.restarted.name && inOutage(sp.round) {
			sent += run.w.copiesSent[id]
		}
	}
	for _, s := range out.spans {
		if sp := run.w.spans[s.spanID]; sp != nil && s.instance != run.restarted.name && inOutage(sp.round) {
			written++
		}
	}
	return written, sent
}

// soWroteRoundAfter reports whether n's current incarnation wrote a span of
// a round after round.
func soWroteRoundAfter(t *testing.T, w *soWorkload, n *soTier2, round int) bool {
	t.Helper()
	out := &soOutput{}
	out.readTraces(t, n, n.incarnation)
	for _, s := range out.spans {
		if sp := w.spans[s.spanID]; sp != nil && sp.round > round {
			return true
		}
	}
	return false
}

// soWatchFirstWrite records how long after start the restarted instance
// wrote its first span and first point.
func soWatchFirstWrite(n *soTier2, start time.Time, span, point *atomic.Int64, done <-chan struct{}) {
	traces := filepath.Join(n.dir, fmt.Sprintf("traces-%d.json", n.incarnation))
	metrics := filepath.Join(n.dir, fmt.Sprintf("metrics-%d.json", n.incarnation))
	for {
		for path, d := range map[string]*atomic.Int64{traces: span, metrics: point} {
			if d.Load() == 0 {
				if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
					d.Store(int64(time.Since(start)))
				}
			}
		}
		select {
		case <-done:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// soSingle runs the same workload against one tier-2 instance directly.
func soSingle(t *testing.T, spec soSpec) *soRun {
	t.Helper()
	run := &soRun{nodes: []*soTier2{newSOTier2(t, "single")}}
	run.nodes[0].start(t)
	run.w = newSOWorkload(spec.services, spec.spansPerRound, spec.seed)
	sender := newSOSender(t, run.nodes[0].endpoint())
	began := time.Now()
	soDrive(t, spec, run.w, sender, nil, nil)
	run.report = soAwait(t, run.w, run.nodes, 30*time.Second)
	run.elapsed = time.Since(began)
	return run
}

// soAssertDelivery checks what every run must deliver: each copy of each
// span and each point exactly once and unchanged, each service on one
// instance for both signals, exemplars that tell the truth.
func soAssertDelivery(t *testing.T, r *soReport) {
	t.Helper()
	if r.lostSpans != 0 || r.extraSpans != 0 || r.spansOut != r.spansIn {
		t.Errorf("spans: sent %d copies, written %d (lost %d, extra %d)", r.spansIn, r.spansOut, r.lostSpans, r.extraSpans)
	}
	if r.lostPoints != 0 || r.extraPoints != 0 || r.pointsOut != r.pointsIn {
		t.Errorf("points: sent %d, written %d (lost %d, extra %d)", r.pointsIn, r.pointsOut, r.lostPoints, r.extraPoints)
	}
	if r.changedPoints != 0 {
		t.Errorf("%d points left tier 2 with other counts or start time than sent", r.changedPoints)
	}
	for svc, homes := range r.spanHome {
		if len(homes) != 1 {
			t.Errorf("spans of %s were written by %d instances %v; want exactly one", svc, len(homes), homes)
		}
	}
	for svc, homes := range r.pointHome {
		if len(homes) != 1 {
			t.Errorf("points of %s were written by %d instances %v; want exactly one", svc, len(homes), homes)
			continue
		}
		for h := range homes {
			if sh := r.instanceOfService[svc]; sh != h {
				t.Errorf("%s: spans went to %q, points to %q; the processor can only join them on one instance", svc, sh, h)
			}
		}
	}
	for _, p := range r.invalidExemplars {
		t.Errorf("invalid exemplar: %s", p)
	}
	if r.bucketsWithTwo != 0 {
		t.Errorf("%d buckets carry two exemplars", r.bucketsWithTwo)
	}
	if r.staleExemplars != 0 {
		t.Errorf("%d exemplars on buckets that neither grew since the stream's previous point nor owed one from an earlier growth", r.staleExemplars)
	}
	if r.collisions != 0 || r.wrongFlags != 0 {
		t.Errorf("false duplicate flags: %d collisions, %d flags on first copies or on spans sent once", r.collisions, r.wrongFlags)
	}
}

// TestScaleOutRouting sends ten services through tier 1 to two tier-2
// instances and compares with one tier-2 instance receiving the same
// workload alone: nothing lost or duplicated, each service's spans and
// metrics on one instance, replays flagged, exemplar coverage as good.
func TestScaleOutRouting(t *testing.T) {
	spec := soSpec{services: 10, spansPerRound: 24, rounds: 16, period: 400 * time.Millisecond, seed: 6}

	scaled := soScaled(t, spec)
	t.Logf("scaled (tier 1 -> 2 x tier 2), %s:\n%s", scaled.elapsed.Round(time.Millisecond), scaled.report.summary())
	for _, n := range scaled.nodes {
		soLogTelemetry(t, n.name, soScrape(n.telemetryURL(), "otelcol_processor_exemplar_"))
	}
	single := soSingle(t, spec)
	t.Logf("single tier-2 instance, %s:\n%s", single.elapsed.Round(time.Millisecond), single.report.summary())

	for _, run := range []struct {
		name string
		r    *soReport
	}{{"scaled", scaled.report}, {"single", single.report}} {
		t.Run(run.name, func(t *testing.T) {
			r := run.r
			soAssertDelivery(t, r)
			if r.replaysFlagged != r.replaysSent || r.unflaggedReplays != 0 {
				t.Errorf("replays: sent %d, flagged %d, unflagged %d", r.replaysSent, r.replaysFlagged, r.unflaggedReplays)
			}
		})
	}
	if n := len(scaled.report.instances); n != 2 {
		t.Fatalf("scaled run wrote from %d tier-2 instances; want both", n)
	}
	for name, f := range scaled.report.instances {
		if f.exemplars == 0 {
			t.Errorf("%s attached no exemplar", name)
		}
	}

	sf, sg := scaled.report.coverage(nil)
	uf, ug := single.report.coverage(nil)
	if sg != ug {
		t.Errorf("the workloads differ: %d grown buckets scaled, %d single", sg, ug)
	}
	scaledCov, singleCov := soRatio(sf, sg), soRatio(uf, ug)
	t.Logf("exemplar coverage: scaled %d/%d = %.1f%%, single %d/%d = %.1f%%", sf, sg, 100*scaledCov, uf, ug, 100*singleCov)
	if singleCov < 0.95 {
		t.Errorf("single instance attached exemplars to %.1f%% of the buckets that grew; want at least 95%%", 100*singleCov)
	}
	if scaledCov < singleCov-0.01 {
		t.Errorf("scaled out, exemplars cover %.1f%% of the buckets that grew, alone %.1f%%", 100*scaledCov, 100*singleCov)
	}
}

// TestScaleOutRestart stops one tier-2 instance mid-run and starts it again
// on the same port. With the retry and queue settings of
// examples/gateway-tier1 nothing is lost; the restarted instance lost its
// span index and stream state, and exemplars resume once spans arrive again.
func TestScaleOutRestart(t *testing.T) {
	spec := soSpec{
		services: 10, spansPerRound: 24, rounds: 26, period: 350 * time.Millisecond, seed: 7,
		stopAfter: 7, restartAfter: 15, afterCatchUp: 8, maxRounds: 120,
	}
	run := soScaled(t, spec)
	r := run.report
	t.Logf("restart run, %s:\n%s", run.elapsed.Round(time.Millisecond), r.summary())
	t.Logf("%s restarted after round %d; first span written %s and first point %s after it was ready",
		run.restarted.name, spec.restartAfter, run.firstSpanAfter.Round(time.Millisecond), run.firstPointAfter.Round(time.Millisecond))
	soLogTelemetry(t, "tier1", soScrape(fmt.Sprintf("http://127.0.0.1:%d/metrics", run.tier1.telemetryPort), "otelcol_exporter_", "otelcol_loadbalancer_"))
	for _, n := range run.nodes {
		soLogTelemetry(t, n.name+"#"+fmt.Sprint(n.incarnation), soScrape(n.telemetryURL(), "otelcol_processor_exemplar_"))
	}

	soAssertDelivery(t, r)
	if n := len(r.instances); n != 2 {
		t.Fatalf("restart run wrote from %d tier-2 instances; want both", n)
	}
	victim := run.restarted.name
	// One instance down must not hold back the services of the others.
	t.Logf("while %s was down, the other instance wrote %d of the %d span copies sent to it", victim, run.healthyDuringOutage, run.sentDuringOutage)
	if run.healthyDuringOutage < run.sentDuringOutage {
		t.Errorf("while %s was down, the other instance wrote only %d of %d span copies: its services were held back", victim, run.healthyDuringOutage, run.sentDuringOutage)
	}

	type phase struct {
		name string
		keep func(p soPointResult) bool
	}
	onVictim := func(p soPointResult) bool { return p.instance == victim }
	phases := []phase{
		{"healthy instance, all rounds", func(p soPointResult) bool { return !onVictim(p) }},
		{"restarted instance, before the stop", func(p soPointResult) bool { return onVictim(p) && p.round <= spec.stopAfter }},
		{"restarted instance, sent while it was down", func(p soPointResult) bool {
			return onVictim(p) && p.round > spec.stopAfter && p.round <= spec.restartAfter
		}},
		{"restarted instance, sent after it was back", func(p soPointResult) bool { return onVictim(p) && p.round > spec.restartAfter }},
	}
	cov := map[string]float64{}
	for _, ph := range phases {
		f, g := r.coverage(ph.keep)
		cov[ph.name] = soRatio(f, g)
		empty := 0
		for _, p := range r.points {
			if ph.keep(p) && p.grown > 0 && p.filled == 0 {
				empty++
			}
		}
		t.Logf("coverage, %s: %d/%d = %.1f%% (%d points with growth but no exemplar)", ph.name, f, g, 100*soRatio(f, g), empty)
	}
	if c := cov[phases[0].name]; c < 0.95 {
		t.Errorf("the instance that kept running attached exemplars to %.1f%% of grown buckets; want at least 95%%", 100*c)
	}
	if c := cov[phases[1].name]; c < 0.95 {
		t.Errorf("before the stop, %.1f%% coverage on %s; want at least 95%%", 100*c, victim)
	}
	// Exemplars resume: once the instance's backlog of spans is through,
	// points are enriched as before the restart.
	if run.caughtUp < 0 {
		t.Fatalf("%s never wrote a span sent after its restart", victim)
	}
	resumed := func(p soPointResult) bool { return onVictim(p) && p.round > run.caughtUp }
	f, g := r.coverage(resumed)
	t.Logf("coverage, restarted instance, rounds after its backlog was through (round %d on): %d/%d = %.1f%%", run.caughtUp+1, f, g, 100*soRatio(f, g))
	if soRatio(f, g) < 0.95 {
		t.Errorf("exemplars did not resume on %s: %d/%d grown buckets filled after round %d", victim, f, g, run.caughtUp)
	}
	t.Logf("%d exemplars filled buckets that grew earlier without one (late spans, or the first point the restarted instance saw of a stream)", r.lateFills)
	// Replays whose two copies reached different incarnations cannot be
	// flagged; every other replay is.
	if r.replaysFlagged > r.replaysSent {
		t.Errorf("%d replays flagged, %d sent", r.replaysFlagged, r.replaysSent)
	}
	t.Logf("replays: sent %d, flagged %d, not flagged %d (copies split by the restart)", r.replaysSent, r.replaysFlagged, r.unflaggedReplays)
	// Only the replays of the round before the stop can have their copies
	// split: at most one per service of the restarted instance.
	if n := len(r.instances[victim].services); r.unflaggedReplays > n {
		t.Errorf("%d replays not flagged; only those split by the restart may be missed (at most %d)", r.unflaggedReplays, n)
	}
}

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

	"github.com/otelcol-exemplar/otelcol-exemplar/e2e/harness"
)

// startAcked starts a new incarnation of a tier-2 instance that has
// exported everything it acknowledged: the example's batch processor is
// left out and the file exporters write each request before the receiver
// answers (with rotation set, the file exporter writes through, without its
// 4 KiB buffer). Killed with SIGKILL, such an instance loses nothing tier 1
// was told it had; what the example's batch processor holds when the
// process dies was acknowledged and is gone (docs/deployment.md).
func (n *soTier2) startAcked(t *testing.T) {
	t.Helper()
	n.incarnation++
	override := fmt.Sprintf(`exporters:
  file/traces:
    path: %[1]s/traces-%[2]d.json
    rotation:
      max_megabytes: 1000
  file/metrics:
    path: %[1]s/metrics-%[2]d.json
    rotation:
      max_megabytes: 1000
service:
  pipelines:
    traces:
      processors: [memory_limiter, exemplar]
      exporters: [file/traces]
    metrics:
      processors: [memory_limiter, exemplar]
      exporters: [file/metrics]
`, n.dir, n.incarnation)
	path := filepath.Join(n.dir, fmt.Sprintf("override-%d.yaml", n.incarnation))
	if err := os.WriteFile(path, []byte(override), 0o600); err != nil {
		t.Fatal(err)
	}
	example := filepath.Join(harness.RepoRoot(t), "examples", "gateway-tier2", "config.yaml")
	n.proc = harness.Start(t, fmt.Sprintf("%s#%d", n.name, n.incarnation), n.dir, soListenEnv(n.grpcPort, n.httpPort, n.healthPort, n.telemetryPort),
		harness.CollectorBinary(t), "--config="+example, "--config="+path)
	harness.WaitHTTP(t, n.proc, fmt.Sprintf("http://127.0.0.1:%d/", n.healthPort), 30*time.Second)
}

// soCrash is what the crash run observed.
type soCrash struct {
	killedAfter     int // round during whose successor the instance was killed
	restartedAfter  int
	down            time.Duration // from SIGKILL until the new process was ready
	firstSpanAfter  time.Duration
	firstPointAfter time.Duration
	caughtUp        int
}

// TestScaleOutCrash kills a tier-2 instance with SIGKILL while tier 1 is
// forwarding to it, and starts it again on the same ports. Tier 1's
// per-backend queue and retry (examples/gateway-tier1) hold what the
// instance did not acknowledge and deliver it once the instance is back:
// every span and point sent arrives. Only the request the instance had
// written but not yet acknowledged when it died may arrive twice (at least
// once delivery); exemplars resume once spans arrive again.
func TestScaleOutCrash(t *testing.T) {
	spec := soSpec{
		services: 10, spansPerRound: 24, rounds: 18, period: 350 * time.Millisecond, seed: 9,
		stopAfter: 5, restartAfter: 9, afterCatchUp: 4, maxRounds: 80,
	}
	nodes := []*soTier2{newSOTier2(t, "tier2-a"), newSOTier2(t, "tier2-b")}
	for _, n := range nodes {
		n.startAcked(t)
	}
	tier1 := startSOTier1(t, nodes)
	w := newSOWorkload(spec.services, spec.spansPerRound, spec.seed)
	sender := newSOSender(t, tier1.endpoint())

	crash := soCrash{killedAfter: spec.stopAfter, restartedAfter: spec.restartAfter, caughtUp: -1}
	var victim *soTier2
	var killedAt, readyAt time.Time
	killed := make(chan struct{})
	var firstSpan, firstPoint atomic.Int64
	watchDone := make(chan struct{})
	began := time.Now()
	soDrive(t, spec, w, sender, func(r int) {
		switch {
		case r == spec.stopAfter:
			victim = soVictim(t, nodes)
			// Land in the next round's traces: tier 1 is forwarding them.
			go func() {
				time.Sleep(spec.period/2 + 10*time.Millisecond)
				killedAt = time.Now()
				victim.proc.Kill()
				close(killed)
			}()
		case r == spec.restartAfter:
			<-killed
			victim.startAcked(t)
			readyAt = time.Now()
			crash.down = readyAt.Sub(killedAt)
			t.Logf("round %d: %s killed %s ago, ready again", r, victim.name, crash.down.Round(time.Millisecond))
			go soWatchFirstWrite(victim, readyAt, &firstSpan, &firstPoint, watchDone)
		case r > spec.restartAfter && crash.caughtUp < 0:
			if soWroteRoundAfter(t, w, victim, spec.restartAfter) {
				crash.caughtUp = r
			}
		}
	}, func(r int) bool { return crash.caughtUp < 0 || r < crash.caughtUp+spec.afterCatchUp })
	rep := soAwait(t, w, nodes, 90*time.Second)
	close(watchDone)
	crash.firstSpanAfter, crash.firstPointAfter = time.Duration(firstSpan.Load()), time.Duration(firstPoint.Load())

	t.Logf("crash run, %s:\n%s", time.Since(began).Round(time.Millisecond), rep.summary())
	t.Logf("%s: SIGKILL during round %d, ready again %s later (after round %d); first span written %s and first point %s after it was ready; backlog through after round %d",
		victim.name, spec.stopAfter+1, crash.down.Round(time.Millisecond), spec.restartAfter,
		crash.firstSpanAfter.Round(time.Millisecond), crash.firstPointAfter.Round(time.Millisecond), crash.caughtUp)
	soLogTelemetry(t, "tier1", soScrape(fmt.Sprintf("http://127.0.0.1:%d/metrics", tier1.telemetryPort), "otelcol_exporter_", "otelcol_loadbalancer_"))
	soAssertCrashDelivery(t, rep, spec, victim.name)

	if crash.caughtUp < 0 {
		t.Fatalf("%s never wrote a span sent after its restart", victim.name)
	}
	resumed := func(p soPointResult) bool { return p.instance == victim.name && p.round > crash.caughtUp }
	f, g := rep.coverage(resumed)
	t.Logf("coverage on %s once its backlog was through (rounds after %d): %d/%d = %.1f%%", victim.name, crash.caughtUp, f, g, 100*soRatio(f, g))
	if soRatio(f, g) < 0.95 {
		t.Errorf("exemplars did not resume on %s after the crash: %d/%d grown buckets filled", victim.name, f, g)
	}
}

// soVictim picks the tier-2 instance to kill: one that holds services
// (tier2-b unless it has none).
func soVictim(t *testing.T, nodes []*soTier2) *soTier2 {
	t.Helper()
	out := readSOOutput(t, nodes)
	homes := map[string]bool{}
	for _, s := range out.spans {
		homes[s.instance] = true
	}
	if !homes[nodes[1].name] {
		return nodes[0]
	}
	return nodes[1]
}

// soAssertCrashDelivery checks a crash run: nothing lost, nothing changed,
// each service on one instance, exemplars true. A request the killed
// instance had written but not acknowledged is sent again by tier 1: with
// one consumer per backend and signal that is at most one traces request
// (one service's spans of one round, its replay included) and one metrics
// request (one service's points) more.
func soAssertCrashDelivery(t *testing.T, r *soReport, spec soSpec, victim string) {
	t.Helper()
	if r.lostSpans != 0 || r.lostPoints != 0 {
		t.Errorf("lost: %d of %d span copies and %d of %d points", r.lostSpans, r.spansIn, r.lostPoints, r.pointsIn)
	}
	if r.extraSpans > spec.spansPerRound+2 || r.extraPoints > len(soEndpoints) {
		t.Errorf("extra copies: %d spans, %d points; at most the one request per signal in flight when %s died may arrive twice", r.extraSpans, r.extraPoints, victim)
	}
	if r.changedPoints != 0 {
		t.Errorf("%d points left tier 2 with other counts or start time than sent", r.changedPoints)
	}
	for svc, homes := range r.spanHome {
		if len(homes) != 1 {
			t.Errorf("spans of %s were written by %d instances %v", svc, len(homes), homes)
		}
	}
	for svc, homes := range r.pointHome {
		if len(homes) != 1 || !homes[r.instanceOfService[svc]] {
			t.Errorf("points of %s were written by %v, its spans by %q", svc, homes, r.instanceOfService[svc])
		}
	}
	for _, p := range r.invalidExemplars {
		t.Errorf("invalid exemplar: %s", p)
	}
	if r.bucketsWithTwo != 0 || r.staleExemplars != 0 {
		t.Errorf("%d buckets with two exemplars, %d stale exemplars", r.bucketsWithTwo, r.staleExemplars)
	}
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/otelcol-exemplar/otelcol-exemplar/e2e/harness"
)

// The misrouting warning of the exemplar processor (CONTRACT.md), logged at
// most once per minute per service.
const soMisrouteWarning = "Metrics arrive for a service with no spans in this instance"

// startSOTier1With runs tier 1 like startSOTier1, with override merged over
// the example after the backend list (an extra --config file).
func startSOTier1With(t *testing.T, backends []*soTier2, override string) *soTier1 {
	t.Helper()
	n := &soTier1{grpcPort: harness.FreePort(t), telemetryPort: harness.FreePort(t)}
	health := harness.FreePort(t)
	dir := t.TempDir()
	var hosts strings.Builder
	for _, b := range backends {
		fmt.Fprintf(&hosts, "          - %s\n", b.endpoint())
	}
	backendList := "exporters:\n  load_balancing:\n    resolver:\n      static:\n        hostnames:\n" + hosts.String()
	args := []string{"--config=" + filepath.Join(harness.RepoRoot(t), "examples", "gateway-tier1", "config.yaml")}
	for i, yml := range []string{backendList, override} {
		path := filepath.Join(dir, fmt.Sprintf("override-%d.yaml", i))
		if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config="+path)
	}
	n.proc = harness.Start(t, "tier1", dir, soListenEnv(n.grpcPort, harness.FreePort(t), health, n.telemetryPort),
		harness.CollectorBinary(t), args...)
	harness.WaitHTTP(t, n.proc, fmt.Sprintf("http://127.0.0.1:%d/", health), 30*time.Second)
	return n
}

// soServiceRouting is what contrib documents for keeping a service
// together, and what splits a service's signals in v0.159.0.
const soServiceRouting = "exporters:\n  load_balancing:\n    routing_key: service\n    routing_attributes: []\n"

// soWarning is one misrouting warning a tier-2 instance logged.
type soWarning struct {
	service      string
	likelyCauses string
}

// soMisrouteWarnings returns the misrouting warnings in a collector's log
// (console encoding: time, level, caller, message, then the fields as JSON).
func soMisrouteWarnings(output string) []soWarning {
	var out []soWarning
	for _, line := range strings.Split(output, "\n") {
		parts := strings.SplitN(line, "\t", 5)
		if len(parts) < 5 || parts[1] != "warn" || parts[3] != soMisrouteWarning {
			continue
		}
		var fields map[string]any
		if err := json.Unmarshal([]byte(parts[4]), &fields); err != nil {
			continue
		}
		// Top level: the collector's own service.name sits under "resource".
		svc, _ := fields["service.name"].(string)
		causes, _ := fields["likely_causes"].(string)
		out = append(out, soWarning{service: svc, likelyCauses: causes})
	}
	return out
}

// soMisrouted returns the services whose spans and points were written by
// different instances, with the instances that wrote their points.
func soMisrouted(r *soReport) map[string][]string {
	out := map[string][]string{}
	for svc, pointHomes := range r.pointHome {
		for h := range pointHomes {
			if !r.spanHome[svc][h] {
				out[svc] = append(out[svc], h)
			}
		}
	}
	return out
}

// soRunRouted runs the workload through tier 1 (with override) and two tier-2
// instances, and returns the run and its misrouted services.
func soRunRouted(t *testing.T, spec soSpec, override string) (*soRun, map[string][]string) {
	t.Helper()
	run := &soRun{nodes: []*soTier2{newSOTier2(t, "tier2-a"), newSOTier2(t, "tier2-b")}}
	for _, n := range run.nodes {
		n.start(t)
	}
	run.tier1 = startSOTier1With(t, run.nodes, override)
	run.w = newSOWorkload(spec.services, spec.spansPerRound, spec.seed)
	began := time.Now()
	soDrive(t, spec, run.w, newSOSender(t, run.tier1.endpoint()), nil, nil)
	run.report = soAwait(t, run.w, run.nodes, 60*time.Second)
	run.elapsed = time.Since(began)
	return run, soMisrouted(run.report)
}

// TestScaleOutMisrouteWarning routes with contrib's `routing_key: service`,
// which in v0.159.0 hashes traces and metrics of a service onto different
// instances for about half of the services. The instance that gets such a
// service's points without its spans says so: the misrouting warning naming
// the service, and datapoints_not_enriched{reason="no_service_spans"}.
// Coverage is compared with the examples' attribute routing.
func TestScaleOutMisrouteWarning(t *testing.T) {
	spec := soSpec{services: 10, spansPerRound: 24, rounds: 10, period: 400 * time.Millisecond, seed: 8}
	var run *soRun
	var misrouted map[string][]string
	for attempt := 1; ; attempt++ {
		run, misrouted = soRunRouted(t, spec, soServiceRouting)
		if len(misrouted) > 0 || attempt == 3 {
			break
		}
		// The ring depends on the (random) ports: about 1 run in 1000 keeps
		// every service together.
		t.Logf("attempt %d: no service split across instances; again with new ports", attempt)
		run.tier1.proc.Stop()
		for _, n := range run.nodes {
			n.stop()
		}
	}
	r := run.report
	t.Logf("routing_key: service, %s:\n%s", run.elapsed.Round(time.Millisecond), r.summary())
	if len(misrouted) == 0 {
		t.Fatalf("three runs, no service split across instances: the test saw no misrouting")
	}
	names := make([]string, 0, len(misrouted))
	for svc, homes := range misrouted {
		names = append(names, fmt.Sprintf("%s (spans on %v, points on %v)", svc, soKeys(r.spanHome[svc]), homes))
	}
	sort.Strings(names)
	t.Logf("services whose spans and points went to different instances: %d of %d: %s", len(misrouted), spec.services, strings.Join(names, "; "))

	// Nothing lost or changed, and every exemplar still true.
	if r.lostSpans+r.extraSpans+r.lostPoints+r.extraPoints+r.changedPoints != 0 {
		t.Errorf("delivery: lost %d/%d spans/points, extra %d/%d, changed points %d", r.lostSpans, r.lostPoints, r.extraSpans, r.extraPoints, r.changedPoints)
	}
	for _, p := range r.invalidExemplars {
		t.Errorf("invalid exemplar: %s", p)
	}

	for _, n := range run.nodes {
		soCheckMisrouteSignals(t, n, r, misrouted)
	}

	// The same workload with the examples' routing (attributes:
	// [service.name]), for the coverage a user loses.
	attrRun, attrMisrouted := soRunRouted(t, spec, "")
	f, g := r.coverage(nil)
	af, ag := attrRun.report.coverage(nil)
	t.Logf("exemplar coverage: routing_key service %d/%d = %.1f%%, attributes [service.name] %d/%d = %.1f%%",
		f, g, 100*soRatio(f, g), af, ag, 100*soRatio(af, ag))
	if len(attrMisrouted) != 0 {
		t.Errorf("attribute routing split services across instances: %v", attrMisrouted)
	}
	for _, n := range attrRun.nodes {
		if w := soMisrouteWarnings(n.proc.Output()); len(w) != 0 {
			t.Errorf("%s warned about misrouting under attribute routing: %v", n.name, w)
		}
	}
}

// soCheckMisrouteSignals checks one tier-2 instance: a warning for each
// service whose points it wrote without its spans, none for the others, and
// the no_service_spans count.
func soCheckMisrouteSignals(t *testing.T, n *soTier2, r *soReport, misrouted map[string][]string) {
	t.Helper()
	want := map[string]bool{}
	points := 0
	for svc, homes := range misrouted {
		for _, h := range homes {
			if h == n.name {
				want[svc] = true
			}
		}
	}
	for _, p := range r.points {
		if p.instance == n.name && want[p.service] {
			points++
		}
	}
	warned := map[string]bool{}
	for _, w := range soMisrouteWarnings(n.proc.Output()) {
		warned[w.service] = true
		if !want[w.service] {
			t.Errorf("%s warned about %q, whose spans it holds (or whose points it never got)", n.name, w.service)
		}
		if !strings.Contains(w.likelyCauses, "routing_key") {
			t.Errorf("%s: the warning about %s does not name the routing key as a likely cause: %q", n.name, w.service, w.likelyCauses)
		}
	}
	for svc := range want {
		if !warned[svc] {
			t.Errorf("%s wrote points of %s without its spans and logged no %q warning with service.name %s", n.name, svc, soMisrouteWarning, svc)
		}
	}
	tel, err := harness.ScrapeMetricsPage(n.telemetryURL())
	if err != nil {
		t.Fatalf("scrape %s: %v", n.name, err)
	}
	counted := hoCount(tel, "otelcol_processor_exemplar_datapoints_not_enriched", `reason="no_service_spans"`)
	t.Logf("%s: %d points of services whose spans went elsewhere %v; datapoints_not_enriched{reason=\"no_service_spans\"} = %d; warnings for %v",
		n.name, points, soKeys(want), counted, soKeys(warned))
	if points > 0 && counted == 0 {
		t.Errorf("%s: no_service_spans = 0, though it wrote %d points of services whose spans it never got", n.name, points)
	}
	if points == 0 && counted > 0 {
		t.Errorf("%s: no_service_spans = %d, though every service it got points of had its spans there", n.name, counted)
	}
}

func soKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

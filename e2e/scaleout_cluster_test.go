// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-exemplar/otelcol-exemplar/e2e/harness"
)

// A loopback deployment of the example gateway configurations: tier-1
// collectors run examples/gateway-tier1/config.yaml, tier-2 collectors
// examples/gateway-tier2/config.yaml. A second --config file (merged over the
// example) only changes what a test must change: loopback listen addresses
// (through the examples' environment variables), the static resolver's
// backend list, and tier 2's exporters, replaced by per-instance JSON files.

// soTier2 is one tier-2 collector. Restarting it keeps its ports; every
// incarnation writes its own output files.
type soTier2 struct {
	name          string
	grpcPort      int
	httpPort      int
	healthPort    int
	telemetryPort int
	dir           string
	incarnation   int
	proc          *harness.Process
}

func newSOTier2(t *testing.T, name string) *soTier2 {
	t.Helper()
	return &soTier2{
		name:          name,
		grpcPort:      harness.FreePort(t),
		httpPort:      harness.FreePort(t),
		healthPort:    harness.FreePort(t),
		telemetryPort: harness.FreePort(t),
		dir:           t.TempDir(),
	}
}

func (n *soTier2) endpoint() string { return fmt.Sprintf("127.0.0.1:%d", n.grpcPort) }

func (n *soTier2) start(t *testing.T) {
	t.Helper()
	n.incarnation++
	override := fmt.Sprintf(`exporters:
  file/traces:
    path: %[1]s/traces-%[2]d.json
    flush_interval: 100ms
  file/metrics:
    path: %[1]s/metrics-%[2]d.json
    flush_interval: 100ms
service:
  pipelines:
    traces:
      exporters: [file/traces]
    metrics:
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

func (n *soTier2) stop() { n.proc.Stop() }

func (n *soTier2) telemetryURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d/metrics", n.telemetryPort)
}

// soTier1 is the load-balancing collector.
type soTier1 struct {
	grpcPort      int
	telemetryPort int
	proc          *harness.Process
}

func startSOTier1(t *testing.T, backends []*soTier2) *soTier1 {
	t.Helper()
	n := &soTier1{grpcPort: harness.FreePort(t), telemetryPort: harness.FreePort(t)}
	health := harness.FreePort(t)
	dir := t.TempDir()
	var hosts strings.Builder
	for _, b := range backends {
		fmt.Fprintf(&hosts, "          - %s\n", b.endpoint())
	}
	override := "exporters:\n  load_balancing:\n    resolver:\n      static:\n        hostnames:\n" + hosts.String()
	path := filepath.Join(dir, "override.yaml")
	if err := os.WriteFile(path, []byte(override), 0o600); err != nil {
		t.Fatal(err)
	}
	example := filepath.Join(harness.RepoRoot(t), "examples", "gateway-tier1", "config.yaml")
	n.proc = harness.Start(t, "tier1", dir, soListenEnv(n.grpcPort, harness.FreePort(t), health, n.telemetryPort),
		harness.CollectorBinary(t), "--config="+example, "--config="+path)
	harness.WaitHTTP(t, n.proc, fmt.Sprintf("http://127.0.0.1:%d/", health), 30*time.Second)
	return n
}

func (n *soTier1) endpoint() string { return fmt.Sprintf("127.0.0.1:%d", n.grpcPort) }

// soListenEnv sets the examples' listen addresses to loopback ports.
func soListenEnv(grpcPort, httpPort, healthPort, telemetryPort int) []string {
	return []string{
		fmt.Sprintf("OTLP_GRPC_ENDPOINT=127.0.0.1:%d", grpcPort),
		fmt.Sprintf("OTLP_HTTP_ENDPOINT=127.0.0.1:%d", httpPort),
		fmt.Sprintf("HEALTH_CHECK_ENDPOINT=127.0.0.1:%d", healthPort),
		"TELEMETRY_HOST=127.0.0.1",
		fmt.Sprintf("TELEMETRY_PORT=%d", telemetryPort),
		// Tier 2's example exporter is replaced by files; this only keeps its
		// (unused) definition valid.
		"BACKEND_OTLP_ENDPOINT=127.0.0.1:1",
	}
}

// soScrape returns the samples of the collector's own metrics whose names
// start with one of prefixes, keyed by the full series (name and labels).
func soScrape(url string, prefixes ...string) map[string]float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		for _, p := range prefixes {
			if strings.HasPrefix(line, p) {
				i := strings.LastIndexByte(line, ' ')
				var v float64
				if _, err := fmt.Sscan(line[i+1:], &v); err == nil {
					out[soTrimSeries(line[:i])] = v
				}
			}
		}
	}
	return out
}

// soTrimSeries drops the labels every collector metric carries, keeping the
// ones that say something (reason, kind, join, outcome, endpoint, success).
func soTrimSeries(series string) string {
	open := strings.IndexByte(series, '{')
	if open < 0 {
		return series
	}
	name, labels := series[:open], strings.TrimSuffix(series[open+1:], "}")
	var keep []string
	for _, l := range strings.Split(labels, ",") {
		k, _, _ := strings.Cut(l, "=")
		switch k {
		case "reason", "kind", "join", "outcome", "endpoint", "success", "exporter":
			keep = append(keep, l)
		}
	}
	if len(keep) == 0 {
		return name
	}
	return name + "{" + strings.Join(keep, ",") + "}"
}

func soLogTelemetry(t *testing.T, what string, samples map[string]float64) {
	t.Helper()
	keys := make([]string, 0, len(samples))
	for k := range samples {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %s %g", k, samples[k])
	}
	t.Logf("%s internal telemetry:%s", what, b.String())
}

// soOutput is what the tier-2 instances wrote.
type soOutput struct {
	spans  []soOutSpan
	points []soOutPoint
}

type soOutSpan struct {
	instance    string
	incarnation int
	service     string
	spanID      [8]byte
	duplicate   string
}

type soOutPoint struct {
	instance    string
	incarnation int
	key         soPointKey
	start       uint64
	counts      []uint64
	exemplars   []soOutExemplar
}

type soOutExemplar struct {
	traceID [16]byte
	spanID  [8]byte
	value   float64
	time    uint64
}

// readSOOutput parses every complete line of the instances' output files.
func readSOOutput(t *testing.T, nodes []*soTier2) *soOutput {
	t.Helper()
	out := &soOutput{}
	for _, n := range nodes {
		for inc := 1; inc <= n.incarnation; inc++ {
			out.readTraces(t, n, inc)
			for _, line := range soLines(t, filepath.Join(n.dir, fmt.Sprintf("metrics-%d.json", inc))) {
				md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(line)
				if err != nil {
					t.Fatalf("%s metrics output: %v", n.name, err)
				}
				out.addMetrics(t, n.name, inc, md)
			}
		}
	}
	return out
}

// readTraces adds the spans of every complete line of n's traces output
// of incarnation inc.
func (o *soOutput) readTraces(t *testing.T, n *soTier2, inc int) {
	t.Helper()
	for _, line := range soLines(t, filepath.Join(n.dir, fmt.Sprintf("traces-%d.json", inc))) {
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(line)
		if err != nil {
			t.Fatalf("%s traces output: %v", n.name, err)
		}
		o.addTraces(n.name, inc, td)
	}
}

// soLines returns the complete (newline-terminated) lines of a file that may
// still be written to.
func soLines(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i+1]
	} else {
		return nil
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			lines = append(lines, append([]byte(nil), sc.Bytes()...))
		}
	}
	return lines
}

func (o *soOutput) addTraces(instance string, inc int, td ptrace.Traces) {
	for _, rs := range td.ResourceSpans().All() {
		svc, _ := rs.Resource().Attributes().Get("service.name")
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				dup := ""
				if v, ok := s.Attributes().Get(soDuplicateAt); ok {
					dup = v.AsString()
				}
				o.spans = append(o.spans, soOutSpan{instance: instance, incarnation: inc, service: svc.Str(), spanID: s.SpanID(), duplicate: dup})
			}
		}
	}
}

func (o *soOutput) addMetrics(t *testing.T, instance string, inc int, md pmetric.Metrics) {
	for _, rm := range md.ResourceMetrics().All() {
		svc, _ := rm.Resource().Attributes().Get("service.name")
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Name() != soMetricName || m.Type() != pmetric.MetricTypeHistogram {
					t.Errorf("%s: unexpected metric %q (%s)", instance, m.Name(), m.Type())
					continue
				}
				for _, dp := range m.Histogram().DataPoints().All() {
					p := soOutPoint{
						instance:    instance,
						incarnation: inc,
						key:         soPointKey{service: svc.Str(), endpoint: soEndpointOf(dp.Attributes()), time: uint64(dp.Timestamp())},
						start:       uint64(dp.StartTimestamp()),
						counts:      dp.BucketCounts().AsRaw(),
					}
					for _, ex := range dp.Exemplars().All() {
						p.exemplars = append(p.exemplars, soOutExemplar{traceID: ex.TraceID(), spanID: ex.SpanID(), value: ex.DoubleValue(), time: uint64(ex.Timestamp())})
					}
					o.points = append(o.points, p)
				}
			}
		}
	}
}

// soEndpointOf finds the workload endpoint a point's attributes describe, -1
// when none matches.
func soEndpointOf(attrs pcommon.Map) int {
	method, _ := attrs.Get("http.request.method")
	route, _ := attrs.Get("http.route")
	status, _ := attrs.Get("http.response.status_code")
	for i, ep := range soEndpoints {
		if method.AsString() == ep.method && route.AsString() == ep.route && status.Int() == ep.status {
			return i
		}
	}
	return -1
}

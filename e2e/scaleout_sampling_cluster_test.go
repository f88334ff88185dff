// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/otelcol-exemplar/otelcol-exemplar/e2e/harness"
)

// A loopback deployment of the gateway-with-sampling examples: two
// instances of each tier, every one running its example file unchanged
// under a second --config that only sets loopback addresses (through the
// examples' environment variables), the static resolvers' backend lists,
// a short decision_wait, and, in tier 3, per-instance JSON files instead of
// the OTLP backend.

const (
	ssExampleRoute    = "gateway-sampling-1-route"
	ssExampleSample   = "gateway-sampling-2-sample"
	ssExampleExemplar = "gateway-sampling-3-exemplar"
)

// ssNode is one collector of the deployment.
type ssNode struct {
	name                                  string
	grpcPort, httpPort, health, telemetry int
	dir                                   string
	proc                                  *harness.Process
}

func newSSNode(t *testing.T, name string) *ssNode {
	t.Helper()
	return &ssNode{
		name: name, grpcPort: harness.FreePort(t), httpPort: harness.FreePort(t),
		health: harness.FreePort(t), telemetry: harness.FreePort(t), dir: t.TempDir(),
	}
}

func (n *ssNode) endpoint() string { return fmt.Sprintf("127.0.0.1:%d", n.grpcPort) }

func (n *ssNode) telemetryURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d/metrics", n.telemetry)
}

// start runs the example with override merged over it and env added.
func (n *ssNode) start(t *testing.T, example, override string, env ...string) {
	t.Helper()
	path := filepath.Join(n.dir, "override.yaml")
	if err := os.WriteFile(path, []byte(override), 0o600); err != nil {
		t.Fatal(err)
	}
	env = append(soListenEnv(n.grpcPort, n.httpPort, n.health, n.telemetry), env...)
	n.proc = harness.Start(t, n.name, n.dir, env, harness.CollectorBinary(t),
		"--config="+ssExamplePath(t, example), "--config="+path)
	harness.WaitHTTP(t, n.proc, fmt.Sprintf("http://127.0.0.1:%d/", n.health), 30*time.Second)
}

// asOutput names n as the scale-out harness' reader expects: its files
// traces-1.json and metrics-1.json in n.dir.
func (n *ssNode) asOutput() *soTier2 { return &soTier2{name: n.name, dir: n.dir, incarnation: 1} }

func ssExamplePath(t *testing.T, example string) string {
	return filepath.Join(harness.RepoRoot(t), "examples", example, "config.yaml")
}

// ssFileExporters replaces tier 3's OTLP backend by JSON files.
func ssFileExporters(dir string, pipelineProcessors string) string {
	return fmt.Sprintf(`exporters:
  file/traces:
    path: %[1]s/traces-1.json
    flush_interval: 100ms
  file/metrics:
    path: %[1]s/metrics-1.json
    flush_interval: 100ms
service:
  pipelines:
    traces:
%[2]s      exporters: [file/traces]
    metrics:
      exporters: [file/metrics]
`, dir, pipelineProcessors)
}

func ssHostnames(nodes []*ssNode, indent string) string {
	var b strings.Builder
	for _, n := range nodes {
		fmt.Fprintf(&b, "%s- %s\n", indent, n.endpoint())
	}
	return b.String()
}

// ssTimingEnv shortens decision_wait and the delta hold to the test's pace.
func ssTimingEnv(spec ssSpec) []string {
	return []string{
		"DECISION_WAIT=" + spec.decisionWait.String(),
		"DELTA_HOLD_DELAY=" + spec.holdDelay().String(),
		"DANGLING_GRACE=" + spec.holdDelay().String(),
	}
}

// ssCluster is the three tiers, two instances each.
type ssCluster struct {
	route, sample, exemplar []*ssNode
}

func startSSCluster(t *testing.T, spec ssSpec) *ssCluster {
	t.Helper()
	c := &ssCluster{}
	for i := range 2 {
		c.exemplar = append(c.exemplar, newSSNode(t, fmt.Sprintf("exemplar-%d", i)))
		c.sample = append(c.sample, newSSNode(t, fmt.Sprintf("sampler-%d", i)))
		c.route = append(c.route, newSSNode(t, fmt.Sprintf("route-%d", i)))
	}
	for _, n := range c.exemplar {
		n.start(t, ssExampleExemplar, ssFileExporters(n.dir, ""), ssTimingEnv(spec)...)
	}
	toExemplar := ssHostnames(c.exemplar, "          ")
	for _, n := range c.sample {
		n.start(t, ssExampleSample, "exporters:\n  load_balancing:\n    resolver:\n      static:\n        hostnames:\n"+toExemplar, ssTimingEnv(spec)...)
	}
	for _, n := range c.route {
		override := "exporters:\n  load_balancing/traces:\n    resolver:\n      static:\n        hostnames:\n" + ssHostnames(c.sample, "          ") +
			"  load_balancing/metrics:\n    resolver:\n      static:\n        hostnames:\n" + toExemplar
		n.start(t, ssExampleRoute, override, ssTimingEnv(spec)...)
	}
	return c
}

func (c *ssCluster) stop() {
	for _, tier := range [][]*ssNode{c.route, c.sample, c.exemplar} {
		for _, n := range tier {
			n.proc.Stop()
		}
	}
}

// startSSSingle runs tier 3's example with the sampler of tier 2's example
// in front of its exemplar processor: the same workload on one collector.
func startSSSingle(t *testing.T, spec ssSpec) *ssNode {
	t.Helper()
	n := newSSNode(t, "single")
	sampler := ssTailSamplingConfig(t)
	override := "processors:\n  tail_sampling:\n" + sampler +
		ssFileExporters(n.dir, "      processors: [memory_limiter, tail_sampling, exemplar, batch]\n")
	n.start(t, ssExampleExemplar, override, ssTimingEnv(spec)...)
	return n
}

// ssTailSamplingConfig returns the tail_sampling settings of tier 2's
// example, indented under "processors: tail_sampling:".
func ssTailSamplingConfig(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(ssExamplePath(t, ssExampleSample))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Processors map[string]any `yaml:"processors"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(doc.Processors["tail_sampling"])
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-exemplar/otelcol-exemplar/bench/loadgen"
)

func testOptions(rounds int) *options {
	pol := gcPolicies("2GiB")
	return &options{rounds: rounds, configs: pipelines, gcs: []gcPolicy{pol["off"], pol["default"]}, exporter: "debug"}
}

// TestScheduleBalancesOrder checks that over as many rounds as there are
// configurations each configuration runs once in every position under every
// GC policy, so machine drift favours none.
func TestScheduleBalancesOrder(t *testing.T) {
	o := testOptions(3)
	specs := o.schedule()
	require.Len(t, specs, 3*2*3)
	positions := map[string]map[int]int{} // gc+pipeline -> position within its GC block -> count
	for i, s := range specs {
		k := s.gc.name + "|" + s.pipeline.name
		if positions[k] == nil {
			positions[k] = map[int]int{}
		}
		positions[k][i%3]++
	}
	for k, pos := range positions {
		assert.Equal(t, map[int]int{0: 1, 1: 1, 2: 1}, pos, k)
	}
	assert.NotEqual(t, specs[0].gc.name, specs[6].gc.name, "GC policies alternate which goes first")
}

// TestRatiosAreAgainstTheSameRoundsBaseline checks the table: a
// configuration's CPU per span is divided by the baseline's of its own
// round, so a slow round slows both.
func TestRatiosAreAgainstTheSameRoundsBaseline(t *testing.T) {
	o := testOptions(2)
	o.gcs = o.gcs[:1]
	o.configs = pipelines[:2]
	gc := o.gcs[0].name
	run := func(p string, round int, cpu float64) result {
		return result{pipeline: p, gc: gc, round: round, sent: loadgen.Totals{Spans: 1_000_000}, cpu: cpu}
	}
	results := []result{
		run("baseline", 1, 4), run("exemplar", 1, 5), // 1.25x
		run("baseline", 2, 8), run("exemplar", 2, 9), // 1.125x: a slow round
	}
	md := o.report(results, runInfo{})
	assert.Contains(t, md, "| 1.188x (1.125x–1.250x) |", "median and range of per-round ratios")
	assert.Contains(t, md, "| 188k (125k–250k) |", "spans per CPU-second of the baseline")
}

func TestConfigsWirePipelines(t *testing.T) {
	s := settings{port: 4317, telemetryPort: 8888, maxSpans: 1000, exporter: "proto"}
	ex := pipelines[1].config(s)
	assert.Contains(t, ex, "processors: [memory_limiter, exemplar, batch]")
	assert.Contains(t, ex, "max_spans: 1000")
	assert.Contains(t, ex, "format: proto")
	sm := pipelines[2].config(s)
	assert.Contains(t, sm, "exporters: [file, span_metrics]")
	assert.Contains(t, sm, "receivers: [otlp, span_metrics]")
	assert.NotContains(t, sm, "processors: [memory_limiter, exemplar")
}

func TestScrapeSumsEverySeries(t *testing.T) {
	page := `# HELP otelcol_processor_exemplar_exemplars_attached_total x
# TYPE otelcol_processor_exemplar_exemplars_attached_total counter
otelcol_processor_exemplar_exemplars_attached_total{join="match",otel_scope_name="x y"} 40
otelcol_processor_exemplar_exemplars_attached_total{join="exact"} 2
otelcol_processor_exemplar_exemplars_attached_other 1000
otelcol_processor_exemplar_buckets_unfilled_total 5
`
	assert.InDelta(t, 42.0, sumSamples(strings.NewReader(page), "otelcol_processor_exemplar_exemplars_attached"), 0)
	assert.InDelta(t, 5.0, sumSamples(strings.NewReader(page), "otelcol_processor_exemplar_buckets_unfilled"), 0)
}

// TestProfileAttribution checks how samples are split: GC work done inside
// the processor counts as GC, the processor's own allocation as the
// processor's, and the time per span divides by the spans sent.
func TestProfileAttribution(t *testing.T) {
	script := `   1000000 
	         1f58a21 github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex.(*Index).find+0x21
	         1f583f8 github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor.(*tracesProcessor).process+0x18
	         9f711c google.golang.org/grpc.(*Server).processUnaryRPC+0x1c

   1000000 
	           39968 runtime.gcAssistAlloc+0x8
	           880ec runtime.mallocgc+0x2c
	         1f583f8 github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor.(*tracesProcessor).process+0x18

   2000000 
	           880ec runtime.mallocgc+0x2c
	         1f583f8 github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor.(*tracesProcessor).process+0x18

   1000000 
	          442388 go.opentelemetry.io/collector/pdata/internal.(*Span).UnmarshalProto+0x88
	          9f711c google.golang.org/grpc.(*Server).processUnaryRPC+0x1c
`
	p := foldSamples(strings.NewReader(script), 1000)
	assert.InDelta(t, 5e6, p.totalNs, 0)
	assert.InDelta(t, 1e6, p.category["Go GC (mark, sweep, assists, write barriers)"], 0)
	assert.InDelta(t, 3e6, p.category["exemplar: traces path"], 0)
	assert.InDelta(t, 1e6, p.category["receiver: protobuf unmarshal"], 0)
	assert.InDelta(t, 1e6, p.self["github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex.(*Index).find"], 0)
	assert.InDelta(t, 4000.0, p.perSpan(p.incl["github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor.(*tracesProcessor).process"]), 0)
	// Allocation time goes to the allocating part, its GC assist included.
	assert.InDelta(t, 3e6, p.alloc["exemplar: traces path"], 0)
	assert.InDelta(t, 3000.0, p.perSpan(allocNs(p, "total")), 0)
}

func TestGCTraceSumsCyclesAndCPU(t *testing.T) {
	var st gcStats
	for _, line := range []string{
		"gc 7 @2.1s 3%: 0.02+12+0.01 ms clock, 0.05+1.2/6.1/0.4+0.03 ms cpu, 1900->1910->96 MB, 2048 MB goal, 0 MB stacks, 0 MB globals, 2 P",
		`2026-12-01T22:00:00Z	warn	something else`,
		"gc 8 @4.0s 3%: 0.02+12+0.01 ms clock, 1+2/3/4+5 ms cpu, 1900->1910->97 MB, 2048 MB goal, 0 MB stacks, 0 MB globals, 2 P",
	} {
		st.add(line)
	}
	assert.Equal(t, 2, st.cycles)
	assert.InDelta(t, 97.0, st.liveMB, 0)
}

func TestShortNames(t *testing.T) {
	for in, want := range map[string]string{
		"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex.(*Index).find": "spanindex.(*Index).find",
		"go.opentelemetry.io/collector/pdata/pcommon.Map.Get":                                             "pcommon.Map.Get",
		"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor.enrichPoints[go.shape.struct { go.opentelemetry.io/collector/pdata/pmetric.orig *go.opentelemetry.io/collector/pdata/internal.HistogramDataPoint }]": "exemplarprocessor.enrichPoints[...]",
		"runtime.mallocgc":          "runtime.mallocgc",
		"finish_task_switch.isra.0": "finish_task_switch.isra.0",
	} {
		assert.Equal(t, want, shortName(in))
	}
}

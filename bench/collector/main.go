// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Command collector measures what the built collector spends per span, in
// one run and on the same traffic, for a baseline configuration
// (memory_limiter, batch), the exemplar processor in both pipelines, and
// contrib's span_metrics connector with exemplars, each under GOGC=off with
// a memory limit and under the default GC. It reports spans per collector
// CPU-second (utime+stime from /proc) and the CPU per span of each
// configuration relative to the baseline measured in the same round.
//
// Rounds alternate the order of configurations and GC policies so that drift
// on a shared machine does not favour one of them; the spread over rounds is
// reported with the medians. `make bench-collector` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/otelcol-exemplar/otelcol-exemplar/bench/traffic"
)

type options struct {
	collector string
	rounds    int
	warmup    uint64
	spans     uint64
	maxSpans  int
	senders   int
	exporter  string
	memLimit  string
	configs   []pipeline
	gcs       []gcPolicy
	traffic   traffic.Config
	out       string
	profile   string
	// profileSpans are measured per profiled run: more samples than a
	// measured run needs.
	profileSpans uint64
}

func main() {
	o, err := parseFlags()
	if err == nil {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		err = o.run(ctx)
		stop()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-collector:", err)
		os.Exit(1)
	}
}

func parseFlags() (*options, error) {
	o := &options{traffic: traffic.DefaultConfig()}
	flag.StringVar(&o.collector, "collector", "_build/otelcol-exemplar", "collector binary")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds; each measures every configuration under every GC policy once")
	flag.Uint64Var(&o.warmup, "warmup", 1_200_000, "spans sent before measuring (fills the exemplar index)")
	flag.Uint64Var(&o.spans, "spans", 1_500_000, "spans sent while measuring")
	flag.IntVar(&o.maxSpans, "max-spans", 1_000_000, "exemplar index.max_spans")
	flag.IntVar(&o.senders, "senders", 4, "exports in flight at most")
	flag.StringVar(&o.exporter, "exporter", "debug", "exporter of every configuration: debug (basic verbosity) or proto (file exporter, proto, /dev/null)")
	flag.StringVar(&o.memLimit, "memlimit", "2GiB", "GOMEMLIMIT of the GOGC=off runs")
	configs := flag.String("configs", "baseline,exemplar,span_metrics", "configurations to measure; the first is the baseline of the ratios")
	gcs := flag.String("gc", "off,default", "GC policies: off (GOGC=off with -memlimit), default")
	flag.IntVar(&o.traffic.Services, "services", o.traffic.Services, "services in the traffic")
	flag.Float64Var(&o.traffic.Rate, "rate", o.traffic.Rate, "nominal spans per second of the traffic: each service exports metrics once per interval*rate spans")
	flag.StringVar(&o.out, "out", "", "also write the results as Markdown to this file")
	flag.StringVar(&o.profile, "profile", "", "after the rounds, profile one run per configuration and GC policy with perf, and write the comparison to this Markdown file")
	flag.Uint64Var(&o.profileSpans, "profile-spans", 3_000_000, "spans measured per profiled run")
	flag.Parse()
	if _, ok := exporters[o.exporter]; !ok {
		return nil, fmt.Errorf("-exporter %q: want debug or proto", o.exporter)
	}
	for _, name := range strings.Split(*configs, ",") {
		p, err := pipelineNamed(strings.TrimSpace(name))
		if err != nil {
			return nil, err
		}
		o.configs = append(o.configs, p)
	}
	policies := gcPolicies(o.memLimit)
	for _, name := range strings.Split(*gcs, ",") {
		p, ok := policies[strings.TrimSpace(name)]
		if !ok {
			return nil, fmt.Errorf("-gc %q: want off or default", name)
		}
		o.gcs = append(o.gcs, p)
	}
	return o, nil
}

func (o *options) run(ctx context.Context) error {
	if _, err := os.Stat(o.collector); err != nil {
		return fmt.Errorf("collector binary (run `make build`): %w", err)
	}
	// Collectors run in their own directories.
	abs, err := filepath.Abs(o.collector)
	if err != nil {
		return fmt.Errorf("collector binary: %w", err)
	}
	o.collector = abs
	started, load0 := time.Now(), loadAverage()
	fmt.Printf("bench-collector: %d rounds x %d GC policies x %d configurations; %d warm-up + %d measured spans per run; load %s\n",
		o.rounds, len(o.gcs), len(o.configs), o.warmup, o.spans, load0)
	var results []result
	for _, spec := range o.schedule() {
		r, err := o.runOne(ctx, spec)
		if err != nil {
			return fmt.Errorf("%s, %s, round %d: %w", spec.pipeline.name, spec.gc.name, spec.round, err)
		}
		fmt.Printf("  round %d  %-32s %-13s %8.0f spans/CPU-s  %5.2f CPU-s  %5.2f s wall  %3d GCs (%3.0f MB live)  %5.0f MiB peak  load %s%s\n",
			r.round, r.gc, r.pipeline, r.spansPerCPUSecond(), r.cpu, r.wall, r.gcs.cycles, r.gcs.liveMB, r.rssMiB, r.load, attachedNote(r))
		results = append(results, r)
	}
	if len(results) == 0 { // -rounds 0: profiles only
		return o.profileAll(ctx)
	}
	rep := o.report(results, runInfo{started: started, loadBefore: load0, loadAfter: loadAverage()})
	fmt.Print(rep)
	if o.out != "" {
		if err := writeFile(o.out, rep); err != nil {
			return err
		}
	}
	return o.profileAll(ctx)
}

// writeFile writes a report, creating its directory.
func writeFile(path, body string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func attachedNote(r result) string {
	if r.attached+r.unfilled == 0 {
		return ""
	}
	return fmt.Sprintf("  (exemplars attached %.0f, %.0f%% of grown buckets)", r.attached, 100*r.attached/(r.attached+r.unfilled))
}

// schedule lists the runs: every round measures every configuration under
// every GC policy, the order rotated from round to round (a Latin square
// over configurations, GC policies alternating) so that no configuration
// always runs first, last or next to the same neighbour.
func (o *options) schedule() []runSpec {
	var specs []runSpec
	for round := range o.rounds {
		for g := range o.gcs {
			gc := o.gcs[(g+round)%len(o.gcs)]
			for c := range o.configs {
				specs = append(specs, runSpec{pipeline: o.configs[(c+round)%len(o.configs)], gc: gc, round: round + 1})
			}
		}
	}
	return specs
}

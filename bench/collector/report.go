// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// runInfo is what the report says about when and where it was measured.
type runInfo struct {
	started               time.Time
	loadBefore, loadAfter string
}

// report renders the results as Markdown: one table with, per GC policy and
// configuration, the median and range over rounds of spans per CPU-second
// and of the CPU per span relative to the baseline of the same round.
func (o *options) report(results []result, info runInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Collector CPU per span\n\n")
	fmt.Fprintf(&b, "Measured %s on %s (%d CPUs), load average %s before and %s after, %s in all.\n",
		info.started.UTC().Format("2006-01-02 15:04 MST"), cpuModel(), runtime.NumCPU(), info.loadBefore, info.loadAfter, time.Since(info.started).Round(time.Second))
	fmt.Fprintf(&b, "Traffic: %d services, %d spans per trace export, metrics of every stream every %s at a nominal %.0f spans/s; "+
		"%d spans warm-up, then %d spans measured per run; %d exports in flight; exporter `%s`; exemplar index.max_spans %d. "+
		"Median and range of %d rounds.\n\n",
		o.traffic.Services, o.traffic.SpansPerRequest, o.traffic.Interval, o.traffic.Rate, o.warmup, o.spans, o.senders, o.exporter, o.maxSpans, o.rounds)
	base := o.configs[0].name
	fmt.Fprintf(&b, "| GC policy | configuration | spans per CPU-second | µs CPU per span | CPU per span vs %s | peak RSS MiB |\n", base)
	fmt.Fprintf(&b, "|---|---|---|---|---|---|\n")
	for _, gc := range o.gcs {
		for _, p := range o.configs {
			rs := pick(results, gc.name, p.name)
			if len(rs) == 0 {
				continue
			}
			var rate, cost, ratio, rss []float64
			for _, r := range rs {
				rate = append(rate, r.spansPerCPUSecond())
				cost = append(cost, 1e6/r.spansPerCPUSecond())
				rss = append(rss, r.rssMiB)
				if bs := pickRound(results, gc.name, base, r.round); bs != nil {
					ratio = append(ratio, bs.spansPerCPUSecond()/r.spansPerCPUSecond())
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.0f |\n", gc.name, p.what,
				spread(rate, "%.0fk", 1e-3), spread(cost, "%.2f", 1), spread(ratio, "%.3fx", 1), median(rss))
		}
	}
	return b.String()
}

func pick(results []result, gc, pipeline string) []result {
	var out []result
	for _, r := range results {
		if r.gc == gc && r.pipeline == pipeline {
			out = append(out, r)
		}
	}
	return out
}

func pickRound(results []result, gc, pipeline string, round int) *result {
	for i, r := range results {
		if r.gc == gc && r.pipeline == pipeline && r.round == round {
			return &results[i]
		}
	}
	return nil
}

// spread formats the median and, with more than one value, the range.
func spread(xs []float64, format string, scale float64) string {
	if len(xs) == 0 {
		return "–"
	}
	m := fmt.Sprintf(format, median(xs)*scale)
	if len(xs) == 1 {
		return m
	}
	return fmt.Sprintf("%s (%s–%s)", m, fmt.Sprintf(format, slices.Min(xs)*scale), fmt.Sprintf(format, slices.Max(xs)*scale))
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if name, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
		}
	}
	return runtime.GOARCH
}

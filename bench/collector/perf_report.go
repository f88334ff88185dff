// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// category assigns a sample to one part of the collector. The first rule
// that matches any frame of the stack wins, so GC work done inside a
// component (assists, write barriers) counts as GC, and a component's own
// allocations count as the component's.
type category struct {
	name    string
	matches []string // substrings of a frame's symbol
}

var categories = []category{
	{"Go GC (mark, sweep, assists, write barriers)", []string{"runtime.gc", "runtime.bgsweep", "runtime.bgscavenge", "runtime.sweepone", "runtime.deductSweepCredit", "runtime.markroot", "runtime.wbBufFlush", "runtime.scanobject", "runtime.scanObject"}},
	{"exemplar: traces path", []string{"exemplarprocessor.(*tracesProcessor)"}},
	{"exemplar: metrics path", []string{"exemplarprocessor.(*metricsProcessor)"}},
	{"exemplar: other", []string{"otelcol-exemplar/exemplarprocessor"}},
	{"span_metrics connector", []string{"spanmetricsconnector"}},
	{"receiver: protobuf unmarshal", []string{"UnmarshalProto", "codecV2).Unmarshal"}},
	{"exporter", []string{"debugexporter", "fileexporter", "exporterhelper"}},
	{"batch processor", []string{"batchprocessor"}},
	{"memory_limiter", []string{"memorylimiter"}},
	{"collector telemetry (OTel SDK)", []string{"go.opentelemetry.io/otel/sdk", "obsreport", "processorhelper.(*obs"}},
	{"gRPC, HTTP/2, network", []string{"google.golang.org/grpc", "golang.org/x/net/http2", "internal/poll", "syscall.", "net.(*conn)"}},
	{"Go runtime (scheduler, allocation, other)", []string{"runtime."}},
}

const otherCategory = "other"

func categorize(frames []string) string {
	for _, c := range categories {
		for _, f := range frames {
			for _, m := range c.matches {
				if strings.Contains(f, m) {
					return c.name
				}
			}
		}
	}
	return otherCategory
}

// profileReport compares each configuration's profile with the first
// configuration's (the baseline), per span.
func (o *options) profileReport(profiles map[string]map[string]*profile, info runInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Where the collector's CPU goes\n\n")
	fmt.Fprintf(&b, "Profiled %s on %s with `perf record -e cpu-clock -F %d -g` over the measured phase of one run per configuration "+
		"(%d spans, same traffic as the CPU table), load average %s before and %s after, %s in all. "+
		"ns per span = sampled CPU time / spans sent. Inlined functions count as their callers.\n",
		info.started.UTC().Format("2006-01-02 15:04 MST"), cpuModel(), perfRate, o.spans, info.loadBefore, info.loadAfter, time.Since(info.started).Round(time.Second))
	base := o.configs[0].name
	for _, gc := range o.gcs {
		ps := profiles[gc.name]
		bp := ps[base]
		if bp == nil {
			continue
		}
		fmt.Fprintf(&b, "\n### %s: CPU per span by part of the collector (ns)\n\n", gc.name)
		o.categoryTable(&b, ps)
		for _, p := range o.configs[1:] {
			if ps[p.name] == nil {
				continue
			}
			fmt.Fprintf(&b, "\n#### %s: functions with the most extra self time over %s\n\n", p.name, base)
			diffTable(&b, bp.self, ps[p.name], bp, 20)
		}
		if ep := ps["exemplar"]; ep != nil {
			fmt.Fprintf(&b, "\n#### exemplar: the processor's functions, time including callees\n\n")
			inclusiveTable(&b, ep, "otelcol-exemplar/exemplarprocessor", 25)
		}
	}
	return b.String()
}

func (o *options) categoryTable(b *strings.Builder, ps map[string]*profile) {
	base := ps[o.configs[0].name]
	fmt.Fprintf(b, "| part |")
	for i, p := range o.configs {
		fmt.Fprintf(b, " %s |", p.name)
		if i > 0 {
			fmt.Fprintf(b, " extra |")
		}
	}
	fmt.Fprintf(b, "\n|---|%s\n", strings.Repeat("---:|", 2*len(o.configs)-1))
	names := make([]string, 0, len(categories)+2)
	for _, c := range categories {
		names = append(names, c.name)
	}
	names = append(names, otherCategory, "total")
	for _, name := range names {
		fmt.Fprintf(b, "| %s |", name)
		baseNs := categoryNs(base, name)
		for i, p := range o.configs {
			pr := ps[p.name]
			if pr == nil {
				fmt.Fprintf(b, " – |")
				continue
			}
			ns := categoryNs(pr, name)
			fmt.Fprintf(b, " %.0f |", pr.perSpan(ns))
			if i > 0 {
				fmt.Fprintf(b, " %+.0f |", pr.perSpan(ns)-base.perSpan(baseNs))
			}
		}
		fmt.Fprintf(b, "\n")
	}
}

func categoryNs(p *profile, name string) float64 {
	if name == "total" {
		return p.totalNs
	}
	return p.category[name]
}

// diffTable lists the leaf functions whose self time per span grew most
// from the baseline to p, with their share of p's extra time.
func diffTable(b *strings.Builder, baseSelf map[string]float64, p, base *profile, n int) {
	type row struct {
		fn          string
		before, now float64
	}
	var rows []row
	for fn, ns := range p.self {
		rows = append(rows, row{fn, base.perSpan(baseSelf[fn]), p.perSpan(ns)})
	}
	for fn, ns := range baseSelf {
		if _, ok := p.self[fn]; !ok {
			rows = append(rows, row{fn, base.perSpan(ns), 0})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].now-rows[i].before > rows[j].now-rows[j].before })
	extra := p.perSpan(p.totalNs) - base.perSpan(base.totalNs)
	fmt.Fprintf(b, "Extra CPU per span in all: %.0f ns.\n\n", extra)
	fmt.Fprintf(b, "| function | baseline ns/span | ns/span | extra ns/span | share of extra |\n|---|---:|---:|---:|---:|\n")
	for _, r := range rows[:min(n, len(rows))] {
		fmt.Fprintf(b, "| `%s` | %.1f | %.1f | %+.1f | %.0f%% |\n", shortName(r.fn), r.before, r.now, r.now-r.before, 100*(r.now-r.before)/extra)
	}
}

// inclusiveTable lists the functions of one package by time spent in them
// and their callees.
func inclusiveTable(b *strings.Builder, p *profile, pkg string, n int) {
	type row struct {
		fn string
		ns float64
	}
	var rows []row
	for fn, ns := range p.incl {
		if strings.Contains(fn, pkg) || strings.Contains(fn, "exemplarprocessor/internal") {
			rows = append(rows, row{fn, ns})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ns > rows[j].ns })
	fmt.Fprintf(b, "| function | ns/span (incl. callees) | self ns/span |\n|---|---:|---:|\n")
	for _, r := range rows[:min(n, len(rows))] {
		fmt.Fprintf(b, "| `%s` | %.1f | %.1f |\n", shortName(r.fn), p.perSpan(r.ns), p.perSpan(p.self[r.fn]))
	}
}

// shortName drops the module paths of a symbol, keeping the package.
func shortName(fn string) string {
	for _, prefix := range []string{"github.com/otelcol-exemplar/otelcol-exemplar/", "go.opentelemetry.io/collector/", "github.com/open-telemetry/opentelemetry-collector-contrib/", "google.golang.org/"} {
		fn = strings.TrimPrefix(fn, prefix)
	}
	if i := strings.LastIndex(fn, "/"); i >= 0 && !strings.Contains(fn[:i], "(") {
		fn = fn[i+1:]
	}
	return fn
}

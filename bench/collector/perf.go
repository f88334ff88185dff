// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// perfRate is the sampling frequency (Hz) of the profiles: about 20k samples
// per run, each worth ~1 ms of CPU, well under a nanosecond per span.
const perfRate = 999

// profile is what perf saw of the collector over one measured phase.
type profile struct {
	spans    uint64
	totalNs  float64
	category map[string]float64 // ns by category (disjoint)
	// alloc is the time spent allocating (runtime.mallocgc and what it
	// calls, GC assists included) by the component that allocated.
	alloc map[string]float64
	self  map[string]float64 // ns by leaf function
	incl  map[string]float64 // ns by function anywhere on the stack, once per sample
}

func (p *profile) perSpan(ns float64) float64 { return ns / float64(p.spans) }

// symbolsBinary builds the collector ocb generated once more, keeping the
// symbol table ocb strips (-s -w): perf needs it to name functions. The
// code is the same.
func symbolsBinary(stripped string) (string, error) {
	dir := filepath.Dir(stripped)
	out := filepath.Join(dir, filepath.Base(stripped)+"-symbols")
	if fi, err := os.Stat(out); err == nil {
		if si, err := os.Stat(stripped); err == nil && fi.ModTime().After(si.ModTime()) {
			return out, nil
		}
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".") //nolint:gosec // the go tool on a path this program chose
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s from %s: %w\n%s", out, dir, err, b)
	}
	return out, nil
}

// profileAll measures one run per GC policy and configuration under perf
// and writes the comparison to o.profile.
func (o *options) profileAll(ctx context.Context) error {
	if o.profile == "" {
		return nil
	}
	if _, err := exec.LookPath("perf"); err != nil {
		return fmt.Errorf("perf not found (Debian: apt-get install linux-perf): %w", err)
	}
	bin, err := symbolsBinary(o.collector)
	if err != nil {
		return err
	}
	po := *o
	po.collector, po.spans = bin, o.profileSpans
	tmp, err := os.MkdirTemp("", "bench-collector-perf-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	started, load0 := time.Now(), loadAverage()
	profiles := map[string]map[string]*profile{} // gc -> pipeline -> profile
	for _, gc := range o.gcs {
		profiles[gc.name] = map[string]*profile{}
		for _, p := range o.configs {
			data := filepath.Join(tmp, fmt.Sprintf("%s-%d.data", p.name, len(profiles)))
			spec := runSpec{pipeline: p, gc: gc, round: 1, hook: perfHook(data)}
			r, err := po.runOne(ctx, spec)
			if err != nil {
				return fmt.Errorf("profile %s, %s: %w", p.name, gc.name, err)
			}
			prof, err := readProfile(data, r.sent.Spans)
			if err != nil {
				return err
			}
			fmt.Printf("  profiled %-32s %-13s %d samples, %.2f µs per span\n", gc.name, p.name, int(prof.totalNs/1e6), prof.perSpan(prof.totalNs)/1e3)
			profiles[gc.name][p.name] = prof
		}
	}
	md := o.profileReport(profiles, runInfo{started: started, loadBefore: load0, loadAfter: loadAverage()})
	fmt.Print(md)
	return writeFile(o.profile, md)
}

// perfHook starts perf record on the collector for the measured phase.
func perfHook(data string) func(pid int) (func() error, error) {
	return func(pid int) (func() error, error) {
		cmd := exec.Command("perf", "record", "-e", "cpu-clock", "-F", strconv.Itoa(perfRate), "-g", "-q", "-p", strconv.Itoa(pid), "-o", data) //nolint:gosec // fixed tool, arguments built here
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("perf record: %w", err)
		}
		time.Sleep(300 * time.Millisecond) // attached before the traffic starts
		return func() error {
			_ = cmd.Process.Signal(syscall.SIGINT)
			// perf reports the interrupt as its exit status; the data
			// file tells whether it recorded.
			err := cmd.Wait()
			if fi, serr := os.Stat(data); serr != nil || fi.Size() == 0 {
				return fmt.Errorf("perf record wrote nothing: %w", errors.Join(err, serr))
			}
			return nil
		}, nil
	}
}

// readProfile runs perf script on data and folds the samples.
func readProfile(data string, spans uint64) (*profile, error) {
	cmd := exec.Command("perf", "script", "-i", data, "-F", "period,ip,sym") //nolint:gosec // fixed tool, arguments built here
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("perf script: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("perf script: %w", err)
	}
	p := foldSamples(out, spans)
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("perf script: %w", err)
	}
	if p.totalNs == 0 {
		return nil, fmt.Errorf("perf recorded no samples in %s", data)
	}
	return p, nil
}

// foldSamples reads perf script output: a line with the sample's period
// (ns), then one tab-indented line per frame, leaf first, then a blank line.
func foldSamples(r io.Reader, spans uint64) *profile {
	p := &profile{spans: spans, category: map[string]float64{}, alloc: map[string]float64{}, self: map[string]float64{}, incl: map[string]float64{}}
	var period float64
	var frames []string
	flush := func() {
		if period > 0 && len(frames) > 0 {
			p.add(period, frames)
		}
		period, frames = 0, frames[:0]
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] == '\t':
			frames = append(frames, frameName(line))
		default:
			flush()
			period, _ = strconv.ParseFloat(strings.TrimSpace(line), 64)
		}
	}
	flush()
	return p
}

// frameName strips the address and offset perf prints around a symbol.
func frameName(line string) string {
	f := strings.Fields(line)
	if len(f) < 2 {
		return "[unknown]"
	}
	name := strings.Join(f[1:], " ")
	if i := strings.LastIndex(name, "+0x"); i > 0 {
		name = name[:i]
	}
	return strings.TrimSuffix(name, " ([unknown])")
}

func (p *profile) add(ns float64, frames []string) {
	p.totalNs += ns
	p.self[frames[0]] += ns
	p.category[categorize(frames)] += ns
	for _, f := range frames {
		if strings.HasPrefix(f, "runtime.mallocgc") {
			p.alloc[categorizeBy(frames, categories[1:])] += ns
			break
		}
	}
	seen := map[string]bool{}
	for _, f := range frames {
		if !seen[f] {
			seen[f] = true
			p.incl[f] += ns
		}
	}
}

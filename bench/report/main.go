// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Command report turns the output of the growth benchmarks
// (exemplarprocessor BenchmarkGrowthIndex and BenchmarkGrowthStreams) into
// Markdown tables and SVG plots: `make bench-growth` runs both.
//
//	go run ./bench/report -in growth.txt -out docs/perf
package main

import (
	"bufio"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

func main() {
	in := flag.String("in", "-", "benchmark output (go test -bench), - for stdin")
	out := flag.String("out", "docs/perf", "directory for growth.md and the SVG plots")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	r := io.Reader(os.Stdin)
	if in != "-" {
		f, err := os.Open(in) //nolint:gosec // the file named on the command line
		if err != nil {
			return fmt.Errorf("open benchmark output: %w", err)
		}
		defer func() { _ = f.Close() }()
		r = f
	}
	res, err := parse(r)
	if err != nil {
		return err
	}
	files, err := res.render()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o750); err != nil {
		return fmt.Errorf("create %s: %w", out, err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(out, name), []byte(body), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

// results holds every reported metric of every benchmark, by name (the
// GOMAXPROCS suffix removed) and unit; a benchmark run with -count n has n
// values per unit.
type results struct {
	metrics map[string]map[string][]float64
	// header lines of the run (goos, cpu, ...) and the load averages seen.
	cpu   string
	loads []string
	date  string
}

func parse(r io.Reader) (*results, error) {
	res := &results{metrics: map[string]map[string][]float64{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "cpu: "):
			res.cpu = strings.TrimPrefix(line, "cpu: ")
		case strings.Contains(line, "load average:"):
			res.loads = append(res.loads, strings.TrimSpace(line[strings.Index(line, "load average:")+len("load average:"):]))
		case strings.HasPrefix(line, "date: "):
			res.date = strings.TrimPrefix(line, "date: ")
		case strings.HasPrefix(line, "Benchmark"):
			res.addLine(line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read benchmark output: %w", err)
	}
	if len(res.metrics) == 0 {
		return nil, errors.New("no benchmark results in the input")
	}
	return res, nil
}

// addLine records "BenchmarkX/a=b-2  N  v unit  v unit ...".
func (res *results) addLine(line string) {
	f := strings.Fields(line)
	if len(f) < 4 {
		return
	}
	name := f[0]
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i]
		}
	}
	if res.metrics[name] == nil {
		res.metrics[name] = map[string][]float64{}
	}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			continue
		}
		res.metrics[name][f[i+1]] = append(res.metrics[name][f[i+1]], v)
	}
}

// get returns the median of a benchmark's metric, NaN when absent.
func (res *results) get(name, unit string) float64 {
	vs := res.metrics[name][unit]
	if len(vs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// sizes returns the parameter values (e.g. spans=10k) of a benchmark
// family, ascending, with their labels.
func (res *results) sizes(family, param string) ([]float64, []string) {
	seen := map[string]bool{}
	var labels []string
	for name := range res.metrics {
		rest, ok := strings.CutPrefix(name, family+"/"+param+"=")
		if !ok {
			continue
		}
		label, _, _ := strings.Cut(rest, "/")
		if !seen[label] {
			seen[label] = true
			labels = append(labels, label)
		}
	}
	slices.SortFunc(labels, func(a, b string) int { return cmp.Compare(parseCount(a), parseCount(b)) })
	xs := make([]float64, len(labels))
	for i, l := range labels {
		xs[i] = float64(parseCount(l))
	}
	return xs, labels
}

// parseCount reads 10k, 4M or 500.
func parseCount(s string) int64 {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1000, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "M"):
		mult, s = 1_000_000, strings.TrimSuffix(s, "M")
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	return n * mult
}

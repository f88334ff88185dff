// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Command timing measures, in recorded SDK captures, how far an HTTP
// instrumentation's duration metric value lies from its own span's
// duration (metric - span, in microseconds): the skew the exemplar
// processor must allow before a span may stand in for a neighbouring
// bucket. Run from the repository root:
//
//	go run ./scripts/captures/timing [-slack 20ms] [capture dir ...]
//
// (default: every testdata/captures/*/). It prints a Markdown table with
// three kinds of rows per capture, and last the exact ones (single and
// exemplar, each request once) of all captures together:
//
//   - single: an interval of a stream (a delta point, or a cumulative point
//     less the previous one) that counted exactly one request, paired with
//     the one span of that service, kind, method, status code (and server
//     port, where both carry one) that ended in the interval (give or take
//     the slack). The interval's sum is that request's metric value: exact.
//   - exemplar: an SDK exemplar that names a span; its value is the metric
//     value of exactly that request: exact.
//   - interval-mean: an interval whose window holds exactly as many such
//     ended spans as it counted: (sum of values - sum of span durations) /
//     count, one sample per interval. Coarse, for captures at full load.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

func main() {
	slack := flag.Duration("slack", 20*time.Millisecond, "how far outside an interval the single request's span may end")
	flag.Parse()
	dirs := flag.Args()
	if len(dirs) == 0 {
		dirs = captureDirs("testdata/captures")
	}
	if len(dirs) == 0 {
		log.Fatal("timing: no capture directories given and none in testdata/captures")
	}
	if err := report(os.Stdout, dirs, *slack); err != nil {
		log.Fatalf("timing: %v", err)
	}
}

// captureDirs lists the directories under root.
func captureDirs(root string) []string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join(root, e.Name()))
		}
	}
	return dirs
}

// report prints the table for every capture directory, and last the exact
// samples of all of them together.
func report(w io.Writer, dirs []string, slack time.Duration) error {
	if _, err := fmt.Fprintln(w, "| capture | method | instrumentation scope, metric | n | min µs | median µs | p99 µs | max µs |"); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(w, "|---|---|---|---:|---:|---:|---:|---:|"); err != nil {
		return err
	}
	pooled := exact{}
	for _, dir := range dirs {
		c, err := readCapture(dir)
		if err != nil {
			return err
		}
		ivs := intervals(c.points)
		ix := newSpanIndex(c.spans)
		single, left := singleRequests(ivs, ix, slack.Nanoseconds())
		byExemplar := exemplarsWithSpans(c.points, ix)
		pooled.merge(single)
		pooled.merge(byExemplar)
		for _, r := range []struct {
			method string
			s      samples
		}{{"single", single.samples()}, {"exemplar", byExemplar.samples()}, {"interval-mean", intervalMeans(ivs, ix)}} {
			if err := printRows(w, c.name, r.method, r.s); err != nil {
				return err
			}
		}
		log.Printf("%s: %d spans, %d points, %d intervals; single-request intervals left out: %d without a span, %d with several, %d contested",
			c.name, len(c.spans), len(c.points), len(ivs), left.noSpan, left.several, left.claimed)
	}
	return printRows(w, "all above", "exact", pooled.samples())
}

func printRows(w io.Writer, capture, method string, s samples) error {
	groups := make([]string, 0, len(s))
	for g := range s {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		st := summarize(s[g])
		_, err := fmt.Fprintf(w, "| %s | %s | %s | %d | %s | %s | %s | %s |\n", capture, method, g, st.n,
			micros(st.min), micros(st.median), micros(st.p99), micros(st.max))
		if err != nil {
			return err
		}
	}
	return nil
}

func micros(v float64) string {
	if math.Abs(v) >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v), "0"), ".")
}

type stats struct {
	n                     int
	min, median, p99, max float64
}

// summarize uses nearest-rank percentiles: every figure is a sample.
func summarize(v []float64) stats {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[max(i, 0)]
	}
	return stats{n: len(s), min: s[0], median: rank(0.5), p99: rank(0.99), max: s[len(s)-1]}
}

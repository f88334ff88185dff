// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-exemplar/otelcol-exemplar/bench/loadgen"
	"github.com/otelcol-exemplar/otelcol-exemplar/bench/traffic"
)

// result is one measured run of one configuration.
type result struct {
	pipeline, gc string
	round        int
	sent         loadgen.Totals
	cpu, wall    float64 // collector CPU-seconds and wall seconds of the measured phase
	rssMiB       float64
	gcs          gcStats // over the measured phase
	// exemplars attached and buckets left unfilled, from the collector's
	// own telemetry (exemplar runs only): proof the processor did its work.
	attached, unfilled float64
	load               string // 1-minute load average when the run ended
}

func (r result) spansPerCPUSecond() float64 { return float64(r.sent.Spans) / r.cpu }

// runSpec is one run to make.
type runSpec struct {
	pipeline pipeline
	gc       gcPolicy
	round    int
	// hook, when set, runs around the measured phase (profiling).
	hook func(pid int) (stop func() error, err error)
}

// runOne starts a collector with the spec's configuration, sends the
// warm-up traffic, then measures the collector's CPU time over the measured
// traffic. Every run sends the same traffic: a new generator with the same
// seed.
func (o *options) runOne(ctx context.Context, spec runSpec) (result, error) {
	dir, err := os.MkdirTemp("", "bench-collector-")
	if err != nil {
		return result{}, fmt.Errorf("temp dir: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	port, err1 := freePort()
	tport, err2 := freePort()
	if err1 != nil || err2 != nil {
		return result{}, fmt.Errorf("ports: %w", errors.Join(err1, err2))
	}
	set := settings{port: port, telemetryPort: tport, maxSpans: o.maxSpans, exporter: o.exporter}
	col, err := startCollector(o.collector, dir, spec.pipeline.config(set), spec.gc.env)
	if err != nil {
		return result{}, err
	}
	defer col.stop()

	gen, err := traffic.New(o.traffic)
	if err != nil {
		return result{}, err
	}
	s, err := loadgen.Dial(fmt.Sprintf("127.0.0.1:%d", port), gen)
	if err != nil {
		return result{}, err
	}
	defer func() { _ = s.Close() }()
	s.Senders = o.senders
	if err := s.WaitReady(ctx, 60*time.Second); err != nil {
		return result{}, fmt.Errorf("%w\ncollector output:\n%s", err, col.logTail())
	}
	if _, err := s.Send(ctx, o.warmup); err != nil {
		return result{}, fmt.Errorf("warm-up: %w\ncollector output:\n%s", err, col.logTail())
	}
	res, err := o.measure(ctx, spec, col, s)
	if err != nil {
		return res, fmt.Errorf("%w\ncollector output:\n%s", err, col.logTail())
	}
	res.attached = scrape(tport, "otelcol_processor_exemplar_exemplars_attached")
	res.unfilled = scrape(tport, "otelcol_processor_exemplar_buckets_unfilled")
	return res, nil
}

// settle is how long the collector gets after the last answer to export
// what its batch processor still holds (timeout 200 ms), so each phase's
// CPU time includes its own exports.
const settle = 400 * time.Millisecond

func (o *options) measure(ctx context.Context, spec runSpec, col *collector, s *loadgen.Sender) (result, error) {
	time.Sleep(settle)
	var stopHook func() error
	if spec.hook != nil {
		var err error
		if stopHook, err = spec.hook(col.pid()); err != nil {
			return result{}, err
		}
	}
	logFrom := logSize(col.log)
	cpu0, err := cpuSeconds(col.pid())
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	sent, err := s.Send(ctx, o.spans)
	if err != nil {
		return result{}, fmt.Errorf("measured phase: %w", err)
	}
	time.Sleep(settle)
	wall := time.Since(start).Seconds()
	cpu1, err := cpuSeconds(col.pid())
	if err != nil {
		return result{}, err
	}
	if stopHook != nil {
		if err := stopHook(); err != nil {
			return result{}, err
		}
	}
	return result{
		pipeline: spec.pipeline.name, gc: spec.gc.name, round: spec.round,
		sent: sent, cpu: cpu1 - cpu0, wall: wall, rssMiB: peakRSS(col.pid()), load: loadAverage(),
		gcs: readGCTrace(col.log, logFrom),
	}, nil
}

// scrape sums every sample of a counter on the collector's own Prometheus
// endpoint; 0 when absent.
func scrape(port int, metric string) float64 {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port)) //nolint:gosec // loopback URL built here
	if err != nil {
		return 0
	}
	defer func() { _ = resp.Body.Close() }()
	return sumSamples(resp.Body, metric)
}

func sumSamples(r io.Reader, metric string) float64 {
	total := 0.0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		name := line[:strings.IndexAny(line+" ", "{ ")]
		if name != metric && name != metric+"_total" {
			continue
		}
		rest := line[len(name):]
		if i := strings.LastIndexByte(rest, '}'); i >= 0 {
			rest = rest[i+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(fields[0], 64); err == nil {
			total += v
		}
	}
	return total
}

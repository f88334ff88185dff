// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build linux

package exemplarprocessor_test

import (
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/otelcol-exemplar/otelcol-exemplar/bench/traffic"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"
)

// BenchmarkTracesProcess is BenchmarkTracesFresh/fleet with the processor's
// share measured on its own: every export is unmarshalled right before it
// is consumed (so its spans are in the cache as a receiver leaves them), and
// only ConsumeTraces is timed, export by export, in the CPU time of its
// thread (the benchmark holds one): time the machine gave to other
// processes does not count, so the figures hold up on a shared machine.
// process-cpu-ns/span is the mean, with the ID table's occasional rebuilds;
// process-median-cpu-ns/span the median export's, without them. The
// benchmark's own ns/op includes building and unmarshalling the traffic.
func BenchmarkTracesProcess(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const indexSize = 1_000_000
	f := newFleetFeed(b, traffic.DefaultConfig())
	p := newBenchPipeline(b, b, func(cfg *exemplarprocessor.Config) { cfg.Index.MaxSpans = indexSize })
	p.fill(b, f, indexSize+indexSize/10, false)
	noGC(b)
	var chunk []wire
	var perSpan []float64
	var total time.Duration
	spans := 0
	for b.Loop() {
		if len(chunk) == 0 {
			chunk = traceChunk(b, f)
			quiesce()
		}
		w := &chunk[0]
		chunk = chunk[1:]
		td := w.traces(b)
		start := threadCPU()
		p.consumeTraces(b, w.at, td)
		took := threadCPU() - start
		total += took
		spans += w.spans
		perSpan = append(perSpan, float64(took.Nanoseconds())/float64(w.spans))
	}
	slices.Sort(perSpan)
	b.ReportMetric(perSpan[len(perSpan)/2], "process-median-cpu-ns/span")
	b.ReportMetric(float64(total.Nanoseconds())/float64(spans), "process-cpu-ns/span")
}

// threadCPU is the CPU time of the calling thread, to the nanosecond
// (CLOCK_THREAD_CPUTIME_ID; getrusage counts in scheduler ticks).
func threadCPU() time.Duration {
	const clockThreadCPUTime = 3
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor_test

import (
	"context"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-exemplar/otelcol-exemplar/bench/traffic"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"
)

// benchPipeline is one exemplar component placed in a traces and a metrics
// pipeline, built through the factory as the collector builds it, with the
// collector's telemetry SDK, on a clock the benchmark moves.
type benchPipeline struct {
	traces  processor.Traces
	metrics processor.Metrics
	tel     *componenttest.Telemetry
	now     atomic.Int64
}

// newBenchPipeline builds the pipeline; owner (b itself, or the parent of
// sub-benchmarks sharing it) shuts it down when done.
func newBenchPipeline(b, owner *testing.B, configure func(*exemplarprocessor.Config)) *benchPipeline {
	b.Helper()
	p := &benchPipeline{tel: componenttest.NewTelemetry()}
	f := exemplarprocessor.NewFactoryWithClock(func() time.Time { return time.Unix(0, p.now.Load()) })
	cfg := f.CreateDefaultConfig().(*exemplarprocessor.Config)
	configure(cfg)
	set := processortest.NewNopSettings(f.Type())
	set.TelemetrySettings = p.tel.NewTelemetrySettings()
	ctx := context.Background()
	var err error
	if p.traces, err = f.CreateTraces(ctx, set, cfg, consumertest.NewNop()); err != nil {
		b.Fatal(err)
	}
	if p.metrics, err = f.CreateMetrics(ctx, set, cfg, consumertest.NewNop()); err != nil {
		b.Fatal(err)
	}
	for _, c := range []component.Component{p.traces, p.metrics} {
		if err := c.Start(ctx, componenttest.NewNopHost()); err != nil {
			b.Fatal(err)
		}
	}
	owner.Cleanup(func() {
		_ = p.traces.Shutdown(ctx)
		_ = p.metrics.Shutdown(ctx)
		_ = p.tel.Shutdown(ctx)
	})
	return p
}

// consumeTraces passes a trace export to the traces pipeline at the time
// it was sent.
func (p *benchPipeline) consumeTraces(b *testing.B, at time.Time, td ptrace.Traces) {
	p.now.Store(at.UnixNano())
	if err := p.traces.ConsumeTraces(context.Background(), td); err != nil {
		b.Fatal(err)
	}
}

// consumeMetrics passes a metric export to the metrics pipeline at the time
// it was sent.
func (p *benchPipeline) consumeMetrics(b *testing.B, at time.Time, md pmetric.Metrics) {
	p.now.Store(at.UnixNano())
	if err := p.metrics.ConsumeMetrics(context.Background(), md); err != nil {
		b.Fatal(err)
	}
}

// counter sums a counter of the processor's telemetry.
func (p *benchPipeline) counter(name string) int64 {
	m, err := p.tel.GetMetric(name)
	if err != nil {
		return 0
	}
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		return 0
	}
	var total int64
	for _, dp := range sum.DataPoints {
		total += dp.Value
	}
	return total
}

// filled is the share of buckets that grew and got an exemplar.
func (p *benchPipeline) filled() (attached, unfilled int64) {
	return p.counter("otelcol_processor_exemplar_exemplars_attached"), p.counter("otelcol_processor_exemplar_buckets_unfilled")
}

// feed produces exports on a virtual clock that advances at the traffic's
// nominal rate, so spans end before the time they are consumed at.
type feed struct {
	next func(now time.Time) traffic.Request
	rate float64
	now  time.Time
}

// wire is an export as the receiver gets it: protobuf bytes.
type wire struct {
	body          []byte
	isMetrics     bool
	spans, points int
	at            time.Time
}

func newFleetFeed(b *testing.B, cfg traffic.Config) *feed {
	b.Helper()
	gen, err := traffic.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return &feed{next: gen.Next, rate: cfg.Rate, now: benchStart}
}

// benchStart is the virtual time every benchmark's traffic starts at.
var benchStart = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// request returns the next export and the time it is sent at.
func (f *feed) request() (traffic.Request, time.Time) {
	r := f.next(f.now)
	at := f.now
	f.now = f.now.Add(time.Duration(float64(r.Spans) / f.rate * float64(time.Second)))
	return r, at
}

// marshal returns the next export as the receiver gets it.
func (f *feed) marshal(b *testing.B) wire {
	r, at := f.request()
	var body []byte
	var err error
	if r.IsMetrics {
		body, err = pmetricotlp.NewExportRequestFromMetrics(r.Metrics).MarshalProto()
	} else {
		body, err = ptraceotlp.NewExportRequestFromTraces(r.Traces).MarshalProto()
	}
	if err != nil {
		b.Fatal(err)
	}
	return wire{body: body, isMetrics: r.IsMetrics, spans: r.Spans, points: r.Points, at: at}
}

// traces decodes a trace export as the OTLP receiver does.
func (w *wire) traces(b *testing.B) ptrace.Traces {
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(w.body); err != nil {
		b.Fatal(err)
	}
	return req.Traces()
}

// metrics decodes a metric export as the OTLP receiver does.
func (w *wire) metrics(b *testing.B) pmetric.Metrics {
	req := pmetricotlp.NewExportRequest()
	if err := req.UnmarshalProto(w.body); err != nil {
		b.Fatal(err)
	}
	return req.Metrics()
}

// consume decodes and passes on an export.
func (p *benchPipeline) consume(b *testing.B, w *wire) {
	if w.isMetrics {
		p.consumeMetrics(b, w.at, w.metrics(b))
	} else {
		p.consumeTraces(b, w.at, w.traces(b))
	}
}

// skip generates spans spans and drops them.
func (f *feed) skip(spans int) {
	for done := 0; done < spans; {
		r, _ := f.request()
		done += r.Spans
	}
}

// fill consumes the feed's exports directly until spans spans went in;
// with tracesOnly, metric exports are dropped.
func (p *benchPipeline) fill(b *testing.B, f *feed, spans int, tracesOnly bool) {
	b.Helper()
	for done := 0; done < spans; {
		r, at := f.request()
		if r.IsMetrics {
			if !tracesOnly {
				p.consumeMetrics(b, at, r.Metrics)
			}
			continue
		}
		p.consumeTraces(b, at, r.Traces)
		done += r.Spans
	}
}

// timer stops and starts the benchmark timer together with a count of the
// process's CPU time (every thread: GC workers included). On a shared
// machine the wall time of a benchmark grows with the load of others; its
// CPU time much less.
type timer struct {
	b          *testing.B
	from, used time.Duration
}

func newTimer(b *testing.B) *timer { return &timer{b: b} }

// stop and start read the CPU time inside the timed span: StopTimer and
// StartTimer read memory statistics, stopping the world.
func (t *timer) stop() {
	t.used += processCPU() - t.from
	t.b.StopTimer()
}

func (t *timer) start() {
	t.b.StartTimer()
	t.from = processCPU()
}

// report adds ns per unit of wall and of CPU time.
func (t *timer) report(n int, unit string) {
	t.b.ReportMetric(float64(t.b.Elapsed().Nanoseconds())/float64(n), "ns/"+unit)
	t.b.ReportMetric(float64(t.used.Nanoseconds())/float64(n), "cpu-ns/"+unit)
}

// processCPU is the user and system CPU time of this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// quiesce collects the garbage that building test data left, so that the
// timed work that follows pays only for its own.
func quiesce() { runtime.GC() }

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otelcol-exemplar/otelcol-exemplar/e2e/harness"
)

// One collector with tail_sampling before exemplar in its traces pipeline,
// the demo services (Go SDK + otelhttp) in front of it, a real Prometheus
// behind it (remote write). Every exemplar Prometheus returns must name a
// trace the sampler kept, and nearly every bucket that counted a kept
// request must get an exemplar of its own interval, although every span
// reaches the processor decision_wait after it ended.
//
// A second pipeline writes every span the SDKs sent (before sampling), so
// the test tells kept from dropped traces and checks the sampler's own
// decision counts against both files.

// tsScenario is one run.
type tsScenario struct {
	decisionWait time.Duration
	load         time.Duration
	temporality  string // cumulative or delta
	// holdDelay is delta_hold.delay for delta histograms.
	holdDelay time.Duration
	// exemplarFirst puts exemplar BEFORE tail_sampling: the misconfiguration
	// the test measures for the documentation.
	exemplarFirst bool
	// defaultTolerance keeps exemplars.duration_tolerance at its default
	// (2 ms) instead of the 0 docs/tail-sampling.md recommends behind a
	// sampler.
	defaultTolerance bool
	// sdkExemplars switches the SDK's own exemplars on (trace_based filter);
	// the processor drops those whose span did not arrive.
	sdkExemplars bool
	// measureOnly runs are reported, their coverage not asserted.
	measureOnly bool
}

const (
	tsRPS            = 25
	tsMetricInterval = 2 * time.Second
	tsSpanBatchDelay = 500 * time.Millisecond
	// tsLatencyThreshold is the sampler's latency policy: traces at least
	// this long are kept.
	tsLatencyThreshold = 500 * time.Millisecond
	tsSamplePercent    = 20
	// tsMinOwnCoverage is the least share of kept grown buckets that must
	// get an exemplar from their own interval.
	tsMinOwnCoverage = 0.90
	// tsLateSpanWindow is exemplars.late_span_window: how long a cumulative
	// bucket that grew without an exemplar waits for its late span.
	tsLateSpanWindow = 60 * time.Second
	// tsTimerTolerance: otelhttp times metric and span separately; the
	// test's model accepts this much difference for one request.
	tsTimerTolerance = 2 * time.Millisecond
)

// TestTailSampling runs the collector with tail_sampling before exemplar,
// with decision_wait 10 s and 30 s (cumulative histograms, late spans
// recovered on later points) and 10 s with delta histograms and the delta
// hold. EXEMPLAR_TAILSAMPLING_MEASURE=1 adds runs measured for the
// documentation: exemplar before the sampler (how many exemplars then name
// dropped traces) and a delta hold shorter than decision_wait.
// EXEMPLAR_TAILSAMPLING_KEEP=dir keeps every run's output files in dir.
func TestTailSampling(t *testing.T) {
	t.Parallel() // with the other long runs, after the sequential tests
	const wait10, wait30 = 10 * time.Second, 30 * time.Second
	scenarios := map[string]tsScenario{
		"cumulative/decision_wait=10s": {decisionWait: wait10, load: 30 * time.Second, temporality: "cumulative"},
		"cumulative/decision_wait=30s": {decisionWait: wait30, load: 30 * time.Second, temporality: "cumulative"},
		// The hold must outlast decision_wait, the SDK's span batch delay
		// and the sampler's 1 s tick: a delta point counts requests that
		// ended before it was exported, so the export interval adds nothing.
		"delta+hold/decision_wait=10s": {
			decisionWait: wait10, load: 30 * time.Second, temporality: "delta", holdDelay: wait10 + tsSpanBatchDelay + 2*time.Second,
		},
	}
	if os.Getenv("EXEMPLAR_TAILSAMPLING_MEASURE") != "" {
		scenarios["measure/exemplar-before-sampler"] = tsScenario{
			decisionWait: wait10, load: 30 * time.Second, temporality: "cumulative", exemplarFirst: true, measureOnly: true,
		}
		scenarios["measure/delta+hold-shorter-than-decision_wait"] = tsScenario{
			decisionWait: wait10, load: 30 * time.Second, temporality: "delta", holdDelay: wait10 - 3*time.Second, measureOnly: true,
		}
		scenarios["measure/sdk-exemplars-dangling-drop"] = tsScenario{
			decisionWait: wait10, load: 30 * time.Second, temporality: "cumulative", sdkExemplars: true, measureOnly: true,
		}
		scenarios["measure/delta+hold-default-duration_tolerance"] = tsScenario{
			decisionWait: wait10, load: 30 * time.Second, temporality: "delta", holdDelay: wait10 + tsSpanBatchDelay + 2*time.Second,
			defaultTolerance: true, measureOnly: true,
		}
	}
	for name, sc := range scenarios {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tsRun(t, sc)
		})
	}
}

// tsRunState is what a run collects for its checks.
type tsRunState struct {
	sc        tsScenario
	dir       string
	prom      *harness.Prometheus
	order     *pdDemoSummary
	payment   *pdDemoSummary
	tel       map[string]float64
	began     time.Time
	holdPeak  float64
	rssPeakMB float64
	// misrouteWarnings counts the processor's "no spans of this service"
	// warnings: behind a sampler they come while the first traces wait.
	misrouteWarnings int
}

func tsRun(t *testing.T, sc tsScenario) {
	st := &tsRunState{sc: sc, dir: t.TempDir(), began: time.Now()}
	if keep := os.Getenv("EXEMPLAR_TAILSAMPLING_KEEP"); keep != "" {
		st.dir = filepath.Join(keep, strings.NewReplacer("/", "_", "=", "_", "+", "_").Replace(t.Name()))
		if err := os.MkdirAll(st.dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	otlpPort, telemetryPort := harness.FreePort(t), harness.FreePort(t)
	demoBin := harness.DemoBinary(t)
	if sc.temporality == "cumulative" {
		st.prom = harness.StartPrometheus(t, time.Second)
	}
	col := harness.StartCollector(t, "collector", tsCollectorConfig(sc, otlpPort, telemetryPort, st.prom, st.dir))
	telemetryURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", telemetryPort)
	harness.WaitHTTP(t, col, telemetryURL, 60*time.Second)

	order, payment := tsStartDemo(t, sc, demoBin, st.dir, otlpPort)
	harness.Eventually(t, sc.load+60*time.Second, "the order service's load to finish", func() bool {
		if order.Exited() {
			t.Fatalf("order service exited early:\n%s", order.Output())
		}
		st.watchPeaks(telemetryURL)
		return strings.Contains(order.Output(), "demo load finished")
	})
	// The sampler releases the last traces decision_wait after their first
	// span (plus its 1 s tick and the SDK's batch delay); the services go on
	// exporting their cumulative points meanwhile, so owed buckets can take
	// those late spans.
	settle := time.Now().Add(sc.decisionWait + time.Second + tsSpanBatchDelay + 3*tsMetricInterval)
	for time.Now().Before(settle) {
		st.watchPeaks(telemetryURL)
		time.Sleep(250 * time.Millisecond)
	}
	order.Stop()
	payment.Stop()
	st.order, st.payment = pdSummary(t, order), pdSummary(t, payment)
	tsWaitDrained(t, st, telemetryURL)
	col.Stop() // the sampler decides what it still holds; the file exporters flush
	st.misrouteWarnings = strings.Count(col.Output(), "Metrics arrive for a service with no spans in this instance")

	tsCheck(t, st)
}

// watchPeaks remembers the largest delta hold and resident memory seen.
func (st *tsRunState) watchPeaks(telemetryURL string) {
	tel, err := harness.ScrapeMetricsPage(telemetryURL)
	if err != nil {
		return
	}
	st.holdPeak = max(st.holdPeak, harness.SumMetric(tel, "otelcol_processor_exemplar_hold_datapoints"))
	st.rssPeakMB = max(st.rssPeakMB, harness.SumMetric(tel, "otelcol_process_memory_rss")/(1<<20))
}

func tsStartDemo(t *testing.T, sc tsScenario, demoBin, dir string, otlpPort int) (order, payment *harness.Process) {
	t.Helper()
	common := []string{
		"-otlp-endpoint", fmt.Sprintf("127.0.0.1:%d", otlpPort),
		"-metric-interval", tsMetricInterval.String(),
		"-span-batch-delay", tsSpanBatchDelay.String(),
		"-temporality", sc.temporality,
	}
	if sc.sdkExemplars {
		common = append(common, "-sdk-exemplar-filter", "trace_based")
	}
	paymentAddr := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	payment = harness.Start(t, "payment", dir, nil, demoBin,
		append([]string{"-service", "payment", "-listen", paymentAddr}, common...)...)
	harness.WaitHTTP(t, payment, "http://"+paymentAddr+"/healthz", 30*time.Second)
	order = harness.Start(t, "order", dir, nil, demoBin,
		append([]string{
			"-service", "order", "-listen", fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t)),
			"-payment-url", "http://" + paymentAddr,
			"-load-rps", strconv.Itoa(tsRPS), "-load-duration", sc.load.String(),
		}, common...)...)
	return order, payment
}

// tsCounts are the collector's own counts.
type tsCounts struct {
	acceptedSpans, allSpans, keptSpans       int
	newTraces, sampled, notSampled           int
	exemplarInSpans, exemplarOutSpans        int
	acceptedPoints, filePoints, remotePoints int
	remoteFailed                             int
	attached, unfilled                       int
	noSpan, dangling, danglingDropped        int
	noServiceSpans                           int
}

func tsCountsFrom(tel map[string]float64) tsCounts {
	n := func(metric string, labels ...string) int {
		return int(harness.SumMetric(tel, metric, labels...) + harness.SumMetric(tel, metric+"_total", labels...))
	}
	return tsCounts{
		acceptedSpans:    n("otelcol_receiver_accepted_spans"),
		allSpans:         n("otelcol_exporter_sent_spans", `exporter="file/all"`),
		keptSpans:        n("otelcol_exporter_sent_spans", `exporter="file/traces"`),
		newTraces:        n("otelcol_processor_tail_sampling_new_trace_id_received"),
		sampled:          n("otelcol_processor_tail_sampling_global_count_traces_sampled", `decision="sampled"`),
		notSampled:       n("otelcol_processor_tail_sampling_global_count_traces_sampled", `decision="not_sampled"`),
		exemplarInSpans:  n("otelcol_processor_incoming_items", `otel_signal="traces"`, `processor="exemplar"`),
		exemplarOutSpans: n("otelcol_processor_outgoing_items", `otel_signal="traces"`, `processor="exemplar"`),
		acceptedPoints:   n("otelcol_receiver_accepted_metric_points"),
		filePoints:       n("otelcol_exporter_sent_metric_points", `exporter="file/metrics"`),
		remotePoints:     n("otelcol_exporter_sent_metric_points", `exporter="prometheus_remote_write"`),
		remoteFailed:     n("otelcol_exporter_send_failed_metric_points", `exporter="prometheus_remote_write"`),
		attached:         n("otelcol_processor_exemplar_exemplars_attached"),
		unfilled:         n("otelcol_processor_exemplar_buckets_unfilled"),
		noSpan:           n("otelcol_processor_exemplar_datapoints_not_enriched", `reason="no_span"`),
		noServiceSpans:   n("otelcol_processor_exemplar_datapoints_not_enriched", `reason="no_service_spans"`),
		dangling:         n("otelcol_processor_exemplar_exemplars_dangling"),
		danglingDropped:  n("otelcol_processor_exemplar_exemplars_dangling", `outcome="dropped"`),
	}
}

func (c tsCounts) String() string {
	type plain tsCounts
	return fmt.Sprintf("%+v", plain(c))
}

// tsWaitDrained waits until the collector has passed on everything the
// services exported and the sampler decided every trace it received.
func tsWaitDrained(t *testing.T, st *tsRunState, telemetryURL string) {
	t.Helper()
	spansIn := st.order.SpansExported + st.payment.SpansExported
	pointsIn := st.order.MetricPointsExported + st.payment.MetricPointsExported
	for _, s := range []*pdDemoSummary{st.order, st.payment} {
		if s.SpansFailed > 0 || s.MetricPointsFailed > 0 {
			t.Fatalf("%s could not export everything: %+v", s.Service, s)
		}
	}
	// The sampler counts no items in or out: once it decided every trace,
	// the kept spans are through when the file exporter's count stands
	// still for a second (five batch timeouts).
	lastKept, since := -1, time.Now()
	pdWait(t, st.sc.decisionWait+60*time.Second, "the collector to decide and export everything", func() (bool, string) {
		tel, err := harness.ScrapeMetricsPage(telemetryURL)
		if err != nil {
			return false, err.Error()
		}
		st.tel = tel
		c := tsCountsFrom(tel)
		if c.keptSpans != lastKept {
			lastKept, since = c.keptSpans, time.Now()
		}
		remoteOK := st.prom == nil || c.remotePoints == pointsIn
		return c.acceptedSpans == spansIn && c.allSpans == spansIn && c.newTraces > 0 &&
			c.sampled+c.notSampled == c.newTraces && time.Since(since) > time.Second &&
			c.exemplarInSpans == c.exemplarOutSpans && c.acceptedPoints == pointsIn && c.filePoints == pointsIn && remoteOK, c.String()
	})
}

func tsCollectorConfig(sc tsScenario, otlpPort, telemetryPort int, prom *harness.Prometheus, dir string) string {
	traces := "[tail_sampling, exemplar, batch]"
	if sc.exemplarFirst {
		traces = "[exemplar, tail_sampling, batch]"
	}
	hold, metricsExporters, remoteWrite := "", "[file/metrics]", ""
	tolerance := "0s"
	if sc.defaultTolerance {
		tolerance = "2ms"
	}
	if sc.holdDelay > 0 {
		hold = fmt.Sprintf("    delta_hold:\n      delay: %s\n", sc.holdDelay)
	}
	if prom != nil {
		metricsExporters = "[file/metrics, prometheus_remote_write]"
		remoteWrite = fmt.Sprintf(`  prometheus_remote_write:
    endpoint: %s
    # One request at a time: Prometheus rejects out-of-order samples and exemplars.
    max_batch_request_parallelism: 1
`, prom.RemoteWriteURL())
	}
	return fmt.Sprintf(`receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%[1]d
processors:
  tail_sampling:
    decision_wait: %[2]s
    num_traces: 100000
    expected_new_traces_per_sec: 100
    policies:
      - name: errors
        type: status_code
        status_code: {status_codes: [ERROR]}
      - name: slow
        type: latency
        latency: {threshold_ms: %[3]d}
      - name: sample
        type: probabilistic
        probabilistic: {sampling_percentage: %[4]d}
  exemplar:
    exemplars:
      # Behind a sampler a span just outside a bucket is most often another
      # request, not the bucket's own timed differently (docs/tail-sampling.md).
      duration_tolerance: %[11]s
      # decision_wait + span batch delay + 2 s + the metric export interval, at least.
      late_span_window: %[13]s
      # SDK exemplars naming a trace the sampler dropped go once their span
      # had time to arrive.
      dangling: drop
      dangling_grace: %[12]s
%[5]s  batch:
    timeout: 200ms
exporters:
  file/traces:
    path: %[6]s/traces.jsonl
  file/all:
    path: %[6]s/all-traces.jsonl
  file/metrics:
    path: %[6]s/metrics.jsonl
%[7]sservice:
  telemetry:
    metrics:
      level: detailed
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %[8]d
  pipelines:
    traces:
      receivers: [otlp]
      processors: %[9]s
      exporters: [file/traces]
    # Every span the SDKs sent, unsampled: tells kept from dropped traces.
    traces/all:
      receivers: [otlp]
      exporters: [file/all]
    metrics:
      receivers: [otlp]
      processors: [exemplar, batch]
      exporters: %[10]s
`, otlpPort, sc.decisionWait, tsLatencyThreshold.Milliseconds(), tsSamplePercent, hold, dir, remoteWrite,
		telemetryPort, traces, metricsExporters, tolerance, sc.decisionWait+tsSpanBatchDelay+2*time.Second, tsLateSpanWindow)
}

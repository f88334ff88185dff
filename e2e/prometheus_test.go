// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otelcol-exemplar/otelcol-exemplar/e2e/harness"
)

// The demo services (cmd/demo) run under their own load, export OTLP to the
// built collector, which enriches their histograms and exports them both by
// remote write to a real Prometheus and on its Prometheus exporter, which
// that Prometheus scrapes. Everything asserted is read back from
// Prometheus' HTTP API, the collector's file output and its own telemetry.

// TestPrometheusDemoCumulative: cumulative histograms, duplicates flagged.
func TestPrometheusDemoCumulative(t *testing.T) {
	pdRun(t, pdScenario{temporality: "cumulative", action: "flag"})
}

// TestPrometheusDemoDelta: delta histograms turned cumulative by
// delta_to_cumulative before the exemplar processor (remote write drops
// delta histograms), replays dropped.
func TestPrometheusDemoDelta(t *testing.T) {
	pdRun(t, pdScenario{temporality: "delta", action: "drop_replays"})
}

type pdScenario struct {
	temporality string // cumulative or delta
	action      string // duplicates.action: flag or drop_replays
}

const (
	pdLoad           = 20 * time.Second
	pdRPS            = 20
	pdMetricInterval = 2 * time.Second
	// pdMinCoverage is the least share of grown buckets that must get an
	// exemplar; measured runs give 0.9 to 0.95.
	pdMinCoverage = 0.75
	// pdDurationTolerance is exemplars.duration_tolerance in the collector
	// configuration: how far outside a bucket a span may lie and fill it.
	pdDurationTolerance = 2 * time.Millisecond
	// pdMaxClamped is the largest share of exemplars whose span lay outside
	// the bucket (measured: 0 to 1 %, more on a busy machine).
	pdMaxClamped = 0.05
)

// pdFamilies are the histogram families the demo emits and that must carry
// exemplars in Prometheus, with the span kind their exemplars must point to.
var pdFamilies = []struct {
	name string
	kind string
}{
	{"http_server_request_duration_seconds", "Server"},
	{"http_client_request_duration_seconds", "Client"},
	// Recorded with trace_id/span_id attributes: joined exactly.
	{"order_checkout_duration_seconds", "Internal"},
	{"payment_charge_duration_seconds", "Internal"},
}

func pdRun(t *testing.T, sc pdScenario) {
	began := time.Now()
	dir := t.TempDir()
	otlpPort, exporterPort, telemetryPort := harness.FreePort(t), harness.FreePort(t), harness.FreePort(t)
	exporterAddr := fmt.Sprintf("127.0.0.1:%d", exporterPort)

	demoBin := harness.DemoBinary(t)
	prom := harness.StartPrometheus(t, time.Second, exporterAddr)
	col := harness.StartCollector(t, "collector", pdCollectorConfig(sc, otlpPort, exporterAddr, telemetryPort, prom.RemoteWriteURL(), dir))
	telemetryURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", telemetryPort)
	harness.WaitHTTP(t, col, telemetryURL, 60*time.Second)

	common := []string{
		"-otlp-endpoint", fmt.Sprintf("127.0.0.1:%d", otlpPort),
		"-metric-interval", pdMetricInterval.String(),
		"-span-batch-delay", "500ms",
		"-temporality", sc.temporality,
		"-trace-id-attributes", "0.2",
	}
	paymentAddr := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	payment := harness.Start(t, "payment", dir, nil, demoBin,
		append([]string{"-service", "payment", "-listen", paymentAddr, "-double-init"}, common...)...)
	harness.WaitHTTP(t, payment, "http://"+paymentAddr+"/healthz", 30*time.Second)
	order := harness.Start(t, "order", dir, nil, demoBin,
		append([]string{
			"-service", "order", "-listen", fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t)),
			"-payment-url", "http://" + paymentAddr,
			"-load-rps", strconv.Itoa(pdRPS), "-load-duration", pdLoad.String(),
		}, common...)...)
	harness.Eventually(t, pdLoad+60*time.Second, "the order service's load to finish", func() bool {
		if order.Exited() {
			t.Fatalf("order service exited early:\n%s", order.Output())
		}
		return strings.Contains(order.Output(), "demo load finished")
	})
	// SIGTERM: each service drains and flushes spans and metrics.
	order.Stop()
	payment.Stop()
	orderSum, paymentSum := pdSummary(t, order), pdSummary(t, payment)
	load := orderSum.Load
	if load == nil || load.Sent < int(pdLoad.Seconds()*pdRPS/2) || load.Failed > 0 {
		t.Fatalf("load generator: %+v", load)
	}
	for _, s := range []*pdDemoSummary{orderSum, paymentSum} {
		if s.SpansFailed > 0 || s.MetricPointsFailed > 0 {
			t.Fatalf("%s could not export everything: %+v", s.Service, s)
		}
	}
	spansIn := orderSum.SpansExported + paymentSum.SpansExported
	pointsIn := orderSum.MetricPointsExported + paymentSum.MetricPointsExported
	// The double-init service exported every span twice.
	if paymentSum.SpansExported%2 != 0 {
		t.Errorf("payment (double-init) exported an odd number of spans: %d", paymentSum.SpansExported)
	}
	replays := paymentSum.SpansExported / 2

	// Wait until the collector has passed on all it received.
	var tel map[string]float64
	pdWait(t, 60*time.Second, "the collector to export everything it received", func() (bool, string) {
		var err error
		tel, err = harness.ScrapeMetricsPage(telemetryURL)
		if err != nil {
			return false, err.Error()
		}
		c := pdCountsFrom(tel)
		state := c.String()
		return c.acceptedSpans == spansIn && c.acceptedPoints == pointsIn &&
			c.sentSpans == spansIn-c.droppedSpans && c.sentPoints == pointsIn &&
			c.rawPoints == pointsIn && c.remoteWritePoints == pointsIn, state
	})
	counts := pdCountsFrom(tel)
	col.Stop() // flushes the file exporters

	traces := pdReadTraces(t, dir+"/traces.jsonl")
	enriched := pdReadMetrics(t, dir+"/metrics.jsonl")
	raw := pdReadMetrics(t, dir+"/raw-metrics.jsonl")

	// Nothing lost or invented, at every step.
	if counts.processorInSpans != spansIn || counts.processorOutSpans != counts.sentSpans || traces.total != counts.sentSpans {
		t.Errorf("spans: demo exported %d, processor in %d out %d, file exporter sent %d, file holds %d",
			spansIn, counts.processorInSpans, counts.processorOutSpans, counts.sentSpans, traces.total)
	}
	if counts.processorInPoints != pointsIn || counts.processorOutPoints != pointsIn || enriched.points != pointsIn || raw.points != pointsIn {
		t.Errorf("data points: demo exported %d, processor in %d out %d, enriched file %d, raw file %d",
			pointsIn, counts.processorInPoints, counts.processorOutPoints, enriched.points, raw.points)
	}
	if counts.remoteWriteFailed != 0 || counts.remoteWriteUntranslated != 0 {
		t.Errorf("remote write failed for %d data points, could not translate %d batches (delta histograms?)",
			counts.remoteWriteFailed, counts.remoteWriteUntranslated)
	}
	// The SDK emits no exemplars of its own (always_off), like the SDKs
	// the processor is for; every exemplar out was added by the processor.
	if raw.exemplars != 0 {
		t.Errorf("the demo SDK emitted %d exemplars; want none", raw.exemplars)
	}
	attached := counts.attachedMatch + counts.attachedExact
	if enriched.exemplars != attached {
		t.Errorf("exemplars in the enriched output: %d, processor telemetry says %d attached", enriched.exemplars, attached)
	}

	// Duplicates from the double-init service.
	if counts.replays != replays || counts.collisions != 0 {
		t.Errorf("duplicates counted: %d replays, %d collisions; want %d replays (half the double-init service's %d spans), 0 collisions",
			counts.replays, counts.collisions, replays, paymentSum.SpansExported)
	}
	switch sc.action {
	case "flag":
		if traces.flagged["replay"] != replays || len(traces.flagged) != 1 || counts.droppedSpans != 0 {
			t.Errorf("flagged spans in the traces output: %v, dropped %d; want %d replays, none dropped", traces.flagged, counts.droppedSpans, replays)
		}
		if traces.flaggedOther != 0 {
			t.Errorf("%d flagged spans are not from the double-init service", traces.flaggedOther)
		}
		if traces.flaggedWithoutTwin != 0 {
			t.Errorf("%d flagged spans have no unflagged first copy in the output", traces.flaggedWithoutTwin)
		}
	case "drop_replays":
		if len(traces.flagged) != 0 || counts.droppedSpans != replays {
			t.Errorf("flagged spans in the traces output: %v, dropped %d; want none flagged, %d dropped", traces.flagged, counts.droppedSpans, replays)
		}
		if traces.sameIDs != 0 {
			t.Errorf("%d span IDs still appear more than once in the output", traces.sameIDs)
		}
	}

	// Prometheus: histogram counts arrived by remote write complete.
	pdExpectCount(t, prom, `sum(http_server_request_duration_seconds_count{job="demo/order"})`, float64(load.Sent))
	pdExpectCount(t, prom, `sum(http_server_request_duration_seconds_count{job="demo/payment"})`,
		float64(load.ByStatus["201"]+load.ByStatus["502"]))

	// Prometheus: exemplars by both paths, each pointing at a real span of
	// the right service and kind, whose duration lies in the exemplar's bucket.
	from, to := began.Add(-time.Minute), time.Now().Add(time.Minute)
	byPath, clampedByPath := map[string]int{}, map[string]int{}
	var problems []string
	for _, fam := range pdFamilies {
		bounds := pdBounds(t, prom, fam.name+"_bucket", from, to)
		series, err := prom.QueryExemplars(fam.name+"_bucket", from, to)
		if err != nil {
			t.Fatalf("query_exemplars %s: %v", fam.name, err)
		}
		perPath := map[string]int{}
		exactWithExemplar := map[string]bool{}
		for _, s := range series {
			path := "remote_write"
			if s.SeriesLabels["job"] == "otelcol" {
				path = "scrape"
			}
			if tid, ok := s.SeriesLabels["trace_id"]; ok && path == "remote_write" && len(s.Exemplars) > 0 {
				exactWithExemplar[tid] = true
			}
			for _, ex := range s.Exemplars {
				perPath[path]++
				clamped, p := pdCheckExemplar(fam.kind, s.SeriesLabels, ex, bounds, traces)
				if p != "" {
					problems = append(problems, fmt.Sprintf("%s via %s: %s", fam.name, path, p))
				}
				if clamped {
					clampedByPath[path]++
				}
			}
		}
		for _, path := range []string{"remote_write", "scrape"} {
			if perPath[path] == 0 {
				t.Errorf("%s: no exemplars in Prometheus via %s", fam.name, path)
			}
			byPath[path] += perPath[path]
		}
		t.Logf("%-38s exemplars: remote write %4d, scrape %4d", fam.name, perPath["remote_write"], perPath["scrape"])
		if fam.kind == "Internal" {
			pdCheckExactStreams(t, prom, fam.name, sc, exactWithExemplar, from, to)
		}
	}
	if len(problems) > 0 {
		t.Errorf("%d exemplars are wrong, for example:\n  %s", len(problems), strings.Join(problems[:min(10, len(problems))], "\n  "))
	}
	// Remote write carries every exemplar attached; a scrape sees only the
	// exemplars of the latest point, so it may miss some.
	if byPath["remote_write"] != attached {
		t.Errorf("Prometheus holds %d exemplars from remote write; the processor attached %d", byPath["remote_write"], attached)
	}
	if byPath["scrape"] > attached {
		t.Errorf("Prometheus holds %d scraped exemplars, more than the %d attached", byPath["scrape"], attached)
	}

	if n := clampedByPath["remote_write"]; float64(n) > pdMaxClamped*float64(byPath["remote_write"]) {
		t.Errorf("%d of %d exemplars point to a span just outside their bucket; want at most %.0f%%", n, byPath["remote_write"], 100*pdMaxClamped)
	}

	coverage := float64(attached) / float64(attached+counts.unfilled)
	if coverage < pdMinCoverage {
		t.Errorf("exemplars attached to %.1f%% of the buckets that grew (%d attached, %d unfilled); want at least %.0f%%",
			100*coverage, attached, counts.unfilled, 100*pdMinCoverage)
	}

	t.Logf("scenario: %s histograms, duplicates.action %s, %d requests in %.0fs (%v)",
		sc.temporality, sc.action, load.Sent, load.Seconds, load.ByStatus)
	t.Logf("spans:        in %d (order %d, payment %d incl. %d replays), out %d (dropped %d)",
		spansIn, orderSum.SpansExported, paymentSum.SpansExported, replays, traces.total, counts.droppedSpans)
	t.Logf("data points:  in %d, out %d (file), %d (remote write)", pointsIn, enriched.points, counts.remoteWritePoints)
	t.Logf("exemplars:    attached %d (match %d, exact %d), returned by Prometheus %d (remote write %d, scrape %d)",
		attached, counts.attachedMatch, counts.attachedExact, byPath["remote_write"]+byPath["scrape"], byPath["remote_write"], byPath["scrape"])
	t.Logf("coverage:     %.1f%% of grown buckets (%d unfilled); %d exemplars (remote write) from a span up to %s outside the bucket, value clamped",
		100*coverage, counts.unfilled, clampedByPath["remote_write"], pdDurationTolerance)
	t.Logf("duplicates:   %d replays counted, %d flagged in the output, %d dropped", counts.replays, traces.flagged["replay"], counts.droppedSpans)
	t.Logf("run time:     %s", time.Since(began).Round(100*time.Millisecond))
}

func pdCollectorConfig(sc pdScenario, otlpPort int, exporterAddr string, telemetryPort int, remoteWriteURL, dir string) string {
	metricsProcessors := "[exemplar, batch]"
	d2c := ""
	if sc.temporality == "delta" {
		// Before the exemplar processor: delta_to_cumulative keeps the
		// exemplars of a stream's first point forever and drops later
		// ones, so exemplars attached to delta points never get out.
		metricsProcessors = "[delta_to_cumulative, exemplar, batch]"
		d2c = "  delta_to_cumulative:\n"
	}
	return fmt.Sprintf(`receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%[1]d
processors:
  exemplar:
    duplicates:
      action: %[2]s
    exemplars:
      duration_tolerance: %[9]s
  batch:
    timeout: 200ms
%[3]sexporters:
  file/traces:
    path: %[4]s/traces.jsonl
  file/metrics:
    path: %[4]s/metrics.jsonl
  file/raw:
    path: %[4]s/raw-metrics.jsonl
  prometheus:
    endpoint: %[5]s
    enable_open_metrics: true
  prometheus_remote_write:
    endpoint: %[6]s
    # One request at a time: Prometheus rejects out-of-order samples and exemplars.
    max_batch_request_parallelism: 1
service:
  telemetry:
    metrics:
      level: detailed
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %[7]d
  pipelines:
    traces:
      receivers: [otlp]
      processors: [exemplar, batch]
      exporters: [file/traces]
    metrics:
      receivers: [otlp]
      processors: %[8]s
      exporters: [file/metrics, prometheus, prometheus_remote_write]
    # What the SDKs sent, untouched: proves they sent no exemplars.
    metrics/raw:
      receivers: [otlp]
      exporters: [file/raw]
`, otlpPort, sc.action, d2c, dir, exporterAddr, remoteWriteURL, telemetryPort, metricsProcessors, pdDurationTolerance)
}

// pdCheckExemplar returns what is wrong with one exemplar from Prometheus,
// or "", and whether its span lay just outside the bucket (value clamped).
func pdCheckExemplar(kind string, series map[string]string, ex harness.PromExemplar, bounds []float64, traces *pdTraces) (clamped bool, problem string) {
	tid, sid := ex.Labels["trace_id"], ex.Labels["span_id"]
	sp, ok := traces.byID[tid+"/"+sid]
	if !ok {
		return false, fmt.Sprintf("trace_id %s span_id %s is in no span of the traces output", tid, sid)
	}
	job := series["job"]
	if job == "otelcol" {
		job = series["exported_job"]
	}
	if want := "demo/" + sp.service; job != want {
		return false, fmt.Sprintf("span %s belongs to %s, the series to %s", sid, want, job)
	}
	if sp.kind != kind {
		return false, fmt.Sprintf("span %s is a %s span, want %s", sid, sp.kind, kind)
	}
	if v, ok := series["trace_id"]; ok && (v != tid || series["span_id"] != sid) {
		return false, fmt.Sprintf("series carries trace_id %s span_id %s, its exemplar %s %s", v, series["span_id"], tid, sid)
	}
	if route, ok := series["http_route"]; ok && sp.name != series["http_request_method"]+" "+route {
		return false, fmt.Sprintf("span %s is %q, the series %s %s", sid, sp.name, series["http_request_method"], route)
	}
	if code, ok := series["http_response_status_code"]; ok && sp.status != code {
		return false, fmt.Sprintf("span %s has status %s, the series %s", sid, sp.status, code)
	}
	if ms := float64(sp.end) / 1e6; math.Abs(ex.Timestamp*1e3-ms) > 1 {
		return false, fmt.Sprintf("exemplar timestamp %.3f, span %s ended at %.3f", ex.Timestamp, sid, ms/1e3)
	}
	le, err := strconv.ParseFloat(series["le"], 64)
	if err != nil {
		return false, fmt.Sprintf("bad le %q", series["le"])
	}
	lower := math.Inf(-1)
	for _, b := range bounds {
		if b < le {
			lower = b
		}
	}
	value, err := strconv.ParseFloat(ex.Value, 64)
	if err != nil || !(value > lower && value <= le) {
		return false, fmt.Sprintf("exemplar value %s outside its bucket (%g, %g]", ex.Value, lower, le)
	}
	duration := float64(sp.end-sp.start) / 1e9
	if duration > lower && duration <= le {
		if math.Abs(value-duration) > 1e-9 {
			return false, fmt.Sprintf("exemplar value %s, span %s lasted %.9fs", ex.Value, sid, duration)
		}
		return false, ""
	}
	// exemplars.duration_tolerance: a span just outside a bucket that grew
	// (the instrumentation timed metric and span separately) fills it, its
	// value clamped to the bucket's nearest end.
	tol := pdDurationTolerance.Seconds()
	switch {
	case duration <= lower && lower-duration <= tol && value == math.Nextafter(lower, math.Inf(1)):
		return true, ""
	case duration > le && duration-le <= tol && value == le:
		return true, ""
	}
	return false, fmt.Sprintf("span %s lasted %.9fs, outside bucket (%g, %g] of its exemplar (value %s)", sid, duration, lower, le, ex.Value)
}

// pdCheckExactStreams checks that the series of a histogram recorded with
// trace_id/span_id attributes (one per operation) got their exemplar by
// remote write. A cumulative stream is re-exported, so a span that arrives
// after the first export still joins; a delta point is exported once, and
// one whose span is late keeps none.
func pdCheckExactStreams(t *testing.T, prom *harness.Prometheus, family string, sc pdScenario, withExemplar map[string]bool, from, to time.Time) {
	t.Helper()
	series, err := prom.Series(family+`_count{job=~"demo/.*"}`, from, to)
	if err != nil {
		t.Fatalf("series %s: %v", family, err)
	}
	var missing []string
	for _, s := range series {
		if !withExemplar[s["trace_id"]] {
			missing = append(missing, s["trace_id"])
		}
	}
	t.Logf("%-38s %d of %d trace_id series have their exemplar", family, len(series)-len(missing), len(series))
	// Delta: the span is batched for 500 ms, the metric exported every 2 s,
	// so about a quarter of the points leave before their span arrives.
	allowed := len(series) / 2
	if sc.temporality == "cumulative" {
		allowed = 0
	}
	if len(series) == 0 || len(missing) > allowed {
		t.Errorf("%s: %d of %d trace_id series have no exemplar (at most %d may), e.g. %v",
			family, len(missing), len(series), allowed, missing[:min(3, len(missing))])
	}
}

// pdBounds returns the sorted le values of a bucket metric in Prometheus.
func pdBounds(t *testing.T, prom *harness.Prometheus, bucketMetric string, from, to time.Time) []float64 {
	t.Helper()
	series, err := prom.Series(bucketMetric, from, to)
	if err != nil {
		t.Fatalf("series %s: %v", bucketMetric, err)
	}
	seen := map[float64]bool{}
	var out []float64
	for _, s := range series {
		le, err := strconv.ParseFloat(s["le"], 64)
		if err == nil && !seen[le] {
			seen[le] = true
			out = append(out, le)
		}
	}
	sort.Float64s(out)
	if len(out) < 2 {
		t.Fatalf("%s: bucket bounds %v", bucketMetric, out)
	}
	return out
}

func pdExpectCount(t *testing.T, prom *harness.Prometheus, query string, want float64) {
	t.Helper()
	res, err := prom.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if len(res) != 1 || res[0].Value != want {
		t.Errorf("%s = %v, want %v", query, res, want)
	}
}

// pdWait polls cond every 250 ms; on timeout it fails with cond's last
// description of the state.
func pdWait(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last state: %s", timeout, what, state)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

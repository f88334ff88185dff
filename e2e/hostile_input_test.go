// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/otelcol-exemplar/otelcol-exemplar/e2e/harness"
)

// Hostile input over the wire: a collector with the exemplar processor
// between an OTLP/HTTP receiver and file exporters writing protobuf, the
// bodies an attacker or a broken SDK sends, and the readers that compare what
// left the collector with what went in.

// hoCollector is one collector of a hostile-input test.
type hoCollector struct {
	proc          *harness.Process
	httpPort      int
	telemetryPort int
	dir           string
	client        *http.Client
}

// hoCollectorSpec says what differs between the hostile-input collectors.
type hoCollectorSpec struct {
	// exemplar is the exemplar processor's configuration block (indented
	// by four spaces), empty for the defaults.
	exemplar string
	// env is added to the collector's environment (GOGC, GODEBUG).
	env []string
}

// startHOCollector runs the built collector: OTLP/HTTP in, exemplar, then
// batch (so a request's round trip is the receiver and the processor, not
// the file exporter), file exporters in protobuf format, internal telemetry
// at level detailed.
func startHOCollector(t testing.TB, spec hoCollectorSpec) *hoCollector {
	t.Helper()
	c := &hoCollector{httpPort: harness.FreePort(t), telemetryPort: harness.FreePort(t), dir: t.TempDir()}
	exemplar := spec.exemplar
	if exemplar == "" {
		exemplar = "    index:\n      max_spans: 100000\n"
	}
	cfg := fmt.Sprintf(`receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%[1]d
        # The hostile points are 1-3 MB; the default 20 MiB limit applies.
processors:
  exemplar:
%[4]s
  batch:
    timeout: 50ms
exporters:
  file/traces:
    path: %[3]s/traces.pb
    format: proto
    flush_interval: 50ms
  file/metrics:
    path: %[3]s/metrics.pb
    format: proto
    flush_interval: 50ms
service:
  telemetry:
    metrics:
      level: detailed
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %[2]d
  pipelines:
    traces:
      receivers: [otlp]
      processors: [exemplar, batch]
      exporters: [file/traces]
    metrics:
      receivers: [otlp]
      processors: [exemplar, batch]
      exporters: [file/metrics]
`, c.httpPort, c.telemetryPort, c.dir, exemplar)
	path := filepath.Join(c.dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c.proc = harness.Start(t, "collector", c.dir, spec.env, harness.CollectorBinary(t), "--config="+path)
	harness.WaitHTTP(t, c.proc, c.telemetryURL(), 30*time.Second)
	c.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	t.Cleanup(c.client.CloseIdleConnections)
	// One small request of each signal opens the connections and warms the
	// receiver, so the first measured request pays for neither.
	harness.Eventually(t, 10*time.Second, "collector accepts OTLP/HTTP", func() bool {
		r1 := c.post(tracesPath, hoTracesBody(ptrace.NewTraces()), 5*time.Second)
		r2 := c.post(metricsPath, hoMetricsBody(pmetric.NewMetrics()), 5*time.Second)
		return r1.err == nil && r1.status == http.StatusOK && r2.err == nil && r2.status == http.StatusOK
	})
	return c
}

const (
	tracesPath  = "/v1/traces"
	metricsPath = "/v1/metrics"
)

func (c *hoCollector) telemetryURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d/metrics", c.telemetryPort)
}

// hoResult is the outcome of one OTLP/HTTP request.
type hoResult struct {
	status  int
	elapsed time.Duration // the round trip: request sent to response read
	err     error
}

// post sends body as OTLP/HTTP protobuf and measures the round trip.
func (c *hoCollector) post(path string, body []byte, timeout time.Duration) hoResult {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	url := fmt.Sprintf("http://127.0.0.1:%d%s", c.httpPort, path)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return hoResult{err: err}
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	began := time.Now()
	resp, err := c.client.Do(req)
	if err != nil {
		return hoResult{elapsed: time.Since(began), err: err}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return hoResult{status: resp.StatusCode, elapsed: time.Since(began), err: err}
}

// mustPost sends body and fails the test unless the collector accepted it.
func (c *hoCollector) mustPost(t testing.TB, path string, body []byte) hoResult {
	t.Helper()
	r := c.post(path, body, 30*time.Second)
	if r.err != nil || r.status != http.StatusOK {
		t.Fatalf("POST %s (%d bytes): status %d, %v", path, len(body), r.status, r.err)
	}
	return r
}

// telemetry scrapes the collector's own metrics.
func (c *hoCollector) telemetry(t testing.TB) map[string]float64 {
	t.Helper()
	tel, err := harness.ScrapeMetricsPage(c.telemetryURL())
	if err != nil {
		t.Fatalf("scrape %s: %v", c.telemetryURL(), err)
	}
	return tel
}

// hoCount sums a counter under its plain name and with the _total suffix
// (which one the collector writes depends on its telemetry settings).
func hoCount(tel map[string]float64, metric string, labels ...string) int {
	return int(harness.SumMetric(tel, metric, labels...) + harness.SumMetric(tel, metric+"_total", labels...))
}

func hoTracesBody(td ptrace.Traces) []byte {
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		panic(err) // marshaling a pdata value cannot fail
	}
	return b
}

func hoMetricsBody(md pmetric.Metrics) []byte {
	b, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	if err != nil {
		panic(err)
	}
	return b
}

// hoEndpoint is the one HTTP route of the hostile tests' service: its spans
// and its histogram streams carry these attributes.
var hoEndpoint = soEndpoint{"GET", "/api/items/{id}", 200}

// hoCaseAttr tells the streams of one test apart. The default rules do not
// map it, so it does not constrain the join: every stream of the service can
// take every span of the endpoint.
const hoCaseAttr = "hostile.case"

// hoSpans are spans of one service and the endpoint.
type hoSpans struct {
	td ptrace.Traces
	ss ptrace.SpanSlice
}

func newHOSpans(service string) *hoSpans {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	soResource(rs.Resource(), service)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("e2e/hostile")
	return &hoSpans{td: td, ss: ss.Spans()}
}

// add appends a SERVER span of the endpoint with the given times (Unix
// nanoseconds; 0 stays 0, as a broken SDK sends it).
func (h *hoSpans) add(rng *rand.Rand, start, end uint64) ptrace.Span {
	s := h.ss.AppendEmpty()
	s.SetTraceID(soTraceID(rng))
	s.SetSpanID(soSpanID(rng))
	s.SetName(hoEndpoint.method + " " + hoEndpoint.route)
	s.SetKind(ptrace.SpanKindServer)
	s.SetStartTimestamp(pcommon.Timestamp(start))
	s.SetEndTimestamp(pcommon.Timestamp(end))
	soEndpointAttributes(s.Attributes(), hoEndpoint)
	s.Attributes().PutStr("url.scheme", "http")
	return s
}

// addSpread appends n spans whose durations are spread log-uniformly over
// [lo, hi] and which end inside (from, to).
func (h *hoSpans) addSpread(rng *rand.Rand, n int, lo, hi time.Duration, from, to time.Time) {
	window := to.Sub(from)
	for range n {
		d := time.Duration(float64(lo) * math.Pow(float64(hi)/float64(lo), rng.Float64()))
		end := from.Add(time.Duration(float64(window) * (0.05 + 0.9*rng.Float64())))
		h.add(rng, uint64(end.Add(-d).UnixNano()), uint64(end.UnixNano()))
	}
}

// hoMetrics builds histogram metrics of one service, one metric per point so
// each point can have its own shape.
type hoMetrics struct {
	md pmetric.Metrics
	sm pmetric.ScopeMetrics
}

func newHOMetrics(service string) *hoMetrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	soResource(rm.Resource(), service)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("e2e/hostile")
	return &hoMetrics{md: md, sm: sm}
}

func (h *hoMetrics) metric(name string) pmetric.Metric {
	m := h.sm.Metrics().AppendEmpty()
	m.SetName(name)
	m.SetUnit("s")
	m.SetDescription("Duration of HTTP server requests.")
	return m
}

// explicit appends an explicit-bucket point of http.server.request.duration.
func (h *hoMetrics) explicit(c string, temporality pmetric.AggregationTemporality, start, end uint64, bounds []float64, counts []uint64) pmetric.HistogramDataPoint {
	hist := h.metric(soMetricName).SetEmptyHistogram()
	hist.SetAggregationTemporality(temporality)
	dp := hist.DataPoints().AppendEmpty()
	hoPointAttributes(dp.Attributes(), c)
	dp.SetStartTimestamp(pcommon.Timestamp(start))
	dp.SetTimestamp(pcommon.Timestamp(end))
	dp.ExplicitBounds().FromRaw(bounds)
	dp.BucketCounts().FromRaw(counts)
	var n uint64
	for _, v := range counts {
		n += v
	}
	dp.SetCount(n)
	dp.SetSum(float64(n))
	return dp
}

// hoExpo describes an exponential histogram point.
type hoExpo struct {
	name        string // metric name; http.server.request.duration when empty
	c           string // hostile.case
	temporality pmetric.AggregationTemporality
	start, end  uint64
	scale       int32
	offset      int32
	counts      []uint64
	zeroCount   uint64
}

// exponential appends an exponential histogram point.
func (h *hoMetrics) exponential(p hoExpo) pmetric.ExponentialHistogramDataPoint {
	name := p.name
	if name == "" {
		name = soMetricName
	}
	hist := h.metric(name).SetEmptyExponentialHistogram()
	hist.SetAggregationTemporality(p.temporality)
	dp := hist.DataPoints().AppendEmpty()
	hoPointAttributes(dp.Attributes(), p.c)
	dp.SetStartTimestamp(pcommon.Timestamp(p.start))
	dp.SetTimestamp(pcommon.Timestamp(p.end))
	dp.SetScale(p.scale)
	dp.SetZeroCount(p.zeroCount)
	dp.Positive().SetOffset(p.offset)
	dp.Positive().BucketCounts().FromRaw(p.counts)
	n := p.zeroCount
	for _, v := range p.counts {
		n += v
	}
	dp.SetCount(n)
	dp.SetSum(float64(n))
	return dp
}

func hoPointAttributes(m pcommon.Map, c string) {
	soEndpointAttributes(m, hoEndpoint)
	m.PutStr(hoCaseAttr, c)
}

// hoFilled returns n bucket counts, each v.
func hoFilled(n int, v uint64) []uint64 {
	counts := make([]uint64, n)
	for i := range counts {
		counts[i] = v
	}
	return counts
}

// hoSink reads what the collector's file exporters wrote (protobuf
// messages, each after its 4-byte big-endian length).
type hoSink struct{ dir string }

func (s hoSink) traces(t testing.TB) []ptrace.Traces {
	t.Helper()
	var out []ptrace.Traces
	for _, msg := range hoMessages(t, filepath.Join(s.dir, "traces.pb")) {
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(msg)
		if err != nil {
			t.Fatalf("traces output: %v", err)
		}
		out = append(out, td)
	}
	return out
}

func (s hoSink) metrics(t testing.TB) []pmetric.Metrics {
	t.Helper()
	var out []pmetric.Metrics
	for _, msg := range hoMessages(t, filepath.Join(s.dir, "metrics.pb")) {
		md, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(msg)
		if err != nil {
			t.Fatalf("metrics output: %v", err)
		}
		out = append(out, md)
	}
	return out
}

// hoMessages returns the complete messages of a file that may still be
// written to.
func hoMessages(t testing.TB, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	r := bufio.NewReader(f)
	var msgs [][]byte
	for {
		var size [4]byte
		if _, err := io.ReadFull(r, size[:]); err != nil {
			return msgs
		}
		msg := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(r, msg); err != nil {
			return msgs
		}
		msgs = append(msgs, msg)
	}
}

// hoPointKey names a data point: service, metric, hostile.case, time.
func hoPointKey(res pcommon.Resource, m pmetric.Metric, attrs pcommon.Map, ts pcommon.Timestamp) string {
	svc, _ := res.Attributes().Get("service.name")
	c, _ := attrs.Get(hoCaseAttr)
	return fmt.Sprintf("%s|%s|%s|%d", svc.AsString(), m.Name(), c.AsString(), ts)
}

// hoPoints returns every histogram point of md as a message of its own
// (resource, scope, metric and the one point), protobuf-encoded, by key.
// Two points are equal when these bytes are: every field, every bit of every
// bound (NaN included), every exemplar.
func hoPoints(mds ...pmetric.Metrics) map[string][]byte {
	out := map[string][]byte{}
	for _, md := range mds {
		for _, rm := range md.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					hoSplitPoints(rm, sm, m, out)
				}
			}
		}
	}
	return out
}

func hoSplitPoints(rm pmetric.ResourceMetrics, sm pmetric.ScopeMetrics, m pmetric.Metric, out map[string][]byte) {
	one := func(fill func(pmetric.Metric)) []byte {
		md := pmetric.NewMetrics()
		nrm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().CopyTo(nrm.Resource())
		nrm.SetSchemaUrl(rm.SchemaUrl())
		nsm := nrm.ScopeMetrics().AppendEmpty()
		sm.Scope().CopyTo(nsm.Scope())
		nsm.SetSchemaUrl(sm.SchemaUrl())
		nm := nsm.Metrics().AppendEmpty()
		nm.SetName(m.Name())
		nm.SetUnit(m.Unit())
		nm.SetDescription(m.Description())
		m.Metadata().CopyTo(nm.Metadata())
		fill(nm)
		b, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
		if err != nil {
			panic(err)
		}
		return b
	}
	switch m.Type() {
	case pmetric.MetricTypeHistogram:
		for _, dp := range m.Histogram().DataPoints().All() {
			out[hoPointKey(rm.Resource(), m, dp.Attributes(), dp.Timestamp())] = one(func(nm pmetric.Metric) {
				h := nm.SetEmptyHistogram()
				h.SetAggregationTemporality(m.Histogram().AggregationTemporality())
				dp.CopyTo(h.DataPoints().AppendEmpty())
			})
		}
	case pmetric.MetricTypeExponentialHistogram:
		for _, dp := range m.ExponentialHistogram().DataPoints().All() {
			out[hoPointKey(rm.Resource(), m, dp.Attributes(), dp.Timestamp())] = one(func(nm pmetric.Metric) {
				h := nm.SetEmptyExponentialHistogram()
				h.SetAggregationTemporality(m.ExponentialHistogram().AggregationTemporality())
				dp.CopyTo(h.DataPoints().AppendEmpty())
			})
		}
	default:
	}
}

// hoSpanMessages returns every span of tds as a message of its own
// (resource, scope, span), protobuf-encoded, by span ID.
func hoSpanMessages(tds ...ptrace.Traces) map[pcommon.SpanID][]byte {
	out := map[pcommon.SpanID][]byte{}
	for _, td := range tds {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					one := ptrace.NewTraces()
					nrs := one.ResourceSpans().AppendEmpty()
					rs.Resource().CopyTo(nrs.Resource())
					nss := nrs.ScopeSpans().AppendEmpty()
					ss.Scope().CopyTo(nss.Scope())
					s.CopyTo(nss.Spans().AppendEmpty())
					b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(one)
					if err != nil {
						panic(err)
					}
					out[s.SpanID()] = b
				}
			}
		}
	}
	return out
}

// hoExemplars returns the exemplars of a point split off by hoPoints.
func hoExemplars(t testing.TB, msg []byte) pmetric.ExemplarSlice {
	t.Helper()
	md, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(msg)
	if err != nil {
		t.Fatal(err)
	}
	m := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0)
	if m.Type() == pmetric.MetricTypeHistogram {
		return m.Histogram().DataPoints().At(0).Exemplars()
	}
	return m.ExponentialHistogram().DataPoints().At(0).Exemplars()
}

// hoWithoutExemplars returns msg's point with its exemplars removed.
func hoWithoutExemplars(t testing.TB, msg []byte) []byte {
	t.Helper()
	md, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(msg)
	if err != nil {
		t.Fatal(err)
	}
	m := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0)
	if m.Type() == pmetric.MetricTypeHistogram {
		m.Histogram().DataPoints().At(0).Exemplars().RemoveIf(func(pmetric.Exemplar) bool { return true })
	} else {
		m.ExponentialHistogram().DataPoints().At(0).Exemplars().RemoveIf(func(pmetric.Exemplar) bool { return true })
	}
	b, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hoWaitPoints waits until the sink holds every key of want.
func hoWaitPoints(t testing.TB, sink hoSink, want map[string][]byte, timeout time.Duration) map[string][]byte {
	t.Helper()
	var got map[string][]byte
	deadline := time.Now().Add(timeout)
	for {
		got = hoPoints(sink.metrics(t)...)
		missing := 0
		for k := range want {
			if _, ok := got[k]; !ok {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		if time.Now().After(deadline) {
			t.Errorf("after %s the sink holds %d of the %d points sent", timeout, len(want)-missing, len(want))
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hoLatencies summarizes request round trips.
func hoLatencies(rs []hoResult) string {
	if len(rs) == 0 {
		return "none"
	}
	var worst, total time.Duration
	for _, r := range rs {
		worst = max(worst, r.elapsed)
		total += r.elapsed
	}
	return fmt.Sprintf("%d requests, mean %s, max %s", len(rs), (total / time.Duration(len(rs))).Round(10*time.Microsecond), worst.Round(10*time.Microsecond))
}

// hoMiB formats bytes as MiB.
func hoMiB(b float64) string { return strconv.FormatFloat(b/(1<<20), 'f', 1, 64) }

// hoGCLives returns the live heap the Go runtime printed after each GC cycle
// so far (GODEBUG=gctrace=1: "gc N @t s: ..., A->B->C MB, ..." where C is
// the heap marked live), in bytes, oldest first.
func hoGCLives(output string) []float64 {
	var lives []float64
	for _, line := range strings.Split(output, "\n") {
		if !strings.HasPrefix(line, "gc ") {
			continue
		}
		i := strings.Index(line, " MB, ")
		if i < 0 {
			continue
		}
		fields := strings.Fields(line[:i])
		parts := strings.Split(fields[len(fields)-1], "->")
		if len(parts) != 3 {
			continue
		}
		if v, err := strconv.ParseFloat(parts[2], 64); err == nil {
			lives = append(lives, v*(1<<20))
		}
	}
	return lives
}

// hoRSS returns a process's resident set size in bytes, from /proc.
func hoRSS(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
	if err != nil {
		return 0
	}
	var size, resident float64
	if _, err := fmt.Sscan(string(b), &size, &resident); err != nil {
		return 0
	}
	return resident * float64(os.Getpagesize())
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"

	"github.com/otelcol-exemplar/otelcol-exemplar/e2e/harness"
)

// metricsSink is an in-process OTLP/gRPC metrics backend keeping what it
// receives.
type metricsSink struct {
	pmetricotlp.UnimplementedGRPCServer
	mu  sync.Mutex
	got []pmetric.Metrics
}

func (s *metricsSink) Export(_ context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	md := pmetric.NewMetrics()
	req.Metrics().CopyTo(md)
	s.mu.Lock()
	s.got = append(s.got, md)
	s.mu.Unlock()
	return pmetricotlp.NewExportResponse(), nil
}

func (s *metricsSink) all() []pmetric.Metrics {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]pmetric.Metrics(nil), s.got...)
}

// TestTracelessSDKExemplarReplaced sends the built collector what an SDK
// with the always_on exemplar filter recording after the span ended sends:
// a span, and a histogram point whose bucket carries an exemplar with a value
// but no trace or span ID. The Prometheus exporter drops such an exemplar,
// so the bucket would show none: the point must leave with the span's.
func TestTracelessSDKExemplarReplaced(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink := &metricsSink{}
	srv := grpc.NewServer()
	pmetricotlp.RegisterGRPCServer(srv, sink)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)

	port := harness.FreePort(t)
	p := harness.StartCollector(t, "traceless", fmt.Sprintf(`
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
processors:
  exemplar:
exporters:
  otlp_grpc:
    endpoint: %s
    tls:
      insecure: true
  debug:
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      processors: [exemplar]
      exporters: [debug]
    metrics:
      receivers: [otlp]
      processors: [exemplar]
      exporters: [otlp_grpc]
`, port, l.Addr().String()))
	sender := newSOSender(t, fmt.Sprintf("127.0.0.1:%d", port))
	harness.Eventually(t, 30*time.Second, "collector accepting OTLP", func() bool {
		if p.Exited() {
			t.Fatalf("collector exited:\n%s", p.Output())
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := sender.traces.Export(ctx, ptraceotlp.NewExportRequestFromTraces(ptrace.NewTraces()))
		return err == nil
	})

	end := time.Now().Add(-2 * time.Second)
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "shop")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	tid := pcommon.TraceID{0xaa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	sid := pcommon.SpanID{0xbb, 1, 2, 3, 4, 5, 6, 7}
	sp.SetTraceID(tid)
	sp.SetSpanID(sid)
	sp.SetName("GET /a")
	sp.SetKind(ptrace.SpanKindServer)
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(end.Add(-30 * time.Millisecond)))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
	sp.Attributes().PutStr("http.request.method", "GET")
	sp.Attributes().PutStr("http.route", "/a")
	sp.Attributes().PutInt("http.response.status_code", 200)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := sender.traces.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td)); err != nil {
		t.Fatal(err)
	}

	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "shop")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("http.server.request.duration")
	m.SetUnit("s")
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	dp := h.DataPoints().AppendEmpty()
	dp.SetStartTimestamp(pcommon.NewTimestampFromTime(end.Add(-10 * time.Second)))
	dp.SetTimestamp(pcommon.NewTimestampFromTime(end.Add(time.Second)))
	dp.ExplicitBounds().FromRaw([]float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5})
	dp.BucketCounts().FromRaw([]uint64{0, 0, 0, 1, 0, 0, 0, 0, 0})
	dp.SetCount(1)
	dp.SetSum(0.0301)
	dp.Attributes().PutStr("http.request.method", "GET")
	dp.Attributes().PutStr("http.route", "/a")
	dp.Attributes().PutInt("http.response.status_code", 200)
	traceless := dp.Exemplars().AppendEmpty()
	traceless.SetDoubleValue(0.0301)
	traceless.SetTimestamp(pcommon.NewTimestampFromTime(end.Add(time.Millisecond)))
	if _, err := sender.metrics.Export(ctx, pmetricotlp.NewExportRequestFromMetrics(md)); err != nil {
		t.Fatal(err)
	}

	harness.Eventually(t, 20*time.Second, "the metric at the sink", func() bool { return len(sink.all()) > 0 })
	out := sink.all()[0].ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Histogram().DataPoints().At(0).Exemplars()
	if out.Len() != 1 {
		t.Fatalf("want the span's exemplar alone in the bucket, got %d exemplars", out.Len())
	}
	ex := out.At(0)
	if ex.TraceID() != tid || ex.SpanID() != sid {
		t.Fatalf("exemplar names trace %s span %s, want the span's %s/%s", ex.TraceID(), ex.SpanID(), tid, sid)
	}
	if ex.DoubleValue() != 0.03 {
		t.Errorf("exemplar value %v, want the span's duration 0.03", ex.DoubleValue())
	}
}

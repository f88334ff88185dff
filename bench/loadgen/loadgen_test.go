// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package loadgen

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/otelcol-exemplar/otelcol-exemplar/bench/traffic"
)

// receiver is an OTLP/gRPC endpoint that counts what it gets and refuses
// trace exports once refuseAfter spans arrived (0: never).
type receiver struct {
	ptraceotlp.UnimplementedGRPCServer
	mu          sync.Mutex
	spans       int
	points      int
	ids         map[pcommon.SpanID]bool
	refuseAfter int
}

func (r *receiver) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refuseAfter > 0 && r.spans >= r.refuseAfter {
		return ptraceotlp.NewExportResponse(), status.Error(codes.ResourceExhausted, "memory limit")
	}
	r.spans += req.Traces().SpanCount()
	rss := req.Traces().ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		spans := rss.At(i).ScopeSpans().At(0).Spans()
		for j := 0; j < spans.Len(); j++ {
			r.ids[spans.At(j).SpanID()] = true
		}
	}
	return ptraceotlp.NewExportResponse(), nil
}

type metricsReceiver struct {
	pmetricotlp.UnimplementedGRPCServer
	r *receiver
}

func (m *metricsReceiver) Export(_ context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	m.r.mu.Lock()
	defer m.r.mu.Unlock()
	m.r.points += req.Metrics().DataPointCount()
	return pmetricotlp.NewExportResponse(), nil
}

func serve(t *testing.T, r *receiver) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(srv, r)
	pmetricotlp.RegisterGRPCServer(srv, &metricsReceiver{r: r})
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return l.Addr().String()
}

func sender(t *testing.T, addr string) *Sender {
	t.Helper()
	cfg := traffic.DefaultConfig()
	cfg.Services = 5
	cfg.Rate = 2000 // metrics every 20k spans
	gen, err := traffic.New(cfg)
	require.NoError(t, err)
	s, err := Dial(addr, gen)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	require.NoError(t, s.WaitReady(context.Background(), 10*time.Second))
	return s
}

// TestSendDeliversEveryExport checks that what Send reports is what the
// endpoint received: every span once, and the metric exports due.
func TestSendDeliversEveryExport(t *testing.T) {
	r := &receiver{ids: map[pcommon.SpanID]bool{}}
	s := sender(t, serve(t, r))
	first, err := s.Send(context.Background(), 15_000)
	require.NoError(t, err)
	second, err := s.Send(context.Background(), 15_000)
	require.NoError(t, err)
	tot := first.Add(second)
	assert.GreaterOrEqual(t, tot.Spans, uint64(30_000))
	assert.Equal(t, int(tot.Spans), r.spans)
	assert.Len(t, r.ids, r.spans, "span IDs are never reused")
	assert.Positive(t, tot.Points)
	assert.Equal(t, int(tot.Points), r.points)
}

// TestSendStopsWhenRefused checks that a refused export (data lost) ends
// the run with an error instead of a measurement of less work.
func TestSendStopsWhenRefused(t *testing.T) {
	r := &receiver{ids: map[pcommon.SpanID]bool{}, refuseAfter: 5000}
	s := sender(t, serve(t, r))
	_, err := s.Send(context.Background(), 50_000)
	require.ErrorContains(t, err, "memory limit")
}

func TestSendHonoursRate(t *testing.T) {
	r := &receiver{ids: map[pcommon.SpanID]bool{}}
	s := sender(t, serve(t, r))
	s.Rate = 20_000
	start := time.Now()
	tot, err := s.Send(context.Background(), 10_000)
	require.NoError(t, err)
	// 10k spans at 20k/s: the last export is due after ~0.5 s.
	assert.GreaterOrEqual(t, time.Since(start), time.Duration(float64(tot.Spans-512)/20_000*float64(time.Second)))
}

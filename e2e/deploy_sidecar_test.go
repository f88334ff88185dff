// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"

	// The collector's OTLP exporter compresses with gzip by default.
	_ "google.golang.org/grpc/encoding/gzip"

	"github.com/otelcol-exemplar/otelcol-exemplar/e2e/harness"
)

// depBackend is an in-process OTLP/gRPC backend that keeps what it receives.
type depBackend struct {
	ptraceotlp.UnimplementedGRPCServer

	mu  sync.Mutex
	out *soOutput
}

func (b *depBackend) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.out.addTraces("backend", 1, req.Traces())
	return ptraceotlp.NewExportResponse(), nil
}

// depMetricsService adapts the backend to the metrics service, whose Export
// has another signature.
type depMetricsService struct {
	pmetricotlp.UnimplementedGRPCServer
	b *depBackend
	t *testing.T
}

func (m *depMetricsService) Export(_ context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	m.b.mu.Lock()
	defer m.b.mu.Unlock()
	m.b.out.addMetrics(m.t, "backend", 1, req.Metrics())
	return pmetricotlp.NewExportResponse(), nil
}

func (b *depBackend) counts() (spans, points int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.out.spans), len(b.out.points)
}

func (b *depBackend) snapshot() *soOutput {
	b.mu.Lock()
	defer b.mu.Unlock()
	return &soOutput{spans: append([]soOutSpan(nil), b.out.spans...), points: append([]soOutPoint(nil), b.out.points...)}
}

func startDepBackend(t *testing.T) (*depBackend, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &depBackend{out: &soOutput{}}
	srv := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(srv, b)
	pmetricotlp.RegisterGRPCServer(srv, &depMetricsService{b: b, t: t})
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return b, l.Addr().String()
}

// TestDeploySidecarExample runs examples/sidecar/config.yaml as is (its
// environment variables pointed at loopback) between a few services and an
// OTLP backend: everything arrives, replays are flagged, exemplars attached.
func TestDeploySidecarExample(t *testing.T) {
	backend, backendAddr := startDepBackend(t)
	grpcPort, health := harness.FreePort(t), harness.FreePort(t)
	env := []string{
		fmt.Sprintf("OTLP_GRPC_ENDPOINT=127.0.0.1:%d", grpcPort),
		fmt.Sprintf("OTLP_HTTP_ENDPOINT=127.0.0.1:%d", harness.FreePort(t)),
		fmt.Sprintf("HEALTH_CHECK_ENDPOINT=127.0.0.1:%d", health),
		"TELEMETRY_HOST=127.0.0.1",
		fmt.Sprintf("TELEMETRY_PORT=%d", harness.FreePort(t)),
		"BACKEND_OTLP_ENDPOINT=" + backendAddr,
		"BACKEND_OTLP_INSECURE=true",
	}
	example := filepath.Join(harness.RepoRoot(t), "examples", "sidecar", "config.yaml")
	p := harness.Start(t, "sidecar", t.TempDir(), env, harness.CollectorBinary(t), "--config="+example)
	harness.WaitHTTP(t, p, fmt.Sprintf("http://127.0.0.1:%d/", health), 30*time.Second)

	spec := soSpec{services: 3, spansPerRound: 24, rounds: 8, period: 400 * time.Millisecond, seed: 11}
	w := newSOWorkload(spec.services, spec.spansPerRound, spec.seed)
	soDrive(t, spec, w, newSOSender(t, fmt.Sprintf("127.0.0.1:%d", grpcPort)), nil, nil)
	// The example batches before export (batch processor, 200 ms).
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, pts := backend.counts()
		if s >= w.spansSent && pts >= w.pointsSent || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	r := analyzeSO(w, backend.snapshot())
	t.Logf("sidecar example:\n%s", r.summary())

	soAssertDelivery(t, r)
	if r.replaysFlagged != r.replaysSent || r.unflaggedReplays != 0 {
		t.Errorf("replays: sent %d, flagged %d, unflagged %d", r.replaysSent, r.replaysFlagged, r.unflaggedReplays)
	}
	if f, g := r.coverage(nil); soRatio(f, g) < 0.95 {
		t.Errorf("exemplars on %d of %d buckets that grew; want at least 95%%", f, g)
	}
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/otelcol-exemplar/otelcol-exemplar/e2e/harness"
	"github.com/otelcol-exemplar/otelcol-exemplar/internal/benchdata"
)

// TestThroughput measures what a collector with the exemplar processor
// handles per CPU-second: OTLP/gRPC in, memory_limiter, exemplar, batch, a
// file exporter writing to /dev/null. It is the figure behind the sizing
// guidance and runs only with EXEMPLAR_THROUGHPUT=1 (it saturates the
// machine for 20 s).
func TestThroughput(t *testing.T) {
	if os.Getenv("EXEMPLAR_THROUGHPUT") != "1" {
		t.Skip("set EXEMPLAR_THROUGHPUT=1 to measure")
	}
	withExemplar := measureThroughput(t, "memory_limiter, exemplar, batch")
	baseline := measureThroughput(t, "memory_limiter, batch")
	t.Logf("the exemplar processor costs %.2f µs of collector CPU per span (%.0f%% of the pipeline)",
		1e6/withExemplar-1e6/baseline, 100*(1-withExemplar/baseline))
}

// measureThroughput returns the spans per collector CPU-second with the
// given processors in both pipelines.
func measureThroughput(t *testing.T, processors string) float64 {
	port := harness.FreePort(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(path, []byte(fmt.Sprintf(`
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
processors:
  memory_limiter:
    check_interval: 1s
    limit_mib: 4000
  exemplar:
    index:
      max_spans: 1000000
  batch:
exporters:
  file:
    path: /dev/null
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      processors: [%[2]s]
      exporters: [file]
    metrics:
      receivers: [otlp]
      processors: [%[2]s]
      exporters: [file]
`, port, processors)), 0o600))
	// The same GC policy for both runs: with the default GOGC the 60 MB
	// index of the exemplar run alone would make its GC run less often.
	p := harness.Start(t, "collector", dir, []string{"GOGC=off", "GOMEMLIMIT=2GiB"}, harness.CollectorBinary(t), "--config="+path)
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	traces, metrics := ptraceotlp.NewGRPCClient(conn), pmetricotlp.NewGRPCClient(conn)
	harness.Eventually(t, 30*time.Second, "collector accepts OTLP", func() bool {
		_, err := traces.Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(ptrace.NewTraces()))
		return err == nil
	})

	rng := rand.New(rand.NewPCG(1, 2))
	const spansPerRequest = 1000
	template := benchdata.Traces(rng, 10, 1, spansPerRequest/10, time.Now(), time.Minute, 0)
	counts := make([][]uint64, len(benchdata.Routes)*5)
	for i := range counts {
		counts[i] = []uint64{1, 3, 9, 20, 9, 4, 3, 1, 1, 0, 0, 0, 0, 0, 0}
	}

	cpuBefore := cpuSeconds(t, p.Pid())
	start := time.Now()
	var spans, points int
	next := uint64(0)
	for time.Since(start) < 20*time.Second {
		td := ptrace.NewTraces()
		template.CopyTo(td)
		next = benchdata.Renumber(td, next)
		_, err := traces.Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(td))
		require.NoError(t, err)
		spans += spansPerRequest
		if spans%(50*spansPerRequest) == 0 {
			md := benchdata.HistogramStreams(start, time.Now(), func(i int) []uint64 { return counts[i] })
			_, err := metrics.Export(context.Background(), pmetricotlp.NewExportRequestFromMetrics(md))
			require.NoError(t, err)
			points += md.DataPointCount()
		}
	}
	elapsed := time.Since(start)
	cpu := cpuSeconds(t, p.Pid()) - cpuBefore
	p.Stop()
	t.Logf("[%s] sent %d spans and %d points in %s; collector used %.1f CPU-seconds: %.0f spans per CPU-second, %.0f spans/s wall",
		processors, spans, points, elapsed.Round(time.Millisecond), cpu, float64(spans)/cpu, float64(spans)/elapsed.Seconds())
	return float64(spans) / cpu
}

// cpuSeconds reads a process's user+system CPU time from /proc.
func cpuSeconds(t *testing.T, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, err := strconv.ParseFloat(fields[11], 64)
	require.NoError(t, err)
	stime, err := strconv.ParseFloat(fields[12], 64)
	require.NoError(t, err)
	return (utime + stime) / 100 // clock ticks
}

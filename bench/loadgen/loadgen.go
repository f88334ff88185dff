// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Package loadgen sends the traffic of package traffic to an OTLP/gRPC
// endpoint: one goroutine builds every export anew, stamped with the time it
// is built, and a few senders marshal and send them concurrently, as the
// SDKs of many services would.
package loadgen // import "github.com/otelcol-exemplar/otelcol-exemplar/bench/loadgen"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/otelcol-exemplar/otelcol-exemplar/bench/traffic"
)

// Totals counts what was sent and accepted.
type Totals struct {
	Requests, Spans, Points uint64
}

// Add returns the sum of t and o.
func (t Totals) Add(o Totals) Totals {
	return Totals{Requests: t.Requests + o.Requests, Spans: t.Spans + o.Spans, Points: t.Points + o.Points}
}

// Sender sends a generator's traffic over one connection.
type Sender struct {
	gen     *traffic.Generator
	conn    *grpc.ClientConn
	traces  ptraceotlp.GRPCClient
	metrics pmetricotlp.GRPCClient
	// Senders is how many exports are in flight at most.
	Senders int
	// Rate paces the traffic at this many spans per second; 0 sends as
	// fast as the endpoint answers.
	Rate float64
}

// Dial connects to an OTLP/gRPC endpoint (host:port, plaintext).
func Dial(endpoint string, gen *traffic.Generator) (*Sender, error) {
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", endpoint, err)
	}
	return &Sender{gen: gen, conn: conn, traces: ptraceotlp.NewGRPCClient(conn), metrics: pmetricotlp.NewGRPCClient(conn), Senders: 4}, nil
}

// Close closes the connection.
func (s *Sender) Close() error { return s.conn.Close() }

// WaitReady sends empty trace exports until the endpoint accepts one.
func (s *Sender) WaitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		_, err := s.traces.Export(ctx, ptraceotlp.NewExportRequestFromTraces(ptrace.NewTraces()))
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("endpoint not ready after %s: %w", timeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Send sends exports until the generator has produced spans more spans,
// then waits for every answer. The first refused export ends it with an
// error: a measurement with data lost measures nothing.
func (s *Sender) Send(ctx context.Context, spans uint64) (Totals, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	queue := make(chan traffic.Request, s.Senders)
	var sent [3]atomic.Uint64 // requests, spans, points
	var wg sync.WaitGroup
	for range max(s.Senders, 1) {
		wg.Go(func() {
			for r := range queue {
				if err := s.export(ctx, r); err != nil {
					cancel(err)
					continue
				}
				sent[0].Add(1)
				sent[1].Add(uint64(r.Spans))
				sent[2].Add(uint64(r.Points))
			}
		})
	}
	s.produce(ctx, queue, spans)
	close(queue)
	wg.Wait()
	tot := Totals{Requests: sent[0].Load(), Spans: sent[1].Load(), Points: sent[2].Load()}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return tot, err
	}
	return tot, ctx.Err()
}

// produce builds exports into queue until spans more spans were built or
// ctx ends, pacing them when a rate is set.
func (s *Sender) produce(ctx context.Context, queue chan<- traffic.Request, spans uint64) {
	target := s.gen.Spans() + spans
	first, start := s.gen.Spans(), time.Now()
	for s.gen.Spans() < target {
		if s.Rate > 0 {
			due := start.Add(time.Duration(float64(s.gen.Spans()-first) / s.Rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				time.Sleep(wait)
			}
		}
		r := s.gen.Next(time.Now())
		select {
		case queue <- r:
		case <-ctx.Done():
			return
		}
	}
}

func (s *Sender) export(ctx context.Context, r traffic.Request) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var err error
	if r.IsMetrics {
		_, err = s.metrics.Export(ctx, pmetricotlp.NewExportRequestFromMetrics(r.Metrics))
	} else {
		_, err = s.traces.Export(ctx, ptraceotlp.NewExportRequestFromTraces(r.Traces))
	}
	if err != nil {
		return fmt.Errorf("export of %d spans, %d points refused: %w", r.Spans, r.Points, err)
	}
	return nil
}

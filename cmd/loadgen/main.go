// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Command loadgen sends the benchmark fleet's telemetry to an OTLP/gRPC
// endpoint: trace exports of HTTP services (SERVER and CLIENT spans with
// otelhttp's attributes) and, on the fleet's metric schedule, their
// cumulative duration histograms, counting exactly the spans sent. Every
// export is built and marshalled anew.
//
//	go run ./cmd/loadgen -endpoint localhost:4317 -rate 20000 -duration 1m
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/otelcol-exemplar/otelcol-exemplar/bench/loadgen"
	"github.com/otelcol-exemplar/otelcol-exemplar/bench/traffic"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg := traffic.DefaultConfig()
	endpoint := flag.String("endpoint", "localhost:4317", "OTLP/gRPC endpoint (plaintext)")
	spans := flag.Uint64("spans", 0, "stop after this many spans (0: run for -duration)")
	duration := flag.Duration("duration", time.Minute, "how long to send when -spans is 0")
	rate := flag.Float64("rate", cfg.Rate, "spans per second to send; 0 sends as fast as the endpoint answers")
	senders := flag.Int("senders", 4, "exports in flight at most")
	flag.IntVar(&cfg.Services, "services", cfg.Services, "number of services")
	flag.IntVar(&cfg.RoutesPerService, "routes", cfg.RoutesPerService, "most routes per service")
	flag.DurationVar(&cfg.Interval, "interval", cfg.Interval, "metric export interval of every service (at -rate)")
	flag.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "traffic seed")
	flag.Parse()
	if *rate > 0 {
		cfg.Rate = *rate
	}
	gen, err := traffic.New(cfg)
	if err != nil {
		return err
	}
	s, err := loadgen.Dial(*endpoint, gen)
	if err != nil {
		return err
	}
	defer func() { _ = s.Close() }()
	s.Senders, s.Rate = *senders, *rate

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := s.WaitReady(ctx, 30*time.Second); err != nil {
		return err
	}
	n := *spans
	if n == 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
		n = ^uint64(0) >> 1
	}
	start := time.Now()
	tot, err := s.Send(ctx, n)
	elapsed := time.Since(start)
	fmt.Printf("sent %d spans and %d points in %d requests in %s (%.0f spans/s)\n",
		tot.Spans, tot.Points, tot.Requests, elapsed.Round(time.Millisecond), float64(tot.Spans)/elapsed.Seconds())
	if err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Command demo runs one of two small HTTP services, instrumented with the
// OpenTelemetry Go SDK and otelhttp, that export OTLP to a collector and
// behave like the SDKs that emit no exemplars (the SDK's exemplar filter is
// always_off unless told otherwise):
//
//	order    POST /orders calls the payment service, GET /orders/{id} answers
//	         locally; a request with qty < 1 gets 400.
//	payment  POST /payments sleeps a latency drawn across several histogram
//	         buckets and fails with 503 now and then.
//
// Flags reproduce the two failure classes the exemplar processor handles:
// -double-init registers two span processors on one TracerProvider (every
// span exported twice with identical IDs), and -trace-id-attributes records
// a duration histogram with trace_id/span_id attributes (the manual
// workaround for missing exemplars). -load-rps makes the order service drive
// itself, so nothing else is needed to produce telemetry.
//
// On SIGINT/SIGTERM the service drains, flushes both providers and prints
// one line "demo summary: {json}" with what it exported.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// config is everything the flags set.
type config struct {
	service          string
	listen           string
	paymentURL       string
	otlpEndpoint     string
	namespace        string
	instanceID       string
	metricInterval   time.Duration
	temporality      string
	spanBatchDelay   time.Duration
	exemplarFilter   string
	doubleInit       bool
	traceIDAttrRatio float64
	errorRate        float64
	badRequestRate   float64
	loadRPS          float64
	loadDuration     time.Duration
	loadConcurrency  int
	otelhttpWrap     string
	latencyScale     float64
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.StringVar(&c.service, "service", "", "service to run: order or payment")
	fs.StringVar(&c.listen, "listen", "127.0.0.1:0", "HTTP listen address (loopback)")
	fs.StringVar(&c.paymentURL, "payment-url", "http://127.0.0.1:8081", "base URL of the payment service (order only)")
	fs.StringVar(&c.otlpEndpoint, "otlp-endpoint", envOr("DEMO_OTLP_ENDPOINT", "127.0.0.1:4317"), "collector OTLP gRPC endpoint host:port (plaintext)")
	fs.StringVar(&c.namespace, "namespace", "demo", "service.namespace resource attribute")
	fs.StringVar(&c.instanceID, "instance-id", "", "service.instance.id resource attribute (default <service>-<pid>)")
	fs.DurationVar(&c.metricInterval, "metric-interval", 5*time.Second, "metric export interval")
	fs.StringVar(&c.temporality, "temporality", "cumulative", "histogram temporality: cumulative or delta")
	fs.DurationVar(&c.spanBatchDelay, "span-batch-delay", time.Second, "span batch processor schedule delay")
	fs.StringVar(&c.exemplarFilter, "sdk-exemplar-filter", "always_off", "SDK exemplar filter: always_off (like SDKs that emit none), trace_based or always_on")
	fs.BoolVar(&c.doubleInit, "double-init", false, "initialise tracing twice: two span processors on one TracerProvider, every span exported twice")
	fs.Float64Var(&c.traceIDAttrRatio, "trace-id-attributes", 0, "fraction (0..1) of business operations recorded in a histogram with trace_id/span_id attributes")
	fs.Float64Var(&c.errorRate, "error-rate", 0.05, "fraction of payments that fail with 503 (payment only)")
	fs.Float64Var(&c.badRequestRate, "bad-request-rate", 0.1, "fraction of generated orders that are invalid (400)")
	fs.Float64Var(&c.loadRPS, "load-rps", 0, "requests per second the built-in load generator sends to this order service (0: none)")
	fs.DurationVar(&c.loadDuration, "load-duration", 0, "how long the load generator runs (0: until stopped)")
	fs.IntVar(&c.loadConcurrency, "load-concurrency", 64, "most requests the load generator keeps in flight")
	fs.Float64Var(&c.latencyScale, "latency-scale", 1, "multiplies every simulated latency (payment: 2 ms .. 1.5 s)")
	fs.StringVar(&c.otelhttpWrap, "otelhttp-wrap", "route", "where the otelhttp middleware sits: route (around each route handler: server spans carry http.route) or mux (around the whole mux: they do not)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.instanceID == "" {
		c.instanceID = fmt.Sprintf("%s-%d", c.service, os.Getpid())
	}
	return c, c.validate()
}

func (c config) validate() error {
	var errs []error
	if c.service != "order" && c.service != "payment" {
		errs = append(errs, fmt.Errorf("-service must be order or payment, got %q", c.service))
	}
	if c.temporality != "cumulative" && c.temporality != "delta" {
		errs = append(errs, fmt.Errorf("-temporality must be cumulative or delta, got %q", c.temporality))
	}
	switch c.exemplarFilter {
	case "always_off", "trace_based", "always_on":
	default:
		errs = append(errs, fmt.Errorf("-sdk-exemplar-filter must be always_off, trace_based or always_on, got %q", c.exemplarFilter))
	}
	if c.otelhttpWrap != "route" && c.otelhttpWrap != "mux" {
		errs = append(errs, fmt.Errorf("-otelhttp-wrap must be route or mux, got %q", c.otelhttpWrap))
	}
	if c.metricInterval <= 0 {
		errs = append(errs, fmt.Errorf("-metric-interval must be positive, got %s", c.metricInterval))
	}
	for name, v := range map[string]float64{"-trace-id-attributes": c.traceIDAttrRatio, "-error-rate": c.errorRate, "-bad-request-rate": c.badRequestRate} {
		if v < 0 || v > 1 {
			errs = append(errs, fmt.Errorf("%s must be within [0, 1], got %v", name, v))
		}
	}
	if c.loadRPS < 0 || (c.loadRPS > 0 && c.service != "order") {
		errs = append(errs, fmt.Errorf("-load-rps needs -service order and a value >= 0, got %v", c.loadRPS))
	}
	if c.latencyScale < 0 {
		errs = append(errs, fmt.Errorf("-latency-scale must be >= 0, got %v", c.latencyScale))
	}
	if c.loadConcurrency < 1 {
		errs = append(errs, fmt.Errorf("-load-concurrency must be at least 1, got %d", c.loadConcurrency))
	}
	return errors.Join(errs...)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		log.Fatalf("demo: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, cfg)
	stop()
	if err != nil {
		log.Fatalf("demo %s: %v", cfg.service, err)
	}
}

func run(ctx context.Context, cfg config) error {
	tel, err := newTelemetry(ctx, cfg, grpcExporters(cfg))
	if err != nil {
		return err
	}
	handler, err := newService(cfg, tel)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.listen, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Printf("demo %s (%s) listening on http://%s, OTLP to %s, metrics every %s (%s), double-init=%t, trace-id-attributes=%v",
		cfg.service, cfg.instanceID, ln.Addr(), cfg.otlpEndpoint, cfg.metricInterval, cfg.temporality, cfg.doubleInit, cfg.traceIDAttrRatio)

	var load *loadResult
	loadDone := make(chan struct{})
	if cfg.loadRPS > 0 {
		go func() {
			defer close(loadDone)
			load = generateLoad(ctx, "http://"+ln.Addr().String(), cfg)
			log.Printf("demo load finished: %s", load)
		}()
	} else {
		close(loadDone)
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	}
	<-loadDone

	// Drain requests in flight, then flush: spans first, so the last metric
	// export never counts a request whose span is lost.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Printf("demo %s: http shutdown: %v", cfg.service, err)
	}
	if err := tel.shutdown(shutdownCtx); err != nil {
		log.Printf("demo %s: telemetry shutdown: %v", cfg.service, err)
	}
	fmt.Println("demo summary: " + tel.summary(cfg, load))
	return nil
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// serverDuration says who records http.server.request.duration.
type serverDuration string

const (
	// durationByOtelhttp: otelhttp's own histogram, recorded inside the
	// server span (before it ends), with the span in the context.
	durationByOtelhttp serverDuration = "otelhttp"
	// durationAfterSpan: a histogram of the same name, attributes and
	// buckets, recorded by middleware around otelhttp after the span has
	// ended, with a context that holds no span.
	durationAfterSpan serverDuration = "after-span"
)

// serviceConfig is what the service flags set.
type serviceConfig struct {
	name           string // order or payment
	listen         string
	paymentURL     string
	serverDuration serverDuration
}

func parseServiceFlags(name string, args []string) (serviceConfig, error) {
	cfg := serviceConfig{name: name}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:0", "address to listen on")
	fs.StringVar(&cfg.paymentURL, "payment-url", "", "payment-service base URL (order only)")
	mode := fs.String("server-duration", string(durationByOtelhttp), "who records the server duration: otelhttp or after-span")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	cfg.serverDuration = serverDuration(*mode)
	switch {
	case cfg.serverDuration != durationByOtelhttp && cfg.serverDuration != durationAfterSpan:
		return cfg, fmt.Errorf("-server-duration: want otelhttp or after-span, got %q", *mode)
	case name == "order" && cfg.paymentURL == "":
		return cfg, errors.New("order: -payment-url is required")
	}
	return cfg, nil
}

// serve runs one service until ctx ends, then stops taking requests and
// flushes both SDK providers (the last batch of spans and a last metric
// collection).
func serve(ctx context.Context, cfg serviceConfig) error {
	p, err := newOTLPProviders(ctx, cfg.name+"-service")
	if err != nil {
		return err
	}
	h, err := newService(cfg, p)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	log.Printf("%s-service listening on %s", cfg.name, l.Addr())
	select {
	case <-ctx.Done():
	case err = <-done:
		return fmt.Errorf("serve: %w", err)
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	return errors.Join(srv.Shutdown(stopCtx), p.shutdown(stopCtx))
}

// newService builds the instrumented handler of one service.
func newService(cfg serviceConfig, p providers) (http.Handler, error) {
	props := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	if cfg.name == "order" {
		client := &http.Client{
			Timeout: 5 * time.Second,
			Transport: otelhttp.NewTransport(http.DefaultTransport,
				otelhttp.WithTracerProvider(p.tp), otelhttp.WithMeterProvider(p.mp), otelhttp.WithPropagators(props)),
		}
		mux.HandleFunc("POST /process", processHandler(client, cfg.paymentURL))
	} else {
		mux.HandleFunc("POST /charge", chargeHandler)
	}
	opts := []otelhttp.Option{otelhttp.WithTracerProvider(p.tp), otelhttp.WithPropagators(props)}
	if cfg.serverDuration == durationByOtelhttp {
		opts = append(opts, otelhttp.WithMeterProvider(p.mp))
		return otelhttp.NewHandler(mux, "", opts...), nil
	}
	opts = append(opts, otelhttp.WithMeterProvider(noop.NewMeterProvider()))
	return newAfterSpanDuration(otelhttp.NewHandler(mux, "", opts...), mux, p.mp)
}

type order struct {
	OrderID *string  `json:"order_id"`
	Amount  *float64 `json:"amount"`
}

func processHandler(client *http.Client, paymentURL string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var o order
		if err := json.NewDecoder(r.Body).Decode(&o); err != nil || o.OrderID == nil || o.Amount == nil {
			reply(w, http.StatusBadRequest, map[string]string{"error": "order_id and amount are required"})
			return
		}
		sleep(r.Context(), 20*time.Millisecond)
		if status := charge(r.Context(), client, paymentURL, o); status < 200 || status > 299 {
			reply(w, http.StatusBadGateway, map[string]string{"error": "payment failed"})
			return
		}
		reply(w, http.StatusOK, map[string]string{"order_id": *o.OrderID, "status": "processed"})
	}
}

// charge posts the order to payment-service and returns its status code, 0
// when no answer came. Reading the body to the end ends otelhttp's client
// span.
func charge(ctx context.Context, client *http.Client, paymentURL string, o order) int {
	body, err := json.Marshal(o)
	if err != nil {
		return 0
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, paymentURL+"/charge", bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func chargeHandler(w http.ResponseWriter, r *http.Request) {
	var o order
	_ = json.NewDecoder(r.Body).Decode(&o)
	sleep(r.Context(), 40*time.Millisecond)
	if rand.Float64() < 0.1 { //nolint:gosec // a simulated failure rate, not a secret
		reply(w, http.StatusInternalServerError, map[string]string{"error": "card declined"})
		return
	}
	reply(w, http.StatusOK, map[string]any{"order_id": o.OrderID, "charged": o.Amount})
}

// sleep waits a uniform random time in [0, upTo) or until ctx ends.
func sleep(ctx context.Context, upTo time.Duration) {
	t := time.NewTimer(time.Duration(rand.Int64N(int64(upTo)))) //nolint:gosec // simulated work time
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func reply(w http.ResponseWriter, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// afterSpanDuration records http.server.request.duration around the whole
// otelhttp handler, so the server span has ended when the value is
// recorded, and it records with a fresh context: the measurement knows no
// span, as in Flask-style instrumentation that records after the request
// span is closed.
type afterSpanDuration struct {
	next     http.Handler
	mux      *http.ServeMux
	duration metric.Float64Histogram
}

// durationBounds are the semantic-convention boundaries, in seconds, that
// otelhttp uses too.
func durationBounds() []float64 {
	return []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
}

func newAfterSpanDuration(next http.Handler, mux *http.ServeMux, mp metric.MeterProvider) (http.Handler, error) {
	h, err := mp.Meter("github.com/otelcol-exemplar/otelcol-exemplar/cmd/sdkcapture").Float64Histogram(
		"http.server.request.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP server requests."),
		metric.WithExplicitBucketBoundaries(durationBounds()...),
	)
	if err != nil {
		return nil, fmt.Errorf("server duration histogram: %w", err)
	}
	return &afterSpanDuration{next: next, mux: mux, duration: h}, nil
}

func (a *afterSpanDuration) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	a.next.ServeHTTP(sw, r)
	elapsed := time.Since(start).Seconds()
	_, pattern := a.mux.Handler(r)
	a.duration.Record(context.Background(), elapsed, metric.WithAttributes(serverAttributes(r, sw.status, pattern)...))
}

// serverAttributes are the attributes otelhttp puts on its server duration.
func serverAttributes(r *http.Request, status int, pattern string) []attribute.KeyValue {
	host, portText, err := net.SplitHostPort(r.Host)
	if err != nil {
		host, portText = r.Host, ""
	}
	attrs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(r.Method),
		semconv.URLScheme("http"),
		semconv.ServerAddress(host),
	}
	if port, err := strconv.Atoi(portText); err == nil {
		attrs = append(attrs, semconv.ServerPort(port))
	}
	attrs = append(attrs,
		semconv.NetworkProtocolName("http"),
		semconv.NetworkProtocolVersion(fmt.Sprintf("%d.%d", r.ProtoMajor, r.ProtoMinor)),
		semconv.HTTPResponseStatusCode(status),
	)
	if route := routeOf(pattern); route != "" {
		attrs = append(attrs, semconv.HTTPRoute(route))
	}
	return attrs
}

// routeOf is the path of a ServeMux pattern such as "POST /charge", taken
// as otelhttp takes it: from the first slash on.
func routeOf(pattern string) string {
	if i := strings.IndexByte(pattern, '/'); i >= 0 {
		return pattern[i:]
	}
	return ""
}

// statusWriter remembers the status code the handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

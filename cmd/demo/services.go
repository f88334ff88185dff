// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

const scopeName = "github.com/otelcol-exemplar/otelcol-exemplar/cmd/demo"

// Names of the histograms recorded with trace_id/span_id attributes when
// -trace-id-attributes is above 0.
const (
	checkoutMetric = "order.checkout.duration"
	chargeMetric   = "payment.charge.duration"
)

// service holds what both services' handlers need.
type service struct {
	cfg    config
	tracer trace.Tracer
	// workaround records the duration of the business operation with the
	// span's IDs as attributes: the manual workaround for missing exemplars.
	workaround metric.Float64Histogram
	client     *http.Client
}

func newService(cfg config, tel *telemetry) (http.Handler, error) {
	s := &service{cfg: cfg, tracer: tel.tp.Tracer(scopeName)}
	name, what := chargeMetric, "Duration of charging a payment, recorded with the span's trace_id/span_id"
	if cfg.service == "order" {
		name, what = checkoutMetric, "Duration of an order checkout, recorded with the span's trace_id/span_id"
	}
	var err error
	s.workaround, err = tel.mp.Meter(scopeName).Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(what),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
	if err != nil {
		return nil, fmt.Errorf("histogram %s: %w", name, err)
	}
	otelOpts := []otelhttp.Option{
		otelhttp.WithTracerProvider(tel.tp),
		otelhttp.WithMeterProvider(tel.mp),
		otelhttp.WithPropagators(propagation.TraceContext{}),
	}
	s.client = &http.Client{
		Transport: otelhttp.NewTransport(http.DefaultTransport, otelOpts...),
		Timeout:   10 * time.Second,
	}

	routes := map[string]http.HandlerFunc{"POST /payments": s.pay}
	if cfg.service == "order" {
		routes = map[string]http.HandlerFunc{"POST /orders": s.createOrder, "GET /orders/{id}": s.getOrder}
	}
	mux := http.NewServeMux()
	// Readiness probe for scripts and tests; not instrumented.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	if cfg.otelhttpWrap == "mux" {
		// One middleware around the mux: the request has no pattern yet
		// when the span starts, so otelhttp v0.70 names the span after the
		// route but sets http.route only on the metric, not on the span.
		for pattern, h := range routes {
			mux.Handle(pattern, h)
		}
		return otelhttp.NewHandler(mux, cfg.service, otelOpts...), nil
	}
	// One middleware per route, inside the mux: the pattern is known when
	// the span starts, so span and metric both carry http.route.
	for pattern, h := range routes {
		mux.Handle(pattern, otelhttp.NewHandler(h, pattern, otelOpts...))
	}
	return mux, nil
}

type order struct {
	Item string `json:"item"`
	Qty  int    `json:"qty"`
}

// createOrder validates, then calls the payment service inside a
// "checkout" span; a failed payment is a 502.
func (s *service) createOrder(w http.ResponseWriter, r *http.Request) {
	var o order
	if err := json.NewDecoder(r.Body).Decode(&o); err != nil || o.Qty < 1 || o.Item == "" {
		http.Error(w, "invalid order: need item and qty >= 1", http.StatusBadRequest)
		return
	}
	status, err := s.traced(r.Context(), "checkout", func(ctx context.Context) (int, error) {
		// validation, stock lookup
		s.pause(ctx, time.Duration(1+rand.IntN(4))*time.Millisecond)
		body, _ := json.Marshal(map[string]any{"item": o.Item, "amount": o.Qty * 10})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(s.cfg.paymentURL, "/")+"/payments", bytes.NewReader(body))
		if err != nil {
			return http.StatusInternalServerError, err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.client.Do(req)
		if err != nil {
			return http.StatusBadGateway, err
		}
		defer func() { _ = resp.Body.Close() }()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode >= 300 {
			return http.StatusBadGateway, fmt.Errorf("payment: %s", resp.Status)
		}
		return http.StatusCreated, nil
	})
	if err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"status":"created","item":%q,"qty":%d}`+"\n", o.Item, o.Qty)
}

// getOrder answers from "memory": fast, a few milliseconds at most.
func (s *service) getOrder(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		http.Error(w, "order id must be a number", http.StatusBadRequest)
		return
	}
	s.pause(r.Context(), time.Duration(rand.IntN(3000))*time.Microsecond)
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"id":%d,"status":"paid"}`+"\n", id)
}

// pay takes a latency drawn across several histogram buckets and fails
// with 503 at -error-rate.
func (s *service) pay(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	status, err := s.traced(r.Context(), "charge", func(ctx context.Context) (int, error) {
		s.pause(ctx, paymentLatency())
		if rand.Float64() < s.cfg.errorRate {
			return http.StatusServiceUnavailable, fmt.Errorf("card processor unavailable")
		}
		return http.StatusOK, nil
	})
	if err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"status":"approved"}`+"\n")
}

// traced runs fn in an internal span. For a -trace-id-attributes share of
// calls it records the span's duration in the workaround histogram with the
// span's trace_id and span_id as attributes, the value taken from the ended
// span so that the exemplar a collector derives from it is exact.
func (s *service) traced(ctx context.Context, name string, fn func(context.Context) (int, error)) (int, error) {
	ctx, span := s.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindInternal))
	status, err := fn(ctx)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
	if s.cfg.traceIDAttrRatio > 0 && rand.Float64() < s.cfg.traceIDAttrRatio {
		if ro, ok := span.(sdktrace.ReadOnlySpan); ok {
			sc := span.SpanContext()
			s.workaround.Record(ctx, ro.EndTime().Sub(ro.StartTime()).Seconds(), metric.WithAttributes(
				attribute.String("trace_id", sc.TraceID().String()),
				attribute.String("span_id", sc.SpanID().String()),
				attribute.Bool("error", err != nil),
			))
		}
	}
	return status, err
}

// paymentLatency spreads payments over the 5 ms .. 1 s buckets of
// http.server.request.duration: mostly fast, a slow tail.
func paymentLatency() time.Duration {
	p := rand.Float64()
	var lo, hi time.Duration
	switch {
	case p < 0.45:
		lo, hi = 2*time.Millisecond, 20*time.Millisecond
	case p < 0.75:
		lo, hi = 20*time.Millisecond, 80*time.Millisecond
	case p < 0.92:
		lo, hi = 80*time.Millisecond, 300*time.Millisecond
	case p < 0.98:
		lo, hi = 300*time.Millisecond, 800*time.Millisecond
	default:
		lo, hi = 800*time.Millisecond, 1500*time.Millisecond
	}
	return lo + time.Duration(rand.Int64N(int64(hi-lo)))
}

// pause simulates work of about d (times -latency-scale).
func (s *service) pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(time.Duration(float64(d) * s.cfg.latencyScale))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// memory are providers on in-memory exporters, with the always_on
// exemplar filter so every measurement leaves an exemplar.
type memory struct {
	providers
	spans  *tracetest.InMemoryExporter
	reader *sdkmetric.ManualReader
}

func newMemory(t *testing.T) memory {
	t.Helper()
	m := memory{spans: tracetest.NewInMemoryExporter(), reader: sdkmetric.NewManualReader()}
	m.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(m.spans))
	m.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(m.reader), sdkmetric.WithExemplarFilter(exemplar.AlwaysOnFilter))
	t.Cleanup(func() { _ = m.shutdown(context.Background()) })
	return m
}

// histogram returns the data points of the named float64 histogram.
func (m memory) histogram(t *testing.T, name string) []metricdata.HistogramDataPoint[float64] {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, m.reader.Collect(context.Background(), &rm))
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			if mt.Name == name {
				return mt.Data.(metricdata.Histogram[float64]).DataPoints
			}
		}
	}
	t.Fatalf("no histogram %s", name)
	return nil
}

func startService(t *testing.T, cfg serviceConfig, p providers) *httptest.Server {
	t.Helper()
	h, err := newService(cfg, p)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func postJSON(t *testing.T, url, body string) int {
	t.Helper()
	return post(context.Background(), http.DefaultClient, url, []byte(body))
}

func TestOrderServiceAnswersLikeThePythonService(t *testing.T) {
	payment := startService(t, serviceConfig{name: "payment", serverDuration: durationByOtelhttp}, newMemory(t).providers)
	declined := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(declined.Close)

	om := newMemory(t)
	order := startService(t, serviceConfig{name: "order", paymentURL: payment.URL, serverDuration: durationByOtelhttp}, om.providers)
	failing := startService(t, serviceConfig{name: "order", paymentURL: declined.URL, serverDuration: durationByOtelhttp}, newMemory(t).providers)

	assert.Equal(t, http.StatusBadRequest, postJSON(t, order.URL+"/process", `{"order_id":"o-1"}`), "no amount")
	assert.Equal(t, http.StatusBadRequest, postJSON(t, order.URL+"/process", `{"amount":3}`), "no order_id")
	assert.Equal(t, http.StatusBadGateway, postJSON(t, failing.URL+"/process", `{"order_id":"o-2","amount":3}`))
	assert.Contains(t, []int{http.StatusOK, http.StatusBadGateway}, postJSON(t, order.URL+"/process", `{"order_id":"o-3","amount":3}`))

	// The valid request to the working payment service made a client span
	// and a client duration point; the invalid ones called nobody.
	var clients int
	for _, s := range om.spans.GetSpans() {
		if s.SpanKind == trace.SpanKindClient {
			clients++
		}
	}
	assert.Equal(t, 1, clients)
	client := om.histogram(t, "http.client.request.duration")
	require.Len(t, client, 1)
	assert.Equal(t, uint64(1), client[0].Count)
}

// The capture go-otelhttp-traceless-exemplars rests on this: with the
// always_on filter, the server duration recorded after the span carries
// exemplars without IDs, while otelhttp's own (inside the span) names it.
func TestServerDurationAfterSpanHasTracelessExemplars(t *testing.T) {
	for _, mode := range []serverDuration{durationAfterSpan, durationByOtelhttp} {
		t.Run(string(mode), func(t *testing.T) {
			m := newMemory(t)
			srv := startService(t, serviceConfig{name: "payment", serverDuration: mode}, m.providers)
			for range 5 {
				postJSON(t, srv.URL+"/charge", `{"order_id":"o-1","amount":3}`)
			}
			points := m.histogram(t, "http.server.request.duration")
			var counted uint64
			for _, dp := range points {
				counted += dp.Count
				route, _ := dp.Attributes.Value("http.route")
				assert.Equal(t, "/charge", route.AsString())
				require.NotEmpty(t, dp.Exemplars)
				for _, e := range dp.Exemplars {
					if mode == durationAfterSpan {
						assert.Empty(t, e.TraceID, "trace ID")
						assert.Empty(t, e.SpanID, "span ID")
					} else {
						assert.Len(t, e.SpanID, 8)
					}
				}
			}
			assert.Equal(t, uint64(5), counted)
		})
	}
}

func TestServerDurationAfterSpanIsLongerThanTheSpan(t *testing.T) {
	m := newMemory(t)
	srv := startService(t, serviceConfig{name: "payment", serverDuration: durationAfterSpan}, m.providers)
	postJSON(t, srv.URL+"/charge", `{"order_id":"o-1","amount":3}`)
	spans := m.spans.GetSpans()
	require.Len(t, spans, 1)
	points := m.histogram(t, "http.server.request.duration")
	require.Len(t, points, 1)
	span := spans[0].EndTime.Sub(spans[0].StartTime).Seconds()
	assert.GreaterOrEqual(t, points[0].Sum, span, "the metric's timer encloses the span")
}

func TestParseServiceFlagsRejectsWhatCannotRun(t *testing.T) {
	_, err := parseServiceFlags("order", []string{"-listen", "127.0.0.1:0"})
	require.ErrorContains(t, err, "-payment-url")
	_, err = parseServiceFlags("payment", []string{"-server-duration", "sometimes"})
	require.ErrorContains(t, err, "sometimes")
	cfg, err := parseServiceFlags("payment", []string{"-server-duration", "after-span"})
	require.NoError(t, err)
	assert.Equal(t, durationAfterSpan, cfg.serverDuration)
}

func TestEveryTenthOrderLacksItsAmount(t *testing.T) {
	for n := 1; n <= 30; n++ {
		body := string(orderBody(n, 10))
		assert.Equal(t, n%10 != 0, strings.Contains(body, `"amount"`), "request %d: %s", n, body)
		assert.Contains(t, body, `"order_id":"o-`+strconv.Itoa(n)+`"`)
	}
	assert.Contains(t, string(orderBody(10, 0)), `"amount"`, "invalid-every 0: all valid")
}

func TestLoadTalliesEveryAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		_, _ = b.ReadFrom(r.Body)
		if !strings.Contains(b.String(), "amount") {
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	t.Cleanup(srv.Close)
	res := generateLoad(context.Background(), loadConfig{url: srv.URL, rps: 200, duration: 300 * time.Millisecond, invalidEvery: 2, maxInFlight: 8})
	require.Positive(t, res.sent)
	assert.Equal(t, res.sent, res.byStatus[http.StatusOK]+res.byStatus[http.StatusBadRequest]+res.failed)
	assert.Positive(t, res.byStatus[http.StatusBadRequest])
	assert.Contains(t, res.String(), "400=")
}

func TestPortsAreDistinct(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"ports", "5"}, &out))
	ports := strings.Fields(out.String())
	require.Len(t, ports, 5)
	seen := map[string]bool{}
	for _, p := range ports {
		assert.False(t, seen[p], "port %s twice", p)
		seen[p] = true
	}
	require.Error(t, run(context.Background(), []string{"ports", "0"}, &out))
	require.Error(t, run(context.Background(), []string{"fly"}, &out))
}

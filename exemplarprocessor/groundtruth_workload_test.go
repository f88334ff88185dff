// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// The ground-truth workload: a frontend service calls two instances of a
// backend service over real HTTP on 127.0.0.1, both sides instrumented with
// otelhttp and the OpenTelemetry Go SDK. The same request plan is recorded
// once per exemplar filter.

// The two request-duration metrics otelhttp records.
const (
	gtServerMetric = "http.server.request.duration"
	gtClientMetric = "http.client.request.duration"
)

// gtRequest is one planned request.
type gtRequest struct {
	at       time.Duration // when the frontend sends it, from the run start
	instance int           // backend instance
	method   string
	path     string
	status   int
	latency  time.Duration // how long the backend handler sleeps
}

// gtRoutes are the backend routes: pattern and a path that matches it.
var gtRoutes = []struct {
	pattern, method, path string
}{
	{"GET /items/{id}", http.MethodGet, "/items/%d"},
	{"POST /orders", http.MethodPost, "/orders"},
	{"GET /search", http.MethodGet, "/search"},
	{"DELETE /items/{id}", http.MethodDelete, "/items/%d"},
}

// gtLatencies are the handler sleeps, in milliseconds, spread over the
// default buckets of http.server.request.duration and placed on both sides
// of most bounds (5, 10, 25, 50, 75, 100, 250, 500, 750 ms). A sleep never
// ends early, so the values below a bound sit a little further from it.
var gtLatencies = []float64{
	0.2, 2, 4.2, 5.3, 8, 9.3, 10.4, 18, 24.2, 25.5, 38, 49, 50.6, 62, 74, 75.6,
	88, 99, 100.8, 170, 248, 252, 380, 498, 503, 620,
}

// gtLongLatencies are the slow requests (0.75-1 s), planned early in the run.
var gtLongLatencies = []float64{745, 760, 900}

// gtPlan returns the request plan of a run lasting about d. The seed fixes
// it, so both recordings of one test execution replay the same plan.
func gtPlan(seed uint64, requests int, d time.Duration) []gtRequest {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	plan := make([]gtRequest, 0, requests)
	for i := range requests {
		route := gtRoutes[rng.IntN(len(gtRoutes))]
		status := http.StatusOK
		switch r := rng.IntN(10); {
		case r == 0:
			status = http.StatusInternalServerError
		case r <= 2:
			status = http.StatusBadRequest
		}
		path := route.path
		if route.path == "/items/%d" {
			path = fmt.Sprintf(route.path, rng.IntN(1000))
		}
		latency := gtLatencies[rng.IntN(len(gtLatencies))]
		at := time.Duration(rng.Int64N(int64(d) - int64(time.Second)))
		if i < len(gtLongLatencies) {
			latency = gtLongLatencies[i]
			at = time.Duration(i) * 50 * time.Millisecond
		}
		plan = append(plan, gtRequest{
			at:       at,
			instance: rng.IntN(2),
			method:   route.method,
			path:     path,
			status:   status,
			latency:  time.Duration(latency * float64(time.Millisecond)),
		})
	}
	return plan
}

// gtTick is one collection of every metric reader.
type gtTick struct {
	// cumulative and delta hold one ResourceMetrics per service instance.
	cumulative, delta []*metricdata.ResourceMetrics
	// after is when the collection ended: every point of the tick has a
	// time at or before it.
	after time.Time
}

// gtRecording is one recorded run of the plan.
type gtRecording struct {
	ticks []gtTick
	spans []sdktrace.ReadOnlySpan
	start time.Time
	// measured holds, when the run was tapped, the value each request's
	// span recorded on its duration metric.
	measured map[pcommon.SpanID]float64
}

// gtTap records every request-duration measurement with the span active
// when it was made. As the exemplar reservoir of every instrument it never
// samples one: the run exports no exemplars, yet the validation knows which
// bucket each request was counted in.
type gtTap struct {
	mu       sync.Mutex
	measured map[pcommon.SpanID]float64
}

// gtTapReservoir is the tap as one instrument's reservoir.
type gtTapReservoir struct {
	tap    *gtTap
	record bool // a request-duration instrument
}

func (r gtTapReservoir) Offer(ctx context.Context, _ time.Time, v exemplar.Value, _ []attribute.KeyValue) {
	sid := trace.SpanContextFromContext(ctx).SpanID()
	if !r.record || !sid.IsValid() {
		return
	}
	r.tap.mu.Lock()
	r.tap.measured[pcommon.SpanID(sid)] = v.Float64()
	r.tap.mu.Unlock()
}

func (gtTapReservoir) Collect(dest *[]exemplar.Exemplar) { *dest = (*dest)[:0] }

// view makes the tap the reservoir of every instrument.
func (tp *gtTap) view(i sdkmetric.Instrument) (sdkmetric.Stream, bool) {
	r := gtTapReservoir{tap: tp, record: i.Name == gtServerMetric || i.Name == gtClientMetric}
	return sdkmetric.Stream{
		Name:        i.Name,
		Description: i.Description,
		Unit:        i.Unit,
		ExemplarReservoirProviderSelector: func(sdkmetric.Aggregation) exemplar.ReservoirProvider {
			return func(attribute.Set) exemplar.Reservoir { return r }
		},
	}, true
}

// gtService is one instrumented service instance: its providers and readers.
type gtService struct {
	tp         *sdktrace.TracerProvider
	mp         *sdkmetric.MeterProvider
	cumulative *sdkmetric.ManualReader
	delta      *sdkmetric.ManualReader
}

func gtNewService(t *testing.T, name, instance string, filter exemplar.Filter, spans sdktrace.SpanProcessor, tap *gtTap) *gtService {
	res := resource.NewSchemaless(
		attribute.String("service.name", name),
		attribute.String("service.instance.id", instance),
		attribute.String("service.namespace", "groundtruth"),
	)
	cum := sdkmetric.NewManualReader()
	delta := sdkmetric.NewManualReader(sdkmetric.WithTemporalitySelector(func(sdkmetric.InstrumentKind) metricdata.Temporality {
		return metricdata.DeltaTemporality
	}))
	mopts := []sdkmetric.Option{
		sdkmetric.WithResource(res),
		sdkmetric.WithReader(cum),
		sdkmetric.WithReader(delta),
		sdkmetric.WithExemplarFilter(filter),
	}
	if tap != nil {
		mopts = append(mopts, sdkmetric.WithView(tap.view))
	}
	s := &gtService{
		tp: sdktrace.NewTracerProvider(
			sdktrace.WithResource(res),
			sdktrace.WithSampler(sdktrace.AlwaysSample()),
			sdktrace.WithSpanProcessor(spans),
		),
		mp:         sdkmetric.NewMeterProvider(mopts...),
		cumulative: cum,
		delta:      delta,
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_ = s.tp.Shutdown(ctx)
		_ = s.mp.Shutdown(ctx)
	})
	return s
}

// gtBackendHandler serves every route: it sleeps and answers with the
// status the frontend asks for, so the plan decides both.
func gtBackendHandler(w http.ResponseWriter, r *http.Request) {
	sleep, _ := strconv.ParseInt(r.Header.Get("X-Gt-Sleep-Ns"), 10, 64)
	status, _ := strconv.Atoi(r.Header.Get("X-Gt-Status"))
	_, _ = io.Copy(io.Discard, r.Body)
	time.Sleep(time.Duration(sleep))
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, "ok\n")
}

// How the backend wraps its routes with otelhttp.
const (
	// gtPerRoute wraps each route's handler, as otelhttp documents for
	// ServeMux: the handler then sees the matched pattern and puts
	// http.route on the span as well as on the metric.
	gtPerRoute = iota
	// gtWholeMux wraps the ServeMux: the pattern is known only after the
	// span started, so otelhttp renames the span but the span has no
	// http.route attribute, while the metric has one.
	gtWholeMux
)

// gtRecord runs plan once against fresh SDK providers, collecting every
// reader each interval while it runs, once when it is done and once more an
// interval later. With sdkExemplars the SDK attaches its own exemplars
// (trace_based filter); without, it exports none and the run is tapped.
func gtRecord(t *testing.T, plan []gtRequest, sdkExemplars bool, interval time.Duration, wiring int) *gtRecording {
	t.Helper()
	filter, tap := exemplar.TraceBasedFilter, (*gtTap)(nil)
	if !sdkExemplars {
		// always_on hands every measurement to the tap, which keeps none.
		filter, tap = exemplar.AlwaysOnFilter, &gtTap{measured: map[pcommon.SpanID]float64{}}
	}
	rec := tracetest.NewSpanRecorder()
	frontend := gtNewService(t, "frontend", "frontend-1", filter, rec, tap)
	backends := []*gtService{
		gtNewService(t, "backend", "backend-1", filter, rec, tap),
		gtNewService(t, "backend", "backend-2", filter, rec, tap),
	}
	services := []*gtService{frontend, backends[0], backends[1]}
	prop := propagation.TraceContext{}

	urls := make([]string, len(backends))
	for i, b := range backends {
		opts := []otelhttp.Option{otelhttp.WithTracerProvider(b.tp), otelhttp.WithMeterProvider(b.mp), otelhttp.WithPropagators(prop)}
		mux := http.NewServeMux()
		var handler http.Handler = mux
		for _, route := range gtRoutes {
			if wiring == gtPerRoute {
				mux.Handle(route.pattern, otelhttp.NewHandler(http.HandlerFunc(gtBackendHandler), route.pattern, opts...))
			} else {
				mux.HandleFunc(route.pattern, gtBackendHandler)
			}
		}
		if wiring == gtWholeMux {
			handler = otelhttp.NewHandler(mux, "backend", opts...)
		}
		srv := httptest.NewServer(handler) // binds 127.0.0.1
		t.Cleanup(srv.Close)
		urls[i] = srv.URL
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 64
	t.Cleanup(base.CloseIdleConnections)
	client := &http.Client{
		Transport: otelhttp.NewTransport(base,
			otelhttp.WithTracerProvider(frontend.tp), otelhttp.WithMeterProvider(frontend.mp), otelhttp.WithPropagators(prop)),
		Timeout: 10 * time.Second,
	}

	out := &gtRecording{}
	var collectErr error
	tick := func() {
		var tk gtTick
		for _, s := range services {
			for _, r := range []struct {
				reader *sdkmetric.ManualReader
				dst    *[]*metricdata.ResourceMetrics
			}{{s.cumulative, &tk.cumulative}, {s.delta, &tk.delta}} {
				rm := &metricdata.ResourceMetrics{}
				if err := r.reader.Collect(context.Background(), rm); err != nil && collectErr == nil {
					collectErr = err
				}
				*r.dst = append(*r.dst, rm)
			}
		}
		tk.after = time.Now()
		out.ticks = append(out.ticks, tk)
	}

	out.start = time.Now()
	stop := make(chan struct{})
	collectorDone := make(chan struct{})
	go func() {
		defer close(collectorDone)
		tk := time.NewTicker(interval)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				tick()
			}
		}
	}()

	var wg sync.WaitGroup
	errs := make(chan error, len(plan))
	for _, req := range plan {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Until(out.start.Add(req.at)))
			errs <- gtSend(client, urls[req.instance], req)
		}()
	}
	wg.Wait()
	close(stop)
	<-collectorDone
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	tick()
	require.NoError(t, collectErr)
	// One more collection an interval later: nothing grows, but a span that
	// arrives after the last growth can still be placed on it.
	time.Sleep(interval)
	tick()
	require.NoError(t, collectErr)
	out.spans = rec.Ended()
	if tap != nil {
		tap.mu.Lock()
		out.measured = tap.measured
		tap.mu.Unlock()
	}
	return out
}

func gtSend(client *http.Client, url string, req gtRequest) error {
	r, err := http.NewRequestWithContext(context.Background(), req.method, url+req.path, http.NoBody)
	if err != nil {
		return err
	}
	r.Header.Set("X-Gt-Sleep-Ns", strconv.FormatInt(int64(req.latency), 10))
	r.Header.Set("X-Gt-Status", strconv.Itoa(req.status))
	resp, err := client.Do(r)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err == nil && resp.StatusCode != req.status {
		err = fmt.Errorf("%s %s: status %d, planned %d", req.method, req.path, resp.StatusCode, req.status)
	}
	return err
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// The scale-out workload: several services, each reporting SERVER spans and
// the cumulative http.server.request.duration histogram those spans were
// counted in, the way an instrumented HTTP server does. The generator keeps a
// ledger of everything it sent so the tests can count exactly.

// soBounds are the semantic-convention default bucket bounds of
// http.server.request.duration (seconds).
var soBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// soBucketWeights make most requests fast and a few slow, across every bucket.
var soBucketWeights = []int{6, 10, 14, 12, 8, 8, 10, 6, 4, 3, 2, 1, 1, 1, 1}

const (
	soMetricName  = "http.server.request.duration"
	soDuplicateAt = "exemplar.duplicate_span"
)

// soEndpoint is one HTTP route of a service: the attributes shared by its
// spans and by its histogram stream.
type soEndpoint struct {
	method string
	route  string
	status int64
}

var soEndpoints = []soEndpoint{
	{"GET", "/api/items/{id}", 200},
	{"POST", "/api/orders", 201},
	{"GET", "/api/search", 500},
}

// soStream is the cumulative histogram state of one service endpoint.
type soStream struct {
	counts []uint64
	count  uint64
	sum    float64
	prev   []uint64 // counts at the previous point
}

// soSpan is a span the generator created.
type soSpan struct {
	service  string
	endpoint int
	traceID  pcommon.TraceID
	spanID   pcommon.SpanID
	start    time.Time
	end      time.Time
	round    int
}

func (s *soSpan) seconds() float64 { return float64(s.end.Sub(s.start).Nanoseconds()) / 1e9 }

// soPointKey identifies a sent data point: service, endpoint and time.
type soPointKey struct {
	service  string
	endpoint int
	time     uint64
}

// soPoint is what the generator knows about a data point it sent.
type soPoint struct {
	round  int
	start  uint64
	counts []uint64
	grown  []bool // buckets whose count grew since the stream's previous point
}

// soWorkload generates rounds of spans and points and remembers them.
type soWorkload struct {
	services       []string
	spansPerRound  int // per service
	rng            *rand.Rand
	streamStart    time.Time
	prevPointTime  time.Time
	streams        map[string][]*soStream
	pendingReplays map[string]*soSpan // replayed in the next round

	// Ledger.
	spans      map[pcommon.SpanID]*soSpan
	copiesSent map[pcommon.SpanID]int // 2 for replayed spans
	replays    int
	points     map[soPointKey]*soPoint
	spansSent  int // copies, replays included
	pointsSent int
}

func newSOWorkload(services, spansPerRound int, seed uint64) *soWorkload {
	w := &soWorkload{
		spansPerRound:  spansPerRound,
		rng:            rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		streamStart:    time.Now().Add(-time.Second),
		streams:        map[string][]*soStream{},
		pendingReplays: map[string]*soSpan{},
		spans:          map[pcommon.SpanID]*soSpan{},
		copiesSent:     map[pcommon.SpanID]int{},
		points:         map[soPointKey]*soPoint{},
	}
	w.prevPointTime = w.streamStart
	for i := range services {
		name := fmt.Sprintf("shop-%02d", i)
		w.services = append(w.services, name)
		for range soEndpoints {
			w.streams[name] = append(w.streams[name], &soStream{
				counts: make([]uint64, len(soBounds)+1),
				prev:   make([]uint64, len(soBounds)+1),
			})
		}
	}
	return w
}

// soRound is one round's payload: per service, one traces request and one
// metrics request, as each service's SDK would export them.
type soRound struct {
	traces  map[string]ptrace.Traces
	metrics map[string]pmetric.Metrics
}

// nextRound creates the spans of the requests served since the previous
// round and the histogram points that counted them. Every span ends inside
// (previous point time, this point time]. One span per service is sent
// twice: on even rounds both copies travel in the same request, on odd rounds
// the copy follows in the next round's request.
func (w *soWorkload) nextRound(round int) soRound {
	pointTime := time.Now()
	if !pointTime.After(w.prevPointTime) {
		pointTime = w.prevPointTime.Add(time.Millisecond)
	}
	window := pointTime.Sub(w.prevPointTime)
	r := soRound{traces: map[string]ptrace.Traces{}, metrics: map[string]pmetric.Metrics{}}
	for _, svc := range w.services {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		soResource(rs.Resource(), svc)
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("e2e/scaleout")
		if prev := w.pendingReplays[svc]; prev != nil {
			w.appendSpan(ss, prev)
			w.copiesSent[prev.spanID]++
			w.replays++
			delete(w.pendingReplays, svc)
		}
		var replay *soSpan
		for i := range w.spansPerRound {
			ep := w.rng.IntN(len(soEndpoints))
			b := soPickBucket(w.rng)
			d := soDurationIn(w.rng, b)
			// End strictly inside the window, never on its edges.
			end := w.prevPointTime.Add(time.Duration(float64(window) * (0.05 + 0.9*w.rng.Float64())))
			sp := &soSpan{
				service:  svc,
				endpoint: ep,
				traceID:  soTraceID(w.rng),
				spanID:   soSpanID(w.rng),
				start:    end.Add(-d),
				end:      end,
				round:    round,
			}
			w.spans[sp.spanID] = sp
			w.copiesSent[sp.spanID] = 1
			w.appendSpan(ss, sp)
			st := w.streams[svc][ep]
			st.counts[soBucketOf(sp.seconds())]++
			st.count++
			st.sum += sp.seconds()
			if i == 0 {
				replay = sp
			}
		}
		if round%2 == 0 {
			w.appendSpan(ss, replay)
			w.copiesSent[replay.spanID]++
			w.replays++
		} else {
			w.pendingReplays[svc] = replay
		}
		w.spansSent += ss.Spans().Len()
		r.traces[svc] = td

		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		soResource(rm.Resource(), svc)
		sm := rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName("e2e/scaleout")
		m := sm.Metrics().AppendEmpty()
		m.SetName(soMetricName)
		m.SetUnit("s")
		m.SetDescription("Duration of HTTP server requests.")
		h := m.SetEmptyHistogram()
		h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for ep, st := range w.streams[svc] {
			dp := h.DataPoints().AppendEmpty()
			soEndpointAttributes(dp.Attributes(), soEndpoints[ep])
			dp.SetStartTimestamp(pcommon.NewTimestampFromTime(w.streamStart))
			dp.SetTimestamp(pcommon.NewTimestampFromTime(pointTime))
			dp.ExplicitBounds().FromRaw(soBounds)
			dp.BucketCounts().FromRaw(st.counts)
			dp.SetCount(st.count)
			dp.SetSum(st.sum)
			p := &soPoint{
				round:  round,
				start:  uint64(dp.StartTimestamp()),
				counts: append([]uint64(nil), st.counts...),
				grown:  make([]bool, len(st.counts)),
			}
			for b := range st.counts {
				p.grown[b] = st.counts[b] > st.prev[b]
			}
			copy(st.prev, st.counts)
			w.points[soPointKey{svc, ep, uint64(dp.Timestamp())}] = p
			w.pointsSent++
		}
		r.metrics[svc] = md
	}
	w.prevPointTime = pointTime
	return r
}

func (w *soWorkload) appendSpan(ss ptrace.ScopeSpans, sp *soSpan) {
	s := ss.Spans().AppendEmpty()
	ep := soEndpoints[sp.endpoint]
	s.SetTraceID(sp.traceID)
	s.SetSpanID(sp.spanID)
	s.SetName(ep.method + " " + ep.route)
	s.SetKind(ptrace.SpanKindServer)
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(sp.start))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(sp.end))
	soEndpointAttributes(s.Attributes(), ep)
	s.Attributes().PutStr("url.scheme", "http")
	if ep.status >= 500 {
		s.Status().SetCode(ptrace.StatusCodeError)
	}
}

func soResource(r pcommon.Resource, svc string) {
	r.Attributes().PutStr("service.namespace", "shop")
	r.Attributes().PutStr("service.name", svc)
	r.Attributes().PutStr("service.instance.id", svc+"-7d9f-1")
}

func soEndpointAttributes(m pcommon.Map, ep soEndpoint) {
	m.PutStr("http.request.method", ep.method)
	m.PutStr("http.route", ep.route)
	m.PutInt("http.response.status_code", ep.status)
}

func soPickBucket(rng *rand.Rand) int {
	total := 0
	for _, w := range soBucketWeights {
		total += w
	}
	n := rng.IntN(total)
	for b, w := range soBucketWeights {
		if n < w {
			return b
		}
		n -= w
	}
	return len(soBucketWeights) - 1
}

// soDurationIn returns a duration well inside bucket b (upper-inclusive
// buckets), away from the bounds so unit conversion cannot move it.
func soDurationIn(rng *rand.Rand, b int) time.Duration {
	lo, hi := 0.0, 0.0
	switch {
	case b == 0:
		lo, hi = 0.0005, soBounds[0]
	case b == len(soBounds):
		lo, hi = soBounds[b-1], soBounds[b-1]*1.3
	default:
		lo, hi = soBounds[b-1], soBounds[b]
	}
	v := lo + (hi-lo)*(0.1+0.8*rng.Float64())
	return time.Duration(v * 1e9)
}

// soBucketOf returns the explicit bucket of v: (-inf,b0], (b0,b1], …, (b_last,+inf).
func soBucketOf(v float64) int {
	for i, b := range soBounds {
		if v <= b {
			return i
		}
	}
	return len(soBounds)
}

func soTraceID(rng *rand.Rand) pcommon.TraceID {
	var id pcommon.TraceID
	binary.BigEndian.PutUint64(id[:8], rng.Uint64()|1)
	binary.BigEndian.PutUint64(id[8:], rng.Uint64()|1)
	return id
}

func soSpanID(rng *rand.Rand) pcommon.SpanID {
	var id pcommon.SpanID
	binary.BigEndian.PutUint64(id[:], rng.Uint64()|1)
	return id
}

// soSender exports OTLP over gRPC to one collector.
type soSender struct {
	conn    *grpc.ClientConn
	traces  ptraceotlp.GRPCClient
	metrics pmetricotlp.GRPCClient
}

func newSOSender(t testing.TB, endpoint string) *soSender {
	t.Helper()
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc client for %s: %v", endpoint, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &soSender{conn: conn, traces: ptraceotlp.NewGRPCClient(conn), metrics: pmetricotlp.NewGRPCClient(conn)}
}

func (s *soSender) sendTraces(t testing.TB, r soRound, services []string) {
	t.Helper()
	for _, svc := range services {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := s.traces.Export(ctx, ptraceotlp.NewExportRequestFromTraces(r.traces[svc]))
		cancel()
		if err != nil {
			t.Fatalf("export traces of %s: %v", svc, err)
		}
	}
}

func (s *soSender) sendMetrics(t testing.TB, r soRound, services []string) {
	t.Helper()
	for _, svc := range services {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := s.metrics.Export(ctx, pmetricotlp.NewExportRequestFromMetrics(r.metrics[svc]))
		cancel()
		if err != nil {
			t.Fatalf("export metrics of %s: %v", svc, err)
		}
	}
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Package benchdata builds the realistic batches the benchmarks share, so the
// exemplar processor and the spanmetrics connector are measured on the same
// data: SERVER spans of HTTP services, 100 per scope, 8 attributes each.
package benchdata // import "github.com/otelcol-exemplar/otelcol-exemplar/internal/benchdata"

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Routes are the http.route values spans and points use.
var Routes = []string{"/api/orders", "/api/orders/{id}", "/api/cart", "/api/pay", "/api/users/{id}", "/health", "/api/search", "/api/items/{id}"}

// Statuses are the status codes spans and points use.
var Statuses = []int64{200, 200, 200, 200, 201, 400, 404, 500}

// Bounds are otelhttp's default http.server.request.duration bounds
// (seconds): 14 bounds, 15 buckets.
var Bounds = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// Service returns the name of service i.
func Service(i int) string { return fmt.Sprintf("service-%d", i) }

// Duration draws a log-normal-ish latency: most requests fast, a tail.
func Duration(rng *rand.Rand) time.Duration {
	ms := rng.ExpFloat64() * 30
	if rng.IntN(20) == 0 {
		ms += rng.ExpFloat64() * 800
	}
	return time.Duration(ms*1e6) + 200*time.Microsecond
}

// Traces builds services×scopes×spansPerScope SERVER spans ending in
// (end-window, end], each with 8 attributes. IDs are numbered from idBase.
func Traces(rng *rand.Rand, services, scopes, spansPerScope int, end time.Time, window time.Duration, idBase uint64) ptrace.Traces {
	td := ptrace.NewTraces()
	id := idBase
	for s := range services {
		rs := td.ResourceSpans().AppendEmpty()
		res := rs.Resource().Attributes()
		res.PutStr("service.name", Service(s))
		res.PutStr("service.namespace", "shop")
		res.PutStr("service.instance.id", fmt.Sprintf("%s-0", Service(s)))
		res.PutStr("telemetry.sdk.language", "go")
		for sc := range scopes {
			ss := rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName(fmt.Sprintf("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp/%d", sc))
			ss.Scope().SetVersion("0.70.0")
			spans := ss.Spans()
			spans.EnsureCapacity(spansPerScope)
			for range spansPerScope {
				id++
				sp := spans.AppendEmpty()
				SetIDs(sp, id)
				route := Routes[rng.IntN(len(Routes))]
				sp.SetName("GET " + route)
				sp.SetKind(ptrace.SpanKindServer)
				e := end.Add(-time.Duration(rng.Int64N(int64(window))))
				sp.SetStartTimestamp(pcommon.NewTimestampFromTime(e.Add(-Duration(rng))))
				sp.SetEndTimestamp(pcommon.NewTimestampFromTime(e))
				a := sp.Attributes()
				a.EnsureCapacity(8)
				a.PutStr("http.request.method", "GET")
				a.PutStr("http.route", route)
				a.PutInt("http.response.status_code", Statuses[rng.IntN(len(Statuses))])
				a.PutStr("url.scheme", "http")
				a.PutStr("server.address", "shop.example")
				a.PutInt("server.port", 8080)
				a.PutStr("network.protocol.version", "1.1")
				a.PutStr("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) bench")
			}
		}
	}
	return td
}

// SetIDs gives a span trace and span IDs derived from n.
func SetIDs(sp ptrace.Span, n uint64) {
	var tid pcommon.TraceID
	binary.BigEndian.PutUint64(tid[:8], n*0x9e3779b97f4a7c15)
	binary.BigEndian.PutUint64(tid[8:], n)
	var sid pcommon.SpanID
	binary.BigEndian.PutUint64(sid[:], n*0xbf58476d1ce4e5b9|1)
	sp.SetTraceID(tid)
	sp.SetSpanID(sid)
}

// Renumber gives every span of td fresh IDs from idBase on and returns the
// next free number.
func Renumber(td ptrace.Traces, idBase uint64) uint64 {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				idBase++
				SetIDs(spans.At(k), idBase)
			}
		}
	}
	return idBase
}

// HistogramStreams builds one cumulative http.server.request.duration point
// per (route, status) of service 0, with the given counts per bucket.
func HistogramStreams(start, now time.Time, counts func(stream int) []uint64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	res := rm.Resource().Attributes()
	res.PutStr("service.name", Service(0))
	res.PutStr("service.namespace", "shop")
	res.PutStr("service.instance.id", Service(0)+"-0")
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
	m := sm.Metrics().AppendEmpty()
	m.SetName("http.server.request.duration")
	m.SetUnit("s")
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	i := 0
	for _, route := range Routes {
		for _, status := range []int64{200, 201, 400, 404, 500} {
			dp := h.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
			dp.SetTimestamp(pcommon.NewTimestampFromTime(now))
			dp.ExplicitBounds().FromRaw(Bounds)
			c := counts(i)
			dp.BucketCounts().FromRaw(c)
			var n uint64
			for _, x := range c {
				n += x
			}
			dp.SetCount(n)
			dp.SetSum(float64(n) * 0.03)
			a := dp.Attributes()
			a.PutStr("http.request.method", "GET")
			a.PutStr("http.route", route)
			a.PutInt("http.response.status_code", status)
			a.PutStr("url.scheme", "http")
			a.PutStr("network.protocol.version", "1.1")
			i++
		}
	}
	return md
}

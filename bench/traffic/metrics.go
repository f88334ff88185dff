// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package traffic // import "github.com/otelcol-exemplar/otelcol-exemplar/bench/traffic"

import (
	"math"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

var (
	// durationBounds are otelhttp's bounds for the request duration
	// histograms (seconds): 14 bounds, 15 buckets.
	durationBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
	// sizeBounds are the SDK's default bounds, which otelhttp's body size
	// histograms use: a histogram no exemplar rule selects.
	sizeBounds = []float64{0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000}
)

// streamKey is the attribute values of one histogram stream: route is the
// http.route of server streams and the server.address of client streams.
type streamKey struct {
	method, route string
	port, status  int64
}

// stream is one cumulative histogram stream as the SDK aggregates it.
type stream struct {
	key           streamKey
	counts        []uint64
	count         uint64
	sum, min, max float64
}

// histograms is one histogram metric of one service: its streams in order
// of first observation.
type histograms struct {
	bounds  []float64
	byKey   map[streamKey]int
	streams []*stream
}

func newHistograms(bounds []float64) *histograms {
	return &histograms{bounds: bounds, byKey: map[streamKey]int{}}
}

// record adds one observation, upper-inclusive bounds as the SDK counts.
func (h *histograms) record(k streamKey, v float64) {
	i, ok := h.byKey[k]
	if !ok {
		i = len(h.streams)
		h.byKey[k] = i
		h.streams = append(h.streams, &stream{key: k, counts: make([]uint64, len(h.bounds)+1), min: math.Inf(1), max: math.Inf(-1)})
	}
	s := h.streams[i]
	b := len(h.bounds)
	for j, bound := range h.bounds {
		if v <= bound {
			b = j
			break
		}
	}
	s.counts[b]++
	s.count++
	s.sum += v
	s.min = min(s.min, v)
	s.max = max(s.max, v)
}

// streamAttrs writes a stream's point attributes.
type streamAttrs func(a pcommon.Map, k streamKey)

func serverPointAttrs(host string) streamAttrs {
	return func(a pcommon.Map, k streamKey) {
		a.EnsureCapacity(8)
		a.PutStr("http.request.method", k.method)
		a.PutStr("url.scheme", "http")
		a.PutInt("http.response.status_code", k.status)
		a.PutStr("http.route", k.route)
		a.PutStr("network.protocol.name", "http")
		a.PutStr("network.protocol.version", "1.1")
		a.PutStr("server.address", host)
		a.PutInt("server.port", 8080)
	}
}

func clientPointAttrs(a pcommon.Map, k streamKey) {
	a.EnsureCapacity(7)
	a.PutStr("http.request.method", k.method)
	a.PutStr("url.scheme", "http")
	a.PutInt("http.response.status_code", k.status)
	a.PutStr("server.address", k.route)
	a.PutInt("server.port", k.port)
	a.PutStr("network.protocol.name", "http")
	a.PutStr("network.protocol.version", "1.1")
}

// metricsExport builds one service's metric export at now: every stream of
// its histograms, cumulative since start.
func (s *service) metricsExport(start, now time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	putResource(rm.Resource().Attributes(), s.resource)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(scopeName)
	sm.Scope().SetVersion(scopeVersion)
	ms := sm.Metrics()
	w := window{pcommon.NewTimestampFromTime(start), pcommon.NewTimestampFromTime(now)}
	appendHistogram(ms, serverDuration, s.server, serverPointAttrs(s.host), w)
	appendHistogram(ms, serverBodySize, s.bodySize, serverPointAttrs(s.host), w)
	if len(s.client.streams) > 0 {
		appendHistogram(ms, clientDuration, s.client, clientPointAttrs, w)
	}
	return md
}

// histogramMeta names a histogram metric.
type histogramMeta struct{ name, unit, description string }

var (
	serverDuration = histogramMeta{"http.server.request.duration", "s", "Duration of HTTP server requests."}
	serverBodySize = histogramMeta{"http.server.response.body.size", "By", "Size of HTTP server response bodies."}
	clientDuration = histogramMeta{"http.client.request.duration", "s", "Duration of HTTP client requests."}
)

// window is a cumulative point's start and time.
type window struct{ start, time pcommon.Timestamp }

func appendHistogram(ms pmetric.MetricSlice, meta histogramMeta, h *histograms, attrs streamAttrs, w window) {
	m := ms.AppendEmpty()
	m.SetName(meta.name)
	m.SetUnit(meta.unit)
	m.SetDescription(meta.description)
	hist := m.SetEmptyHistogram()
	hist.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	dps := hist.DataPoints()
	dps.EnsureCapacity(len(h.streams))
	for _, st := range h.streams {
		dp := dps.AppendEmpty()
		dp.SetStartTimestamp(w.start)
		dp.SetTimestamp(w.time)
		attrs(dp.Attributes(), st.key)
		dp.ExplicitBounds().FromRaw(h.bounds)
		dp.BucketCounts().FromRaw(st.counts)
		dp.SetCount(st.count)
		dp.SetSum(st.sum)
		dp.SetMin(st.min)
		dp.SetMax(st.max)
	}
}

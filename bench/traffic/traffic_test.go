// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package traffic

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func smallConfig() Config {
	cfg := DefaultConfig()
	cfg.Services = 5
	cfg.Rate = 2000
	cfg.Interval = time.Second
	return cfg
}

// run feeds n requests at a clock advancing 10 ms per request.
func run(t *testing.T, g *Generator, n int, each func(Request)) {
	t.Helper()
	now := t0
	for range n {
		now = now.Add(10 * time.Millisecond)
		each(g.Next(now))
	}
}

func marshal(t *testing.T, r Request) []byte {
	t.Helper()
	var b []byte
	var err error
	if r.IsMetrics {
		b, err = (&pmetric.ProtoMarshaler{}).MarshalMetrics(r.Metrics)
	} else {
		b, err = (&ptrace.ProtoMarshaler{}).MarshalTraces(r.Traces)
	}
	require.NoError(t, err)
	return b
}

func TestSameConfigSameTraffic(t *testing.T) {
	a, err := New(smallConfig())
	require.NoError(t, err)
	b, err := New(smallConfig())
	require.NoError(t, err)
	var other []byte
	run(t, a, 50, func(r Request) { other = append(other, marshal(t, r)...) })
	var same []byte
	run(t, b, 50, func(r Request) { same = append(same, marshal(t, r)...) })
	assert.True(t, bytes.Equal(other, same), "same seed and clock must give the same bytes")

	cfg := smallConfig()
	cfg.Seed = 2
	c, err := New(cfg)
	require.NoError(t, err)
	var differ []byte
	run(t, c, 50, func(r Request) { differ = append(differ, marshal(t, r)...) })
	assert.False(t, bytes.Equal(differ, same), "another seed must give other traffic")
}

// key names a duration stream as this test models it, independently of
// the generator: service, span kind and the stream's attributes.
func streamOf(service string, kind ptrace.SpanKind, attrs pcommon.Map) string {
	get := func(k string) string {
		v, _ := attrs.Get(k)
		return v.AsString()
	}
	if kind == ptrace.SpanKindServer {
		return fmt.Sprintf("%s|server|%s|%s|%s", service, get("http.request.method"), get("http.route"), get("http.response.status_code"))
	}
	return fmt.Sprintf("%s|client|%s|%s|%s|%s", service, get("http.request.method"), get("server.address"), get("server.port"), get("http.response.status_code"))
}

func serviceOf(res pcommon.Map) string {
	v, _ := res.Get("service.name")
	return v.Str()
}

// TestMetricsCountTheSpans checks that the last metric export of every
// service counts exactly the spans sent before it, per stream and bucket,
// and that spans carry what the default exemplar rules join on.
func TestMetricsCountTheSpans(t *testing.T) {
	g, err := New(smallConfig())
	require.NoError(t, err)
	seen := map[string][]uint64{} // stream -> bucket counts of the spans sent
	last := map[string]map[string][]uint64{}
	exports := map[string]int{}
	var spans uint64
	run(t, g, 150, func(r Request) {
		if r.IsMetrics {
			rm := r.Metrics.ResourceMetrics().At(0)
			svc := serviceOf(rm.Resource().Attributes())
			exports[svc]++
			last[svc] = pointsOf(t, rm, svc)
			// Every stream exported so far counts every span of it.
			for stream, counts := range last[svc] {
				assert.Equal(t, seen[stream], counts, stream)
			}
			return
		}
		spans += uint64(r.Spans)
		rs := r.Traces.ResourceSpans().At(0)
		svc := serviceOf(rs.Resource().Attributes())
		sl := rs.ScopeSpans().At(0).Spans()
		require.LessOrEqual(t, sl.Len(), 512)
		for i := 0; i < sl.Len(); i++ {
			sp := sl.At(i)
			requireJoinAttributes(t, sp)
			d := sp.EndTimestamp().AsTime().Sub(sp.StartTimestamp().AsTime()).Seconds()
			st := streamOf(svc, sp.Kind(), sp.Attributes())
			if seen[st] == nil {
				seen[st] = make([]uint64, len(durationBounds)+1)
			}
			seen[st][bucketOf(d)]++
		}
	})
	require.Len(t, exports, 5, "every service exported metrics")
	intervals := int(spans / smallConfig().IntervalSpans())
	for svc, n := range exports {
		assert.InDelta(t, intervals, n, 1, "%s exports once per interval", svc)
	}
}

func requireJoinAttributes(t *testing.T, sp ptrace.Span) {
	t.Helper()
	keys := []string{"http.request.method", "http.response.status_code", "server.address", "server.port"}
	if sp.Kind() == ptrace.SpanKindServer {
		keys = append(keys, "http.route", "url.path", "user_agent.original")
	}
	for _, k := range keys {
		_, ok := sp.Attributes().Get(k)
		require.True(t, ok, "%s span lacks %s", sp.Kind(), k)
	}
	require.False(t, sp.TraceID().IsEmpty())
	require.False(t, sp.SpanID().IsEmpty())
	require.Less(t, sp.StartTimestamp(), sp.EndTimestamp())
}

func bucketOf(v float64) int {
	for i, b := range durationBounds {
		if v <= b {
			return i
		}
	}
	return len(durationBounds)
}

// pointsOf returns the bucket counts of every duration point of rm.
func pointsOf(t *testing.T, rm pmetric.ResourceMetrics, svc string) map[string][]uint64 {
	t.Helper()
	out := map[string][]uint64{}
	ms := rm.ScopeMetrics().At(0).Metrics()
	for i := 0; i < ms.Len(); i++ {
		m := ms.At(i)
		kind := ptrace.SpanKindServer
		switch m.Name() {
		case "http.client.request.duration":
			kind = ptrace.SpanKindClient
		case "http.server.request.duration":
		default:
			continue
		}
		dps := m.Histogram().DataPoints()
		for j := 0; j < dps.Len(); j++ {
			dp := dps.At(j)
			var n uint64
			for _, c := range dp.BucketCounts().AsRaw() {
				n += c
			}
			require.Equal(t, dp.Count(), n)
			out[streamOf(svc, kind, dp.Attributes())] = dp.BucketCounts().AsRaw()
		}
	}
	return out
}

// BenchmarkGenerate is what the load generator spends per span: building a
// trace export and marshalling it.
func BenchmarkGenerate(b *testing.B) {
	g, err := New(DefaultConfig())
	require.NoError(b, err)
	now := t0
	var spans, size int
	for b.Loop() {
		now = now.Add(25 * time.Millisecond)
		r := g.Next(now)
		if r.IsMetrics {
			continue
		}
		buf, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(r.Traces)
		require.NoError(b, err)
		spans += r.Spans
		size += len(buf)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(spans), "ns/span")
	b.ReportMetric(float64(size)/float64(spans), "B/span-proto")
	b.ReportMetric(float64(g.Streams()), "streams")
}

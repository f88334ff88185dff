// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"
)

// BenchmarkTailSamplingHoldMemory measures what the delta hold costs per
// data point it holds: behind a tail sampler it must hold every delta batch
// for longer than decision_wait, so it holds (points per second) x delay
// points at once. Batches look like one SDK export of
// http.server.request.duration: one resource with the SDK's attributes,
// one scope, points with five attributes and the 15 default buckets; each
// is decoded from its protobuf encoding, as the OTLP receiver does, so the
// held copies keep their own strings alive as they would in a collector.
//
//	go test -tags e2e -run '^$' -bench TailSamplingHoldMemory -benchtime 3x ./e2e/
func BenchmarkTailSamplingHoldMemory(b *testing.B) {
	const held = 100_000 // delta_hold.max_data_points' default
	for _, perBatch := range []int{10, 100} {
		b.Run(fmt.Sprintf("points_per_export=%d", perBatch), func(b *testing.B) {
			wire, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(tsHoldBatch(perBatch))
			if err != nil {
				b.Fatal(err)
			}
			var heap, spent float64
			for range b.N {
				h, d := tsHoldOnce(b, wire, perBatch, held)
				heap += h
				spent += d
			}
			b.ReportMetric(heap/float64(b.N)/held, "B/held-point")
			b.ReportMetric(spent/float64(b.N)/held, "ns/held-point")
			b.ReportMetric(0, "ns/op") // one op is a whole fill; the figures above are per point
		})
	}
}

// tsHoldOnce fills a fresh processor's hold with n points from batches of
// perBatch points decoded from wire, and returns the live heap it grew by
// and the time ConsumeMetrics took.
func tsHoldOnce(b *testing.B, wire []byte, perBatch, n int) (heapBytes, nanos float64) {
	b.Helper()
	f := exemplarprocessor.NewFactory()
	cfg := f.CreateDefaultConfig().(*exemplarprocessor.Config)
	cfg.DeltaHold.Delay = time.Minute // nothing is released while filling
	cfg.DeltaHold.MaxDataPoints = n
	ctx := context.Background()
	p, err := f.CreateMetrics(ctx, processortest.NewNopSettings(f.Type()), cfg, consumertest.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Start(ctx, componenttest.NewNopHost()); err != nil {
		b.Fatal(err)
	}
	before := tsLiveHeap()
	var spent time.Duration
	for held := 0; held+perBatch <= n; held += perBatch {
		md, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(wire)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := p.ConsumeMetrics(ctx, md); err != nil {
			b.Fatal(err)
		}
		spent += time.Since(start)
	}
	nanos = float64(spent.Nanoseconds())
	heapBytes = float64(tsLiveHeap()) - float64(before)
	b.StopTimer()
	if err := p.Shutdown(ctx); err != nil { // delivers everything held
		b.Fatal(err)
	}
	b.StartTimer()
	return heapBytes, nanos
}

// tsLiveHeap is the live heap after the objects unreachable now are freed:
// two collections, because a finalizer keeps its object for one more.
func tsLiveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// tsHoldBatch is one SDK export of n delta http.server.request.duration
// points.
func tsHoldBatch(n int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	for k, v := range map[string]string{
		"service.name": "checkout", "service.namespace": "shop", "service.instance.id": "checkout-7d9f8b6c4-x2x7q",
		"telemetry.sdk.language": "go", "telemetry.sdk.name": "opentelemetry", "telemetry.sdk.version": "1.45.0",
	} {
		rm.Resource().Attributes().PutStr(k, v)
	}
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
	sm.Scope().SetVersion("0.70.0")
	m := sm.Metrics().AppendEmpty()
	m.SetName("http.server.request.duration")
	m.SetUnit("s")
	m.SetDescription("Duration of HTTP server requests.")
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	now := time.Now()
	for i := range n {
		dp := h.DataPoints().AppendEmpty()
		dp.Attributes().PutStr("http.request.method", "GET")
		dp.Attributes().PutStr("http.route", fmt.Sprintf("/api/v1/items/%d/{id}", i))
		dp.Attributes().PutInt("http.response.status_code", 200)
		dp.Attributes().PutStr("url.scheme", "http")
		dp.Attributes().PutStr("network.protocol.version", "1.1")
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Minute)))
		dp.SetTimestamp(pcommon.NewTimestampFromTime(now))
		dp.ExplicitBounds().FromRaw([]float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10})
		dp.BucketCounts().FromRaw([]uint64{3, 8, 20, 31, 12, 9, 14, 5, 2, 1, 0, 0, 0, 0, 0})
		dp.SetCount(105)
		dp.SetSum(9.42)
		dp.SetMin(0.0012)
		dp.SetMax(0.93)
	}
	return md
}

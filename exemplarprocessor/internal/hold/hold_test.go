// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package hold

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// metrics returns metrics named name with points histogram data points.
func metrics(name string, points int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(name)
	dps := m.SetEmptyHistogram().DataPoints()
	for range points {
		dps.AppendEmpty().BucketCounts().FromRaw([]uint64{1, 2})
	}
	return md
}

func name(md pmetric.Metrics) string {
	return md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Name()
}

func names(hs []Held) []string {
	var out []string
	for _, h := range hs {
		out = append(out, name(h.MD))
	}
	return out
}

func TestBoundOnDataPoints(t *testing.T) {
	for _, tc := range []struct {
		name    string
		batches []int // data points per batch, added in order
		held    []bool
		points  int
	}{
		{"fits", []int{2, 3}, []bool{true, true}, 5},
		{"a batch that does not fit is refused", []int{3, 3}, []bool{true, false}, 3},
		{"later smaller batches still fit", []int{3, 3, 2}, []bool{true, false, true}, 5},
		{"larger than the bound alone", []int{6, 1}, []bool{false, true}, 1},
		{"no data points", []int{0, 5, 0}, []bool{true, true, true}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := New(time.Second, 5)
			for i, n := range tc.batches {
				assert.Equal(t, tc.held[i], q.Add(metrics("m", n), t0), "batch %d", i)
			}
			assert.Equal(t, tc.points, q.Points())
			var want int
			for _, held := range tc.held {
				if held {
					want++
				}
			}
			assert.Len(t, q.Drain(), want, "what was accepted is held")
		})
	}
}

func TestDueOldestFirst(t *testing.T) {
	q := New(10*time.Second, 100)
	require.True(t, q.Add(metrics("a", 1), t0))
	require.True(t, q.Add(metrics("b", 1), t0.Add(time.Second)))
	require.True(t, q.Add(metrics("c", 1), t0.Add(2*time.Second)))

	assert.Empty(t, q.Due(t0.Add(9*time.Second)), "nothing is due before its delay")
	assert.Equal(t, []string{"a", "b"}, names(q.Due(t0.Add(11*time.Second))), "due at its delay, oldest first")
	assert.Equal(t, 1, q.Points())
	assert.Empty(t, q.Due(t0.Add(11*time.Second)), "released once")
	assert.Equal(t, []string{"c"}, names(q.Due(t0.Add(time.Hour))))
	assert.Zero(t, q.Points())
}

// Batches that could not be delivered go back to the front, due at once,
// in their order, and count against the bound again.
func TestRetry(t *testing.T) {
	q := New(10*time.Second, 10)
	for i, n := range []string{"a", "b", "c"} {
		require.True(t, q.Add(metrics(n, 2), t0.Add(time.Duration(i)*time.Second)))
	}
	due := q.Due(t0.Add(11 * time.Second))
	require.Equal(t, []string{"a", "b"}, names(due))
	assert.Equal(t, 2, q.Points())

	due[0].Enriched = true
	q.Retry(due, t0.Add(11*time.Second))
	assert.Equal(t, 6, q.Points(), "counted again")
	assert.False(t, q.Add(metrics("d", 5), t0.Add(11*time.Second)), "and they take room")

	again := q.Due(t0.Add(11 * time.Second))
	assert.Equal(t, []string{"a", "b"}, names(again), "at the front, in order, before c")
	assert.True(t, again[0].Enriched, "what was done to a batch stays with it")
	assert.False(t, again[1].Enriched)
	q.Retry(nil, t0)
	assert.Equal(t, []string{"c"}, names(q.Drain()))
}

func TestDrain(t *testing.T) {
	q := New(time.Hour, 10)
	assert.Empty(t, q.Drain(), "an empty queue")
	q.Add(metrics("a", 1), t0)
	q.Add(metrics("b", 2), t0.Add(time.Minute))
	assert.Equal(t, []string{"a", "b"}, names(q.Drain()), "everything, due or not, oldest first")
	assert.Zero(t, q.Points())
	assert.Empty(t, q.Due(t0.Add(24*time.Hour)))
	assert.True(t, q.Add(metrics("c", 10), t0), "room again")
}

// The queue holds a copy: the caller's metrics may change or be reused
// after Add returns.
func TestHoldsACopy(t *testing.T) {
	q := New(time.Second, 10)
	md := metrics("original", 1)
	require.True(t, q.Add(md, t0))
	md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).SetName("changed")
	md.ResourceMetrics().AppendEmpty()

	held := q.Drain()
	require.Len(t, held, 1)
	assert.Equal(t, "original", name(held[0].MD))
	assert.Equal(t, 1, held[0].MD.ResourceMetrics().Len())
	assert.Equal(t, 1, held[0].MD.DataPointCount())
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Batches that left the queue are not kept alive by it.
func TestReleasedBatchesCollectable(t *testing.T) {
	q := New(time.Second, 1_000_000)
	base := heapAlloc()
	for range 3 {
		require.True(t, q.Add(metrics("big", 50_000), t0))
	}
	full := heapAlloc()
	require.Len(t, q.Due(t0.Add(time.Second)), 3)
	after := heapAlloc()
	assert.Less(t, after-min(after, base), (full-base)/10, "held %d of %d bytes", after-min(after, base), full-base)
	runtime.KeepAlive(q)
}

func TestConcurrentUse(t *testing.T) {
	q := New(time.Millisecond, 1000)
	var wg sync.WaitGroup
	var mu sync.Mutex
	released := 0
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				now := t0.Add(time.Duration(i) * time.Millisecond)
				if g%2 == 0 {
					q.Add(metrics("m", 1), now)
					continue
				}
				hs := q.Due(now)
				mu.Lock()
				released += len(hs)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	released += len(q.Drain())
	assert.Equal(t, 400, released, "every batch leaves once")
	assert.Zero(t, q.Points())
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package lru

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keys lists the cache's keys from the most to the least recently used.
func keys[K comparable, V any](c *Cache[K, V]) []K {
	var out []K
	for k := range c.All() {
		out = append(out, k)
	}
	return out
}

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	c := New[string, int](3)
	var evicted []string
	c.OnEvict(func(k string, v *int) {
		evicted = append(evicted, k)
		assert.Equal(t, len(k), *v, "the callback sees the value before it is zeroed")
	})
	for _, k := range []string{"a", "bb", "ccc"} {
		c.Put(k, len(k))
	}
	assert.Equal(t, []string{"ccc", "bb", "a"}, keys(c))

	v, ok := c.Get("a") // a becomes the most recently used
	require.True(t, ok)
	assert.Equal(t, 1, *v)
	c.Put("dddd", 4)
	assert.Equal(t, []string{"bb"}, evicted, "the least recently used goes first")
	assert.Equal(t, []string{"dddd", "a", "ccc"}, keys(c))

	_, ok = c.Peek("ccc") // Peek does not save ccc
	require.True(t, ok)
	c.Put("eeeee", 5)
	assert.Equal(t, []string{"bb", "ccc"}, evicted)
	assert.Equal(t, 3, c.Len())
	assert.Equal(t, 3, c.Cap())
	assert.Equal(t, uint64(2), c.TakeEvictions())
	assert.Zero(t, c.TakeEvictions(), "taken counts start over")

	c.Put("a", 10) // an update is no eviction
	assert.Zero(t, c.TakeEvictions())
	v, _ = c.Get("a")
	assert.Equal(t, 10, *v)
	_, ok = c.Get("bb")
	assert.False(t, ok)
}

func TestOldestAndRemove(t *testing.T) {
	c := New[int, string](10)
	_, _, ok := c.Oldest()
	assert.False(t, ok, "empty cache")
	_, ok = c.RemoveOldest()
	assert.False(t, ok)
	for i := range 5 {
		c.Put(i, "v")
	}
	c.Get(0)
	k, v, ok := c.Oldest()
	require.True(t, ok)
	assert.Equal(t, 1, k)
	assert.Equal(t, "v", *v)
	assert.Equal(t, []int{0, 4, 3, 2, 1}, keys(c), "Oldest does not mark the entry used")

	k, ok = c.RemoveOldest()
	require.True(t, ok)
	assert.Equal(t, 1, k)
	assert.True(t, c.Remove(3))
	assert.False(t, c.Remove(3), "already gone")
	assert.Equal(t, []int{0, 4, 2}, keys(c))
	assert.Zero(t, c.TakeEvictions(), "removals by the caller are not evictions")

	_, added := c.GetOrAdd(3)
	assert.True(t, added)
	_, added = c.GetOrAdd(3)
	assert.False(t, added)
}

// Idle expiry as a stream table does it: entries are removed from the old
// end while they are older than a cutoff.
func TestExpireFromOldEnd(t *testing.T) {
	type state struct{ lastSeen int }
	c := New[uint64, state](100)
	for i := range 10 {
		p, _ := c.GetOrAdd(uint64(i))
		p.lastSeen = i
	}
	p, _ := c.GetOrAdd(2) // seen again: no longer idle
	p.lastSeen = 10
	for _, v, ok := c.Oldest(); ok && v.lastSeen < 5; _, v, ok = c.Oldest() {
		c.RemoveOldest()
	}
	assert.Equal(t, []uint64{2, 9, 8, 7, 6, 5}, keys(c))
}

// The cache agrees with a plain model over random operations, across
// chunk allocations and releases.
func TestAgreesWithModel(t *testing.T) {
	for _, capacity := range []int{1, 2, 7, 300, 1000} {
		c := New[int, int](capacity)
		var model []int // most recent first
		values := map[int]int{}
		var evictions uint64
		touch := func(k int) {
			model = slices.Insert(slices.DeleteFunc(model, func(x int) bool { return x == k }), 0, k)
		}
		rng := rand.New(rand.NewPCG(uint64(capacity), 1))
		for step := range 20000 {
			k := rng.IntN(capacity * 2)
			switch op := rng.IntN(10); {
			case op < 4:
				c.Put(k, step)
				if _, ok := values[k]; !ok && len(model) == capacity {
					delete(values, model[len(model)-1])
					model = model[:len(model)-1]
					evictions++
				}
				values[k] = step
				touch(k)
			case op < 7:
				v, ok := c.Get(k)
				want, wantOK := values[k]
				require.Equal(t, wantOK, ok)
				if ok {
					require.Equal(t, want, *v)
					touch(k)
				}
			case op < 9:
				require.Equal(t, slices.Contains(model, k), c.Remove(k))
				delete(values, k)
				model = slices.DeleteFunc(model, func(x int) bool { return x == k })
			default:
				got, ok := c.RemoveOldest()
				require.Equal(t, len(model) > 0, ok)
				if ok {
					require.Equal(t, model[len(model)-1], got)
					delete(values, got)
					model = model[:len(model)-1]
				}
			}
			require.Equal(t, len(model), c.Len())
		}
		require.Equal(t, model, keys(c), "capacity %d", capacity)
		assert.Equal(t, evictions, c.TakeEvictions())
	}
}

// A pointer to a value stays valid while its entry is in the cache, however
// many entries come and go around it.
func TestPointerStable(t *testing.T) {
	type big struct {
		n int
		_ [20]uint64
	}
	c := New[int, big](10000)
	p, _ := c.GetOrAdd(-1)
	p.n = 42
	for i := range 9000 { // many chunks are added
		c.Put(i, big{n: i})
	}
	for i := range 8000 { // and released
		c.Remove(i)
	}
	p.n++ // writes through the old pointer reach the entry
	q, ok := c.Peek(-1)
	require.True(t, ok)
	assert.Same(t, p, q)
	assert.Equal(t, 43, q.n)
	for i := 8000; i < 9000; i++ {
		v, ok := c.Get(i)
		require.True(t, ok)
		require.Equal(t, i, v.n)
	}
}

// A removed value is zeroed at once, so what it referenced can be
// collected even while its slot waits for reuse.
func TestRemovedValueZeroed(t *testing.T) {
	type state struct{ buckets []uint64 }
	c := New[int, state](2)
	var taken []uint64
	c.OnEvict(func(_ int, v *state) { taken = v.buckets })

	first, _ := c.GetOrAdd(1)
	first.buckets = make([]uint64, 8)
	removed, _ := c.GetOrAdd(2)
	removed.buckets = make([]uint64, 8)
	expired, _ := c.GetOrAdd(3) // evicts 1, maybe into its slot
	assert.Nil(t, first.buckets, "the evicted value is zeroed")
	assert.Nil(t, expired.buckets, "a new entry starts from the zero value")
	assert.Len(t, taken, 8, "the callback could keep the evicted slice")
	expired.buckets = make([]uint64, 8)

	c.Remove(2)
	assert.Nil(t, removed.buckets, "removed")
	c.RemoveOldest()
	assert.Nil(t, expired.buckets, "removed as the oldest")

	p, _ := c.GetOrAdd(4)
	p.buckets = make([]uint64, 8)
	c.Reset()
	assert.Nil(t, p.buckets, "reset")
	assert.Zero(t, c.Len())
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// streamLike is the size of a stream table entry: ~150 bytes with a
// slice per entry.
type streamLike struct {
	count    uint64
	lastSeen int64
	buckets  []uint64
	_        [14]uint64 // the rest of a stream's state
}

// Memory follows the entries down: a table of 100k streams that expires
// all but a few gives back its slots, their slices and its key index.
func TestMemoryReleased(t *testing.T) {
	const n = 100_000
	base := heapAlloc()
	c := New[uint64, streamLike](n)
	for i := range n {
		p, _ := c.GetOrAdd(uint64(i) * 0x9e3779b97f4a7c15)
		p.lastSeen = int64(i)
		p.buckets = make([]uint64, 16)
	}
	full := heapAlloc()
	require.Greater(t, full-base, uint64(n*(150+128)), "the table holds its entries")

	for _, v, ok := c.Oldest(); ok && v.lastSeen < n-100; _, v, ok = c.Oldest() {
		c.RemoveOldest()
	}
	require.Equal(t, 100, c.Len())
	after := heapAlloc()
	assert.Less(t, after-min(after, base), (full-base)/20,
		"after removing 99.9%% of entries: %d bytes held of %d", after-min(after, base), full-base)

	for range c.Len() {
		c.RemoveOldest()
	}
	empty := heapAlloc()
	assert.Less(t, empty-min(empty, base), uint64(64<<10), "an empty cache keeps at most one chunk")
	runtime.KeepAlive(c)
}

// Chunks are not allocated and released on every call around a chunk
// boundary.
func TestNoChunkChurnAtBoundary(t *testing.T) {
	c := New[int, int](1000)
	for i := range 256 {
		c.Put(i, i)
	}
	allocs := testing.AllocsPerRun(100, func() {
		c.Put(256, 0)
		c.Put(257, 0)
		c.Remove(256)
		c.Remove(257)
	})
	assert.Less(t, allocs, 1.0)
}

func TestCapacityBounds(t *testing.T) {
	c := New[int, int](0)
	assert.Equal(t, 1, c.Cap())
	c.Put(1, 1)
	c.Put(2, 2)
	assert.Equal(t, []int{2}, keys(c))
	assert.Equal(t, MaxCapacity, New[int, int](1<<40).Cap())
}

func BenchmarkGetHit(b *testing.B) {
	const n = 100_000
	c := New[uint64, streamLike](n)
	for i := range n {
		c.GetOrAdd(uint64(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p, ok := c.Get(uint64(i*7919) % n)
		if !ok {
			b.Fatal("miss")
		}
		p.count++
	}
}

// A full cache taking new keys: every call evicts the oldest entry.
func BenchmarkGetOrAddEvicting(b *testing.B) {
	const n = 100_000
	c := New[uint64, streamLike](n)
	for i := range n {
		c.GetOrAdd(uint64(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p, _ := c.GetOrAdd(uint64(n + i))
		p.count++
	}
}

// The small caches (metric names, services): a string key hit.
func BenchmarkGetHitString(b *testing.B) {
	names := make([]string, 1000)
	c := New[string, int](10000)
	for i := range names {
		names[i] = "http.server.request.duration." + string(rune('a'+i%26)) + string(rune('a'+i/26))
		c.Put(names[i], i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, ok := c.Get(names[i%len(names)]); !ok {
			b.Fatal("miss")
		}
	}
}

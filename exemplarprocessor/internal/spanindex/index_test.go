// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package spanindex

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sec = int64(1e9)

func newIndex(t testing.TB, maxSpans int, ttl, window int64) *Index {
	t.Helper()
	idx, err := New(Config{MaxSpans: maxSpans, TTL: time.Duration(ttl), DuplicateWindow: time.Duration(window)})
	require.NoError(t, err)
	return idx
}

func span(n uint64, start, end uint64) *Span {
	s := &Span{Start: start, End: end, NameHash: 7, Kind: 2}
	binary.BigEndian.PutUint64(s.TraceID[8:], n)
	s.TraceID[0] = 1
	binary.BigEndian.PutUint64(s.SpanID[:], n)
	return s
}

func insert(idx *Index, now int64, s *Span, k *Key) Outcome {
	w := idx.BeginWrite(at(now))
	defer w.End()
	o, _ := w.Insert(s, k)
	return o
}

// at is the time of ns Unix nanoseconds.
func at(ns int64) time.Time { return time.Unix(0, ns) }

func lookup(idx *Index, s *Span) (Ref, bool) {
	r := idx.BeginRead()
	defer r.End()
	return r.Lookup(s.TraceID, s.SpanID)
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{MaxSpans: 0, TTL: time.Second, DuplicateWindow: time.Second},
		{MaxSpans: MaxSpans + 1, TTL: time.Second, DuplicateWindow: time.Second},
		{MaxSpans: 10, TTL: 0},
		{MaxSpans: 10, TTL: time.Second, DuplicateWindow: 2 * time.Second},
	} {
		_, err := New(c)
		assert.Error(t, err, "%+v", c)
	}
}

func TestDuplicates(t *testing.T) {
	idx := newIndex(t, 100, 60*sec, 30*sec)
	s := span(1, 100, 200)
	assert.Equal(t, Indexed, insert(idx, 1*sec, s, nil))
	assert.Equal(t, Replay, insert(idx, 2*sec, span(1, 100, 200), nil), "same name, start and end")

	other := span(1, 100, 300)
	assert.Equal(t, Collision, insert(idx, 3*sec, other, nil), "different end")
	renamed := span(1, 100, 200)
	renamed.NameHash = 8
	assert.Equal(t, Collision, insert(idx, 3*sec, renamed, nil), "different name")
	moved := span(1, 50, 200)
	assert.Equal(t, Collision, insert(idx, 3*sec, moved, nil), "different start")

	assert.Equal(t, 1, idx.Stats().Spans, "duplicates are not indexed")

	// Outside the duplicate window the same IDs are a new span, and the
	// table now answers with the new one.
	later := span(1, 1000, 2000)
	assert.Equal(t, Indexed, insert(idx, 32*sec, later, nil))
	ref, ok := lookup(idx, later)
	require.True(t, ok)
	assert.Equal(t, uint64(2000), ref.End)
	assert.Equal(t, Replay, insert(idx, 33*sec, span(1, 1000, 2000), nil))
}

func TestEndBeforeStartHasZeroDuration(t *testing.T) {
	idx := newIndex(t, 10, 60*sec, 30*sec)
	s := span(1, 5000, 1000)
	require.Equal(t, Indexed, insert(idx, sec, s, nil))
	ref, ok := lookup(idx, s)
	require.True(t, ok)
	assert.Zero(t, ref.Duration)
	// The raw times still tell a replay from a collision.
	assert.Equal(t, Replay, insert(idx, sec, span(1, 5000, 1000), nil))
	assert.Equal(t, Collision, insert(idx, sec, span(1, 1000, 1000), nil))
}

func TestTTL(t *testing.T) {
	idx := newIndex(t, 100, 10*sec, 10*sec)
	a, b := span(1, 1, 2), span(2, 1, 2)
	insert(idx, 1*sec, a, nil)
	insert(idx, 5*sec, b, nil)
	idx.Expire(at(11*sec + 1))
	_, ok := lookup(idx, a)
	assert.False(t, ok, "a expired")
	_, ok = lookup(idx, b)
	assert.True(t, ok, "b still within its TTL")
	ttl, capacity := idx.Evictions()
	assert.Equal(t, uint64(1), ttl)
	assert.Zero(t, capacity)
	// After expiry the same IDs are new again.
	assert.Equal(t, Indexed, insert(idx, 12*sec, span(1, 1, 2), nil))
}

func TestCapacityEviction(t *testing.T) {
	idx := newIndex(t, 3, 60*sec, 60*sec)
	for i := range uint64(5) {
		require.Equal(t, Indexed, insert(idx, sec, span(i, 1, 2), nil))
	}
	assert.Equal(t, 3, idx.Stats().Spans)
	for i := range uint64(5) {
		_, ok := lookup(idx, span(i, 1, 2))
		assert.Equal(t, i >= 2, ok, "span %d", i)
	}
	ttl, capacity := idx.Evictions()
	assert.Zero(t, ttl)
	assert.Equal(t, uint64(2), capacity)
	// An evicted span's IDs are not a duplicate any more.
	assert.Equal(t, Indexed, insert(idx, sec, span(0, 1, 2), nil))
}

func TestFine(t *testing.T) {
	assert.Equal(t, uint8(0), Fine(0))
	assert.Equal(t, uint8(0), Fine(-5))
	assert.Equal(t, uint8(1), Fine(1))
	assert.Equal(t, uint8(3), Fine(2))
	assert.Equal(t, uint8(4), Fine(3)) // 3 >= 2*sqrt(2)
	assert.Equal(t, uint8(5), Fine(4))
	prev := Fine(1)
	for ns := int64(2); ns < 1<<20; ns++ {
		f := Fine(ns)
		require.GreaterOrEqual(t, f, prev, "monotonic at %d", ns)
		prev = f
	}
	assert.Equal(t, uint8(1+2*62+1), Fine(math.MaxInt64))
}

func serverKey(idx *Index, service, route string, status int64) *Key {
	k := idx.NewKey()
	k.AddString(service)
	k.AddAbsent()
	k.SetKind(2)
	k.AddString(route)
	k.AddInt(status)
	return k
}

func collect(idx *Index, k *Key, fine uint8) []uint64 {
	r := idx.BeginRead()
	defer r.End()
	var out []uint64
	for _, g := range r.Groups(k, nil) {
		it := r.List(g, fine)
		for ref, ok := it.Next(0); ok; ref, ok = it.Next(0) {
			out = append(out, binary.BigEndian.Uint64(ref.SpanID[:]))
		}
	}
	return out
}

func TestGroupsAndLists(t *testing.T) {
	idx := newIndex(t, 100, 60*sec, 60*sec)
	const ms = uint64(1e6)
	insert(idx, sec, span(1, 0, 3*ms), serverKey(idx, "shop", "/a", 200))
	insert(idx, sec, span(2, 0, 3*ms), serverKey(idx, "shop", "/a", 200))
	insert(idx, sec, span(3, 0, 3*ms), serverKey(idx, "shop", "/b", 200))
	insert(idx, sec, span(4, 0, 50*ms), serverKey(idx, "shop", "/a", 200))
	insert(idx, sec, span(5, 0, 3*ms), serverKey(idx, "cart", "/a", 200))

	fine3 := Fine(int64(3 * ms))
	// Numbers equal their decimal strings.
	q := idx.NewKey()
	q.AddString("shop")
	q.AddAbsent()
	q.SetKind(2)
	q.AddString("/a")
	q.AddString("200")
	assert.Equal(t, []uint64{2, 1}, collect(idx, q, fine3), "newest first")
	assert.Equal(t, []uint64{4}, collect(idx, q, Fine(int64(50*ms))))

	wild := idx.NewKey()
	wild.AddString("shop")
	wild.AddAbsent()
	wild.SetKind(2)
	wild.AddAny()
	wild.AddInt(200)
	assert.ElementsMatch(t, []uint64{2, 1, 3}, collect(idx, wild, fine3))

	other := idx.NewKey()
	other.AddString("shop")
	other.AddString("instance-1") // present on the data point, absent on spans
	other.SetKind(2)
	other.AddAny()
	other.AddAny()
	assert.Empty(t, collect(idx, other, fine3))

	assert.Equal(t, 3, idx.Stats().Groups, "span 4 shares a group with 1 and 2")
}

func TestGroupFreedWithLastSpan(t *testing.T) {
	idx := newIndex(t, 2, 60*sec, 60*sec)
	insert(idx, sec, span(1, 0, 10), serverKey(idx, "shop", "/a", 200))
	insert(idx, sec, span(2, 0, 10), serverKey(idx, "shop", "/b", 200))
	assert.Equal(t, 2, idx.Stats().Groups)
	insert(idx, sec, span(3, 0, 10), serverKey(idx, "shop", "/b", 200))
	assert.Equal(t, 1, idx.Stats().Groups, "/a lost its only span")
	assert.Empty(t, collect(idx, serverKey(idx, "shop", "/a", 200), Fine(10)))
	assert.Equal(t, []uint64{3, 2}, collect(idx, serverKey(idx, "shop", "/b", 200), Fine(10)))
}

// A duration class whose spans were all evicted keeps a stale head; when the
// ring reuses that position for another group's span, the list must end.
func TestStaleHeadAfterReuse(t *testing.T) {
	idx := newIndex(t, 2, 60*sec, 60*sec)
	insert(idx, sec, span(1, 0, 10), serverKey(idx, "shop", "/a", 200))        // pos 0, fine(10)
	insert(idx, sec, span(2, 0, 1_000_000), serverKey(idx, "shop", "/a", 200)) // pos 1, other class
	insert(idx, sec, span(3, 0, 10), serverKey(idx, "shop", "/b", 200))        // reuses pos 0
	assert.Empty(t, collect(idx, serverKey(idx, "shop", "/a", 200), Fine(10)))
	assert.Equal(t, []uint64{3}, collect(idx, serverKey(idx, "shop", "/b", 200), Fine(10)))
}

// TestModel drives the index with random inserts, replays, collisions and
// time steps and checks every answer against a plain FIFO + map model.
func TestModel(t *testing.T) {
	for _, capacity := range []int{1, 7, 100, 5000} {
		testModel(t, capacity, func(rng *rand.Rand) *Span {
			return span(rng.Uint64N(1<<40), 10, uint64(10+rng.IntN(1000)))
		})
	}
}

// TestModelSharedTraces is TestModel with spans of few traces: a trace's
// spans probe from one home, and the big ones overflow its window.
func TestModelSharedTraces(t *testing.T) {
	for _, traces := range []uint64{1, 3, 50} {
		testModel(t, 5000, func(rng *rand.Rand) *Span {
			s := span(rng.Uint64N(1<<40), 10, uint64(10+rng.IntN(1000)))
			binary.BigEndian.PutUint64(s.TraceID[8:], rng.Uint64N(traces))
			return s
		})
	}
}

func testModel(t *testing.T, capacity int, newSpan func(*rand.Rand) *Span) {
	t.Helper()
	{
		rng := rand.New(rand.NewPCG(1, uint64(capacity)))
		idx := newIndex(t, capacity, 20*sec, 10*sec)
		type entry struct {
			arrived int64
			s       Span
			n       int // insertion number
		}
		var ring []entry             // indexed spans, oldest first
		newest := map[[24]byte]int{} // IDs -> insertion number of the newest indexed copy
		first := 0                   // insertion number of ring[0]
		keyOf := func(s *Span) (k [24]byte) {
			copy(k[:], s.TraceID[:])
			copy(k[16:], s.SpanID[:])
			return k
		}
		evictFront := func() {
			if n, ok := newest[keyOf(&ring[0].s)]; ok && n == first {
				delete(newest, keyOf(&ring[0].s))
			}
			ring = ring[1:]
			first++
		}
		now, cpTime := int64(0), int64(-1<<62)
		for step := range 20000 {
			now += rng.Int64N(int64(50e6))
			// The index knows arrival times to checkpoint resolution.
			if now >= cpTime+checkpointEvery {
				cpTime = now
			}
			var s *Span
			if len(ring) > 0 && rng.IntN(4) == 0 {
				prev := ring[rng.IntN(len(ring))].s
				s = &prev
				if rng.IntN(2) == 0 {
					s.End++
				}
			} else {
				s = newSpan(rng)
			}
			for len(ring) > 0 && ring[0].arrived < now-20*sec {
				evictFront()
			}
			want := Indexed
			if n, ok := newest[keyOf(s)]; ok {
				e := ring[n-first]
				if e.arrived >= now-10*sec {
					want = Replay
					if e.s.End != s.End {
						want = Collision
					}
				}
			}
			got := insert(idx, now, s, nil)
			require.Equal(t, want, got, "step %d capacity %d", step, capacity)
			if got == Indexed {
				if len(ring) == capacity {
					evictFront()
				}
				ring = append(ring, entry{arrived: cpTime, s: *s, n: first + len(ring)})
				newest[keyOf(s)] = first + len(ring) - 1
			}
			require.Equal(t, len(ring), idx.Stats().Spans, "step %d", step)
			if step%97 == 0 {
				for k, n := range newest {
					e := ring[n-first]
					var tid [16]byte
					var sid [8]byte
					copy(tid[:], k[:16])
					copy(sid[:], k[16:])
					r := idx.BeginRead()
					ref, ok := r.Lookup(tid, sid)
					r.End()
					require.True(t, ok, "step %d: live span missing", step)
					require.Equal(t, e.s.End, ref.End, "step %d: newest copy answers", step)
				}
			}
		}
	}
}

func TestMemoryReleasedWhenEmpty(t *testing.T) {
	idx := newIndex(t, 100000, 10*sec, 10*sec)
	for i := range uint64(50000) {
		insert(idx, sec, span(i+1, 0, 10), nil)
	}
	assert.Greater(t, len(idx.table), minTable)
	idx.Expire(at(30 * sec))
	assert.Zero(t, idx.Stats().Spans)
	assert.Len(t, idx.table, minTable)
	for _, c := range idx.chunks {
		assert.Nil(t, c)
	}
}

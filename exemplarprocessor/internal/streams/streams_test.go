// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package streams

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"
	"weak"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// t0 is the start of every test timeline.
func t0() time.Time { return time.Unix(1_793_000_000, 0) }

// remembered is a previous point that names hash h in its Time.
func remembered(h uint64) Previous { return Previous{Start: 1, Time: h, Count: h} }

// bucketsOf copies a view's buckets (nil for none).
func bucketsOf(bs Buckets) []Bucket {
	if bs.Len() == 0 {
		return nil
	}
	out := make([]Bucket, bs.Len())
	bs.CopyTo(out)
	for i := range out {
		if out[i] != bs.At(i) {
			panic("CopyTo and At disagree")
		}
	}
	return out
}

// has reports whether the table remembers stream h, without touching it.
func has(tb *Table, h uint64) bool {
	_, ok := tb.states.Peek(h)
	return ok
}

func TestGetCreatesAndReturnsTheStream(t *testing.T) {
	tb := New(10, time.Minute)
	st := tb.Get(1, t0())
	_, bs, known := st.Previous()
	assert.False(t, known, "a new stream has no previous point")
	assert.Empty(t, bucketsOf(bs))
	assert.Equal(t, Groups{}, st.Groups())

	st.Remember(remembered(1), []Bucket{{Count: 3, LastExemplar: 7}})
	tb.Get(2, t0()).Remember(remembered(2), []Bucket{{Count: 5}})

	prev, bs, known := tb.Get(1, t0().Add(time.Second)).Previous()
	assert.True(t, known)
	assert.Equal(t, remembered(1), prev)
	assert.Equal(t, []Bucket{{Count: 3, LastExemplar: 7}}, bucketsOf(bs))
	prev, _, _ = tb.Get(2, t0().Add(time.Second)).Previous()
	assert.Equal(t, remembered(2), prev)
	assert.Equal(t, 2, tb.Len())
}

// At capacity, a new stream makes the least recently used one go.
func TestCapacityEvictsTheLeastRecentlyUsed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		touches []uint64 // Gets after 1, 2, 3 were created, before 4 is
		evicted uint64
	}{
		{"none touched: the oldest goes", nil, 1},
		{"the oldest was used again", []uint64{1}, 2},
		{"all used again, 3 first", []uint64{3, 1, 2}, 3},
		{"touched twice", []uint64{2, 1, 2}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := New(3, time.Hour)
			now := t0()
			for h := uint64(1); h <= 3; h++ {
				tb.Get(h, now).Remember(remembered(h), nil)
			}
			for _, h := range tc.touches {
				tb.Get(h, now)
			}
			tb.Get(4, now)
			assert.Equal(t, 3, tb.Len())
			for h := uint64(1); h <= 4; h++ {
				assert.Equal(t, h != tc.evicted, has(tb, h), "stream %d", h)
			}
			capacity, idle := tb.Evictions()
			assert.Equal(t, [2]uint64{1, 0}, [2]uint64{capacity, idle})
		})
	}
}

// A Get first forgets the streams idle for longer than the timeout.
func TestIdleStreamsExpireOnGet(t *testing.T) {
	tb := New(10, time.Minute)
	tb.Get(1, t0())
	tb.Get(2, t0().Add(30*time.Second))
	tb.Get(3, t0().Add(time.Minute))
	assert.True(t, has(tb, 1), "idle exactly the timeout: kept")

	tb.Get(3, t0().Add(time.Minute+1))
	assert.False(t, has(tb, 1), "idle longer than the timeout")
	assert.True(t, has(tb, 2))
	assert.True(t, has(tb, 3))

	// Being read counts as being seen.
	tb.Get(2, t0().Add(80*time.Second))
	tb.Get(4, t0().Add(135*time.Second))
	assert.True(t, has(tb, 2), "seen 55s ago")
	assert.False(t, has(tb, 3), "seen 75s ago")

	capacity, idle := tb.Evictions()
	assert.Equal(t, [2]uint64{0, 2}, [2]uint64{capacity, idle})

	// A forgotten stream comes back empty.
	st := tb.Get(1, t0().Add(136*time.Second))
	_, _, known := st.Previous()
	assert.False(t, known)
}

// Random Gets against a model of the table: a bounded LRU whose entries
// expire when idle longer than the timeout, checked at every step.
func TestTableAgainstAModel(t *testing.T) {
	const maxStreams, idle = 5, 10 * time.Second
	rng := rand.New(rand.NewPCG(3, 5))
	tb := New(maxStreams, idle)
	type entry struct {
		h        uint64
		lastSeen time.Time
	}
	var lru []entry // least recently used first
	var wantCap, wantIdle uint64
	now := t0()
	for i := range 5000 {
		now = now.Add(time.Duration(rng.Int64N(int64(3 * time.Second))))
		h := 1 + rng.Uint64N(9)

		for len(lru) > 0 && now.Sub(lru[0].lastSeen) > idle {
			lru = lru[1:]
			wantIdle++
		}
		at := slices.IndexFunc(lru, func(e entry) bool { return e.h == h })
		known := at >= 0
		if known {
			lru = slices.Delete(lru, at, at+1)
		} else if len(lru) == maxStreams {
			lru = lru[1:]
			wantCap++
		}
		lru = append(lru, entry{h, now})

		st := tb.Get(h, now)
		prev, _, ok := st.Previous()
		require.Equal(t, known, ok, "step %d: stream %d remembered", i, h)
		if ok {
			require.Equal(t, remembered(h), prev, "step %d: stream %d's own state", i, h)
		}
		st.Remember(remembered(h), []Bucket{{Count: h}})

		require.Equal(t, len(lru), tb.Len(), "step %d", i)
		for _, e := range lru {
			require.True(t, has(tb, e.h), "step %d: stream %d", i, e.h)
		}
		capacity, idle := tb.Evictions()
		require.Equal(t, [2]uint64{wantCap, wantIdle}, [2]uint64{capacity, idle}, "step %d", i)
	}
	assert.Positive(t, wantCap)
	assert.Positive(t, wantIdle)
}

// Remember and CacheGroups copy: the caller may reuse its slices.
func TestStateCopiesWhatItIsGiven(t *testing.T) {
	tb := New(10, time.Minute)
	st := tb.Get(1, t0())
	bs := []Bucket{{Count: 1, LastExemplar: 2, Owed: 3}}
	p := remembered(1)
	p.Times, p.UsedSeqs, p.UsedEnds = []uint64{5, 4}, []uint64{9, 8}, []uint64{4, 3}
	st.Remember(p, bs)
	bs[0] = Bucket{Count: 99}
	p.Times[0], p.UsedSeqs[0], p.UsedEnds[1] = 99, 99, 99
	prev, got, _ := st.Previous()
	assert.Equal(t, []Bucket{{Count: 1, LastExemplar: 2, Owed: 3}}, bucketsOf(got))
	assert.Equal(t, []uint64{5, 4}, prev.Times)
	assert.Equal(t, []uint64{9, 8}, prev.UsedSeqs)
	assert.Equal(t, []uint64{4, 3}, prev.UsedEnds)

	ids := []uint32{4, 5}
	st.CacheGroups(ids, 7, 8)
	ids[0] = 99
	assert.Equal(t, Groups{IDs: []uint32{4, 5}, Gen: 7, RK: 8}, st.Groups())

	// Remembering again replaces, whatever the lengths.
	owed := []Bucket{{Count: 2, Owed: 1<<31 | 1}, {Count: 3, LastExemplar: 4, Owed: 1<<32 - 1}, {Count: 5, Owed: 6}}
	st.Remember(remembered(1), owed)
	prev, got, _ = st.Previous()
	assert.Equal(t, owed, bucketsOf(got))
	assert.Nil(t, prev.Times)
	assert.Nil(t, prev.UsedSeqs)
	assert.Nil(t, prev.UsedEnds)
	st.CacheGroups(nil, 9, 8)
	assert.Equal(t, Groups{IDs: []uint32{}, Gen: 9, RK: 8}, st.Groups())
}

// A stream whose layout shrank does not keep its larger bucket array.
func TestRememberGivesBackALargerArray(t *testing.T) {
	tb := New(10, time.Minute)
	st := tb.Get(1, t0())
	st.Remember(remembered(1), make([]Bucket, 500))
	gone := weak.Make(&st.data[0])
	st.Remember(remembered(1), make([]Bucket, 10))
	_, small, _ := st.Previous()
	assert.Equal(t, 10, small.Len())
	assert.Less(t, cap(st.data), 500)
	runtime.GC()
	assert.Nil(t, gone.Value(), "the 500-bucket array was released")
}

// A forgotten stream keeps no memory alive, though its slot waits for
// reuse, and a stream re-created with its hash starts empty.
func TestForgottenStreamsKeepNoMemory(t *testing.T) {
	for _, tc := range []struct {
		name   string
		forget func(tb *Table) // makes stream 1 go, stream 3 stays
	}{
		// The new stream takes the evicted slot.
		{"evicted for capacity", func(tb *Table) { tb.Get(2, t0().Add(51*time.Second)) }},
		// The evicted slot waits for reuse.
		{"expired", func(tb *Table) { tb.Get(3, t0().Add(90*time.Second)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := New(2, time.Minute)
			st := tb.Get(1, t0())
			st.Remember(remembered(1), make([]Bucket, 100))
			st.CacheGroups(make([]uint32, 100), 3, 4)
			bucketsGone := weak.Make(&st.data[0])
			groupsGone := weak.Make(&st.Groups().IDs[0])
			tb.Get(3, t0().Add(50*time.Second))

			tc.forget(tb)
			require.False(t, has(tb, 1))
			require.True(t, has(tb, 3))
			runtime.GC()
			assert.Nil(t, bucketsGone.Value(), "bucket array released")
			assert.Nil(t, groupsGone.Value(), "group IDs released")

			back := tb.Get(1, t0().Add(100*time.Second))
			_, got, known := back.Previous()
			assert.False(t, known)
			assert.Empty(t, bucketsOf(got))
			assert.Equal(t, Groups{}, back.Groups())
		})
	}
}

// Streams that went idle give their bucket arrays back, whatever comes
// after them.
func TestExpiredStreamsReleaseTheirBuckets(t *testing.T) {
	tb := New(100, time.Minute)
	var gone []weak.Pointer[uint64]
	for h := range uint64(100) {
		st := tb.Get(h, t0())
		st.Remember(remembered(h), make([]Bucket, 10))
		gone = append(gone, weak.Make(&st.data[0]))
	}
	tb.Get(1000, t0().Add(2*time.Minute))
	capacity, idle := tb.Evictions()
	require.Equal(t, [2]uint64{0, 100}, [2]uint64{capacity, idle})
	runtime.GC()
	for h, w := range gone {
		assert.Nil(t, w.Value(), "the buckets of stream %d released", h)
	}
	assert.Equal(t, 1, tb.Len())
}

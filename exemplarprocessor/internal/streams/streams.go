// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Package streams remembers the previous data point of each histogram stream
// (resource + scope + metric + attributes), so a cumulative point gets
// exemplars only on buckets that grew since, and exemplar timestamps never go
// backwards per bucket. The table is bounded: least recently seen streams are
// forgotten first, idle ones after a timeout.
package streams // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/streams"

import (
	"sync"
	"time"
)

// Bucket is what a stream remembers per bucket.
type Bucket struct {
	// Count is the cumulative count at the previous point.
	Count uint64
	// LastExemplar is the timestamp of the newest exemplar seen on the
	// bucket; new exemplars must be later.
	LastExemplar uint64
	// OwedFrom and OwedTo are the interval in which the bucket grew without
	// getting an exemplar (OwedTo 0 when nothing is owed): a span that ended
	// in it and arrives late may still fill the bucket on a later point.
	OwedFrom, OwedTo uint64
}

// State is the remembered previous point of a stream.
type State struct {
	// Start and Time are the previous point's timestamps.
	Start, Time uint64
	// Seq is the span index's next sequence number when the previous point
	// was processed: spans with a Seq at least this large arrived after it.
	Seq uint64
	// Count and Sum are the previous point's.
	Count uint64
	Sum   float64
	// SeenFrom: the processor holds the stream's spans that ended after
	// this time, as far as its counts tell (cumulative streams).
	SeenFrom uint64
	// LayoutKey identifies the bucket layout (bounds, or exponential scale
	// and zero threshold); Offsets locate exponential buckets.
	LayoutKey uint64
	PosOffset int32
	PosLen    int
	NegOffset int32
	Buckets   []Bucket
	// Groups caches the span index's join groups for the stream's key while
	// the index's generation GroupsGen for its GroupsRK stays the same.
	Groups    []uint32
	GroupsGen uint64
	GroupsRK  uint64

	hash       uint64
	lastSeen   int64
	prev, next int32
}

// Table is a bounded map of stream states. Callers hold Lock while they use
// a State obtained from it.
type Table struct {
	sync.Mutex
	max  int
	idle int64

	byHash     map[uint64]int32
	slots      []State
	free       []int32
	head, tail int32 // most and least recently used, -1 when empty

	evictedCapacity, evictedIdle uint64
}

// New returns a table of at most max streams that forgets a stream idle for
// longer than idle.
func New(maxStreams int, idle time.Duration) *Table {
	return &Table{max: maxStreams, idle: idle.Nanoseconds(), byHash: map[uint64]int32{}, head: -1, tail: -1}
}

// Len returns the number of streams remembered.
func (t *Table) Len() int {
	t.Lock()
	defer t.Unlock()
	return len(t.byHash)
}

// Get returns the state of a stream, creating an empty one (isNew) when it is
// not remembered, and marks it used at now.
func (t *Table) Get(hash uint64, now int64) (st *State, isNew bool) {
	t.expire(now)
	if i, ok := t.byHash[hash]; ok {
		t.unlink(i)
		t.pushFront(i)
		st = &t.slots[i]
		st.lastSeen = now
		return st, false
	}
	if len(t.byHash) >= t.max {
		t.evict(t.tail)
		t.evictedCapacity++
	}
	var i int32
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		t.slots = append(t.slots, State{})
		i = int32(len(t.slots) - 1)
	}
	buckets, groups := t.slots[i].Buckets[:0], t.slots[i].Groups[:0]
	t.slots[i] = State{hash: hash, lastSeen: now, Buckets: buckets, Groups: groups}
	t.byHash[hash] = i
	t.pushFront(i)
	return &t.slots[i], true
}

// Forget drops a stream's state.
func (t *Table) Forget(hash uint64) {
	if i, ok := t.byHash[hash]; ok {
		t.evict(i)
	}
}

// TakeEvictions returns the streams forgotten since the previous call.
func (t *Table) TakeEvictions() (capacity, idle uint64) {
	capacity, idle = t.evictedCapacity, t.evictedIdle
	t.evictedCapacity, t.evictedIdle = 0, 0
	return capacity, idle
}

// Expire forgets streams idle at now.
func (t *Table) Expire(now int64) { t.expire(now) }

func (t *Table) expire(now int64) {
	for t.tail >= 0 && now-t.slots[t.tail].lastSeen > t.idle {
		t.evict(t.tail)
		t.evictedIdle++
	}
}

func (t *Table) evict(i int32) {
	t.unlink(i)
	delete(t.byHash, t.slots[i].hash)
	t.slots[i].hash = 0
	t.free = append(t.free, i)
}

func (t *Table) unlink(i int32) {
	s := &t.slots[i]
	if s.prev >= 0 {
		t.slots[s.prev].next = s.next
	} else if t.head == i {
		t.head = s.next
	}
	if s.next >= 0 {
		t.slots[s.next].prev = s.prev
	} else if t.tail == i {
		t.tail = s.prev
	}
	s.prev, s.next = -1, -1
}

func (t *Table) pushFront(i int32) {
	s := &t.slots[i]
	s.prev, s.next = -1, t.head
	if t.head >= 0 {
		t.slots[t.head].prev = i
	}
	t.head = i
	if t.tail < 0 {
		t.tail = i
	}
}

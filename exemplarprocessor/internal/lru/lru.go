// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Package lru is the processor's one bounded map: a capacity-bounded cache
// that forgets the least recently used entry first, so every table the
// processor keeps per service, metric or stream has the same bound, the same
// eviction order and the same way of giving memory back.
//
// Values live in place, in fixed-size chunks of slots that never move: a
// caller may keep a *V from Get, GetOrAdd, Peek or Oldest and change the
// entry through it until that entry is removed (Remove, RemoveOldest, an
// eviction, Reset). After that the pointer must not be used: the slot is
// zeroed and may hold another key's value. A removed value is zeroed at
// once, so whatever it referenced (slices, maps) can be collected; a chunk
// whose slots are all free is released, and the key index is rebuilt
// smaller once most of its entries are gone, so memory follows the number
// of entries down as well as up.
//
// Every operation is O(1) (amortized where the key index grows or is
// rebuilt); a hit, and an update of an existing key, allocate nothing. A
// Cache is not safe for concurrent use: callers lock.
package lru // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/lru"

import (
	"iter"
	"math"
)

// maxChunk is the largest number of slots per chunk: large enough that
// chunks are few, small enough that a chunk left with a few live entries
// keeps little memory alive.
const maxChunk = 256

// MaxCapacity is the largest capacity: slots are numbered with int32.
const MaxCapacity = math.MaxInt32 - 2*maxChunk

// none marks the end of a list.
const none = int32(-1)

type slot[K comparable, V any] struct {
	value V
	key   K
	// prev and next link used slots from the most to the least recently
	// used; next also links a chunk's free slots.
	prev, next int32
}

type chunk[K comparable, V any] struct {
	slots []slot[K, V] // allocated once at full size: slots never move
	free  int32        // first free slot of the free list, or none
	fresh int32        // slots[fresh:] were never used
	live  int32
	// partial is the chunk's position in Cache.partial, or none when the
	// chunk has no free slot.
	partial int32
}

// Cache maps keys to values and holds at most Cap entries; adding to a
// full cache evicts the least recently used entry.
type Cache[K comparable, V any] struct {
	capacity int
	shift    uint
	mask     int32

	index map[K]int32 // key -> slot handle: chunk<<shift | slot
	// peak is the largest size index had since it was made; it is rebuilt
	// when the cache falls far below it, as Go maps never shrink.
	peak int

	chunks  []*chunk[K, V] // nil where a chunk was released
	partial []int32        // chunks with a free slot
	holes   []int32        // indexes of released chunks, for reuse
	spare   int            // free slots in allocated chunks

	head, tail int32 // most and least recently used, none when empty

	evicted uint64
	onEvict func(K, *V)
}

// New returns an empty cache of at most capacity entries, at least 1 and
// at most MaxCapacity.
func New[K comparable, V any](capacity int) *Cache[K, V] {
	capacity = min(max(capacity, 1), MaxCapacity)
	shift := uint(0)
	for 1<<shift < min(capacity, maxChunk) {
		shift++
	}
	return &Cache[K, V]{
		capacity: capacity,
		shift:    shift,
		mask:     int32(1)<<shift - 1,
		index:    map[K]int32{},
		head:     none,
		tail:     none,
	}
}

// OnEvict sets a function called with each entry evicted to make room,
// before its value is zeroed: the caller can count it or take what it
// wants to keep. Remove, RemoveOldest and Reset do not call it: the caller
// knows what it removes. f must not change the cache.
func (c *Cache[K, V]) OnEvict(f func(key K, value *V)) { c.onEvict = f }

// Len returns the number of entries.
func (c *Cache[K, V]) Len() int { return len(c.index) }

// Cap returns the most entries the cache holds.
func (c *Cache[K, V]) Cap() int { return c.capacity }

// TakeEvictions returns how many entries were evicted to make room since
// the previous call.
func (c *Cache[K, V]) TakeEvictions() uint64 {
	n := c.evicted
	c.evicted = 0
	return n
}

// Get returns the value of key and marks it most recently used.
func (c *Cache[K, V]) Get(key K) (*V, bool) {
	h, ok := c.index[key]
	if !ok {
		return nil, false
	}
	c.touch(h)
	return &c.at(h).value, true
}

// Peek returns the value of key without marking it used.
func (c *Cache[K, V]) Peek(key K) (*V, bool) {
	h, ok := c.index[key]
	if !ok {
		return nil, false
	}
	return &c.at(h).value, true
}

// GetOrAdd returns the value of key, marked most recently used; when key is
// absent it adds it with the zero value (added true), evicting the least
// recently used entry when the cache is full.
func (c *Cache[K, V]) GetOrAdd(key K) (value *V, added bool) {
	if h, ok := c.index[key]; ok {
		c.touch(h)
		return &c.at(h).value, false
	}
	if len(c.index) >= c.capacity {
		c.evictOldest()
	}
	h := c.alloc()
	s := c.at(h)
	s.key = key
	c.index[key] = h
	c.peak = max(c.peak, len(c.index))
	c.pushFront(h, s)
	return &s.value, true
}

// Put sets the value of key and marks it most recently used, evicting the
// least recently used entry when key is new and the cache is full.
func (c *Cache[K, V]) Put(key K, value V) {
	p, _ := c.GetOrAdd(key)
	*p = value
}

// Remove removes key and zeroes its value; it reports whether key was there.
func (c *Cache[K, V]) Remove(key K) bool {
	h, ok := c.index[key]
	if ok {
		c.remove(h)
	}
	return ok
}

// Oldest returns the least recently used entry without marking it used.
func (c *Cache[K, V]) Oldest() (key K, value *V, ok bool) {
	if c.tail == none {
		return key, nil, false
	}
	s := c.at(c.tail)
	return s.key, &s.value, true
}

// RemoveOldest removes the least recently used entry, if any, and returns
// its key. It is not counted as an eviction: callers use it to expire
// entries on their own terms (idle ones, oldest first).
func (c *Cache[K, V]) RemoveOldest() (key K, ok bool) {
	if c.tail == none {
		return key, false
	}
	key = c.at(c.tail).key
	c.remove(c.tail)
	return key, true
}

// All yields the entries from the most to the least recently used without
// marking them used. The cache must not be changed while iterating.
func (c *Cache[K, V]) All() iter.Seq2[K, *V] {
	return func(yield func(K, *V) bool) {
		for h := c.head; h != none; {
			s := c.at(h)
			if !yield(s.key, &s.value) {
				return
			}
			h = s.next
		}
	}
}

// Reset removes every entry and releases all storage. Eviction counts
// not yet taken are kept.
func (c *Cache[K, V]) Reset() {
	for _, ch := range c.chunks {
		if ch != nil {
			clear(ch.slots) // a pointer kept by a caller sees the zero value
		}
	}
	c.index = map[K]int32{}
	c.peak = 0
	c.chunks, c.partial, c.holes, c.spare = nil, nil, nil, 0
	c.head, c.tail = none, none
}

func (c *Cache[K, V]) at(h int32) *slot[K, V] {
	return &c.chunks[h>>c.shift].slots[h&c.mask]
}

func (c *Cache[K, V]) evictOldest() {
	h := c.tail
	if c.onEvict != nil {
		s := c.at(h)
		c.onEvict(s.key, &s.value)
	}
	c.evicted++
	c.remove(h)
}

func (c *Cache[K, V]) remove(h int32) {
	s := c.at(h)
	c.unlink(h, s)
	delete(c.index, s.key)
	c.free(h)
	if len(c.index) == 0 {
		// The index of an empty cache can be dropped whatever its size.
		c.index = map[K]int32{}
		c.peak = 0
	} else if c.peak >= 4*maxChunk && len(c.index) < c.peak/4 {
		c.rebuildIndex()
	}
}

// rebuildIndex copies the index into a map sized for what is left. Its
// cost is paid for by the removals since peak, at least three times as
// many as the entries copied.
func (c *Cache[K, V]) rebuildIndex() {
	index := make(map[K]int32, len(c.index))
	for k, h := range c.index {
		index[k] = h
	}
	c.index = index
	c.peak = len(index)
}

func (c *Cache[K, V]) touch(h int32) {
	if h == c.head {
		return
	}
	s := c.at(h)
	c.unlink(h, s)
	c.pushFront(h, s)
}

func (c *Cache[K, V]) unlink(h int32, s *slot[K, V]) {
	if s.prev != none {
		c.at(s.prev).next = s.next
	} else if c.head == h {
		c.head = s.next
	}
	if s.next != none {
		c.at(s.next).prev = s.prev
	} else if c.tail == h {
		c.tail = s.prev
	}
	s.prev, s.next = none, none
}

func (c *Cache[K, V]) pushFront(h int32, s *slot[K, V]) {
	s.prev, s.next = none, c.head
	if c.head != none {
		c.at(c.head).prev = h
	}
	c.head = h
	if c.tail == none {
		c.tail = h
	}
}

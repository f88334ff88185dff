// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package lru

// The slot allocator. Chunks are allocated when every slot is in use and
// released when their last entry goes, except that one empty chunk is kept
// while the other chunks have fewer than half a chunk of free slots: a cache
// that gains and loses entries around a chunk boundary would otherwise
// allocate a chunk on every other call. So after a release at least half a
// chunk of entries must be added before the next chunk is allocated, and a
// chunk's allocation is paid for by as many additions.

func (c *Cache[K, V]) alloc() int32 {
	if len(c.partial) == 0 {
		c.addChunk()
	}
	id := c.partial[len(c.partial)-1]
	ch := c.chunks[id]
	var i int32
	if ch.free != none {
		i = ch.free
		ch.free = ch.slots[i].next
	} else {
		i = ch.fresh
		ch.fresh++
	}
	ch.live++
	c.spare--
	if int(ch.live) == len(ch.slots) {
		c.dropPartial(ch)
	}
	return id<<c.shift | i
}

// free zeroes slot h, so nothing it referenced stays reachable, and
// returns it to its chunk.
func (c *Cache[K, V]) free(h int32) {
	id, i := h>>c.shift, h&c.mask
	ch := c.chunks[id]
	ch.slots[i] = slot[K, V]{next: ch.free}
	ch.free = i
	ch.live--
	c.spare++
	if ch.partial == none {
		ch.partial = int32(len(c.partial))
		c.partial = append(c.partial, id)
	}
	size := len(ch.slots)
	if ch.live == 0 && c.spare-size >= max(size/2, 1) {
		c.releaseChunk(id, ch)
	}
}

func (c *Cache[K, V]) addChunk() {
	size := 1 << c.shift
	ch := &chunk[K, V]{slots: make([]slot[K, V], size), free: none, partial: int32(len(c.partial))}
	var id int32
	if n := len(c.holes); n > 0 {
		id = c.holes[n-1]
		c.holes = c.holes[:n-1]
		c.chunks[id] = ch
	} else {
		id = int32(len(c.chunks))
		c.chunks = append(c.chunks, ch)
	}
	c.partial = append(c.partial, id)
	c.spare += size
}

func (c *Cache[K, V]) releaseChunk(id int32, ch *chunk[K, V]) {
	c.dropPartial(ch)
	c.spare -= len(ch.slots)
	c.chunks[id] = nil
	c.holes = append(c.holes, id)
}

// dropPartial removes a chunk from the chunks with free slots.
func (c *Cache[K, V]) dropPartial(ch *chunk[K, V]) {
	pos, last := ch.partial, c.partial[len(c.partial)-1]
	c.partial[pos] = last
	c.chunks[last].partial = pos
	c.partial = c.partial[:len(c.partial)-1]
	ch.partial = none
}

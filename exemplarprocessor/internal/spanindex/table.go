// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package spanindex // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"

import (
	"encoding/binary"
	"math/bits"
)

// The ID table maps (trace ID, span ID) to a span's sequence number with
// linear probing. A slot is tag<<seqBits | seq mod 2^seqBits; 0 is empty (the
// tag is never 0). The tag holds high hash bits, so a probe rarely reads a
// record it does not want: at a million spans a record read is a cache miss.
//
// Nothing is ever deleted. Eviction is first-in first-out, so a slot whose
// sequence number is older than the ring's tail is dead: lookups step over
// it, inserts reuse it. The table is rebuilt from the live ring (sequential
// reads) when dead slots crowd it, which costs less than finding and
// unlinking each evicted span's slot (two cache misses per span).

const minTable = 1024

// keyHash hashes a span's IDs: three words mixed with secret seeds (as
// wyhash does), a fraction of hashing 24 bytes through maphash.
func (idx *Index) keyHash(tid *[16]byte, sid *[8]byte) uint64 {
	s := &idx.idSeed
	a := binary.LittleEndian.Uint64(tid[:8]) ^ s[0]
	b := binary.LittleEndian.Uint64(tid[8:]) ^ s[1]
	c := binary.LittleEndian.Uint64(sid[:]) ^ s[2]
	return mix(mix(a, b)^c, s[3])
}

func (idx *Index) tagOf(h uint64) uint32 {
	t := uint32(h >> (64 - (32 - idx.seqBits)))
	if t == 0 {
		t = 1
	}
	return t
}

func (idx *Index) slotFor(tag uint32, seq uint64) uint32 {
	return tag<<idx.seqBits | uint32(seq)&(1<<idx.seqBits-1)
}

// slotSeq returns the full sequence number a slot refers to and whether that
// span is still in the ring.
func (idx *Index) slotSeq(s uint32) (uint64, bool) {
	mask := uint64(1)<<idx.seqBits - 1
	back := (idx.seq - uint64(s)) & mask // 1 for the newest span
	return idx.seq - back, back != 0 && back <= uint64(idx.count)
}

// find looks up a span by IDs. It returns the slot and sequence number of the
// span when found, and otherwise the slot an insert should use.
func (idx *Index) find(h uint64, tid *[16]byte, sid *[8]byte) (slot uint64, seq uint64, found bool) {
	tag := idx.tagOf(h)
	free := ^uint64(0)
	for i := h & idx.tableMask; ; i = (i + 1) & idx.tableMask {
		s := idx.table[i]
		if s == 0 {
			if free == ^uint64(0) {
				free = i
			}
			return free, 0, false
		}
		sq, live := idx.slotSeq(s)
		if !live {
			if free == ^uint64(0) {
				free = i
			}
			continue
		}
		if s>>idx.seqBits != tag {
			continue
		}
		r := idx.rec(idx.posOfSeq(sq))
		if r.traceID == *tid && r.spanID == *sid {
			return i, sq, true
		}
	}
}

// put stores a span's slot at table index i (from find).
func (idx *Index) put(i uint64, h uint64, seq uint64) {
	if idx.table[i] == 0 {
		idx.tableUsed++
	}
	idx.table[i] = idx.slotFor(idx.tagOf(h), seq)
	idx.sinceRebuild++
}

// maybeRebuild rebuilds the table before an insert that takes a new slot
// when the live spans need a larger table (75 % of the slots used), dead
// slots crowd it (80 %: a rebuild re-places every live span at random,
// which at a million spans costs more than the longer probes until then)
// or sequence numbers could alias.
func (idx *Index) maybeRebuild() bool {
	used, size := idx.tableUsed, len(idx.table)
	grow := used*4 >= size*3 && int(idx.count)*2 > size
	if !grow && used*5 < size*4 && idx.sinceRebuild < 2*uint64(idx.cfg.MaxSpans) {
		return false
	}
	idx.rebuild()
	return true
}

// rebuild re-creates the table from the live ring, newest span first, so
// that of two spans with the same IDs (the older one seen outside the
// duplicate window) the table keeps the newer.
func (idx *Index) rebuild() {
	live := int(idx.count)
	size := minTable
	if live*2 > size {
		size = 1 << bits.Len(uint(live*2-1))
	}
	if len(idx.table) == size {
		clear(idx.table)
	} else {
		idx.table = make([]uint32, size)
	}
	idx.tableMask = uint64(size - 1)
	idx.tableUsed = 0
	idx.sinceRebuild = 0
	idx.rebuilds++
	// Newest first, in blocks: hash a block and touch its slots so the
	// loads overlap, then place each span.
	const block = 64
	var hashes [block]uint64
	tail := idx.tailSeq()
	for hi := idx.seq; hi > tail; {
		lo := max(hi-block, tail)
		if hi-tail < block {
			lo = tail
		}
		for seq := hi; seq > lo; {
			seq--
			r := idx.rec(idx.posOfSeq(seq))
			hashes[hi-1-seq] = idx.keyHash(&r.traceID, &r.spanID)
		}
		idx.touch(hashes[:hi-lo])
		for seq := hi; seq > lo; {
			seq--
			idx.place(hashes[hi-1-seq], seq)
		}
		hi = lo
	}
}

// place puts seq into a fresh table unless a newer span with the same IDs
// is already there.
func (idx *Index) place(h uint64, seq uint64) {
	r := idx.rec(idx.posOfSeq(seq))
	tag := idx.tagOf(h)
	i := h & idx.tableMask
	for ; idx.table[i] != 0; i = (i + 1) & idx.tableMask {
		if s := idx.table[i]; s>>idx.seqBits == tag {
			sq, _ := idx.slotSeq(s)
			if o := idx.rec(idx.posOfSeq(sq)); o.traceID == r.traceID && o.spanID == r.spanID {
				return
			}
		}
	}
	idx.table[i] = idx.slotFor(tag, seq)
	idx.tableUsed++
}

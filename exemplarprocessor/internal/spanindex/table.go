// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package spanindex // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"

import (
	"hash/maphash"
)

// The ID table maps (trace ID, span ID) to a ring position with linear
// probing. A slot is tag<<posBits | pos+1; 0 is empty. The tag holds high
// hash bits so that a probe rarely has to read a record it does not want: at
// one million spans a record read is a cache miss.

func (idx *Index) keyHash(tid *[16]byte, sid *[8]byte) uint64 {
	var k [24]byte
	copy(k[:16], tid[:])
	copy(k[16:], sid[:])
	return maphash.Bytes(idx.seed, k[:])
}

func (idx *Index) slotFor(h uint64, pos uint32) uint32 {
	return idx.tagOf(h)<<idx.posBits | (pos + 1)
}

func (idx *Index) tagOf(h uint64) uint32 {
	if idx.posBits >= 32 {
		return 0
	}
	return uint32(h >> (64 - (32 - idx.posBits)))
}

func (idx *Index) posOf(slot uint32) uint32 {
	return slot&(1<<idx.posBits-1) - 1
}

// find returns the table slot and ring position of the span with these IDs.
func (idx *Index) find(h uint64, tid *[16]byte, sid *[8]byte) (slot uint64, pos uint32, ok bool) {
	tag := idx.tagOf(h)
	for i := h & idx.tableMask; ; i = (i + 1) & idx.tableMask {
		s := idx.table[i]
		if s == 0 {
			return 0, 0, false
		}
		if s>>idx.posBits != tag {
			continue
		}
		p := idx.posOf(s)
		r := idx.rec(p)
		if r.traceID == *tid && r.spanID == *sid {
			return i, p, true
		}
	}
}

// findPos returns the table slot that points at ring position pos.
func (idx *Index) findPos(h uint64, pos uint32) (uint64, bool) {
	want := idx.slotFor(h, pos)
	for i := h & idx.tableMask; ; i = (i + 1) & idx.tableMask {
		switch idx.table[i] {
		case 0:
			return 0, false
		case want:
			return i, true
		}
	}
}

func (idx *Index) insertSlot(h uint64, pos uint32) {
	if (idx.entries()+1)*4 > len(idx.table)*3 {
		idx.resizeTable(2 * len(idx.table))
	}
	idx.place(h, idx.slotFor(h, pos))
}

func (idx *Index) place(h uint64, slot uint32) {
	i := h & idx.tableMask
	for idx.table[i] != 0 {
		i = (i + 1) & idx.tableMask
	}
	idx.table[i] = slot
	idx.tableUsed++
}

func (idx *Index) entries() int { return idx.tableUsed }

// deleteSlot empties slot i and shifts the rest of its probe run back so
// that lookups never stop early (no tombstones).
func (idx *Index) deleteSlot(i uint64) {
	mask := idx.tableMask
	for j := (i + 1) & mask; idx.table[j] != 0; j = (j + 1) & mask {
		r := idx.rec(idx.posOf(idx.table[j]))
		home := idx.keyHash(&r.traceID, &r.spanID) & mask
		// The entry at j may move to i unless its home lies cyclically in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			idx.table[i] = idx.table[j]
			i = j
		}
	}
	idx.table[i] = 0
	idx.tableUsed--
	if len(idx.table) > 1024 && idx.tableUsed*8 < len(idx.table) {
		idx.resizeTable(len(idx.table) / 2)
	}
}

func (idx *Index) resizeTable(n int) {
	old := idx.table
	idx.table = make([]uint32, n)
	idx.tableMask = uint64(n - 1)
	idx.tableUsed = 0
	for _, s := range old {
		if s == 0 {
			continue
		}
		r := idx.rec(idx.posOf(s))
		idx.place(idx.keyHash(&r.traceID, &r.spanID), s)
	}
}

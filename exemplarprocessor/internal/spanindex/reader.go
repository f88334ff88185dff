// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package spanindex // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"

// Reader answers queries while holding a shared lock on the index.
type Reader struct {
	idx *Index
}

// BeginRead takes a shared lock; End releases it. Refs and Extras read
// through a Reader are valid until End.
func (idx *Index) BeginRead() Reader {
	idx.mu.RLock()
	return Reader{idx: idx}
}

// End releases the shared lock.
func (r Reader) End() { r.idx.mu.RUnlock() }

// NextSeq is the sequence number the next indexed span will get: every span
// indexed from now on has a Seq at least this large.
func (r Reader) NextSeq() uint64 { return r.idx.seq }

// ArrivedSince returns a sequence number below which every span arrived
// before t (Unix ns), to checkpoint resolution: spans are numbered in
// arrival order, so a walk from newest to oldest can stop there.
func (r Reader) ArrivedSince(t int64) uint64 {
	idx := r.idx
	// The last checkpoint at or before t: its spans may have arrived after t.
	cp, ok := idx.lastCheckpoint(func(c checkpoint) bool { return c.t <= t })
	if !ok {
		return idx.tailSeq()
	}
	return max(cp.seq, idx.tailSeq())
}

// Spans is the number of spans held.
func (r Reader) Spans() int { return int(r.idx.count) }

// ServiceKnown reports whether the index holds a span that joins some rule
// and has k's resource identity (the values before the kind), of any kind.
func (r Reader) ServiceKnown(k *Key) bool {
	return k.kindSet && r.idx.groups.byRes[k.resHash] > 0
}

// Lookup finds the indexed span with these IDs.
func (r Reader) Lookup(tid [16]byte, sid [8]byte) (Ref, bool) {
	idx := r.idx
	_, seq, ok := idx.find(idx.keyHash(&tid, &sid), &tid, &sid)
	if !ok {
		return Ref{}, false
	}
	pos := idx.posOfSeq(seq)
	return idx.ref(pos, idx.rec(pos)), true
}

// Generation changes whenever a group with k's resource identity and span
// kind appears or goes; 0 means there is none. A caller may keep the result
// of Groups for a key while the generation stays the same.
func (r Reader) Generation(k *Key) uint64 {
	if !k.kindSet {
		return 0
	}
	return r.GenerationOf(k.rkHash)
}

// GenerationOf is Generation for a key's RKHash.
func (r Reader) GenerationOf(rkHash uint64) uint64 {
	return r.idx.groups.generation(rkHash)
}

// Groups appends to dst the live groups that k selects: the one equal to k,
// or, when k holds wildcards, every group that agrees on its other values.
func (r Reader) Groups(k *Key, dst []GroupID) []GroupID {
	if !k.kindSet {
		return dst
	}
	return r.idx.groups.selectGroups(k, dst)
}

// Size bounds the number of group id's spans still indexed (spans past
// their TTL but not yet evicted included), without reading a record.
func (r Reader) Size(id GroupID) uint64 {
	return uint64(r.idx.groups.groups[id].refs)
}

// Fines appends the duration classes that group id has spans in.
func (r Reader) Fines(id GroupID, dst []uint8) []uint8 {
	return append(dst, r.idx.groups.groups[id].order...)
}

// Extra returns the optional values kept for ref, or nil.
func (r Reader) Extra(ref Ref) *Extra {
	idx := r.idx
	if idx.rec(ref.pos).flags&flagExtra == 0 {
		return nil
	}
	return &idx.extras[ref.pos>>chunkShift][ref.pos&chunkMask]
}

// RefOf makes a Ref of a recent span, without IDs.
func (r Reader) RefOf(s Recent) Ref {
	return Ref{End: s.End, Duration: s.Duration, Seq: s.Seq, pos: r.idx.posOfSeq(s.Seq), noIDs: true}
}

// LoadIDs fills in the IDs (and kind and group) of a Ref made by RefOf.
func (r Reader) LoadIDs(ref *Ref) {
	if !ref.noIDs {
		return
	}
	rec := r.idx.rec(ref.pos)
	ref.TraceID, ref.SpanID, ref.Kind, ref.Group, ref.noIDs = rec.traceID, rec.spanID, rec.kind, rec.group, false
}

// Iter walks one duration class of a group, newest span first.
type Iter struct {
	idx     *Index
	group   GroupID
	fine    uint8
	maxEnd  uint64
	head    *fineHead
	next    uint32 // pos+1
	lastAge uint32
	started bool
}

// List returns an iterator over the spans of group id in duration class fine.
func (r Reader) List(id GroupID, fine uint8) Iter {
	it := Iter{idx: r.idx, group: id, fine: fine}
	if h := r.idx.groups.groups[id].head(fine); h != nil {
		it.next, it.maxEnd, it.head = h.head, h.maxEnd, h
	}
	return it
}

// Newest appends to dst the list's newest (at most Peek) spans that are
// still indexed, newest first, without reading their records. Refs made
// from them carry no IDs until LoadIDs. Valid before the index is written.
func (it *Iter) Newest(dst []Recent) []Recent {
	if it.head == nil {
		return dst
	}
	tail := it.idx.tailSeq()
	for _, s := range it.head.newest[:it.head.recent] {
		if s.Seq < tail {
			break // evicted, and so is everything older
		}
		dst = append(dst, s)
	}
	return dst
}

// MaxEnd bounds the end time of every span the iterator can return; 0 for
// an empty list.
func (it *Iter) MaxEnd() uint64 { return it.maxEnd }

// HeadSeq is the sequence number of the list's newest span, read from its
// position only; 0 for an empty list. Only meaningful before Next.
func (it *Iter) HeadSeq() uint64 {
	if it.next == 0 || !it.idx.live(it.next-1) {
		return 0
	}
	return it.idx.seqOf(it.next - 1)
}

// Next returns the next older span of the list, ending the list at spans
// numbered below floor: their record is never read (at scale, every record
// read is a cache miss).
func (it *Iter) Next(floor uint64) (Ref, bool) {
	idx := it.idx
	if it.next == 0 {
		return Ref{}, false
	}
	pos := it.next - 1
	// A link to an evicted span may point at a position the ring has reused
	// for a newer span: only strictly older, live positions continue a list.
	age := idx.age(pos)
	if !idx.live(pos) || (it.started && age <= it.lastAge) || idx.seqOf(pos) < floor {
		it.next = 0
		return Ref{}, false
	}
	rec := idx.rec(pos)
	if !it.started && (rec.group != it.group || Fine(rec.duration()) != it.fine) {
		// The head outlived its spans and the ring reused the position.
		it.next = 0
		return Ref{}, false
	}
	it.started, it.lastAge = true, age
	it.next = rec.next
	return idx.ref(pos, rec), true
}

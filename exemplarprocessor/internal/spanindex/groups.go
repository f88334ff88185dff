// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package spanindex // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"

import "math/bits"

// A join group is every indexed span that shares a resource identity, a span
// kind and the values of the join attributes. Within a group, spans are kept
// in lists by duration class (Fine), newest first, so that a bucket search
// walks only spans whose duration can fall in the bucket.
//
// Groups hang off their resource identity and span kind (an rkEntry), which
// is interned once: a group compares only its dimension values, and a span
// key finds its resource identity through the key's memo instead of
// comparing resource strings per span.

// GroupID names a live group. NoGroup is a span that joins nothing.
type GroupID uint32

// NoGroup marks spans that are indexed for their IDs only.
const NoGroup GroupID = 0

type fineHead struct {
	fine   uint8
	recent uint8  // entries of newest in use
	head   uint32 // pos+1 of the newest span, 0 = none
	// maxEnd bounds the end time of every span on the list, so a search can
	// skip a list that cannot reach its window without reading records.
	maxEnd uint64
	// newest repeats what a search needs of the list's newest spans, newest
	// first, so that a peek at them reads no record: at scale every record
	// read is a cache miss, while the group's heads stay in cache.
	newest [Peek]Recent
}

// Peek is how many of each list's newest spans a head keeps.
const Peek = 4

// Recent is a list's newest span as its head keeps it.
type Recent struct {
	Seq      uint64
	End      uint64
	Duration int64
}

type group struct {
	hash     uint64
	rk       rkID
	mask     uint32 // dimensions with a value
	refs     uint32 // spans indexed, plus pins of a write in progress
	sameHash GroupID
	at       uint32 // index in its rkEntry's ids
	partAt   uint32 // index in its part's ids
	// stamp changes when the group is freed: a memo of the id is stale.
	stamp uint32
	vals  []storedVal // the present dimensions' values, in order
	// fines has a bit per duration class with a head; heads are sorted by
	// class, so a class's head is found by counting bits.
	fines [2]uint64
	heads []fineHead
	// order lists the classes in the order their heads appeared (Fines).
	order []uint8
}

// headIndex returns where the head of class fine is, or would go, in heads.
func (g *group) headIndex(fine uint8) (int, bool) {
	w, b := fine>>6, fine&63
	below := bits.OnesCount64(g.fines[w&1] & (1<<b - 1))
	if w == 1 {
		below += bits.OnesCount64(g.fines[0])
	}
	return below, fine < 128 && g.fines[w&1]&(1<<b) != 0
}

// head returns the list head of duration class fine, or nil.
func (g *group) head(fine uint8) *fineHead {
	if i, ok := g.headIndex(fine); ok {
		return &g.heads[i]
	}
	return nil
}

// rkID names a live resource identity and span kind.
type rkID uint32

// rkEntry is a resource identity and span kind with live groups.
type rkEntry struct {
	hash     uint64 // Key.RKHash
	resHash  uint64
	kind     uint8
	res      []storedVal
	sameHash rkID
	stamp    uint32 // changes when the entry is freed
	// gen changes whenever a group appears or goes, never repeats.
	gen uint64
	// ids are the entry's groups in the order readers get them: appended,
	// and the last moved into a freed group's place.
	ids []GroupID
	// parts are the groups by which dimensions have a value: a data point
	// that binds every dimension of a part finds its group by hash.
	parts []part
}

type part struct {
	mask uint32
	ids  []GroupID
}

func (e *rkEntry) partIndex(mask uint32) int {
	for i := range e.parts {
		if e.parts[i].mask == mask {
			return i
		}
	}
	return -1
}

// keyMemo is what a span key remembers between spans, valid while the
// stamps it recorded are: the resource identity per span kind of its
// current resource, and the groups it resolved recently. The spans of one
// export repeat a few dozen groups.
type keyMemo struct {
	rk     [8]rkRef // by span kind
	groups [memoGroups]groupRef
}

const memoGroups = 256

type rkRef struct {
	id    rkID
	stamp uint32
}

type groupRef struct {
	hash  uint64
	id    GroupID
	stamp uint32
}

type groupTable struct {
	groups   []group // index 0 unused
	free     []GroupID
	byHash   map[uint64]GroupID
	rks      []rkEntry // index 0 unused
	rkFree   []rkID
	rkByHash map[uint64]rkID
	// byRes counts the live resource identity and kind entries of each
	// resource identity: whether the index holds any span of a service,
	// whatever its kind.
	byRes map[uint64]int32
	gen   uint64
	live  int
}

func (gt *groupTable) init() {
	gt.groups = make([]group, 1)
	gt.rks = make([]rkEntry, 1)
	gt.byHash = map[uint64]GroupID{}
	gt.rkByHash = map[uint64]rkID{}
	gt.byRes = map[uint64]int32{}
}

// findRK returns the entry of k's resource identity and kind, or 0.
func (gt *groupTable) findRK(k *Key) rkID {
	for id := gt.rkByHash[k.rkHash]; id != 0; id = gt.rks[id].sameHash {
		if e := &gt.rks[id]; e.kind == k.kind && k.resEqual(e.res) {
			return id
		}
	}
	return 0
}

// resolveRK is findRK through k's memo.
func (gt *groupTable) resolveRK(k *Key) rkID {
	m := &k.memo.rk[k.kind&7]
	if m.id != 0 && int(m.id) < len(gt.rks) && gt.rks[m.id].stamp == m.stamp {
		return m.id
	}
	id := gt.findRK(k)
	if id != 0 {
		*m = rkRef{id: id, stamp: gt.rks[id].stamp}
	}
	return id
}

func (gt *groupTable) createRK(k *Key) rkID {
	id := takeSlot(&gt.rks, &gt.rkFree)
	e := &gt.rks[id]
	res := make([]storedVal, k.nres)
	for i := range k.nres {
		res[i] = k.store(&k.res[i])
	}
	gt.gen++
	*e = rkEntry{
		hash: k.rkHash, resHash: k.resHash, kind: k.kind, res: res,
		sameHash: gt.rkByHash[k.rkHash], stamp: e.stamp, gen: gt.gen,
	}
	gt.rkByHash[k.rkHash] = id
	gt.byRes[k.resHash]++
	k.memo.rk[k.kind&7] = rkRef{id: id, stamp: e.stamp}
	return id
}

// lookup returns the group of rk equal to k (every dimension bound), or
// NoGroup.
func (gt *groupTable) lookup(k *Key, rk rkID, h uint64) GroupID {
	for id := gt.byHash[h]; id != NoGroup; id = gt.groups[id].sameHash {
		if g := &gt.groups[id]; g.rk == rk && k.dimsEqual(g.mask, g.vals) {
			return id
		}
	}
	return NoGroup
}

// intern returns the group for k, creating it when new, and takes a
// reference on it for the span about to be inserted (see Writer.Pin).
func (gt *groupTable) intern(k *Key) GroupID {
	if k.memo == nil {
		k.memo = &keyMemo{}
	}
	h := k.hash()
	slot := &k.memo.groups[h%memoGroups]
	rk := gt.resolveRK(k)
	id := NoGroup
	switch {
	case rk == 0:
		rk = gt.createRK(k)
	case slot.hash == h && slot.id != NoGroup && int(slot.id) < len(gt.groups) &&
		gt.groups[slot.id].stamp == slot.stamp && gt.groups[slot.id].rk == rk &&
		k.dimsEqual(gt.groups[slot.id].mask, gt.groups[slot.id].vals):
		id = slot.id
	default:
		id = gt.lookup(k, rk, h)
	}
	if id == NoGroup {
		id = gt.create(k, rk, h)
	}
	g := &gt.groups[id]
	g.refs++
	*slot = groupRef{hash: h, id: id, stamp: g.stamp}
	return id
}

func (gt *groupTable) create(k *Key, rk rkID, h uint64) GroupID {
	id := takeSlot(&gt.groups, &gt.free)
	vals := make([]storedVal, k.nvals)
	for i := range k.nvals {
		vals[i] = k.store(&k.vals[i])
	}
	e := &gt.rks[rk]
	pi := e.partIndex(k.present)
	if pi < 0 {
		e.parts = append(e.parts, part{mask: k.present})
		pi = len(e.parts) - 1
	}
	p := &e.parts[pi]
	g := &gt.groups[id]
	*g = group{
		hash: h, rk: rk, mask: k.present, vals: vals, sameHash: gt.byHash[h], stamp: g.stamp,
		at: uint32(len(e.ids)), partAt: uint32(len(p.ids)),
	}
	gt.byHash[h] = id
	e.ids = append(e.ids, id)
	p.ids = append(p.ids, id)
	gt.gen++
	e.gen = gt.gen
	gt.live++
	return id
}

// push makes pos+1 the newest span of (id, fine) and returns the previous
// newest. The span's reference on the group was taken by intern.
func (gt *groupTable) push(id GroupID, fine uint8, posPlus1 uint32, r Recent) uint32 {
	g := &gt.groups[id]
	i, ok := g.headIndex(fine)
	if ok {
		h := &g.heads[i]
		prev := h.head
		h.head = posPlus1
		h.maxEnd = max(h.maxEnd, r.End)
		copy(h.newest[1:], h.newest[:Peek-1])
		h.newest[0] = r
		h.recent = min(h.recent+1, Peek)
		return prev
	}
	// Exactly as many heads as classes: a group's classes appear early in
	// its life, and growth by doubling would leave a quarter of the heads'
	// memory (3 bytes per indexed span) unused.
	heads := make([]fineHead, len(g.heads)+1)
	copy(heads, g.heads[:i])
	copy(heads[i+1:], g.heads[i:])
	heads[i] = fineHead{fine: fine, head: posPlus1, maxEnd: r.End, recent: 1, newest: [Peek]Recent{r}}
	g.heads = heads
	g.fines[fine>>6&1] |= 1 << (fine & 63)
	g.order = append(g.order, fine)
	return 0
}

// release drops a reference and frees the group with its last one.
func (gt *groupTable) release(id GroupID) {
	g := &gt.groups[id]
	g.refs--
	if g.refs > 0 {
		return
	}
	gt.unlinkHash(id)
	e := &gt.rks[g.rk]
	last := e.ids[len(e.ids)-1]
	e.ids[g.at] = last
	gt.groups[last].at = g.at
	e.ids = e.ids[:len(e.ids)-1]
	pi := e.partIndex(g.mask)
	p := &e.parts[pi]
	last = p.ids[len(p.ids)-1]
	p.ids[g.partAt] = last
	gt.groups[last].partAt = g.partAt
	p.ids = p.ids[:len(p.ids)-1]
	if len(p.ids) == 0 {
		e.parts[pi] = e.parts[len(e.parts)-1]
		e.parts = e.parts[:len(e.parts)-1]
	}
	gt.gen++
	e.gen = gt.gen
	if len(e.ids) == 0 {
		gt.freeRK(g.rk)
	}
	*g = group{stamp: g.stamp + 1}
	gt.free = append(gt.free, id)
	gt.live--
}

func (gt *groupTable) unlinkHash(id GroupID) {
	g := &gt.groups[id]
	if gt.byHash[g.hash] == id {
		if g.sameHash == NoGroup {
			delete(gt.byHash, g.hash)
		} else {
			gt.byHash[g.hash] = g.sameHash
		}
		return
	}
	for p := gt.byHash[g.hash]; p != NoGroup; p = gt.groups[p].sameHash {
		if gt.groups[p].sameHash == id {
			gt.groups[p].sameHash = g.sameHash
			return
		}
	}
}

// freeRK frees an entry without groups. Entries sharing its hash get a new
// generation: a reader's generation for the hash changes with any of them.
func (gt *groupTable) freeRK(id rkID) {
	e := &gt.rks[id]
	if gt.rkByHash[e.hash] == id {
		if e.sameHash == 0 {
			delete(gt.rkByHash, e.hash)
		} else {
			gt.rkByHash[e.hash] = e.sameHash
		}
	} else {
		for p := gt.rkByHash[e.hash]; p != 0; p = gt.rks[p].sameHash {
			if gt.rks[p].sameHash == id {
				gt.rks[p].sameHash = e.sameHash
				break
			}
		}
	}
	for p := gt.rkByHash[e.hash]; p != 0; p = gt.rks[p].sameHash {
		gt.gen++
		gt.rks[p].gen = gt.gen
	}
	if gt.byRes[e.resHash]--; gt.byRes[e.resHash] == 0 {
		delete(gt.byRes, e.resHash)
	}
	*e = rkEntry{stamp: e.stamp + 1}
	gt.rkFree = append(gt.rkFree, id)
}

// generation is the newest generation of the entries with hash h, 0 for
// none.
func (gt *groupTable) generation(h uint64) uint64 {
	var gen uint64
	for id := gt.rkByHash[h]; id != 0; id = gt.rks[id].sameHash {
		gen = max(gen, gt.rks[id].gen)
	}
	return gen
}

// selectGroups appends the groups k selects, in the order of their
// entry's ids.
func (gt *groupTable) selectGroups(k *Key, dst []GroupID) []GroupID {
	rk := gt.findRK(k)
	if rk == 0 {
		return dst
	}
	if !k.wild() {
		if id := gt.lookup(k, rk, k.hash()); id != NoGroup {
			dst = append(dst, id)
		}
		return dst
	}
	from := len(dst)
	e := &gt.rks[rk]
	for i := range e.parts {
		p := &e.parts[i]
		switch {
		case p.mask&k.bound != k.present:
			// A dimension the key binds is present on one side only.
		case p.mask&^k.bound == 0:
			// The key binds every dimension the part's groups have.
			if id := gt.lookup(k, rk, k.hash()); id != NoGroup {
				dst = append(dst, id)
			}
		default:
			for _, id := range p.ids {
				if g := &gt.groups[id]; k.selects(g.mask, g.vals) {
					dst = append(dst, id)
				}
			}
		}
	}
	sel := dst[from:]
	for i := 1; i < len(sel); i++ {
		for j := i; j > 0 && gt.groups[sel[j]].at < gt.groups[sel[j-1]].at; j-- {
			sel[j], sel[j-1] = sel[j-1], sel[j]
		}
	}
	return dst
}

// Fine is the duration class of a span: 0 for no duration, else
// 1 + floor(2*log2(ns)), so each class spans a factor of sqrt(2).
func Fine(ns int64) uint8 {
	if ns <= 0 {
		return 0
	}
	e := bits.Len64(uint64(ns)) - 1
	m := uint64(ns) << (63 - e)
	half := 0
	if m >= 0xb504f333f9de6484 { // sqrt(2) * 2^63
		half = 1
	}
	return uint8(1 + 2*e + half)
}

// takeSlot returns the ID of a free entry of items: the most recently
// freed one, else a new zero entry appended.
func takeSlot[T any, ID ~uint32](items *[]T, free *[]ID) ID {
	if n := len(*free); n > 0 {
		id := (*free)[n-1]
		*free = (*free)[:n-1]
		return id
	}
	var zero T
	*items = append(*items, zero)
	return ID(len(*items) - 1)
}

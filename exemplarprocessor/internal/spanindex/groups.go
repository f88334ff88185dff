// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package spanindex // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"

import (
	"hash/maphash"
	"math/bits"
	"strconv"
	"strings"
)

// A join group is every indexed span that shares a resource identity, a span
// kind and the values of the join attributes. Within a group, spans are kept
// in lists by duration class (Fine), newest first, so that a bucket search
// walks only spans whose duration can fall in the bucket.

// GroupID names a live group. NoGroup is a span that joins nothing.
type GroupID uint32

// NoGroup marks spans that are indexed for their IDs only.
const NoGroup GroupID = 0

// MaxKeyValues bounds the values of a Key: resource keys plus join attributes.
const MaxKeyValues = 32

const (
	valAbsent uint8 = iota
	valString
	valBytes
	valAny
)

type keyVal struct {
	state uint8
	s     string
	b     []byte // number formatted into Key.buf
}

// Key is a join group identity: the resource identity values, the span kind
// and the join attribute values, in that order. Numbers are compared in their
// decimal form so 200 and "200" are equal. A value can be Any (data point
// side): such keys select every group that agrees on the other values.
type Key struct {
	seed     maphash.Seed
	n        int
	resource int // values before the kind
	kind     uint8
	kindSet  bool
	rkHash   uint64
	resHash  uint64
	wild     bool
	vals     [MaxKeyValues]keyVal
	buf      [MaxKeyValues * 24]byte
	bufUsed  int
}

// NewKey returns a key whose hashes agree with idx.
func (idx *Index) NewKey() *Key { return &Key{seed: idx.seed} }

// Reset empties the key.
func (k *Key) Reset() {
	k.n, k.resource, k.kindSet, k.wild, k.bufUsed = 0, 0, false, false, 0
}

// TruncateToResource forgets the kind and the attribute values, keeping the
// resource values: the span side reuses a resource prefix for every span.
func (k *Key) TruncateToResource() {
	k.n, k.kindSet, k.wild = k.resource, false, false
	k.bufUsed = 0
	for i := range k.resource {
		if k.vals[i].state == valBytes {
			k.bufUsed += len(k.vals[i].b)
		}
	}
}

func (k *Key) add(v keyVal) {
	if k.n == MaxKeyValues {
		return
	}
	if v.state == valAny {
		k.wild = true
	}
	k.vals[k.n] = v
	k.n++
	if !k.kindSet {
		k.resource = k.n
	}
}

// AddString appends a string value.
func (k *Key) AddString(s string) { k.add(keyVal{state: valString, s: s}) }

// AddInt appends an integer value (equal to its decimal string).
func (k *Key) AddInt(i int64) {
	start := k.bufUsed
	b := strconv.AppendInt(k.buf[start:start], i, 10)
	k.bufUsed += len(b)
	k.add(keyVal{state: valBytes, b: b})
}

// AddDouble appends a floating point value in its shortest decimal form.
func (k *Key) AddDouble(f float64) {
	start := k.bufUsed
	b := strconv.AppendFloat(k.buf[start:start], f, 'g', -1, 64)
	if len(b) > 24 {
		k.add(keyVal{state: valString, s: string(b)})
		return
	}
	k.bufUsed += len(b)
	k.add(keyVal{state: valBytes, b: b})
}

// AddBool appends a boolean as "true" or "false".
func (k *Key) AddBool(v bool) { k.add(keyVal{state: valString, s: strconv.FormatBool(v)}) }

// AddAbsent appends a value that is not there; it equals only absence.
func (k *Key) AddAbsent() { k.add(keyVal{state: valAbsent}) }

// AddAny appends a wildcard: the data point does not constrain this value.
func (k *Key) AddAny() { k.add(keyVal{state: valAny}) }

// SetKind ends the resource values and records the span kind.
func (k *Key) SetKind(kind uint8) {
	k.resource = k.n
	k.kind = kind
	k.kindSet = true
	k.resHash = k.hashRange(0, k.n)
	k.rkHash = k.resHash ^ (uint64(kind)+1)*0x9e3779b97f4a7c15
}

func (k *Key) hashRange(from, to int) uint64 {
	h := uint64(0x84222325cbf29ce4)
	for i := from; i < to; i++ {
		v := &k.vals[i]
		var vh uint64
		switch v.state {
		case valString:
			vh = maphash.String(k.seed, v.s)
		case valBytes:
			vh = maphash.Bytes(k.seed, v.b)
		default:
			vh = uint64(v.state)
		}
		h = bits.RotateLeft64(h^vh, 27)*0x100000001b3 + uint64(i)
	}
	return h
}

// RKHash identifies the key's resource identity and span kind; see
// Reader.GenerationOf.
func (k *Key) RKHash() uint64 { return k.rkHash }

func (k *Key) hash() uint64 { return k.rkHash ^ bits.RotateLeft64(k.hashRange(k.resource, k.n), 13) }

func (v *keyVal) equal(stored storedVal) bool {
	switch v.state {
	case valAny:
		return true
	case valAbsent:
		return !stored.present
	case valString:
		return stored.present && v.s == stored.s
	default:
		return stored.present && string(v.b) == stored.s
	}
}

func (v *keyVal) store() storedVal {
	switch v.state {
	case valString:
		// Strings may point into the caller's pdata: keep a copy.
		return storedVal{present: true, s: strings.Clone(v.s)}
	case valBytes:
		return storedVal{present: true, s: string(v.b)}
	default:
		return storedVal{}
	}
}

type storedVal struct {
	present bool
	s       string
}

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
	rkHash   uint64
	resHash  uint64
	kind     uint8
	resource int
	vals     []storedVal
	refs     uint32
	heads    []fineHead
	byFine   [128]uint8 // index+1 into heads per duration class, 0 = none
	sameHash GroupID    // next group with the same hash
}

// head returns the list head of duration class fine, or nil.
func (g *group) head(fine uint8) *fineHead {
	if int(fine) >= len(g.byFine) || g.byFine[fine] == 0 {
		return nil
	}
	return &g.heads[g.byFine[fine]-1]
}

type groupTable struct {
	groups []group // index 0 unused
	free   []GroupID
	byHash map[uint64]GroupID
	byRK   map[uint64]*rkBucket
	// byRes counts the live groups of each resource identity: whether the
	// index holds any span of a service, whatever its kind.
	byRes map[uint64]int32
	gen   uint64
	live  int
}

// rkBucket is every group of one resource identity and span kind.
type rkBucket struct {
	ids []GroupID
	gen uint64 // changes with ids, never repeats
}

func (gt *groupTable) init(maphash.Seed) {
	gt.groups = make([]group, 1)
	gt.byHash = map[uint64]GroupID{}
	gt.byRK = map[uint64]*rkBucket{}
	gt.byRes = map[uint64]int32{}
}

func (gt *groupTable) matches(g *group, k *Key) bool {
	if g.kind != k.kind || g.resource != k.resource || len(g.vals) != k.n {
		return false
	}
	for i := range k.n {
		if !k.vals[i].equal(g.vals[i]) {
			return false
		}
	}
	return true
}

// lookup returns the group equal to k (k has no wildcard).
func (gt *groupTable) lookup(k *Key, h uint64) GroupID {
	for id := gt.byHash[h]; id != NoGroup; id = gt.groups[id].sameHash {
		if gt.matches(&gt.groups[id], k) {
			return id
		}
	}
	return NoGroup
}

// intern returns the group for k, creating it when new.
func (gt *groupTable) intern(k *Key) GroupID {
	h := k.hash()
	if id := gt.lookup(k, h); id != NoGroup {
		return id
	}
	var id GroupID
	if n := len(gt.free); n > 0 {
		id = gt.free[n-1]
		gt.free = gt.free[:n-1]
	} else {
		gt.groups = append(gt.groups, group{})
		id = GroupID(len(gt.groups) - 1)
	}
	g := &gt.groups[id]
	vals := make([]storedVal, k.n)
	for i := range k.n {
		vals[i] = k.vals[i].store()
	}
	*g = group{hash: h, rkHash: k.rkHash, resHash: k.resHash, kind: k.kind, resource: k.resource, vals: vals, sameHash: gt.byHash[h]}
	gt.byHash[h] = id
	gt.byRes[k.resHash]++
	b := gt.byRK[k.rkHash]
	if b == nil {
		b = &rkBucket{}
		gt.byRK[k.rkHash] = b
	}
	b.ids = append(b.ids, id)
	gt.gen++
	b.gen = gt.gen
	gt.live++
	return id
}

// push makes pos+1 the newest span of (id, fine) and returns the previous
// newest, taking a reference on the group.
func (gt *groupTable) push(id GroupID, fine uint8, posPlus1 uint32, r Recent) uint32 {
	g := &gt.groups[id]
	g.refs++
	if h := g.head(fine); h != nil {
		prev := h.head
		h.head = posPlus1
		h.maxEnd = max(h.maxEnd, r.End)
		copy(h.newest[1:], h.newest[:Peek-1])
		h.newest[0] = r
		h.recent = min(h.recent+1, Peek)
		return prev
	}
	g.heads = append(g.heads, fineHead{fine: fine, head: posPlus1, maxEnd: r.End, recent: 1, newest: [Peek]Recent{r}})
	g.byFine[fine] = uint8(len(g.heads))
	return 0
}

// release drops a reference and frees the group with its last span.
func (gt *groupTable) release(id GroupID) {
	g := &gt.groups[id]
	g.refs--
	if g.refs > 0 {
		return
	}
	// Unlink from the hash chain.
	if gt.byHash[g.hash] == id {
		if g.sameHash == NoGroup {
			delete(gt.byHash, g.hash)
		} else {
			gt.byHash[g.hash] = g.sameHash
		}
	} else {
		for p := gt.byHash[g.hash]; p != NoGroup; p = gt.groups[p].sameHash {
			if gt.groups[p].sameHash == id {
				gt.groups[p].sameHash = g.sameHash
				break
			}
		}
	}
	b := gt.byRK[g.rkHash]
	for i, other := range b.ids {
		if other == id {
			b.ids[i] = b.ids[len(b.ids)-1]
			b.ids = b.ids[:len(b.ids)-1]
			break
		}
	}
	gt.gen++
	b.gen = gt.gen
	if len(b.ids) == 0 {
		delete(gt.byRK, g.rkHash)
	}
	if gt.byRes[g.resHash]--; gt.byRes[g.resHash] == 0 {
		delete(gt.byRes, g.resHash)
	}
	*g = group{}
	gt.free = append(gt.free, id)
	gt.live--
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

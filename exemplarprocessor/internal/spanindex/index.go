// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Package spanindex holds the spans the exemplar processor has seen: a bounded,
// time-limited index that answers two questions fast and without allocating
// in steady state.
//
//   - Was this (trace ID, span ID) seen before, and is the new span the same
//     span again (replay) or a different one (collision)?
//   - Which recent spans of a join group (resource identity, span kind, join
//     attribute values) have a duration in a given range?
//
// Spans live in a ring of fixed-size records in arrival order. Eviction is
// strictly first-in first-out (TTL and capacity), which lets every other
// structure refer to a span by its ring position and detect stale references
// by age instead of unlinking them.
package spanindex // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math/bits"
	"strconv"
	"sync"
	"time"
)

// MaxSpans is the largest capacity an index supports: positions and a tag
// share one uint32 slot in the ID table.
const MaxSpans = 1<<24 - 1

const (
	chunkShift = 12
	chunkSize  = 1 << chunkShift
	chunkMask  = chunkSize - 1

	// checkpointEvery is the resolution of arrival times: TTL and the duplicate
	// window are measured against checkpoints taken at most this often (ns).
	checkpointEvery = int64(100e6)
)

// Outcome says what Insert did with a span.
type Outcome uint8

const (
	// Indexed means the span was new and is now in the index.
	Indexed Outcome = iota
	// Replay means the same span (same IDs, name hash, start and end) was
	// already indexed within the duplicate window; the new copy was not indexed.
	Replay
	// Collision means a different span with the same IDs was already indexed
	// within the duplicate window; the new one was not indexed.
	Collision
)

// EvictReason says why spans left the index.
type EvictReason uint8

const (
	// EvictTTL means the span was older than the TTL.
	EvictTTL EvictReason = iota
	// EvictCapacity means the index was full.
	EvictCapacity
)

// Config bounds an index.
type Config struct {
	// MaxSpans is the capacity of the ring.
	MaxSpans int
	// TTL is how long a span stays after it arrived.
	TTL time.Duration
	// DuplicateWindow is how long after its arrival a span's IDs count as
	// taken. It is at most TTL.
	DuplicateWindow time.Duration
}

// Validate reports a configuration the index cannot honour.
func (c Config) Validate() error {
	var errs []error
	if c.MaxSpans < 1 || c.MaxSpans > MaxSpans {
		errs = append(errs, fmt.Errorf("max spans %d outside [1, %d]", c.MaxSpans, MaxSpans))
	}
	if c.TTL <= 0 {
		errs = append(errs, fmt.Errorf("ttl %s must be positive", c.TTL))
	}
	if c.DuplicateWindow < 0 || c.DuplicateWindow > c.TTL {
		errs = append(errs, fmt.Errorf("duplicate window %s outside [0, ttl]", c.DuplicateWindow))
	}
	return errors.Join(errs...)
}

// Span is what an Insert records about a span.
type Span struct {
	TraceID [16]byte
	SpanID  [8]byte
	// Start and End are Unix nanoseconds as sent; Duration is derived and
	// never negative.
	Start, End uint64
	// NameHash tells a replay from a collision together with start and end.
	NameHash uint16
	Kind     uint8
}

// Ref is a span found in the index, valid until the index is next written.
type Ref struct {
	TraceID [16]byte
	SpanID  [8]byte
	End     uint64
	// Duration is End-Start in nanoseconds, 0 when End < Start.
	Duration int64
	// Seq is the span's arrival number; larger arrived later.
	Seq   uint64
	Kind  uint8
	Group GroupID
	pos   uint32
	noIDs bool // made from a list head's copy: IDs not read yet
}

// record is the packed form of a span: 52 bytes, 4-byte aligned.
type record struct {
	traceID  [16]byte
	spanID   [8]byte
	end      [8]byte // uint64, little endian
	dur      [8]byte // int64 End-Start, may be negative
	group    GroupID
	next     uint32 // pos+1 of the next older span of the same group list, 0 = none
	nameHash uint16
	kind     uint8
	flags    uint8
}

const flagExtra = 1

func (r *record) endTime() uint64 { return binary.LittleEndian.Uint64(r.end[:]) }
func (r *record) rawDur() int64   { return int64(binary.LittleEndian.Uint64(r.dur[:])) }

func (r *record) duration() int64 {
	if d := r.rawDur(); d > 0 {
		return d
	}
	return 0
}

type checkpoint struct {
	seq uint64 // first sequence number at or after t
	t   int64
}

// Stats is a consistent snapshot of the index counters.
type Stats struct {
	Spans  int
	Groups int
}

// Index is the span index. It is safe for concurrent use: writers take an
// exclusive lock through BeginWrite, readers a shared one through BeginRead.
type Index struct {
	mu      sync.RWMutex
	cfg     Config
	seed    maphash.Seed
	intSeed uint64
	idSeed  [4]uint64
	// ttl and dupWindow are the Config's durations in ns.
	ttl, dupWindow int64

	// The ring has a power-of-two size of at least MaxSpans, so a span's
	// position is its sequence number masked; chunks are allocated as the
	// head reaches them and freed once the tail has left them.
	chunks   []*[chunkSize]record
	extras   [][]Extra // per chunk, allocated on first use
	ringMask uint64
	count    uint32
	seq      uint64 // sequence number of the next span

	table        []uint32
	tableMask    uint64
	tableUsed    int    // non-empty slots, dead ones included
	sinceRebuild uint64 // slots written since the last rebuild
	seqBits      uint   // low sequence bits kept per slot
	rebuilds     uint64
	sink         uint32 // keeps prefetching loads from being optimised away
	spare        *[chunkSize]record

	checkpoints []checkpoint // ring in arrival order, oldest at cpHead
	cpHead      int
	cpLen       int

	groups groupTable

	evicted [2]uint64 // by EvictReason
}

// New returns an empty index.
func New(cfg Config) (*Index, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ring := max(uint64(1)<<bits.Len(uint(cfg.MaxSpans-1)), chunkSize)
	seed := maphash.MakeSeed()
	idx := &Index{
		cfg:       cfg,
		ttl:       cfg.TTL.Nanoseconds(),
		dupWindow: cfg.DuplicateWindow.Nanoseconds(),
		seed:      seed,
		intSeed:   maphash.String(seed, "int"),
		ringMask:  ring - 1,
		chunks:    make([]*[chunkSize]record, ring/chunkSize),
		// A slot's sequence number may be up to MaxSpans (live) plus
		// 2*MaxSpans (written since the last rebuild) old: 4*ring is unambiguous.
		seqBits: uint(bits.Len64(ring-1)) + 2,
		table:   make([]uint32, minTable),
	}
	idx.tableMask = minTable - 1
	for i := range idx.idSeed {
		// Odd, so that a multiplication by it loses no bits.
		idx.idSeed[i] = maphash.String(seed, strconv.Itoa(i)) | 1
	}
	idx.extras = make([][]Extra, len(idx.chunks))
	idx.groups.init()
	return idx, nil
}

// Stats returns the number of spans and groups held.
func (idx *Index) Stats() Stats {
	idx.mu.RLock()
	defer idx.mu.RUnlock()
	return Stats{Spans: int(idx.count), Groups: idx.groups.live}
}

// Writer inserts spans while holding the index lock.
type Writer struct {
	idx *Index
	now int64
}

// BeginWrite locks the index for writing at time now, evicting what the TTL
// expired. End must be called to unlock.
func (idx *Index) BeginWrite(now time.Time) Writer {
	ns := now.UnixNano()
	idx.mu.Lock()
	idx.advance(ns)
	return Writer{idx: idx, now: ns}
}

// End unlocks the index.
func (w *Writer) End() { w.idx.mu.Unlock() }

// Expire evicts what the TTL expired at time now. The traces path expires as
// it writes; readers call this so an idle traces pipeline does not keep spans
// alive past their TTL.
func (idx *Index) Expire(now time.Time) {
	ns := now.UnixNano()
	idx.mu.RLock()
	due := idx.count > 0 && idx.arrival(idx.tailSeq()) < ns-idx.ttl
	idx.mu.RUnlock()
	if !due {
		return
	}
	idx.mu.Lock()
	idx.advance(ns)
	idx.mu.Unlock()
}

// Evictions returns the spans evicted so far, by the TTL and for capacity.
func (idx *Index) Evictions() (ttl, capacity uint64) {
	idx.mu.RLock()
	defer idx.mu.RUnlock()
	return idx.evicted[EvictTTL], idx.evicted[EvictCapacity]
}

func (idx *Index) advance(now int64) {
	idx.checkpoint(now)
	limit := now - idx.ttl
	if idx.count == 0 || idx.arrival(idx.tailSeq()) >= limit {
		return
	}
	for idx.count > 0 && idx.arrival(idx.tailSeq()) < limit {
		idx.evictTail(EvictTTL)
	}
	if idx.count == 0 {
		idx.releaseEmpty()
	}
}

// Hash returns the hash InsertHashed needs.
func (w *Writer) Hash(s *Span) uint64 { return w.idx.keyHash(&s.TraceID, &s.SpanID) }

// NameHash is the Span.NameHash of a span name.
func (w *Writer) NameHash(name string) uint16 {
	h := maphash.String(w.idx.seed, name)
	return uint16(h ^ h>>16 ^ h>>32 ^ h>>48)
}

// Prefetch loads the table slots of a batch of hashes. At a million spans
// every slot is a cache miss; touched together in a tight loop the misses
// overlap instead of each insert waiting for its own.
func (w *Writer) Prefetch(hashes []uint64) { w.idx.touch(hashes) }

func (idx *Index) touch(hashes []uint64) {
	var sink uint32
	t, mask := idx.table, idx.tableMask
	for _, h := range hashes {
		sink += t[h&mask]
	}
	idx.sink = sink
}

// Insert adds s to the index unless its IDs were seen within the duplicate
// window. key is the span's join group, nil when the span joins no metric;
// it is interned only when the span is indexed.
func (w *Writer) Insert(s *Span, key *Key) (Outcome, Ref) {
	return w.InsertHashed(s, w.idx.keyHash(&s.TraceID, &s.SpanID), key)
}

// InsertHashed is Insert with the hash Prefetch returned.
func (w *Writer) InsertHashed(s *Span, h uint64, key *Key) (Outcome, Ref) {
	return w.insert(s, h, key, NoGroup)
}

// Pin returns the group of key, creating it when new, and holds it for one
// InsertPinned: spans can be keyed a batch ahead of their inserts, and the
// evictions those inserts make cannot free a group on the way.
func (w *Writer) Pin(key *Key) GroupID { return w.idx.groups.intern(key) }

// InsertPinned is InsertHashed with the group Pin returned (NoGroup for a
// span that joins nothing). The pin is the indexed span's reference on the
// group, or is dropped when the span is not indexed.
func (w *Writer) InsertPinned(s *Span, h uint64, g GroupID) (Outcome, Ref) {
	return w.insert(s, h, nil, g)
}

func (w *Writer) insert(s *Span, h uint64, key *Key, g GroupID) (Outcome, Ref) {
	idx := w.idx
	slot, seq, found := idx.find(h, &s.TraceID, &s.SpanID)
	if found && idx.arrival(seq) >= w.now-idx.dupWindow {
		if g != NoGroup {
			idx.groups.release(g)
		}
		pos := idx.posOfSeq(seq)
		r := idx.rec(pos)
		ref := idx.ref(pos, r)
		if r.endTime() == s.End && r.rawDur() == rawDuration(s) && r.nameHash == s.NameHash {
			return Replay, ref
		}
		return Collision, ref
	}
	// New, or seen long enough ago to be a new span: in that case the old
	// record stays until it is evicted and the slot now names the new one.
	if idx.count == uint32(idx.cfg.MaxSpans) {
		idx.evictTail(EvictCapacity)
	}
	if !found && idx.maybeRebuild() {
		slot, _, _ = idx.find(h, &s.TraceID, &s.SpanID)
	}
	if key != nil {
		g = idx.groups.intern(key)
	}
	pos := idx.append(s, g)
	idx.put(slot, h, idx.seq-1)
	return Indexed, idx.ref(pos, idx.rec(pos))
}

// append writes s as the newest record, on group g's list.
func (idx *Index) append(s *Span, g GroupID) uint32 {
	seq := idx.seq
	pos := idx.posOfSeq(seq)
	ci := pos >> chunkShift
	if idx.chunks[ci] == nil {
		idx.chunks[ci] = idx.newChunk()
	}
	r := &idx.chunks[ci][pos&chunkMask]
	*r = record{traceID: s.TraceID, spanID: s.SpanID, nameHash: s.NameHash, kind: s.Kind, group: g}
	binary.LittleEndian.PutUint64(r.end[:], s.End)
	binary.LittleEndian.PutUint64(r.dur[:], uint64(rawDuration(s)))
	if g != NoGroup {
		r.next = idx.groups.push(g, Fine(r.duration()), pos+1, Recent{Seq: seq, End: s.End, Duration: r.duration()})
	}
	idx.count++
	idx.seq++
	return pos
}

// SetExtra stores the optional per-span values of a span just indexed.
func (w *Writer) SetExtra(ref Ref, e Extra) {
	idx := w.idx
	ci := ref.pos >> chunkShift
	if idx.extras[ci] == nil {
		idx.extras[ci] = make([]Extra, chunkSize)
	}
	idx.extras[ci][ref.pos&chunkMask] = e
	idx.rec(ref.pos).flags |= flagExtra
}

func rawDuration(s *Span) int64 { return int64(s.End) - int64(s.Start) }

// Extra holds what only some configurations keep per span: numeric span
// attributes used as exemplar values and attributes copied onto exemplars.
type Extra struct {
	// Values are the numeric attributes a rule reads, by value slot; NaN when
	// the span did not carry it.
	Values []float64
	// Attributes are the filtered attributes, as key/value pairs.
	Attributes []KeyValue
}

// KeyValue is one filtered attribute.
type KeyValue struct{ Key, Value string }

func (idx *Index) rec(pos uint32) *record {
	return &idx.chunks[pos>>chunkShift][pos&chunkMask]
}

func (idx *Index) posOfSeq(seq uint64) uint32 { return uint32(seq & idx.ringMask) }

func (idx *Index) ref(pos uint32, r *record) Ref {
	return Ref{
		TraceID:  r.traceID,
		SpanID:   r.spanID,
		End:      r.endTime(),
		Duration: r.duration(),
		Seq:      idx.seqOf(pos),
		Kind:     r.kind,
		Group:    r.group,
		pos:      pos,
	}
}

// age is how many spans arrived after the one at pos.
func (idx *Index) age(pos uint32) uint32 {
	return uint32((uint64(idx.posOfSeq(idx.seq-1)) - uint64(pos)) & idx.ringMask)
}

func (idx *Index) live(pos uint32) bool { return idx.count > 0 && idx.age(pos) < idx.count }

func (idx *Index) seqOf(pos uint32) uint64 { return idx.seq - 1 - uint64(idx.age(pos)) }

func (idx *Index) tailSeq() uint64 { return idx.seq - uint64(idx.count) }

func (idx *Index) evictTail(reason EvictReason) {
	pos := idx.posOfSeq(idx.tailSeq())
	r := idx.rec(pos)
	if r.group != NoGroup {
		idx.groups.release(r.group)
	}
	ci := pos >> chunkShift
	if r.flags&flagExtra != 0 {
		idx.extras[ci][pos&chunkMask] = Extra{}
	}
	idx.count--
	idx.evicted[reason]++
	if pos&chunkMask == chunkMask && (idx.count == 0 || idx.posOfSeq(idx.seq)>>chunkShift != ci) {
		// The tail left this chunk and the head is elsewhere: nothing live
		// remains in it. Keep it for the head to reuse rather than
		// allocating 200 KiB again a moment later.
		idx.spare = idx.chunks[ci]
		idx.chunks[ci] = nil
		idx.extras[ci] = nil
	}
	idx.dropCheckpoints()
}

// newChunk returns the spare chunk or a new one. Records are overwritten
// whole on insert, so a reused chunk needs no clearing.
func (idx *Index) newChunk() *[chunkSize]record {
	if c := idx.spare; c != nil {
		idx.spare = nil
		return c
	}
	return new([chunkSize]record)
}

// releaseEmpty returns the memory of an empty index.
func (idx *Index) releaseEmpty() {
	idx.spare = nil
	for i := range idx.chunks {
		idx.chunks[i] = nil
		idx.extras[i] = nil
	}
	if len(idx.table) > minTable {
		idx.table = make([]uint32, minTable)
		idx.tableMask = minTable - 1
	} else {
		clear(idx.table)
	}
	idx.tableUsed, idx.sinceRebuild = 0, 0
}

// checkpoint records that spans from the next sequence number on arrived at
// now or later.
func (idx *Index) checkpoint(now int64) {
	if idx.cpLen > 0 {
		last := idx.checkpoints[(idx.cpHead+idx.cpLen-1)%len(idx.checkpoints)]
		if now < last.t+checkpointEvery {
			return
		}
		if last.seq == idx.seq {
			// No span arrived since: move the checkpoint forward instead of
			// growing the ring while traffic is idle.
			idx.checkpoints[(idx.cpHead+idx.cpLen-1)%len(idx.checkpoints)].t = now
			return
		}
	}
	if idx.cpLen == len(idx.checkpoints) {
		grown := make([]checkpoint, max(16, 2*len(idx.checkpoints)))
		for i := range idx.cpLen {
			grown[i] = idx.checkpoints[(idx.cpHead+i)%len(idx.checkpoints)]
		}
		idx.checkpoints, idx.cpHead = grown, 0
	}
	idx.checkpoints[(idx.cpHead+idx.cpLen)%len(idx.checkpoints)] = checkpoint{seq: idx.seq, t: now}
	idx.cpLen++
}

// dropCheckpoints forgets checkpoints that only describe evicted spans.
func (idx *Index) dropCheckpoints() {
	tail := idx.tailSeq()
	for idx.cpLen > 1 {
		next := idx.checkpoints[(idx.cpHead+1)%len(idx.checkpoints)]
		if next.seq > tail {
			return
		}
		idx.cpHead = (idx.cpHead + 1) % len(idx.checkpoints)
		idx.cpLen--
	}
}

// arrival is the time the span with sequence number seq arrived, to the
// resolution of checkpoints.
func (idx *Index) arrival(seq uint64) int64 {
	cp, _ := idx.lastCheckpoint(func(c checkpoint) bool { return c.seq <= seq })
	return cp.t
}

// lastCheckpoint returns the newest checkpoint for which before holds;
// before must hold for a prefix of the checkpoints (they are in order of
// both sequence number and time). ok is false when it holds for none.
func (idx *Index) lastCheckpoint(before func(checkpoint) bool) (cp checkpoint, ok bool) {
	n := len(idx.checkpoints)
	if idx.cpLen == 0 || !before(idx.checkpoints[idx.cpHead%n]) {
		return checkpoint{}, false
	}
	lo, hi := 0, idx.cpLen-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if before(idx.checkpoints[(idx.cpHead+mid)%n]) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return idx.checkpoints[(idx.cpHead+lo)%n], true
}

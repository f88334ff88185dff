// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Package streams remembers the previous data point of each histogram stream
// (resource + scope + metric + attributes), so a cumulative point gets
// exemplars only on buckets that grew since, and exemplar timestamps never go
// backwards per bucket. The table is bounded: least recently seen streams are
// forgotten first, idle ones after a timeout, and a forgotten stream's memory
// is released with it.
//
// A State changes only through its methods: Remember records a point,
// CacheGroups records the span index groups its key resolved to.
package streams // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/streams"

import (
	"slices"
	"sync"
	"time"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/lru"
)

// MaxOwed is how many of a stream's recent intervals a bucket can wait for
// late spans of: a minute of 2-second exports.
const MaxOwed = 32

// MaxUsed bounds the used spans a stream remembers besides those that took
// its previous point's time: a stream that would need more lets its oldest
// debts go instead.
const MaxUsed = 64

// Bucket is what a stream remembers per bucket.
type Bucket struct {
	// Count is the cumulative count at the previous point.
	Count uint64
	// LastExemplar is the timestamp of the newest exemplar seen on the
	// bucket; new exemplars must be later.
	LastExemplar uint64
	// Owed marks the stream's recent intervals in which the bucket grew
	// without an exemplar of that interval: bit i is the interval ending at
	// Previous.Times[i]. A span that ended in one of them and arrives late
	// may still fill the bucket on a later point.
	Owed uint32
}

// Layout identifies a point's bucket layout: for explicit points a hash of
// the bounds; for exponential points the scale and zero threshold in Key and
// where the buckets start.
type Layout struct {
	Key       uint64
	PosOffset int32
	PosLen    int
	NegOffset int32
}

// Previous is what a stream remembers of its previous point.
type Previous struct {
	// Start and Time are the previous point's timestamps (Unix ns).
	Start, Time uint64
	// Seq is the span index's next sequence number when the previous point
	// was processed: spans with a Seq at least this large arrived after it.
	Seq uint64
	// Count and Sum are the previous point's.
	Count  uint64
	Sum    float64
	Layout Layout
	// Times are the stream's recent point times, newest first (Times[0] is
	// Time), then the start of the oldest interval: interval i is
	// (Times[i+1], Times[i]]. Read-only; empty for delta streams.
	Times []uint64
	// UsedSeqs are spans (by index sequence number) that were the
	// stream's exemplars and may otherwise be candidates again, and
	// UsedEnds their end times: those that ended just after the previous
	// point and took its time (counted there), and those that ended in, or
	// just after, an interval some bucket is still owed an exemplar for.
	// Each names a request counted already: it serves no bucket again.
	// Read-only.
	UsedSeqs, UsedEnds []uint64
}

// Groups is the span index's join groups a stream's key resolved to, valid
// while the index's generation Gen for the key's resource identity and span
// kind RK stays the same.
type Groups struct {
	IDs []uint32
	Gen uint64
	RK  uint64
}

// State is the remembered state of one stream. It is kept small: a table
// holds up to streams.max_streams of them. Everything whose length varies
// (the buckets, the recent times, the used spans) shares one array, data,
// laid out as
//
//	[counts: n][last exemplars: n][owed: (n+1)/2 words, two per word][times][used seqs][used ends]
//
// so a stream costs one allocation besides its group IDs.
type State struct {
	start, time, seq, count uint64
	sum                     float64
	layout                  packedLayout
	data                    []uint64
	n, times, used          uint16 // buckets, recent times, used spans
	known                   bool
	groups                  Groups
	// lastSeen is when the stream was last used, Unix ns.
	lastSeen int64
}

// packedLayout is a Layout in 24 bytes instead of 32.
type packedLayout struct {
	key                          uint64
	posOffset, posLen, negOffset int32
}

// Buckets is a read-only view of a stream's remembered buckets, valid until
// the stream's next Remember.
type Buckets struct {
	data []uint64
	n    int
}

// Len returns the number of buckets.
func (b Buckets) Len() int { return b.n }

// At returns bucket i.
func (b Buckets) At(i int) Bucket {
	return Bucket{Count: b.data[i], LastExemplar: b.data[b.n+i], Owed: uint32(b.data[2*b.n+i/2] >> (32 * (i & 1)))}
}

// CopyTo copies the buckets to dst, which must have Len elements.
func (b Buckets) CopyTo(dst []Bucket) {
	counts, last := b.data[:b.n], b.data[b.n:2*b.n]
	owed := b.data[2*b.n : 2*b.n+owedWords(b.n)]
	for i := range dst[:b.n] {
		dst[i] = Bucket{Count: counts[i], LastExemplar: last[i], Owed: uint32(owed[i/2] >> (32 * (i & 1)))}
	}
}

// owedWords is how many words hold the owed masks of n buckets.
func owedWords(n int) int { return (n + 1) / 2 }

// Previous returns the stream's previous point and its buckets (read-only,
// valid until the next Remember), and false when no point was remembered
// yet.
func (s *State) Previous() (Previous, Buckets, bool) {
	n := int(s.n)
	p := Previous{
		Start: s.start, Time: s.time, Seq: s.seq, Count: s.count, Sum: s.sum,
		Layout: Layout{Key: s.layout.key, PosOffset: s.layout.posOffset, PosLen: int(s.layout.posLen), NegOffset: s.layout.negOffset},
	}
	at := 2*n + owedWords(n)
	if s.times > 0 {
		p.Times = s.data[at : at+int(s.times) : at+int(s.times)]
	}
	at += int(s.times)
	if u := int(s.used); u > 0 {
		p.UsedSeqs = s.data[at : at+u : at+u]
		p.UsedEnds = s.data[at+u : at+2*u : at+2*u]
	}
	return p, Buckets{data: s.data, n: n}, s.known
}

// Remember records a point as the stream's previous one. buckets, p.Times
// and the used spans are copied; they must not be the slices Previous
// returned, which Remember overwrites. At most 65,535 buckets, recent times
// and used spans are kept (streams.max_buckets is at most 4096).
func (s *State) Remember(p Previous, buckets []Bucket) {
	s.start, s.time, s.seq, s.count, s.sum = p.Start, p.Time, p.Seq, p.Count, p.Sum
	s.layout = packedLayout{key: p.Layout.Key, posOffset: p.Layout.PosOffset, posLen: int32(p.Layout.PosLen), negOffset: p.Layout.NegOffset}
	n, times, used := min(len(buckets), maxLen), min(len(p.Times), maxLen), min(len(p.UsedSeqs), len(p.UsedEnds), maxLen)
	need := 2*n + owedWords(n) + times + 2*used
	if cap(s.data) < need || (cap(s.data) > 2*need && cap(s.data) > 64) {
		// A stream whose layout shrank gives the larger array back. The
		// new one takes all of its size class: the recent times grow by
		// one per point until the late window is covered.
		s.data = slices.Grow([]uint64(nil), need)
	}
	d := s.data[:need]
	for i, b := range buckets[:n] {
		d[i], d[n+i] = b.Count, b.LastExemplar
	}
	owed := d[2*n : 2*n+owedWords(n)]
	clear(owed)
	for i, b := range buckets[:n] {
		owed[i/2] |= uint64(b.Owed) << (32 * (i & 1))
	}
	at := 2*n + len(owed)
	copy(d[at:], p.Times[:times])
	copy(d[at+times:], p.UsedSeqs[:used])
	copy(d[at+times+used:], p.UsedEnds[:used])
	s.data = d
	s.n, s.times, s.used = uint16(n), uint16(times), uint16(used)
	s.known = true
}

// maxLen bounds what one State keeps of each variable part.
const maxLen = 1<<16 - 1

// Groups returns the cached join groups (IDs read-only).
func (s *State) Groups() Groups { return s.groups }

// CacheGroups records the join groups the stream's key resolved to. ids is
// copied.
func (s *State) CacheGroups(ids []uint32, gen, rk uint64) {
	s.groups.IDs = append(s.groups.IDs[:0], ids...)
	s.groups.Gen, s.groups.RK = gen, rk
}

// Table is a bounded map of stream states. Callers hold Lock while they use
// a State obtained from it: a State stays valid until the stream is
// forgotten, which only Get does.
type Table struct {
	sync.Mutex
	idle   time.Duration
	states *lru.Cache[uint64, State]

	evictedCapacity, evictedIdle uint64
}

// New returns a table of at most max streams that forgets a stream idle for
// longer than idle.
func New(maxStreams int, idle time.Duration) *Table {
	return &Table{idle: idle, states: lru.New[uint64, State](maxStreams)}
}

// Len returns the number of streams remembered.
func (t *Table) Len() int {
	t.Lock()
	defer t.Unlock()
	return t.states.Len()
}

// Evictions returns the streams forgotten so far, for lack of room and for
// being idle.
func (t *Table) Evictions() (capacity, idle uint64) {
	t.Lock()
	defer t.Unlock()
	t.evictedCapacity += t.states.TakeEvictions()
	return t.evictedCapacity, t.evictedIdle
}

// Get returns the state of a stream, creating an empty one when it is not
// remembered, and marks it used at now. Streams idle at now are forgotten
// first; a forgotten stream's memory goes with it.
func (t *Table) Get(hash uint64, now time.Time) *State {
	at := now.UnixNano()
	for {
		_, st, ok := t.states.Oldest()
		if !ok || at-st.lastSeen <= int64(t.idle) {
			break
		}
		t.states.RemoveOldest()
		t.evictedIdle++
	}
	st, _ := t.states.GetOrAdd(hash)
	st.lastSeen = at
	return st
}

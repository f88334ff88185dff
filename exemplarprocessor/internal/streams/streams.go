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
	"sync"
	"time"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/lru"
)

// MaxOwed is how many of a stream's recent intervals a bucket can wait for
// late spans of: a minute of 2-second exports.
const MaxOwed = 32

// MaxUsed bounds Previous.Used: a stream that would need more lets its
// oldest debts go instead.
const MaxUsed = 64

// Used is a span that was one of the stream's exemplars: Seq is its index
// sequence number, End its end time (Unix ns).
type Used struct{ Seq, End uint64 }

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
	// Used are spans that were the stream's exemplars and may otherwise
	// be candidates again: those that ended just after the previous point
	// and took its time (counted there), and those that ended in, or just
	// after, an interval some bucket is still owed an exemplar for. Each
	// names a request counted already: it serves no bucket again.
	// Read-only.
	Used []Used
}

// Groups is the span index's join groups a stream's key resolved to, valid
// while the index's generation Gen for the key's resource identity and span
// kind RK stays the same.
type Groups struct {
	IDs []uint32
	Gen uint64
	RK  uint64
}

// State is the remembered state of one stream.
type State struct {
	prev    Previous
	times   []uint64
	used    []Used
	buckets []Bucket
	known   bool
	groups  Groups

	lastSeen time.Time
}

// Previous returns the stream's previous point and its buckets (read-only),
// and false when no point was remembered yet.
func (s *State) Previous() (Previous, []Bucket, bool) {
	return s.prev, s.buckets, s.known
}

// Remember records a point as the stream's previous one. buckets and
// p.Times are copied.
func (s *State) Remember(p Previous, buckets []Bucket) {
	s.times = append(s.times[:0], p.Times...)
	s.used = append(s.used[:0], p.Used...)
	p.Times, p.Used = s.times, s.used
	s.prev, s.known = p, true
	if cap(s.buckets) > 2*len(buckets) && cap(s.buckets) > 64 {
		// A stream whose layout shrank gives the larger array back.
		s.buckets = nil
	}
	s.buckets = append(s.buckets[:0], buckets...)
}

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
	for {
		_, st, ok := t.states.Oldest()
		if !ok || now.Sub(st.lastSeen) <= t.idle {
			break
		}
		t.states.RemoveOldest()
		t.evictedIdle++
	}
	st, _ := t.states.GetOrAdd(hash)
	st.lastSeen = now
	return st
}

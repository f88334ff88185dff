// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Package ratelimit decides when a repeated warning may be logged again: at
// most once per interval per key (a service, say), with the number of events
// of each kind since the previous warning, so what would be a log line per
// span or per point becomes one line per key and interval that still says
// how much happened. Keys are bounded: past the bound the least recently
// seen key is forgotten, and its next event is logged at once.
package ratelimit // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/ratelimit"

import (
	"sync"
	"time"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/lru"
)

// MaxKinds is how many kinds of event are counted apart per key.
const MaxKinds = 4

// Counts holds a key's events per kind.
type Counts [MaxKinds]uint64

// Total is the number of events of every kind.
func (c Counts) Total() uint64 {
	var n uint64
	for _, k := range c {
		n += k
	}
	return n
}

type state struct {
	last   time.Time // when the key was last allowed; zero before
	counts Counts    // since then
}

// Limiter allows an event per key at most once per interval. It is safe
// for concurrent use.
type Limiter[K comparable] struct {
	interval time.Duration

	mu   sync.Mutex
	keys *lru.Cache[K, state]
}

// New returns a limiter that allows each key at most once per interval
// (every event when interval is not positive) and remembers at most maxKeys
// keys.
func New[K comparable](interval time.Duration, maxKeys int) *Limiter[K] {
	return &Limiter[K]{interval: interval, keys: lru.New[K, state](maxKeys)}
}

// Interval is the least time between two allowed events of a key.
func (l *Limiter[K]) Interval() time.Duration { return l.interval }

// Allow counts an event of kind (0 to MaxKinds-1; others count as the last
// kind) for key at now. It returns true when the key's interval has passed
// since it was last allowed, or it never was (or was forgotten): the caller
// logs then, with the counts returned, which are the key's events since it
// was last allowed, this one included, and start over. A clock that goes
// back keeps the key quiet until it passes the previous warning's interval.
func (l *Limiter[K]) Allow(key K, kind int, now time.Time) (Counts, bool) {
	kind = min(max(kind, 0), MaxKinds-1)
	l.mu.Lock()
	defer l.mu.Unlock()
	st, _ := l.keys.GetOrAdd(key)
	st.counts[kind]++
	if !st.last.IsZero() && now.Sub(st.last) < l.interval {
		return Counts{}, false
	}
	counts := st.counts
	st.counts = Counts{}
	st.last = now
	return counts, true
}

// Keys is the number of keys remembered.
func (l *Limiter[K]) Keys() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.keys.Len()
}

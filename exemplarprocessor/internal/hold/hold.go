// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Package hold keeps metric batches back for a while so that spans which
// reach the collector after the metric export that counted them can still
// be joined. It is bounded in time (a delay) and in memory (data points);
// what it holds are copies, never the caller's pdata.
package hold // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/hold"

import (
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"
)

type batch struct {
	Held
	due    time.Time
	points int
}

// Held is a batch leaving the queue.
type Held struct {
	MD pmetric.Metrics
	// Enriched is set on batches put back by Retry: their exemplars were
	// attached before delivery failed.
	Enriched bool
}

// Queue is a FIFO of held batches. It is safe for concurrent use.
type Queue struct {
	delay     time.Duration
	maxPoints int

	mu      sync.Mutex
	batches []batch
	points  int
}

// New returns a queue that holds batches for delay and at most maxPoints
// data points in all.
func New(delay time.Duration, maxPoints int) *Queue {
	return &Queue{delay: delay, maxPoints: maxPoints}
}

// Add holds a copy of md until now+delay. It returns false, holding
// nothing, when the queue has no room for md's data points: the caller
// then processes md at once, which keeps memory bounded and lets
// back-pressure reach the sender.
func (q *Queue) Add(md pmetric.Metrics, now time.Time) bool {
	n := md.DataPointCount()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.points+n > q.maxPoints {
		return false
	}
	held := pmetric.NewMetrics()
	md.CopyTo(held)
	q.batches = append(q.batches, batch{Held: Held{MD: held}, due: now.Add(q.delay), points: n})
	q.points += n
	return true
}

// Due removes and returns the batches due at now, oldest first.
func (q *Queue) Due(now time.Time) []Held {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := 0
	for i < len(q.batches) && !q.batches[i].due.After(now) {
		i++
	}
	return q.take(i)
}

// Drain removes and returns every held batch, oldest first.
func (q *Queue) Drain() []Held {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.take(len(q.batches))
}

func (q *Queue) take(n int) []Held {
	if n == 0 {
		return nil
	}
	out := make([]Held, n)
	for i := range n {
		out[i] = q.batches[i].Held
		q.points -= q.batches[i].points
	}
	rest := copy(q.batches, q.batches[n:])
	// What was taken must not stay reachable from the backing array.
	clear(q.batches[rest:])
	q.batches = q.batches[:rest]
	return out
}

// Retry puts batches that could not be delivered back at the front, due at
// once, keeping their order. They count against the bound again.
func (q *Queue) Retry(hs []Held, now time.Time) {
	if len(hs) == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	back := make([]batch, 0, len(hs)+len(q.batches))
	for _, h := range hs {
		n := h.MD.DataPointCount()
		back = append(back, batch{Held: h, due: now, points: n})
		q.points += n
	}
	q.batches = append(back, q.batches...)
}

// Points returns the data points held.
func (q *Queue) Points() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.points
}

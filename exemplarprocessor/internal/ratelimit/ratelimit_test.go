// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package ratelimit

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func TestOncePerIntervalPerKey(t *testing.T) {
	type event struct {
		key  string
		kind int
		at   time.Duration // after t0
		// want is whether the event is allowed, and then the counts.
		allowed bool
		counts  Counts
	}
	for _, tc := range []struct {
		name   string
		events []event
	}{
		{"first event of a key is allowed", []event{
			{"a", 0, 0, true, Counts{1}},
		}},
		{"quiet within the interval, counts carried to the next", []event{
			{"a", 0, 0, true, Counts{1}},
			{"a", 1, time.Second, false, Counts{}},
			{"a", 1, 5 * time.Second, false, Counts{}},
			{"a", 0, 9999 * time.Millisecond, false, Counts{}},
			{"a", 1, 10 * time.Second, true, Counts{1, 3}},
			{"a", 0, 11 * time.Second, false, Counts{}},
		}},
		{"interval measured from the last allowed event", []event{
			{"a", 0, 0, true, Counts{1}},
			{"a", 0, 15 * time.Second, true, Counts{1}},
			{"a", 0, 24 * time.Second, false, Counts{}},
			{"a", 0, 25 * time.Second, true, Counts{2}},
		}},
		{"keys are independent", []event{
			{"a", 0, 0, true, Counts{1}},
			{"b", 0, time.Second, true, Counts{1}},
			{"a", 0, 2 * time.Second, false, Counts{}},
			{"b", 2, 3 * time.Second, false, Counts{}},
			{"b", 3, 11 * time.Second, true, Counts{0, 0, 1, 1}},
			{"a", 0, 11 * time.Second, true, Counts{2}},
		}},
		{"a clock going back stays quiet", []event{
			{"a", 0, time.Minute, true, Counts{1}},
			{"a", 0, 0, false, Counts{}},
			{"a", 0, 70 * time.Second, true, Counts{2}},
		}},
		{"kinds out of range count as the last", []event{
			{"a", -1, 0, true, Counts{1}},
			{"a", MaxKinds, time.Second, false, Counts{}},
			{"a", 99, 10 * time.Second, true, Counts{0, 0, 0, 2}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := New[string](10*time.Second, 10)
			for i, e := range tc.events {
				counts, ok := l.Allow(e.key, e.kind, t0.Add(e.at))
				require.Equal(t, e.allowed, ok, "event %d", i)
				require.Equal(t, e.counts, counts, "event %d", i)
			}
		})
	}
}

func TestNoInterval(t *testing.T) {
	l := New[string](0, 10)
	for range 3 {
		counts, ok := l.Allow("a", 0, t0)
		assert.True(t, ok)
		assert.Equal(t, uint64(1), counts.Total())
	}
}

// Past the bound the least recently seen key is forgotten, and only that
// one: its next event is allowed at once, the others stay quiet.
func TestKeysBoundedOldestFirst(t *testing.T) {
	l := New[string](time.Minute, 3)
	for _, k := range []string{"a", "b", "c"} {
		_, ok := l.Allow(k, 0, t0)
		require.True(t, ok)
	}
	_, ok := l.Allow("a", 0, t0.Add(time.Second)) // a is recent again
	require.False(t, ok)
	_, ok = l.Allow("d", 0, t0.Add(2*time.Second)) // forgets b
	require.True(t, ok)
	assert.Equal(t, 3, l.Keys())

	for _, k := range []string{"a", "c", "d"} {
		_, ok := l.Allow(k, 0, t0.Add(3*time.Second))
		assert.False(t, ok, "%s is remembered", k)
	}
	counts, ok := l.Allow("b", 0, t0.Add(4*time.Second))
	assert.True(t, ok, "b was forgotten")
	assert.Equal(t, Counts{1}, counts, "b starts counting afresh")
}

// Under concurrent use every event is counted once: the counts of the
// allowed events add up to all events.
func TestConcurrentUse(t *testing.T) {
	const goroutines, events = 8, 2000
	keys := []string{"checkout", "cart", "payment"}
	l := New[string](time.Second, 10)
	var mu sync.Mutex
	allowed := map[string]int{}
	var counted uint64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range events {
				key := keys[(g+i)%len(keys)]
				// Every goroutine's clock stays within one interval.
				now := t0.Add(time.Duration(i) * time.Second / events)
				if c, ok := l.Allow(key, i%2, now); ok {
					mu.Lock()
					allowed[key]++
					counted += c.Total()
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for _, k := range keys {
		c, ok := l.Allow(k, 0, t0.Add(time.Hour))
		require.True(t, ok)
		counted += c.Total() - 1 // not this last event
		assert.Equal(t, 1, allowed[k], "%s: once in the interval", k)
	}
	assert.Equal(t, uint64(goroutines*events), counted)
}

// One key for a single warning, such as the hold's refused batches.
func ExampleLimiter() {
	refused := New[struct{}](10*time.Second, 1)
	for i, at := range []time.Duration{0, time.Second, 2 * time.Second, 12 * time.Second} {
		if c, ok := refused.Allow(struct{}{}, 0, t0.Add(at)); ok {
			fmt.Printf("batch %d: Next consumer refused a held metric batch (%d since the previous warning)\n", i, c.Total())
		}
	}
	// Output:
	// batch 0: Next consumer refused a held metric batch (1 since the previous warning)
	// batch 3: Next consumer refused a held metric batch (3 since the previous warning)
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package duplog

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

var example = Example{
	TraceID: [16]byte{0x0a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
	SpanID:  [8]byte{0xff, 1, 2, 3, 4, 5, 6, 7},
	Name:    "GET /cart",
}

func observed() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.WarnLevel)
	return zap.New(core), logs
}

// The warning names the service, the kind and its likely cause, the counts
// since the previous warning and an example span to look up.
func TestWarningFields(t *testing.T) {
	logger, logs := observed()
	l := New(time.Minute)
	l.Report(logger, t0, "checkout", Collision, example)
	require.Equal(t, 1, logs.Len())
	e := logs.All()[0]
	assert.Equal(t, "Duplicate span IDs received", e.Message)
	assert.Equal(t, map[string]any{
		"service.name":       "checkout",
		"kind":               "collision",
		"likely_cause":       causes[Collision],
		"replays":            uint64(0),
		"collisions":         uint64(1),
		"example.trace_id":   "0a0102030405060708090a0b0c0d0e0f",
		"example.span_id":    "ff01020304050607",
		"example.span_name":  "GET /cart",
		"next_warning_after": time.Minute,
	}, e.ContextMap())
	assert.Contains(t, causes[Replay], "initialised twice")
	assert.Contains(t, causes[Collision], "ID generation")
}

func TestOncePerIntervalPerService(t *testing.T) {
	logger, logs := observed()
	l := New(10 * time.Second)
	report := func(at time.Duration, service string, kind Kind) {
		l.Report(logger, t0.Add(at), service, kind, example)
	}
	report(0, "checkout", Replay)                // warns
	report(time.Second, "checkout", Replay)      // quiet
	report(2*time.Second, "checkout", Collision) // quiet
	report(3*time.Second, "cart", Replay)        // another service warns
	report(9*time.Second, "checkout", Replay)    // quiet
	report(10*time.Second, "checkout", Collision)

	type warning struct {
		service, kind       string
		replays, collisions uint64
	}
	var got []warning
	for _, e := range logs.All() {
		m := e.ContextMap()
		got = append(got, warning{m["service.name"].(string), m["kind"].(string), m["replays"].(uint64), m["collisions"].(uint64)})
	}
	assert.Equal(t, []warning{
		{"checkout", "replay", 1, 0},
		{"cart", "replay", 1, 0},
		{"checkout", "collision", 2, 2}, // everything since the first warning
	}, got)
}

// Past maxServices the least recently seen service is forgotten, not all of
// them: a service seen recently stays quiet.
func TestServicesBoundedOldestFirst(t *testing.T) {
	logger, logs := observed()
	l := New(time.Hour)
	for i := range maxServices {
		l.Report(logger, t0, "svc-"+strconv.Itoa(i), Replay, example)
	}
	require.Equal(t, maxServices, logs.Len())
	l.Report(logger, t0.Add(time.Second), "svc-new", Replay, example) // forgets svc-0
	require.Equal(t, maxServices+1, logs.Len())

	l.Report(logger, t0.Add(2*time.Second), "svc-1", Replay, example)
	l.Report(logger, t0.Add(2*time.Second), "svc-new", Replay, example)
	assert.Equal(t, maxServices+1, logs.Len(), "remembered services stay quiet")
	l.Report(logger, t0.Add(3*time.Second), "svc-0", Replay, example)
	assert.Equal(t, maxServices+2, logs.Len(), "the oldest service was forgotten")
}

// Reports from many goroutines (the traces pipelines) warn once per service
// per interval and lose no count.
func TestConcurrentReports(t *testing.T) {
	logger, logs := observed()
	l := New(time.Minute)
	services := []string{"checkout", "cart", "payment"}
	const goroutines, reports = 6, 500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range reports {
				l.Report(logger, t0.Add(time.Duration(i)*time.Millisecond), services[(g+i)%3], Kind(i%2), example)
			}
		})
	}
	wg.Wait()
	require.Equal(t, len(services), logs.Len(), "one warning per service")
	for _, s := range services {
		l.Report(logger, t0.Add(time.Hour), s, Replay, example)
	}
	var total uint64
	for _, e := range logs.All() {
		m := e.ContextMap()
		total += m["replays"].(uint64) + m["collisions"].(uint64)
	}
	assert.Equal(t, uint64(goroutines*reports+len(services)), total)
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"sigs.k8s.io/yaml"
)

// description is the part of a capture's capture.yaml that tests rely on.
type description struct {
	Name           string `json:"name"`
	Histogram      string `json:"histogram"`   // explicit | exponential
	Temporality    string `json:"temporality"` // cumulative | delta
	DuplicateSpans bool   `json:"duplicate_spans"`
	SDKExemplars   struct {
		Server string `json:"server"` // none | traceless | with_ids
		Client string `json:"client"`
	} `json:"sdk_exemplars"`
}

// The replay tests take every testdata/captures/*/ as it is: each must hold
// both signals and say truthfully what they are.
func TestCommittedCapturesAreWhatTheySay(t *testing.T) {
	dirs := captureDirs(filepath.Join("..", "..", "..", "testdata", "captures"))
	require.GreaterOrEqual(t, len(dirs), 2, "the Python captures at least")
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var d description
			raw, err := os.ReadFile(filepath.Join(dir, "capture.yaml"))
			require.NoError(t, err)
			require.NoError(t, yaml.Unmarshal(raw, &d))
			assert.Equal(t, filepath.Base(dir), d.Name)
			assert.LessOrEqual(t, dirSize(t, dir), int64(4<<20), "a capture stays small")
			checkSpans(t, dir, d)
			checkHistograms(t, dir, d)
		})
	}
}

func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var n int64
	for _, e := range entries {
		info, err := e.Info()
		require.NoError(t, err)
		n += info.Size()
	}
	return n
}

func checkSpans(t *testing.T, dir string, d description) {
	t.Helper()
	type copies struct {
		n          int
		start, end pcommon.Timestamp
	}
	seen := map[[24]byte]*copies{}
	kinds := map[ptrace.SpanKind]int{}
	var tu ptrace.JSONUnmarshaler
	require.NoError(t, eachLine(filepath.Join(dir, "traces.jsonl"), func(line []byte) error {
		td, err := tu.UnmarshalTraces(line)
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					kinds[s.Kind()]++
					var id [24]byte
					tid, sid := s.TraceID(), s.SpanID()
					copy(id[:16], tid[:])
					copy(id[16:], sid[:])
					if c := seen[id]; c != nil {
						c.n++
						assert.Equal(t, c.start, s.StartTimestamp(), "a replayed copy is the same span")
						assert.Equal(t, c.end, s.EndTimestamp(), "a replayed copy is the same span")
					} else {
						seen[id] = &copies{n: 1, start: s.StartTimestamp(), end: s.EndTimestamp()}
					}
				}
			}
		}
		return err
	}))
	assert.Positive(t, kinds[ptrace.SpanKindServer], "server spans")
	assert.Positive(t, kinds[ptrace.SpanKindClient], "client spans")
	want := 1
	if d.DuplicateSpans {
		want = 2
	}
	for id, c := range seen {
		if c.n != want {
			t.Errorf("span %x arrived %d times, want %d", id, c.n, want)
			return
		}
	}
}

// seen counts a capture's duration points and their SDK exemplars.
type seen struct{ points, withIDs, traceless int }

func checkHistograms(t *testing.T, dir string, d description) {
	t.Helper()
	counts := map[ptrace.SpanKind]*seen{ptrace.SpanKindServer: {}, ptrace.SpanKindClient: {}}
	var mu pmetric.JSONUnmarshaler
	require.NoError(t, eachLine(filepath.Join(dir, "metrics.jsonl"), func(line []byte) error {
		md, err := mu.UnmarshalMetrics(line)
		for _, rm := range md.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					if kind, ok := spanKindOf(m.Name()); ok {
						checkDurationMetric(t, m, d, counts[kind])
					}
				}
			}
		}
		return err
	}))
	for kind, want := range map[ptrace.SpanKind]string{ptrace.SpanKindServer: d.SDKExemplars.Server, ptrace.SpanKindClient: d.SDKExemplars.Client} {
		c := counts[kind]
		assert.Positive(t, c.points, "%s duration points", kind)
		switch want {
		case "none":
			assert.Zero(t, c.withIDs+c.traceless, "%s: exemplars", kind)
		case "traceless":
			assert.Positive(t, c.traceless, "%s: traceless exemplars", kind)
			assert.Zero(t, c.withIDs, "%s: exemplars with IDs", kind)
		case "with_ids":
			assert.Positive(t, c.withIDs, "%s: exemplars with IDs", kind)
			assert.Zero(t, c.traceless, "%s: traceless exemplars", kind)
		default:
			t.Errorf("sdk_exemplars %q: want none, traceless or with_ids", want)
		}
	}
}

// checkDurationMetric checks one duration metric against the description
// and counts its points and exemplars.
func checkDurationMetric(t *testing.T, m pmetric.Metric, d description, c *seen) {
	t.Helper()
	var temporality pmetric.AggregationTemporality
	var all []pmetric.ExemplarSlice
	switch m.Type() {
	case pmetric.MetricTypeHistogram:
		assert.Equal(t, "explicit", d.Histogram, m.Name())
		temporality = m.Histogram().AggregationTemporality()
		for _, dp := range m.Histogram().DataPoints().All() {
			all = append(all, dp.Exemplars())
		}
	case pmetric.MetricTypeExponentialHistogram:
		assert.Equal(t, "exponential", d.Histogram, m.Name())
		temporality = m.ExponentialHistogram().AggregationTemporality()
		for _, dp := range m.ExponentialHistogram().DataPoints().All() {
			all = append(all, dp.Exemplars())
		}
	default:
		t.Errorf("%s is a %s, not a histogram", m.Name(), m.Type())
		return
	}
	wantTemporality := map[string]pmetric.AggregationTemporality{
		"cumulative": pmetric.AggregationTemporalityCumulative, "delta": pmetric.AggregationTemporalityDelta,
	}[d.Temporality]
	assert.Equal(t, wantTemporality, temporality, m.Name())
	c.points += len(all)
	for _, ex := range all {
		for _, e := range ex.All() {
			if e.TraceID().IsEmpty() && e.SpanID().IsEmpty() {
				c.traceless++
			} else {
				c.withIDs++
			}
		}
	}
}

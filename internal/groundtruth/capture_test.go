// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"
)

func spansLine(endNanos ...string) string {
	s := `{"resourceSpans":[{"scopeSpans":[{"spans":[`
	for i, e := range endNanos {
		if i > 0 {
			s += ","
		}
		s += `{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","startTimeUnixNano":"1","endTimeUnixNano":"` + e + `"}`
	}
	return s + `]}]}]}`
}

func metricsLine(timeNanos string) string {
	return `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","histogram":{"aggregationTemporality":2,"dataPoints":[{"startTimeUnixNano":"1","timeUnixNano":"` +
		timeNanos + `","count":"1","bucketCounts":["1"]}]}}]}]}]}`
}

func writeCapture(t *testing.T, traces, metrics string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "traces.jsonl"), []byte(traces), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "metrics.jsonl"), []byte(metrics), 0o600))
	return dir
}

// TestCaptureSchedule: metrics arrive 50 ms after their points, spans 500
// ms after their latest end, each signal in file order, interleaved.
func TestCaptureSchedule(t *testing.T) {
	dir := writeCapture(t,
		spansLine("1000000000", "1200000000")+"\n"+spansLine("1100000000")+"\n",
		metricsLine("1500000000")+"\n\n"+metricsLine("1800000000")+"\n")
	c, err := groundtruth.LoadCapture(dir)
	require.NoError(t, err)
	require.Len(t, c.Traces, 2)
	require.Len(t, c.Metrics, 2, "blank lines are skipped")
	got := c.Schedule()
	at := func(ns int64) time.Time { return time.Unix(0, ns).UTC() }
	assert.Equal(t, []groundtruth.Arrival{
		{Signal: groundtruth.SignalMetrics, Index: 0, At: at(1_550_000_000)},
		// 1.2 s + 500 ms; the second batch ends earlier but arrives after it.
		{Signal: groundtruth.SignalTraces, Index: 0, At: at(1_700_000_000)},
		{Signal: groundtruth.SignalTraces, Index: 1, At: at(1_700_000_000)},
		{Signal: groundtruth.SignalMetrics, Index: 1, At: at(1_850_000_000)},
	}, got)
}

func TestLoadCaptureErrors(t *testing.T) {
	_, err := groundtruth.LoadCapture(t.TempDir())
	require.Error(t, err, "no files")
	dir := writeCapture(t, spansLine("1")+"\n{not json\n", metricsLine("1"))
	_, err = groundtruth.LoadCapture(dir)
	require.ErrorContains(t, err, "line 2")
}

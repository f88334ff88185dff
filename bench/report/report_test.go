// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sample = `date: 2026-12-01 23:00 UTC
 23:00:01 up 1:00,  0 users,  load average: 0.50, 0.40, 0.30
goos: linux
cpu: Test CPU
BenchmarkGrowthIndex/spans=10k/traces-2   100  263667 ns/op  133.6 B/span  522.7 cpu-ns/span  515.9 ns/span  29144 B/op  176 allocs/op
BenchmarkGrowthIndex/spans=10k/traces-2   100  263667 ns/op  133.6 B/span  540.0 cpu-ns/span  530.0 ns/span  29144 B/op  176 allocs/op
BenchmarkGrowthIndex/spans=10k/traces-2   100  263667 ns/op  133.6 B/span  600.0 cpu-ns/span  600.0 ns/span  29144 B/op  176 allocs/op
BenchmarkGrowthIndex/spans=10k/metrics-2  100   82196 ns/op  2373 cpu-ns/point  0.1276 filled/grown  2402 ns/point
BenchmarkGrowthIndex/spans=4M/traces-2    100  263667 ns/op  61.2 B/span  700 cpu-ns/span  710 ns/span
BenchmarkGrowthStreams/streams=1k/metrics-2  100  77028 ns/op  873.3 B/stream  2095 cpu-ns/point  0.9859 filled/grown  2213 ns/point  870.0 streams
 23:05:00 up 1:05,  0 users,  load average: 1.50, 1.40, 1.30
`

func render(t *testing.T) map[string]string {
	t.Helper()
	res, err := parse(strings.NewReader(sample))
	require.NoError(t, err)
	files, err := res.render()
	require.NoError(t, err)
	return files
}

func TestTablesShowMediansPerSize(t *testing.T) {
	md := render(t)["growth.md"]
	// The median of three runs, sizes in ascending order, a missing
	// measurement shown as a dash.
	assert.Contains(t, md, "| 10k | 530 | 540 | 134 | 2402 | 2373 | 13% |")
	assert.Contains(t, md, "| 4M | 710 | 700 | 61 | – | – | – |")
	assert.Less(t, strings.Index(md, "| 10k |"), strings.Index(md, "| 4M |"))
	assert.Contains(t, md, "| 1k | 870 | 2213 | 2095 | 873 | 99% |")
	assert.Contains(t, md, "load average 0.50, 0.40, 0.30 before, 1.50, 1.40, 1.30 after")
	assert.Contains(t, md, "Test CPU")
}

func TestPlotsAreValidSVGWithOnePointPerSize(t *testing.T) {
	files := render(t)
	for _, name := range []string{"growth-index.svg", "growth-index-memory.svg", "growth-streams.svg", "growth-streams-memory.svg"} {
		body, ok := files[name]
		require.True(t, ok, name)
		dec := xml.NewDecoder(strings.NewReader(body))
		for {
			_, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, name)
		}
	}
	// Two sizes on the index plot; the metrics series has one point (the
	// 4M run has none).
	index := files["growth-index.svg"]
	assert.Equal(t, 3, strings.Count(index, "<circle"))
	assert.Contains(t, index, ">10k<")
	assert.Contains(t, index, ">4M<")
	assert.Contains(t, index, "target: 2 µs per point")
}

func TestNoResultsIsAnError(t *testing.T) {
	_, err := parse(strings.NewReader("PASS\n"))
	require.Error(t, err)
}

// TestLogScaleWhenValuesSpanDecades checks that a regression of 1000x does
// not flatten the other values: the axis turns logarithmic.
func TestLogScaleWhenValuesSpanDecades(t *testing.T) {
	c := chart{title: "t", x: []float64{1e4, 1e6}, series: []series{{"a", []float64{600, 1.8e6}}}, target: 2000}
	svg := c.svg()
	assert.Contains(t, svg, "(log scale)")
	assert.Contains(t, svg, ">100<")
	assert.Contains(t, svg, ">10M<")
	lin := chart{title: "t", x: []float64{1e4, 1e6}, series: []series{{"a", []float64{600, 700}}}}.svg()
	assert.NotContains(t, lin, "log scale")
}

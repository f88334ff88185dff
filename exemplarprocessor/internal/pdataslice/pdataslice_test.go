// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package pdataslice

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func spans(n int) ptrace.SpanSlice {
	s := ptrace.NewSpanSlice()
	for i := range n {
		s.AppendEmpty().SetName(string(rune('a' + i)))
	}
	return s
}

func names(s ptrace.SpanSlice) string {
	out := ""
	for i := 0; i < s.Len(); i++ {
		out += s.At(i).Name()
	}
	return out
}

func TestAtIndexes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		indexes []int
		want    string
	}{
		{"none", nil, "abcdef"},
		{"first", []int{0}, "bcdef"},
		{"last", []int{5}, "abcde"},
		{"several, order kept", []int{1, 3, 4}, "acf"},
		{"all", []int{0, 1, 2, 3, 4, 5}, ""},
		{"repeats removed once", []int{2, 2, 2, 4}, "abdf"},
		{"outside the slice ignored", []int{-3, -1, 0, 6, 100}, "bcdef"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := spans(6)
			s.RemoveIf(AtIndexes[ptrace.Span](tc.indexes))
			assert.Equal(t, tc.want, names(s))
		})
	}
}

// Any pdata slice: exemplars and data points as well as spans.
func TestOtherSlices(t *testing.T) {
	exs := pmetric.NewExemplarSlice()
	for i := range 4 {
		exs.AppendEmpty().SetIntValue(int64(i))
	}
	exs.RemoveIf(AtIndexes[pmetric.Exemplar]([]int{0, 2}))
	assert.Equal(t, 2, exs.Len())
	assert.Equal(t, int64(1), exs.At(0).IntValue())
	assert.Equal(t, int64(3), exs.At(1).IntValue())

	dps := pmetric.NewExponentialHistogramDataPointSlice()
	for i := range 3 {
		dps.AppendEmpty().SetCount(uint64(i))
	}
	dps.RemoveIf(AtIndexes[pmetric.ExponentialHistogramDataPoint]([]int{1}))
	assert.Equal(t, 2, dps.Len())
	assert.Equal(t, uint64(2), dps.At(1).Count())
}

// Removal runs per data point on the metrics path: it must not allocate.
func TestNoAllocation(t *testing.T) {
	s := spans(50)
	keep := []int{-1, 50}
	allocs := testing.AllocsPerRun(100, func() {
		s.RemoveIf(AtIndexes[ptrace.Span](keep))
	})
	assert.Zero(t, allocs)
	assert.Equal(t, 50, s.Len())
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/streams"
)

// The spans a stream remembers as used are bounded: past streams.MaxUsed
// the oldest go, and every debt they could have served is settled with
// them, so a span let go can never be named a second time. Spans that took
// the point's time are kept whatever their number: the next point would
// otherwise take them as fresh.
func TestUsedSpansAreBoundedAndSettleTheirDebts(t *testing.T) {
	// Intervals (newest first): 0 = (30, 40], 1 = (20, 30], 2 = (10, 20].
	times := []uint64{40, 30, 20, 10}
	out := []streams.Bucket{{Owed: 0b111}, {Owed: 0b100}}
	var used []usedSpan
	for i := range streams.MaxUsed {
		used = append(used, usedSpan{seq: uint64(100 + i), end: 31 + uint64(i%9)}) // interval 0
	}
	used = append(used,
		usedSpan{seq: 1, end: 15}, // interval 2: the oldest, let go
		usedSpan{seq: 2, end: 41}, // took point 40's time
		usedSpan{seq: 3, end: 42})

	kept := letUsedGo(40, out, times, used)

	require.Len(t, kept, streams.MaxUsed+2)
	seqs := map[uint64]bool{}
	for _, u := range kept {
		seqs[u.seq] = true
	}
	assert.True(t, seqs[2] && seqs[3], "spans after the point stay")
	assert.False(t, seqs[1], "the oldest span goes")
	assert.Equal(t, []uint32{0b011, 0b000}, []uint32{out[0].Owed, out[1].Owed}, "interval 2's debts are settled with it")
}

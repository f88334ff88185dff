// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package spanindex

import (
	"testing"
)

// BenchmarkInsert measures steady-state inserts of batches of 100 spans into
// a full index of 1M spans (every insert evicts one), without join groups.
func BenchmarkInsert(b *testing.B) {
	const n = 1_000_000
	idx := newIndex(b, n, 3600*sec, 3600*sec)
	id := uint64(0)
	w := idx.BeginWrite(at(sec))
	for range n {
		id++
		w.Insert(span(id*0x9e3779b97f4a7c15, 1, 2), nil)
	}
	w.End()
	rebuilds := idx.rebuilds
	b.ReportAllocs()
	b.ResetTimer()
	w = idx.BeginWrite(at(sec))
	var batch [100]Span
	var hashes [100]uint64
	for b.Loop() {
		for i := range batch {
			id++
			batch[i] = *span(id*0x9e3779b97f4a7c15, 1, 2)
			hashes[i] = w.Hash(&batch[i])
		}
		w.Prefetch(hashes[:])
		for i := range batch {
			w.InsertHashed(&batch[i], hashes[i], nil)
		}
	}
	w.End()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/span")
	b.ReportMetric(float64(idx.rebuilds-rebuilds)/float64(b.N*len(batch))*1e6, "rebuilds/1M")
}

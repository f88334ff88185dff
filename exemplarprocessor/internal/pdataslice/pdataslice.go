// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Package pdataslice removes elements from pdata slices by position: the
// processor decides what goes while it walks a slice (dropped replays,
// exemplars to replace, points folded into others) and removes them all
// at once afterwards, as pdata slices only offer RemoveIf.
package pdataslice // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/pdataslice"

// AtIndexes returns a RemoveIf predicate that removes the elements at the
// indexes, which are ascending (repeats are removed once; indexes outside
// the slice are ignored); the others keep their order:
//
//	spans.RemoveIf(pdataslice.AtIndexes[ptrace.Span](drops))
//
// It works for any pdata slice. A predicate counts the elements it is asked
// about, so use each for one RemoveIf call. It is small enough to be
// inlined, and then allocates nothing.
func AtIndexes[E any](indexes []int) func(E) bool {
	i, next := 0, 0
	return func(E) bool {
		for next < len(indexes) && indexes[next] < i {
			next++
		}
		drop := next < len(indexes) && indexes[next] == i
		if drop {
			next++
		}
		i++
		return drop
	}
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich

import (
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
)

// cand is a candidate of span seq with rank r that ended at end.
func cand(seq uint64, r rank, end uint64) candidate {
	return candidate{ref: spanindex.Ref{Seq: seq, End: end}, ts: end, ok: true, rank: r}
}

type seqRank struct {
	Seq  uint64
	Rank rank
}

func listOf(cs *candidates, b int) []seqRank {
	out := []seqRank{}
	for _, c := range cs.lists[b] {
		out = append(out, seqRank{c.ref.Seq, c.rank})
	}
	return out
}

// A bucket's candidate list is ranked exact > fresh > late > within the
// tolerance (fresh, then late), a later end first within a rank, whatever
// the order candidates were found in.
func TestCandidateOrder(t *testing.T) {
	all := []candidate{
		cand(1, rankNearLate, 50), cand(2, rankNearLate, 60),
		cand(3, rankNearFresh, 10), cand(4, rankNearFresh, 90),
		cand(5, rankLate, 40), cand(6, rankLate, 45),
		cand(7, rankFresh, 20),
		cand(8, rankExact, 5),
	}
	want := []seqRank{{8, rankExact}, {7, rankFresh}, {6, rankLate}, {5, rankLate}, {4, rankNearFresh}, {3, rankNearFresh}, {2, rankNearLate}, {1, rankNearLate}}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		var cs candidates
		cs.reset(1)
		for _, c := range all {
			cs.add(0, c)
		}
		assert.Equal(t, want, listOf(&cs, 0))
	}
}

// At most maxCandidates per bucket, the best ones.
func TestCandidateListIsBounded(t *testing.T) {
	var cs candidates
	cs.reset(2)
	var ends []uint64
	for i := range uint64(3 * maxCandidates) {
		end := (i * 7919) % 1000 // a scrambled order
		ends = append(ends, end)
		cs.add(1, cand(i+1, rankFresh, end))
	}
	require.Len(t, cs.lists[1], maxCandidates)
	sort.Slice(ends, func(i, j int) bool { return ends[i] > ends[j] })
	for i, c := range cs.lists[1] {
		assert.Equal(t, ends[i], c.ref.End, "position %d", i)
	}
	assert.Empty(t, cs.lists[0], "other buckets untouched")

	// A worse candidate is not let in; a better one pushes the worst out.
	worst := cs.lists[1][maxCandidates-1].ref.End
	cs.add(1, cand(100, rankLate, 999))
	assert.NotContains(t, listOf(&cs, 1), seqRank{100, rankLate})
	cs.add(1, cand(101, rankExact, 1))
	assert.Equal(t, seqRank{101, rankExact}, listOf(&cs, 1)[0])
	require.Len(t, cs.lists[1], maxCandidates)
	for _, c := range cs.lists[1] {
		assert.NotEqual(t, worst, c.ref.End)
	}
}

// A span found again (by another walk, or as the point's own) is listed
// once, with the best rank it was found with.
func TestCandidateReAddedKeepsItsBestRank(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ranks []rank
		want  rank
	}{
		{"found better later", []rank{rankNearFresh, rankFresh}, rankFresh},
		{"found worse later", []rank{rankFresh, rankNearLate}, rankFresh},
		{"found the same again", []rank{rankLate, rankLate}, rankLate},
		{"exact after near", []rank{rankNearLate, rankNearFresh, rankExact}, rankExact},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cs candidates
			cs.reset(1)
			cs.add(0, cand(9, rankLate, 30)) // another span, between the ranks
			for _, r := range tc.ranks {
				cs.add(0, cand(1, r, 50))
			}
			l := listOf(&cs, 0)
			n := 0
			for _, c := range l {
				if c.Seq == 1 {
					n++
					assert.Equal(t, tc.want, c.Rank)
				}
			}
			assert.Equal(t, 1, n, "listed once: %v", l)
			assert.True(t, sort.SliceIsSorted(cs.lists[0], func(i, j int) bool { return cs.lists[0][i].better(&cs.lists[0][j]) }))
		})
	}
}

// What the ranks mean for the exemplar a bucket gets.
func TestRankDecidesTheExemplar(t *testing.T) {
	t.Run("the point's own span beats a fresher one", func(t *testing.T) {
		for _, named := range []bool{true, false} {
			f := newFixture(t)
			f.add(sp{n: 1, end: 12 * sec, dur: 7 * msec}, sp{n: 2, end: 18 * sec, dur: 8 * msec})
			p := delta(10*sec, 20*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)
			var exact []Exact
			if named {
				exact = append(exact, f.exact(1))
			}
			res := f.enrich(p, 21*sec, exact...)
			if named {
				assert.Equal(t, []uint64{1}, spansOf(p))
				assert.Equal(t, Result{Exact: 1}, res)
			} else {
				assert.Equal(t, []uint64{2}, spansOf(p))
				assert.Equal(t, Result{Matched: 1}, res)
			}
		}
	})
	t.Run("the bucket's own late span beats a fresh one within the tolerance", func(t *testing.T) {
		f := newFixture(t).tolerant(defaultTolerance)
		first := cumulative(0, 10*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)
		f.run(step{add: []sp{{n: 1, end: 5 * sec, dur: 7 * msec}}, point: first})
		require.Equal(t, []uint64{1}, spansOf(first))
		p := cumulative(0, 20*sec, 0, 2, 0, 0, 0, 0, 0, 0, 0)
		f.run(step{add: []sp{
			{n: 2, end: 8 * sec, dur: 7 * msec, arrive: 12 * sec}, // late, inside bucket 1
			{n: 3, end: 15 * sec, dur: 10800 * usec},              // fresh, 0.8 ms above bucket 1
		}, point: p})
		assert.Equal(t, []uint64{2}, spansOf(p))
		assert.InDelta(t, 7.0, exemplarOf(t, p, 2).DoubleValue(), 1e-9)
	})
	t.Run("a later end first among late spans, whatever their arrival order", func(t *testing.T) {
		for _, laterFirst := range []bool{true, false} {
			f := newFixture(t)
			f.run(step{add: []sp{{n: 1, end: 2 * sec, dur: 7 * msec}}, point: cumulative(0, 10*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)})
			a := sp{n: 2, end: 8 * sec, dur: 7 * msec, arrive: 12 * sec}
			b := sp{n: 3, end: 6 * sec, dur: 9 * msec, arrive: 13 * sec}
			if !laterFirst {
				a.arrive, b.arrive = b.arrive, a.arrive
				f.add(b, a)
			} else {
				f.add(a, b)
			}
			p := cumulative(0, 20*sec, 0, 2, 0, 0, 0, 0, 0, 0, 0)
			f.enrich(p, 21*sec)
			assert.Equal(t, []uint64{2}, spansOf(p), "later-ending span arrived first: %t", laterFirst)
		}
	})
}

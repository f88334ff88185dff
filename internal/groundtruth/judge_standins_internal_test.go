// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMinCostMatching checks the cheapest matching against every matching
// of small random graphs: its cost, and that it is a matching of the size
// asked (or the largest there is) using only the graph's edges.
func TestMinCostMatching(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		nl, nr := 1+rng.IntN(7), 1+rng.IntN(7)
		adj := make([][]costEdge, nl)
		for u := range adj {
			for v := range nr {
				if rng.IntN(2) == 0 {
					adj[u] = append(adj[u], costEdge{to: v, cost: rng.IntN(2)})
				}
			}
		}
		for n := 0; n <= nl; n++ {
			size, want := cheapestBySearch(adj, nr, n)
			got, m := minCostMatching(adj, nr, n)
			require.Equal(t, want, got, "graph %v, %d matched", adj, n)
			matched, cost := 0, 0
			for u, e := range m.left {
				if e >= 0 {
					matched++
					cost += adj[u][e].cost
					assert.Equal(t, u, m.right[adj[u][e].to], "graph %v: the matching is not one", adj)
				}
			}
			assert.Equal(t, size, matched, "graph %v, %d asked", adj, n)
			assert.Equal(t, got, cost, "graph %v: the cost returned is not the matching's", adj)
		}
	}
}

// TestMinCostMatchingReroutes: the cheapest way to match one more may move
// a matched vertex to a dearer edge.
func TestMinCostMatchingReroutes(t *testing.T) {
	// Bucket 0 fills from span 0 for free or span 1 as a stand-in; bucket
	// 1 only from span 0 as a stand-in.
	adj := [][]costEdge{{{to: 0, cost: 0}, {to: 1, cost: 1}}, {{to: 0, cost: 1}}}
	got, _ := minCostMatching(adj, 2, 1)
	assert.Equal(t, 0, got)
	got, m := minCostMatching(adj, 2, 2)
	assert.Equal(t, 2, got)
	assert.Equal(t, []int{1, 0}, m.left)
}

// cheapestBySearch returns the size of the matching asked for (n, or the
// largest there is) and its least cost, by trying every matching.
func cheapestBySearch(adj [][]costEdge, nr, n int) (size, cost int) {
	best := map[int]int{} // size -> least cost
	used := make([]bool, nr)
	var walk func(u, size, cost int)
	walk = func(u, size, cost int) {
		if c, ok := best[size]; !ok || cost < c {
			best[size] = cost
		}
		if u == len(adj) {
			return
		}
		walk(u+1, size, cost)
		for _, e := range adj[u] {
			if !used[e.to] {
				used[e.to] = true
				walk(u+1, size+1, cost+e.cost)
				used[e.to] = false
			}
		}
	}
	walk(0, 0, 0)
	size = n
	for {
		if c, ok := best[size]; ok {
			return size, c
		}
		size--
	}
}

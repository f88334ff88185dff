// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"

// Assignment: spans are assigned to buckets by augmenting paths (Kuhn's
// matching), slowest bucket first: a bucket takes its most preferred
// candidate that is free, or that the bucket holding it can give up for
// another of its own. So every bucket that can have an exemplar gets one,
// and a span explains at most one bucket. A first pass uses only spans
// inside their bucket; a second lets spans within the tolerance fill the
// buckets left empty, moving a span away from its own bucket only when that
// bucket can take another: an unclamped exemplar is preferred whenever it
// costs no bucket.

// pass is which candidates an assignment pass may use.
type pass uint8

const (
	// insideOnly: spans inside their bucket (late or better).
	insideOnly pass = iota
	// withNear: also spans within the tolerance outside the bucket.
	withNear
)

// matching assigns candidates to buckets.
type matching struct {
	cs *candidates
	// more collects every candidate of a bucket: a quick list stops at the
	// first fresh span and may hide another.
	more interface{ collectBucket(b int) }
	// best is each bucket's assigned candidate (ok false: none).
	best   []candidate
	owners []owner  // which bucket each assigned span explains
	seen   []uint64 // spans tried by the current augmenting search
}

type owner struct {
	seq    uint64
	bucket int
}

// assign fills best for the target buckets.
func (m *matching) assign(target []bool) {
	m.owners = m.owners[:0]
	for _, ps := range [2]pass{insideOnly, withNear} {
		for b := len(target) - 1; b >= 0; b-- {
			if target[b] && len(m.cs.lists[b]) > 0 && !m.best[b].ok {
				m.seen = m.seen[:0]
				m.augment(b, ps)
			}
		}
	}
}

// augment gives bucket b a span: its most preferred candidate that is free,
// or whose holder can take another of its own.
func (m *matching) augment(b int, ps pass) bool {
	for i := 0; ; i++ {
		// Past its first choice a bucket settles for nothing before it has
		// collected all its candidates.
		if i > 0 && !m.cs.full[b] {
			m.cs.full[b] = true
			m.more.collectBucket(b)
			i = 0 // the list is re-sorted: look again, seen spans are skipped
		}
		if i == len(m.cs.lists[b]) {
			return false
		}
		c := m.cs.lists[b][i]
		if (ps == insideOnly && c.rank < rankLate) || m.wasSeen(c.ref.Seq) {
			continue
		}
		m.seen = append(m.seen, c.ref.Seq)
		if o := m.ownerOf(c.ref.Seq); o < 0 || m.augment(o, ps) {
			m.setOwner(c.ref.Seq, b)
			m.best[b] = c
			return true
		}
	}
}

func (m *matching) ownerOf(seq uint64) int {
	for _, o := range m.owners {
		if o.seq == seq {
			return o.bucket
		}
	}
	return -1
}

func (m *matching) setOwner(seq uint64, b int) {
	for i := range m.owners {
		if m.owners[i].seq == seq {
			m.owners[i].bucket = b
			return
		}
	}
	m.owners = append(m.owners, owner{seq: seq, bucket: b})
}

func (m *matching) wasSeen(seq uint64) bool {
	for _, s := range m.seen {
		if s == seq {
			return true
		}
	}
	return false
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"

// What one point's walks learn of its join groups' duration class lists.
// A point walks a list once per bucket that wants it, and again for a
// deeper or a wider search (peek, deep, near, complete): mostly the same
// lists, most of which hold nothing for the point. Whether a list can hold
// a candidate of the point at all (it has spans ending in the window that
// arrived in time) does not depend on the bucket, so it is read from the
// list's head once per point; a list found empty is skipped from then on
// without being looked up again. The walks themselves, their order and the
// reads they charge to the point's budget are what they were: only lists
// that could not have yielded a span are left out.

// classSet is a set of duration classes (0-127).
type classSet [2]uint64

func (s *classSet) add(f uint8)      { s[f>>6] |= 1 << (f & 63) }
func (s *classSet) has(f uint8) bool { return s[f>>6]&(1<<(f&63)) != 0 }

// groupLists is what the point knows of one join group's lists.
type groupLists struct {
	// checked: classes whose list head was read; live: those of them
	// found able to hold a candidate of the point.
	checked, live classSet
}

// listMemo is the point's knowledge of every join group's lists.
type listMemo struct {
	groups []groupLists
}

// reset forgets the previous point's lists.
func (m *listMemo) reset(groups int) { m.groups = resize(m.groups, groups) }

// mayHold reports whether group i's list of class f may hold a candidate:
// its head was not read yet, or was found able to.
func (m *listMemo) mayHold(i int, f uint8) bool {
	g := &m.groups[i]
	return !g.checked.has(f) || g.live.has(f)
}

// checked records what reading group i's list head of class f found.
func (m *listMemo) checked(i int, f uint8, live bool) {
	g := &m.groups[i]
	g.checked.add(f)
	if live {
		g.live.add(f)
	}
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package spanindex

import (
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecimalInt(t *testing.T) {
	for _, s := range []string{"0", "7", "-7", "200", "9223372036854775807", "-9223372036854775808"} {
		i, ok := decimalInt(s)
		require.True(t, ok, s)
		assert.Equal(t, s, strconv.FormatInt(i, 10))
	}
	for _, s := range []string{"", "-", "-0", "007", "+7", " 7", "7 ", "1e3", "2.0", "9223372036854775808", "-9223372036854775809", "99999999999999999999"} {
		_, ok := decimalInt(s)
		assert.False(t, ok, "%q is no int64's decimal form", s)
	}
}

// valueKey is a key of service "shop" and one dimension.
func valueKey(idx *Index, add func(*Key)) *Key {
	k := idx.NewKey()
	k.AddString("shop")
	k.SetKind(2)
	add(k)
	return k
}

// TestValuesEqualTheirDecimalForm: a number joins its decimal string and
// nothing else, whatever type each side sent.
func TestValuesEqualTheirDecimalForm(t *testing.T) {
	idx := newIndex(t, 100, 60*sec, 60*sec)
	kinds := map[string]func(*Key){
		"int 200":      func(k *Key) { k.AddInt(200) },
		"string 200":   func(k *Key) { k.AddString("200") },
		"double 200":   func(k *Key) { k.AddDouble(200) },
		"string 0200":  func(k *Key) { k.AddString("0200") },
		"double 200.5": func(k *Key) { k.AddDouble(200.5) },
		"string 200.5": func(k *Key) { k.AddString("200.5") },
		"double 1e6":   func(k *Key) { k.AddDouble(1e6) }, // "1e+06"
		"int 1000000":  func(k *Key) { k.AddInt(1e6) },
		"int -0":       func(k *Key) { k.AddInt(0) },
		"string -0":    func(k *Key) { k.AddString("-0") },
		"double -0":    func(k *Key) { k.AddDouble(math.Copysign(0, -1)) },
		"bool true":    func(k *Key) { k.AddBool(true) },
		"string true":  func(k *Key) { k.AddString("true") },
	}
	form := func(add func(*Key)) string {
		k := valueKey(idx, add)
		v := &k.vals[0]
		switch v.state {
		case valInt:
			return strconv.FormatInt(v.i, 10)
		case valBytes:
			return string(k.bytesOf(v))
		default:
			return v.s
		}
	}
	n := uint64(0)
	for name, add := range kinds {
		n++
		insert(idx, sec, span(n, 0, 10), valueKey(idx, add))
		for other, query := range kinds {
			r := idx.BeginRead()
			got := len(r.Groups(valueKey(idx, query), nil)) == 1
			r.End()
			assert.Equal(t, form(add) == form(query), got, "%s joins %s", other, name)
		}
		idx = newIndex(t, 100, 60*sec, 60*sec)
	}
}

// TestGroupsSelectAcrossDimensionSets: a key that leaves a dimension open
// selects groups with and without a value there; one that binds it selects
// only equal ones; results come in the order the groups appeared.
func TestGroupsSelectAcrossDimensionSets(t *testing.T) {
	idx := newIndex(t, 100, 60*sec, 60*sec)
	key := func(route string, errType string, q bool) *Key {
		k := idx.NewKey()
		k.AddString("shop")
		k.SetKind(2)
		k.AddString(route)
		switch {
		case q && errType == "*":
			k.AddAny()
		case errType == "":
			k.AddAbsent()
		default:
			k.AddString(errType)
		}
		return k
	}
	insert(idx, sec, span(1, 0, 10), key("/a", "timeout", false))
	insert(idx, sec, span(2, 0, 10), key("/a", "", false))
	insert(idx, sec, span(3, 0, 10), key("/b", "", false))
	insert(idx, sec, span(4, 0, 10), key("/a", "reset", false))
	assert.Equal(t, []uint64{1, 2, 4}, collect(idx, key("/a", "*", true), Fine(10)), "open: every /a group, in the order they appeared")
	assert.Equal(t, []uint64{2}, collect(idx, key("/a", "", true), Fine(10)), "absent selects absent only")
	assert.Equal(t, []uint64{4}, collect(idx, key("/a", "reset", true), Fine(10)))

	open := idx.NewKey()
	open.AddString("shop")
	open.SetKind(2)
	open.AddAny()
	open.AddAbsent()
	assert.ElementsMatch(t, []uint64{2, 3}, collect(idx, open, Fine(10)))
}

// TestPinSurvivesEviction: a span keyed ahead of its insert keeps its group
// even when the insert evicts the group's last span, and a pin that no
// insert uses is dropped with the duplicate.
func TestPinSurvivesEviction(t *testing.T) {
	idx := newIndex(t, 1, 60*sec, 60*sec)
	insert(idx, sec, span(1, 0, 10), serverKey(idx, "shop", "/a", 200))
	w := idx.BeginWrite(at(sec))
	g := w.Pin(serverKey(idx, "shop", "/a", 200))
	s := span(2, 0, 10)
	o, ref := w.InsertPinned(s, w.Hash(s), g)
	require.Equal(t, Indexed, o)
	assert.Equal(t, g, ref.Group)
	dup := w.Pin(serverKey(idx, "shop", "/b", 200))
	o, _ = w.InsertPinned(s, w.Hash(s), dup)
	assert.Equal(t, Replay, o)
	w.End()
	assert.Equal(t, 1, idx.Stats().Groups, "the replay's pin is gone with its group")
	assert.Equal(t, []uint64{2}, collect(idx, serverKey(idx, "shop", "/a", 200), Fine(10)))
	assert.Empty(t, collect(idx, serverKey(idx, "shop", "/b", 200), Fine(10)))
}

// TestMemoNotFooledByReusedIDs: a key that remembers a group must not find
// it once freed and its ID given to another group.
func TestMemoNotFooledByReusedIDs(t *testing.T) {
	idx := newIndex(t, 1, 60*sec, 60*sec)
	a := serverKey(idx, "shop", "/a", 200)
	insert(idx, sec, span(1, 0, 10), a)
	insert(idx, sec, span(2, 0, 10), serverKey(idx, "cart", "/b", 200)) // evicts span 1, frees /a
	insert(idx, sec, span(3, 0, 10), a)                                 // evicts span 2
	insert(idx, sec, span(4, 0, 10), serverKey(idx, "cart", "/b", 200))
	assert.Equal(t, []uint64{4}, collect(idx, serverKey(idx, "cart", "/b", 200), Fine(10)))
	assert.Empty(t, collect(idx, serverKey(idx, "shop", "/a", 200), Fine(10)))
	insert(idx, sec, span(5, 0, 10), a)
	assert.Equal(t, []uint64{5}, collect(idx, serverKey(idx, "shop", "/a", 200), Fine(10)))
	assert.Empty(t, collect(idx, serverKey(idx, "cart", "/b", 200), Fine(10)))
}

// TestGenerationFollowsGroups: a reader's generation for a resource
// identity and kind changes whenever one of its groups appears or goes.
func TestGenerationFollowsGroups(t *testing.T) {
	idx := newIndex(t, 2, 60*sec, 60*sec)
	k := serverKey(idx, "shop", "/a", 200)
	gen := func() uint64 {
		r := idx.BeginRead()
		defer r.End()
		return r.Generation(k)
	}
	assert.Zero(t, gen())
	insert(idx, sec, span(1, 0, 10), serverKey(idx, "shop", "/a", 200))
	g1 := gen()
	assert.NotZero(t, g1)
	insert(idx, sec, span(2, 0, 10), serverKey(idx, "shop", "/a", 200))
	assert.Equal(t, g1, gen(), "same group")
	insert(idx, sec, span(3, 0, 10), serverKey(idx, "shop", "/b", 200))
	g2 := gen()
	assert.NotEqual(t, g1, g2, "a group appeared")
	insert(idx, sec, span(4, 0, 10), serverKey(idx, "cart", "/b", 200))
	insert(idx, sec, span(5, 0, 10), serverKey(idx, "cart", "/b", 200))
	assert.Zero(t, gen(), "every group of shop is gone")
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package identity

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// attrs builds a map with the entries in the order given.
func attrs(t *testing.T, kv ...any) pcommon.Map {
	m := pcommon.NewMap()
	for i := 0; i < len(kv); i += 2 {
		require.NoError(t, m.PutEmpty(kv[i].(string)).FromRaw(kv[i+1]))
	}
	return m
}

func TestOrderDoesNotMatter(t *testing.T) {
	h := New()
	a := attrs(t, "http.route", "/cart", "http.response.status_code", 200, "http.request.method", "GET")
	b := attrs(t, "http.request.method", "GET", "http.route", "/cart", "http.response.status_code", 200)
	assert.Equal(t, h.Map(a), h.Map(b))
}

// Two maps are one stream exactly when their entries are equal: same keys,
// same values of the same type.
func TestStreamsApart(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b []any
		same bool
	}{
		{"equal", []any{"code", 200}, []any{"code", 200}, true},
		{"int and string differ", []any{"code", 200}, []any{"code", "200"}, false},
		{"int and double differ", []any{"code", 200}, []any{"code", 200.0}, false},
		{"doubles", []any{"v", 0.5}, []any{"v", 0.25}, false},
		{"bools", []any{"ok", true}, []any{"ok", false}, false},
		{"bool and string differ", []any{"ok", true}, []any{"ok", "true"}, false},
		{"empty value and empty string differ", []any{"v", nil}, []any{"v", ""}, false},
		{"empty value and no entry differ", []any{"v", nil}, []any{}, false},
		{"keys matter", []any{"a", 1}, []any{"b", 1}, false},
		{"key and value not interchangeable", []any{"a", "b"}, []any{"b", "a"}, false},
		{"values not swapped between keys", []any{"a", "x", "b", "y"}, []any{"a", "y", "b", "x"}, false},
		{"nested maps by content, any order", []any{"m", map[string]any{"x": 1, "y": "z"}}, []any{"m", map[string]any{"y": "z", "x": 1}}, true},
		{"nested maps differ", []any{"m", map[string]any{"x": 1}}, []any{"m", map[string]any{"x": 2}}, false},
		{"slices by content", []any{"s", []any{1, "a"}}, []any{"s", []any{1, "a"}}, true},
		{"slice order matters", []any{"s", []any{1, 2}}, []any{"s", []any{2, 1}}, false},
		{"slice and map differ", []any{"s", []any{}}, []any{"s", map[string]any{}}, false},
		{"bytes", []any{"b", []byte{1}}, []any{"b", []byte{2}}, false},
		{"empty maps", []any{}, []any{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := New()
			a, b := h.Map(attrs(t, tc.a...)), h.Map(attrs(t, tc.b...))
			if tc.same {
				assert.Equal(t, a, b)
			} else {
				assert.NotEqual(t, a, b)
			}
		})
	}
}

// Skipped keys hash as if they were not there, whatever their values.
func TestSkipKeys(t *testing.T) {
	h := New()
	plain := attrs(t, "http.route", "/cart")
	withIDs := attrs(t, "http.route", "/cart", "trace_id", "0af7651916cd43dd8448eb211c80319c", "span_id", "b7ad6b7169203331")
	otherIDs := attrs(t, "span_id", "00f067aa0ba902b7", "http.route", "/cart", "trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")
	onlyTrace := attrs(t, "http.route", "/cart", "trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")

	want := h.Map(plain)
	assert.Equal(t, want, h.Map(withIDs, "trace_id", "span_id"))
	assert.Equal(t, want, h.Map(otherIDs, "trace_id", "span_id"))
	assert.Equal(t, want, h.Map(onlyTrace, "trace_id", "span_id"))
	assert.Equal(t, want, h.Map(plain, "trace_id", "span_id"), "skipping absent keys changes nothing")
	assert.NotEqual(t, want, h.Map(withIDs), "not skipped, the IDs count")
	assert.NotEqual(t, h.Map(withIDs), h.Map(otherIDs))
	assert.NotEqual(t, want, h.Map(withIDs, "http.route"), "only the keys named are skipped")
}

func TestCombineOrderDependent(t *testing.T) {
	h := New()
	a, b := h.String("checkout"), h.String("http.server.request.duration")
	assert.NotEqual(t, Combine(a, b), Combine(b, a))
	assert.NotEqual(t, Combine(Combine(a, b), a), Combine(a, Combine(b, a)))
	assert.NotEqual(t, h.String("ab"), h.String("ba"))
	assert.Equal(t, a, h.String(string([]byte("checkout"))), "one seed, one hash per string")
	assert.NotEqual(t, a, New().String("checkout"), "seeds differ per hasher")
}

// Stream identities are computed per data point: no allocation.
func TestMapDoesNotAllocate(t *testing.T) {
	h := New()
	m := attrs(t, "http.route", "/cart", "http.response.status_code", 200, "ok", true, "v", 0.5, "trace_id", "x")
	allocs := testing.AllocsPerRun(100, func() {
		h.Map(m, "trace_id", "span_id")
	})
	assert.Zero(t, allocs)
}

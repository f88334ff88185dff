// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package join

import (
	"encoding/binary"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/rules"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/streams"
)

// fixture is a span index holding spans of several join groups, named by
// the test, and the rules that join them.
type fixture struct {
	t      *testing.T
	set    *rules.Set
	idx    *spanindex.Index
	j      *Resolver
	table  *streams.Table
	names  map[spanindex.GroupID]string
	nextID uint64
}

// span is a span of a join group: its resource, kind and attributes.
type span struct {
	group string // the test's name for its group
	res   map[string]any
	kind  ptrace.SpanKind
	attrs map[string]any
}

func shop() map[string]any { return map[string]any{"service.name": "shop"} }

func server(group string, res map[string]any, route, method string, status any) span {
	return span{group: group, res: res, kind: ptrace.SpanKindServer, attrs: map[string]any{
		"http.route": route, "http.request.method": method, "http.response.status_code": status,
	}}
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	set, err := rules.Compile([]rules.Spec{
		{Metric: "m", SpanKind: "server", Attributes: map[string]string{
			"route": "http.route", "method": "http.request.method", "status": "http.response.status_code",
		}},
		{Metric: "c", SpanKind: "client", Attributes: map[string]string{"route": "http.route"}},
	}, false, []string{"service.name", "service.namespace"}, nil)
	require.NoError(t, err)
	idx, err := spanindex.New(spanindex.Config{MaxSpans: 1000, TTL: 10 * time.Second, DuplicateWindow: time.Second})
	require.NoError(t, err)
	return &fixture{
		t: t, set: set, idx: idx,
		j:     NewResolver(set, idx),
		table: streams.New(100, time.Hour),
		names: map[spanindex.GroupID]string{},
	}
}

// add indexes spans arriving at second sec.
func (f *fixture) add(sec int64, spans ...span) {
	f.t.Helper()
	w := f.idx.BeginWrite(time.Unix(sec, 0))
	defer w.End()
	for _, s := range spans {
		res := pcommon.NewMap()
		require.NoError(f.t, res.FromRaw(s.res))
		ps := ptrace.NewSpan()
		ps.SetKind(s.kind)
		require.NoError(f.t, ps.Attributes().FromRaw(s.attrs))
		k := f.idx.NewKey()
		f.set.ResourceKey(k, res)
		key := f.set.SpanKey(k, ps)
		require.NotNil(f.t, key)
		f.nextID++
		in := spanindex.Span{Start: uint64(sec) * 1e9, End: uint64(sec)*1e9 + 1e6, Kind: uint8(s.kind)}
		in.TraceID[0] = 1
		binary.BigEndian.PutUint64(in.SpanID[:], f.nextID)
		out, ref := w.Insert(&in, key)
		require.Equal(f.t, spanindex.Indexed, out)
		if name, ok := f.names[ref.Group]; ok {
			require.Equal(f.t, s.group, name, "the test's groups are the index's")
		}
		f.names[ref.Group] = s.group
	}
}

// resolve returns the names of the groups point attrs of metric resolves
// to, for stream st.
func (f *fixture) resolve(st *streams.State, res map[string]any, metric string, attrs map[string]any) []string {
	f.t.Helper()
	rule, ok := f.set.Lookup("", metric)
	require.True(f.t, ok)
	r, a := pcommon.NewMap(), pcommon.NewMap()
	require.NoError(f.t, r.FromRaw(res))
	require.NoError(f.t, a.FromRaw(attrs))
	rd := f.idx.BeginRead()
	defer rd.End()
	names := []string{}
	for _, g := range f.j.Groups(rd, st, Point{Resource: r, Rule: rule, Attributes: a}) {
		names = append(names, f.names[g])
	}
	sort.Strings(names)
	return names
}

// groups indexes one span of each group the join tests name.
func (f *fixture) groups() {
	prod := map[string]any{"service.name": "shop", "service.namespace": "prod"}
	f.add(1,
		server("shop /a GET 200", shop(), "/a", "GET", int64(200)),
		server("shop /a POST 200", shop(), "/a", "POST", int64(200)),
		server("shop /b GET 200", shop(), "/b", "GET", int64(200)),
		server("shop /a GET 500", shop(), "/a", "GET", "500"),
		server("cart /a GET 200", map[string]any{"service.name": "cart"}, "/a", "GET", int64(200)),
		server("prod shop /a GET 200", prod, "/a", "GET", int64(200)),
		span{group: "shop client /a", res: shop(), kind: ptrace.SpanKindClient, attrs: map[string]any{"http.route": "/a"}},
	)
}

// A point's key selects the groups whose spans its bucket may have counted.
func TestPointSelectsGroups(t *testing.T) {
	for _, tc := range []struct {
		name   string
		res    map[string]any
		metric string
		attrs  map[string]any
		want   []string
	}{
		{
			name: "every mapped attribute equal", res: shop(), metric: "m",
			attrs: map[string]any{"route": "/a", "method": "GET", "status": int64(200)},
			want:  []string{"shop /a GET 200"},
		},
		{
			name: "a status code as a string equals the span's integer", res: shop(), metric: "m",
			attrs: map[string]any{"route": "/a", "method": "GET", "status": "200"},
			want:  []string{"shop /a GET 200"},
		},
		{
			name: "and an integer the span's string", res: shop(), metric: "m",
			attrs: map[string]any{"route": "/a", "method": "GET", "status": int64(500)},
			want:  []string{"shop /a GET 500"},
		},
		{
			name: "attributes the rule does not map do not constrain", res: shop(), metric: "m",
			attrs: map[string]any{"route": "/a", "method": "GET", "status": int64(200), "http.route": "/b", "host": "x"},
			want:  []string{"shop /a GET 200"},
		},
		{
			name: "a dimension the point lacks is a wildcard", res: shop(), metric: "m",
			attrs: map[string]any{"route": "/a", "status": int64(200)},
			want:  []string{"shop /a GET 200", "shop /a POST 200"},
		},
		{
			name: "two dimensions lacking", res: shop(), metric: "m",
			attrs: map[string]any{"route": "/a"},
			want:  []string{"shop /a GET 200", "shop /a GET 500", "shop /a POST 200"},
		},
		{
			name: "every dimension lacking: the service's spans of the rule's kind", res: shop(), metric: "m",
			attrs: map[string]any{},
			want:  []string{"shop /a GET 200", "shop /a GET 500", "shop /a POST 200", "shop /b GET 200"},
		},
		{
			name: "no group has the value", res: shop(), metric: "m",
			attrs: map[string]any{"route": "/c"},
			want:  []string{},
		},
		{
			name: "another service", res: map[string]any{"service.name": "cart"}, metric: "m",
			attrs: map[string]any{"route": "/a"},
			want:  []string{"cart /a GET 200"},
		},
		{
			name: "a resource key present on both sides must be equal", res: map[string]any{"service.name": "shop", "service.namespace": "prod"}, metric: "m",
			attrs: map[string]any{"route": "/a"},
			want:  []string{"prod shop /a GET 200"},
		},
		{
			name: "a resource key absent on the point matches only its absence; other resource attributes do not count", res: map[string]any{"service.name": "shop", "host.name": "h1"}, metric: "m",
			attrs: map[string]any{"route": "/a", "method": "GET", "status": int64(200)},
			want:  []string{"shop /a GET 200"},
		},
		{
			name: "no service name: no service's spans", res: map[string]any{"service.namespace": "prod"}, metric: "m",
			attrs: map[string]any{},
			want:  []string{},
		},
		{
			name: "the rule's span kind", res: shop(), metric: "c",
			attrs: map[string]any{"route": "/a"},
			want:  []string{"shop client /a"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.groups()
			assert.Equal(t, tc.want, f.resolve(f.table.Get(1, time.Unix(2, 0)), tc.res, tc.metric, tc.attrs))
		})
	}
}

// A stream's groups are cached in its state while the index's generation
// for its resource identity and span kind is unchanged, and resolved anew
// when a group of that resource and kind appears or goes. The cache is
// seen at work by asking with other attributes (a stream's attributes never
// change): a cached answer is the first one.
func TestGroupsAreCachedPerIndexGeneration(t *testing.T) {
	wildMethod := map[string]any{"route": "/a", "status": int64(200)}
	other := map[string]any{"route": "/b"}
	for _, tc := range []struct {
		name    string
		change  func(f *fixture)
		cached  bool
		refresh []string // the groups of wildMethod after the change
	}{
		{"nothing changed", func(*fixture) {}, true, nil},
		{
			"a span of a known group arrived",
			func(f *fixture) { f.add(2, server("shop /a GET 200", shop(), "/a", "GET", int64(200))) },
			true, nil,
		},
		{
			"a group of another service appeared",
			func(f *fixture) {
				f.add(2, server("cart /c GET 200", map[string]any{"service.name": "cart"}, "/c", "GET", int64(200)))
			},
			true, nil,
		},
		{
			"a group of the service's other span kind appeared",
			func(f *fixture) {
				f.add(2, span{group: "shop client /b", res: shop(), kind: ptrace.SpanKindClient, attrs: map[string]any{"http.route": "/b"}})
			},
			true, nil,
		},
		{
			"a group of the service and kind appeared",
			func(f *fixture) { f.add(2, server("shop /a PUT 200", shop(), "/a", "PUT", int64(200))) },
			false,
			[]string{"shop /a GET 200", "shop /a POST 200", "shop /a PUT 200"},
		},
		{
			"a group of the service and kind went",
			func(f *fixture) {
				// Every span of the first groups expires; /a GET 200 and
				// /b GET 200 get a later span.
				f.add(5,
					server("shop /a GET 200", shop(), "/a", "GET", int64(200)),
					server("shop /b GET 200", shop(), "/b", "GET", int64(200)))
				f.idx.Expire(time.Unix(12, 0))
			},
			false,
			[]string{"shop /a GET 200"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.groups()
			st := f.table.Get(1, time.Unix(2, 0))
			first := f.resolve(st, shop(), "m", wildMethod)
			require.Equal(t, []string{"shop /a GET 200", "shop /a POST 200"}, first)
			require.NotZero(t, st.Groups().Gen, "cached")

			tc.change(f)
			if tc.cached {
				assert.Equal(t, first, f.resolve(st, shop(), "m", other), "the cached groups")
				return
			}
			assert.Equal(t, tc.refresh, f.resolve(st, shop(), "m", wildMethod), "resolved anew")
			assert.Equal(t, tc.refresh, f.resolve(st, shop(), "m", other), "and cached anew")
		})
	}
}

// A stream whose service has no spans yet finds them once they come.
func TestNoGroupsYetIsNotCachedForever(t *testing.T) {
	f := newFixture(t)
	st := f.table.Get(1, time.Unix(2, 0))
	assert.Empty(t, f.resolve(st, shop(), "m", map[string]any{"route": "/a"}))
	f.add(3, server("shop /a GET 200", shop(), "/a", "GET", int64(200)))
	assert.Equal(t, []string{"shop /a GET 200"}, f.resolve(st, shop(), "m", map[string]any{"route": "/a"}))
}

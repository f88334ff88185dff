// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
)

// exemplars.max_per_data_point fills the slowest buckets first and counts
// the exemplars the point already has.
func TestMaxPerDataPoint(t *testing.T) {
	for _, tc := range []struct {
		name     string
		max      int
		existing bool // an SDK exemplar in bucket 0
		want     []uint64
	}{
		{"no cap", 0, false, []uint64{1, 2, 3}},
		{"cap above the buckets", 5, false, []uint64{1, 2, 3}},
		{"cap 2: the slowest two", 2, false, []uint64{2, 3}},
		{"cap 1: the slowest", 1, false, []uint64{3}},
		{"cap 2 with one existing: the slowest", 2, true, []uint64{9, 3}},
		{"cap 1 with one existing: none added", 1, true, []uint64{9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.params.MaxPerPoint = tc.max
			f.add(
				sp{n: 9, end: 11 * sec, dur: 3 * msec},
				sp{n: 3, end: 12 * sec, dur: 30 * msec},
				sp{n: 2, end: 13 * sec, dur: 15 * msec},
				sp{n: 1, end: 14 * sec, dur: 7 * msec},
			)
			p := delta(10*sec, 20*sec, 0, 1, 1, 1, 0, 0, 0, 0, 0)
			if tc.existing {
				p.Counts[0], p.Count = 1, 4
				sdkExemplar(p, 9, 11*sec, 3)
			}
			res := f.enrich(p, 21*sec)
			assert.Equal(t, tc.want, spansOf(p))
			added := len(tc.want)
			if tc.existing {
				added--
			}
			assert.Equal(t, added, res.Matched)
		})
	}
}

// Filtered attributes are copied onto the exemplar while Prometheus'
// exemplar label budget holds: 128 runes in total, trace_id and span_id
// taking 63, so 65 for the names and values of the rest.
func TestFilteredAttributesWithinTheLabelBudget(t *testing.T) {
	kv := func(k, v string) spanindex.KeyValue { return spanindex.KeyValue{Key: k, Value: v} }
	for _, tc := range []struct {
		name     string
		filtered bool
		attrs    []spanindex.KeyValue
		want     map[string]any
	}{
		{"not configured", false, []spanindex.KeyValue{kv("http.route", "/a")}, map[string]any{}},
		{"no attributes kept for the span", true, nil, map[string]any{}},
		{
			"what does not fit is left out, what fits after it is kept", true,
			[]spanindex.KeyValue{kv("http.route", "/a"), kv("big", strings.Repeat("x", 60)), kv("user", "üüüüü")},
			map[string]any{"http.route": "/a", "user": "üüüüü"},
		},
		{"runes, not bytes", true, []spanindex.KeyValue{kv("k", strings.Repeat("é", 64))}, map[string]any{"k": strings.Repeat("é", 64)}},
		{"exactly the budget", true, []spanindex.KeyValue{kv("key", strings.Repeat("v", 62))}, map[string]any{"key": strings.Repeat("v", 62)}},
		{"one rune over the budget", true, []spanindex.KeyValue{kv("key", strings.Repeat("v", 63))}, map[string]any{}},
		{
			"the budget is shared", true,
			[]spanindex.KeyValue{kv("a", strings.Repeat("v", 40)), kv("b", strings.Repeat("v", 23)), kv("c", "v")},
			map[string]any{"a": strings.Repeat("v", 40), "b": strings.Repeat("v", 23)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.params.FilteredAttributes = tc.filtered
			f.add(sp{n: 1, end: 15 * sec, dur: 7 * msec, attrs: tc.attrs})
			p := delta(10*sec, 20*sec, 0, 1, 0, 0, 0, 0, 0, 0, 0)
			f.enrich(p, 21*sec)
			assert.Equal(t, tc.want, exemplarOf(t, p, 1).FilteredAttributes().AsRaw())
		})
	}
}

// A bucket left without an exemplar only by max_per_data_point found its
// span: it is not counted as unfilled
// (processor_exemplar_buckets_unfilled: "needed an exemplar and found no
// matching span"), nor the point as no_span when nothing was added, nor is
// a cumulative bucket then owed a late span. The cap is the operator's
// choice, not a missing span.
func TestCappedBucketsAreNotUnfilled(t *testing.T) {
	for _, tc := range []struct {
		name     string
		max      int
		existing bool
	}{
		{"two of three added", 2, false},
		{"none added: the existing exemplar fills the cap", 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.params.MaxPerPoint = tc.max
			f.add(sp{n: 3, end: 12 * sec, dur: 30 * msec}, sp{n: 2, end: 13 * sec, dur: 15 * msec}, sp{n: 1, end: 14 * sec, dur: 7 * msec})
			p := delta(10*sec, 20*sec, 0, 1, 1, 1, 0, 0, 0, 0, 0)
			if tc.existing {
				p.Counts[0], p.Count = 1, 4
				sdkExemplar(p, 9, 11*sec, 3)
			}
			res := f.enrich(p, 21*sec)
			assert.Zero(t, res.Unfilled, "every bucket found its span")
			assert.NotEqual(t, ReasonNoSpan, res.Reason)
		})
	}
}

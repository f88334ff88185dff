// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"sort"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// interval is what one stream counted between two of its points: the
// requests whose metric value was recorded in (from, to].
type interval struct {
	request
	group     string
	from, to  int64 // Unix ns
	count     uint64
	sumMicros float64
}

// intervals turns each stream's points into what each point added: a delta
// point as it is, a cumulative point less the stream's previous point (a
// stream's first point, or one after a reset, counts from its start time).
func intervals(points []point) []interval {
	streams := map[string][]point{}
	var names []string
	for _, p := range points {
		if _, ok := streams[p.stream]; !ok {
			names = append(names, p.stream)
		}
		streams[p.stream] = append(streams[p.stream], p)
	}
	var out []interval
	for _, name := range names {
		ps := streams[name]
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].at < ps[j].at })
		var prev *point
		for i := range ps {
			p := ps[i]
			iv := interval{request: p.request, group: p.group, from: p.start, to: p.at, count: p.count, sumMicros: p.sumMicros}
			if p.cumulative && prev != nil && prev.start == p.start && prev.count <= p.count {
				iv.from, iv.count, iv.sumMicros = prev.at, p.count-prev.count, p.sumMicros-prev.sumMicros
			}
			if p.cumulative {
				prev = &ps[i]
			}
			if iv.count > 0 {
				out = append(out, iv)
			}
		}
	}
	return out
}

// spanIndex finds spans by request (without the port) and end time.
type spanIndex struct {
	byRequest map[request][]span // sorted by end
	byID      map[pcommon.SpanID]span
}

func newSpanIndex(spans []span) spanIndex {
	ix := spanIndex{byRequest: map[request][]span{}, byID: map[pcommon.SpanID]span{}}
	for _, s := range spans {
		k := s.request
		k.port = 0
		ix.byRequest[k] = append(ix.byRequest[k], s)
		ix.byID[s.spanID] = s
	}
	for _, ss := range ix.byRequest {
		sort.Slice(ss, func(i, j int) bool { return ss[i].end < ss[j].end })
	}
	return ix
}

// ended returns the spans of r's request that ended in [from, to]; a port
// only tells spans apart where both the span and r carry one.
func (ix spanIndex) ended(r request, from, to int64) []span {
	k := r
	k.port = 0
	ss := ix.byRequest[k]
	i := sort.Search(len(ss), func(i int) bool { return ss[i].end >= from })
	var out []span
	for ; i < len(ss) && ss[i].end <= to; i++ {
		if r.port != 0 && ss[i].port != 0 && r.port != ss[i].port {
			continue
		}
		out = append(out, ss[i])
	}
	return out
}

// samples are differences (metric value - span duration) in microseconds,
// by scope and metric.
type samples map[string][]float64

// spanKey is a trace ID and span ID.
type spanKey [24]byte

func keyOf(s span) spanKey {
	var k spanKey
	copy(k[:16], s.traceID[:])
	copy(k[16:], s.spanID[:])
	return k
}

// exact are differences measured on one known request each, by scope and
// metric and by span, so the same request measured twice counts once.
type exact map[string]map[spanKey]float64

func (e exact) add(group string, s span, diff float64) {
	if e[group] == nil {
		e[group] = map[spanKey]float64{}
	}
	e[group][keyOf(s)] = diff
}

func (e exact) merge(o exact) {
	for g, m := range o {
		for k, v := range m {
			if e[g] == nil {
				e[g] = map[spanKey]float64{}
			}
			e[g][k] = v
		}
	}
}

func (e exact) samples() samples {
	out := samples{}
	for g, m := range e {
		for _, v := range m {
			out[g] = append(out[g], v)
		}
	}
	return out
}

// leftOut counts the single-request intervals singleRequests could not
// pair.
type leftOut struct {
	noSpan  int // e.g. an OTLP exporter's own requests: measured, never traced
	several int // more than one span of the request ended near the interval
	claimed int // the one span was also the only candidate of another interval of the same metric
}

// singleRequests pairs every interval that counted exactly one request
// with the one span of that request that ended within slack of the
// interval; intervals with no such span or several, and a span two
// intervals would claim, are left out.
func singleRequests(ivs []interval, ix spanIndex, slack int64) (exact, leftOut) {
	type pair struct {
		iv interval
		s  span
	}
	var pairs []pair
	type claim struct {
		group string
		span  pcommon.SpanID
	}
	var left leftOut
	// Per metric: with http/dup one request is counted by two metrics.
	claims := map[claim]int{}
	for _, iv := range ivs {
		if iv.count != 1 {
			continue
		}
		switch c := ix.ended(iv.request, iv.from-slack, iv.to+slack); len(c) {
		case 0:
			left.noSpan++
		case 1:
			pairs = append(pairs, pair{iv, c[0]})
			claims[claim{iv.group, c[0].spanID}]++
		default:
			left.several++
		}
	}
	out := exact{}
	for _, p := range pairs {
		if claims[claim{p.iv.group, p.s.spanID}] > 1 {
			left.claimed++
			continue
		}
		out.add(p.iv.group, p.s, p.iv.sumMicros-p.s.micros())
	}
	return out, left
}

// intervalMeans compares, for every interval whose window holds exactly as
// many ended spans of its request as it counted, the interval's sum with
// the sum of those spans' durations: one sample per interval, the mean
// difference per request. Coarser than singleRequests, it works at any load.
func intervalMeans(ivs []interval, ix spanIndex) samples {
	out := samples{}
	for _, iv := range ivs {
		c := ix.ended(iv.request, iv.from+1, iv.to)
		if uint64(len(c)) != iv.count {
			continue
		}
		var spans float64
		for _, s := range c {
			spans += s.micros()
		}
		out[iv.group] = append(out[iv.group], (iv.sumMicros-spans)/float64(iv.count))
	}
	return out
}

// exemplarsWithSpans pairs every exemplar that names a span with that span:
// the exemplar's value is the metric value of exactly that request.
// A cumulative stream shows the same exemplar again: it counts once.
func exemplarsWithSpans(points []point, ix spanIndex) exact {
	out := exact{}
	for _, p := range points {
		for _, e := range p.exemplars {
			if e.spanID.IsEmpty() {
				continue
			}
			s, ok := ix.byID[e.spanID]
			if !ok || s.traceID != e.traceID || s.kind != p.kind {
				continue
			}
			out.add(p.group, s, e.micros-s.micros())
		}
	}
	return out
}

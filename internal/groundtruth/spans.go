// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth // import "github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"

import (
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// ResourceKeys are the resource attributes that name a service (the
// product's default resource_keys).
var ResourceKeys = []string{"service.namespace", "service.name", "service.instance.id"}

// ServiceOf renders the service identity of a resource: each resource key's
// value, or that it is absent (absent matches only absent).
func ServiceOf(res pcommon.Map) string {
	var b strings.Builder
	for i, k := range ResourceKeys {
		if i > 0 {
			b.WriteByte(' ')
		}
		if v, ok := res.Get(k); ok {
			fmt.Fprintf(&b, "%s=%q", k, v.AsString())
		} else {
			fmt.Fprintf(&b, "%s absent", k)
		}
	}
	return b.String()
}

// Span is one span of a workload, with when it reached the processor.
type Span struct {
	TraceID pcommon.TraceID
	SpanID  pcommon.SpanID
	Service string
	Scope   string
	Kind    ptrace.SpanKind
	Name    string
	Attrs   pcommon.Map
	// Start and End are Unix nanoseconds.
	Start, End uint64
	// Tick orders delivery against the metrics: a point of tick t surely
	// had the span when Tick <= t (a replay gives spans and points distinct
	// positions in one sequence; a held batch is enriched some time after
	// it was fed). FedTick is the tick whose metrics it was fed before.
	Tick, FedTick int
	// Measured is the value the request recorded on its duration metric,
	// when the workload was tapped.
	Measured    float64
	HasMeasured bool
}

// Nanos is the span's duration; a span that ends before it starts lasts 0.
func (s *Span) Nanos() uint64 {
	if s.End < s.Start {
		return 0
	}
	return s.End - s.Start
}

// Value is the span's duration in a metric's unit.
func (s *Span) Value(unitNanos float64) float64 { return float64(s.Nanos()) / unitNanos }

// Seconds is the span's duration in seconds.
func (s *Span) Seconds() float64 { return s.Value(1e9) }

// Resolve returns the span's value of a canonical attribute (SpanValue).
func (s *Span) Resolve(canonical string) (string, bool) {
	return SpanValue(s.Kind, s.Name, s.Attrs, canonical)
}

// sameAs reports whether o is a copy of s exported again (a replay).
func (s *Span) sameAs(o *Span) bool {
	return s.TraceID == o.TraceID && s.SpanID == o.SpanID && s.Start == o.Start && s.End == o.End &&
		s.Name == o.Name && s.Kind == o.Kind && s.Service == o.Service
}

// Spans is every span of a workload, by span ID; a duplicate ID keeps each
// distinct span (a collision) once, and a replayed copy not at all.
type Spans struct {
	byID map[pcommon.SpanID][]*Span
	all  []*Span
}

// NewSpans returns an empty span set.
func NewSpans() *Spans { return &Spans{byID: map[pcommon.SpanID][]*Span{}} }

// Add records every span of td as delivered at tick.
func (ss *Spans) Add(td ptrace.Traces, tick int) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		service := ServiceOf(rss.At(i).Resource().Attributes())
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			scope := sss.At(j).Scope().Name()
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				ss.add(newSpan(spans.At(k), service, scope, tick))
			}
		}
	}
}

func newSpan(sp ptrace.Span, service, scope string, tick int) *Span {
	attrs := pcommon.NewMap()
	sp.Attributes().CopyTo(attrs)
	return &Span{
		TraceID: sp.TraceID(), SpanID: sp.SpanID(), Service: service, Scope: scope,
		Kind: sp.Kind(), Name: sp.Name(), Attrs: attrs,
		Start: uint64(sp.StartTimestamp()), End: uint64(sp.EndTimestamp()),
		Tick: tick, FedTick: tick,
	}
}

func (ss *Spans) add(s *Span) {
	for _, o := range ss.byID[s.SpanID] {
		if o.sameAs(s) {
			return // a replay: the first copy was delivered first
		}
	}
	ss.byID[s.SpanID] = append(ss.byID[s.SpanID], s)
	ss.all = append(ss.all, s)
}

// Lookup returns the spans with both IDs.
func (ss *Spans) Lookup(traceID pcommon.TraceID, spanID pcommon.SpanID) []*Span {
	var out []*Span
	for _, s := range ss.byID[spanID] {
		if s.TraceID == traceID {
			out = append(out, s)
		}
	}
	return out
}

// First returns the first span recorded with spanID, or nil.
func (ss *Spans) First(spanID pcommon.SpanID) *Span {
	if l := ss.byID[spanID]; len(l) > 0 {
		return l[0]
	}
	return nil
}

// All returns every distinct span in the order recorded.
func (ss *Spans) All() []*Span { return ss.all }

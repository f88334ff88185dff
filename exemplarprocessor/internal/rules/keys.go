// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package rules // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/rules"

import (
	"math"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
)

// addValue appends v in the form keys compare by: numbers equal their
// decimal strings, so an int status code matches a string one.
func addValue(k *spanindex.Key, v pcommon.Value) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		k.AddString(v.Str())
	case pcommon.ValueTypeInt:
		k.AddInt(v.Int())
	case pcommon.ValueTypeDouble:
		k.AddDouble(v.Double())
	case pcommon.ValueTypeBool:
		k.AddBool(v.Bool())
	case pcommon.ValueTypeEmpty:
		k.AddAbsent()
	default:
		k.AddString(v.AsString())
	}
}

// ResourceKey starts k with the resource identity of res: the configured
// resource keys, absent ones marked absent (absent matches only absent).
func (s *Set) ResourceKey(k *spanindex.Key, res pcommon.Map) {
	k.Reset()
	for _, name := range s.resourceKeys {
		if v, ok := res.Get(name); ok {
			addValue(k, v)
		} else {
			k.AddAbsent()
		}
	}
}

// SpanKey completes k, which holds a resource identity, with the kind and
// join dimensions of span. It returns nil when no rule joins spans of the
// span's kind: such spans are indexed for their IDs only. A dimension the
// span carries none of the names of is derived per the conventions (see
// conventions); one that cannot be derived is absent, which equals only a
// point that does not constrain it. It allocates nothing.
func (s *Set) SpanKey(k *spanindex.Key, span ptrace.Span) *spanindex.Key {
	var vals [maxSlots]pcommon.Value
	return s.spanKey(k, span, &vals)
}

func (s *Set) spanKey(k *spanindex.Key, span ptrace.Span, vals *[maxSlots]pcommon.Value) *spanindex.Key {
	kind := span.Kind()
	if !s.Joined(kind) {
		return nil
	}
	k.SetKind(uint8(kind))
	s.readers[kind].appendDims(k, span, vals)
	return k
}

// SpanKeyer builds the keys of many spans: SpanKey with its scratch space
// kept between spans. Not safe for concurrent use.
type SpanKeyer struct {
	set  *Set
	key  *spanindex.Key
	vals [maxSlots]pcommon.Value
}

// NewSpanKeyer returns a keyer that builds its keys in k.
func (s *Set) NewSpanKeyer(k *spanindex.Key) *SpanKeyer { return &SpanKeyer{set: s, key: k} }

// Resource starts the keys of the spans of a resource (see ResourceKey).
func (sk *SpanKeyer) Resource(res pcommon.Map) { sk.set.ResourceKey(sk.key, res) }

// Key is SpanKey for the keyer's current resource.
func (sk *SpanKeyer) Key(span ptrace.Span) *spanindex.Key {
	return sk.set.spanKey(sk.key, span, &sk.vals)
}

// addForm appends v in the form its dimension compares by.
func addForm(k *spanindex.Key, form valueForm, v pcommon.Value) {
	switch form {
	case formAddress:
		if v.Type() == pcommon.ValueTypeStr {
			k.AddString(hostOf(v.Str()))
			return
		}
	case formGRPCStatus:
		if v.Type() == pcommon.ValueTypeInt {
			if name, ok := grpcCodeName(v.Int()); ok {
				k.AddString(name)
				return
			}
		}
	case formPlain:
	}
	addValue(k, v)
}

// RouteFromSpanName returns the route of an HTTP server span named
// "{method} {route}" per the semantic conventions, e.g. "GET /items/{id}".
func RouteFromSpanName(name string) (string, bool) {
	sp := strings.IndexByte(name, ' ')
	if sp <= 0 || sp+1 >= len(name) || name[sp+1] != '/' {
		return "", false
	}
	for i := 0; i < sp; i++ {
		if c := name[i]; (c < 'A' || c > 'Z') && c != '_' {
			return "", false
		}
	}
	route := name[sp+1:]
	if strings.IndexByte(route, ' ') >= 0 {
		return "", false
	}
	return route, true
}

// PointKey fills k with what a data point of rule r requires of a span:
// the resource identity, the rule's span kind and, per dimension, the value
// of the first mapped point attribute present, or Any when none is: a
// dimension the point does not carry does not constrain the join. A port
// dimension the point carries no port attribute for takes the port of a
// mapped host:port address value, as on the span side.
func (s *Set) PointKey(k *spanindex.Key, res pcommon.Map, r *Rule, attrs pcommon.Map) {
	s.ResourceKey(k, res)
	k.SetKind(uint8(r.Kind))
	dims := s.Dims(r.Kind)
	for d := range dims {
		if !r.appendPointValue(k, d, dims[d].form, attrs) && !r.appendPointPort(k, d, attrs) {
			k.AddAny()
		}
	}
}

func (r *Rule) appendPointValue(k *spanindex.Key, dim int, form valueForm, attrs pcommon.Map) bool {
	for _, m := range r.mappings {
		if m.dim != dim {
			continue
		}
		if v, ok := attrs.Get(m.pointKey); ok {
			addForm(k, form, v)
			return true
		}
	}
	return false
}

func (r *Rule) appendPointPort(k *spanindex.Key, dim int, attrs pcommon.Map) bool {
	for _, m := range r.mappings {
		if m.dim != dim {
			continue
		}
		for _, name := range m.ports {
			if v, ok := attrs.Get(name); ok && v.Type() == pcommon.ValueTypeStr && appendPart(k, partPort, v.Str()) {
				return true
			}
		}
	}
	return false
}

// Extra reads what the configuration keeps per span beyond the record.
func (s *Set) Extra(span ptrace.Span) spanindex.Extra {
	var e spanindex.Extra
	attrs := span.Attributes()
	if len(s.valueAttrs) > 0 {
		e.Values = make([]float64, len(s.valueAttrs))
		for i, name := range s.valueAttrs {
			e.Values[i] = math.NaN()
			if v, ok := attrs.Get(name); ok {
				switch v.Type() {
				case pcommon.ValueTypeDouble:
					e.Values[i] = v.Double()
				case pcommon.ValueTypeInt:
					e.Values[i] = float64(v.Int())
				default:
				}
			}
		}
	}
	for _, name := range s.filtered {
		if v, ok := attrs.Get(name); ok {
			e.Attributes = append(e.Attributes, spanindex.KeyValue{Key: name, Value: strings.Clone(v.AsString())})
		}
	}
	return e
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Package rules decides which histogram metrics get exemplars and how their
// data points join spans: the span kind, the data point attributes that must
// equal span attributes (with old and stable semantic-convention names as
// aliases), the unit, and where an exemplar's value comes from.
package rules // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/rules"

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Spec is a rule as configured.
type Spec struct {
	// Metric is the exact metric name; MetricRegex an anchored pattern.
	Metric      string
	MetricRegex string
	// SpanKind is server, client, producer, consumer or internal.
	SpanKind string
	// Attributes maps data point attribute names to span attribute names.
	Attributes map[string]string
	// ValueAttribute names a numeric span attribute to use as the exemplar
	// value; empty means the span duration in the metric's unit.
	ValueAttribute string
	// Unit overrides the metric's unit for the duration conversion.
	Unit string
}

// Rule is a compiled Spec.
type Rule struct {
	// Name identifies the rule in messages.
	Name string
	// Kind is the ptrace span kind the rule joins.
	Kind ptrace.SpanKind
	// mappings are the data point attributes that constrain span dimensions,
	// in precedence order: the first one present on a point wins a dimension.
	mappings []mapping
	// ValueSlot is the index into the per-span values, or -1 for duration.
	ValueSlot int
	// Unit is the override, empty for the metric's own unit.
	Unit string

	exact string
	re    *regexp.Regexp
}

type mapping struct {
	pointKey string
	dim      int
}

// Dim is a span attribute the index keys spans by, for one span kind.
type Dim struct {
	// Name is the canonical (stable semantic convention) name.
	Name string
	// SpanKeys are the span attribute names read for it, in order.
	SpanKeys []string
	// RouteFromName takes http.route from a span named "{method} {route}"
	// when no attribute carries it: otelhttp.NewHandler around a ServeMux
	// names the span after the matched pattern but sets no http.route.
	RouteFromName bool
}

// Set is every compiled rule plus what the span side must extract for them.
type Set struct {
	rules        []Rule
	dims         [6][]Dim // by ptrace span kind
	joined       [6]bool  // some rule joins spans of this kind
	resourceKeys []string
	valueAttrs   []string
	filtered     []string

	mu    sync.Mutex
	cache map[string]int // metric name -> rule index, -1 for none
}

const metricCacheLimit = 10000

var spanKinds = map[string]ptrace.SpanKind{
	"internal": ptrace.SpanKindInternal,
	"server":   ptrace.SpanKindServer,
	"client":   ptrace.SpanKindClient,
	"producer": ptrace.SpanKindProducer,
	"consumer": ptrace.SpanKindConsumer,
}

// aliases lists, per canonical span attribute and span kind, the names an
// instrumentation may use for it, stable first. Kind 0 applies to all kinds.
var aliases = map[string]map[ptrace.SpanKind][]string{
	"http.request.method":       {0: {"http.request.method", "http.method"}},
	"http.response.status_code": {0: {"http.response.status_code", "http.status_code"}},
	"url.scheme":                {0: {"url.scheme", "http.scheme"}},
	"network.protocol.version":  {0: {"network.protocol.version", "http.flavor"}},
	"server.address": {
		ptrace.SpanKindServer: {"server.address", "net.host.name"},
		ptrace.SpanKindClient: {"server.address", "net.peer.name"},
		0:                     {"server.address"},
	},
	"server.port": {
		ptrace.SpanKindServer: {"server.port", "net.host.port"},
		ptrace.SpanKindClient: {"server.port", "net.peer.port"},
		0:                     {"server.port"},
	},
	"db.system.name":             {0: {"db.system.name", "db.system"}},
	"db.operation.name":          {0: {"db.operation.name", "db.operation"}},
	"db.collection.name":         {0: {"db.collection.name", "db.sql.table"}},
	"rpc.system.name":            {0: {"rpc.system.name", "rpc.system"}},
	"rpc.grpc.status_code":       {0: {"rpc.grpc.status_code", "rpc.response.status_code"}},
	"messaging.system":           {0: {"messaging.system"}},
	"messaging.destination.name": {0: {"messaging.destination.name", "messaging.destination"}},
}

// canonicalOf maps every alias to its canonical name.
var canonicalOf = func() map[string]string {
	m := map[string]string{}
	for canon, byKind := range aliases {
		for _, names := range byKind {
			for _, n := range names {
				m[n] = canon
			}
		}
	}
	return m
}()

// Canonical returns the canonical name of a span attribute.
func Canonical(name string) string {
	if c, ok := canonicalOf[name]; ok {
		return c
	}
	return name
}

func spanKeysFor(canon string, kind ptrace.SpanKind) []string {
	byKind, ok := aliases[canon]
	if !ok {
		return []string{canon}
	}
	if names, ok := byKind[kind]; ok {
		return names
	}
	return byKind[0]
}

// Compile validates specs and builds a Set. Errors name the rule by its
// position so they can be reported as rules[i].field.
func Compile(specs []Spec, useDefaults bool, resourceKeys, filtered []string) (*Set, error) {
	s := &Set{resourceKeys: slices.Clone(resourceKeys), filtered: slices.Clone(filtered), cache: map[string]int{}}
	var errs []error
	for i, spec := range specs {
		if err := s.add(spec, fmt.Sprintf("rules[%d]", i)); err != nil {
			errs = append(errs, err)
		}
	}
	if useDefaults {
		for _, spec := range Defaults() {
			if err := s.add(spec, "default rule "+spec.Metric); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Set) add(spec Spec, name string) error {
	r := Rule{Name: name, ValueSlot: -1, Unit: spec.Unit}
	switch {
	case spec.Metric != "" && spec.MetricRegex != "":
		return fmt.Errorf("%s: set either metric (%q) or metric_regex (%q), not both", name, spec.Metric, spec.MetricRegex)
	case spec.Metric != "":
		r.exact = spec.Metric
		r.Name += " (" + spec.Metric + ")"
	case spec.MetricRegex != "":
		re, err := regexp.Compile("^(?:" + spec.MetricRegex + ")$")
		if err != nil {
			return fmt.Errorf("%s.metric_regex: %q: %w", name, spec.MetricRegex, err)
		}
		r.re = re
		r.Name += " (" + spec.MetricRegex + ")"
	default:
		return fmt.Errorf("%s: metric or metric_regex is required", name)
	}
	kind, ok := spanKinds[strings.ToLower(spec.SpanKind)]
	if !ok {
		return fmt.Errorf("%s.span_kind: %q is not one of server, client, producer, consumer, internal", name, spec.SpanKind)
	}
	r.Kind = kind
	s.joined[kind] = true
	if spec.Unit != "" && spec.ValueAttribute == "" {
		if _, ok := UnitNanos(spec.Unit); !ok {
			return fmt.Errorf("%s.unit: %q is not a duration unit (ns, us, ms, s, min, h)", name, spec.Unit)
		}
	}
	// Map keys have no order: sort them so precedence is stable, but keep
	// the defaults' deliberate order (see Defaults) by compiling them from
	// ordered specs.
	keys := make([]string, 0, len(spec.Attributes))
	for k := range spec.Attributes {
		if k == "" || spec.Attributes[k] == "" {
			return fmt.Errorf("%s.attributes: empty attribute name in %q: %q", name, k, spec.Attributes[k])
		}
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool {
		return pointKeyRank(keys[a]) < pointKeyRank(keys[b]) || (pointKeyRank(keys[a]) == pointKeyRank(keys[b]) && keys[a] < keys[b])
	})
	for _, k := range keys {
		r.mappings = append(r.mappings, mapping{pointKey: k, dim: s.dim(kind, Canonical(spec.Attributes[k]))})
	}
	if spec.ValueAttribute != "" {
		r.ValueSlot = slices.Index(s.valueAttrs, spec.ValueAttribute)
		if r.ValueSlot < 0 {
			s.valueAttrs = append(s.valueAttrs, spec.ValueAttribute)
			r.ValueSlot = len(s.valueAttrs) - 1
		}
	}
	s.rules = append(s.rules, r)
	return nil
}

// pointKeyRank orders data point keys that map to one dimension: a route
// beats Flask's old http.target, which holds the route only there.
func pointKeyRank(k string) int {
	if k == "http.target" {
		return 1
	}
	return 0
}

func (s *Set) dim(kind ptrace.SpanKind, canon string) int {
	for i, d := range s.dims[kind] {
		if d.Name == canon {
			return i
		}
	}
	s.dims[kind] = append(s.dims[kind], Dim{Name: canon, SpanKeys: spanKeysFor(canon, kind), RouteFromName: canon == "http.route"})
	return len(s.dims[kind]) - 1
}

// Lookup returns the rule for a metric name, first match wins.
func (s *Set) Lookup(metric string) (*Rule, bool) {
	s.mu.Lock()
	i, ok := s.cache[metric]
	s.mu.Unlock()
	if !ok {
		i = -1
		for j := range s.rules {
			r := &s.rules[j]
			if (r.re == nil && r.exact == metric) || (r.re != nil && r.re.MatchString(metric)) {
				i = j
				break
			}
		}
		s.mu.Lock()
		if len(s.cache) >= metricCacheLimit {
			clear(s.cache)
		}
		s.cache[metric] = i
		s.mu.Unlock()
	}
	if i < 0 {
		return nil, false
	}
	return &s.rules[i], true
}

// Joined reports whether some rule joins spans of kind.
func (s *Set) Joined(kind ptrace.SpanKind) bool {
	return kind >= 0 && int(kind) < len(s.joined) && s.joined[kind]
}

// Dims returns the span dimensions indexed for a span kind.
func (s *Set) Dims(kind ptrace.SpanKind) []Dim {
	if kind < 0 || int(kind) >= len(s.dims) {
		return nil
	}
	return s.dims[kind]
}

// ResourceKeys are the resource attributes that identify a service.
func (s *Set) ResourceKeys() []string { return s.resourceKeys }

// ValueAttributes are the numeric span attributes kept per span, by slot.
func (s *Set) ValueAttributes() []string { return s.valueAttrs }

// FilteredAttributes are the span attributes copied onto exemplars.
func (s *Set) FilteredAttributes() []string { return s.filtered }

// NeedsExtra reports whether spans keep values beyond the fixed record.
func (s *Set) NeedsExtra() bool { return len(s.valueAttrs) > 0 || len(s.filtered) > 0 }

// Rules returns the compiled rules in match order.
func (s *Set) Rules() []Rule { return s.rules }

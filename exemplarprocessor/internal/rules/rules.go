// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Package rules decides which histogram metrics get exemplars and how their
// data points join spans: the span kind, the data point attributes that must
// equal span attributes (with old and stable semantic-convention names as
// aliases, and values derived per the conventions where a span lacks them),
// the unit, where an exemplar's value comes from, and how far an
// instrumentation's recorded value may lie from its span's duration.
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

// Rule is a compiled Spec as it applies to the points of one
// instrumentation (see Set.Lookup).
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

	// inst is the instrumentation whose points the rule is for.
	inst  *instrumentation
	exact string
	re    *regexp.Regexp
}

type mapping struct {
	pointKey string
	dim      int
	// target marks the mapping of a point's http.target onto the span's
	// route, whose meaning depends on the instrumentation.
	target bool
	// ports lists the address attributes of the point whose host:port
	// value stands in for this port dimension when the point carries no
	// port attribute.
	ports []string
}

// Dim is a span attribute the index keys spans by, for one span kind.
type Dim struct {
	// Name is the canonical (stable semantic convention) name.
	Name string
	// SpanKeys are the span attribute names read for it, in order.
	SpanKeys []string

	form   valueForm
	derive []source
}

// Set is every compiled rule plus what the span side must extract for them.
type Set struct {
	// variants[i][j] is rule j for the points of instrumentation i;
	// variants[0] serves every instrumentation the table does not know.
	variants     [][]Rule
	insts        []instrumentation
	instByScope  map[string]int
	conv         conventionTable
	dims         [6][]Dim      // by ptrace span kind
	readers      [6]spanReader // by ptrace span kind
	joined       [6]bool       // some rule joins spans of this kind
	resourceKeys []string
	valueAttrs   []string
	filtered     []string

	mu    sync.Mutex
	cache map[string]int // metric name -> rule index, -1 for none
}

const metricCacheLimit = 10000

func spanKindOf(name string) (ptrace.SpanKind, bool) {
	switch strings.ToLower(name) {
	case "internal":
		return ptrace.SpanKindInternal, true
	case "server":
		return ptrace.SpanKindServer, true
	case "client":
		return ptrace.SpanKindClient, true
	case "producer":
		return ptrace.SpanKindProducer, true
	case "consumer":
		return ptrace.SpanKindConsumer, true
	}
	return 0, false
}

// Compile validates specs and builds a Set. Errors name the rule by its
// position so they can be reported as rules[i].field.
func Compile(specs []Spec, useDefaults bool, resourceKeys, filtered []string) (*Set, error) {
	s := &Set{
		resourceKeys: slices.Clone(resourceKeys), filtered: slices.Clone(filtered),
		conv: newConventionTable(), insts: instrumentations(), cache: map[string]int{},
	}
	var base []Rule
	var errs []error
	for i, spec := range specs {
		r, err := s.compile(spec, fmt.Sprintf("rules[%d]", i))
		errs = append(errs, err)
		base = append(base, r)
	}
	if useDefaults {
		for _, spec := range s.defaults() {
			r, err := s.compile(spec, "default rule "+spec.Metric)
			errs = append(errs, err)
			base = append(base, r)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.instByScope = map[string]int{}
	s.variants = make([][]Rule, len(s.insts))
	for i := range s.insts {
		if i > 0 {
			s.instByScope[s.insts[i].scope] = i
		}
		s.variants[i] = s.forInstrumentation(base, &s.insts[i])
	}
	var ruleDims [6][]uint32
	for _, r := range base {
		var set uint32
		for _, m := range r.mappings {
			set |= 1 << (m.dim & 31)
		}
		ruleDims[r.Kind] = append(ruleDims[r.Kind], set)
	}
	for kind := range s.readers {
		if err := s.readers[kind].build(s.dims[kind], ruleDims[kind]); err != nil {
			return nil, fmt.Errorf("rules: span kind %s: %w", ptrace.SpanKind(kind), err)
		}
	}
	return s, nil
}

// forInstrumentation returns the rules as they apply to the points of one
// instrumentation: what its http.target means decides whether that
// attribute joins the route. A raw path (Tornado) joins nothing: keying
// every server span by its concrete path would make a join group per
// request path and a point scan all of them.
func (s *Set) forInstrumentation(base []Rule, in *instrumentation) []Rule {
	rules := make([]Rule, len(base))
	for j, r := range base {
		r.inst = in
		switch in.target {
		case targetPath:
			r.mappings = slices.DeleteFunc(slices.Clone(r.mappings), func(m mapping) bool { return m.target })
		case targetRoute: // as compiled
		}
		rules[j] = r
	}
	return rules
}

func (s *Set) compile(spec Spec, name string) (Rule, error) {
	r := Rule{Name: name, ValueSlot: -1, Unit: spec.Unit}
	switch {
	case spec.Metric != "" && spec.MetricRegex != "":
		return r, fmt.Errorf("%s: set either metric (%q) or metric_regex (%q), not both", name, spec.Metric, spec.MetricRegex)
	case spec.Metric != "":
		r.exact = spec.Metric
		r.Name += " (" + spec.Metric + ")"
	case spec.MetricRegex != "":
		re, err := regexp.Compile("^(?:" + spec.MetricRegex + ")$")
		if err != nil {
			return r, fmt.Errorf("%s.metric_regex: %q: %w", name, spec.MetricRegex, err)
		}
		r.re = re
		r.Name += " (" + spec.MetricRegex + ")"
	default:
		return r, fmt.Errorf("%s: metric or metric_regex is required", name)
	}
	kind, ok := spanKindOf(spec.SpanKind)
	if !ok {
		return r, fmt.Errorf("%s.span_kind: %q is not one of server, client, producer, consumer, internal", name, spec.SpanKind)
	}
	r.Kind = kind
	s.joined[kind] = true
	if spec.Unit != "" && spec.ValueAttribute == "" {
		if _, ok := UnitNanos(spec.Unit); !ok {
			return r, fmt.Errorf("%s.unit: %q is not a duration unit (ns, us, ms, s, min, h)", name, spec.Unit)
		}
	}
	if err := s.compileMappings(&r, spec.Attributes, name); err != nil {
		return r, err
	}
	if spec.ValueAttribute != "" {
		r.ValueSlot = slices.Index(s.valueAttrs, spec.ValueAttribute)
		if r.ValueSlot < 0 {
			s.valueAttrs = append(s.valueAttrs, spec.ValueAttribute)
			r.ValueSlot = len(s.valueAttrs) - 1
		}
	}
	return r, nil
}

// compileMappings turns the point -> span attribute map into mappings in
// precedence order. Map keys have no order: they are sorted so that
// precedence is stable.
func (s *Set) compileMappings(r *Rule, attrs map[string]string, name string) error {
	keys := make([]string, 0, len(attrs))
	for k, v := range attrs {
		if k == "" || v == "" {
			return fmt.Errorf("%s.attributes: empty attribute name in %q: %q", name, k, v)
		}
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool {
		ra, rb := pointKeyRank(keys[a]), pointKeyRank(keys[b])
		return ra < rb || (ra == rb && keys[a] < keys[b])
	})
	for _, k := range keys {
		canon := s.conv.canonical(attrs[k])
		r.mappings = append(r.mappings, mapping{
			pointKey: k, dim: s.dim(r.Kind, canon),
			target: k == attrTarget && canon == attrRoute,
		})
	}
	// A point's port may sit in its address value; the conventions list
	// where the span side finds it, and the point side reads the same
	// attributes where the rule maps them.
	for m := range r.mappings {
		for _, src := range s.conv.lookup(s.dims[r.Kind][r.mappings[m].dim].Name, r.Kind).derive {
			if src.part == partPort && r.maps(src.attr) {
				r.mappings[m].ports = append(r.mappings[m].ports, src.attr)
			}
		}
	}
	return nil
}

// maps reports whether the rule maps a point attribute.
func (r *Rule) maps(pointKey string) bool {
	for _, m := range r.mappings {
		if m.pointKey == pointKey {
			return true
		}
	}
	return false
}

// pointKeyRank orders data point keys that map to one dimension: a route
// beats http.target, which holds the route only for some instrumentations.
func pointKeyRank(k string) int {
	if k == attrTarget {
		return 1
	}
	return 0
}

// dim returns the index of the span dimension of a canonical attribute for
// a span kind, adding it when new.
func (s *Set) dim(kind ptrace.SpanKind, canon string) int {
	for i, d := range s.dims[kind] {
		if d.Name == canon {
			return i
		}
	}
	c := s.conv.lookup(canon, kind)
	s.dims[kind] = append(s.dims[kind], Dim{
		Name: canon, SpanKeys: s.conv.names(canon, kind), form: c.form, derive: c.derive,
	})
	return len(s.dims[kind]) - 1
}

// Lookup returns the rule for a metric name, first match wins, as it applies
// to the points of the instrumentation that the metric's instrumentation
// scope name identifies (empty when unknown): it decides what http.target
// joins and the rule's Timing.
func (s *Set) Lookup(scope, metric string) (*Rule, bool) {
	i := s.ruleIndex(metric)
	if i < 0 {
		return nil, false
	}
	return &s.variants[s.instrumentationIndex(scope)][i], true
}

func (s *Set) ruleIndex(metric string) int {
	s.mu.Lock()
	i, ok := s.cache[metric]
	s.mu.Unlock()
	if ok {
		return i
	}
	i = -1
	for j := range s.variants[0] {
		r := &s.variants[0][j]
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
	return i
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

// FilteredAttributes are the span attributes copied onto exemplars.
func (s *Set) FilteredAttributes() []string { return s.filtered }

// NeedsExtra reports whether spans keep values beyond the fixed record.
func (s *Set) NeedsExtra() bool { return len(s.valueAttrs) > 0 || len(s.filtered) > 0 }

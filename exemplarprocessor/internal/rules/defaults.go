// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package rules // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/rules"

// defaultRule is a built-in rule: its join attributes are canonical names,
// and every name the conventions table gives them for the rule's span kind
// maps onto them on the point side, because instrumentations in "dup"
// semconv mode mix old and stable names and a key the point does not carry
// does not constrain the join.
type defaultRule struct {
	metric, kind string
	canonical    []string
	// quirks map point attributes that are no alias by the conventions.
	quirks map[string]string
}

// defaultRules are the built-in rules for the semantic-convention duration
// histograms, old (milliseconds) and stable (seconds). Units come from the
// metric itself; the unit column in the README is what instrumentations send.
func defaultRules() []defaultRule {
	// error.type tells a failed request without a status (a timeout, a
	// reset connection) from any other request of the same method.
	httpServer := []string{"http.request.method", "http.response.status_code", "error.type", attrRoute}
	// Python's old server metrics carry the route template in http.target
	// (Flask, Django, FastAPI), its spans in http.route (their own
	// http.target is the raw path); see instrumentations for the scopes
	// whose http.target is a path.
	serverQuirks := map[string]string{attrTarget: attrRoute}
	httpClient := []string{"http.request.method", "http.response.status_code", "error.type", "server.address", "server.port"}
	rpc := []string{"rpc.system.name", "rpc.service", "rpc.method", "rpc.response.status_code"}
	db := []string{"db.system.name", "db.operation.name", "db.collection.name", "server.address", "server.port"}
	return []defaultRule{
		{metric: "http.server.request.duration", kind: "server", canonical: httpServer, quirks: serverQuirks},
		{metric: "http.server.duration", kind: "server", canonical: httpServer, quirks: serverQuirks},
		{metric: "http.client.request.duration", kind: "client", canonical: httpClient},
		{metric: "http.client.duration", kind: "client", canonical: httpClient},
		{metric: "rpc.server.duration", kind: "server", canonical: rpc},
		{metric: "rpc.client.duration", kind: "client", canonical: rpc},
		{metric: "db.client.operation.duration", kind: "client", canonical: db},
	}
}

// defaults expands the built-in rules into specs through the conventions
// table.
func (s *Set) defaults() []Spec {
	var specs []Spec
	for _, d := range defaultRules() {
		kind, _ := spanKindOf(d.kind)
		attrs := map[string]string{}
		for _, canon := range d.canonical {
			for _, name := range s.conv.names(canon, kind) {
				attrs[name] = canon
			}
		}
		for point, span := range d.quirks {
			attrs[point] = span
		}
		specs = append(specs, Spec{Metric: d.metric, SpanKind: d.kind, Attributes: attrs})
	}
	return specs
}

// UnitNanos returns how many nanoseconds one unit is.
func UnitNanos(unit string) (float64, bool) {
	switch unit {
	case "ns":
		return 1, true
	case "us", "µs", "μs":
		return 1e3, true
	case "ms":
		return 1e6, true
	case "s":
		return 1e9, true
	case "min":
		return 60e9, true
	case "h":
		return 3600e9, true
	}
	return 0, false
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package rules // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/rules"

import "go.opentelemetry.io/collector/pdata/ptrace"

// convention is one attribute of the semantic conventions as the join reads
// it: its stable name, the older names instrumentations still send for it,
// how its values compare, and, for spans that carry none of its names, where
// the conventions say its value comes from. conventions() is the only place
// that names old and stable attributes together: the span side reads every
// name, and the default rules map every name of the point side onto it.
type convention struct {
	// name is the canonical (stable) name.
	name string
	// kind restricts the entry to spans of one kind; SpanKindUnspecified is
	// the entry for every kind without its own.
	kind ptrace.SpanKind
	// aliases are the older names, newest first.
	aliases []string
	// form says how values compare beyond their decimal string.
	form valueForm
	// derive lists, in order, where a span that carries none of the names
	// takes the value from. Points derive only a port, from a host:port
	// value of an address attribute the rule maps; otherwise a point
	// attribute the rule maps but the point lacks does not constrain the
	// join. docs/semantic-conventions.md tabulates all of it.
	derive []source
}

// valueForm says how the values of an attribute are brought to one form
// before they are compared.
type valueForm uint8

const (
	// formPlain compares values by their decimal string: 200 equals "200".
	formPlain valueForm = iota
	// formAddress compares a host by its host part: "127.0.0.1:25100",
	// "127.0.0.1" and "[::1]:80" / "::1" are compared as "127.0.0.1" and
	// "::1". Python fills net.host.name and (stable) server.address with the
	// Host header, port included; Node.js leaves IPv6 brackets in place.
	formAddress
	// formGRPCStatus compares the numeric gRPC status code of the old
	// rpc.grpc.status_code as the code's name, which is what the newer
	// rpc.response.status_code carries: 4 equals "DEADLINE_EXCEEDED".
	formGRPCStatus
)

// source is one place a span dimension can be derived from.
type source struct {
	// attr is the span attribute read; empty for partRouteFromName.
	attr string
	part part
}

// part is what a source takes from its attribute.
type part uint8

const (
	// partURLScheme, partURLHost, partURLPort and partURLPath read an
	// absolute URL (url.full, http.url): scheme://[userinfo@]host[:port]/path.
	// The port defaults to the scheme's (80 for http and ws, 443 for https
	// and wss), as server.port is defined; IPv6 brackets and userinfo are
	// dropped; the path ends before the query and is "/" when empty.
	partURLScheme part = iota + 1
	partURLHost
	partURLPort
	partURLPath
	// partTargetPath reads the path of a request target (http.target):
	// up to the query, "/" when empty.
	partTargetPath
	// partHost and partPort read a host[:port] value (http.host, a
	// net.host.name or server.address with the port in it). A value without
	// a port yields no port: the scheme is not known there.
	partHost
	partPort
	// partRouteFromName reads the route from a span named "{method}
	// {route}": otelhttp.NewHandler around a ServeMux names the span after
	// the matched pattern but sets no http.route.
	partRouteFromName
)

func (p part) ofURL() bool {
	return p == partURLScheme || p == partURLHost || p == partURLPort || p == partURLPath
}

// Names that the code refers to.
const (
	attrRoute  = "http.route"
	attrPath   = "url.path"
	attrTarget = "http.target"
)

// conventions returns the alias and derivation table. It is a function, not a
// package variable, so that nothing can change it behind a compiled Set.
func conventions() []convention {
	urlFull, httpURL, httpHost := "url.full", "http.url", "http.host"
	return []convention{
		{name: "http.request.method", aliases: []string{"http.method"}},
		{name: "http.response.status_code", aliases: []string{"http.status_code"}},
		{name: "error.type"},
		{name: attrRoute, derive: []source{{part: partRouteFromName}}},
		{
			name: "url.scheme", aliases: []string{"http.scheme"},
			derive: []source{{urlFull, partURLScheme}, {httpURL, partURLScheme}},
		},
		{
			name:   attrPath,
			derive: []source{{attrTarget, partTargetPath}, {urlFull, partURLPath}, {httpURL, partURLPath}},
		},
		{name: "network.protocol.version", aliases: []string{"http.flavor"}},
		{
			name: "server.address", kind: ptrace.SpanKindServer, aliases: []string{"net.host.name"}, form: formAddress,
			derive: []source{{httpHost, partHost}, {urlFull, partURLHost}, {httpURL, partURLHost}},
		},
		{
			name: "server.address", kind: ptrace.SpanKindClient, aliases: []string{"net.peer.name"}, form: formAddress,
			derive: []source{{urlFull, partURLHost}, {httpURL, partURLHost}, {httpHost, partHost}},
		},
		{name: "server.address", form: formAddress},
		{
			name: "server.port", kind: ptrace.SpanKindServer, aliases: []string{"net.host.port"},
			derive: []source{
				{"server.address", partPort},
				{"net.host.name", partPort},
				{httpHost, partPort},
				{urlFull, partURLPort},
				{httpURL, partURLPort},
			},
		},
		{
			name: "server.port", kind: ptrace.SpanKindClient, aliases: []string{"net.peer.port"},
			derive: []source{
				{urlFull, partURLPort},
				{httpURL, partURLPort},
				{"server.address", partPort},
				{"net.peer.name", partPort},
				{httpHost, partPort},
			},
		},
		{name: "db.system.name", aliases: []string{"db.system"}},
		{name: "db.operation.name", aliases: []string{"db.operation"}},
		{name: "db.collection.name", aliases: []string{"db.sql.table"}},
		{name: "rpc.system.name", aliases: []string{"rpc.system"}},
		{name: "rpc.response.status_code", aliases: []string{"rpc.grpc.status_code"}, form: formGRPCStatus},
		{name: "messaging.system"},
		{name: "messaging.destination.name", aliases: []string{"messaging.destination"}},
	}
}

// conventionTable indexes conventions() for Compile.
type conventionTable struct {
	byName      map[string][]convention // canonical name -> entries by kind
	canonicalOf map[string]string       // every name -> canonical name
}

func newConventionTable() conventionTable {
	t := conventionTable{byName: map[string][]convention{}, canonicalOf: map[string]string{}}
	for _, c := range conventions() {
		t.byName[c.name] = append(t.byName[c.name], c)
		t.canonicalOf[c.name] = c.name
		for _, a := range c.aliases {
			t.canonicalOf[a] = c.name
		}
	}
	return t
}

// canonical returns the canonical name of an attribute name.
func (t conventionTable) canonical(name string) string {
	if c, ok := t.canonicalOf[name]; ok {
		return c
	}
	return name
}

// lookup returns the entry of a canonical name for spans of kind; a name the
// table does not know is its own only name.
func (t conventionTable) lookup(canon string, kind ptrace.SpanKind) convention {
	var general convention
	found := false
	for _, c := range t.byName[canon] {
		if c.kind == kind {
			return c
		}
		if c.kind == ptrace.SpanKindUnspecified {
			general, found = c, true
		}
	}
	if found {
		return general
	}
	return convention{name: canon}
}

// names returns the attribute names of a canonical attribute for spans of
// kind, stable first.
func (t conventionTable) names(canon string, kind ptrace.SpanKind) []string {
	c := t.lookup(canon, kind)
	return append([]string{c.name}, c.aliases...)
}

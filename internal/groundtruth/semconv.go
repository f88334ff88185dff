// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth // import "github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"

import (
	"net"
	"net/url"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Canonical (stable semantic-convention) names of the attributes the
// default rules join on.
const (
	AttrMethod        = "http.request.method"
	AttrStatus        = "http.response.status_code"
	AttrRoute         = "http.route"
	AttrServerAddress = "server.address"
	AttrServerPort    = "server.port"
	AttrScheme        = "url.scheme"
	AttrRPCSystem     = "rpc.system.name"
	AttrRPCService    = "rpc.service"
	AttrRPCMethod     = "rpc.method"
	AttrRPCStatus     = "rpc.grpc.status_code"
	AttrDBSystem      = "db.system.name"
	AttrDBOperation   = "db.operation.name"
	AttrDBCollection  = "db.collection.name"
)

// Rule is what the product's default rules say of one duration metric: the
// span kind it joins, and per data point attribute the canonical span
// attribute that must equal it.
type Rule struct {
	Kind       ptrace.SpanKind
	Attributes map[string]string
}

var (
	httpServerPoint = map[string]string{
		"http.request.method": AttrMethod, "http.method": AttrMethod,
		"http.response.status_code": AttrStatus, "http.status_code": AttrStatus,
		"http.route": AttrRoute,
	}
	httpClientPoint = map[string]string{
		"http.request.method": AttrMethod, "http.method": AttrMethod,
		"http.response.status_code": AttrStatus, "http.status_code": AttrStatus,
		"server.address": AttrServerAddress, "net.peer.name": AttrServerAddress,
		"server.port": AttrServerPort, "net.peer.port": AttrServerPort,
	}
	rpcPoint = map[string]string{
		"rpc.system": AttrRPCSystem, "rpc.system.name": AttrRPCSystem,
		"rpc.service": AttrRPCService, "rpc.method": AttrRPCMethod,
		"rpc.grpc.status_code": AttrRPCStatus,
	}
	dbPoint = map[string]string{
		"db.system": AttrDBSystem, "db.system.name": AttrDBSystem,
		"db.operation": AttrDBOperation, "db.operation.name": AttrDBOperation,
		"db.collection.name": AttrDBCollection,
		"server.address":     AttrServerAddress, "server.port": AttrServerPort,
	}
)

// RuleFor returns the default rule of a metric, false for a metric no
// default rule selects.
func RuleFor(metric string) (Rule, bool) {
	switch metric {
	case "http.server.request.duration":
		return Rule{Kind: ptrace.SpanKindServer, Attributes: httpServerPoint}, true
	case "http.server.duration":
		// Flask's old metrics carry the route in http.target; its spans
		// keep the raw path there and the route in http.route.
		attrs := map[string]string{"http.target": AttrRoute}
		for k, v := range httpServerPoint {
			attrs[k] = v
		}
		return Rule{Kind: ptrace.SpanKindServer, Attributes: attrs}, true
	case "http.client.request.duration", "http.client.duration":
		return Rule{Kind: ptrace.SpanKindClient, Attributes: httpClientPoint}, true
	case "rpc.server.duration":
		return Rule{Kind: ptrace.SpanKindServer, Attributes: rpcPoint}, true
	case "rpc.client.duration":
		return Rule{Kind: ptrace.SpanKindClient, Attributes: rpcPoint}, true
	case "db.client.operation.duration":
		return Rule{Kind: ptrace.SpanKindClient, Attributes: dbPoint}, true
	}
	return Rule{}, false
}

// spanAliases are the names a span may carry a canonical attribute under,
// stable first; kind-specific ones are in spanAlias.
var spanAliases = map[string][]string{
	AttrMethod:       {"http.request.method", "http.method"},
	AttrStatus:       {"http.response.status_code", "http.status_code"},
	AttrRoute:        {"http.route"},
	AttrScheme:       {"url.scheme", "http.scheme"},
	AttrRPCSystem:    {"rpc.system.name", "rpc.system"},
	AttrRPCStatus:    {"rpc.grpc.status_code", "rpc.response.status_code"},
	AttrDBSystem:     {"db.system.name", "db.system"},
	AttrDBOperation:  {"db.operation.name", "db.operation"},
	AttrDBCollection: {"db.collection.name", "db.sql.table"},
}

func spanAlias(kind ptrace.SpanKind, canonical string) []string {
	switch {
	case canonical == AttrServerAddress && kind == ptrace.SpanKindServer:
		return []string{"server.address", "net.host.name"}
	case canonical == AttrServerAddress && kind == ptrace.SpanKindClient:
		return []string{"server.address", "net.peer.name"}
	case canonical == AttrServerPort && kind == ptrace.SpanKindServer:
		return []string{"server.port", "net.host.port"}
	case canonical == AttrServerPort && kind == ptrace.SpanKindClient:
		return []string{"server.port", "net.peer.port"}
	}
	if names, ok := spanAliases[canonical]; ok {
		return names
	}
	return []string{canonical}
}

// SpanValue returns the span's value of a canonical attribute as a string
// (integer and string forms compare equal): from the attribute or one of
// its aliases, else derived per the semantic conventions from what the
// span carries (url.full / http.url -> server.address, server.port,
// url.scheme; host:port forms of net.host.name / http.host; the route of a
// server span named "{METHOD} {route}"). False when it cannot be derived.
func SpanValue(kind ptrace.SpanKind, name string, attrs pcommon.Map, canonical string) (string, bool) {
	for _, key := range spanAlias(kind, canonical) {
		if v, ok := attrs.Get(key); ok {
			s := v.AsString()
			// net.host.name may hold "host:port" (Flask, old conventions).
			if canonical == AttrServerAddress {
				if host, _, split := splitHostPort(s); split {
					s = host
				}
			}
			return s, true
		}
	}
	return derive(kind, name, attrs, canonical)
}

func derive(kind ptrace.SpanKind, name string, attrs pcommon.Map, canonical string) (string, bool) {
	switch canonical {
	case AttrRoute:
		if kind == ptrace.SpanKindServer {
			return RouteFromName(name)
		}
	case AttrServerAddress, AttrServerPort, AttrScheme:
		if kind == ptrace.SpanKindServer {
			if v, ok := fromHostPort(attrs, canonical); ok {
				return v, true
			}
		}
		return fromURL(attrs, canonical)
	}
	return "", false
}

// fromHostPort splits a server span's "host:port" net.host.name or
// http.host.
func fromHostPort(attrs pcommon.Map, canonical string) (string, bool) {
	if canonical == AttrScheme {
		return "", false
	}
	for _, key := range []string{"net.host.name", "http.host"} {
		v, ok := attrs.Get(key)
		if !ok {
			continue
		}
		host, port, split := splitHostPort(v.AsString())
		switch {
		case canonical == AttrServerAddress && split:
			return host, true
		case canonical == AttrServerAddress:
			return v.AsString(), true
		case split:
			return port, true
		}
	}
	return "", false
}

// fromURL derives from url.full (stable) or http.url (old).
func fromURL(attrs pcommon.Map, canonical string) (string, bool) {
	for _, key := range []string{"url.full", "http.url"} {
		v, ok := attrs.Get(key)
		if !ok {
			continue
		}
		u, err := url.Parse(v.AsString())
		if err != nil || u.Host == "" {
			return "", false
		}
		switch canonical {
		case AttrScheme:
			return u.Scheme, true
		case AttrServerAddress:
			return u.Hostname(), true
		}
		if p := u.Port(); p != "" {
			return p, true
		}
		// The conventions' server.port is the URL's port, else the
		// scheme's default.
		switch strings.ToLower(u.Scheme) {
		case "http":
			return "80", true
		case "https":
			return "443", true
		}
		return "", false
	}
	return "", false
}

func splitHostPort(s string) (host, port string, ok bool) {
	h, p, err := net.SplitHostPort(s)
	if err != nil || p == "" {
		return "", "", false
	}
	if _, err := strconv.ParseUint(p, 10, 16); err != nil {
		return "", "", false
	}
	return h, p, true
}

// RouteFromName returns the route of a span named "{METHOD} {route}", as
// otelhttp.NewHandler around a whole ServeMux names it, or false.
func RouteFromName(name string) (string, bool) {
	method, route, ok := strings.Cut(name, " ")
	if !ok || method == "" || method != strings.ToUpper(method) || !strings.HasPrefix(route, "/") || strings.Contains(route, " ") {
		return "", false
	}
	return route, true
}

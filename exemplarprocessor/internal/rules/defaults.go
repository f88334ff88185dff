// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package rules // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/rules"

// Both the old and the stable names of an attribute are mapped on every
// HTTP rule: instrumentations in "dup" semconv mode mix them, and a key the
// point does not carry simply does not constrain the join.
var (
	httpServerAttributes = map[string]string{
		"http.request.method":       "http.request.method",
		"http.method":               "http.request.method",
		"http.response.status_code": "http.response.status_code",
		"http.status_code":          "http.response.status_code",
		"http.route":                "http.route",
		// Flask's old metrics carry the route in http.target, its spans in
		// http.route (the span's own http.target is the raw path).
		"http.target": "http.route",
	}
	httpClientAttributes = map[string]string{
		"http.request.method":       "http.request.method",
		"http.method":               "http.request.method",
		"http.response.status_code": "http.response.status_code",
		"http.status_code":          "http.response.status_code",
		"server.address":            "server.address",
		"net.peer.name":             "server.address",
		"server.port":               "server.port",
		"net.peer.port":             "server.port",
	}
	rpcAttributes = map[string]string{
		"rpc.system":           "rpc.system.name",
		"rpc.system.name":      "rpc.system.name",
		"rpc.service":          "rpc.service",
		"rpc.method":           "rpc.method",
		"rpc.grpc.status_code": "rpc.grpc.status_code",
	}
	dbAttributes = map[string]string{
		"db.system.name":     "db.system.name",
		"db.system":          "db.system.name",
		"db.operation.name":  "db.operation.name",
		"db.operation":       "db.operation.name",
		"db.collection.name": "db.collection.name",
		"server.address":     "server.address",
		"server.port":        "server.port",
	}
)

// Defaults are the built-in rules for the semantic-convention duration
// histograms, old (milliseconds) and stable (seconds). Units come from the
// metric itself; the unit column in the README is what instrumentations send.
func Defaults() []Spec {
	return []Spec{
		{Metric: "http.server.request.duration", SpanKind: "server", Attributes: httpServerAttributes},
		{Metric: "http.server.duration", SpanKind: "server", Attributes: httpServerAttributes},
		{Metric: "http.client.request.duration", SpanKind: "client", Attributes: httpClientAttributes},
		{Metric: "http.client.duration", SpanKind: "client", Attributes: httpClientAttributes},
		{Metric: "rpc.server.duration", SpanKind: "server", Attributes: rpcAttributes},
		{Metric: "rpc.client.duration", SpanKind: "client", Attributes: rpcAttributes},
		{Metric: "db.client.operation.duration", SpanKind: "client", Attributes: dbAttributes},
	}
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

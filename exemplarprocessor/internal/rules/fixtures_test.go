// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package rules

// Attribute sets as the instrumentations send them, from real captures
// (testdata/captures of the captures branch): OpenTelemetry Python 1.27 with
// instrumentation 0.48b0 (a Flask app calling another over requests), Go
// otelhttp v0.70 and Node.js @opentelemetry/instrumentation-http with SDK
// 3.0 (stable conventions only). The Node.js old-convention sets follow the
// instrumentation's source before it dropped them (utils.ts,
// getIncomingRequestAttributes and getOutgoingRequestAttributes).

const (
	scopeFlask    = "opentelemetry.instrumentation.flask"
	scopeRequests = "opentelemetry.instrumentation.requests"
	scopeTornado  = "opentelemetry.instrumentation.tornado"
	scopeNodeHTTP = "@opentelemetry/instrumentation-http"
	scopeOtelHTTP = "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

func pythonOldServerSpan() map[string]any {
	return map[string]any{
		"http.method": "POST", "http.server_name": "127.0.0.1", "http.scheme": "http",
		"net.host.name": "127.0.0.1:25100", "http.host": "127.0.0.1:25100", "net.host.port": int64(25100),
		"http.target": "/process?order=7", "net.peer.ip": "127.0.0.1", "net.peer.port": int64(34580),
		"http.user_agent": "curl/7.88.1", "http.flavor": "1.1", "http.route": "/process", "http.status_code": int64(200),
	}
}

func pythonOldServerPoint() map[string]any {
	return map[string]any{
		"http.method": "POST", "http.server_name": "127.0.0.1", "http.scheme": "http",
		"net.host.name": "127.0.0.1:25100", "http.host": "127.0.0.1:25100", "net.host.port": int64(25100),
		"http.flavor": "1.1", "http.status_code": int64(200), "http.target": "/process",
	}
}

func pythonOldClientSpan() map[string]any {
	return map[string]any{"http.method": "POST", "http.url": "http://127.0.0.1:25101/charge", "http.status_code": int64(200)}
}

func pythonOldClientPoint() map[string]any {
	return map[string]any{
		"http.method": "POST", "http.scheme": "http", "http.host": "127.0.0.1", "net.peer.name": "127.0.0.1",
		"net.peer.port": int64(25101), "http.status_code": int64(200), "http.flavor": "1.1",
	}
}

func pythonStableServerSpan() map[string]any {
	return map[string]any{
		"http.request.method": "POST", "url.scheme": "http", "server.address": "127.0.0.1:25101",
		"server.port": int64(25101), "url.path": "/charge", "client.address": "127.0.0.1", "client.port": int64(40688),
		"user_agent.original": "python-requests/2.32.3", "network.protocol.version": "1.1",
		"http.route": "/charge", "http.response.status_code": int64(500), "error.type": "500",
	}
}

func pythonStableServerPoint() map[string]any {
	return map[string]any{
		"http.request.method": "POST", "url.scheme": "http", "network.protocol.version": "1.1",
		"http.response.status_code": int64(500), "error.type": "500", "http.route": "/charge",
	}
}

func pythonStableClientSpan() map[string]any {
	return map[string]any{
		"http.request.method": "POST", "url.full": "http://127.0.0.1:25101/charge", "server.address": "127.0.0.1",
		"network.peer.address": "127.0.0.1", "server.port": int64(25101), "network.peer.port": int64(25101),
		"http.response.status_code": int64(500), "error.type": "500", "network.protocol.version": "1.1",
	}
}

func pythonStableClientPoint() map[string]any {
	return map[string]any{
		"http.request.method": "POST", "server.address": "127.0.0.1", "server.port": int64(25101),
		"http.response.status_code": int64(500), "error.type": "500", "network.protocol.version": "1.1",
	}
}

func nodeOldServerSpan() map[string]any {
	return map[string]any{
		"http.url": "http://localhost:25200/process", "http.host": "localhost:25200", "net.host.name": "localhost",
		"http.method": "GET", "http.scheme": "http", "http.target": "/process", "http.user_agent": "node",
		"http.flavor": "1.1", "net.transport": "ip_tcp", "net.host.ip": "::1", "net.host.port": int64(25200),
		"net.peer.ip": "::1", "net.peer.port": int64(50500), "http.status_code": int64(200), "http.status_text": "OK",
	}
}

func nodeOldServerPoint() map[string]any {
	return map[string]any{
		"http.scheme": "http", "http.method": "GET", "net.host.name": "localhost", "http.flavor": "1.1",
		"http.status_code": int64(200), "net.host.port": int64(25200),
	}
}

func nodeOldClientSpan() map[string]any {
	return map[string]any{
		"http.url": "http://localhost:25201/charge", "http.method": "POST", "http.target": "/charge",
		"net.peer.name": "localhost", "http.host": "localhost:25201", "net.peer.ip": "::1", "net.peer.port": int64(25201),
		"http.status_code": int64(200), "http.status_text": "OK", "http.flavor": "1.1", "net.transport": "ip_tcp",
	}
}

func nodeOldClientPoint() map[string]any {
	return map[string]any{
		"http.method": "POST", "net.peer.name": "localhost", "net.peer.port": int64(25201),
		"http.status_code": int64(200), "http.flavor": "1.1",
	}
}

// goStableServerSpan is otelhttp.NewHandler around a ServeMux: the route is
// only in the span name, set after the mux matched; the metric has it as
// http.route.
func goStableServerSpan() map[string]any {
	return map[string]any{
		"server.address": "127.0.0.1", "http.request.method": "POST", "url.scheme": "http", "server.port": int64(45577),
		"network.peer.address": "127.0.0.1", "network.peer.port": int64(35290), "user_agent.original": "Go-http-client/1.1",
		"client.address": "127.0.0.1", "url.path": "/charge", "network.protocol.version": "1.1",
		"http.request.body.size": int64(32), "http.response.body.size": int64(33), "http.response.status_code": int64(200),
	}
}

func goStableServerPoint() map[string]any {
	return map[string]any{
		"http.request.method": "POST", "http.response.status_code": int64(200), "http.route": "/charge",
		"network.protocol.name": "http", "network.protocol.version": "1.1", "server.address": "127.0.0.1",
		"server.port": int64(45577), "url.scheme": "http",
	}
}

func goStableClientSpan() map[string]any {
	return map[string]any{
		"http.request.method": "POST", "url.full": "http://127.0.0.1:45577/charge", "server.address": "127.0.0.1",
		"server.port": int64(45577), "network.protocol.version": "1.1", "http.response.status_code": int64(500), "error.type": "500",
	}
}

// goStableClientPoint: otelhttp's transport sets error.type on the span
// but not on the metric.
func goStableClientPoint() map[string]any {
	return map[string]any{
		"http.request.method": "POST", "http.response.status_code": int64(500), "network.protocol.name": "http",
		"network.protocol.version": "1.1", "server.address": "127.0.0.1", "server.port": int64(45577), "url.scheme": "http",
	}
}

func nodeStableServerSpan() map[string]any {
	return map[string]any{
		"http.request.method": "POST", "url.scheme": "http", "server.address": "127.0.0.1",
		"network.peer.address": "127.0.0.1", "network.peer.port": int64(47368), "network.protocol.version": "1.1",
		"user_agent.original": "Go-http-client/1.1", "url.path": "/process", "client.address": "127.0.0.1",
		"server.port": int64(46735), "http.response.status_code": int64(502), "error.type": "502",
	}
}

func nodeStableServerPoint() map[string]any {
	return map[string]any{
		"http.request.method": "POST", "url.scheme": "http", "network.protocol.version": "1.1",
		"http.response.status_code": int64(502), "error.type": "502",
	}
}

func nodeStableClientSpan() map[string]any {
	return map[string]any{
		"http.request.method": "POST", "server.address": "127.0.0.1", "server.port": int64(41653),
		"url.full": "http://127.0.0.1:41653/charge", "http.response.status_code": int64(200),
		"network.peer.address": "127.0.0.1", "network.peer.port": int64(41653), "network.protocol.version": "1.1",
	}
}

func nodeStableClientPoint() map[string]any {
	return map[string]any{
		"http.request.method": "POST", "server.address": "127.0.0.1", "server.port": int64(41653),
		"network.protocol.version": "1.1", "http.response.status_code": int64(200),
	}
}

// with returns a copy of attrs with changes applied; a nil value deletes.
func with(attrs map[string]any, changes map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range attrs {
		out[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package rules // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/rules"

import "strings"

// The parsers here run on the span hot path: they return substrings of their
// input and numbers, never new strings.

// hostPort is a parsed host[:port] value.
type hostPort struct {
	host    string
	port    int64
	hasPort bool
}

// splitHostPort splits "host", "host:port", "[v6]", "[v6]:port" and a bare
// IPv6 literal ("::1", which has no port). ok is false for what is none of
// these: an empty host, an unclosed bracket, a port that is not a number of
// at most 65535.
func splitHostPort(s string) (hostPort, bool) {
	if s == "" {
		return hostPort{}, false
	}
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end <= 1 {
			return hostPort{}, false
		}
		rest := s[end+1:]
		if rest == "" {
			return hostPort{host: s[1:end]}, true
		}
		if rest[0] != ':' {
			return hostPort{}, false
		}
		return withPort(s[1:end], rest[1:])
	}
	i := strings.IndexByte(s, ':')
	switch {
	case i < 0:
		return hostPort{host: s}, true
	case strings.IndexByte(s[i+1:], ':') >= 0:
		return hostPort{host: s}, true // bare IPv6 literal
	case i == 0:
		return hostPort{}, false
	}
	return withPort(s[:i], s[i+1:])
}

// withPort completes a host with the digits after its colon; "host:" has no
// port (RFC 3986 allows the empty port).
func withPort(host, digits string) (hostPort, bool) {
	if digits == "" {
		return hostPort{host: host}, true
	}
	n, ok := parsePort(digits)
	if !ok {
		return hostPort{}, false
	}
	return hostPort{host: host, port: n, hasPort: true}, true
}

func parsePort(s string) (int64, bool) {
	if s == "" || len(s) > 5 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, n <= 65535
}

// hostOf returns the host part of an address value, the value itself when it
// is no host[:port] form.
func hostOf(s string) string {
	if strings.IndexByte(s, ':') < 0 && (s == "" || s[0] != '[') {
		return s
	}
	if hp, ok := splitHostPort(s); ok {
		return hp.host
	}
	return s
}

// urlParts is what the join reads of an absolute URL.
type urlParts struct {
	scheme string
	hostPort
	path string
}

// splitURL parses scheme://[userinfo@]host[:port][/path][?query][#fragment].
// The port is the scheme's default when the URL names none (as server.port
// is defined); ok is false for a relative URL or a malformed authority.
func splitURL(u string) (urlParts, bool) {
	i := strings.Index(u, "://")
	if i <= 0 || !isScheme(u[:i]) {
		return urlParts{}, false
	}
	p := urlParts{scheme: normScheme(u[:i])}
	auth := u[i+3:]
	if j := indexEndOf(auth, true); j >= 0 {
		p.path = pathOf(auth[j:])
		auth = auth[:j]
	} else {
		p.path = "/"
	}
	if j := strings.LastIndexByte(auth, '@'); j >= 0 {
		auth = auth[j+1:]
	}
	hp, ok := splitHostPort(auth)
	if !ok {
		return urlParts{}, false
	}
	p.hostPort = hp
	if !p.hasPort {
		p.port, p.hasPort = defaultPort(p.scheme)
	}
	return p, true
}

// pathOf returns the path of a request target: up to the query or fragment,
// "/" when empty.
func pathOf(target string) string {
	if j := indexEndOf(target, false); j >= 0 {
		target = target[:j]
	}
	if target == "" {
		return "/"
	}
	return target
}

// indexEndOf returns the index of the first '?' or '#' (and '/' when slash
// is set) in s, or -1: where a URL's authority, or a target's path, ends.
// strings.IndexAny would build its byte set on every call.
func indexEndOf(s string, slash bool) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '?' || c == '#' || (slash && c == '/') {
			return i
		}
	}
	return -1
}

// isScheme reports whether s is a URI scheme: a letter, then letters,
// digits, '+', '-' or '.'.
func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20 // ASCII lower case
		letter := c >= 'a' && c <= 'z'
		if !letter && (i == 0 || (s[i] < '0' || s[i] > '9') && s[i] != '+' && s[i] != '-' && s[i] != '.') {
			return false
		}
	}
	return s != ""
}

// normScheme returns the web schemes in lower case, as url.scheme carries
// them, without allocating; others as sent.
func normScheme(s string) string {
	for _, known := range [...]string{"http", "https", "ws", "wss"} {
		if strings.EqualFold(s, known) {
			return known
		}
	}
	return s
}

func defaultPort(scheme string) (int64, bool) {
	switch scheme {
	case "http", "ws":
		return 80, true
	case "https", "wss":
		return 443, true
	}
	return 0, false
}

// grpcCodeName returns the name of a numeric gRPC status code.
func grpcCodeName(code int64) (string, bool) {
	switch code {
	case 0:
		return "OK", true
	case 1:
		return "CANCELLED", true
	case 2:
		return "UNKNOWN", true
	case 3:
		return "INVALID_ARGUMENT", true
	case 4:
		return "DEADLINE_EXCEEDED", true
	case 5:
		return "NOT_FOUND", true
	case 6:
		return "ALREADY_EXISTS", true
	case 7:
		return "PERMISSION_DENIED", true
	case 8:
		return "RESOURCE_EXHAUSTED", true
	case 9:
		return "FAILED_PRECONDITION", true
	case 10:
		return "ABORTED", true
	case 11:
		return "OUT_OF_RANGE", true
	case 12:
		return "UNIMPLEMENTED", true
	case 13:
		return "INTERNAL", true
	case 14:
		return "UNAVAILABLE", true
	case 15:
		return "DATA_LOSS", true
	case 16:
		return "UNAUTHENTICATED", true
	}
	return "", false
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package traffic // import "github.com/otelcol-exemplar/otelcol-exemplar/bench/traffic"

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

const (
	scopeName    = "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	scopeVersion = "0.70.0"
	// callShare is the share of requests that make each of a service's
	// calls.
	callShare = 0.7
)

var userAgents = []string{
	"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
	"Go-http-client/1.1",
	"okhttp/4.12.0",
}

// Request is one export of one service: a trace export or a metric export.
type Request struct {
	// Traces is set for a trace export, Metrics for a metric export.
	Traces  ptrace.Traces
	Metrics pmetric.Metrics
	// IsMetrics tells which one is set.
	IsMetrics bool
	// Spans and Points count what the request carries.
	Spans, Points int
}

// Generator produces the fleet's exports one at a time. It is not safe for
// concurrent use.
type Generator struct {
	cfg       Config
	rng       *rand.Rand
	fleet     []*service
	cumWeight []float64
	start     time.Time
	spans     uint64
	due       []uint64 // per service, the span count at which its next metric export is due
}

// New returns a generator of the traffic cfg describes.
func New(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// Reproducible traffic, not secrets: a seeded generator.
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)) //nolint:gosec // G404: see above
	g := &Generator{cfg: cfg, rng: rng, fleet: newFleet(cfg, rng)}
	total := 0.0
	for i, s := range g.fleet {
		total += s.weight
		g.cumWeight = append(g.cumWeight, total)
		// Services export at their own offsets within the interval, as
		// SDKs started at different times do.
		g.due = append(g.due, uint64(i+1)*cfg.IntervalSpans()/uint64(cfg.Services))
	}
	return g, nil
}

// Spans returns how many spans the generator produced.
func (g *Generator) Spans() uint64 { return g.spans }

// Streams returns how many histogram streams the fleet's metric exports
// carry so far (duration and body size).
func (g *Generator) Streams() int {
	n := 0
	for _, s := range g.fleet {
		n += len(s.server.streams) + len(s.client.streams) + len(s.bodySize.streams)
	}
	return n
}

// Next returns the next export at now: a service's metrics when they are
// due, otherwise a trace export of a service drawn by its share of the
// traffic, with spans that ended after that service's previous trace export
// and no later than now. now must not go backwards.
func (g *Generator) Next(now time.Time) Request {
	if g.start.IsZero() {
		g.start = now.Add(-time.Second)
		for _, s := range g.fleet {
			s.last = g.start
		}
	}
	for i, due := range g.due {
		if g.spans >= due {
			g.due[i] += g.cfg.IntervalSpans()
			md := g.fleet[i].metricsExport(g.start, now)
			return Request{Metrics: md, IsMetrics: true, Points: md.DataPointCount()}
		}
	}
	x := g.rng.Float64() * g.cumWeight[len(g.cumWeight)-1]
	i := 0
	for i < len(g.cumWeight)-1 && x >= g.cumWeight[i] {
		i++
	}
	td := g.traceExport(g.fleet[i], now)
	n := td.SpanCount()
	g.spans += uint64(n)
	return Request{Traces: td, Spans: n}
}

// traceExport builds one trace export of s: whole requests (a SERVER span
// and the CLIENT spans of its calls) until the next would not fit.
func (g *Generator) traceExport(s *service, now time.Time) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	putResource(rs.Resource().Attributes(), s.resource)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName(scopeName)
	ss.Scope().SetVersion(scopeVersion)
	spans := ss.Spans()
	spans.EnsureCapacity(g.cfg.SpansPerRequest)
	// Two exports of one service at one instant still get spans that
	// ended after the previous export.
	from, span := s.last, max(now.Sub(s.last), time.Nanosecond)
	for spans.Len()+1+len(s.calls) <= g.cfg.SpansPerRequest {
		end := from.Add(time.Duration(g.rng.Int64N(int64(span)) + 1))
		g.request(s, spans, end)
	}
	s.last = now
	return td
}

// request appends one request's spans and records them in the service's
// histograms.
func (g *Generator) request(s *service, spans ptrace.SpanSlice, end time.Time) {
	rng := g.rng
	ri := s.pickRoute(rng)
	rt := &s.routes[ri]
	d := drawDuration(rng, rt.median)
	status := drawStatus(rng, rt)
	size := int64(math.Exp(5 + 2*rng.Float64()))
	var tid pcommon.TraceID
	putRandom(rng, tid[:])
	server := spans.AppendEmpty()
	server.SetTraceID(tid)
	server.SetSpanID(randomSpanID(rng))
	if rng.IntN(10) < 7 { // called by another service
		server.SetParentSpanID(randomSpanID(rng))
	}
	server.SetName(rt.method + " " + rt.template)
	server.SetKind(ptrace.SpanKindServer)
	setTimes(server, end, d, status >= 500)
	g.serverAttrs(server.Attributes(), s, rt, status, size)
	s.server.record(streamKey{method: rt.method, route: rt.template, status: status}, d.Seconds())
	s.bodySize.record(streamKey{method: rt.method, route: rt.template, status: status}, float64(size))

	// Calls run one after another inside the server span.
	at := end.Add(-d)
	for _, c := range s.calls {
		if rng.Float64() >= callShare {
			continue
		}
		dep := g.fleet[c.dep]
		drt := &dep.routes[c.route]
		cd := time.Duration(float64(d) * (0.1 + 0.3*rng.Float64()))
		at = at.Add(cd)
		cstatus := drawStatus(rng, drt)
		client := spans.AppendEmpty()
		client.SetTraceID(tid)
		client.SetSpanID(randomSpanID(rng))
		client.SetParentSpanID(server.SpanID())
		client.SetName(drt.method)
		client.SetKind(ptrace.SpanKindClient)
		setTimes(client, at, cd, cstatus >= 400)
		g.clientAttrs(client.Attributes(), dep, drt, cstatus)
		s.client.record(streamKey{method: drt.method, route: dep.host, port: 8080, status: cstatus}, cd.Seconds())
	}
}

func setTimes(sp ptrace.Span, end time.Time, d time.Duration, failed bool) {
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(end.Add(-d)))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
	if failed {
		sp.Status().SetCode(ptrace.StatusCodeError)
	}
}

// serverAttrs are the attributes otelhttp's handler sets on a SERVER span.
func (g *Generator) serverAttrs(a pcommon.Map, s *service, rt *route, status, size int64) {
	rng := g.rng
	a.EnsureCapacity(13)
	a.PutStr("http.request.method", rt.method)
	a.PutStr("url.scheme", "http")
	a.PutStr("server.address", s.host)
	a.PutInt("server.port", 8080)
	peer := ipv4(rng)
	a.PutStr("network.peer.address", peer)
	a.PutInt("network.peer.port", 30000+rng.Int64N(30000))
	a.PutStr("user_agent.original", userAgents[rng.IntN(len(userAgents))])
	a.PutStr("client.address", peer)
	a.PutStr("url.path", concretePath(rng, rt))
	a.PutStr("network.protocol.version", "1.1")
	a.PutStr("http.route", rt.template)
	a.PutInt("http.response.status_code", status)
	a.PutInt("http.response.body.size", size)
}

// clientAttrs are the attributes otelhttp's transport sets on a CLIENT span.
func (g *Generator) clientAttrs(a pcommon.Map, dep *service, rt *route, status int64) {
	a.EnsureCapacity(6)
	a.PutStr("http.request.method", rt.method)
	a.PutStr("url.full", "http://"+dep.host+":8080"+concretePath(g.rng, rt))
	a.PutStr("server.address", dep.host)
	a.PutInt("server.port", 8080)
	a.PutStr("network.protocol.version", "1.1")
	a.PutInt("http.response.status_code", status)
}

func concretePath(rng *rand.Rand, rt *route) string {
	if !rt.hasID {
		return rt.template
	}
	return strings.TrimSuffix(rt.template, "{id}") + strconv.FormatUint(rng.Uint64N(1_000_000), 10)
}

func ipv4(rng *rand.Rand) string {
	b := make([]byte, 0, 15)
	b = append(b, "10."...)
	for i := range 3 {
		if i > 0 {
			b = append(b, '.')
		}
		b = strconv.AppendUint(b, rng.Uint64N(256), 10)
	}
	return string(b)
}

func putResource(a pcommon.Map, attrs []kv) {
	a.EnsureCapacity(len(attrs))
	for _, kv := range attrs {
		a.PutStr(kv.key, kv.value)
	}
}

func putRandom(rng *rand.Rand, b []byte) {
	for i := 0; i < len(b); i += 8 {
		v := rng.Uint64()
		for j := i; j < min(i+8, len(b)); j++ {
			b[j] = byte(v)
			v >>= 8
		}
	}
}

func randomSpanID(rng *rand.Rand) pcommon.SpanID {
	var id pcommon.SpanID
	putRandom(rng, id[:])
	return id
}

// DurationStreams returns how many request duration streams (the ones the
// default exemplar rules select) the fleet's metric exports carry so far.
func (g *Generator) DurationStreams() int {
	n := 0
	for _, s := range g.fleet {
		n += len(s.server.streams) + len(s.client.streams)
	}
	return n
}

// DurationPoints counts the points of md's request duration histograms.
func DurationPoints(md pmetric.Metrics) int {
	n := 0
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				if m := ms.At(k); m.Name() == serverDuration.name || m.Name() == clientDuration.name {
					n += m.Histogram().DataPoints().Len()
				}
			}
		}
	}
	return n
}

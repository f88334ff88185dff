// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Package traffic generates the OTLP telemetry of a fleet of HTTP services
// instrumented with OpenTelemetry, request by request, as their SDKs export
// it: trace exports of up to 512 spans per service (HTTP SERVER spans and the
// CLIENT spans of their calls to other services, with the attributes otelhttp
// sets) and, every metric interval, each service's cumulative
// http.server.request.duration and http.client.request.duration histograms
// whose counts are exactly the spans generated so far. The same Config and
// seed give the same requests; only timestamps follow the clock passed in.
//
// Every request is built anew: the benchmarks that use it measure what a
// collector does with fresh data, not with a template kept hot in the cache.
package traffic // import "github.com/otelcol-exemplar/otelcol-exemplar/bench/traffic"

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Config shapes the traffic.
type Config struct {
	// Services is the number of services, one instance each.
	Services int
	// RoutesPerService bounds the HTTP routes a service serves (each has 2
	// to RoutesPerService); more routes mean more histogram streams.
	RoutesPerService int
	// SpansPerRequest is how many spans a trace export carries at most
	// (the SDK's BatchSpanProcessor exports 512).
	SpansPerRequest int
	// Rate is the nominal number of spans per second of the whole fleet.
	// It only sets the metric schedule: every service exports its metrics
	// once per Interval*Rate spans, whatever the clock passed to Next says.
	Rate float64
	// Interval is the metric export interval of every service.
	Interval time.Duration
	// Seed makes the traffic reproducible.
	Seed uint64
}

// DefaultConfig is the fleet the collector benchmark sends: 50 services, 20k
// spans per second, metrics every 10 s.
func DefaultConfig() Config {
	return Config{Services: 50, RoutesPerService: 10, SpansPerRequest: 512, Rate: 20_000, Interval: 10 * time.Second, Seed: 1}
}

// IntervalSpans is how many spans the fleet sends per metric interval.
func (c Config) IntervalSpans() uint64 { return uint64(c.Rate * c.Interval.Seconds()) }

// Validate reports a Config the generator cannot use.
func (c Config) Validate() error {
	switch {
	case c.Services < 1:
		return fmt.Errorf("services %d: need at least 1", c.Services)
	case c.RoutesPerService < 2:
		return fmt.Errorf("routes per service %d: need at least 2", c.RoutesPerService)
	case c.SpansPerRequest < 3:
		return fmt.Errorf("spans per request %d: need at least 3 (one request's spans)", c.SpansPerRequest)
	case c.IntervalSpans() < 1:
		return fmt.Errorf("rate %g and interval %s send no span per interval", c.Rate, c.Interval)
	}
	return nil
}

// route is one HTTP route a service serves.
type route struct {
	method, template string
	hasID            bool
	median           float64 // seconds
	weight           float64
}

// call is a dependency a service calls while serving a request.
type call struct {
	dep   int // service index
	route int // route index of dep
}

// service is one instrumented service and what it has exported so far.
type service struct {
	name, host, instance, pod string
	resource                  []kv
	routes                    []route
	cumWeight                 []float64 // of routes, for drawing one
	calls                     []call
	weight                    float64 // share of the fleet's requests

	last     time.Time // end of the span window of the previous trace export
	server   *histograms
	client   *histograms
	bodySize *histograms
}

// kv is a resource attribute.
type kv struct{ key, value string }

var (
	resourceWords = []string{"checkout", "cart", "catalog", "payment", "shipping", "inventory", "pricing", "search", "users", "auth", "reviews", "orders", "ads", "recommend", "email", "currency", "quote", "fraud", "ledger", "gateway"}
	routeWords    = []string{"orders", "items", "carts", "users", "payments", "products", "reviews", "sessions", "quotes", "shipments", "invoices", "accounts"}
	methods       = []string{"GET", "GET", "GET", "GET", "POST", "POST", "PUT", "DELETE"}
)

// newFleet draws the services, their routes and their calls.
func newFleet(cfg Config, rng *rand.Rand) []*service {
	fleet := make([]*service, cfg.Services)
	for i := range fleet {
		fleet[i] = newService(cfg, rng, i)
	}
	for i, s := range fleet {
		// Services call up to 3 others; the first ones call more, like
		// front ends and gateways.
		n := rng.IntN(4)
		if cfg.Services == 1 {
			n = 0
		}
		for range n {
			dep := rng.IntN(cfg.Services)
			if dep == i {
				dep = (dep + 1) % cfg.Services
			}
			s.calls = append(s.calls, call{dep: dep, route: rng.IntN(len(fleet[dep].routes))})
		}
	}
	return fleet
}

func newService(cfg Config, rng *rand.Rand, i int) *service {
	name := fmt.Sprintf("%s-%d", resourceWords[i%len(resourceWords)], i)
	pod := fmt.Sprintf("%s-%08x-%05x", name, rng.Uint32(), rng.Uint32()&0xfffff)
	s := &service{
		name:     name,
		host:     name + ".shop.svc.cluster.local",
		instance: fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xfff, rng.Uint32()&0xfff, rng.Uint64()&0xffffffffffff),
		pod:      pod,
		weight:   1 / math.Sqrt(float64(i+1)), // a few busy services, a long tail
		server:   newHistograms(durationBounds),
		client:   newHistograms(durationBounds),
		bodySize: newHistograms(sizeBounds),
	}
	s.resource = []kv{
		{"service.name", s.name},
		{"service.namespace", "shop"},
		{"service.instance.id", s.instance},
		{"service.version", fmt.Sprintf("1.%d.%d", rng.IntN(20), rng.IntN(10))},
		{"deployment.environment.name", "production"},
		{"telemetry.sdk.language", "go"},
		{"telemetry.sdk.name", "opentelemetry"},
		{"telemetry.sdk.version", "1.45.0"},
		{"host.name", pod},
		{"k8s.pod.name", pod},
		{"k8s.namespace.name", "shop"},
		{"k8s.node.name", fmt.Sprintf("node-%d", rng.IntN(12))},
	}
	n := 2 + rng.IntN(cfg.RoutesPerService-1)
	total := 0.0
	for r := range n {
		word := routeWords[rng.IntN(len(routeWords))]
		rt := route{method: methods[rng.IntN(len(methods))], template: fmt.Sprintf("/api/v%d/%s", 1+r%2, word)}
		if rng.IntN(2) == 0 {
			rt.template += "/{id}"
			rt.hasID = true
		}
		rt.median = 0.002 * math.Exp(rng.Float64()*4) // 2 ms to 110 ms
		rt.weight = 1 / float64(r+1)
		total += rt.weight
		s.routes = append(s.routes, rt)
		s.cumWeight = append(s.cumWeight, total)
	}
	return s
}

// pickRoute draws a route by weight.
func (s *service) pickRoute(rng *rand.Rand) int {
	x := rng.Float64() * s.cumWeight[len(s.cumWeight)-1]
	for i, w := range s.cumWeight {
		if x < w {
			return i
		}
	}
	return len(s.cumWeight) - 1
}

// drawDuration draws a log-normal latency around median with a 2 % tail ten
// times slower.
func drawDuration(rng *rand.Rand, median float64) time.Duration {
	d := median * math.Exp(0.6*rng.NormFloat64())
	if rng.IntN(50) == 0 {
		d *= 10
	}
	return time.Duration(d*1e9) + 50*time.Microsecond
}

// drawStatus draws a response status: mostly success, some client and
// server errors.
func drawStatus(rng *rand.Rand, rt *route) int64 {
	x := rng.IntN(100)
	switch {
	case x < 2:
		return 500
	case x < 3:
		return 503
	case x < 5:
		return 400
	case x < 8 && rt.hasID:
		return 404
	case rt.method == "POST":
		return 201
	}
	return 200
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The workload of the sampling scale-out test. Every request is a trace of
// two SERVER spans: one in service i, which calls service i+1, whose span is
// the child. Each service sends through its own tier-1 instance, so the two
// spans of a trace enter the gateway at different tier-1 replicas and only
// trace-ID routing brings them together at one sampler. Every span is
// counted in its service's http.server.request.duration histogram (the
// endpoints, bounds and resource of the scale-out workload, soEndpoints and
// soBounds). A ledger keeps everything sent.

// ssEndpointWeights make the failing endpoint (soEndpoints[2], status 500)
// rare, as errors are: the sampler keeps every trace with one.
var ssEndpointWeights = []int{60, 35, 5}

// ssSpan is a span the generator created.
type ssSpan struct {
	service  string
	endpoint int
	traceID  pcommon.TraceID
	spanID   pcommon.SpanID
	parent   pcommon.SpanID
	start    time.Time
	end      time.Time
}

func (s *ssSpan) seconds() float64 { return float64(s.end.Sub(s.start).Nanoseconds()) / 1e9 }

func (s *ssSpan) failed() bool { return soEndpoints[s.endpoint].status >= 500 }

// ssTrace is a trace the generator created.
type ssTrace struct {
	spans []*ssSpan
}

// duration is the trace's duration as the latency policy sees it.
func (tr *ssTrace) duration() time.Duration {
	lo, hi := tr.spans[0].start, tr.spans[0].end
	for _, s := range tr.spans[1:] {
		if s.start.Before(lo) {
			lo = s.start
		}
		if s.end.After(hi) {
			hi = s.end
		}
	}
	return hi.Sub(lo)
}

func (tr *ssTrace) failed() bool {
	for _, s := range tr.spans {
		if s.failed() {
			return true
		}
	}
	return false
}

// ssPoint is what the generator knows of a data point it sent.
type ssPoint struct {
	start  uint64
	counts []uint64
}

// ssWorkload generates rounds and keeps the ledger.
type ssWorkload struct {
	services    []string
	perRound    int // traces started per service and round
	rng         *rand.Rand
	cumulative  bool
	streamStart time.Time
	prevPoint   time.Time
	counts      map[string][][]uint64 // per service and endpoint: cumulative counts

	spans      map[pcommon.SpanID]*ssSpan
	traces     map[pcommon.TraceID]*ssTrace
	points     map[soPointKey]*ssPoint
	pointsSent int
}

func newSSWorkload(services, perRound int, cumulative bool, seed uint64) *ssWorkload {
	w := &ssWorkload{
		perRound:    perRound,
		rng:         rand.New(rand.NewPCG(seed, seed^0x5bd1e995)),
		cumulative:  cumulative,
		streamStart: time.Now().Add(-time.Second),
		counts:      map[string][][]uint64{},
		spans:       map[pcommon.SpanID]*ssSpan{},
		traces:      map[pcommon.TraceID]*ssTrace{},
		points:      map[soPointKey]*ssPoint{},
	}
	w.prevPoint = w.streamStart
	for i := range services {
		name := ssServiceName(i)
		w.services = append(w.services, name)
		for range soEndpoints {
			w.counts[name] = append(w.counts[name], make([]uint64, len(soBounds)+1))
		}
	}
	return w
}

func ssServiceName(i int) string { return "shop-" + string(rune('a'+i)) }

// nextRound creates the requests that ended since the previous round (none
// when withRequests is false: the SDKs go on exporting their cumulative
// points after the traffic stopped) and the points that counted them.
func (w *ssWorkload) nextRound(withRequests bool) soRound {
	pointTime := time.Now()
	if !pointTime.After(w.prevPoint) {
		pointTime = w.prevPoint.Add(time.Millisecond)
	}
	r := soRound{traces: map[string]ptrace.Traces{}, metrics: map[string]pmetric.Metrics{}}
	scopes := map[string]ptrace.ScopeSpans{}
	for _, svc := range w.services {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		soResource(rs.Resource(), svc)
		scopes[svc] = rs.ScopeSpans().AppendEmpty()
		scopes[svc].Scope().SetName("e2e/scaleout-sampling")
		r.traces[svc] = td
	}
	round := make(map[string][][]uint64, len(w.services))
	for _, svc := range w.services {
		for range soEndpoints {
			round[svc] = append(round[svc], make([]uint64, len(soBounds)+1))
		}
	}
	if withRequests {
		for i, svc := range w.services {
			callee := w.services[(i+1)%len(w.services)]
			for range w.perRound {
				w.request(svc, callee, pointTime, scopes, round)
			}
		}
	}
	for _, svc := range w.services {
		r.metrics[svc] = w.pointsOf(svc, pointTime, round[svc])
	}
	w.prevPoint = pointTime
	return r
}

// request creates one trace: the caller's span and, ending 0.2 ms before
// it, the callee's.
func (w *ssWorkload) request(caller, callee string, pointTime time.Time, scopes map[string]ptrace.ScopeSpans, round map[string][][]uint64) {
	window := pointTime.Sub(w.prevPoint)
	end := w.prevPoint.Add(time.Duration(float64(window) * (0.05 + 0.9*w.rng.Float64())))
	tr := &ssTrace{}
	traceID := soTraceID(w.rng)
	var parent pcommon.SpanID
	for i, svc := range []string{caller, callee} {
		ep := ssPickEndpoint(w.rng)
		d := soDurationIn(w.rng, soPickBucket(w.rng))
		sEnd := end.Add(-time.Duration(i) * 200 * time.Microsecond)
		sp := &ssSpan{service: svc, endpoint: ep, traceID: traceID, spanID: soSpanID(w.rng), parent: parent, start: sEnd.Add(-d), end: sEnd}
		parent = sp.spanID
		tr.spans = append(tr.spans, sp)
		w.spans[sp.spanID] = sp
		ssAppendSpan(scopes[svc], sp)
		round[svc][ep][soBucketOf(sp.seconds())]++
	}
	w.traces[traceID] = tr
}

// pointsOf builds a service's histogram export: cumulative points of every
// endpoint, or delta points of the endpoints with requests in the round.
func (w *ssWorkload) pointsOf(svc string, pointTime time.Time, round [][]uint64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	soResource(rm.Resource(), svc)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("e2e/scaleout-sampling")
	m := sm.Metrics().AppendEmpty()
	m.SetName(soMetricName)
	m.SetUnit("s")
	h := m.SetEmptyHistogram()
	start := w.prevPoint
	h.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	if w.cumulative {
		start = w.streamStart
		h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	}
	for ep, rc := range round {
		counts := rc
		if w.cumulative {
			for b, n := range rc {
				w.counts[svc][ep][b] += n
			}
			counts = w.counts[svc][ep]
		}
		var total uint64
		for _, n := range counts {
			total += n
		}
		if !w.cumulative && total == 0 {
			continue // a delta SDK exports only streams with new measurements
		}
		dp := h.DataPoints().AppendEmpty()
		soEndpointAttributes(dp.Attributes(), soEndpoints[ep])
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		dp.SetTimestamp(pcommon.NewTimestampFromTime(pointTime))
		dp.ExplicitBounds().FromRaw(soBounds)
		dp.BucketCounts().FromRaw(counts)
		dp.SetCount(total)
		w.points[soPointKey{svc, ep, uint64(dp.Timestamp())}] = &ssPoint{start: uint64(dp.StartTimestamp()), counts: append([]uint64(nil), counts...)}
		w.pointsSent++
	}
	return md
}

func ssAppendSpan(ss ptrace.ScopeSpans, sp *ssSpan) {
	s := ss.Spans().AppendEmpty()
	ep := soEndpoints[sp.endpoint]
	s.SetTraceID(sp.traceID)
	s.SetSpanID(sp.spanID)
	s.SetParentSpanID(sp.parent)
	s.SetName(ep.method + " " + ep.route)
	s.SetKind(ptrace.SpanKindServer)
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(sp.start))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(sp.end))
	soEndpointAttributes(s.Attributes(), ep)
	if sp.failed() {
		s.Status().SetCode(ptrace.StatusCodeError)
	}
}

func ssPickEndpoint(rng *rand.Rand) int {
	total := 0
	for _, w := range ssEndpointWeights {
		total += w
	}
	n := rng.IntN(total)
	for ep, w := range ssEndpointWeights {
		if n < w {
			return ep
		}
		n -= w
	}
	return len(ssEndpointWeights) - 1
}

// asTraces is the ledger's spans (all of them, or those keep selects) as the
// tail-sampling test's reader gives a traces file.
func (w *ssWorkload) asTraces(keep func(pcommon.SpanID) bool) *tsTraces {
	out := &tsTraces{spans: map[string]*tsSpan{}, traces: map[string][]string{}}
	for id, sp := range w.spans {
		if keep != nil && !keep(id) {
			continue
		}
		ep := soEndpoints[sp.endpoint]
		s := &tsSpan{
			traceID: sp.traceID.String(), spanID: sp.spanID.String(), service: sp.service, kind: "Server",
			method: ep.method, route: ep.route, status: itoa(ep.status),
			start: uint64(sp.start.UnixNano()), end: uint64(sp.end.UnixNano()), err: sp.failed(),
		}
		out.spans[s.spanID] = s
		out.traces[s.traceID] = append(out.traces[s.traceID], s.spanID)
		out.copies++
	}
	return out
}

func itoa(n int64) string { return pcommon.NewValueInt(n).AsString() }

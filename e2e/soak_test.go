// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"

	"github.com/otelcol-exemplar/otelcol-exemplar/e2e/harness"
)

// The soak (make soak, docs/soak.md): the built collector at its index and
// stream caps for SOAK_MINUTES, with the hostile and garbage bodies of the
// hostile-input tests sent over OTLP/HTTP all along, memory sampled, every
// item counted in and out. Not part of make test.

// Soak settings: small caps so that the load reaches them within seconds.
const (
	soakSpanCap     = 20_000
	soakStreamCap   = 500
	soakServices    = 20
	soakPods        = 10 // streams per service endpoint (an unmapped attribute)
	soakSpansPerReq = 100
	soakTracesEvery = 50 * time.Millisecond // 2,000 spans/s
	soakPointsEvery = time.Second           // 600 streams, over the cap
	soakHostileRuns = 20                    // hostile cycles over the run
)

// TestSoak runs only with SOAK_MINUTES set (make soak).
func TestSoak(t *testing.T) {
	minutes, err := strconv.ParseFloat(os.Getenv("SOAK_MINUTES"), 64)
	if err != nil || minutes <= 0 {
		t.Skip("set SOAK_MINUTES (make soak) to run the soak")
	}
	dur := time.Duration(minutes * float64(time.Minute))
	sink := startSoakSink(t)
	c := startSoakCollector(t, sink.addr)
	gen := newSoakGen(rand.New(rand.NewPCG(51, 52)))
	sampler := startSoakSampler(t, c, sink, gen, max(dur/20, 5*time.Second))

	began := time.Now()
	hostileDone := make(chan struct{})
	var quiet []soakQuiet
	quietWindow := min(soakQuietWindow, dur/soakHostileRuns/3)
	go func() {
		defer close(hostileDone)
		rng := rand.New(rand.NewPCG(53, 54))
		for i := 0; time.Since(began) < dur; i++ {
			gen.hostileCycle(c, rng, i)
			next := began.Add(time.Duration(i+1) * dur / soakHostileRuns)
			time.Sleep(time.Until(next.Add(-quietWindow)))
			from := len(hoGCLives(c.proc.Output()))
			time.Sleep(time.Until(next))
			quiet = append(quiet, takeSoakQuiet(c, time.Since(began), from))
		}
	}()
	nextPoints := began
	for time.Since(began) < dur {
		next := time.Now().Add(soakTracesEvery)
		gen.send(c, tracesPath, hoTracesBody(gen.traces()), "", soakCounts{spans: soakSpansPerReq})
		if time.Now().After(nextPoints) {
			for _, md := range gen.metrics() {
				gen.send(c, metricsPath, hoMetricsBody(md), "", soakCounts{points: md.DataPointCount()})
			}
			nextPoints = nextPoints.Add(soakPointsEvery)
		}
		time.Sleep(time.Until(next))
		if c.proc.Exited() {
			t.Fatalf("the collector exited during the soak:\n%s", c.proc.Output())
		}
	}
	<-hostileDone

	// Everything accepted must reach the sink.
	in := gen.accepted()
	deadline := time.Now().Add(time.Minute)
	for sink.counts() != in && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	rows := sampler.stop()
	fmt.Println(soakTable(rows, gen))
	fmt.Println(soakQuietTable(quiet, quietWindow))
	soakCheck(t, c, sink, gen, rows)
	soakCheckFlat(t, quiet)
}

// soakQuietWindow is how long before each hostile cycle memory is read (a
// third of the time between cycles on short runs):
// the previous cycle's million-bucket points (8 MiB each decoded) are long
// through by then, so what is left is the steady load's memory.
const soakQuietWindow = 10 * time.Second

// soakQuiet is memory read in the quiet moment before a hostile cycle.
type soakQuiet struct {
	at   time.Duration
	rss  float64
	live float64 // lowest live heap of the GC cycles in the window, bytes; -1 for none
	gcs  int
}

func takeSoakQuiet(c *hoCollector, at time.Duration, fromGC int) soakQuiet {
	q := soakQuiet{at: at, rss: hoRSS(c.proc.Pid()), live: -1}
	lives := hoGCLives(c.proc.Output())
	for _, l := range lives[min(fromGC, len(lives)):] {
		q.gcs++
		if q.live < 0 || l < q.live {
			q.live = l
		}
	}
	return q
}

func soakQuietTable(quiet []soakQuiet, window time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "memory in the %s before each hostile cycle:\n%8s %8s %9s %5s\n", window, "time", "RSS MiB", "live MiB", "GCs")
	for _, q := range quiet {
		fmt.Fprintf(&b, "%8s %8s %9s %5d\n", q.at.Round(time.Second), hoMiB(q.rss), hoMiBOr(q.live), q.gcs)
	}
	return b.String()
}

// soakCheckFlat fails the soak when memory is not flat under the steady
// load. After the first quarter (caps reached, pools warm), every RSS read
// in a quiet moment lies within 10 % of those readings' median; and the
// live heap does not trend up: the median of the last third of the quiet
// readings is at most 10 % (+1 MiB, gctrace's resolution) above that of
// the first third. Single live readings move by 1-2 MiB with the steady
// load's requests in flight, so they are compared by thirds.
func soakCheckFlat(t *testing.T, quiet []soakQuiet) {
	t.Helper()
	warm := quiet[min(len(quiet)/4, len(quiet)-1):]
	if len(warm) < 3 {
		t.Errorf("only %d quiet readings after warm-up: the soak is too short to judge memory", len(warm))
		return
	}
	rss := make([]float64, len(warm))
	live := make([]float64, len(warm))
	for i, q := range warm {
		rss[i], live[i] = q.rss, q.live
	}
	medRSS := soakMedian(rss)
	for _, q := range warm {
		if q.rss > medRSS*1.10 || q.rss < medRSS*0.90 {
			t.Errorf("at %s RSS was %s MiB in a quiet moment, the median of the quiet moments %s MiB: not within 10 %%",
				q.at.Round(time.Second), hoMiB(q.rss), hoMiB(medRSS))
		}
	}
	third := len(warm) / 3
	first, last := soakMedian(live[:third]), soakMedian(live[len(live)-third:])
	if first >= 0 && last > first*1.10+1<<20 {
		t.Errorf("the live heap in quiet moments grew from a median of %s MiB (first third after warm-up) to %s MiB (last third)",
			hoMiB(first), hoMiB(last))
	}
}

// soakMedian returns the median of the non-negative values of v (-1 marks
// no reading), -1 for none.
func soakMedian(v []float64) float64 {
	v = slices.DeleteFunc(slices.Clone(v), func(x float64) bool { return x < 0 })
	if len(v) == 0 {
		return -1
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// soakCounts are items: spans and histogram points.
type soakCounts struct{ spans, points int }

// soakSink is an OTLP/gRPC backend that only counts.
type soakSink struct {
	ptraceotlp.UnimplementedGRPCServer
	addr          string
	spans, points atomic.Int64
}

type soakMetricsSink struct {
	pmetricotlp.UnimplementedGRPCServer
	s *soakSink
}

func (s *soakSink) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	s.spans.Add(int64(req.Traces().SpanCount()))
	return ptraceotlp.NewExportResponse(), nil
}

func (m *soakMetricsSink) Export(_ context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	m.s.points.Add(int64(req.Metrics().DataPointCount()))
	return pmetricotlp.NewExportResponse(), nil
}

func (s *soakSink) counts() soakCounts {
	return soakCounts{spans: int(s.spans.Load()), points: int(s.points.Load())}
}

func startSoakSink(t *testing.T) *soakSink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &soakSink{addr: l.Addr().String()}
	// Batches of million-bucket points are tens of MB.
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(1 << 30))
	ptraceotlp.RegisterGRPCServer(srv, s)
	pmetricotlp.RegisterGRPCServer(srv, &soakMetricsSink{s: s})
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return s
}

// startSoakCollector runs the built collector with small caps, exporting
// to the counting sink; gctrace prints the live heap after each GC cycle.
func startSoakCollector(t *testing.T, sinkAddr string) *hoCollector {
	t.Helper()
	c := &hoCollector{httpPort: harness.FreePort(t), telemetryPort: harness.FreePort(t), dir: t.TempDir()}
	cfg := fmt.Sprintf(`receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%d
processors:
  exemplar:
    index:
      max_spans: %d
    streams:
      max_streams: %d
  batch:
exporters:
  otlp_grpc:
    endpoint: %s
    tls:
      insecure: true
    compression: none
service:
  telemetry:
    metrics:
      level: detailed
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %d
  pipelines:
    traces:
      receivers: [otlp]
      processors: [exemplar, batch]
      exporters: [otlp_grpc]
    metrics:
      receivers: [otlp]
      processors: [exemplar, batch]
      exporters: [otlp_grpc]
`, c.httpPort, soakSpanCap, soakStreamCap, sinkAddr, c.telemetryPort)
	path := filepath.Join(c.dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c.proc = harness.Start(t, "collector", c.dir, []string{"GODEBUG=gctrace=1"}, harness.CollectorBinary(t), "--config="+path)
	harness.WaitHTTP(t, c.proc, c.telemetryURL(), 30*time.Second)
	c.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	t.Cleanup(c.client.CloseIdleConnections)
	return c
}

// soakGen generates the load and keeps the ledger.
type soakGen struct {
	mu      sync.Mutex
	rng     *rand.Rand // the load's: used by one goroutine
	start   time.Time
	next    int                 // next service to send spans for
	streams map[string][]uint64 // cumulative counts by stream
	in      soakCounts          // items of accepted requests
	refused map[string]int      // requests answered other than 200, by kind
	hostile []soakHostile
}

// soakHostile is one hostile request's outcome.
type soakHostile struct {
	at      time.Time
	kind    string
	status  int
	elapsed time.Duration
}

func newSoakGen(rng *rand.Rand) *soakGen {
	return &soakGen{rng: rng, start: time.Now().Add(-time.Second), streams: map[string][]uint64{}, refused: map[string]int{}}
}

// send posts a body; items count as sent when the collector accepts it.
// kind names a hostile request (its latency is recorded), "" the load.
func (g *soakGen) send(c *hoCollector, path string, body []byte, kind string, items soakCounts) hoResult {
	r := c.post(path, body, time.Minute)
	g.mu.Lock()
	defer g.mu.Unlock()
	if r.err == nil && r.status == http.StatusOK {
		g.in.spans += items.spans
		g.in.points += items.points
	} else {
		g.refused[soakKindOr(kind)]++
	}
	if kind != "" {
		g.hostile = append(g.hostile, soakHostile{at: time.Now(), kind: kind, status: r.status, elapsed: r.elapsed})
	}
	return r
}

func soakKindOr(kind string) string {
	if kind == "" {
		return "load"
	}
	return kind
}

func (g *soakGen) accepted() soakCounts {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.in
}

// traces returns the next load request: spans of one service, ended in
// the last second, durations across the buckets.
func (g *soakGen) traces() ptrace.Traces {
	g.mu.Lock()
	svc := fmt.Sprintf("soak-%02d", g.next%soakServices)
	g.next++
	g.mu.Unlock()
	sp := newHOSpans(svc)
	now := time.Now()
	for range soakSpansPerReq {
		d := soDurationIn(g.rng, soPickBucket(g.rng))
		end := now.Add(-time.Duration(g.rng.Float64() * float64(time.Second)))
		ep := soEndpoints[g.rng.IntN(len(soEndpoints))]
		s := sp.add(g.rng, uint64(end.Add(-d).UnixNano()), uint64(end.UnixNano()))
		s.SetName(ep.method + " " + ep.route)
		soEndpointAttributes(s.Attributes(), ep)
	}
	return sp.td
}

// metrics returns one request per service: every stream's cumulative point,
// counts grown at random.
func (g *soakGen) metrics() []pmetric.Metrics {
	now := uint64(time.Now().UnixNano())
	var out []pmetric.Metrics
	for s := range soakServices {
		svc := fmt.Sprintf("soak-%02d", s)
		m := newHOMetrics(svc)
		for e, ep := range soEndpoints {
			for p := range soakPods {
				key := fmt.Sprintf("%s/%d/%d", svc, e, p)
				counts := g.streams[key]
				if counts == nil {
					counts = make([]uint64, len(soBounds)+1)
					g.streams[key] = counts
				}
				for range 3 {
					counts[soPickBucket(g.rng)]++
				}
				dp := m.explicit(fmt.Sprintf("pod-%d", p), pmetric.AggregationTemporalityCumulative, uint64(g.start.UnixNano()), now, soBounds, counts)
				soEndpointAttributes(dp.Attributes(), ep)
			}
		}
		out = append(out, m.md)
	}
	return out
}

// hostileCycle sends every hostile and garbage body once. It runs beside
// the load, so it has its own rng.
func (g *soakGen) hostileCycle(c *hoCollector, rng *rand.Rand, cycle int) {
	start := uint64(time.Now().Add(-time.Minute).UnixNano())
	for round, grown := range []uint64{1, 2} {
		end := uint64(time.Now().Add(time.Duration(round) * time.Millisecond).UnixNano())
		for _, hc := range []struct {
			name   string
			offset int32
		}{{"expo 1M, offset 2^30", 1 << 30}, {"expo 1M, over spans", int32(math.Floor(math.Log2(0.05)*(1<<20))) - hoBuckets/2}} {
			m := newHOMetrics("soak-00")
			m.exponential(hoExpo{
				c: fmt.Sprintf("%s #%d", hc.name, cycle), temporality: pmetric.AggregationTemporalityCumulative,
				start: start, end: end, scale: 20, offset: hc.offset, counts: hoFilled(hoBuckets, grown),
			})
			g.send(c, metricsPath, hoMetricsBody(m.md), hc.name, soakCounts{points: 1})
		}
	}
	for _, b := range soakGarbage(rng) {
		g.send(c, b.path, b.body, b.kind, b.items)
	}
}

// soakBody is one garbage request.
type soakBody struct {
	kind  string
	path  string
	body  []byte
	items soakCounts
}

// soakGarbage returns the garbage bodies: unreadable protobuf, spans and
// points that cannot describe a request, huge values, empty containers.
func soakGarbage(rng *rand.Rand) []soakBody {
	now := time.Now()
	ns := func(t time.Time) uint64 { return uint64(t.UnixNano()) }
	valid := newHOSpans("soak-01")
	valid.addSpread(rng, 50, time.Millisecond, time.Second, now.Add(-5*time.Second), now)
	whole := hoTracesBody(valid.td)
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rng.UintN(256))
	}

	bad := newHOSpans("soak-01")
	bad.add(rng, 0, ns(now))
	bad.add(rng, ns(now.Add(-time.Second)), 0)
	bad.add(rng, ns(now.Add(-3*time.Hour)), ns(now))
	zero := bad.add(rng, ns(now.Add(-time.Second)), ns(now))
	zero.SetTraceID(pcommon.TraceID{})
	zero.SetSpanID(pcommon.SpanID{})

	huge := newHOSpans(strings.Repeat("s", 64<<10))
	hs := huge.add(rng, ns(now.Add(-time.Second)), ns(now))
	hs.Attributes().PutStr("http.route", strings.Repeat("/r", 512<<10))
	hs.Attributes().PutStr("note", strings.Repeat("x", 1<<20))

	empty := ptrace.NewTraces()
	empty.ResourceSpans().AppendEmpty()
	empty.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	emptyMetrics := pmetric.NewMetrics()
	emptyMetrics.ResourceMetrics().AppendEmpty()
	sm := emptyMetrics.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	sm.Metrics().AppendEmpty().SetName(soMetricName)
	sm.Metrics().AppendEmpty().SetName(soMetricName + ".empty")
	sm.Metrics().At(1).SetEmptyExponentialHistogram()

	points := newHOMetrics("soak-01")
	withBound := func(i int, v float64) []float64 {
		b := append([]float64(nil), soBounds...)
		b[i] = v
		return b
	}
	counts := hoCountsAt(len(soBounds)+1, 3, 4, 5)
	delta := pmetric.AggregationTemporalityDelta
	points.explicit("-Inf", delta, ns(now.Add(-10*time.Second)), ns(now), withBound(0, math.Inf(-1)), counts)
	points.explicit("NaN", delta, ns(now.Add(-10*time.Second)), ns(now), withBound(4, math.NaN()), counts)
	points.explicit("mismatch", delta, ns(now.Add(-10*time.Second)), ns(now), soBounds, counts[:3])
	points.explicit("start 0", pmetric.AggregationTemporalityCumulative, 0, ns(now), soBounds, counts)

	return []soakBody{
		{kind: "truncated protobuf", path: tracesPath, body: whole[:len(whole)/2]},
		{kind: "random bytes", path: metricsPath, body: random},
		{kind: "garbage spans, zero IDs", path: tracesPath, body: hoTracesBody(bad.td), items: soakCounts{spans: bad.ss.Len()}},
		{kind: "huge attribute values", path: tracesPath, body: hoTracesBody(huge.td), items: soakCounts{spans: 1}},
		{kind: "empty resources", path: tracesPath, body: hoTracesBody(empty)},
		{kind: "empty resources", path: metricsPath, body: hoMetricsBody(emptyMetrics)},
		{kind: "garbage points", path: metricsPath, body: hoMetricsBody(points.md), items: soakCounts{points: points.md.DataPointCount()}},
	}
}

// soakRow is one sample of the soak table.
type soakRow struct {
	at              time.Duration
	rss, heap, live float64
	spans, streams  int
	in, out         soakCounts
	hostileN        int
	hostileMax      time.Duration
	hostileMaxKind  string
	processorIn     soakCounts
	processorOut    soakCounts
}

type soakSampler struct {
	rows []soakRow
	mu   sync.Mutex
	done chan struct{}
	wg   sync.WaitGroup
	take func() soakRow
}

func startSoakSampler(t *testing.T, c *hoCollector, sink *soakSink, gen *soakGen, every time.Duration) *soakSampler {
	began := time.Now()
	s := &soakSampler{done: make(chan struct{})}
	seen := 0
	s.take = func() soakRow {
		tel, err := harness.ScrapeMetricsPage(c.telemetryURL())
		if err != nil {
			t.Logf("scrape: %v", err)
		}
		row := soakRow{
			at: time.Since(began), rss: hoRSS(c.proc.Pid()), live: -1,
			heap:    harness.SumMetric(tel, "otelcol_process_runtime_heap_alloc_bytes"),
			spans:   int(harness.SumMetric(tel, "otelcol_processor_exemplar_index_spans")),
			streams: int(harness.SumMetric(tel, "otelcol_processor_exemplar_streams_tracked")),
			in:      gen.accepted(), out: sink.counts(),
		}
		for i, sig := range []string{"traces", "metrics"} {
			pin := hoCount(tel, "otelcol_processor_incoming_items", `processor="exemplar"`, `otel_signal="`+sig+`"`)
			pout := hoCount(tel, "otelcol_processor_outgoing_items", `processor="exemplar"`, `otel_signal="`+sig+`"`)
			if i == 0 {
				row.processorIn.spans, row.processorOut.spans = pin, pout
			} else {
				row.processorIn.points, row.processorOut.points = pin, pout
			}
		}
		if lives := hoGCLives(c.proc.Output()); len(lives) > 0 {
			row.live = lives[len(lives)-1]
		}
		gen.mu.Lock()
		for _, h := range gen.hostile[seen:] {
			row.hostileN++
			if h.elapsed > row.hostileMax {
				row.hostileMax, row.hostileMaxKind = h.elapsed, h.kind
			}
		}
		seen = len(gen.hostile)
		gen.mu.Unlock()
		return row
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			select {
			case <-s.done:
				return
			case <-time.After(every):
			}
			row := s.take()
			s.mu.Lock()
			s.rows = append(s.rows, row)
			s.mu.Unlock()
		}
	}()
	return s
}

// stop ends the sampling and takes a last row.
func (s *soakSampler) stop() []soakRow {
	close(s.done)
	s.wg.Wait()
	s.rows = append(s.rows, s.take())
	return s.rows
}

// soakTable formats the one table of the soak, and the hostile requests'
// latencies by kind.
func soakTable(rows []soakRow, gen *soakGen) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nsoak: index cap %d spans, stream cap %d; load %d spans/s, %d streams; hostile cycles %d\n",
		soakSpanCap, soakStreamCap, int(time.Second/soakTracesEvery)*soakSpansPerReq, soakServices*len(soEndpoints)*soakPods, soakHostileRuns)
	fmt.Fprintf(&b, "%8s %8s %9s %9s %8s %8s %19s %19s %8s %s\n", "time", "RSS MiB", "heap MiB", "live MiB", "indexed", "streams", "spans in/out", "points in/out", "hostile", "slowest hostile request")
	for _, r := range rows {
		fmt.Fprintf(&b, "%8s %8s %9s %9s %8d %8d %19s %19s %8d %s\n",
			r.at.Round(time.Second), hoMiB(r.rss), hoMiB(r.heap), hoMiBOr(r.live), r.spans, r.streams,
			fmt.Sprintf("%d/%d", r.in.spans, r.out.spans), fmt.Sprintf("%d/%d", r.in.points, r.out.points),
			r.hostileN, soakSlowest(r))
	}
	gen.mu.Lock()
	defer gen.mu.Unlock()
	byKind := map[string][]soakHostile{}
	for _, h := range gen.hostile {
		byKind[h.kind] = append(byKind[h.kind], h)
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	fmt.Fprintf(&b, "hostile requests by kind (round trip; status):\n")
	for _, k := range kinds {
		var worst, total time.Duration
		statuses := map[int]int{}
		for _, h := range byKind[k] {
			worst = max(worst, h.elapsed)
			total += h.elapsed
			statuses[h.status]++
		}
		fmt.Fprintf(&b, "  %-26s n=%-4d mean %-10s max %-10s statuses %v\n", k, len(byKind[k]),
			(total / time.Duration(len(byKind[k]))).Round(100*time.Microsecond), worst.Round(100*time.Microsecond), statuses)
	}
	last := rows[len(rows)-1]
	fmt.Fprintf(&b, "exemplar processor items in/out: spans %d/%d, points %d/%d; requests refused by kind: %v\n",
		last.processorIn.spans, last.processorOut.spans, last.processorIn.points, last.processorOut.points, gen.refused)
	return b.String()
}

func soakSlowest(r soakRow) string {
	if r.hostileN == 0 {
		return "-"
	}
	return fmt.Sprintf("%s (%s)", r.hostileMax.Round(time.Millisecond), r.hostileMaxKind)
}

// soakCheck fails the soak on what must hold whatever the load: the
// collector alive, every accepted item delivered, the exemplar processor
// passing on what it got, the caps reached and held, unreadable bodies
// refused and nothing else.
func soakCheck(t *testing.T, c *hoCollector, sink *soakSink, gen *soakGen, rows []soakRow) {
	t.Helper()
	if c.proc.Exited() {
		t.Errorf("the collector exited")
	}
	last := rows[len(rows)-1]
	if in, out := gen.accepted(), sink.counts(); in != out {
		t.Errorf("items accepted %+v, delivered to the sink %+v", in, out)
	}
	if last.processorIn != last.processorOut {
		t.Errorf("exemplar processor: incoming %+v, outgoing %+v", last.processorIn, last.processorOut)
	}
	maxSpans, maxStreams := 0, 0
	for _, r := range rows {
		maxSpans, maxStreams = max(maxSpans, r.spans), max(maxStreams, r.streams)
	}
	if maxSpans != soakSpanCap || maxStreams != soakStreamCap {
		t.Errorf("index held at most %d spans (cap %d), streams at most %d (cap %d): the soak must reach the caps and never pass them",
			maxSpans, soakSpanCap, maxStreams, soakStreamCap)
	}
	gen.mu.Lock()
	defer gen.mu.Unlock()
	for kind, n := range gen.refused {
		if kind != "truncated protobuf" && kind != "random bytes" {
			t.Errorf("%d %q requests were refused", n, kind)
		}
	}
}

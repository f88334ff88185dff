// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package harness // import "github.com/otelcol-exemplar/otelcol-exemplar/e2e/harness"

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// PrometheusBinary returns the Prometheus server binary: $PROMETHEUS_BIN,
// else Debian's /usr/bin/prometheus (installed by scripts/ensure-prometheus.sh,
// which `make e2e` runs first).
func PrometheusBinary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("PROMETHEUS_BIN")
	if bin == "" {
		bin = "/usr/bin/prometheus"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("Prometheus server missing (run scripts/ensure-prometheus.sh as root, or set PROMETHEUS_BIN): %v", err)
	}
	return bin
}

// Prometheus is a Prometheus server of one test: its own loopback port,
// storage directory and configuration, exemplar storage and the
// remote-write receiver switched on.
type Prometheus struct {
	*Process
	// URL is the server's base URL, http://127.0.0.1:port.
	URL string
}

// StartPrometheus starts Prometheus scraping targets (host:port on
// loopback, path /metrics) every scrapeInterval, and waits until it is ready.
func StartPrometheus(t testing.TB, scrapeInterval time.Duration, targets ...string) *Prometheus {
	t.Helper()
	dir := t.TempDir()
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = strconv.Quote(tg)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
  evaluation_interval: %[1]s
scrape_configs:
  - job_name: otelcol
    static_configs:
      - targets: [%[2]s]
`, scrapeInterval, strings.Join(quoted, ", "))
	if len(targets) == 0 {
		cfg = "global:\n  scrape_interval: " + scrapeInterval.String() + "\n"
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	p := Start(t, "prometheus", dir, nil, PrometheusBinary(t),
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port),
		"--enable-feature=exemplar-storage",
		"--web.enable-remote-write-receiver",
	)
	prom := &Prometheus{Process: p, URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	WaitHTTP(t, p, prom.URL+"/-/ready", 60*time.Second)
	return prom
}

// RemoteWriteURL is where a remote-write client sends to this server.
func (p *Prometheus) RemoteWriteURL() string { return p.URL + "/api/v1/write" }

// PromExemplar is one exemplar returned by /api/v1/query_exemplars.
type PromExemplar struct {
	Labels map[string]string `json:"labels"`
	// Value is the exemplar value as Prometheus formats it.
	Value string `json:"value"`
	// Timestamp is in seconds since the epoch, millisecond precision.
	Timestamp float64 `json:"timestamp"`
}

// PromExemplarSeries is the exemplars of one bucket series.
type PromExemplarSeries struct {
	SeriesLabels map[string]string `json:"seriesLabels"`
	Exemplars    []PromExemplar    `json:"exemplars"`
}

// QueryExemplars returns the exemplars stored for the series that query
// selects between start and end.
func (p *Prometheus) QueryExemplars(query string, start, end time.Time) ([]PromExemplarSeries, error) {
	var out []PromExemplarSeries
	err := p.apiGet("/api/v1/query_exemplars", url.Values{
		"query": {query},
		"start": {formatPromTime(start)},
		"end":   {formatPromTime(end)},
	}, &out)
	return out, err
}

// Series returns the label sets of the series that match selects.
func (p *Prometheus) Series(match string, start, end time.Time) ([]map[string]string, error) {
	var out []map[string]string
	err := p.apiGet("/api/v1/series", url.Values{
		"match[]": {match},
		"start":   {formatPromTime(start)},
		"end":     {formatPromTime(end)},
	}, &out)
	return out, err
}

// PromSample is one element of an instant query's vector result.
type PromSample struct {
	Metric map[string]string
	Value  float64
}

// Query evaluates an instant PromQL query whose result is a vector.
func (p *Prometheus) Query(query string) ([]PromSample, error) {
	var raw struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := p.apiGet("/api/v1/query", url.Values{"query": {query}}, &raw); err != nil {
		return nil, err
	}
	if raw.ResultType != "vector" {
		return nil, fmt.Errorf("query %q: result type %q, want vector", query, raw.ResultType)
	}
	out := make([]PromSample, 0, len(raw.Result))
	for _, r := range raw.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: value %v: %w", query, r.Value[1], err)
		}
		out = append(out, PromSample{Metric: r.Metric, Value: v})
	}
	return out, nil
}

func (p *Prometheus) apiGet(path string, params url.Values, data any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+path+"?"+params.Encode(), http.NoBody)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var envelope struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &envelope); err != nil {
		return fmt.Errorf("GET %s: %s: %w", path, resp.Status, err)
	}
	if envelope.Status != "success" {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, envelope.Error)
	}
	return json.Unmarshal(envelope.Data, data)
}

func formatPromTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1e3, 'f', 3, 64)
}

// ScrapeMetricsPage reads a Prometheus text exposition (such as the
// collector's own telemetry) and returns every sample by its series as
// written on the page, `name{labels}`, labels in page order.
func ScrapeMetricsPage(pageURL string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pageURL, http.NoBody)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", pageURL, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		// The value follows the last space outside the label braces.
		end := strings.LastIndexByte(line, '}')
		sp := strings.IndexByte(line[end+1:], ' ')
		if sp < 0 {
			continue
		}
		series := line[:end+1+sp]
		fields := strings.Fields(line[end+1+sp:])
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		out[series] = v
	}
	return out, sc.Err()
}

// SumMetric adds up the samples of metric whose labels include every
// name="value" pair given (as written on the page, e.g. `kind="replay"`).
func SumMetric(samples map[string]float64, metric string, labels ...string) float64 {
	var sum float64
	for series, v := range samples {
		name := series
		if i := strings.IndexByte(series, '{'); i >= 0 {
			name = series[:i]
		}
		if name != metric {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(series, "{"+l) && !strings.Contains(series, ","+l) {
				ok = false
				break
			}
		}
		if ok {
			sum += v
		}
	}
	return sum
}

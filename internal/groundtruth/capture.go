// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package groundtruth // import "github.com/otelcol-exemplar/otelcol-exemplar/internal/groundtruth"

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Capture is what real instrumented services sent to a collector, recorded
// with no processor in the pipeline: one batch per line of OTLP JSON, per
// signal, in arrival order within each signal.
type Capture struct {
	Name    string
	Traces  []ptrace.Traces
	Metrics []pmetric.Metrics
}

// LoadCapture reads dir/traces.jsonl and dir/metrics.jsonl.
func LoadCapture(dir string) (*Capture, error) {
	c := &Capture{Name: filepath.Base(dir)}
	var tu ptrace.JSONUnmarshaler
	err := readLines(filepath.Join(dir, "traces.jsonl"), func(line []byte) error {
		td, err := tu.UnmarshalTraces(line)
		c.Traces = append(c.Traces, td)
		return err
	})
	if err != nil {
		return nil, err
	}
	var mu pmetric.JSONUnmarshaler
	err = readLines(filepath.Join(dir, "metrics.jsonl"), func(line []byte) error {
		md, err := mu.UnmarshalMetrics(line)
		c.Metrics = append(c.Metrics, md)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// readLines calls fn with every non-empty line of path, however long.
func readLines(path string, fn func([]byte) error) (err error) {
	f, err := os.Open(path) //nolint:gosec // a test's own capture file
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("capture %s: %w", path, cerr)
		}
	}()
	r := bufio.NewReader(f)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if line = bytes.TrimSpace(line); len(line) > 0 {
			if ferr := fn(line); ferr != nil {
				return fmt.Errorf("capture %s line %d: %w", path, n, ferr)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("capture %s: %w", path, err)
		}
	}
}

// Signal says which file a batch came from.
type Signal int

// The two signals of a capture.
const (
	SignalTraces Signal = iota
	SignalMetrics
)

func (s Signal) String() string {
	if s == SignalTraces {
		return "traces"
	}
	return "metrics"
}

// Arrival is when one batch of a capture reaches the collector, as modelled.
type Arrival struct {
	Signal Signal
	// Index is the batch's line in its file, from 0.
	Index int
	At    time.Time
}

// How long after its content a batch arrives. The captures do not record
// it: metrics are exported right after they are collected; spans wait in
// the SDK's batch span processor (schedule delay 500 ms in the captures).
const (
	MetricsDelay = 50 * time.Millisecond
	SpansDelay   = 500 * time.Millisecond
)

// Schedule interleaves the capture's batches by modelled arrival: a metrics
// batch MetricsDelay after the latest time of its points, a spans batch
// SpansDelay after the latest end of its spans; never before the batch
// before it in its file (the files keep each signal's arrival order). Ties
// deliver spans first.
func (c *Capture) Schedule() []Arrival {
	out := make([]Arrival, 0, len(c.Traces)+len(c.Metrics))
	var last time.Time
	for i, td := range c.Traces {
		last = laterOf(last, latestEnd(td).Add(SpansDelay))
		out = append(out, Arrival{Signal: SignalTraces, Index: i, At: last})
	}
	last = time.Time{}
	for i, md := range c.Metrics {
		last = laterOf(last, latestPoint(md).Add(MetricsDelay))
		out = append(out, Arrival{Signal: SignalMetrics, Index: i, At: last})
	}
	sort.SliceStable(out, func(a, b int) bool {
		if !out[a].At.Equal(out[b].At) {
			return out[a].At.Before(out[b].At)
		}
		return out[a].Signal < out[b].Signal
	})
	return out
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func latestEnd(td ptrace.Traces) time.Time {
	var latest pcommon.Timestamp
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				latest = max(latest, spans.At(k).EndTimestamp())
			}
		}
	}
	return latest.AsTime()
}

func latestPoint(md pmetric.Metrics) time.Time {
	var latest pcommon.Timestamp
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				latest = max(latest, metricLatest(ms.At(k)))
			}
		}
	}
	return latest.AsTime()
}

func metricLatest(m pmetric.Metric) pcommon.Timestamp {
	var latest pcommon.Timestamp
	switch m.Type() {
	case pmetric.MetricTypeHistogram:
		for i := 0; i < m.Histogram().DataPoints().Len(); i++ {
			latest = max(latest, m.Histogram().DataPoints().At(i).Timestamp())
		}
	case pmetric.MetricTypeExponentialHistogram:
		for i := 0; i < m.ExponentialHistogram().DataPoints().Len(); i++ {
			latest = max(latest, m.ExponentialHistogram().DataPoints().At(i).Timestamp())
		}
	case pmetric.MetricTypeSum:
		for i := 0; i < m.Sum().DataPoints().Len(); i++ {
			latest = max(latest, m.Sum().DataPoints().At(i).Timestamp())
		}
	case pmetric.MetricTypeGauge:
		for i := 0; i < m.Gauge().DataPoints().Len(); i++ {
			latest = max(latest, m.Gauge().DataPoints().At(i).Timestamp())
		}
	case pmetric.MetricTypeSummary:
		for i := 0; i < m.Summary().DataPoints().Len(); i++ {
			latest = max(latest, m.Summary().DataPoints().At(i).Timestamp())
		}
	default:
	}
	return latest
}

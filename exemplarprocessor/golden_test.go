// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Golden tests feed pdata read from testdata/golden/<case>/NN_*_in.yaml
// through one processor instance, step by step, and compare each output with
// NN_*_out.yaml. `go test -run Golden -update` rewrites the files from the
// builders below; every case also asserts its point in code, so a
// regenerated file that changes behaviour still fails.
var update = flag.Bool("update", false, "rewrite golden files")

// step is one batch: traces or metrics, processed at clock time at.
type step struct {
	at      time.Time
	traces  func() ptrace.Traces
	metrics func() pmetric.Metrics
}

type goldenCase struct {
	name  string
	cfg   func(*Config)
	steps []step
	// check asserts what a user would notice, on the outputs in step order
	// (ptrace.Traces or pmetric.Metrics).
	check func(t *testing.T, h *harness, outs []any)
}

func runGolden(t *testing.T, tc goldenCase) {
	t.Helper()
	cfg := createDefaultConfig()
	if tc.cfg != nil {
		tc.cfg(cfg)
	}
	h := newHarness(t, cfg)
	dir := filepath.Join("testdata", "golden", tc.name)
	if *update {
		require.NoError(t, os.MkdirAll(dir, 0o755))
	}
	var outs []any
	for i, s := range tc.steps {
		h.clock.Set(s.at)
		switch {
		case s.traces != nil:
			in := filepath.Join(dir, fmt.Sprintf("%02d_traces_in.yaml", i))
			want := filepath.Join(dir, fmt.Sprintf("%02d_traces_out.yaml", i))
			if *update {
				require.NoError(t, golden.WriteTraces(t, in, s.traces()))
			}
			td, err := golden.ReadTraces(in)
			require.NoError(t, err)
			got := h.consumeTraces(t, td)
			if *update {
				require.NoError(t, golden.WriteTraces(t, want, got))
			}
			expected, err := golden.ReadTraces(want)
			require.NoError(t, err)
			require.NoError(t, ptracetest.CompareTraces(expected, got), "step %d", i)
			outs = append(outs, got)
		default:
			in := filepath.Join(dir, fmt.Sprintf("%02d_metrics_in.yaml", i))
			want := filepath.Join(dir, fmt.Sprintf("%02d_metrics_out.yaml", i))
			if *update {
				require.NoError(t, golden.WriteMetrics(t, in, s.metrics(), golden.SkipMetricTimestampNormalization()))
			}
			md, err := golden.ReadMetrics(in)
			require.NoError(t, err)
			got := h.consumeMetrics(t, md)
			if *update {
				require.NoError(t, golden.WriteMetrics(t, want, got, golden.SkipMetricTimestampNormalization()))
			}
			expected, err := golden.ReadMetrics(want)
			require.NoError(t, err)
			require.NoError(t, pmetrictest.CompareMetrics(expected, got), "step %d", i)
			outs = append(outs, got)
		}
	}
	if tc.check != nil {
		tc.check(t, h, outs)
	}
}

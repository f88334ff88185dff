package exemplarprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

func TestSmokeDelta(t *testing.T) {
	h := newHarness(t, createDefaultConfig())
	end := t0.Add(5 * time.Second)
	h.consumeTraces(t, tracesOf(serverSpan(1, "shop", "/a", end, 30*time.Millisecond), serverSpan(2, "shop", "/a", end.Add(time.Second), 3*time.Millisecond)))
	h.clock.Set(t0.Add(11 * time.Second))
	md := h.consumeMetrics(t, metricsOf(serverHist("shop", t0, t0.Add(10*time.Second), []uint64{1, 0, 0, 1, 0, 0, 0, 0, 0})))
	exs := exemplarsOf(md)
	require.Equal(t, 2, exs.Len())
	assert.Equal(t, traceID(2), exs.At(0).TraceID())
	assert.InDelta(t, 0.003, exs.At(0).DoubleValue(), 1e-12)
	assert.Equal(t, traceID(1), exs.At(1).TraceID())
	assert.Equal(t, pcommon.NewTimestampFromTime(end), exs.At(1).Timestamp())
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	custom := createDefaultConfig()
	custom.ResourceKeys = []string{"service.name"}
	custom.Index = IndexConfig{MaxSpans: 50000, TTL: 90 * time.Second, MaxSpanDuration: 10 * time.Minute}
	custom.Duplicates = DuplicatesConfig{Window: 30 * time.Second, Action: ActionDropReplays, Attribute: "dup", LogInterval: 5 * time.Minute}
	custom.DefaultRules = false
	custom.Rules = []RuleConfig{
		{Metric: "checkout.duration", SpanKind: "server", Attributes: map[string]string{"route": "http.route"}, Unit: "ms"},
		{MetricRegex: `queue\..*\.size`, SpanKind: "consumer", ValueAttribute: "messaging.batch.message_count"},
	}
	custom.Exemplars = ExemplarsConfig{MaxPerDataPoint: 4, FilteredAttributes: []string{"http.route"}, Dangling: DanglingReplace, DanglingGrace: 20 * time.Second, DurationTolerance: time.Millisecond, LateSpanWindow: 45 * time.Second}
	custom.ExactJoin = ExactJoinConfig{TraceIDAttribute: "traceId", SpanIDAttribute: "spanId", RemoveAttributes: true}
	custom.Streams = StreamsConfig{MaxStreams: 1000, IdleTimeout: 5 * time.Minute, MaxBuckets: 64}
	custom.DeltaHold = DeltaHoldConfig{Delay: 15 * time.Second, MaxDataPoints: 5000}

	for _, tc := range []struct {
		id   component.ID
		want *Config
	}{
		{id: component.NewID(metadata.Type), want: createDefaultConfig()},
		{id: component.NewIDWithName(metadata.Type, "custom"), want: custom},
	} {
		t.Run(tc.id.String(), func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tc.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			require.NoError(t, confmap.Validate(cfg))
			assert.Equal(t, tc.want, cfg)
		})
	}
}

// Every configuration error names the field and the offending value.
func TestValidateNamesFieldAndValue(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   []string
	}{
		{"max_spans", func(c *Config) { c.Index.MaxSpans = 0 }, []string{"index.max_spans", "0"}},
		{"max_spans too large", func(c *Config) { c.Index.MaxSpans = 20_000_000 }, []string{"index.max_spans", "20000000"}},
		{"ttl", func(c *Config) { c.Index.TTL = -time.Second }, []string{"index.ttl", "-1s"}},
		{"window", func(c *Config) { c.Duplicates.Window = 5 * time.Minute }, []string{"duplicates.window", "5m0s"}},
		{"action", func(c *Config) { c.Duplicates.Action = "drop" }, []string{"duplicates.action", `"drop"`}},
		{"attribute", func(c *Config) { c.Duplicates.Attribute = "" }, []string{"duplicates.attribute"}},
		{"log_interval", func(c *Config) { c.Duplicates.LogInterval = 0 }, []string{"duplicates.log_interval", "0s"}},
		{"max_per_data_point", func(c *Config) { c.Exemplars.MaxPerDataPoint = -1 }, []string{"exemplars.max_per_data_point", "-1"}},
		{"dangling", func(c *Config) { c.Exemplars.Dangling = "fix" }, []string{"exemplars.dangling", `"fix"`}},
		{"dangling_grace", func(c *Config) { c.Exemplars.DanglingGrace = 3 * time.Minute }, []string{"exemplars.dangling_grace", "3m0s"}},
		{"tolerance", func(c *Config) { c.Exemplars.DurationTolerance = -time.Millisecond }, []string{"exemplars.duration_tolerance", "-1ms"}},
		{"filtered", func(c *Config) { c.Exemplars.FilteredAttributes = []string{"a", ""} }, []string{"exemplars.filtered_attributes[1]"}},
		{"trace_id_attribute", func(c *Config) { c.ExactJoin.TraceIDAttribute = "" }, []string{"exact_join.trace_id_attribute"}},
		{"max_streams", func(c *Config) { c.Streams.MaxStreams = 0 }, []string{"streams.max_streams", "0"}},
		{"idle_timeout", func(c *Config) { c.Streams.IdleTimeout = 0 }, []string{"streams.idle_timeout", "0s"}},
		{"max_span_duration", func(c *Config) { c.Index.MaxSpanDuration = 0 }, []string{"index.max_span_duration", "0s"}},
		{"max_buckets", func(c *Config) { c.Streams.MaxBuckets = 0 }, []string{"streams.max_buckets", "0"}},
		{"late_span_window", func(c *Config) { c.Exemplars.LateSpanWindow = 3 * time.Minute }, []string{"exemplars.late_span_window", "3m0s", "index.ttl"}},
		{"hold delay", func(c *Config) { c.DeltaHold.Delay = -time.Second }, []string{"delta_hold.delay", "-1s"}},
		{"hold delay ttl", func(c *Config) { c.DeltaHold.Delay = 3 * time.Minute }, []string{"delta_hold.delay", "3m0s"}},
		{"hold points", func(c *Config) { c.DeltaHold.MaxDataPoints = 0 }, []string{"delta_hold.max_data_points", "0"}},
		{"resource key", func(c *Config) { c.ResourceKeys = []string{""} }, []string{"resource_keys[0]"}},
		{"no rules", func(c *Config) { c.DefaultRules = false }, []string{"rules", "default_rules"}},
		{"rule kind", func(c *Config) { c.Rules = []RuleConfig{{Metric: "m", SpanKind: "serverr"}} }, []string{"rules[0].span_kind", `"serverr"`}},
		{"rule metric", func(c *Config) { c.Rules = []RuleConfig{{SpanKind: "server"}} }, []string{"rules[0]", "metric"}},
		{"rule both", func(c *Config) { c.Rules = []RuleConfig{{Metric: "a", MetricRegex: "b", SpanKind: "server"}} }, []string{"rules[0]", `"a"`, `"b"`}},
		{"rule regex", func(c *Config) { c.Rules = []RuleConfig{{MetricRegex: "(", SpanKind: "server"}} }, []string{"rules[0].metric_regex", `"("`}},
		{"rule unit", func(c *Config) { c.Rules = []RuleConfig{{Metric: "m", SpanKind: "server", Unit: "By"}} }, []string{"rules[0].unit", `"By"`}},
		{"rule attribute", func(c *Config) {
			c.Rules = []RuleConfig{{Metric: "m", SpanKind: "server", Attributes: map[string]string{"route": ""}}}
		}, []string{"rules[0].attributes", `"route"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := createDefaultConfig()
			tc.mutate(cfg)
			err := confmap.Validate(cfg)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/rules"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
)

// Config configures the exemplar processor. The same component ID in a traces
// and a metrics pipeline shares one instance, so one Config drives both sides.
type Config struct {
	// ResourceKeys are the resource attributes that identify a service on
	// both signals. A span joins a data point only when every key has the
	// same value on both, or is absent on both.
	ResourceKeys []string `mapstructure:"resource_keys"`

	// Index bounds the span index.
	Index IndexConfig `mapstructure:"index"`

	// Duplicates configures duplicate span ID detection.
	Duplicates DuplicatesConfig `mapstructure:"duplicates"`

	// DefaultRules adds the built-in rules for the semantic-convention
	// duration metrics after the configured Rules. Set false to use only Rules.
	DefaultRules bool `mapstructure:"default_rules"`

	// Rules select histogram metrics and say how their points join spans.
	// The first rule that matches a metric name wins.
	Rules []RuleConfig `mapstructure:"rules"`

	// Exemplars configures the exemplars attached.
	Exemplars ExemplarsConfig `mapstructure:"exemplars"`

	// ExactJoin configures data points that carry trace and span IDs as
	// attributes.
	ExactJoin ExactJoinConfig `mapstructure:"exact_join"`

	// Streams bounds the remembered previous point of each histogram stream.
	Streams StreamsConfig `mapstructure:"streams"`

	// DeltaHold holds delta metric batches back so late spans can join them.
	DeltaHold DeltaHoldConfig `mapstructure:"delta_hold"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// IndexConfig bounds the span index.
type IndexConfig struct {
	// MaxSpans caps the spans held; the oldest are evicted first.
	MaxSpans int `mapstructure:"max_spans"`
	// TTL is how long a span is held after it arrived. It should cover the
	// metric export interval plus how late spans arrive.
	TTL time.Duration `mapstructure:"ttl"`
	// MaxSpanDuration is the longest span indexed. A longer span, or one
	// with a zero start or end time, cannot describe a request a latency
	// histogram counted (a start time of 0 makes a span 56 years long): it
	// is passed on untouched, counted invalid, and never joined.
	MaxSpanDuration time.Duration `mapstructure:"max_span_duration"`
}

// Duplicate actions.
const (
	ActionFlag        = "flag"
	ActionDropReplays = "drop_replays"
)

// DuplicatesConfig configures duplicate span ID detection.
type DuplicatesConfig struct {
	// Window is how long after a span arrived its trace and span ID count as
	// taken. At most Index.TTL.
	Window time.Duration `mapstructure:"window"`
	// Action is flag (mark duplicates with Attribute) or drop_replays (remove
	// re-exported copies, still only flag collisions).
	Action string `mapstructure:"action"`
	// Attribute is the span attribute set on duplicates, to replay or
	// collision. The first copy is never modified.
	Attribute string `mapstructure:"attribute"`
	// LogInterval is the least time between two warnings about one service.
	LogInterval time.Duration `mapstructure:"log_interval"`
}

// RuleConfig selects a histogram metric and says how its points join spans.
type RuleConfig struct {
	// Metric is the exact metric name.
	Metric string `mapstructure:"metric"`
	// MetricRegex is an RE2 pattern that must match the whole metric name.
	MetricRegex string `mapstructure:"metric_regex"`
	// SpanKind is the kind of span that produced the metric: server, client,
	// producer, consumer or internal.
	SpanKind string `mapstructure:"span_kind"`
	// Attributes maps data point attribute names to span attribute names. A
	// point's mapped attribute must equal the span's; old and stable
	// semantic-convention names of a span attribute are aliases.
	Attributes map[string]string `mapstructure:"attributes"`
	// ValueAttribute names a numeric span attribute used as the value; empty
	// means the span duration converted to the metric's unit.
	ValueAttribute string `mapstructure:"value_attribute"`
	// Unit overrides the metric's unit (ns, us, ms, s, min, h).
	Unit string `mapstructure:"unit"`
}

// Dangling exemplar policies.
const (
	DanglingKeep    = "keep"
	DanglingDrop    = "drop"
	DanglingReplace = "replace"
)

// ExemplarsConfig configures the exemplars attached.
type ExemplarsConfig struct {
	// MaxPerDataPoint caps the exemplars a point carries after enrichment,
	// existing ones included; 0 means one per bucket. When capped, the
	// highest (slowest) buckets are filled first.
	MaxPerDataPoint int `mapstructure:"max_per_data_point"`
	// FilteredAttributes are span attributes copied onto exemplars while the
	// Prometheus exemplar label budget (128 runes with trace_id and span_id)
	// allows.
	FilteredAttributes []string `mapstructure:"filtered_attributes"`
	// Dangling is what happens to an existing exemplar whose span was not
	// seen within the TTL: keep, drop, or replace with a matching span.
	Dangling string `mapstructure:"dangling"`
	// DanglingGrace is how old an existing exemplar must be before a missing
	// span makes it dangling: younger spans may still be on their way.
	DanglingGrace time.Duration `mapstructure:"dangling_grace"`
	// DurationTolerance lets a span whose duration lies this close outside a
	// bucket that grew fill it when no span inside does, with the exemplar
	// value clamped to the bucket's bound. Instrumentations time the metric
	// and the span separately (otelhttp: the span lasts tens of microseconds
	// to a few milliseconds longer), so at a bound the request's span can
	// fall in the neighbouring bucket. 0 disables.
	DurationTolerance time.Duration `mapstructure:"duration_tolerance"`
	// LateSpanWindow is how long after a cumulative bucket grew without an
	// exemplar it may still take a span that arrives late (on a later point
	// of the stream). It must cover how late spans reach the collector: the
	// SDK's batch delay, a gateway's queues, a tail sampler's decision_wait.
	// At most index.ttl, or the span is gone before it could be used.
	LateSpanWindow time.Duration `mapstructure:"late_span_window"`
}

// ExactJoinConfig configures data points that carry their span's IDs.
type ExactJoinConfig struct {
	// TraceIDAttribute is the data point attribute holding a hex trace ID.
	TraceIDAttribute string `mapstructure:"trace_id_attribute"`
	// SpanIDAttribute is the data point attribute holding a hex span ID.
	SpanIDAttribute string `mapstructure:"span_id_attribute"`
	// RemoveAttributes removes both attributes and merges the points that
	// then belong to one stream, undoing the cardinality of the workaround.
	RemoveAttributes bool `mapstructure:"remove_attributes"`
}

// StreamsConfig bounds the state kept per histogram stream.
type StreamsConfig struct {
	// MaxStreams caps the streams remembered; the least recently seen go first.
	MaxStreams int `mapstructure:"max_streams"`
	// IdleTimeout forgets a stream not seen for this long.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// MaxBuckets is the most buckets a histogram point may have to be
	// enriched (explicit: bounds + 1; exponential: both ranges + the zero
	// bucket). A point with more passes untouched, counted
	// too_many_buckets: the work per point and the state per stream are
	// bounded by it.
	MaxBuckets int `mapstructure:"max_buckets"`
}

// DeltaHoldConfig holds back batches with delta histograms.
type DeltaHoldConfig struct {
	// Delay is how long a batch is held; 0 disables holding.
	Delay time.Duration `mapstructure:"delay"`
	// MaxDataPoints caps the data points held; when full, the oldest batch is
	// released early.
	MaxDataPoints int `mapstructure:"max_data_points"`
}

func createDefaultConfig() *Config {
	return &Config{
		ResourceKeys: []string{"service.namespace", "service.name", "service.instance.id"},
		Index: IndexConfig{
			MaxSpans:        1_000_000,
			TTL:             2 * time.Minute,
			MaxSpanDuration: time.Hour,
		},
		Duplicates: DuplicatesConfig{
			Window:      2 * time.Minute,
			Action:      ActionFlag,
			Attribute:   "exemplar.duplicate_span",
			LogInterval: time.Minute,
		},
		DefaultRules: true,
		Exemplars: ExemplarsConfig{
			Dangling:          DanglingKeep,
			DanglingGrace:     30 * time.Second,
			DurationTolerance: 2 * time.Millisecond,
			LateSpanWindow:    time.Minute,
		},
		ExactJoin: ExactJoinConfig{
			TraceIDAttribute: "trace_id",
			SpanIDAttribute:  "span_id",
		},
		Streams: StreamsConfig{
			MaxStreams:  100_000,
			IdleTimeout: 10 * time.Minute,
			// The SDKs' default exponential histogram keeps at most 160
			// buckets per range: 2 x 160 and the zero bucket.
			MaxBuckets: 321,
		},
		DeltaHold: DeltaHoldConfig{
			MaxDataPoints: 100_000,
		},
	}
}

// maxBucketsLimit bounds streams.max_buckets: an exponential histogram at
// its finest scale over a wide range needs a few thousand buckets; more
// would let one point cost milliseconds.
const maxBucketsLimit = 4096

// problems collects configuration errors; each names the field and value.
type problems []error

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Errorf(format, args...)) }

// Validate checks the configuration; every error names the field and value.
func (cfg *Config) Validate() error {
	var p problems
	for i, k := range cfg.ResourceKeys {
		if k == "" {
			p.addf("resource_keys[%d]: must not be empty", i)
		}
	}
	cfg.validateIndex(&p)
	cfg.validateExemplars(&p)
	cfg.validateStreams(&p)
	if cfg.ExactJoin.TraceIDAttribute == "" {
		p.addf("exact_join.trace_id_attribute: must not be empty")
	}
	if cfg.ExactJoin.SpanIDAttribute == "" {
		p.addf("exact_join.span_id_attribute: must not be empty")
	}
	if !cfg.DefaultRules && len(cfg.Rules) == 0 {
		p.addf("rules: empty while default_rules is false: no metric would get exemplars")
	}
	if _, err := cfg.compileRules(); err != nil {
		p = append(p, err)
	}
	return errors.Join(p...)
}

// validateIndex checks index and duplicates.
func (cfg *Config) validateIndex(p *problems) {
	if cfg.Index.MaxSpans < 1 || cfg.Index.MaxSpans > spanindex.MaxSpans {
		p.addf("index.max_spans: %d must be between 1 and %d", cfg.Index.MaxSpans, spanindex.MaxSpans)
	}
	if cfg.Index.TTL <= 0 {
		p.addf("index.ttl: %s must be positive", cfg.Index.TTL)
	}
	if cfg.Index.MaxSpanDuration <= 0 {
		p.addf("index.max_span_duration: %s must be positive", cfg.Index.MaxSpanDuration)
	}
	if cfg.Duplicates.Window < 0 || cfg.Duplicates.Window > cfg.Index.TTL {
		p.addf("duplicates.window: %s must be between 0 and index.ttl (%s): spans are only remembered that long", cfg.Duplicates.Window, cfg.Index.TTL)
	}
	if cfg.Duplicates.Action != ActionFlag && cfg.Duplicates.Action != ActionDropReplays {
		p.addf("duplicates.action: %q must be %q or %q", cfg.Duplicates.Action, ActionFlag, ActionDropReplays)
	}
	if cfg.Duplicates.Attribute == "" {
		p.addf("duplicates.attribute: must not be empty")
	}
	if cfg.Duplicates.LogInterval <= 0 {
		p.addf("duplicates.log_interval: %s must be positive", cfg.Duplicates.LogInterval)
	}
}

// validateExemplars checks exemplars.
func (cfg *Config) validateExemplars(p *problems) {
	ex, ttl := &cfg.Exemplars, cfg.Index.TTL
	if ex.MaxPerDataPoint < 0 {
		p.addf("exemplars.max_per_data_point: %d must not be negative (0 means one per bucket)", ex.MaxPerDataPoint)
	}
	switch ex.Dangling {
	case DanglingKeep, DanglingDrop, DanglingReplace:
	default:
		p.addf("exemplars.dangling: %q must be %q, %q or %q", ex.Dangling, DanglingKeep, DanglingDrop, DanglingReplace)
	}
	if ex.DanglingGrace < 0 || ex.DanglingGrace >= ttl {
		p.addf("exemplars.dangling_grace: %s must be at least 0 and below index.ttl (%s)", ex.DanglingGrace, ttl)
	}
	if ex.DurationTolerance < 0 {
		p.addf("exemplars.duration_tolerance: %s must not be negative (0 disables)", ex.DurationTolerance)
	}
	if ex.LateSpanWindow < 0 || ex.LateSpanWindow > ttl {
		p.addf("exemplars.late_span_window: %s must be between 0 and index.ttl (%s): a late span must still be indexed", ex.LateSpanWindow, ttl)
	}
	for i, k := range ex.FilteredAttributes {
		if k == "" {
			p.addf("exemplars.filtered_attributes[%d]: must not be empty", i)
		}
	}
}

// validateStreams checks streams and delta_hold.
func (cfg *Config) validateStreams(p *problems) {
	if cfg.Streams.MaxStreams < 1 {
		p.addf("streams.max_streams: %d must be at least 1", cfg.Streams.MaxStreams)
	}
	if cfg.Streams.IdleTimeout <= 0 {
		p.addf("streams.idle_timeout: %s must be positive", cfg.Streams.IdleTimeout)
	}
	if cfg.Streams.MaxBuckets < 1 || cfg.Streams.MaxBuckets > maxBucketsLimit {
		p.addf("streams.max_buckets: %d must be between 1 and %d", cfg.Streams.MaxBuckets, maxBucketsLimit)
	}
	hold, ttl := &cfg.DeltaHold, cfg.Index.TTL
	if hold.Delay < 0 {
		p.addf("delta_hold.delay: %s must not be negative (0 disables holding)", hold.Delay)
	}
	if hold.Delay > 0 && hold.Delay >= ttl {
		p.addf("delta_hold.delay: %s must be below index.ttl (%s) or the spans it waits for are gone", hold.Delay, ttl)
	}
	if hold.MaxDataPoints < 1 {
		p.addf("delta_hold.max_data_points: %d must be at least 1", hold.MaxDataPoints)
	}
}

func (cfg *Config) compileRules() (*rules.Set, error) {
	specs := make([]rules.Spec, len(cfg.Rules))
	for i, r := range cfg.Rules {
		specs[i] = rules.Spec{
			Metric:         r.Metric,
			MetricRegex:    r.MetricRegex,
			SpanKind:       r.SpanKind,
			Attributes:     r.Attributes,
			ValueAttribute: r.ValueAttribute,
			Unit:           r.Unit,
		}
	}
	set, err := rules.Compile(specs, cfg.DefaultRules, cfg.ResourceKeys, cfg.Exemplars.FilteredAttributes)
	if err != nil {
		return nil, err
	}
	for kind := range 6 {
		if n := len(cfg.ResourceKeys) + len(set.Dims(ptrace.SpanKind(kind))); n > spanindex.MaxKeyValues {
			return nil, fmt.Errorf("rules: %d resource keys and join attributes for one span kind exceed %d", n, spanindex.MaxKeyValues)
		}
	}
	return set, nil
}

func (cfg *Config) indexConfig() spanindex.Config {
	return spanindex.Config{
		MaxSpans:        cfg.Index.MaxSpans,
		TTL:             cfg.Index.TTL,
		DuplicateWindow: cfg.Duplicates.Window,
	}
}

// params returns the enrich parameters of a metric of rule (nil: exact joins
// only) with unit, and false when the unit is not a duration the rule can
// use.
func (cfg *Config) params(rule *rules.Rule, unit string) (*enrich.Params, bool) {
	p := &enrich.Params{
		ValueSlot:          -1,
		MaxPerPoint:        cfg.Exemplars.MaxPerDataPoint,
		FilteredAttributes: len(cfg.Exemplars.FilteredAttributes) > 0,
		Dangling:           danglingPolicy(cfg.Exemplars.Dangling),
		DanglingGrace:      cfg.Exemplars.DanglingGrace,
		TTL:                cfg.Index.TTL,
		LateWindow:         cfg.Exemplars.LateSpanWindow,
	}
	if rule == nil {
		return p, true
	}
	p.ValueSlot = rule.ValueSlot
	if rule.ValueSlot >= 0 {
		return p, true
	}
	u := unit
	if rule.Unit != "" {
		u = rule.Unit
	}
	nanos, ok := rules.UnitNanos(u)
	if !ok {
		return nil, false
	}
	p.UnitNanos = nanos
	p.Tolerance = float64(cfg.Exemplars.DurationTolerance.Nanoseconds()) / nanos
	p.ToleranceTime = cfg.Exemplars.DurationTolerance
	return p, true
}

// danglingPolicy is the enrich policy of a validated exemplars.dangling.
func danglingPolicy(s string) enrich.Dangling {
	switch s {
	case DanglingDrop:
		return enrich.DanglingDrop
	case DanglingReplace:
		return enrich.DanglingReplace
	default:
		return enrich.DanglingKeep
	}
}

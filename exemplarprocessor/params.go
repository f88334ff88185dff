// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"

import (
	"sync"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/rules"
)

// paramsCache holds the enrich parameters per (rule, metric unit): a
// pipeline sees few distinct pairs.
type paramsCache struct {
	cfg *Config

	mu sync.Mutex
	m  map[paramsKey]*enrich.Params
}

type paramsKey struct {
	rule *rules.Rule
	unit string
}

// maxParams bounds the cache: units are free text, so a misbehaving sender
// could vary them without end.
const maxParams = 1000

// get returns the parameters for a metric of rule (nil: exact joins only)
// with unit, and false when the unit is not a duration the rule can use.
func (pc *paramsCache) get(rule *rules.Rule, unit string) (*enrich.Params, bool) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	k := paramsKey{rule: rule, unit: unit}
	if p, ok := pc.m[k]; ok {
		return p, p != nil
	}
	if len(pc.m) > maxParams || pc.m == nil {
		pc.m = map[paramsKey]*enrich.Params{}
	}
	p, ok := pc.cfg.params(rule, unit)
	if !ok {
		pc.m[k] = nil
		return nil, false
	}
	pc.m[k] = p
	return p, true
}

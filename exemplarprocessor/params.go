// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package exemplarprocessor // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor"

import (
	"sync"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/lru"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/rules"
)

// paramsCache holds the enrich parameters per (rule, metric unit): a
// pipeline sees few distinct pairs.
type paramsCache struct {
	cfg *Config

	mu sync.Mutex
	m  *lru.Cache[paramsKey, *enrich.Params] // nil value: unit not usable
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
	if pc.m == nil {
		pc.m = lru.New[paramsKey, *enrich.Params](maxParams)
	}
	p, added := pc.m.GetOrAdd(paramsKey{rule: rule, unit: unit})
	if added {
		*p, _ = pc.cfg.params(rule, unit)
	}
	return *p, *p != nil
}

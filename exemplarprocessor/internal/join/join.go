// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Package join resolves a histogram data point to the span index groups its
// spans can come from: the spans that share the point's service (resource
// identity), the rule's span kind and the values of the attributes the rule
// maps. It runs before bucket choice, once per point; a stream's groups are
// cached in its state while the index says they have not changed, because a
// point's key often has wildcards (dimensions of other rules) and would scan
// every group of its service.
package join // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/join"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/rules"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/streams"
)

// Point is what the join needs of a data point.
type Point struct {
	Resource   pcommon.Map
	Rule       *rules.Rule
	Attributes pcommon.Map
}

// Resolver builds join keys and resolves them; one per metrics batch, not
// safe for concurrent use.
type Resolver struct {
	rules  *rules.Set
	key    *spanindex.Key
	groups []spanindex.GroupID
	ids    []uint32
	// keyed: the last Groups built the key (the cache was not valid).
	keyed bool
}

// NewResolver returns a resolver for the rules over idx.
func NewResolver(set *rules.Set, idx *spanindex.Index) *Resolver {
	return &Resolver{rules: set, key: idx.NewKey()}
}

// Groups returns the groups of pt's spans, valid until the index is next
// written: from st's cache while the index's generation for the stream's
// resource identity and span kind is unchanged, else by building the key.
func (j *Resolver) Groups(r spanindex.Reader, st *streams.State, pt Point) []spanindex.GroupID {
	j.groups = j.groups[:0]
	j.keyed = false
	if c := st.Groups(); c.Gen != 0 && r.GenerationOf(c.RK) == c.Gen {
		for _, g := range c.IDs {
			j.groups = append(j.groups, spanindex.GroupID(g))
		}
		return j.groups
	}
	j.rules.PointKey(j.key, pt.Resource, pt.Rule, pt.Attributes)
	j.keyed = true
	j.groups = r.Groups(j.key, j.groups)
	j.ids = j.ids[:0]
	for _, g := range j.groups {
		j.ids = append(j.ids, uint32(g))
	}
	st.CacheGroups(j.ids, r.Generation(j.key), j.key.RKHash())
	return j.groups
}

// ServiceKnown reports whether the index holds any span of the last
// resolved point's service. A valid cache means groups of the service's
// resource identity exist.
func (j *Resolver) ServiceKnown(r spanindex.Reader) bool {
	return !j.keyed || r.ServiceKnown(j.key)
}

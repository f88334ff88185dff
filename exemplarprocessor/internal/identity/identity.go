// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Package identity hashes attribute maps into stream identities without
// allocating. The hash does not depend on attribute order.
package identity // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/identity"

import (
	"hash/maphash"
	"math"
	"math/bits"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Hasher hashes attribute maps with one seed.
type Hasher struct {
	seed maphash.Seed
}

// New returns a Hasher with a random seed.
func New() Hasher { return Hasher{seed: maphash.MakeSeed()} }

func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// String hashes s.
func (h Hasher) String(s string) uint64 { return maphash.String(h.seed, s) }

// Combine folds b into a, order-dependent.
func Combine(a, b uint64) uint64 { return mix(bits.RotateLeft64(a, 21) ^ b) }

// Map hashes m, skipping the keys in skip: m hashes as the map without them
// would. Entries are combined by addition, so the order attributes arrive
// in does not matter.
func (h Hasher) Map(m pcommon.Map, skip ...string) uint64 {
	var sum, n uint64
	m.Range(func(k string, v pcommon.Value) bool {
		for _, s := range skip {
			if k == s {
				return true
			}
		}
		sum += mix(maphash.String(h.seed, k) ^ bits.RotateLeft64(h.Value(v), 7))
		n++
		return true
	})
	return mix(sum ^ n)
}

// Value hashes one attribute value; 200 and "200" differ here, as they are
// different streams.
func (h Hasher) Value(v pcommon.Value) uint64 {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return maphash.String(h.seed, v.Str())
	case pcommon.ValueTypeInt:
		return mix(uint64(v.Int()) ^ 0x1)
	case pcommon.ValueTypeDouble:
		return mix(math.Float64bits(v.Double()) ^ 0x2)
	case pcommon.ValueTypeBool:
		if v.Bool() {
			return 0x3
		}
		return 0x4
	case pcommon.ValueTypeEmpty:
		return 0x5
	default:
		return maphash.String(h.seed, v.AsString()) ^ uint64(v.Type())
	}
}

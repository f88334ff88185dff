// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package spanindex // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"

import (
	"hash/maphash"
	"math"
	"math/bits"
	"strconv"
)

// MaxKeyValues bounds the values of a Key: resource keys plus join attributes.
const MaxKeyValues = 32

const (
	valAbsent uint8 = iota
	valString
	valBytes // a formatted number in Key.buf
	valInt
	valAny
)

// keyVal is one value of a Key. Strings that are the decimal form of an
// int64 are held as that int, so 200 and "200" are one value without
// formatting the int (and the int hashes and compares as a word).
type keyVal struct {
	s     string
	i     int64 // valInt: the value; valBytes: offset<<16 | length in Key.buf
	state uint8
}

// storedVal is a keyVal as a group keeps it: strings copied.
type storedVal struct {
	s     string
	i     int64
	state uint8 // valAbsent, valString or valInt
}

// Key is a join group identity: the resource identity values, the span kind
// and the join attribute values (dimensions), in that order. Numbers equal
// their decimal strings, so 200 and "200" are equal. A dimension can be
// absent (equal only to absence) or, on the data point side, Any: such keys
// select every group that agrees on the other dimensions.
//
// A key keeps only the dimensions that have a value (present, a bit per
// dimension) and hashes them as they are added: a span of one rule family
// carries no values for the others' dimensions, and its key costs nothing
// for them. The resource values are hashed once per resource, not per span.
type Key struct {
	seed    maphash.Seed
	intSeed uint64

	res     [MaxKeyValues]keyVal
	nres    int
	resHash uint64
	resBuf  int // bytes of buf the resource values use

	kind    uint8
	kindSet bool
	rkHash  uint64

	dims    int    // dimensions added after the kind
	present uint32 // dimensions with a value
	bound   uint32 // dimensions with a value or absent: not Any
	vals    [MaxKeyValues]keyVal
	nvals   int
	dimHash uint64

	buf     [MaxKeyValues * 24]byte
	bufUsed int

	// memo remembers, for the writer, the resource identities and groups
	// this key resolved to recently (see groupTable.intern).
	memo *keyMemo
}

// NewKey returns a key whose hashes agree with idx.
func (idx *Index) NewKey() *Key {
	k := &Key{seed: idx.seed, intSeed: idx.intSeed}
	k.Reset()
	return k
}

const hashInit = 0x84222325cbf29ce4

// Reset empties the key.
func (k *Key) Reset() {
	k.nres, k.resHash, k.resBuf, k.bufUsed = 0, hashInit, 0, 0
	k.kindSet = false
	k.clearDims()
	if k.memo != nil {
		k.memo.rk = [len(k.memo.rk)]rkRef{}
	}
}

// TruncateToResource forgets the kind and the attribute values, keeping the
// resource values: the span side reuses a resource prefix for every span.
func (k *Key) TruncateToResource() {
	k.kindSet = false
	k.clearDims()
}

func (k *Key) clearDims() {
	k.dims, k.present, k.bound, k.nvals, k.dimHash = 0, 0, 0, 0, 0
	k.bufUsed = k.resBuf
}

// SetKind ends the resource values and records the span kind.
func (k *Key) SetKind(kind uint8) {
	k.kind, k.kindSet = kind, true
	k.rkHash = mix(k.resHash^uint64(kind)<<56, 0x9e3779b97f4a7c15)
	k.clearDims()
}

// RKHash identifies the key's resource identity and span kind; see
// Reader.GenerationOf.
func (k *Key) RKHash() uint64 { return k.rkHash }

// hash identifies the key's group: resource identity, kind, which
// dimensions have a value and the values.
func (k *Key) hash() uint64 {
	return mix(k.rkHash^k.dimHash, 0xa0761d6478bd642f^uint64(k.present)<<8)
}

// wild reports whether some dimension is Any.
func (k *Key) wild() bool { return k.bound != uint32(1<<k.dims-1) }

func (k *Key) add(v keyVal) {
	if !k.kindSet {
		if k.nres == MaxKeyValues {
			return
		}
		k.res[k.nres] = v
		k.resHash = combine(k.resHash, k.valHash(&v), k.nres)
		k.nres++
		k.resBuf = k.bufUsed
		if k.memo != nil {
			k.memo.rk = [len(k.memo.rk)]rkRef{}
		}
		return
	}
	if k.dims == MaxKeyValues {
		return
	}
	d := k.dims
	k.dims++
	switch v.state {
	case valAny:
		return
	case valAbsent:
		k.bound |= 1 << d
		return
	}
	k.bound |= 1 << d
	k.present |= 1 << d
	k.vals[k.nvals] = v
	k.nvals++
	k.dimHash = combine(k.dimHash, k.valHash(&v), d)
}

// AddString appends a string value.
func (k *Key) AddString(s string) {
	if i, ok := decimalInt(s); ok {
		k.add(keyVal{state: valInt, i: i})
		return
	}
	k.add(keyVal{state: valString, s: s})
}

// AddInt appends an integer value (equal to its decimal string).
func (k *Key) AddInt(i int64) { k.add(keyVal{state: valInt, i: i}) }

// AddDouble appends a floating point value in its shortest decimal form.
func (k *Key) AddDouble(f float64) {
	start := k.bufUsed
	b := strconv.AppendFloat(k.buf[start:start], f, 'g', -1, 64)
	if i, ok := decimalInt(b); ok {
		k.add(keyVal{state: valInt, i: i})
		return
	}
	if len(b) > 24 {
		k.add(keyVal{state: valString, s: string(b)})
		return
	}
	k.bufUsed += len(b)
	k.add(keyVal{state: valBytes, i: int64(start)<<16 | int64(len(b))})
}

// AddBool appends a boolean as "true" or "false".
func (k *Key) AddBool(v bool) { k.add(keyVal{state: valString, s: strconv.FormatBool(v)}) }

// AddAbsent appends a value that is not there; it equals only absence.
func (k *Key) AddAbsent() {
	if k.kindSet && k.dims < MaxKeyValues {
		k.bound |= 1 << k.dims
		k.dims++
		return
	}
	k.add(keyVal{state: valAbsent})
}

// AddAny appends a wildcard: the data point does not constrain this value.
func (k *Key) AddAny() { k.add(keyVal{state: valAny}) }

func (k *Key) bytesOf(v *keyVal) []byte {
	off, n := v.i>>16, v.i&0xffff
	return k.buf[off : off+n]
}

func (k *Key) valHash(v *keyVal) uint64 {
	switch v.state {
	case valString:
		return maphash.String(k.seed, v.s)
	case valBytes:
		return maphash.Bytes(k.seed, k.bytesOf(v))
	case valInt:
		return mix(uint64(v.i)^k.intSeed, 0xe7037ed1a0b428db)
	default:
		return uint64(v.state)
	}
}

// equal reports whether v equals a stored value.
func (k *Key) equal(v *keyVal, s *storedVal) bool {
	switch v.state {
	case valAny:
		return true
	case valString:
		return s.state == valString && v.s == s.s
	case valBytes:
		return s.state == valString && string(k.bytesOf(v)) == s.s
	case valInt:
		return s.state == valInt && v.i == s.i
	default:
		return s.state == valAbsent
	}
}

// store copies v for a group: strings may point into the caller's pdata.
func (k *Key) store(v *keyVal) storedVal {
	switch v.state {
	case valString:
		return storedVal{state: valString, s: cloneString(v.s)}
	case valBytes:
		return storedVal{state: valString, s: string(k.bytesOf(v))}
	case valInt:
		return storedVal{state: valInt, i: v.i}
	default:
		return storedVal{}
	}
}

// cloneString copies s; a string that is already shared by every key (the
// empty one) is not copied.
func cloneString(s string) string {
	if s == "" {
		return ""
	}
	return string([]byte(s))
}

// resEqual reports whether the key's resource values equal stored ones.
func (k *Key) resEqual(stored []storedVal) bool { return k.allEqual(k.res[:k.nres], stored) }

// dimsEqual reports whether a group with present dimensions mask and
// values vals is the key's group: same dimensions present, equal values.
func (k *Key) dimsEqual(mask uint32, vals []storedVal) bool {
	return mask == k.present && k.allEqual(k.vals[:k.nvals], vals)
}

// allEqual reports whether the key's values vals equal stored ones.
func (k *Key) allEqual(vals []keyVal, stored []storedVal) bool {
	if len(stored) != len(vals) {
		return false
	}
	for i := range vals {
		if !k.equal(&vals[i], &stored[i]) {
			return false
		}
	}
	return true
}

// selects reports whether the key, which may hold wildcards, selects a
// group with present dimensions mask and values vals: every dimension the
// key binds is present on both with equal values, or absent on both.
func (k *Key) selects(mask uint32, vals []storedVal) bool {
	if mask&k.bound != k.present {
		return false
	}
	j := 0
	for m := k.present; m != 0; m &= m - 1 {
		d := bits.TrailingZeros32(m)
		at := bits.OnesCount32(mask & (1<<d - 1))
		if !k.equal(&k.vals[j], &vals[at]) {
			return false
		}
		j++
	}
	return true
}

// decimalInt returns the int64 whose decimal form s is, if s is one: digits
// with an optional minus sign, no leading zeros, "0" but not "-0".
func decimalInt[T string | []byte](s T) (int64, bool) {
	n := len(s)
	if n == 0 || n > 20 {
		return 0, false
	}
	i := 0
	if s[0] == '-' {
		i = 1
	}
	if i == n || (s[i] == '0' && (n > 1)) || n-i > 19 {
		return 0, false
	}
	var u uint64
	for ; i < n; i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		u = u*10 + uint64(c)
	}
	if s[0] == '-' {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true //nolint:gosec // u <= 2^63: -2^63 wraps to itself
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// mix is a 64x64->128 bit multiply folded to 64 bits: one multiplication
// that spreads every input bit (as wyhash's).
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// combine adds the hash of the i-th value to a running hash; positions
// count, so ("a", absent) and (absent, "a") differ.
func combine(h, vh uint64, i int) uint64 {
	return mix(h^vh, 0x8ebc6af09c88c6e3+uint64(i)<<32)
}

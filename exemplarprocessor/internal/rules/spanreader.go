// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package rules // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/rules"

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
)

// spanReader reads the join dimensions of one span kind in a single pass
// over a span's attributes: every attribute name it reads (each dimension's
// names and the attributes values are derived from) has a slot, found by the
// name's length and then compared. A dimension whose names are all missing
// costs no further lookup, and derivation reads only slots already filled.
type spanReader struct {
	byLen [maxIndexedNameLen][]slotName
	long  []slotName // names of maxIndexedNameLen bytes or more
	dims  []dimReader
	// families are the dimension sets of the kind's rules: a span that
	// carries nothing the dimensions outside a family read or derive from
	// (an HTTP span no RPC or database attribute) has no value there, and
	// only the family's dimensions are read.
	families []family
}

// family is the dimensions one rule joins on, plus those derived from the
// span's name (no attribute tells they are absent).
type family struct {
	dims uint32 // dimensions read
	// guard has the slot of every attribute a dimension outside dims reads
	// or derives from: a span with none of them has no value there.
	guard uint64
}

const (
	// maxSlots bounds the attribute names one span kind reads.
	maxSlots          = 64
	maxIndexedNameLen = 64
)

type slotName struct {
	name        string
	first, last byte // of name: most names of one length differ there
	slot        uint8
}

type dimReader struct {
	own    []uint8 // slots of the dimension's names, in precedence order
	form   valueForm
	derive []slotSource
}

type slotSource struct {
	slot uint8 // unused for partRouteFromName
	part part
}

var errTooManyNames = errors.New("the join reads more attribute names than fit")

// build prepares the reader for dims and the dimension sets of the rules
// (a bit per dimension).
func (r *spanReader) build(dims []Dim, ruleDims []uint32) error {
	slots := map[string]uint8{}
	slotOf := func(name string) (uint8, error) {
		if s, ok := slots[name]; ok {
			return s, nil
		}
		if len(slots) == maxSlots {
			return 0, fmt.Errorf("%w (%d)", errTooManyNames, maxSlots)
		}
		s := uint8(len(slots))
		slots[name] = s
		if n := len(name); n < maxIndexedNameLen {
			r.byLen[n] = append(r.byLen[n], newSlotName(name, s))
		} else {
			r.long = append(r.long, newSlotName(name, s))
		}
		return s, nil
	}
	r.dims = make([]dimReader, len(dims))
	for i, d := range dims {
		dr := dimReader{form: d.form}
		for _, name := range d.SpanKeys {
			s, err := slotOf(name)
			if err != nil {
				return err
			}
			dr.own = append(dr.own, s)
		}
		for _, src := range d.derive {
			ss := slotSource{part: src.part}
			if src.part != partRouteFromName {
				s, err := slotOf(src.attr)
				if err != nil {
					return err
				}
				ss.slot = s
			}
			dr.derive = append(dr.derive, ss)
		}
		r.dims[i] = dr
	}
	r.buildFamilies(ruleDims)
	return nil
}

func (r *spanReader) buildFamilies(ruleDims []uint32) {
	if len(r.dims) > 32 {
		return // every span reads every dimension
	}
	var byName uint32
	for i, d := range r.dims {
		for _, src := range d.derive {
			if src.part == partRouteFromName {
				byName |= 1 << i
			}
		}
	}
	for _, rd := range ruleDims {
		f := family{dims: rd | byName}
		if slices.ContainsFunc(r.families, func(o family) bool { return o.dims == f.dims }) {
			continue
		}
		for i, d := range r.dims {
			if f.dims&(1<<i) != 0 {
				continue
			}
			for _, s := range d.own {
				f.guard |= 1 << s
			}
			for _, src := range d.derive {
				f.guard |= 1 << src.slot
			}
		}
		r.families = append(r.families, f)
	}
}

// familyOf returns the dimensions to read for a span that carries the
// attributes of the found slots: those of the first family whose guard it
// passes, else all.
func (r *spanReader) familyOf(found uint64) uint32 {
	for _, f := range r.families {
		if found&f.guard == 0 {
			return f.dims
		}
	}
	return ^uint32(0)
}

func newSlotName(name string, s uint8) slotName {
	sn := slotName{name: name, slot: s}
	if n := len(name); n > 0 {
		sn.first, sn.last = name[0], name[n-1]
	}
	return sn
}

// slot returns the slot of an attribute name the reader reads. Names are
// compared only with those of their length, and those by their first and
// last bytes before the rest.
func (r *spanReader) slot(name string) (uint8, bool) {
	n := len(name)
	cands := r.long
	if n < maxIndexedNameLen {
		cands = r.byLen[n]
	}
	if len(cands) == 0 || n == 0 {
		return 0, false
	}
	first, last := name[0], name[n-1]
	for i := range cands {
		if c := &cands[i]; c.first == first && c.last == last && c.name == name {
			return c.slot, true
		}
	}
	return 0, false
}

// appendDims appends the value of every dimension of span to k: its own
// attribute, else the value derived per the conventions, else absent.
// vals is scratch space; it holds no value of the span when done (no
// reference to the caller's pdata outlives the call).
func (r *spanReader) appendDims(k *spanindex.Key, span ptrace.Span, vals *[maxSlots]pcommon.Value) {
	var found uint64
	for name, v := range span.Attributes().All() {
		// The first of duplicate keys wins, as with Map.Get.
		if s, ok := r.slot(name); ok && found&(1<<s) == 0 {
			vals[s] = v
			found |= 1 << s
		}
	}
	var urls urlMemo
	read := r.familyOf(found)
	for i := range r.dims {
		d := &r.dims[i]
		if read&(1<<i) == 0 {
			k.AddAbsent()
			continue
		}
		if !d.appendOwn(k, vals, found) && !d.appendDerived(k, derivation{vals: vals, found: found, urls: &urls, span: span}) {
			k.AddAbsent()
		}
	}
	for m := found; m != 0; m &= m - 1 {
		vals[bits.TrailingZeros64(m)] = pcommon.Value{}
	}
}

// derivation is what deriving a span's dimension reads: the span's
// attribute slots, and the URL parsed last (address and port come from one
// URL: it is parsed once).
type derivation struct {
	vals  *[maxSlots]pcommon.Value
	found uint64
	urls  *urlMemo
	span  ptrace.Span
}

type urlMemo struct {
	slot   uint8
	parsed bool
	ok     bool
	parts  urlParts
}

// url returns the parsed URL in a slot.
func (m *urlMemo) url(slot uint8, s string) (urlParts, bool) {
	if !m.parsed || m.slot != slot {
		m.parts, m.ok = splitURL(s)
		m.slot, m.parsed = slot, true
	}
	return m.parts, m.ok
}

func (d *dimReader) appendOwn(k *spanindex.Key, vals *[maxSlots]pcommon.Value, found uint64) bool {
	for _, s := range d.own {
		if found&(1<<s) != 0 {
			addForm(k, d.form, vals[s])
			return true
		}
	}
	return false
}

func (d *dimReader) appendDerived(k *spanindex.Key, in derivation) bool {
	for _, src := range d.derive {
		if src.part == partRouteFromName {
			if route, ok := RouteFromSpanName(in.span.Name()); ok {
				k.AddString(route)
				return true
			}
			continue
		}
		if in.found&(1<<src.slot) == 0 || in.vals[src.slot].Type() != pcommon.ValueTypeStr {
			continue
		}
		s := in.vals[src.slot].Str()
		if src.part.ofURL() {
			if u, ok := in.urls.url(src.slot, s); ok && appendURLPart(k, src.part, u) {
				return true
			}
		} else if appendPart(k, src.part, s) {
			return true
		}
	}
	return false
}

// appendPart appends the part of s a derivation reads, and reports whether s
// had it.
func appendPart(k *spanindex.Key, p part, s string) bool {
	switch p {
	case partHost, partPort:
		hp, ok := splitHostPort(s)
		switch {
		case !ok:
			return false
		case p == partHost:
			k.AddString(hp.host)
			return true
		case hp.hasPort:
			k.AddInt(hp.port)
			return true
		}
		return false
	case partTargetPath:
		if s == "" || s[0] != '/' {
			return false
		}
		k.AddString(pathOf(s))
		return true
	default:
		return false
	}
}

func appendURLPart(k *spanindex.Key, p part, u urlParts) bool {
	switch p {
	case partURLScheme:
		k.AddString(u.scheme)
	case partURLHost:
		k.AddString(u.host)
	case partURLPort:
		if !u.hasPort {
			return false
		}
		k.AddInt(u.port)
	case partURLPath:
		k.AddString(u.path)
	default:
		return false
	}
	return true
}

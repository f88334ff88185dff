// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// soReport compares what the workload sent with what tier 2 wrote.
type soReport struct {
	spansIn, spansOut   int
	pointsIn, pointsOut int
	lostSpans           int // copies sent but never written
	extraSpans          int // copies written more often than sent
	lostPoints          int
	extraPoints         int
	changedPoints       int // counts differ from what was sent

	instances map[string]*soInstanceFigures
	// spanHome and pointHome map each service to the instances its spans
	// and its points were written by.
	spanHome, pointHome map[string]map[string]bool

	replaysSent      int
	replaysFlagged   int
	unflaggedReplays int // replayed spans whose second copy carries no flag
	wrongFlags       int // flags on spans sent once, or on both copies
	collisions       int

	points    []soPointResult
	exemplars int
	// lateFills are exemplars on buckets that did not grow in their point
	// but grew without one earlier (a span that arrived after the point
	// that counted it), or on the first point an instance saw of a stream.
	lateFills int
	// staleExemplars sit on a bucket that neither grew nor owed one: the
	// exemplar shows a request that point did not count.
	staleExemplars    int
	bucketsWithTwo    int
	invalidExemplars  []string
	instanceOfService map[string]string
}

type soInstanceFigures struct {
	services  map[string]bool
	spansOut  int
	flagged   int
	pointsOut int
	exemplars int
}

// soPointResult is one written point: which buckets grew and which of those
// got an exemplar.
type soPointResult struct {
	instance    string
	incarnation int
	service     string
	round       int
	grown       int
	filled      int
}

func analyzeSO(w *soWorkload, out *soOutput) *soReport {
	r := &soReport{
		spansIn:           w.spansSent,
		pointsIn:          w.pointsSent,
		spansOut:          len(out.spans),
		pointsOut:         len(out.points),
		replaysSent:       w.replays,
		instances:         map[string]*soInstanceFigures{},
		spanHome:          map[string]map[string]bool{},
		pointHome:         map[string]map[string]bool{},
		instanceOfService: map[string]string{},
	}
	inst := func(name string) *soInstanceFigures {
		f := r.instances[name]
		if f == nil {
			f = &soInstanceFigures{services: map[string]bool{}}
			r.instances[name] = f
		}
		return f
	}
	home := func(m map[string]map[string]bool, svc, instance string) {
		if m[svc] == nil {
			m[svc] = map[string]bool{}
		}
		m[svc][instance] = true
	}

	// Spans: every copy sent is written exactly once; the second copy of a
	// replayed span is flagged, nothing else is.
	type copies struct{ n, replay int }
	seen := map[[8]byte]*copies{}
	for _, s := range out.spans {
		f := inst(s.instance)
		f.spansOut++
		f.services[s.service] = true
		home(r.spanHome, s.service, s.instance)
		c := seen[s.spanID]
		if c == nil {
			c = &copies{}
			seen[s.spanID] = c
		}
		c.n++
		switch s.duplicate {
		case "":
		case "replay":
			c.replay++
			f.flagged++
			r.replaysFlagged++
		default:
			r.collisions++
		}
	}
	for id, sent := range w.copiesSent {
		c := seen[id]
		got := 0
		if c != nil {
			got = c.n
		}
		switch {
		case got < sent:
			r.lostSpans += sent - got
		case got > sent:
			r.extraSpans += got - sent
		}
		if c == nil {
			continue
		}
		switch {
		case sent == 1 && c.replay > 0, sent == 2 && c.replay > 1:
			r.wrongFlags++
		case sent == 2 && got == 2 && c.replay == 0:
			r.unflaggedReplays++
		}
	}
	for id, c := range seen {
		if _, ok := w.copiesSent[id]; !ok {
			r.extraSpans += c.n
		}
	}

	// Points: every point written once, unchanged; exemplars tell the truth.
	// Streams are walked in time order to know which buckets owe an
	// exemplar from an earlier growth.
	pts := append([]soOutPoint(nil), out.points...)
	sort.SliceStable(pts, func(i, j int) bool {
		a, b := pts[i].key, pts[j].key
		if a.service != b.service {
			return a.service < b.service
		}
		if a.endpoint != b.endpoint {
			return a.endpoint < b.endpoint
		}
		return a.time < b.time
	})
	// A bucket that grew without an exemplar of that interval is owed one
	// for it: a late span that ended in it may fill the bucket later. An
	// exemplar settles the interval it ended in and every older one
	// (timestamps never go back), and an interval stays owed while only an
	// older one was filled.
	type interval struct{ from, to uint64 }
	type streamState struct {
		seenBy   string // instance#incarnation that wrote the previous point
		prevTime uint64
		owed     [][]interval
	}
	streams := map[[2]any]*streamState{}
	written := map[soPointKey]int{}
	for _, p := range pts {
		f := inst(p.instance)
		f.pointsOut++
		f.services[p.key.service] = true
		home(r.pointHome, p.key.service, p.instance)
		written[p.key]++
		sent, ok := w.points[p.key]
		if !ok {
			r.extraPoints++
			continue
		}
		if fmt.Sprint(sent.counts) != fmt.Sprint(p.counts) || sent.start != p.start {
			r.changedPoints++
		}
		sk := [2]any{p.key.service, p.key.endpoint}
		st := streams[sk]
		if st == nil {
			st = &streamState{owed: make([][]interval, len(sent.counts)), prevTime: p.start}
			streams[sk] = st
		}
		by := fmt.Sprintf("%s#%d", p.instance, p.incarnation)
		firstSeen := st.seenBy != by
		st.seenBy = by
		if firstSeen {
			// An instance that had not seen the stream (or restarted)
			// starts it afresh: its first window is (start, time].
			st.owed, st.prevTime = make([][]interval, len(sent.counts)), p.start
		}

		res := soPointResult{instance: p.instance, incarnation: p.incarnation, service: p.key.service, round: sent.round}
		filled := make([]bool, len(sent.counts))
		fresh := make([]bool, len(sent.counts))
		for _, ex := range p.exemplars {
			f.exemplars++
			r.exemplars++
			b, problem := soCheckExemplar(w, p, ex)
			if problem != "" {
				r.invalidExemplars = append(r.invalidExemplars, problem)
				continue
			}
			if filled[b] {
				r.bucketsWithTwo++
			}
			filled[b] = true
			fresh[b] = ex.time > st.prevTime
			owedHere := false
			for _, iv := range st.owed[b] {
				owedHere = owedHere || (ex.time > iv.from && ex.time <= iv.to)
			}
			switch {
			case sent.grown[b] && fresh[b]:
			case owedHere || firstSeen || sent.grown[b]:
				r.lateFills++
			default:
				r.staleExemplars++
			}
			kept := st.owed[b][:0]
			for _, iv := range st.owed[b] {
				if iv.from >= ex.time {
					kept = append(kept, iv) // newer than the span: still owed
				}
			}
			st.owed[b] = kept
		}
		for b, g := range sent.grown {
			if g {
				res.grown++
				if filled[b] {
					res.filled++
				}
			}
			// On an instance's first point of a stream every bucket with a
			// count grew, as far as it can tell: since the stream's start.
			if (g || (firstSeen && p.counts[b] > 0)) && !fresh[b] {
				st.owed[b] = append(st.owed[b], interval{from: st.prevTime, to: p.key.time})
			}
		}
		st.prevTime = p.key.time
		r.points = append(r.points, res)
	}
	for k := range w.points {
		switch n := written[k]; {
		case n == 0:
			r.lostPoints++
		case n > 1:
			r.extraPoints += n - 1
		}
	}
	for svc, homes := range r.spanHome {
		if len(homes) == 1 {
			for h := range homes {
				r.instanceOfService[svc] = h
			}
		}
	}
	return r
}

// soCheckExemplar returns the bucket an exemplar sits in, or why it lies.
func soCheckExemplar(w *soWorkload, p soOutPoint, ex soOutExemplar) (int, string) {
	where := fmt.Sprintf("%s %s %s t=%d", p.instance, p.key.service, soEndpoints[max(p.key.endpoint, 0)].route, p.key.time)
	sp := w.spans[ex.spanID]
	switch {
	case sp == nil:
		return 0, where + ": exemplar names a span that was never sent"
	case sp.traceID != ex.traceID:
		return 0, where + ": exemplar trace ID differs from its span's"
	case sp.service != p.key.service || sp.endpoint != p.key.endpoint:
		return 0, fmt.Sprintf("%s: exemplar from another stream (%s %s)", where, sp.service, soEndpoints[sp.endpoint].route)
	case math.Abs(ex.value-sp.seconds()) > 1e-9:
		return 0, fmt.Sprintf("%s: exemplar value %g, span lasted %g s", where, ex.value, sp.seconds())
	case ex.time != uint64(sp.end.UnixNano()):
		return 0, where + ": exemplar timestamp is not the span's end"
	case ex.time <= p.start || ex.time > p.key.time:
		return 0, where + ": span ended outside the point's window"
	}
	b := soBucketOf(ex.value)
	if p.counts[b] == 0 {
		return 0, fmt.Sprintf("%s: exemplar in empty bucket %d", where, b)
	}
	return b, ""
}

// coverage returns exemplars on grown buckets / grown buckets over the
// points keep selects.
func (r *soReport) coverage(keep func(soPointResult) bool) (filled, grown int) {
	for _, p := range r.points {
		if keep == nil || keep(p) {
			filled += p.filled
			grown += p.grown
		}
	}
	return filled, grown
}

func soRatio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func (r *soReport) summary() string {
	var b strings.Builder
	filled, grown := r.coverage(nil)
	fmt.Fprintf(&b, "spans in/out %d/%d (lost %d, extra %d); points in/out %d/%d (lost %d, extra %d, changed %d)\n",
		r.spansIn, r.spansOut, r.lostSpans, r.extraSpans, r.pointsIn, r.pointsOut, r.lostPoints, r.extraPoints, r.changedPoints)
	fmt.Fprintf(&b, "replays sent %d, flagged %d, unflagged %d, wrong flags %d, collisions %d\n",
		r.replaysSent, r.replaysFlagged, r.unflaggedReplays, r.wrongFlags, r.collisions)
	fmt.Fprintf(&b, "exemplar coverage %d/%d grown buckets = %.1f%%; exemplars %d (late fills of earlier growth %d, stale %d, invalid %d, two in a bucket %d)\n",
		filled, grown, 100*soRatio(filled, grown), r.exemplars, r.lateFills, r.staleExemplars, len(r.invalidExemplars), r.bucketsWithTwo)
	names := make([]string, 0, len(r.instances))
	for n := range r.instances {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f := r.instances[n]
		svcs := make([]string, 0, len(f.services))
		for s := range f.services {
			svcs = append(svcs, s)
		}
		sort.Strings(svcs)
		fi, gr := r.coverage(func(p soPointResult) bool { return p.instance == n })
		fmt.Fprintf(&b, "  %s: %d services %v; spans out %d (%d flagged replay); points out %d; exemplars %d; coverage %d/%d = %.1f%%\n",
			n, len(svcs), svcs, f.spansOut, f.flagged, f.pointsOut, f.exemplars, fi, gr, 100*soRatio(fi, gr))
	}
	return b.String()
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package enrich // import "github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/enrich"

import (
	"time"

	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/spanindex"
	"github.com/otelcol-exemplar/otelcol-exemplar/exemplarprocessor/internal/streams"
)

// clockSkew is how far ahead of the collector's clock an SDK's clock may
// run: a span that reached the collector more than this before a window
// opened cannot have ended inside it. NTP keeps hosts within milliseconds;
// 10 s also covers a badly drifting container clock while still letting a
// walk stop at spans of export intervals long past.
const clockSkew = 10 * time.Second

// Enricher runs the stages for one point at a time and keeps their reusable
// scratch space. It is not safe for concurrent use.
type Enricher struct {
	r   spanindex.Reader
	now int64
	// The last ArrivedSince answer: the points of one export share their
	// timestamps, and the index does not change while the reader is held.
	floorAt    int64
	floorSeq   uint64
	floorValid bool

	s scratch
}

// scratch is every stage's reusable memory.
type scratch struct {
	pl     plan
	out    []streams.Bucket
	commit commitScratch
	cs     candidates
	m      matching
	buf    walkBuffers
	lay    layoutMemo
	x      existing
	a      attacher
	col    collector
}

// Reset points a (possibly reused) Enricher at r at time now. The caller
// holds r's read lock and the stream table's lock while it uses the
// Enricher, and calls Reset again after taking the read lock anew.
func (e *Enricher) Reset(r spanindex.Reader, now time.Time) {
	e.r, e.now = r, now.UnixNano()
	e.floorValid = false
}

// Enrich attaches exemplars to in.Point and remembers it in in.Stream.
func (e *Enricher) Enrich(in *Input) Result {
	var res Result
	p, params := in.Point, in.Params
	pl, reason := choose(p, in.Stream, params, &e.s)
	if reason != ReasonNone {
		res.Reason = reason
		return res
	}
	e.s.x.read(p, pl, params, danglingCheck{r: e.r, now: e.now}, &res)

	c := e.collector(p, pl, in)
	if anyTarget(pl.target) {
		for i := range in.Exact {
			c.considerExact(&in.Exact[i], pl.obs, &res)
		}
	}
	c.collectAll()
	m := e.matching(c, len(pl.target))
	m.assign(pl.target)

	e.s.x.settle(p, pl, m.best, &res)
	e.s.a.r, e.s.a.params = e.r, params
	attached := e.s.a.attach(p, m.best, pl.target, e.s.x.kept, &res)
	e.s.x.remove(p, m.best, &res)

	e.s.out = resize(e.s.out, len(pl.target))
	n := commit(in.Stream, &commitInput{
		p: p, pl: pl, best: m.best, nextSeq: e.r.NextSeq(), lateWindow: params.LateWindow,
		scratch: &e.s.commit,
	}, e.s.out)
	res.Unfilled = n.grown
	if attached == 0 {
		res.Reason = noneAttached(n.targets, pl.needed)
	}
	return res
}

// noneAttached is the reason a point got no new exemplar.
func noneAttached(unfilled int, needed bool) Reason {
	switch {
	case unfilled > 0:
		return ReasonNoSpan
	case needed:
		return ReasonComplete
	default:
		return ReasonUnchanged
	}
}

// collector returns the candidate collection of one point, with the window's
// arrival floor set from the join.
func (e *Enricher) collector(p *Point, pl *plan, in *Input) *collector {
	e.s.cs.reset(len(pl.target))
	var groups []spanindex.GroupID
	if in.Joined {
		groups = in.Groups
		low := pl.w.start
		if pl.w.continuing {
			// Non-late candidates end after the previous point; late ones
			// arrived after it was processed (Seq >= prevSeq), or ended in
			// an owed interval, after its start.
			low = pl.w.prevTime
			if pl.owedFrom != 0 {
				low = min(low, pl.owedFrom)
			}
		}
		pl.w.seqFloor = e.arrivedSince(int64(low) - clockSkew.Nanoseconds())
		if pl.w.continuing {
			pl.w.seqFloor = min(pl.w.seqFloor, pl.w.prevSeq)
		}
	}
	e.s.buf.lists.reset(len(groups))
	e.s.lay.reset(p, in.Params)
	e.s.col = collector{r: e.r, p: p, pl: pl, params: in.Params, groups: groups, cs: &e.s.cs, buf: &e.s.buf, lay: &e.s.lay}
	return &e.s.col
}

// matching returns the assignment over c's candidates.
func (e *Enricher) matching(c *collector, n int) *matching {
	m := &e.s.m
	m.cs = &e.s.cs
	m.more = c
	m.best = resize(m.best, n)
	return m
}

// arrivedSince is Reader.ArrivedSince, remembered for the last time asked.
func (e *Enricher) arrivedSince(t int64) uint64 {
	if !e.floorValid || e.floorAt != t {
		e.floorAt, e.floorSeq, e.floorValid = t, e.r.ArrivedSince(t), true
	}
	return e.floorSeq
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/otelcol-exemplar/otelcol-exemplar/e2e/harness"
)

// tsCheck asserts what a user of the run would notice.
func tsCheck(t *testing.T, st *tsRunState) {
	t.Helper()
	sc, c := st.sc, tsCountsFrom(st.tel)
	all := tsReadTraces(t, st.dir+"/all-traces.jsonl")
	kept := tsReadTraces(t, st.dir+"/traces.jsonl")
	tsCheckSampler(t, c, all, kept)

	model := tsModel{lateWindow: tsLateSpanWindow, timer: tsTimerTolerance}
	if sc.defaultTolerance {
		model.straddle = tsTimerTolerance // the processor's default duration_tolerance, 2 ms
	}
	cov := tsAnalyze(tsReadStreams(t, st.dir+"/metrics.jsonl"), kept, all, model)
	t.Logf("scenario: %s histograms, decision_wait %s, delta_hold.delay %s, exemplar first %t; %d requests; run time %s",
		sc.temporality, sc.decisionWait, sc.holdDelay, sc.exemplarFirst, st.order.Load.Sent, time.Since(st.began).Round(time.Second))
	t.Logf("sampler: %d traces, %d kept (%.1f%%), %d dropped; spans in %d, kept %d",
		c.newTraces, c.sampled, 100*soRatio(c.sampled, c.newTraces), c.notSampled, c.acceptedSpans, c.keptSpans)
	t.Logf("processor: attached %d, buckets_unfilled %d, points not enriched: no_span %d, no_service_spans %d (%d warnings logged); dangling %d (dropped %d)",
		c.attached, c.unfilled, c.noSpan, c.noServiceSpans, st.misrouteWarnings, c.dangling, c.danglingDropped)
	t.Logf("coverage: %s", cov)
	if sc.temporality == "delta" {
		t.Logf("delta hold: at most %.0f data points held; collector RSS at most %.0f MiB", st.holdPeak, st.rssPeakMB)
	}

	switch {
	case sc.sdkExemplars:
		t.Logf("SDK exemplars on: %d of %d exemplars written name a trace the sampler dropped (young ones pass unjudged)",
			cov.notKept, cov.exemplars)
	case sc.exemplarFirst:
		// The misconfiguration measured for the documentation: most
		// exemplars name traces the sampler then dropped.
		t.Logf("exemplar BEFORE tail_sampling: %d of %d exemplars (%.1f%%) name a trace the sampler dropped",
			cov.notKept, cov.exemplars, 100*soRatio(cov.notKept, cov.exemplars))
		if cov.notKept == 0 {
			t.Errorf("with exemplar before the sampler no exemplar named a dropped trace: the run did not show the problem")
		}
	default:
		tsCheckExemplars(t, sc, cov, len(kept.spans))
	}
	if st.prom != nil {
		tsCheckPrometheus(t, st, c, all, pdReadTraces(t, st.dir+"/traces.jsonl"))
	}
}

// tsCheckSampler checks the sampler's decisions against both files: every
// trace decided once, every kept trace whole, the policies honoured.
func tsCheckSampler(t *testing.T, c tsCounts, all, kept *tsTraces) {
	t.Helper()
	if c.newTraces != len(all.traces) || c.sampled != len(kept.traces) || c.sampled+c.notSampled != len(all.traces) {
		t.Errorf("sampler decisions: %d traces received, %d sampled, %d not sampled; the files hold %d traces sent, %d kept",
			c.newTraces, c.sampled, c.notSampled, len(all.traces), len(kept.traces))
	}
	if kept.copies != len(kept.spans) || all.copies != len(all.spans) || c.keptSpans != kept.copies {
		t.Errorf("span copies: kept file %d (%d distinct), all file %d (%d distinct), exporter counted %d",
			kept.copies, len(kept.spans), all.copies, len(all.spans), c.keptSpans)
	}
	var partial, mustKeep, lostMustKeep, other, otherKept int
	for tid, sids := range all.traces {
		k, isKept := kept.traces[tid]
		if isKept && len(k) != len(sids) {
			partial++
		}
		switch {
		case all.hasError(tid) || all.duration(tid) >= tsLatencyThreshold.Seconds()+0.001:
			mustKeep++
			if !isKept {
				lostMustKeep++
			}
		default:
			other++
			if isKept {
				otherKept++
			}
		}
	}
	for tid := range kept.traces {
		if _, ok := all.traces[tid]; !ok {
			t.Errorf("kept trace %s was never sent", tid)
		}
	}
	if partial != 0 || lostMustKeep != 0 {
		t.Errorf("%d kept traces are incomplete; %d of %d error or slow traces were dropped", partial, lostMustKeep, mustKeep)
	}
	share := soRatio(otherKept, other)
	t.Logf("policies: %d error or slow traces all kept; %d of %d others kept by the %d%% policy (%.1f%%)", mustKeep, otherKept, other, tsSamplePercent, 100*share)
	if lo, hi := 0.5*tsSamplePercent/100, 1.5*tsSamplePercent/100; share < lo || share > hi {
		t.Errorf("the probabilistic policy kept %.1f%% of the other traces; want about %d%%", 100*share, tsSamplePercent)
	}
}

// tsCheckPrometheus checks the exemplars Prometheus returns: every one names
// a span of a kept trace that fits its series, none names a dropped trace,
// and Prometheus refused none as out of order.
func tsCheckPrometheus(t *testing.T, st *tsRunState, c tsCounts, all *tsTraces, kept *pdTraces) {
	t.Helper()
	from, to := st.began.Add(-time.Minute), time.Now().Add(time.Minute)
	var total, dropped, unknown int
	var problems []string
	for _, fam := range []struct{ name, kind string }{
		{"http_server_request_duration_seconds", "Server"},
		{"http_client_request_duration_seconds", "Client"},
	} {
		bounds := pdBounds(t, st.prom, fam.name+"_bucket", from, to)
		series, err := st.prom.QueryExemplars(fam.name+"_bucket", from, to)
		if err != nil {
			t.Fatalf("query_exemplars %s: %v", fam.name, err)
		}
		for _, s := range series {
			for _, ex := range s.Exemplars {
				total++
				tid, sid := ex.Labels["trace_id"], ex.Labels["span_id"]
				if _, ok := kept.byID[tid+"/"+sid]; !ok {
					if _, sent := all.spans[sid]; sent {
						dropped++
					} else {
						unknown++
					}
				}
				if _, p := pdCheckExemplar(fam.kind, s.SeriesLabels, ex, bounds, kept); p != "" && !st.sc.exemplarFirst && !st.sc.sdkExemplars {
					problems = append(problems, fam.name+": "+p)
				}
			}
		}
	}
	page, err := harness.ScrapeMetricsPage(st.prom.URL + "/metrics")
	if err != nil {
		t.Fatalf("Prometheus' own metrics: %v", err)
	}
	outOfOrder := harness.SumMetric(page, "prometheus_tsdb_exemplar_out_of_order_exemplars_total")
	t.Logf("Prometheus: %d exemplars returned (processor attached %d), %d name a dropped trace, %d an unknown one; %g refused as out of order",
		total, c.attached, dropped, unknown, outOfOrder)
	if st.sc.exemplarFirst || st.sc.sdkExemplars {
		return
	}
	if total == 0 || total != c.attached {
		t.Errorf("Prometheus returned %d exemplars; the processor attached %d", total, c.attached)
	}
	if dropped != 0 || unknown != 0 || len(problems) != 0 {
		t.Errorf("Prometheus exemplars: %d name a dropped trace, %d an unknown span, %d are wrong; e.g.:\n  %s",
			dropped, unknown, len(problems), strings.Join(problems[:min(10, len(problems))], "\n  "))
	}
	if outOfOrder != 0 {
		t.Errorf("Prometheus refused %g exemplars as out of order", outOfOrder)
	}
}

// tsCheckExemplars asserts the exemplars written: each names a kept span it
// describes truly, and enough of the buckets that grew with a kept request
// got one of their own interval.
func tsCheckExemplars(t *testing.T, sc tsScenario, cov *tsCoverage, keptSpans int) {
	t.Helper()
	lies := cov.standIns
	if sc.defaultTolerance {
		// Measured, not asserted: what the recommendation avoids.
		t.Logf("with duration_tolerance 2ms: %d of %d exemplars name a span outside their bucket, %d of them provably another request",
			cov.clamped, cov.exemplars, cov.standIns)
		lies = 0
	}
	if cov.notKept != 0 || cov.backwards != 0 || cov.wrong != 0 || lies != 0 {
		t.Errorf("of %d exemplars, %d name a span of no kept trace, %d do not move forward in time, %d misstate their span, %d are another request than their bucket counted; e.g.:\n  %s",
			cov.exemplars, cov.notKept, cov.backwards, cov.wrong, lies, strings.Join(cov.problems[:min(10, len(cov.problems))], "\n  "))
	}
	if cov.clamped != 0 && !sc.defaultTolerance {
		t.Errorf("%d exemplars name a span outside their bucket although duration_tolerance is 0", cov.clamped)
	}
	if cov.own() < tsMinOwnCoverage && !sc.measureOnly {
		t.Errorf("%.1f%% of the buckets that grew with a kept request got an exemplar of their own interval; want at least %.0f%%; missed e.g.:\n  %s",
			100*cov.own(), 100*tsMinOwnCoverage, strings.Join(cov.missedExamples, "\n  "))
	}
	if cov.unmapped*50 > keptSpans {
		t.Errorf("%d of %d kept spans fit no grown bucket of their stream: the test's model of the streams is off", cov.unmapped, keptSpans)
	}
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// loadConfig is what the load flags set.
type loadConfig struct {
	url          string
	rps          float64
	duration     time.Duration
	invalidEvery int
	maxInFlight  int
}

func parseLoadFlags(args []string) (loadConfig, error) {
	var cfg loadConfig
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.StringVar(&cfg.url, "url", "", "order-service POST /process URL")
	fs.Float64Var(&cfg.rps, "rps", 20, "requests started per second (open model)")
	fs.DurationVar(&cfg.duration, "duration", 16*time.Second, "how long to send")
	fs.IntVar(&cfg.invalidEvery, "invalid-every", 10, "every Nth request lacks amount (0: none)")
	fs.IntVar(&cfg.maxInFlight, "max-in-flight", 64, "requests in flight at most; a tick finding all taken is skipped")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	switch {
	case cfg.url == "":
		return cfg, errors.New("load: -url is required")
	case cfg.rps <= 0 || cfg.duration <= 0 || cfg.maxInFlight < 1 || cfg.invalidEvery < 0:
		return cfg, errors.New("load: -rps, -duration and -max-in-flight must be positive, -invalid-every not negative")
	}
	return cfg, nil
}

// loadResult is what the load sent and got back.
type loadResult struct {
	sent, failed, skipped int
	byStatus              map[int]int
}

func (l *loadResult) String() string {
	codes := make([]int, 0, len(l.byStatus))
	for c := range l.byStatus {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	parts := make([]string, 0, len(codes))
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d=%d", c, l.byStatus[c]))
	}
	return fmt.Sprintf("load: %d requests (%s), %d without answer, %d skipped", l.sent, strings.Join(parts, " "), l.failed, l.skipped)
}

// orderBody is the JSON of request n (from 1): every invalidEvery-th lacks
// its amount, which order-service answers with 400.
func orderBody(n, invalidEvery int) []byte {
	if invalidEvery > 0 && n%invalidEvery == 0 {
		return fmt.Appendf(nil, `{"order_id":"o-%d"}`, n)
	}
	return fmt.Appendf(nil, `{"order_id":"o-%d","amount":%d.%02d}`, n, 5+n%95, n%100)
}

// generateLoad starts a request on every tick (an open model, like a
// population of users) until cfg.duration passes or ctx ends, and waits
// for the requests in flight.
func generateLoad(ctx context.Context, cfg loadConfig) *loadResult {
	ctx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second}
	res := &loadResult{byStatus: map[int]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, cfg.maxInFlight)
	tick := time.NewTicker(time.Duration(float64(time.Second) / cfg.rps))
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			wg.Wait()
			return res
		case <-tick.C:
		}
		select {
		case slots <- struct{}{}:
		default:
			mu.Lock()
			res.skipped++
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func(body []byte) {
			defer wg.Done()
			defer func() { <-slots }()
			// The request outlives the load window: a started request finishes.
			status := post(context.WithoutCancel(ctx), client, cfg.url, body)
			mu.Lock()
			defer mu.Unlock()
			res.sent++
			if status == 0 {
				res.failed++
			} else {
				res.byStatus[status]++
			}
		}(orderBody(n, cfg.invalidEvery))
	}
}

// post sends one order and returns the status code, 0 when no answer came.
func post(ctx context.Context, client *http.Client, url string, body []byte) int {
	// The URL is the operator's -url flag: the service under load.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body)) //nolint:gosec // G704: see above
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req) //nolint:gosec // G704: the operator's -url
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// waitConfig is what the wait flags set.
type waitConfig struct {
	url     string
	timeout time.Duration
}

func parseWaitFlags(args []string) (waitConfig, error) {
	var cfg waitConfig
	fs := flag.NewFlagSet("wait", flag.ContinueOnError)
	fs.StringVar(&cfg.url, "url", "", "health URL that must answer 200")
	fs.DurationVar(&cfg.timeout, "timeout", 60*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if cfg.url == "" {
		return cfg, errors.New("wait: -url is required")
	}
	return cfg, nil
}

// waitHealthy polls cfg.url every 200 ms until it answers 200.
func waitHealthy(ctx context.Context, cfg waitConfig) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.url, http.NoBody)
		if err != nil {
			return fmt.Errorf("wait: %w", err)
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait: %s not healthy within %s", cfg.url, cfg.timeout)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

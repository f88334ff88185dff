// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// loadResult is what the load generator sent and got back.
type loadResult struct {
	Sent     int            `json:"sent"`
	Failed   int            `json:"failed"`    // no HTTP response at all
	Skipped  int            `json:"skipped"`   // not sent: too many in flight
	ByStatus map[string]int `json:"by_status"` // "201", "400", "502", ...
	Seconds  float64        `json:"seconds"`
}

func (l *loadResult) String() string {
	keys := make([]string, 0, len(l.ByStatus))
	for k := range l.ByStatus {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, l.ByStatus[k]))
	}
	return fmt.Sprintf("%d requests in %.1fs (%s), %d failed, %d skipped", l.Sent, l.Seconds, strings.Join(parts, " "), l.Failed, l.Skipped)
}

// generateLoad sends requests to the order service at cfg.loadRPS (open
// model: a request starts on every tick whether or not earlier ones ended,
// up to cfg.loadConcurrency in flight) until cfg.loadDuration passes or ctx
// ends. The client is not instrumented: order's server spans are the roots.
func generateLoad(ctx context.Context, base string, cfg config) *loadResult {
	if cfg.loadDuration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.loadDuration)
		defer cancel()
	}
	client := &http.Client{Timeout: 10 * time.Second}
	res := &loadResult{ByStatus: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, cfg.loadConcurrency)
	tick := time.NewTicker(time.Duration(float64(time.Second) / cfg.loadRPS))
	defer tick.Stop()
	start := time.Now()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
			continue
		case <-tick.C:
		}
		select {
		case slots <- struct{}{}:
		default:
			mu.Lock()
			res.Skipped++
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			// Requests already started finish even when the load ends.
			status, err := oneRequest(client, base, cfg.badRequestRate)
			mu.Lock()
			defer mu.Unlock()
			res.Sent++
			if err != nil {
				res.Failed++
				return
			}
			res.ByStatus[strconv.Itoa(status)]++
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	return res
}

// oneRequest sends one request of the mix: 70 % valid orders (which call
// the payment service), badRequestRate invalid orders (400), the rest
// order look-ups.
func oneRequest(client *http.Client, base string, badRequestRate float64) (int, error) {
	var req *http.Request
	var err error
	switch p := rand.Float64(); {
	case p < badRequestRate:
		req, err = http.NewRequest(http.MethodPost, base+"/orders", strings.NewReader(`{"item":"book","qty":0}`))
	case p < 0.7+badRequestRate:
		body := fmt.Sprintf(`{"item":%q,"qty":%d}`, []string{"book", "lamp", "mug"}[rand.IntN(3)], 1+rand.IntN(3))
		req, err = http.NewRequest(http.MethodPost, base+"/orders", strings.NewReader(body))
	default:
		req, err = http.NewRequest(http.MethodGet, base+"/orders/"+strconv.Itoa(rand.IntN(1000)), http.NoBody)
	}
	if err != nil {
		return 0, err
	}
	if req.Method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Package harness starts the processes of end-to-end tests on loopback and
// stops every one of them when the test ends, on success and on failure.
package harness // import "github.com/otelcol-exemplar/otelcol-exemplar/e2e/harness"

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// CollectorBinary returns the otelcol-exemplar binary built by `make build`.
func CollectorBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(RepoRoot(t), "_build", "otelcol-exemplar")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("collector binary missing (run `make build` first): %v", err)
	}
	return bin
}

// FreePort returns a loopback TCP port that is free now, for a child process
// to listen on. It is taken below the kernel's ephemeral range, so no
// outgoing connection (the test makes thousands) can grab it before the child
// binds it, and never handed out twice by one test binary: a port from
// "127.0.0.1:0", closed again, is exposed to both races.
func FreePort(t testing.TB) int {
	t.Helper()
	ports.Lock()
	defer ports.Unlock()
	if ports.given == nil {
		ports.given = map[int]bool{}
		ports.high = ephemeralLow()
	}
	for range 1000 {
		p := portsLow + rand.IntN(ports.high-portsLow)
		if ports.given[p] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue // in use by another process
		}
		_ = l.Close()
		ports.given[p] = true
		return p
	}
	t.Fatalf("no free loopback port in [%d, %d)", portsLow, ports.high)
	return 0
}

// portsLow is the lowest port FreePort hands out.
const portsLow = 20000

var ports struct {
	sync.Mutex
	given map[int]bool
	high  int
}

// ephemeralLow is the lowest port the kernel picks for outgoing connections.
func ephemeralLow() int {
	const fallback = 32768
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return fallback
	}
	var low, high int
	if _, err := fmt.Sscan(string(b), &low, &high); err != nil || low <= portsLow+1000 {
		return fallback
	}
	return low
}

// Process is a started child process whose output is kept for the test log.
type Process struct {
	Name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start runs name with args in dir and stops it (SIGTERM, then SIGKILL after
// 10 s) when the test ends. Its combined output is logged on failure.
func Start(t testing.TB, name, dir string, env []string, bin string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Process{Name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("---- output of %s ----\n%s", name, tail(out.String(), 200))
		}
	})
	return p
}

// Stop terminates the process group and waits for it.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Output returns what the process printed so far.
func (p *Process) Output() string { return p.out.String() }

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// StartCollector writes config to a temporary file and runs the built
// collector with it.
func StartCollector(t testing.TB, name, config string) *Process {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return Start(t, name, dir, nil, CollectorBinary(t), "--config="+path)
}

// WaitHTTP waits until url answers 200 or the process exits.
func WaitHTTP(t testing.TB, p *Process, url string, timeout time.Duration) {
	t.Helper()
	Eventually(t, timeout, fmt.Sprintf("%s ready at %s", p.Name, url), func() bool {
		if p != nil && p.Exited() {
			t.Fatalf("%s exited: %v\n%s", p.Name, p.err, tail(p.Output(), 50))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// Eventually polls cond every 200 ms until it holds or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Pid returns the process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Kill ends the process group with SIGKILL, as the kernel's OOM killer or a
// node failure would: no shutdown, nothing flushed. It waits for the exit.
func (p *Process) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

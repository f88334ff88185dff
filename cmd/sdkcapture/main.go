// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

// Command sdkcapture runs the Go services that scripts/captures/record.sh
// records into testdata/captures, and the load that drives every capture:
//
//	sdkcapture order   -listen ADDR -payment-url URL [-server-duration MODE]
//	sdkcapture payment -listen ADDR [-server-duration MODE]
//	sdkcapture load    -url URL [-rps 20] [-duration 16s] [-invalid-every 10]
//	sdkcapture wait    -url URL [-timeout 60s]
//	sdkcapture ports   N
//
// The services have the shape of the Python (Flask) services of the existing
// captures: order-service POST /process checks the order, sleeps 0-20 ms and
// calls payment-service POST /charge (502 when that fails); payment-service
// sleeps 0-40 ms and answers 500 one time in ten; both answer GET /health.
// They are instrumented with the OpenTelemetry Go SDK and otelhttp, set up
// from the standard OTEL_* environment variables only, as a user would.
//
// -server-duration after-span replaces otelhttp's server duration histogram
// by one recorded after the server span has ended, with a context that holds
// no span: what Flask-style middleware does. With the always_on exemplar
// filter its exemplars carry a value and a time but no trace or span ID.
//
// load and wait are plain, uninstrumented HTTP clients; ports prints N free
// loopback TCP ports.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		log.Fatalf("sdkcapture: %v", err)
	}
}

const usage = "usage: sdkcapture order|payment|load|wait|ports [flags]"

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "order", "payment":
		cfg, err := parseServiceFlags(args[0], args[1:])
		if err != nil {
			return err
		}
		return serve(ctx, cfg)
	case "load":
		cfg, err := parseLoadFlags(args[1:])
		if err != nil {
			return err
		}
		res := generateLoad(ctx, cfg)
		_, err = fmt.Fprintln(out, res)
		return err
	case "wait":
		cfg, err := parseWaitFlags(args[1:])
		if err != nil {
			return err
		}
		return waitHealthy(ctx, cfg)
	case "ports":
		return printFreePorts(args[1:], out)
	default:
		return fmt.Errorf("unknown command %q; %s", args[0], usage)
	}
}

// printFreePorts holds all N listeners open until every port is known, so
// the N ports differ.
func printFreePorts(args []string, out io.Writer) error {
	n := 1
	if len(args) > 0 {
		if _, err := fmt.Sscan(args[0], &n); err != nil || n < 1 || n > 64 {
			return fmt.Errorf("ports: want a count from 1 to 64, got %q", args[0])
		}
	}
	var lc net.ListenConfig
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("ports: %w", err)
		}
		listeners = append(listeners, l)
	}
	for _, l := range listeners {
		if _, err := fmt.Fprintln(out, l.Addr().(*net.TCPAddr).Port); err != nil {
			return err
		}
	}
	return nil
}

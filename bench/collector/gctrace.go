// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"
)

// gcStats sums the collector's GC cycles from its GODEBUG=gctrace=1 lines:
//
//	gc 7 @2.1s 3%: 0.02+12+0.01 ms clock, 0.05+1.2/6.1/0.4+0.03 ms cpu, 1900->1910->96 MB, 2048 MB goal, ...
type gcStats struct {
	// cycles is the number of GC cycles. (gctrace's own CPU figures are
	// not used: they count the time a worker held its P, which includes
	// time the kernel gave to other processes on a busy machine; perf
	// profiles measure the GC's share.)
	cycles int
	// liveMB is the heap marked live by the last cycle.
	liveMB float64
}

// readGCTrace parses the gctrace lines of a log from offset on.
func readGCTrace(path string, offset int64) gcStats {
	var st gcStats
	f, err := os.Open(path) //nolint:gosec // the collector's log in this program's temporary directory
	if err != nil {
		return st
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return st
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	for sc.Scan() {
		st.add(sc.Text())
	}
	return st
}

func (st *gcStats) add(line string) {
	if !strings.HasPrefix(line, "gc ") {
		return
	}
	parts := strings.Split(line, ", ")
	if len(parts) < 3 {
		return
	}
	st.cycles++
	if heap, ok := strings.CutSuffix(parts[2], " MB"); ok {
		if i := strings.LastIndex(heap, "->"); i >= 0 {
			st.liveMB, _ = strconv.ParseFloat(heap[i+2:], 64)
		}
	}
}

// logSize is where the measured phase's lines start.
func logSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

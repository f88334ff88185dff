// Copyright The otelcol-exemplar Authors
// SPDX-License-Identifier: Apache-2.0

package harness // import "github.com/otelcol-exemplar/otelcol-exemplar/e2e/harness"

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var demoBuild struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// DemoBinary builds the demo services (cmd/demo) once per test process into
// _build/otelcol-exemplar-demo, next to the collector, and returns its path.
func DemoBinary(t testing.TB) string {
	t.Helper()
	demoBuild.once.Do(func() {
		root := RepoRoot(t)
		demoBuild.path = filepath.Join(root, "_build", "otelcol-exemplar-demo")
		// The go command that runs the tests builds the demo too.
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		}
		if err := os.MkdirAll(filepath.Dir(demoBuild.path), 0o755); err != nil {
			demoBuild.err = err
			return
		}
		cmd := exec.Command(goBin, "build", "-o", demoBuild.path, "./cmd/demo")
		cmd.Dir = root
		demoBuild.out, demoBuild.err = cmd.CombinedOutput()
	})
	if demoBuild.err != nil {
		t.Fatalf("go build ./cmd/demo: %v\n%s", demoBuild.err, demoBuild.out)
	}
	return demoBuild.path
}

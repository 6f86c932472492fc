// Package testenv holds what the test suites of several packages share:
// finding the real mail clients the tests drive, and a log sink that is
// safe for concurrent writes. Only _test.go files import it.
package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// RequireTool returns the path of an external client (python3, swaks,
// curl, mbsync, fetchmail, ...). A missing client skips the test on a
// developer machine, but fails it under CI=true, where .ci/run installs
// every client: a skipped test must never hide a missing feature in CI.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	// A version-manager shim (pyenv) costs seconds per start on a loaded
	// machine; prefer a real binary further down PATH.
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if strings.Contains(dir, "shims") {
			continue
		}
		if p, err2 := exec.LookPath(filepath.Join(dir, name)); err2 == nil {
			path, err = p, nil
			break
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true: %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return path
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers (a logger used
// by many connections) and readers (the test).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// WaitFor polls cond until it holds, failing the test after timeout. It is
// for state that publishes no event a test could wait on: another
// process's files, a server-side close, a slot released by a connection's
// goroutine. Where an event exists, wait on it instead.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// PythonOf returns the interpreter named in the #! line of a Python
// tool (RequireTool's rules apply to the tool): the python3 that has the
// tool's modules installed, which need not be the first python3 on PATH
// (a pyenv shim does not see Debian's python3-* packages).
func PythonOf(t testing.TB, tool string) string {
	t.Helper()
	path := RequireTool(t, tool)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	interp, ok := strings.CutPrefix(line, "#!")
	if f := strings.Fields(interp); ok && len(f) > 0 {
		if f[0] == "/usr/bin/env" && len(f) > 1 {
			return RequireTool(t, f[1])
		}
		return f[0]
	}
	t.Fatalf("%s has no #! line", path)
	return ""
}

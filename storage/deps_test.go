package storage

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps STYLE.md's rule: storage imports bbolt, the
// standard library, golang.org/x/text (NFC names, charsets) and
// golang.org/x/sys (bbolt's, and syncfs for batched body durability) only.
func TestDependencies(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		first, _, _ := strings.Cut(p, "/")
		if !strings.Contains(first, ".") || p == "postel/storage" {
			continue // standard library
		}
		switch {
		case strings.HasPrefix(p, "go.etcd.io/bbolt"),
			strings.HasPrefix(p, "golang.org/x/text/"),
			strings.HasPrefix(p, "golang.org/x/sys/"):
		default:
			t.Errorf("storage depends on %s", p)
		}
	}
}

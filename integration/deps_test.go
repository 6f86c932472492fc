package integration

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPackageBoundaries keeps STYLE.md's import rules honest: front ends
// never import each other, config or cmd; storage depends on bbolt, the
// standard library and x/text only; only cmd reads config.
func TestPackageBoundaries(t *testing.T) {
	t.Parallel()
	deps := func(pkg string) []string {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	frontEnds := []string{"postel/smtpd", "postel/imapd", "postel/pop3d"}
	for _, fe := range frontEnds {
		for _, d := range deps(fe) {
			for _, other := range append(frontEnds, "postel/config", "postel/cmd/postel", "postel/queue") {
				if d == other && d != fe {
					t.Errorf("%s imports %s", fe, d)
				}
			}
		}
	}
	for _, d := range deps("postel/storage") {
		if d != "postel/storage" && !strings.HasPrefix(d, "go.etcd.io/bbolt") && !strings.HasPrefix(d, "golang.org/x/text") && !strings.HasPrefix(d, "golang.org/x/sys") {
			t.Errorf("storage imports %s", d)
		}
	}
	for _, pkg := range []string{"postel/storage", "postel/auth", "postel/queue", "postel/checks", "postel/delivery", "postel/dkim"} {
		for _, d := range deps(pkg) {
			if d == "postel/config" || d == "postel/cmd/postel" {
				t.Errorf("%s imports %s", pkg, d)
			}
		}
	}
}

package smtpd

import (
	"os/exec"
	"strings"
	"testing"
)

// The front ends never import each other, config or cmd (STYLE.md).
func TestImportGraph(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	for _, pkg := range []string{"postel/smtpd", "postel/delivery"} {
		out, err := exec.Command(goTool, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, bad := range []string{"postel/imapd", "postel/pop3d", "postel/config", "postel/cmd", "postel/queue"} {
				if dep == bad || strings.HasPrefix(dep, bad+"/") {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}

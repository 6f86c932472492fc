package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// adminScenario runs the same admin conversation; it must behave the same
// through the control socket (server running) and directly on the
// database (server stopped).
func adminScenario(t *testing.T, in *instance) {
	in.mustPostel("", "domain", "add", "example.com")
	if out := in.mustPostel("", "domain", "list"); !strings.Contains(out, "example.com") {
		t.Errorf("domain list = %q", out)
	}
	// The DNS records to publish name this server's host and its ports.
	if out := in.mustPostel("", "domain", "records", "example.com"); !strings.Contains(out, "IN MX    10 ") ||
		!strings.Contains(out, `"v=spf1 mx -all"`) || !strings.Contains(out, "_submissions._tcp.example.com.") {
		t.Errorf("domain records = %q", out)
	}
	// Flags after the arguments, password from stdin.
	in.mustPostel("s3cret-pass\n", "user", "add", "bob@example.com", "--password-stdin")
	// Generated password is printed.
	out := in.mustPostel("", "user", "add", "alice@example.com")
	if !strings.HasPrefix(out, "alice@example.com password: ") || len(strings.TrimSpace(strings.TrimPrefix(out, "alice@example.com password: "))) < 16 {
		t.Errorf("generated password output = %q", out)
	}
	// Duplicate refused with a one-line error and exit status 1.
	_, err := in.postel("x\n", "user", "add", "bob@example.com", "--password-stdin")
	if err == nil || !strings.Contains(err.Error(), "exit status 1") || !strings.Contains(err.Error(), "postel: user bob@example.com exists") {
		t.Errorf("duplicate user: err = %v", err)
	}
	in.mustPostel("", "user", "quota", "bob@example.com", "500M")
	out = in.mustPostel("", "user", "list")
	if !strings.Contains(out, "bob@example.com\tquota 500M") || !strings.Contains(out, "alice@example.com\tquota unlimited") {
		t.Errorf("user list = %q", out)
	}
	in.mustPostel("", "alias", "add", "sales@example.com", "bob@example.com", "alice@example.com")
	in.mustPostel("", "alias", "add", "@example.com", "bob@example.com")
	out = in.mustPostel("", "alias", "list")
	if !strings.Contains(out, "sales@example.com\tbob@example.com, alice@example.com") && !strings.Contains(out, "sales@example.com\talice@example.com, bob@example.com") {
		t.Errorf("alias list = %q", out)
	}
	if _, err := in.postel("", "domain", "remove", "example.com"); err == nil {
		t.Error("removing a domain with users succeeded")
	}
	in.mustPostel("n3w-pass\n", "user", "passwd", "bob@example.com", "--password-stdin")
	in.mustPostel("", "alias", "remove", "sales@example.com")
	in.mustPostel("", "user", "remove", "alice@example.com")
	out = in.mustPostel("", "user", "list")
	if strings.Contains(out, "alice@") {
		t.Errorf("removed user still listed: %q", out)
	}
	if _, err := in.postel("", "user", "remove", "nobody@example.com"); err == nil {
		t.Error("removing an unknown user succeeded")
	}
	if _, err := in.postel("", "user", "add", "x@elsewhere.test"); err == nil {
		t.Error("user in a non-local domain was accepted")
	}
}

func TestAdminStoppedServer(t *testing.T) {
	t.Parallel()
	in := newInstance(t, "")
	adminScenario(t, in)
	// The data directory is owner-only.
	fi, err := os.Stat(filepath.Join(in.dir, "data"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode = %v, %v", fi.Mode(), err)
	}
}

func TestAdminRunningServer(t *testing.T) {
	t.Parallel()
	in := newInstance(t, "")
	in.start()
	adminScenario(t, in)
	sock := filepath.Join(in.dir, "data", "control.sock")
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("control socket mode = %v, %v", fi.Mode(), err)
	}
	// The commands went through the server: its log shows them.
	if !strings.Contains(in.log.String(), "admin command") {
		t.Error("server log shows no admin command: the CLI did not use the socket")
	}
	in.stop()
	// Changes made through the socket are on disk.
	if out := in.mustPostel("", "user", "list"); !strings.Contains(out, "bob@example.com") {
		t.Errorf("after stop, user list = %q", out)
	}
}

func TestCLIHelpAndErrors(t *testing.T) {
	t.Parallel()
	in := newInstance(t, "")
	for _, args := range [][]string{{"--help"}, {"user", "add", "--help"}, {"queue", "retry", "--help"}, {"serve", "--help"}} {
		out, err := in.postel("", args...)
		if err != nil || !strings.Contains(out, "usage: postel") {
			t.Errorf("postel %v: out %q err %v", args, out, err)
		}
	}
	if _, err := in.postel("", "user", "frobnicate"); err == nil {
		t.Error("unknown subcommand succeeded")
	}
	bad := filepath.Join(in.dir, "bad.toml")
	os.WriteFile(bad, []byte("hostname = \"x\"\n[listen]\nsmtpp = \":25\"\n"), 0o600)
	_, err := in.postel("", "config", "check", "--config", bad)
	if err == nil || !strings.Contains(err.Error(), `bad.toml:3: unknown key "listen.smtpp"`) {
		t.Errorf("config check: %v", err)
	}
	if out, err := in.postel("", "config", "check"); err != nil || !strings.Contains(out, "ok") {
		t.Errorf("config check of the instance's config: %q %v", out, err)
	}
}

package imapd

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"postel/internal/testenv"
)

// TestFetchmail runs the real fetchmail over implicit TLS (certificate
// checked against our self-signed one): it downloads every message to an
// MDA, marks them \Seen and \Deleted and expunges, as a POP-style
// collector does. A second run finds nothing; a message delivered in
// between is fetched by a third.
func TestFetchmail(t *testing.T) {
	t.Parallel()
	fetchmail := testenv.RequireTool(t, "fetchmail")
	e := newEnv(t)
	e.deliver(t, "INBOX", testMessage("fm one", "first body"))
	e.deliver(t, "INBOX", testMessage("fm two", "second body"))

	dir := t.TempDir()
	out := filepath.Join(dir, "delivered")
	_, port, _ := net.SplitHostPort(e.tlsAddr)
	rc := fmt.Sprintf(`set no bouncemail
set no syslog
poll localhost via 127.0.0.1 port %s protocol IMAP
  user "%s" there with password "%s" is "localuser" here
  options ssl sslcertck sslcertfile "%s" sslcommonname "localhost" fetchall no keep
  mda "/bin/sh -c 'cat >> %s; echo =====END===== >> %s'"
`, port, testUser, testPass, e.certPEM, out, out)
	rcPath := filepath.Join(dir, "fetchmailrc")
	if err := os.WriteFile(rcPath, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(wantExit int) string {
		t.Helper()
		cmd := exec.Command(fetchmail, "-f", rcPath, "--pidfile", filepath.Join(dir, "pid"), "-N", "-d0", "-v")
		cmd.Env = append(os.Environ(), "HOME="+dir, "FETCHMAILHOME="+dir)
		b, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("fetchmail: %v", err)
		}
		// Exit 0: mail fetched; 1: no mail (fetchmail(1) "EXIT CODES").
		if code != wantExit {
			t.Fatalf("fetchmail exit %d, want %d:\n%s", code, wantExit, b)
		}
		return string(b)
	}
	log := run(0)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("nothing delivered: %v\n%s", err, log)
	}
	if n := strings.Count(string(got), "=====END====="); n != 2 || !strings.Contains(string(got), "Subject: fm one") || !strings.Contains(string(got), "second body") {
		t.Fatalf("delivered %d messages:\n%s\nlog:\n%s", n, got, log)
	}
	st, err := e.account(t).Status(t.Context(), "INBOX")
	if err != nil || st.Messages != 0 {
		t.Fatalf("INBOX after fetchmail: %+v %v\n%s", st, err, log)
	}
	run(1)
	e.deliver(t, "INBOX", testMessage("fm three", "third body"))
	run(0)
	got, _ = os.ReadFile(out)
	if n := strings.Count(string(got), "=====END====="); n != 3 || !strings.Contains(string(got), "third body") {
		t.Fatalf("after third run:\n%s", got)
	}
}

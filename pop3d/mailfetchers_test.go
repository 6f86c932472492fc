package pop3d

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"postel/internal/testenv"
)

// lf is what a Unix mail fetcher writes locally: LF line ends.
func lf(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

// checkFetched asserts that every stored message arrived once, byte-exact
// after CRLF->LF, under the trace headers the fetcher prepends, and that
// the fetcher deleted everything from the maildrop.
func checkFetched(t *testing.T, e *realEnv, stored []string, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ent := range entries {
		if ent.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(b))
	}
	if len(got) != len(stored) {
		t.Fatalf("fetched %d messages, want %d", len(got), len(stored))
	}
	for _, want := range stored {
		i := slices.IndexFunc(got, func(g string) bool {
			return strings.HasSuffix(lf(g), lf(want))
		})
		if i < 0 {
			t.Errorf("message %.40q... not fetched intact", want)
			continue
		}
		got = slices.Delete(got, i, i+1)
	}
	if left := e.stored(t, realUser); len(left) != 0 {
		t.Errorf("%d messages left on the server", len(left))
	}
}

// TestFetchmail downloads and deletes all messages with fetchmail, over
// STLS with certificate checking and over pop3s, into one file per
// message through an MDA.
func TestFetchmail(t *testing.T) {
	t.Parallel()
	fetchmail := testenv.RequireTool(t, "fetchmail")
	for _, mode := range []string{"stls", "pop3s"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newRealEnv(t, nil)
			for _, m := range testMessages() {
				e.deliver(t, realUser, m)
			}
			stored := e.stored(t, realUser)
			home := t.TempDir()
			out := filepath.Join(home, "out")
			mda := writeMDA(t, home, out)
			addr := e.plainAddr
			tlsOpts := `sslproto "tls1.2+" sslcertck sslcertfile "` + e.certPath + `" sslcommonname localhost`
			if mode == "pop3s" {
				addr = e.tlsAddr
				tlsOpts = `ssl sslcertck sslcertfile "` + e.certPath + `" sslcommonname localhost`
			}
			_, port, _ := strings.Cut(addr, ":")
			rc := fmt.Sprintf(`set no syslog
set no bouncemail
poll 127.0.0.1 service %s protocol POP3 auth password timeout 30
  user "%s" there with password "%s" is nobody here
  %s
  fetchall nokeep
  mda "%s"
`, port, realUser, realPass, tlsOpts, mda)
			rcPath := filepath.Join(home, "fetchmailrc")
			if err := os.WriteFile(rcPath, []byte(rc), 0o600); err != nil {
				t.Fatal(err)
			}
			env := []string{"HOME=" + home, "FETCHMAILHOME=" + home}
			runClientEnv(t, env, fetchmail, "-f", rcPath, "-N", "--idfile", filepath.Join(home, "ids"), "--pidfile", filepath.Join(home, "pid"))
			if mode == "stls" && !strings.Contains(e.logs.String(), "tls started") {
				t.Error("fetchmail did not use STLS")
			}
			checkFetched(t, e, stored, out)
		})
	}
}

// TestGetmail downloads and deletes all messages with getmail6, over
// plain POP3 on loopback and over pop3s with a verified certificate,
// delivering to an LMTP sink.
func TestGetmail(t *testing.T) {
	t.Parallel()
	getmail := testenv.RequireTool(t, "getmail")
	for _, mode := range []string{"plain", "pop3s"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newRealEnv(t, nil)
			for _, m := range testMessages() {
				e.deliver(t, realUser, m)
			}
			stored := e.stored(t, realUser)
			home := t.TempDir()
			sink := newLMTPSink(t)
			retriever := "SimplePOP3Retriever"
			addr := e.plainAddr
			extra := ""
			if mode == "pop3s" {
				retriever = "SimplePOP3SSLRetriever"
				addr = e.tlsAddr
				extra = "ca_certs = " + e.certPath + "\nssl_cert_hostname = localhost\n"
			}
			host, port, _ := strings.Cut(addr, ":")
			sinkHost, sinkPort, _ := strings.Cut(sink.addr, ":")
			rc := fmt.Sprintf(`[retriever]
type = %s
server = %s
port = %s
username = %s
password = %s
timeout = 30
%s
[destination]
type = MDA_lmtp
host = %s
port = %s
override = %s

[options]
delete = true
read_all = true
delivered_to = false
received = false
`, retriever, host, port, realUser, realPass, extra, sinkHost, sinkPort, realUser)
			rcPath := filepath.Join(home, "getmailrc")
			if err := os.WriteFile(rcPath, []byte(rc), 0o600); err != nil {
				t.Fatal(err)
			}
			runClientEnv(t, []string{"HOME=" + home}, getmail, "--getmaildir", home, "--rcfile", rcPath, "--quiet")
			out := filepath.Join(home, "out")
			if err := os.Mkdir(out, 0o700); err != nil {
				t.Fatal(err)
			}
			for i, m := range sink.messages() {
				if err := os.WriteFile(filepath.Join(out, itoa(i)), []byte(m), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			checkFetched(t, e, stored, out)
		})
	}
}

// writeMDA creates out and a delivery script that stores each message it
// reads on stdin as a new file in out.
func writeMDA(t *testing.T, home, out string) string {
	t.Helper()
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	mda := filepath.Join(home, "mda.sh")
	script := "#!/bin/sh\nexec cat > \"$(mktemp " + out + "/msg.XXXXXX)\"\n"
	if err := os.WriteFile(mda, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return mda
}

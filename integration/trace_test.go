package integration

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TestTraceRedactsPasswords: with `trace = true` protocol lines reach the
// log, and no password does.
func TestTraceRedactsPasswords(t *testing.T) {
	t.Parallel()
	in := newInstance(t, "")
	in.setTopLevel("trace = true")
	in.mustPostel("", "domain", "add", "example.com")
	in.mustPostel("Secret-Pw-987\n", "user", "add", "bob@example.com", "--password-stdin")
	in.start()

	// Plain IMAP on loopback (trace covers plain-text connections).
	c, err := imapclient.DialInsecure(in.addr("imap"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("bob@example.com", "Secret-Pw-987").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	c.Logout().Wait()
	c.Close()

	// Plain SMTP submission on loopback with AUTH PLAIN.
	sc, err := smtp.Dial(in.addr("submission"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Hello("laptop.example.com"); err != nil {
		t.Fatal(err)
	}
	if err := sc.Auth(sasl.NewPlainClient("", "bob@example.com", "Secret-Pw-987")); err != nil {
		t.Fatal(err)
	}
	sc.Quit()

	p := dialPOP3(t, in.addr("pop3s"))
	p.cmd(t, "USER bob@example.com")
	p.cmd(t, "PASS Secret-Pw-987")
	p.cmd(t, "QUIT")
	in.stop()

	log := in.log.String()
	if !strings.Contains(log, "SELECT") {
		t.Errorf("no IMAP trace in the log:\n%s", log)
	}
	if !strings.Contains(log, "USER") {
		t.Errorf("no POP3 trace in the log:\n%s", log)
	}
	if !strings.Contains(log, "EHLO laptop.example.com") {
		t.Errorf("no SMTP trace in the log:\n%s", log)
	}
	b64 := base64.StdEncoding.EncodeToString([]byte("\x00bob@example.com\x00Secret-Pw-987"))
	if strings.Contains(log, "Secret-Pw-987") || strings.Contains(log, b64) {
		t.Errorf("a password reached the log:\n%s", log)
	}
}

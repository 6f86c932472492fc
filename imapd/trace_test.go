package imapd

import (
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"postel/internal/testenv"
)

func TestTraceRedactsCredentials(t *testing.T) {
	t.Parallel()
	trace := &testenv.SyncBuffer{}
	e := newEnv(t, func(o *Options) { o.Trace = trace })
	c := e.dial(t, nil)
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		t.Fatal(err)
	}
	c2 := e.dial(t, nil)
	if err := c2.Authenticate(sasl.NewPlainClient("", testUser, testPass)); err != nil {
		t.Fatal(err)
	}
	rc := e.raw(t)
	rc.send("L1 LOGIN {17}\r\n")
	rc.line() // +
	rc.send(testUser + " {21}\r\n")
	rc.line()
	rc.send(testPass + "\r\n")
	rc.until("L1")
	rc.expect("OK", "NOOP")
	// A STARTTLS connection is traced up to the handshake only.
	tc, err := imapclient.DialStartTLS(e.addr, &imapclient.Options{TLSConfig: e.clientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if err := tc.Login(testUser, testPass).Wait(); err != nil {
		t.Fatal(err)
	}
	out := trace.String()
	for _, secret := range []string{testPass, "Y29ycmVjdCBob3JzZSBiYXR0ZXJ5", "AGFsaWNl"} {
		if strings.Contains(out, secret) {
			t.Errorf("trace leaks %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "C: T1 LOGIN [redacted]") || !strings.Contains(out, "S: a1 OK NOOP completed") {
		t.Errorf("trace:\n%s", out)
	}
}

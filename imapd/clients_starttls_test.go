package imapd

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestThunderbirdSTARTTLS: Thunderbird's default on port 143. CAPABILITY
// shows STARTTLS, the client upgrades, asks CAPABILITY again (RFC 9051
// 6.2.1: the list may change) and logs in.
func TestThunderbirdSTARTTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := e.raw(t)
	caps := rc.must("OK", "1", "capability")
	mustFind(t, caps, 1, ` STARTTLS( |$)`)
	rc.must("OK", "2", "STARTTLS")
	tc := tls.Client(rc.c, e.clientTLS())
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	rc.c, rc.r = tc, bufio.NewReader(tc)
	caps = rc.must("OK", "3", "capability")
	noneOf(t, caps, `STARTTLS`, "STARTTLS offered again after TLS")
	rc.must("OK", "4", fmt.Sprintf(`login "%s" "%s"`, testUser, testPass))
	rc.must("OK", "5", `select "INBOX"`)
}

// TestSTARTTLSInjection: plaintext pipelined after STARTTLS in the same
// packet (the CVE-2011-0411 pattern a man in the middle would use) must
// never be executed, neither before nor after the handshake.
func TestSTARTTLSInjection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := e.raw(t)
	rc.send("1 STARTTLS\r\n2 LOGIN " + testUser + ` "` + testPass + "\"\r\n")
	if l := rc.line(); !strings.HasPrefix(l, "1 OK") {
		t.Fatalf("STARTTLS: %q", l)
	}
	tc := tls.Client(rc.c, e.clientTLS())
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err == nil {
		// If the server went on, the injected LOGIN must not have run.
		r := bufio.NewReader(tc)
		tc.Write([]byte("3 NOOP\r\n"))
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				break
			}
			if strings.HasPrefix(l, "2 ") {
				t.Fatalf("injected command answered: %q", l)
			}
			if strings.HasPrefix(l, "3 ") {
				break
			}
		}
	}
	// The connection was refused or the injected line was dropped; either
	// way the account saw no login.
	if strings.Contains(e.logs.String(), `msg="imap login"`) {
		t.Fatalf("injected LOGIN ran:\n%s", e.logs.String())
	}
}

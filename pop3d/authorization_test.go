package pop3d

import (
	"encoding/base64"
	"net/netip"
	"strings"
	"testing"
)

func plain(authz, user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(authz + "\x00" + user + "\x00" + pass))
}

func TestTranscriptAuthPlain(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	d := seedBob(ts)
	c := dial(t, ts.addr)
	c.run(greeting + `
		C: AUTH
		S: +OK mechanisms follow
		S: PLAIN
		S: .
		C: AUTH CRAM-MD5
		S: -ERR unsupported authentication mechanism
		C: AUTH PLAIN
		S: + 
		C: *
		S: -ERR authentication cancelled
		C: AUTH PLAIN
		S: + 
		C: not base64!
		S: -ERR [AUTH] malformed PLAIN response
		C: AUTH PLAIN ` + plain("", "bob", "wrong") + `
		S: -ERR [AUTH] invalid user name or password
		C: AUTH PLAIN ` + plain("alice", "bob", "secret") + `
		S: -ERR [AUTH] malformed PLAIN response
		C: AUTH PLAIN
		S: + 
		C: ` + plain("", "bob", "secret") + `
		S: +OK maildrop locked and ready, 2 messages (97 octets)
		C: QUIT
		S: +OK Postel POP3 server signing off (2 messages left)`)
	waitReleased(t, d)

	// Initial response on the command line, authzid = authcid, and the
	// "=" empty initial response followed by a continuation (RFC 5034 4).
	c = dial(t, ts.addr)
	c.run(greeting + `
		C: auth plain ` + plain("bob", "bob", "secret") + `
		S: +OK maildrop locked and ready, 2 messages (97 octets)
		C: QUIT
		S: +OK Postel POP3 server signing off (2 messages left)`)
	waitReleased(t, d)
	c = dial(t, ts.addr)
	c.run(greeting + `
		C: AUTH PLAIN =
		S: + 
		C: ` + plain("", "alice", "wonder land") + `
		S: +OK maildrop locked and ready, 0 messages (0 octets)`)

	for _, secret := range []string{"secret", "wonder land", plain("", "bob", "secret"), plain("", "bob", "wrong")} {
		if strings.Contains(ts.logs.String(), secret) {
			t.Errorf("log contains secret %q", secret)
		}
	}
}

func TestTranscriptPassWithSpaces(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	c := dial(t, ts.addr)
	// RFC 1939 7: spaces in the PASS argument are part of the password.
	c.run(greeting + `
		C: USER alice
		S: +OK send PASS
		C: PASS wonder land
		S: +OK maildrop locked and ready, 0 messages (0 octets)`)
	if strings.Contains(ts.logs.String(), "wonder") {
		t.Error("log contains the password")
	}
	if !strings.Contains(ts.logs.String(), "PASS <redacted>") {
		t.Error("trace lacks the redacted PASS line")
	}
}

func TestTranscriptAuthErrors(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	c := dial(t, ts.addr)
	c.run(greeting + `
		C: USER throttled
		S: +OK send PASS
		C: PASS x
		S: -ERR [AUTH] too many failed logins, try again later
		C: USER broken
		S: +OK send PASS
		C: PASS x
		S: -ERR [SYS/TEMP] internal server error, try again later`)
	if !strings.Contains(ts.logs.String(), "disk on fire") {
		t.Error("internal error detail not logged")
	}
}

func TestTranscriptListFailureReleasesLock(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	d := seedBob(ts)
	d.mu.Lock()
	d.listErr = errInternalForTest
	d.mu.Unlock()
	c := dial(t, ts.addr)
	c.run(greeting + `
		C: USER bob
		S: +OK send PASS
		C: PASS secret
		S: -ERR [SYS/TEMP] internal server error, try again later`)
	waitReleased(t, d)
	if d.isLocked() {
		t.Error("lock held after failed login")
	}
}

func TestTranscriptAuthNeedsTLS(t *testing.T) {
	t.Parallel()
	cfg, _ := testCert(t)
	ts := newTestServer(t, func(o *Options) {
		o.TLSConfig = cfg
		o.InsecureAuth = func(netip.Addr) bool { return false }
	})
	seedBob(ts)
	c := dial(t, ts.addr)
	// RFC 2595 2.1: no cleartext login before TLS; not advertised either.
	c.run(greeting + `
		C: CAPA
		S: +OK capability list follows
		S: TOP
		S: UIDL
		S: RESP-CODES
		S: AUTH-RESP-CODE
		S: PIPELINING
		S: EXPIRE NEVER
		S: STLS
		S: IMPLEMENTATION Postel
		S: .
		C: USER bob
		S: -ERR [AUTH] plaintext authentication requires TLS, use STLS first
		C: PASS secret
		S: -ERR [AUTH] plaintext authentication requires TLS, use STLS first
		C: AUTH PLAIN ` + plain("", "bob", "secret") + `
		S: -ERR [AUTH] plaintext authentication requires TLS, use STLS first
		C: STLS
		S: +OK begin TLS negotiation`)
	c.startTLS()
	c.run(`
		C: CAPA
		S: +OK capability list follows
		S: TOP
		S: UIDL
		S: RESP-CODES
		S: AUTH-RESP-CODE
		S: PIPELINING
		S: EXPIRE NEVER
		S: USER
		S: SASL PLAIN
		S: IMPLEMENTATION Postel
		S: .
		C: STLS
		S: -ERR already using TLS
		C: USER bob
		S: +OK send PASS
		C: PASS secret
		S: +OK maildrop locked and ready, 2 messages (97 octets)
		C: RETR 1
		S: +OK 51 octets`)
	if got := c.multi(); got != msgOne {
		t.Errorf("RETR over TLS = %q", got)
	}
}

func TestTranscriptStlsDropsPipelinedPlaintext(t *testing.T) {
	t.Parallel()
	cfg, _ := testCert(t)
	ts := newTestServer(t, func(o *Options) { o.TLSConfig = cfg })
	seedBob(ts)
	c := dial(t, ts.addr)
	c.run(greeting)
	// A command injected after STLS in the same packet must not run
	// inside the TLS session (CVE-2011-0411 class).
	c.write("STLS\r\nUSER bob\r\n")
	c.run(`S: +OK begin TLS negotiation`)
	c.startTLS()
	c.run(`
		C: PASS secret
		S: -ERR USER first`)
}

func TestTranscriptNoSTLSWithoutConfig(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	c := dial(t, ts.addr)
	c.run(greeting + `
		C: STLS
		S: -ERR STLS not available`)
}

func TestImplicitTLS(t *testing.T) {
	t.Parallel()
	cfg, _ := testCert(t)
	ts := newTestServer(t, func(o *Options) {
		o.TLSConfig = cfg
		o.InsecureAuth = func(netip.Addr) bool { return false }
	})
	seedBob(ts)
	addr := serveOn(t, ts.srv.ServeTLS)
	c := dial(t, addr)
	c.startTLS()
	c.run(greeting + `
		C: CAPA
		S: +OK capability list follows
		S: TOP
		S: UIDL
		S: RESP-CODES
		S: AUTH-RESP-CODE
		S: PIPELINING
		S: EXPIRE NEVER
		S: USER
		S: SASL PLAIN
		S: IMPLEMENTATION Postel
		S: .
		C: AUTH PLAIN ` + plain("", "bob", "secret") + `
		S: +OK maildrop locked and ready, 2 messages (97 octets)`)
}

func TestDecodePlain(t *testing.T) {
	t.Parallel()
	b64 := base64.StdEncoding.EncodeToString
	tests := []struct {
		in         string
		user, pass string
		ok         bool
	}{
		{b64([]byte("\x00bob\x00pw")), "bob", "pw", true},
		{b64([]byte("bob\x00bob\x00pw")), "bob", "pw", true},
		{b64([]byte("eve\x00bob\x00pw")), "", "", false},
		{b64([]byte("\x00bob\x00")), "", "", false},
		{b64([]byte("\x00\x00pw")), "", "", false},
		{b64([]byte("bob\x00pw")), "", "", false},
		{b64([]byte("\x00bob\x00pw\x00x")), "", "", false},
		{"=", "", "", false},
		{"%%%", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		user, pass, ok := decodePlain(tt.in)
		if user != tt.user || pass != tt.pass || ok != tt.ok {
			t.Errorf("decodePlain(%q) = %q, %q, %v; want %q, %q, %v", tt.in, user, pass, ok, tt.user, tt.pass, tt.ok)
		}
	}
}

package imapd

import (
	"context"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"postel/auth"
	"postel/internal/testenv"
)

func TestNewValidates(t *testing.T) {
	t.Parallel()
	if _, err := New(Options{}); err == nil {
		t.Fatal("New without Store/Auth succeeded")
	}
	if _, err := New(Options{Store: nil, Auth: fakeAuth{}, IdleTimeout: time.Minute}); err == nil || !strings.Contains(err.Error(), "30 minutes") {
		t.Fatalf("short IdleTimeout: %v", err)
	}
}

func TestCapabilities(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := e.raw(t)
	u := rc.expect("OK", "CAPABILITY")
	pre := strings.Join(u, " ")
	for _, want := range []string{"IMAP4rev1", "IMAP4rev2", "STARTTLS", "AUTH=PLAIN", "SASL-IR", "LITERAL-"} {
		if !strings.Contains(pre, " "+want) {
			t.Errorf("pre-auth CAPABILITY lacks %s: %s", want, pre)
		}
	}
	if strings.Contains(pre, "LOGINDISABLED") {
		t.Errorf("loopback got LOGINDISABLED: %s", pre)
	}
	rc.login()
	u = rc.expect("OK", "CAPABILITY")
	post := strings.Join(u, " ") + " "
	for _, want := range []string{"IMAP4rev1", "IMAP4rev2", "NAMESPACE", "UIDPLUS", "MOVE", "ESEARCH",
		"SEARCHRES", "LIST-EXTENDED", "LIST-STATUS", "STATUS=SIZE", "SPECIAL-USE", "CREATE-SPECIAL-USE",
		"LITERAL+", "BINARY", "CHILDREN", "UNSELECT", "ENABLE", "IDLE", "UTF8=ACCEPT", "APPENDLIMIT=52428800",
		"UNAUTHENTICATE", "SASL-IR"} {
		if !strings.Contains(post, " "+want+" ") {
			t.Errorf("CAPABILITY lacks %s: %s", want, post)
		}
	}
	if strings.Contains(post, "STARTTLS") {
		t.Errorf("STARTTLS offered after login: %s", post)
	}
}

// remoteOnly makes the server treat every client, loopback included, as
// remote: authentication needs TLS.
func remoteOnly(o *Options) { o.InsecureAuth = func(netip.Addr) bool { return false } }

func TestLoginRequiresTLSExceptLoopback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, remoteOnly)
	rc := e.raw(t)
	u := rc.expect("OK", "CAPABILITY")
	if caps := strings.Join(u, " "); !strings.Contains(caps, "LOGINDISABLED") || strings.Contains(caps, "AUTH=PLAIN") {
		t.Fatalf("plain-text remote CAPABILITY: %s", caps)
	}
	rc.expect("NO [PRIVACYREQUIRED]", `LOGIN %s "%s"`, testUser, testPass)
	rc.expect("NO [PRIVACYREQUIRED]", "AUTHENTICATE PLAIN")

	// STARTTLS then LOGIN works.
	c, err := imapclient.DialStartTLS(e.addr, &imapclient.Options{TLSConfig: e.clientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		t.Fatalf("LOGIN after STARTTLS: %v", err)
	}
	// Implicit TLS (imaps) works too.
	c2, err := imapclient.DialTLS(e.tlsAddr, &imapclient.Options{TLSConfig: e.clientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Login(testUser, testPass).Wait(); err != nil {
		t.Fatalf("LOGIN over implicit TLS: %v", err)
	}
}

func TestLoginFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := e.raw(t)
	rc.expect("NO [AUTHENTICATIONFAILED]", `LOGIN %s "wrong"`, testUser)
	rc.expect("NO [AUTHENTICATIONFAILED]", `LOGIN nobody@example.com "wrong"`)
	rc.expect("BAD", "SELECT INBOX") // not authenticated
	if strings.Contains(e.logs.String(), "wrong") {
		t.Error("password reached the log")
	}
}

func TestAuthenticatePlain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.dial(t, nil)
	if err := c.Authenticate(sasl.NewPlainClient("", testUser, testPass)); err != nil {
		t.Fatalf("AUTHENTICATE PLAIN: %v", err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	// UNAUTHENTICATE returns to the not-authenticated state (RFC 8437).
	if err := c.Unauthenticate().Wait(); err != nil {
		t.Fatalf("UNAUTHENTICATE: %v", err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err == nil {
		t.Fatal("SELECT after UNAUTHENTICATE succeeded")
	}
	if err := c.Authenticate(sasl.NewPlainClient("", testUser, "bad")); err == nil {
		t.Fatal("AUTHENTICATE with a bad password succeeded")
	}
}

func TestConnLimitPerIP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.MaxConnsPerIP = 2 })
	a, b := e.raw(t), e.raw(t)
	_, _ = a, b
	c := e.rawNoGreeting(t)
	if l := c.line(); !strings.HasPrefix(l, "* BYE") {
		t.Fatalf("third connection got %q", l)
	}
	// Closing one frees a slot.
	a.c.Close()
	testenv.WaitFor(t, 5*time.Second, "the per-IP slot to be released", func() bool {
		return strings.HasPrefix(e.rawNoGreeting(t).line(), "* OK")
	})
}

func TestConnLimitPerAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.MaxConnsPerAccount = 1 })
	c := e.login(t, nil)
	rc := e.raw(t)
	rc.expect("NO [LIMIT]", `LOGIN %s "%s"`, testUser, testPass)
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	testenv.WaitFor(t, 5*time.Second, "the per-account slot to be released", func() bool {
		_, done := rc.cmd(`LOGIN %s "%s"`, testUser, testPass)
		return strings.HasPrefix(done, "OK")
	})
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.idleTimeout = 300 * time.Millisecond // tests only: New refuses < 30 min
	rc := e.raw(t)
	rc.login()
	rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	buf := make([]byte, 1)
	if _, err := rc.r.Read(buf); err == nil {
		t.Fatal("connection still open")
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Fatalf("closed after %v", d)
	}
	if s2, err := New(Options{Store: e.store, Auth: e.db}); err != nil || s2.idleTimeout != 30*time.Minute {
		t.Fatalf("default idle timeout: %v %v", err, s2)
	}
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.login(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case <-c.Closed():
	case <-time.After(5 * time.Second):
		t.Fatal("client not disconnected")
	}
	if _, err := imapclient.DialInsecure(e.addr, nil); err == nil {
		// the listener is closed, so dialing must fail
		t.Fatal("dial after Shutdown succeeded")
	}
}

func TestNamespace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.login(t, nil)
	ns, err := c.Namespace().Wait()
	if err != nil {
		t.Fatal(err)
	}
	if len(ns.Personal) != 1 || ns.Personal[0].Delim != '/' || ns.Personal[0].Prefix != "" || ns.Other != nil || ns.Shared != nil {
		t.Fatalf("NAMESPACE %+v", ns)
	}
	_ = imap.CapIMAP4rev2
}

func (e *env) rawNoGreeting(t testing.TB) *rawConn {
	t.Helper()
	c, err := netDial(e.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, r: bufioReader(c)}
}

// TestLoginThrottled: repeated failures reach auth's lockout, which the
// client sees as NO [UNAVAILABLE] even with the right password.
func TestLoginThrottled(t *testing.T) {
	t.Parallel()
	db, err := auth.Open(auth.Options{Path: filepath.Join(t.TempDir(), "a.db"), Logger: slog.New(slog.DiscardHandler), Throttle: auth.ThrottleOptions{
		Free: 1, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond, Lockout: 3, Window: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	if err := db.AddDomain(ctx, "example.com"); err != nil {
		t.Fatal(err)
	}
	if err := db.AddUser(ctx, testUser, testPass); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(o *Options) { o.Auth = db })
	rc := e.raw(t)
	for i := 0; i < 3; i++ {
		rc.cmd(`LOGIN %s "wrong%d"`, testUser, i)
	}
	rc.expect("NO [UNAVAILABLE]", `LOGIN %s "%s"`, testUser, testPass)
}

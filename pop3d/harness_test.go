package pop3d

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"postel/internal/testenv"
)

type testServer struct {
	srv   *Server
	addr  string // plain listener
	store *fakeStore
	auth  *fakeAuth
	logs  *testenv.SyncBuffer
}

// newTestServer starts a Server over the in-memory fakes on 127.0.0.1:0
// with users bob/secret and alice/wonder, and a trace log.
func newTestServer(t testing.TB, configure func(*Options)) *testServer {
	t.Helper()
	return newTestServerHook(t, configure, nil)
}

// newTestServerHook is newTestServer with a hook that may change the
// Server's fields before it starts serving.
func newTestServerHook(t testing.TB, configure func(*Options), hook func(*testServer)) *testServer {
	t.Helper()
	ts := &testServer{
		store: newFakeStore(),
		auth:  &fakeAuth{users: map[string]string{"bob": "secret", "alice": "wonder land"}},
		logs:  &testenv.SyncBuffer{},
	}
	opts := Options{
		Store:    ts.store,
		Auth:     ts.auth,
		Logger:   slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Hostname: "pop.example.test",
		Trace:    true,
	}
	if configure != nil {
		configure(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts.srv = srv
	if hook != nil {
		hook(ts)
	}
	ts.addr = serveOn(t, srv.Serve)
	t.Cleanup(func() { srv.Close() })
	return ts
}

// serveOn runs serve on a fresh loopback listener and returns its address.
func serveOn(t testing.TB, serve func(net.Listener) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve(ln) }()
	t.Cleanup(func() {
		ln.Close()
		if err := <-done; err != nil && !errors.Is(err, ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, r: bufio.NewReader(c)}
}

func (c *client) write(s string) {
	c.t.Helper()
	c.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// line reads one server line without its CRLF; "<EOF>" once closed.
func (c *client) line() string {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := c.r.ReadString('\n')
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
			return "<EOF>"
		}
		c.t.Fatalf("read: %v (partial %q)", err, l)
	}
	if !strings.HasSuffix(l, "\r\n") {
		c.t.Fatalf("line without CRLF: %q", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

// run plays a transcript. "C: x" lines are sent (consecutive ones in a
// single write, i.e. pipelined); "S: x" expects the exact line x, "S~ re"
// a line matching the anchored regexp re; "S: <EOF>" expects the close.
func (c *client) run(script string) {
	c.t.Helper()
	var pending strings.Builder
	flush := func() {
		if pending.Len() > 0 {
			c.write(pending.String())
			pending.Reset()
		}
	}
	for _, raw := range strings.Split(script, "\n") {
		l := strings.TrimLeft(raw, " \t")
		if l == "" {
			continue
		}
		if len(l) < 3 {
			c.t.Fatalf("bad script line %q", raw)
		}
		tag, text := l[:3], l[3:]
		switch tag {
		case "C: ":
			pending.WriteString(text + "\r\n")
		case "S: ":
			flush()
			if got := c.line(); got != text {
				c.t.Fatalf("server said %q, want %q", got, text)
			}
		case "S~ ":
			flush()
			got := c.line()
			if !regexp.MustCompile("^(?:" + text + ")$").MatchString(got) {
				c.t.Fatalf("server said %q, want match for %q", got, text)
			}
		default:
			c.t.Fatalf("bad script line %q", raw)
		}
	}
	flush()
}

// multi reads a multi-line response body after its +OK line, undoing the
// dot-stuffing, and returns it with CRLF line ends.
func (c *client) multi() string {
	c.t.Helper()
	var b strings.Builder
	for {
		l := c.line()
		if l == "<EOF>" {
			c.t.Fatal("EOF inside multi-line response")
		}
		if l == "." {
			return b.String()
		}
		b.WriteString(strings.TrimPrefix(l, "."))
		b.WriteString("\r\n")
	}
}

const greeting = `S: +OK Postel POP3 server ready pop.example.test`

// login connects and logs in as bob.
func (ts *testServer) login(t *testing.T) *client {
	t.Helper()
	c := dial(t, ts.addr)
	c.run(greeting + `
		C: USER bob
		S: +OK send PASS
		C: PASS secret
		S~ \+OK maildrop locked and ready, \d+ messages \(\d+ octets\)`)
	return c
}

// waitReleased waits until a session of d has released its lock.
func waitReleased(t *testing.T, d *fakeDrop) {
	t.Helper()
	select {
	case <-d.released:
	case <-time.After(10 * time.Second):
		t.Fatal("maildrop lock not released")
	}
}

// testCert makes a self-signed certificate for 127.0.0.1 and localhost,
// returning the TLS config and the path of the PEM certificate (for
// clients that want to trust it).
func testCert(t testing.TB) (*tls.Config, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, path
}

// tlsClient upgrades c (after +OK to STLS, or right away for pop3s).
func (c *client) startTLS() {
	c.t.Helper()
	tc := tls.Client(c.c, &tls.Config{InsecureSkipVerify: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		c.t.Fatalf("handshake: %v", err)
	}
	c.c = tc
	c.r = bufio.NewReader(tc)
}

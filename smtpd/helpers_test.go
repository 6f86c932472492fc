package smtpd

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"postel/delivery"
	"postel/delivery/deliverytest"
	"postel/internal/selfsigned"
	"postel/internal/testenv"
)

// fakeQueue records what submission enqueued.
type fakeQueue struct {
	mu   sync.Mutex
	msgs []queued
	err  error
}

type queued struct {
	from  string
	rcpts []string
	data  []byte
}

func (q *fakeQueue) Enqueue(ctx context.Context, from string, rcpts []string, msg io.Reader) (string, error) {
	data, err := io.ReadAll(msg)
	if err != nil {
		return "", err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return "", q.err
	}
	q.msgs = append(q.msgs, queued{from, rcpts, data})
	return fmt.Sprintf("q%d", len(q.msgs)), nil
}

func (q *fakeQueue) all() []queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]queued(nil), q.msgs...)
}

type testEnv struct {
	srv   *Server
	addr  string // plain listener
	store *deliverytest.Store
	auth  *deliverytest.Auth
	queue *fakeQueue
	logs  *testenv.SyncBuffer
	tls   *tls.Config // client config trusting the server
}

func testTLS(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	certPEM, keyPEM, err := selfsigned.Generate("mx.example.com")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}},
		&tls.Config{InsecureSkipVerify: true, ServerName: "mx.example.com"}
}

// newEnv starts a server with fake store and auth on 127.0.0.1:0.
// Users: bob@example.com (pw "bobpw"), carol@example.com; alias
// team@example.com -> bob, carol; alice@example.com (pw "alicepw").
func newEnv(t testing.TB, mode Mode, mutate func(*Options)) *testEnv {
	t.Helper()
	e := &testEnv{
		store: deliverytest.NewStore(),
		auth:  deliverytest.NewAuth("example.com"),
		queue: &fakeQueue{},
		logs:  &testenv.SyncBuffer{},
	}
	e.auth.AddUser("bob@example.com", "bobpw")
	e.auth.AddUser("carol@example.com", "carolpw")
	e.auth.AddUser("alice@example.com", "alicepw")
	e.auth.AddAlias("team@example.com", "bob@example.com", "carol@example.com")
	agent, err := delivery.New(delivery.Options{Store: e.store, Auth: e.auth, Logger: slog.New(slog.NewTextHandler(e.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srvTLS, cliTLS := testTLS(t)
	e.tls = cliTLS
	opts := Options{
		Mode:      mode,
		Hostname:  "mx.example.com",
		TLSConfig: srvTLS,
		Logger:    slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Delivery:  agent,
		SpoolDir:  t.TempDir(),
	}
	if mode == Submission {
		opts.Auth = e.auth
		opts.Queue = e.queue
	}
	if mutate != nil {
		mutate(&opts)
	}
	e.srv, e.addr = startServer(t, opts)
	return e
}

func startServer(t testing.TB, opts Options) (*Server, string) {
	t.Helper()
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv, ln.Addr().String()
}

// serveTLS adds an implicit-TLS listener to e.srv and returns its address.
func (e *testEnv) serveTLS(t testing.TB) string { return serveTLS(t, e.srv) }

func serveTLS(t testing.TB, srv *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln)
	return ln.Addr().String()
}

// client speaks raw SMTP lines.
type client struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	cl := &client{t: t, c: c, r: bufio.NewReader(c)}
	cl.expect(`^220 mx\.example\.com ESMTP`)
	return cl
}

// send writes raw bytes (no CRLF added).
func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// reply reads one complete (possibly multi-line) reply.
func (c *client) reply() string {
	c.t.Helper()
	var lines []string
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read reply after %q: %v", lines, err)
		}
		lines = append(lines, strings.TrimRight(line, "\r\n"))
		if len(line) < 4 || line[3] != '-' {
			return strings.Join(lines, "\n")
		}
	}
}

// expect reads a reply and matches it against a regexp.
func (c *client) expect(pattern string) string {
	c.t.Helper()
	got := c.reply()
	if !regexp.MustCompile(pattern).MatchString(got) {
		c.t.Fatalf("reply %q does not match %q", got, pattern)
	}
	return got
}

// cmd sends one command line and expects a reply.
func (c *client) cmd(line, pattern string) string {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.expect(pattern)
}

// expectClosed asserts the server closes the connection.
func (c *client) expectClosed() {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := io.ReadAll(c.r)
	if err != nil && !isConnReset(err) {
		c.t.Fatalf("expected close, got %v after %q", err, rest)
	}
	if len(rest) > 0 {
		c.t.Fatalf("unexpected data before close: %q", rest)
	}
}

func isConnReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

// startTLS upgrades the client after a 220 to STARTTLS.
func (c *client) startTLS(cfg *tls.Config) {
	c.t.Helper()
	c.cmd("STARTTLS", `^220 `)
	tc := tls.Client(c.c, cfg)
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.c = tc
	c.r = bufio.NewReader(tc)
}

const testMsg = "From: alice@remote.org\r\nTo: bob@example.com\r\nSubject: test\r\n\r\nHello Bob.\r\n"

func newReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// waitFor polls cond with a deadline (for state with no event to wait on).
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, 10*time.Second, "the condition", cond)
}

func dialTLS(t testing.TB, addr string, cfg *tls.Config) *client {
	t.Helper()
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	cl := &client{t: t, c: c, r: bufio.NewReader(c)}
	cl.expect(`^220 mx\.example\.com ESMTP`)
	return cl
}

func mustDial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return c
}

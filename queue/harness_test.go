package queue

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	"postel/dkim"
	"postel/internal/dnsresolver"
	"postel/internal/fakedns"
)

// Compile-time checks: the queue is what smtpd's submission enqueues to,
// and dkim.Signer is what it signs with.
var (
	_ interface {
		Enqueue(ctx context.Context, from string, rcpts []string, msg io.Reader) (string, error)
	} = (*Queue)(nil)
	_ Signer = (*dkim.Signer)(nil)
)

// sharedKeys holds example.org's DKIM keys, generated once in TestMain:
// RSA key generation would otherwise dominate the suite's time.
var sharedKeys string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "queue-dkim-")
	if err == nil {
		sharedKeys = dir
		_, err = dkim.Generate(dir, "example.org")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "TestMain:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeNet is a small internet on loopback: one DNS server and SMTP sinks
// on 127.0.0.2, 127.0.0.3, ... all on one port (Options.Port).
type fakeNet struct {
	dns  *fakedns.Server
	port int
	dkim string // DKIM key directory for example.org, records published
}

func newFakeNet(t testing.TB) *fakeNet {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	n := &fakeNet{dns: fakedns.Start(t), port: port, dkim: sharedKeys}
	recs, err := dkim.Records(n.dkim, "example.org")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		n.dns.Add(r.Zone())
	}
	return n
}

// mx publishes "domain MX pref host" and "host A ip".
func (n *fakeNet) mx(domain string, pref int, host, ip string) {
	n.dns.Add(domain+". 300 IN MX "+strconv.Itoa(pref)+" "+host+".", host+". 300 IN A "+ip)
}

// sink starts an SMTP sink on ip at the net's port.
func (n *fakeNet) sink(t testing.TB, name, ip string, o sinkOpts) *sink {
	return startSink(t, name, ip, n.port, o)
}

// verifyDKIM checks every signature of msg against the fake DNS the way
// a receiving MTA does and returns the verified domains per algorithm
// count.
func (n *fakeNet) verifyDKIM(t *testing.T, msg []byte) []*msgdkim.Verification {
	t.Helper()
	r := dnsresolver.New(n.dns.Addr)
	vs, err := msgdkim.VerifyWithOptions(bytes.NewReader(msg), &msgdkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) { return r.LookupTXT(context.Background(), name) },
	})
	if err != nil {
		t.Fatalf("dkim verify: %v", err)
	}
	return vs
}

type testEnv struct {
	net   *fakeNet
	clock *clock
	local *capture
	dir   string
	opts  Options
	q     *Queue
}

// newEnv opens a queue on the fake net; example.org is our local domain.
func newEnv(t testing.TB, n *fakeNet, mod func(*Options)) *testEnv {
	t.Helper()
	e := &testEnv{net: n, clock: newClock(), local: &capture{}, dir: t.TempDir()}
	e.opts = Options{
		Dir:      e.dir,
		Hostname: "mail.example.org",
		Resolver: dnsresolver.New(n.dns.Addr),
		Port:     n.port,
		Signer:   dkim.NewSigner(n.dkim),
		IsLocal:  func(d string) bool { return d == "example.org" },
		Local:    e.local,
		Now:      e.clock.Now,
		Logger:   slog.New(slog.DiscardHandler),
		Timeout:  20 * time.Second,
	}
	if mod != nil {
		mod(&e.opts)
	}
	e.reopen(t)
	return e
}

// reopen opens (again) the queue in e.dir, as a restarted server would.
func (e *testEnv) reopen(t testing.TB) {
	t.Helper()
	q, err := Open(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	e.q = q
	t.Cleanup(func() { q.Close() })
}

func (e *testEnv) enqueue(t testing.TB, from string, rcpts []string, msg string) string {
	t.Helper()
	id, err := e.q.Enqueue(context.Background(), from, rcpts, strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *testEnv) run(t *testing.T) {
	t.Helper()
	if err := e.q.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (e *testEnv) list(t *testing.T) []Entry {
	t.Helper()
	l, err := e.q.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func testMessage(from, subject string) string {
	return "From: Alice <" + from + ">\r\n" +
		"To: someone@example.net\r\n" +
		"Subject: " + subject + "\r\n" +
		"Date: Thu, 26 Nov 2026 01:00:00 +0000\r\n" +
		"Message-ID: <" + subject + "@example.org>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" +
		"Hello,\r\nthis is " + subject + ".\r\n"
}

// dsn is a parsed delivery status notification.
type dsn struct {
	header     mail.Header
	text       string
	perMessage string
	perRcpt    []string // one field block per recipient
	origHeader string
}

// parseDSN parses an RFC 3464 report and checks its structure.
func parseDSN(t *testing.T, data []byte) dsn {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("report Content-Type = %q", m.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	d := dsn{header: m.Header}
	var types []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("report part: %v", err)
		}
		body, _ := io.ReadAll(p)
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		types = append(types, ct)
		switch ct {
		case "text/plain":
			d.text = string(body)
		case "message/delivery-status":
			blocks := strings.Split(strings.TrimSpace(strings.ReplaceAll(string(body), "\r\n", "\n")), "\n\n")
			d.perMessage, d.perRcpt = blocks[0], blocks[1:]
		case "text/rfc822-headers":
			d.origHeader = string(body)
		}
	}
	if strings.Join(types, ",") != "text/plain,message/delivery-status,text/rfc822-headers" {
		t.Fatalf("report parts = %v", types)
	}
	return d
}

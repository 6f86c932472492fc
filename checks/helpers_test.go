package checks

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/authres"
	msgdkim "github.com/emersion/go-msgauth/dkim"

	"postel/internal/dnsresolver"
	"postel/internal/fakedns"
)

// testHost is our authserv-id in tests.
const testHost = "mx.ours.example"

// syncBuffer collects log output from concurrent goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the JSON log records written so far.
func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if l == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// fakeClock is a settable clock for rate limits.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type harness struct {
	dns   *fakedns.Server
	c     *Checker
	logs  *syncBuffer
	clock *fakeClock
}

// newHarness starts a fake DNS server and a Checker resolving through it.
// ours.example is a local domain. edit may change the options.
func newHarness(t *testing.T, edit func(*Options)) *harness {
	t.Helper()
	h := &harness{dns: startDNS(t), logs: &syncBuffer{}, clock: &fakeClock{now: time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)}}
	opts := Options{
		Hostname:      testHost,
		Resolver:      dnsresolver.New(h.dns.Addr),
		IsLocalDomain: func(d string) bool { return d == "ours.example" },
		Logger:        slog.New(slog.NewJSONHandler(h.logs, nil)),
		Now:           h.clock.Now,
	}
	if edit != nil {
		edit(&opts)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	return h
}

// check runs CheckMessage from ip with the given envelope sender.
func (h *harness) check(t *testing.T, ip, helo, mailFrom, msg string) Verdict {
	t.Helper()
	env := Envelope{RemoteIP: netip.MustParseAddr(ip), Helo: helo, MailFrom: mailFrom, Rcpts: []string{"bob@ours.example"}}
	return h.c.CheckMessage(context.Background(), env, strings.NewReader(msg))
}

// message builds a small CRLF message with the given From: value.
func message(from string) string {
	return "From: " + from + "\r\n" +
		"To: bob@ours.example\r\n" +
		"Subject: test\r\n" +
		"Date: Thu, 26 Nov 2026 01:00:00 +0000\r\n" +
		"Message-ID: <t1@test>\r\n" +
		"\r\n" +
		"Hello.\r\n"
}

// testKey is a DKIM key with its DNS record.
type testKey struct {
	domain, selector string
	signer           crypto.Signer
}

func newEd25519Key(t testing.TB, domain, selector string) testKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{domain, selector, priv}
}

func newRSAKey(t testing.TB, domain, selector string) testKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{domain, selector, priv}
}

// record returns the key's TXT record in zone-file syntax, split into
// 255-octet strings.
func (k testKey) record(t testing.TB) string {
	t.Helper()
	var v string
	switch pub := k.signer.Public().(type) {
	case ed25519.PublicKey:
		v = "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		v = "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s._domainkey.%s. 300 IN TXT", k.selector, k.domain)
	for len(v) > 255 {
		fmt.Fprintf(&b, " %q", v[:255])
		v = v[255:]
	}
	fmt.Fprintf(&b, " %q", v)
	return b.String()
}

// sign returns msg with a relaxed/relaxed DKIM-Signature by k prepended,
// the way the outbound signer signs.
func (k testKey) sign(t testing.TB, msg string) string {
	t.Helper()
	var out bytes.Buffer
	err := msgdkim.Sign(&out, strings.NewReader(msg), &msgdkim.SignOptions{
		Domain:                 k.domain,
		Selector:               k.selector,
		Signer:                 k.signer,
		HeaderCanonicalization: msgdkim.CanonicalizationRelaxed,
		BodyCanonicalization:   msgdkim.CanonicalizationRelaxed,
		HeaderKeys:             []string{"From", "To", "Subject", "Date", "Message-ID"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// results parses Verdict.Header back, checking its shape: the field name,
// our authserv-id, CRLF line ends and folding.
func results(t *testing.T, v Verdict) map[string][]authres.Result {
	t.Helper()
	const prefix = "Authentication-Results: "
	if !strings.HasPrefix(v.Header, prefix) || !strings.HasSuffix(v.Header, "\r\n") {
		t.Fatalf("header %q: bad shape", v.Header)
	}
	for _, l := range strings.Split(strings.TrimSuffix(v.Header, "\r\n"), "\r\n") {
		if len(l) > 998 || strings.ContainsAny(l, "\r\n") {
			t.Fatalf("header line %q", l)
		}
	}
	id, rs, err := authres.Parse(unfold(strings.TrimPrefix(v.Header, prefix)))
	if err != nil || id != testHost {
		t.Fatalf("parse %q: id %q, err %v", v.Header, id, err)
	}
	out := map[string][]authres.Result{}
	for _, r := range rs {
		switch r := r.(type) {
		case *authres.SPFResult:
			out["spf"] = append(out["spf"], r)
		case *authres.DMARCResult:
			out["dmarc"] = append(out["dmarc"], r)
		case *authres.DKIMResult:
			out["dkim"] = append(out["dkim"], r)
		case *authres.GenericResult:
			out[r.Method] = append(out[r.Method], r)
		}
	}
	return out
}

// value returns the result value of the i-th result of method.
func value(t *testing.T, rs map[string][]authres.Result, method string) string {
	t.Helper()
	if len(rs[method]) == 0 {
		t.Fatalf("no %s result in %v", method, rs)
	}
	switch r := rs[method][0].(type) {
	case *authres.SPFResult:
		return string(r.Value)
	case *authres.DMARCResult:
		return string(r.Value)
	case *authres.DKIMResult:
		return string(r.Value)
	case *authres.GenericResult:
		return string(r.Value)
	}
	return ""
}

type authresSPF = authres.SPFResult

func slogJSON(w io.Writer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type resultT = authres.Result

// startDNS starts fakedns, retrying when its TCP listener cannot take the
// UDP port it was given (another process got there first: fakedns.Start
// then fails the test). The retry goes through a panic because Start
// expects Fatalf not to return; it never escapes this function.
func startDNS(t testing.TB) *fakedns.Server {
	t.Helper()
	for attempt := 1; ; attempt++ {
		s, err := tryStartDNS(t)
		if err == nil {
			return s
		}
		if attempt == 5 {
			t.Fatal(err)
		}
	}
}

type dnsStartFailed struct{ msg string }

// retryTB is the fakedns.TB that turns Fatalf into a recoverable panic.
type retryTB struct{ testing.TB }

func (r retryTB) Fatalf(format string, args ...any) {
	panic(dnsStartFailed{fmt.Sprintf(format, args...)})
}

func tryStartDNS(t testing.TB) (s *fakedns.Server, err error) {
	defer func() {
		if p := recover(); p != nil {
			f, ok := p.(dnsStartFailed)
			if !ok {
				panic(p)
			}
			err = errors.New(f.msg)
		}
	}()
	return fakedns.Start(retryTB{t}), nil
}

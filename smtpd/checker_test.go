package smtpd

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"

	"postel/checks"
	"postel/internal/dnsresolver"
	"postel/internal/fakedns"
)

var _ Checker = (*checks.Checker)(nil)

type fakeChecker struct {
	connReject  *checks.Rejection
	allowReject *checks.Rejection
	verdict     checks.Verdict

	mu     sync.Mutex
	envs   []checks.Envelope
	bodies []string
}

func (f *fakeChecker) CheckConnection(ctx context.Context, ip netip.Addr) *checks.Rejection {
	return f.connReject
}

func (f *fakeChecker) AllowMessage(ip netip.Addr) *checks.Rejection { return f.allowReject }

func (f *fakeChecker) CheckMessage(ctx context.Context, env checks.Envelope, msg io.Reader) checks.Verdict {
	b, _ := io.ReadAll(msg)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.envs = append(f.envs, env)
	f.bodies = append(f.bodies, string(b))
	return f.verdict
}

func withChecker(f *fakeChecker) func(*Options) {
	return func(o *Options) { o.Checker = f }
}

func TestCheckerConnectionRejected(t *testing.T) {
	t.Parallel()
	f := &fakeChecker{connReject: &checks.Rejection{Code: 554, Enhanced: [3]int{5, 7, 1}, Message: "Listed by zen.example"}}
	e := newEnv(t, Inbound, withChecker(f))
	c := &client{t: t, c: mustDial(t, e.addr)}
	c.r = newReader(c.c)
	c.expect(`^554 5\.7\.1 Listed by zen\.example$`)
	c.expectClosed()
}

func TestCheckerMessageRateAtMail(t *testing.T) {
	t.Parallel()
	f := &fakeChecker{allowReject: &checks.Rejection{Code: 451, Enhanced: [3]int{4, 7, 0}, Message: "Too many messages, slow down"}}
	e := newEnv(t, Inbound, withChecker(f))
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	c.cmd("MAIL FROM:<a@remote.org>", `^451 4\.7\.0 Too many messages`)
}

func TestCheckerRejectAtEndOfData(t *testing.T) {
	t.Parallel()
	f := &fakeChecker{verdict: checks.Verdict{Action: checks.Reject, Reject: &checks.Rejection{Code: 550, Enhanced: [3]int{5, 7, 1}, Message: "Message rejected by the DMARC policy of remote.org"}}}
	e := newEnv(t, Inbound, withChecker(f))
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	c.cmd("MAIL FROM:<a@remote.org>", `^250`)
	c.cmd("RCPT TO:<bob@example.com>", `^250`)
	c.cmd("DATA", `^354`)
	c.send(testMsg + ".\r\n")
	c.expect(`^550 5\.7\.1 Message rejected by the DMARC policy`)
	if e.store.Count() != 0 {
		t.Error("rejected message stored")
	}
}

func TestCheckerJunkAndAuthResults(t *testing.T) {
	t.Parallel()
	ar := "Authentication-Results: mx.example.com; spf=fail smtp.mailfrom=remote.org\r\n"
	f := &fakeChecker{verdict: checks.Verdict{Action: checks.Junk, Header: ar}}
	e := newEnv(t, Inbound, withChecker(f))
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	c.startTLS(e.tls)
	c.cmd("EHLO client.example", `^250`)
	c.cmd("MAIL FROM:<a@remote.org>", `^250`)
	c.cmd("RCPT TO:<bob@example.com>", `^250`)
	c.cmd("RCPT TO:<team@example.com>", `^250`)
	c.cmd("DATA", `^354`)
	forged := "Authentication-Results: mx.example.com; dmarc=pass header.from=example.com\r\n"
	c.send(forged + testMsg + ".\r\n")
	c.expect(`^250`)
	if len(f.bodies) != 1 || f.bodies[0] != forged+testMsg {
		t.Errorf("checker saw %q, want the message as received", f.bodies)
	}
	env := f.envs[0]
	if env.Helo != "client.example" || env.MailFrom != "a@remote.org" || !env.TLS ||
		env.RemoteIP != netip.MustParseAddr("127.0.0.1") || strings.Join(env.Rcpts, ",") != "bob@example.com,team@example.com" {
		t.Errorf("envelope %+v", env)
	}
	if n := len(e.store.Messages("bob@example.com", "INBOX")); n != 0 {
		t.Errorf("junk reached INBOX")
	}
	for _, acct := range []string{"bob@example.com", "carol@example.com"} {
		got := e.store.Messages(acct, "Junk")
		if len(got) != 1 {
			t.Fatalf("%s Junk has %d", acct, len(got))
		}
		re := regexp.MustCompile(`^Return-Path: <a@remote\.org>\r\nReceived: [^\r]+\r\n(\t[^\r]+\r\n)+` + regexp.QuoteMeta(ar+testMsg) + `$`)
		if !re.Match(got[0]) {
			t.Errorf("%s stored:\n%s", acct, got[0])
		}
	}
}

// The real checks package end to end: mail From: our own domain arriving
// on port 25 unsigned is filed as Junk with an Authentication-Results
// header, and a forged one claiming our authserv-id is removed.
func TestRealCheckerOwnDomainForgery(t *testing.T) {
	t.Parallel()
	dns := fakedns.Start(t)
	var chk *checks.Checker
	e := newRealEnv(t, Inbound, func(o *Options) {
		var err error
		chk, err = checks.New(checks.Options{
			Hostname:      "mx.example.com",
			Resolver:      dnsresolver.New(dns.Addr),
			IsLocalDomain: func(d string) bool { return strings.EqualFold(d, "example.com") },
			Logger:        slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		o.Checker = chk
	})
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	c.cmd("MAIL FROM:<ceo@example.com>", `^250`)
	c.cmd("RCPT TO:<bob@example.com>", `^250`)
	c.cmd("DATA", `^354`)
	c.send("Authentication-Results: mx.example.com; dmarc=pass\r\nFrom: ceo@example.com\r\nSubject: wire money\r\n\r\nNow.\r\n.\r\n")
	c.expect(`^250`)
	if n := len(e.messages(t, "bob@example.com", "INBOX")); n != 0 {
		t.Fatalf("forged own-domain mail reached INBOX")
	}
	junk := e.messages(t, "bob@example.com", "Junk")
	if len(junk) != 1 {
		t.Fatalf("Junk has %d messages", len(junk))
	}
	if strings.Contains(junk[0], "dmarc=pass") || strings.Count(junk[0], "Authentication-Results: mx.example.com") != 1 {
		t.Errorf("Authentication-Results not replaced:\n%s", junk[0])
	}
}

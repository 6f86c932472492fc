package smtpd

import (
	"context"
	"errors"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"postel/storage"
)

func TestInboundDeliversWithTraceHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, nil)
	c := dial(t, e.addr)
	ehlo := c.cmd("EHLO client.example", `^250-Hello client\.example`)
	for _, ext := range []string{"PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "SIZE 26214400", "STARTTLS", "CHUNKING"} {
		if !strings.Contains(ehlo, "\n250-"+ext) && !strings.Contains(ehlo, "\n250 "+ext) {
			t.Errorf("EHLO lacks %s: %q", ext, ehlo)
		}
	}
	if strings.Contains(ehlo, "AUTH") {
		t.Errorf("inbound EHLO offers AUTH: %q", ehlo)
	}
	c.cmd("MAIL FROM:<alice@remote.org>", `^250 2\.0\.0`)
	c.cmd("RCPT TO:<Bob+news@Example.COM>", `^250 2\.0\.0`)
	c.cmd("DATA", `^354`)
	c.send(testMsg + ".\r\n")
	c.expect(`^250 2\.0\.0`)
	c.cmd("QUIT", `^221`)

	msgs := e.store.Messages("bob@example.com", "INBOX")
	if len(msgs) != 1 {
		t.Fatalf("bob has %d messages", len(msgs))
	}
	got := string(msgs[0])
	want := regexp.MustCompile(`^Return-Path: <alice@remote\.org>\r\n` +
		`Received: from client\.example \(\[127\.0\.0\.1\]\)\r\n` +
		`\tby mx\.example\.com with ESMTP\r\n` +
		`\tid [a-z2-7]+\.1 for <Bob\+news@Example\.COM>;\r\n` +
		`\t\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\n` +
		regexp.QuoteMeta(testMsg) + `$`)
	if !want.MatchString(got) {
		t.Errorf("stored message:\n%s", got)
	}
}

func TestInboundReplyCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, nil)
	e.auth.SetQuota("carol@example.com", 100)
	e.store.SetUsage("carol@example.com", 100)
	c := dial(t, e.addr)
	c.cmd("MAIL FROM:<a@remote.org>", `^502 5\.5\.1`) // before EHLO
	c.cmd("EHLO client.example", `^250`)
	c.cmd("RCPT TO:<bob@example.com>", `^502 5\.5\.1`) // before MAIL
	c.cmd("DATA", `^502 5\.5\.1`)
	c.cmd("MAIL FROM:<a@remote.org>", `^250`)
	c.cmd("RCPT TO:<nobody@example.com>", `^550 5\.1\.1 `)
	c.cmd("RCPT TO:<someone@elsewhere.org>", `^554 5\.7\.1 Relay access denied`)
	c.cmd("RCPT TO:<carol@example.com>", `^452 4\.2\.2 `)
	c.cmd("RCPT TO:<no-domain>", `^501 5\.\d\.\d `)
	c.cmd("RCPT TO:<team@example.com>", `^452 4\.2\.2 `) // carol is a target of team
	c.cmd("DATA", `^502 5\.5\.1`)                        // no recipient accepted
	c.cmd("RSET", `^250`)
	c.cmd("MAIL FROM:<josé@remote.org>", `^553 5\.6\.7 `) // RFC 6531 without SMTPUTF8
	c.cmd("MAIL FROM:<josé@remote.org> SMTPUTF8", `^250`)
	c.cmd("RCPT TO:<bob@example.com>", `^250`)
	c.cmd("MAIL FROM:<a@remote.org>", `^250`)
	c.cmd("RCPT TO:<bøb@example.com>", `^553 5\.6\.7 `)
	c.cmd("RSET", `^250`)
	c.cmd("VRFY bob", `^252`)
	c.cmd("NOOP", `^250`)
	c.cmd("QUIT", `^221 2\.0\.0`)
	if n := e.store.Count(); n != 0 {
		t.Errorf("store has %d messages", n)
	}
}

func TestInboundNeverRelaysEvenWithAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, nil)
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	c.cmd("AUTH PLAIN AGJvYkBleGFtcGxlLmNvbQBib2Jwdw==", `^5\d\d `) // bob@example.com / bobpw
	c.cmd("MAIL FROM:<bob@example.com>", `^250`)
	c.cmd("RCPT TO:<friend@elsewhere.org>", `^554 5\.7\.1`)
	// After TLS as well.
	c.startTLS(e.tls)
	ehlo := c.cmd("EHLO client.example", `^250`)
	if strings.Contains(ehlo, "AUTH") {
		t.Errorf("inbound offers AUTH after TLS: %q", ehlo)
	}
	c.cmd("AUTH PLAIN AGJvYkBleGFtcGxlLmNvbQBib2Jwdw==", `^5\d\d `)
	c.cmd("MAIL FROM:<bob@example.com>", `^250`)
	c.cmd("RCPT TO:<friend@elsewhere.org>", `^554 5\.7\.1`)
}

func TestInboundSTARTTLSReceived(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, nil)
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	c.startTLS(e.tls)
	ehlo := c.cmd("EHLO client.example", `^250`)
	if strings.Contains(ehlo, "STARTTLS") {
		t.Errorf("STARTTLS offered twice: %q", ehlo)
	}
	c.cmd("MAIL FROM:<>", `^250`)
	c.cmd("RCPT TO:<bob@example.com>", `^250`)
	c.cmd("RCPT TO:<carol@example.com>", `^250`)
	c.cmd("DATA", `^354`)
	c.send(testMsg + ".\r\n")
	c.expect(`^250`)
	for _, acct := range []string{"bob@example.com", "carol@example.com"} {
		msgs := e.store.Messages(acct, "INBOX")
		if len(msgs) != 1 {
			t.Fatalf("%s has %d messages", acct, len(msgs))
		}
		got := string(msgs[0])
		if !regexp.MustCompile(`^Return-Path: <>\r\nReceived: from client\.example \(\[127\.0\.0\.1\]\)\r\n\tby mx\.example\.com with ESMTPS \(using TLS1\.3 with cipher TLS_[A-Z0-9_]+\)\r\n\tid \S+;\r\n`).MatchString(got) {
			t.Errorf("%s got:\n%s", acct, got)
		}
	}
}

func TestInboundAliasDeliversOncePerAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, nil)
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	c.cmd("MAIL FROM:<a@remote.org>", `^250`)
	c.cmd("RCPT TO:<team@example.com>", `^250`)
	c.cmd("RCPT TO:<bob@example.com>", `^250`)
	c.cmd("DATA", `^354`)
	c.send(testMsg + ".\r\n")
	c.expect(`^250`)
	if n := len(e.store.Messages("bob@example.com", "INBOX")); n != 1 {
		t.Errorf("bob got %d copies, want 1", n)
	}
	if n := len(e.store.Messages("carol@example.com", "INBOX")); n != 1 {
		t.Errorf("carol got %d copies, want 1", n)
	}
}

// The published SMTP smuggling variants (SEC Consult, 2023): a bare LF or
// bare CR around the dot must never end DATA nor start a second message.
func TestSmuggling(t *testing.T) {
	t.Parallel()
	variants := map[string]string{
		"LF.LF":     "\n.\n",
		"CR.CR":     "\r.\r",
		"CRLF.LF":   "\r\n.\n",
		"LF.CRLF":   "\n.\r\n",
		"CR.CRLF":   "\r.\r\n",
		"CRLF.CR":   "\r\n.\r",
		"CR LF.LF":  "\r\n\n.\n",
		"CRLF.NUL":  "\r\n.\x00\r\n",
		"CRLF.CRCR": "\r\n.\r\r\n",
	}
	for name, eod := range variants {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, Inbound, nil)
			c := dial(t, e.addr)
			c.cmd("EHLO client.example", `^250`)
			c.cmd("MAIL FROM:<a@remote.org>", `^250`)
			c.cmd("RCPT TO:<bob@example.com>", `^250`)
			c.cmd("DATA", `^354`)
			c.send("From: a@remote.org\r\nSubject: one\r\n\r\nfirst" + eod +
				"MAIL FROM:<admin@example.com>\r\nRCPT TO:<carol@example.com>\r\nDATA\r\n" +
				"From: admin@example.com\r\nSubject: smuggled\r\n\r\nsecond\r\n.\r\n")
			// Exactly one reply for the whole thing: the message is refused
			// for its bare line ends, or (where go-smtp's DATA reader elides
			// the dot and CR of ".\r") accepted as one message to bob.
			first := c.expect(`^(550 5\.5\.2|250 2\.0\.0) `)
			c.cmd("NOOP", `^250 2\.0\.0`)
			c.cmd("QUIT", `^221`)
			if n := len(e.store.Messages("carol@example.com", "INBOX")); n != 0 {
				t.Errorf("smuggled message delivered to carol")
			}
			bob := e.store.Messages("bob@example.com", "INBOX")
			switch {
			case strings.HasPrefix(first, "550") && len(bob) != 0:
				t.Errorf("refused message stored")
			case strings.HasPrefix(first, "250") && (len(bob) != 1 || !strings.Contains(string(bob[0]), "smuggled")):
				t.Errorf("accepted message is not the single whole message: %q", bob)
			}
		})
	}
}

func TestBareLineEndsInsideMessageRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, nil)
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	for _, body := range []string{"a\nb\r\n", "a\rb\r\n", "last\r\rline\r\n"} {
		c.cmd("MAIL FROM:<a@remote.org>", `^250`)
		c.cmd("RCPT TO:<bob@example.com>", `^250`)
		c.cmd("DATA", `^354`)
		c.send("Subject: x\r\n\r\n" + body + ".\r\n")
		c.expect(`^550 5\.5\.2 `)
	}
	// The same over BDAT (CHUNKING, RFC 3030).
	c.cmd("MAIL FROM:<a@remote.org>", `^250`)
	c.cmd("RCPT TO:<bob@example.com>", `^250`)
	c.send("BDAT 11 LAST\r\nSubject: \nx")
	c.expect(`^550 5\.5\.2 `)
	if n := e.store.Count(); n != 0 {
		t.Errorf("store has %d messages", n)
	}
}

func TestChunking(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, nil)
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	c.cmd("MAIL FROM:<a@remote.org>", `^250`)
	c.cmd("RCPT TO:<bob@example.com>", `^250`)
	c.send("BDAT 14\r\nSubject: x\r\n\r\n")
	c.expect(`^250`)
	c.send("BDAT 7 LAST\r\n.body\r\n")
	c.expect(`^250 2\.0\.0`)
	msgs := e.store.Messages("bob@example.com", "INBOX")
	if len(msgs) != 1 || !strings.HasSuffix(string(msgs[0]), "\r\nSubject: x\r\n\r\n.body\r\n") {
		t.Errorf("stored %q", msgs)
	}
}

func TestPipelining(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, nil)
	c := dial(t, e.addr)
	// RFC 2920: the whole transaction up to DATA in one write.
	c.send("EHLO client.example\r\nMAIL FROM:<a@remote.org>\r\nRCPT TO:<bob@example.com>\r\n" +
		"RCPT TO:<nobody@example.com>\r\nRCPT TO:<carol@example.com>\r\nDATA\r\n")
	c.expect(`^250-Hello client\.example`)
	c.expect(`^250 `)
	c.expect(`^250 `)
	c.expect(`^550 5\.1\.1`)
	c.expect(`^250 `)
	c.expect(`^354`)
	c.send(testMsg + ".\r\nMAIL FROM:<b@remote.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n")
	c.expect(`^250 2\.0\.0`)
	c.expect(`^250 `)
	c.expect(`^250 `)
	c.expect(`^354`)
	c.send(testMsg + ".\r\nQUIT\r\n")
	c.expect(`^250 2\.0\.0`)
	c.expect(`^221`)
	if n := len(e.store.Messages("bob@example.com", "INBOX")); n != 2 {
		t.Errorf("bob has %d messages, want 2", n)
	}
	if n := len(e.store.Messages("carol@example.com", "INBOX")); n != 1 {
		t.Errorf("carol has %d messages, want 1", n)
	}
}

func TestOverlongCommandLine(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, func(o *Options) { o.MaxLineLength = 512 })
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	c.cmd("MAIL FROM:<"+strings.Repeat("a", 600)+"@remote.org>", `^500 5\.4\.0 `)
	c.expectClosed()
}

func TestOverlongDataLine(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, func(o *Options) { o.MaxLineLength = 1000 })
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	c.cmd("MAIL FROM:<a@remote.org>", `^250`)
	c.cmd("RCPT TO:<bob@example.com>", `^250`)
	c.cmd("DATA", `^354`)
	c.send("Subject: x\r\n\r\n" + strings.Repeat("x", 1200) + "\r\n.\r\n")
	c.expect(`^500 5\.5\.2 Line too long`)
	if n := e.store.Count(); n != 0 {
		t.Errorf("store has %d messages", n)
	}
}

func TestMessageSize(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, func(o *Options) { o.MaxMessageBytes = 1000 })
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `(?m)^250[ -]SIZE 1000$`)
	c.cmd("MAIL FROM:<a@remote.org> SIZE=1001", `^552 5\.3\.4`)
	c.cmd("MAIL FROM:<a@remote.org> SIZE=999", `^250`)
	c.cmd("RCPT TO:<bob@example.com>", `^250`)
	c.cmd("DATA", `^354`)
	c.send("Subject: big\r\n\r\n" + strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz\r\n", 40) + ".\r\n")
	c.expect(`^552 5\.3\.4`)
	// The session goes on.
	c.cmd("MAIL FROM:<a@remote.org>", `^250`)
	c.cmd("RCPT TO:<bob@example.com>", `^250`)
	c.cmd("DATA", `^354`)
	c.send("Subject: small\r\n\r\nok\r\n.\r\n")
	c.expect(`^250`)
	if n := e.store.Count(); n != 1 {
		t.Errorf("store has %d messages, want 1", n)
	}
}

func TestMaxRecipients(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, func(o *Options) { o.MaxRecipients = 2 })
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `LIMITS RCPTMAX=2`)
	c.cmd("MAIL FROM:<a@remote.org>", `^250`)
	c.cmd("RCPT TO:<bob@example.com>", `^250`)
	c.cmd("RCPT TO:<carol@example.com>", `^250`)
	c.cmd("RCPT TO:<alice@example.com>", `^452 4\.5\.3`)
}

func TestMaxErrorsDisconnects(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, func(o *Options) { o.MaxErrors = 3 })
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	c.cmd("MAIL FROM:<a@remote.org>", `^250`)
	for i := 0; i < 3; i++ {
		c.cmd("RCPT TO:<nobody@example.com>", `^550 5\.1\.1`)
	}
	c.cmd("RCPT TO:<x@elsewhere.org>", `^554 5\.7\.1`)
	c.expect(`^421 4\.7\.0 Too many errors`)
	c.expectClosed()
}

func TestConnectionsPerIP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, func(o *Options) { o.MaxConnsPerIP = 2 })
	c1 := dial(t, e.addr)
	dial(t, e.addr)
	raw, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	c3 := &client{t: t, c: raw, r: newReader(raw)}
	c3.expect(`^421 4\.7\.0 Too many connections from your address`)
	c3.expectClosed()
	// A slot frees up when a connection ends.
	c1.cmd("QUIT", `^221`)
	c1.expectClosed()
	waitFor(t, func() bool {
		e.srv.mu.Lock()
		defer e.srv.mu.Unlock()
		return e.srv.perIP[mustAddr("127.0.0.1")] == 1
	})
	dial(t, e.addr).cmd("QUIT", `^221`)
}

func TestJunkCommandsDisconnect(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, func(o *Options) { o.MaxJunkBytes = 200 })
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	for i := 0; i < 40; i++ {
		c.send("NOOP\r\n")
		got := c.reply()
		if strings.HasPrefix(got, "421") {
			c.expectClosed()
			return
		}
	}
	t.Fatal("40 NOOPs accepted with a 200-byte junk budget")
}

func TestRSETDoesNotRefillJunkBudget(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, func(o *Options) { o.MaxJunkBytes = 200 })
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	for i := 0; i < 60; i++ {
		c.send("RSET\r\n")
		if strings.HasPrefix(c.reply(), "421") {
			c.expectClosed()
			return
		}
	}
	t.Fatal("60 RSETs accepted with a 200-byte junk budget")
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, func(o *Options) { o.ReadTimeout = 200 * time.Millisecond })
	c := dial(t, e.addr)
	c.expect(`^421 4\.4\.2 `)
	c.expectClosed()
}

// The idle timeout applies to each block of message data (RFC 5321
// 4.5.3.2), not to the whole DATA phase: a slow but steady sender gets
// through although the transfer takes longer than the timeout.
func TestSlowDataWithinTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, func(o *Options) { o.ReadTimeout = time.Second })
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	c.cmd("MAIL FROM:<a@remote.org>", `^250`)
	c.cmd("RCPT TO:<bob@example.com>", `^250`)
	c.cmd("DATA", `^354`)
	c.send("Subject: slow\r\n\r\n")
	for i := 0; i < 6; i++ {
		time.Sleep(300 * time.Millisecond) // pacing the sender, not waiting for an event
		c.send("line\r\n")
	}
	c.send(".\r\n")
	c.expect(`^250`)
}

func TestStalledDataTimesOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, func(o *Options) { o.ReadTimeout = 300 * time.Millisecond })
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	c.cmd("MAIL FROM:<a@remote.org>", `^250`)
	c.cmd("RCPT TO:<bob@example.com>", `^250`)
	c.cmd("DATA", `^354`)
	c.send("Subject: stalled\r\n\r\nhalf a messa")
	c.expect(`^421 4\.4\.2 `)
	c.expectClosed()
	if e.store.Count() != 0 {
		t.Error("partial message stored")
	}
}

// Known go-smtp v0.25.1 limitation, pinned here so a fix upstream is
// noticed: its DATA reader leaves the "CR seen" state on a second CR, so
// a last line ending in CR CR LF hides the following ".\r\n" and DATA
// never ends. The client times out (421 4.4.2) and nothing is stored;
// had DATA ended, the bare CR would have been refused with 550 anyway.
func TestGoSMTPMissesEndAfterCRCRLF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, func(o *Options) { o.ReadTimeout = 300 * time.Millisecond })
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	c.cmd("MAIL FROM:<a@remote.org>", `^250`)
	c.cmd("RCPT TO:<bob@example.com>", `^250`)
	c.cmd("DATA", `^354`)
	c.send("Subject: x\r\n\r\nlast\r\r\n.\r\n")
	c.expect(`^421 4\.4\.2 `)
	if e.store.Count() != 0 {
		t.Error("message stored")
	}
}

func TestPartialDeliveryFailureIs451(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, nil)
	e.store.Fail(storage.Target{Account: "carol@example.com", Mailbox: "INBOX"}, errors.New("disk on fire"))
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	c.cmd("MAIL FROM:<a@remote.org>", `^250`)
	c.cmd("RCPT TO:<bob@example.com>", `^250`)
	c.cmd("RCPT TO:<carol@example.com>", `^250`)
	c.cmd("DATA", `^354`)
	c.send(testMsg + ".\r\n")
	got := c.expect(`^451 4\.3\.0 `)
	if strings.Contains(got, "fire") {
		t.Errorf("internal error text reached the client: %q", got)
	}
	if !strings.Contains(e.logs.String(), "disk on fire") {
		t.Errorf("internal error not logged")
	}
	// Quota failure at commit for every target: 452.
	e.store.Fail(storage.Target{Account: "carol@example.com", Mailbox: "INBOX"}, storage.ErrOverQuota)
	c.cmd("MAIL FROM:<a@remote.org>", `^250`)
	c.cmd("RCPT TO:<carol@example.com>", `^250`)
	c.cmd("DATA", `^354`)
	c.send(testMsg + ".\r\n")
	c.expect(`^452 4\.2\.2 `)
}

func TestStoreErrorIs451WithoutDetails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, nil)
	e.store.BeginErr = errors.New("secret path /var/mail exploded")
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	c.cmd("MAIL FROM:<a@remote.org>", `^250`)
	c.cmd("RCPT TO:<bob@example.com>", `^250`)
	c.cmd("DATA", `^354`)
	c.send(testMsg + ".\r\n")
	if got := c.expect(`^451 4\.3\.0 `); strings.Contains(got, "secret") {
		t.Errorf("internal error text reached the client: %q", got)
	}
}

// panicky delivers by panicking.
type panicky struct{ LocalDelivery }

func (p panicky) Deliver(ctx context.Context, from string, targets []storage.Target, msg io.Reader) error {
	panic("boom")
}

func TestPanicClosesOnlyThatConnection(t *testing.T) {
	t.Parallel()
	var e *testEnv
	e = newEnv(t, Inbound, func(o *Options) { o.Delivery = panicky{o.Delivery} })
	other := dial(t, e.addr)
	other.cmd("EHLO other.example", `^250`)
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	c.cmd("MAIL FROM:<a@remote.org>", `^250`)
	c.cmd("RCPT TO:<bob@example.com>", `^250`)
	c.cmd("DATA", `^354`)
	c.send(testMsg + ".\r\n")
	c.expect(`^421 4\.3\.0 `)
	c.expectClosed()
	logs := e.logs.String()
	if !strings.Contains(logs, "panic in session") || !strings.Contains(logs, "boom") || !strings.Contains(logs, "goroutine") {
		t.Errorf("panic not logged with stack:\n%s", logs)
	}
	other.cmd("NOOP", `^250`)
}

func TestShutdownClosesIdleAndFinishesTransactions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, nil)
	idle := dial(t, e.addr)
	idle.cmd("EHLO idle.example", `^250`)
	busy := dial(t, e.addr)
	busy.cmd("EHLO busy.example", `^250`)
	busy.cmd("MAIL FROM:<a@remote.org>", `^250`)
	busy.cmd("RCPT TO:<bob@example.com>", `^250`)
	busy.cmd("DATA", `^354`)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- e.srv.Shutdown(ctx)
	}()
	idle.expectClosed()
	busy.send(testMsg + ".\r\n")
	busy.expect(`^250 2\.0\.0`)
	busy.expectClosed()
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := e.store.Count(); n != 1 {
		t.Errorf("store has %d messages", n)
	}
}

// An inbound message's own Return-Path fields (RFC 5321 4.4: only the
// delivery server adds one; one arriving with the message can be forged)
// are gone from the stored copy, which has ours above our Received.
func TestInboundReplacesReturnPath(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, nil)
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	c.cmd("MAIL FROM:<alice@remote.org>", `^250`)
	c.cmd("RCPT TO:<bob@example.com>", `^250`)
	c.cmd("DATA", `^354`)
	c.send("Return-Path: <ceo@example.com>\r\nFrom: alice@remote.org\r\nRETURN-PATH :\r\n\t<x@example.com>\r\n" +
		"Subject: test\r\n\r\nReturn-Path: <body line, kept>\r\n.\r\n")
	c.expect(`^250 2\.0\.0`)
	msgs := e.store.Messages("bob@example.com", "INBOX")
	if len(msgs) != 1 {
		t.Fatalf("bob has %d messages", len(msgs))
	}
	want := regexp.MustCompile(`^Return-Path: <alice@remote\.org>\r\n` +
		`Received: from client\.example [^\r]*\r\n(\t[^\r]*\r\n)+` +
		regexp.QuoteMeta("From: alice@remote.org\r\nSubject: test\r\n\r\nReturn-Path: <body line, kept>\r\n") + `$`)
	if !want.Match(msgs[0]) {
		t.Errorf("stored message:\n%s", msgs[0])
	}
}

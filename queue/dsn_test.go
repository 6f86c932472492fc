package queue

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestPermanentFailureBounce: a 550 for one recipient produces one RFC 3464
// bounce to the local sender through the LocalDeliverer, with the remote's
// reply and the original headers; the other recipient is delivered.
func TestPermanentFailureBounce(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	n.mx("a.example", 10, "mx.a.example", "127.0.0.2")
	mx := n.sink(t, "mx.a.example", "127.0.0.2", sinkOpts{})
	mx.rcptFn = func(rcpt string) error {
		if rcpt == "nobody@a.example" {
			return smtpErr(550, [3]int{5, 1, 1}, "nobody: user unknown")
		}
		return nil
	}
	e := newEnv(t, n, nil)
	e.enqueue(t, "alice@example.org", []string{"x@a.example", "nobody@a.example"}, testMessage("alice@example.org", "bounce-me"))
	e.run(t)

	if got := mx.messages(); len(got) != 1 || len(got[0].To) != 1 || got[0].To[0] != "x@a.example" {
		t.Fatalf("sink got %+v", got)
	}
	reps := e.local.all()
	if len(reps) != 1 {
		t.Fatalf("%d reports, want 1", len(reps))
	}
	if reps[0].From != "" || reps[0].Rcpt != "alice@example.org" {
		t.Errorf("report envelope from=%q rcpt=%q, want <> to alice", reps[0].From, reps[0].Rcpt)
	}
	d := parseDSN(t, reps[0].Data)
	if !strings.Contains(d.perMessage, "Reporting-MTA: dns; mail.example.org") {
		t.Errorf("per-message fields: %q", d.perMessage)
	}
	if len(d.perRcpt) != 1 {
		t.Fatalf("per-recipient blocks: %q", d.perRcpt)
	}
	for _, want := range []string{
		"Final-Recipient: rfc822; nobody@a.example",
		"Action: failed",
		"Status: 5.1.1",
		"Remote-MTA: dns; mx.a.example",
		"Diagnostic-Code: smtp; 550 5.1.1 nobody: user unknown",
	} {
		if !strings.Contains(d.perRcpt[0], want) {
			t.Errorf("missing %q in %q", want, d.perRcpt[0])
		}
	}
	if !strings.Contains(d.origHeader, "Subject: bounce-me") || !strings.Contains(d.origHeader, "Message-ID: <bounce-me@example.org>") {
		t.Errorf("original headers: %q", d.origHeader)
	}
	if strings.Contains(d.origHeader, "this is bounce-me") {
		t.Errorf("body returned in headers part")
	}
	if d.header.Get("Auto-Submitted") != "auto-replied" || !strings.Contains(d.header.Get("From"), "MAILER-DAEMON@mail.example.org") {
		t.Errorf("report header: %v", d.header)
	}
	if !strings.Contains(d.text, "nobody@a.example") {
		t.Errorf("human part: %q", d.text)
	}
	if l := e.list(t); len(l) != 0 {
		t.Errorf("queue: %+v", l)
	}
	// A rejection at DATA fails every accepted recipient alike.
	mx.rcptFn = nil
	mx.dataFn = func([]byte) error { return smtpErr(554, [3]int{5, 7, 1}, "spam") }
	e.enqueue(t, "alice@example.org", []string{"p@a.example", "q@a.example"}, testMessage("alice@example.org", "data-reject"))
	e.run(t)
	reps = e.local.all()
	if len(reps) != 2 {
		t.Fatalf("%d reports, want 2", len(reps))
	}
	if d := parseDSN(t, reps[1].Data); len(d.perRcpt) != 2 || !strings.Contains(d.perRcpt[1], "554 5.7.1 spam") {
		t.Errorf("DATA rejection report: %q", d.perRcpt)
	}
}

// TestExpiryBounce: a remote that always answers 451 gets one delay notice
// after 4 hours, then a bounce when the message is 5 days old.
func TestExpiryBounce(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	n.mx("a.example", 10, "mx.a.example", "127.0.0.2")
	mx := n.sink(t, "mx.a.example", "127.0.0.2", sinkOpts{})
	mx.rcptFn = func(string) error { return smtpErr(451, [3]int{4, 3, 0}, "try again") }
	e := newEnv(t, n, nil)
	e.enqueue(t, "alice@example.org", []string{"x@a.example"}, testMessage("alice@example.org", "expire"))
	start := e.clock.Now()
	e.run(t)
	// Walk the retry schedule like the scheduler would, one due time at a
	// time, counting attempts.
	for {
		l := e.list(t)
		if len(l) == 0 {
			break
		}
		if l[0].NextTry.After(e.clock.Now()) {
			e.clock.Advance(l[0].NextTry.Sub(e.clock.Now()))
		}
		e.run(t)
		if e.clock.Now().Sub(start) > 6*24*time.Hour {
			t.Fatal("never expired")
		}
	}
	if got := e.clock.Now().Sub(start); got != 5*24*time.Hour {
		t.Errorf("expired after %v, want 120h", got)
	}
	// 5m,10m,20m,40m,1h,2h,4h = 8h15m over 8 attempts, then every 4h up to
	// 120h: 1 + 7 + ceil((120h-8h15m)/4h)=28 attempts.
	if c := mx.rcptCount(); c != 36 {
		t.Errorf("%d attempts, want 36", c)
	}
	reps := e.local.all()
	if len(reps) != 2 {
		t.Fatalf("%d reports, want delay notice + bounce", len(reps))
	}
	delay, bounce := parseDSN(t, reps[0].Data), parseDSN(t, reps[1].Data)
	if !strings.Contains(delay.perRcpt[0], "Action: delayed") || !strings.Contains(delay.perRcpt[0], "Will-Retry-Until:") ||
		!strings.HasPrefix(delay.header.Get("Subject"), "Delayed Mail") {
		t.Errorf("delay notice: %q", delay.perRcpt)
	}
	for _, want := range []string{"Action: failed", "Status: 4.4.7", "Diagnostic-Code: smtp; 451 4.3.0 try again"} {
		if !strings.Contains(bounce.perRcpt[0], want) {
			t.Errorf("bounce lacks %q: %q", want, bounce.perRcpt[0])
		}
	}
}

// TestNullMX: RFC 7505 null MX and a non-existent domain fail at once,
// without any connection, and bounce.
func TestNullMX(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	n.dns.Add("null.example. 300 IN MX 0 .")
	e := newEnv(t, n, nil)
	e.enqueue(t, "alice@example.org", []string{"x@null.example", "y@nxdomain.example"}, testMessage("alice@example.org", "null-mx"))
	e.run(t)
	reps := e.local.all()
	if len(reps) != 1 {
		t.Fatalf("%d reports, want 1", len(reps))
	}
	d := parseDSN(t, reps[0].Data)
	if len(d.perRcpt) != 2 {
		t.Fatalf("blocks %q", d.perRcpt)
	}
	all := strings.Join(d.perRcpt, "\n")
	for _, want := range []string{"Final-Recipient: rfc822; x@null.example", "Status: 5.1.10", "null MX",
		"Final-Recipient: rfc822; y@nxdomain.example", "Status: 5.1.2"} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in %q", want, all)
		}
	}
	if l := e.list(t); len(l) != 0 {
		t.Errorf("queue: %+v", l)
	}
}

// TestDNSFailureIsTemporary: SERVFAIL on the MX lookup is retried.
func TestDNSFailureIsTemporary(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	n.dns.Fail("broken.example")
	e := newEnv(t, n, nil)
	e.enqueue(t, "alice@example.org", []string{"x@broken.example"}, testMessage("alice@example.org", "servfail"))
	e.run(t)
	l := e.list(t)
	if len(l) != 1 || l[0].Status != "queued" || !strings.Contains(l[0].LastError, "DNS") {
		t.Fatalf("queue: %+v", l)
	}
	if len(e.local.all()) != 0 {
		t.Error("bounced a temporary failure")
	}
}

// TestNullSenderNeverBounced: a report that fails permanently is dropped,
// not reported on (RFC 5321 6.1).
func TestNullSenderNeverBounced(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	n.mx("a.example", 10, "mx.a.example", "127.0.0.2")
	mx := n.sink(t, "mx.a.example", "127.0.0.2", sinkOpts{})
	mx.rcptFn = func(string) error { return smtpErr(550, [3]int{5, 1, 1}, "unknown") }
	e := newEnv(t, n, nil)
	if _, err := e.q.Enqueue(context.Background(), "", []string{"x@a.example"}, strings.NewReader("Subject: x\r\n\r\nx\r\n")); err == nil {
		t.Fatal("Enqueue accepted a null sender from a caller")
	}
	if _, err := e.q.enqueue(context.Background(), "", []string{"x@a.example"}, []byte("Subject: report\r\n\r\nx\r\n"), false); err != nil {
		t.Fatal(err)
	}
	e.run(t)
	if len(e.local.all()) != 0 {
		t.Error("bounced a null-sender message")
	}
	if l := e.list(t); len(l) != 0 {
		t.Errorf("queue: %+v", l)
	}
}

// TestRemoteSenderBounceQueued: a bounce for a sender of another domain
// goes back through the queue with MAIL FROM:<>.
func TestRemoteSenderBounceQueued(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	n.mx("a.example", 10, "mx.a.example", "127.0.0.2")
	n.mx("sender.example", 10, "mx.sender.example", "127.0.0.3")
	mx := n.sink(t, "mx.a.example", "127.0.0.2", sinkOpts{})
	mx.rcptFn = func(string) error { return smtpErr(550, [3]int{5, 1, 1}, "unknown") }
	back := n.sink(t, "mx.sender.example", "127.0.0.3", sinkOpts{})
	e := newEnv(t, n, nil)
	e.enqueue(t, "bob@sender.example", []string{"x@a.example"}, testMessage("bob@sender.example", "forwarded"))
	e.run(t) // fails, queues the bounce
	e.run(t) // delivers the bounce
	got := back.messages()
	if len(got) != 1 || got[0].From != "" || got[0].To[0] != "bob@sender.example" {
		t.Fatalf("sender's MX got %+v", got)
	}
	parseDSN(t, got[0].Data)
	if len(e.local.all()) != 0 {
		t.Error("remote sender's bounce went to local delivery")
	}
}

// TestLocalDeliveryFailureRetriesReport: if the bounce cannot be delivered
// locally, it is tried again on the next run, not lost.
func TestLocalDeliveryFailureRetriesReport(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	n.dns.Add("null.example. 300 IN MX 0 .")
	e := newEnv(t, n, nil)
	e.local.fail = errDown
	e.enqueue(t, "alice@example.org", []string{"x@null.example"}, testMessage("alice@example.org", "retry-report"))
	e.run(t)
	if l := e.list(t); len(l) != 1 || l[0].Status != "failed" {
		t.Fatalf("queue after failed report: %+v", l)
	}
	e.local.mu.Lock()
	e.local.fail = nil
	e.local.mu.Unlock()
	e.run(t)
	if len(e.local.all()) != 1 {
		t.Fatal("report not retried")
	}
	if l := e.list(t); len(l) != 0 {
		t.Errorf("queue: %+v", l)
	}
}

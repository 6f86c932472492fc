package smtpd

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Quota with the real store: a delivery that would exceed the quota is
// refused at commit with 452 4.2.2, and RCPT answers 452 4.2.2 when the
// announced SIZE= does not fit (or the account is full).
func TestRealQuota(t *testing.T) {
	t.Parallel()
	e := newRealEnv(t, Inbound, nil)
	if err := e.db.SetQuota(context.Background(), "carol@example.com", 500); err != nil {
		t.Fatal(err)
	}
	send := func(want string) {
		t.Helper()
		c := dial(t, e.addr)
		c.cmd("EHLO client.example", `^250`)
		c.cmd("MAIL FROM:<a@remote.org>", `^250`)
		c.cmd("RCPT TO:<carol@example.com>", `^250`)
		c.cmd("DATA", `^354`)
		c.send("Subject: fill\r\n\r\n" + strings.Repeat("x", 100) + "\r\n.\r\n")
		c.expect(want)
	}
	send(`^250 `)         // about 300 bytes with the trace headers
	send(`^452 4\.2\.2 `) // would make about 600 > 500
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	c.cmd("MAIL FROM:<a@remote.org> SIZE=300", `^250`)
	c.cmd("RCPT TO:<carol@example.com>", `^452 4\.2\.2 `)
	c.cmd("RCPT TO:<bob@example.com>", `^250`)
	if n := len(e.messages(t, "carol@example.com", "INBOX")); n != 1 {
		t.Errorf("carol has %d messages, want 1", n)
	}
}

// Failed logins go through auth's throttling: past the lockout the
// client hears 454 4.7.0, even with the right password.
func TestRealAuthThrottled(t *testing.T) {
	t.Parallel()
	e := newRealEnv(t, Submission, nil)
	// Fresh connections, so MaxErrors does not close one first.
	var last string
	for i := 0; i < 30 && !strings.HasPrefix(last, "454"); i++ {
		c := dial(t, e.addr)
		c.cmd("EHLO laptop", `^250`)
		c.send("AUTH PLAIN " + plain("bob@example.com", "wrong") + "\r\n")
		c.c.SetReadDeadline(time.Now().Add(60 * time.Second))
		last = c.expect(`^(535 5\.7\.8|454 4\.7\.0) `)
		c.cmd("QUIT", `^221`)
	}
	if !strings.HasPrefix(last, "454") {
		t.Fatalf("no throttling after 30 failures, last %q", last)
	}
	c := dial(t, e.addr)
	c.cmd("EHLO laptop", `^250`)
	c.c.SetReadDeadline(time.Now().Add(60 * time.Second))
	c.cmd("AUTH PLAIN "+plain("bob@example.com", "bobpw"), `^454 4\.7\.0 `)
}

// RFC 5321 4.5.1: postmaster@ every local domain is deliverable. (The
// bare RCPT TO:<Postmaster> is refused with 501 by go-smtp v0.25.1's
// path parser before smtpd sees it.)
func TestRealPostmaster(t *testing.T) {
	t.Parallel()
	e := newRealEnv(t, Inbound, nil)
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	c.cmd("MAIL FROM:<a@remote.org>", `^250`)
	c.cmd("RCPT TO:<PostMaster@example.com>", `^250`)
	c.cmd("DATA", `^354`)
	c.send(testMsg + ".\r\n")
	c.expect(`^250`)
}

package smtpd

import (
	"encoding/base64"
	"errors"
	"net/netip"
	"regexp"
	"strings"
	"testing"
)

func plain(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// notLoopback makes the server treat 127.0.0.1 like a remote address.
func notLoopback(o *Options) { o.AllowInsecureAuth = func(netip.Addr) bool { return false } }

func TestSubmissionAuthOnlyAfterTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission, notLoopback)
	c := dial(t, e.addr)
	ehlo := c.cmd("EHLO laptop", `^250`)
	if strings.Contains(ehlo, "AUTH") {
		t.Errorf("AUTH offered before TLS: %q", ehlo)
	}
	c.cmd("AUTH PLAIN "+plain("bob@example.com", "bobpw"), `^538 5\.7\.11 `)
	c.cmd("MAIL FROM:<bob@example.com>", `^530 5\.7\.0 `)
	c.startTLS(e.tls)
	ehlo = c.cmd("EHLO laptop", `^250`)
	if !regexp.MustCompile(`(?m)^250[ -]AUTH PLAIN LOGIN$`).MatchString(ehlo) {
		t.Errorf("AUTH not offered after TLS: %q", ehlo)
	}
	c.cmd("MAIL FROM:<bob@example.com>", `^530 5\.7\.0 `)
	c.cmd("AUTH PLAIN "+plain("bob@example.com", "bobpw"), `^235 2\.0\.0`)
	c.cmd("MAIL FROM:<bob@example.com>", `^250`)
}

func TestSubmissionAuthInClearOnLoopback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission, nil)
	c := dial(t, e.addr)
	c.cmd("EHLO laptop", `(?m)^250[ -]AUTH PLAIN LOGIN$`)
	c.cmd("AUTH LOGIN", `^334 `+b64("Username:"))
	c.cmd(b64("alice@example.com"), `^334 `+b64("Password:"))
	c.cmd(b64("alicepw"), `^235 `)
}

func TestSubmissionWrongPasswords(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission, func(o *Options) { o.MaxErrors = 3 })
	c := dial(t, e.addr)
	c.cmd("EHLO laptop", `^250`)
	c.cmd("AUTH PLAIN "+plain("bob@example.com", "wrong"), `^535 5\.7\.8 `)
	c.cmd("AUTH LOGIN", `^334 `)
	c.cmd(b64("bob@example.com"), `^334 `)
	c.cmd(b64("nope"), `^535 5\.7\.8 `)
	c.cmd("AUTH PLAIN !!!notbase64", `^454 4\.7\.0 `)                      // go-smtp: bad base64
	c.cmd("AUTH PLAIN "+b64("garbage"), `^535 5\.7\.8 `)                   // malformed PLAIN
	c.cmd("AUTH PLAIN "+plain("nobody@example.com", "x"), `^535 5\.7\.8 `) // fourth error
	c.expect(`^421 4\.7\.0 `)
	c.expectClosed()
	if strings.Contains(e.logs.String(), "wrong") || strings.Contains(e.logs.String(), "bobpw") {
		t.Errorf("a password reached the log")
	}
}

func TestSubmissionUnknownMechanism(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission, nil)
	c := dial(t, e.addr)
	c.cmd("EHLO laptop", `^250`)
	c.cmd("AUTH CRAM-MD5", `^504 5\.5\.4 `)
}

func authed(t *testing.T, e *testEnv, user, pass string) *client {
	t.Helper()
	c := dial(t, e.addr)
	c.cmd("EHLO laptop", `^250`)
	c.cmd("AUTH PLAIN "+plain(user, pass), `^235 `)
	return c
}

func TestSubmissionSenderOwnership(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission, nil)
	c := authed(t, e, "bob@example.com", "bobpw")
	c.cmd("MAIL FROM:<carol@example.com>", `^550 5\.7\.1 `)
	c.cmd("MAIL FROM:<>", `^550 5\.7\.1 `)
	c.cmd("MAIL FROM:<boss@elsewhere.org>", `^550 5\.7\.1 `)
	c.cmd("MAIL FROM:<bob+lists@example.com>", `^250`)
	c.cmd("MAIL FROM:<team@example.com>", `^250`) // alias reaching bob
	c.cmd("RCPT TO:<friend@elsewhere.org>", `^250`)
	c.cmd("DATA", `^354`)
	c.send("From: Carol <carol@example.com>\r\nSubject: forged\r\n\r\nx\r\n.\r\n")
	c.expect(`^550 5\.7\.1 From: header`)
	c.cmd("MAIL FROM:<bob@example.com>", `^250`)
	c.cmd("RCPT TO:<friend@elsewhere.org>", `^250`)
	c.cmd("DATA", `^354`)
	c.send("From: Bob <bob@example.com>, Carol <carol@example.com>\r\nSubject: two\r\n\r\nx\r\n.\r\n")
	c.expect(`^550 5\.7\.1 From: header`)
	c.cmd("MAIL FROM:<bob@example.com>", `^250`)
	c.cmd("RCPT TO:<friend@elsewhere.org>", `^250`)
	c.cmd("DATA", `^354`)
	c.send("Subject: no from\r\n\r\nx\r\n.\r\n")
	c.expect(`^550 5\.6\.0 `)
	c.cmd("MAIL FROM:<bob@example.com>", `^250`)
	c.cmd("RCPT TO:<friend@elsewhere.org>", `^250`)
	c.cmd("DATA", `^354`)
	c.send("garbage line\r\nFrom: carol@example.com\r\n\r\nx\r\n.\r\n")
	c.expect(`^550 5\.6\.0 `)
	c.cmd("MAIL FROM:<bob@example.com>", `^250`)
	c.cmd("RCPT TO:<friend@elsewhere.org>", `^250`)
	c.cmd("DATA", `^354`)
	c.send("From: =?koi8-r?B?4snMzA==?= <Bob+x@Example.com>\r\nSubject: ok\r\n\r\nx\r\n.\r\n")
	c.expect(`^250 2\.0\.0`)
	// Sender: says who sent it on the authors' behalf: the user's too.
	c.cmd("MAIL FROM:<bob@example.com>", `^250`)
	c.cmd("RCPT TO:<friend@elsewhere.org>", `^250`)
	c.cmd("DATA", `^354`)
	c.send("From: Bob <bob@example.com>\r\nSender: Carol <carol@example.com>\r\nSubject: on behalf\r\n\r\nx\r\n.\r\n")
	c.expect(`^550 5\.7\.1 Sender: header`)
	c.cmd("MAIL FROM:<bob@example.com>", `^250`)
	c.cmd("RCPT TO:<friend@elsewhere.org>", `^250`)
	c.cmd("DATA", `^354`)
	c.send("From: Team <team@example.com>\r\nSender: Bob <bob@example.com>\r\nSubject: for the team\r\n\r\nx\r\n.\r\n")
	c.expect(`^250 2\.0\.0`)
	if n := len(e.queue.all()); n != 2 {
		t.Errorf("queue has %d messages, want 2", n)
	}
}

func TestSubmissionRoutesLocalAndRemote(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission, nil)
	c := authed(t, e, "bob@example.com", "bobpw")
	c.cmd("MAIL FROM:<bob@example.com>", `^250`)
	c.cmd("RCPT TO:<carol@example.com>", `^250`)
	c.cmd("RCPT TO:<nobody@example.com>", `^550 5\.1\.1 `)
	c.cmd("RCPT TO:<x@elsewhere.org>", `^250`)
	c.cmd("RCPT TO:<y@other.net>", `^250`)
	c.cmd("RCPT TO:<x@elsewhere.org>", `^250`) // duplicate, queued once
	c.cmd("DATA", `^354`)
	msg := "From: Bob <bob@example.com>\r\nTo: carol@example.com\r\nSubject: hi\r\n\r\nbody\r\n"
	c.send(msg + ".\r\n")
	c.expect(`^250 2\.0\.0`)

	local := e.store.Messages("carol@example.com", "INBOX")
	if len(local) != 1 {
		t.Fatalf("carol has %d messages", len(local))
	}
	q := e.queue.all()
	if len(q) != 1 || q[0].from != "bob@example.com" || strings.Join(q[0].rcpts, ",") != "x@elsewhere.org,y@other.net" {
		t.Fatalf("queue: %+v", q)
	}
	if e.store.Messages("bob@example.com", "Sent") != nil {
		t.Errorf("submission saved a Sent copy")
	}
	added := `Received: from laptop \(\[127\.0\.0\.1\]\)\r\n\tby mx\.example\.com with ESMTPA\r\n\tid \S+;\r\n\t[^\r]+\r\n` +
		`Message-ID: <[a-z2-7]{24}@mx\.example\.com>\r\nDate: \w{3}, \d\d \w{3} \d{4} [0-9:]{8} [+-]\d{4}\r\n` + regexp.QuoteMeta(msg) + `$`
	if !regexp.MustCompile(`^Return-Path: <bob@example\.com>\r\n` + added).Match(local[0]) {
		t.Errorf("local copy:\n%s", local[0])
	}
	if !regexp.MustCompile(`^` + added).Match(q[0].data) {
		t.Errorf("queued copy:\n%s", q[0].data)
	}
	// Both copies carry the same Message-ID.
	re := regexp.MustCompile(`Message-ID: <[^>]+>`)
	if re.Find(local[0]) == nil || string(re.Find(local[0])) != string(re.Find(q[0].data)) {
		t.Errorf("Message-ID differs between local and queued copies")
	}
}

func TestSubmissionKeepsMessageIDAndDate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission, nil)
	c := authed(t, e, "bob@example.com", "bobpw")
	c.cmd("MAIL FROM:<bob@example.com>", `^250`)
	c.cmd("RCPT TO:<carol@example.com>", `^250`)
	c.cmd("DATA", `^354`)
	msg := "Date: Mon, 2 Jan 2006 15:04:05 -0700\r\nmessage-id: <abc@laptop>\r\nFrom: bob@example.com\r\n\r\nbody\r\n"
	c.send(msg + ".\r\n")
	c.expect(`^250`)
	got := string(e.store.Messages("carol@example.com", "INBOX")[0])
	if strings.Count(strings.ToLower(got), "message-id:") != 1 || strings.Count(got, "Date:") != 1 {
		t.Errorf("headers added although present:\n%s", got)
	}
}

func TestSubmissionQueueFailureIs451(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission, nil)
	e.queue.err = errors.New("queue disk full at /var/spool")
	c := authed(t, e, "bob@example.com", "bobpw")
	c.cmd("MAIL FROM:<bob@example.com>", `^250`)
	c.cmd("RCPT TO:<x@elsewhere.org>", `^250`)
	c.cmd("DATA", `^354`)
	c.send("From: bob@example.com\r\n\r\nx\r\n.\r\n")
	if got := c.expect(`^451 4\.3\.0 `); strings.Contains(got, "spool") {
		t.Errorf("internal text leaked: %q", got)
	}
}

func TestSubmissionImplicitTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission, notLoopback)
	addr := e.serveTLS(t)
	c := dialTLS(t, addr, e.tls)
	ehlo := c.cmd("EHLO laptop", `(?m)^250[ -]AUTH PLAIN LOGIN$`)
	if strings.Contains(ehlo, "STARTTLS") {
		t.Errorf("STARTTLS offered on implicit TLS: %q", ehlo)
	}
	c.cmd("AUTH PLAIN "+plain("bob@example.com", "bobpw"), `^235`)
	c.cmd("MAIL FROM:<bob@example.com>", `^250`)
	c.cmd("RCPT TO:<carol@example.com>", `^250`)
	c.cmd("DATA", `^354`)
	c.send("From: bob@example.com\r\n\r\nx\r\n.\r\n")
	c.expect(`^250`)
	got := string(e.store.Messages("carol@example.com", "INBOX")[0])
	if !strings.Contains(got, "with ESMTPSA (using TLS1.3") {
		t.Errorf("Received lacks ESMTPSA/TLS:\n%s", got)
	}
}

// A Return-Path in a submitted message survives neither way out: the
// local copy carries only ours (delivery), and the queued copy none
// (RFC 5321 4.4: the originating system SHOULD NOT send one).
func TestSubmissionDropsReturnPath(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission, nil)
	c := authed(t, e, "bob@example.com", "bobpw")
	c.cmd("MAIL FROM:<bob@example.com>", `^250`)
	c.cmd("RCPT TO:<carol@example.com>", `^250`)
	c.cmd("RCPT TO:<x@elsewhere.org>", `^250`)
	c.cmd("DATA", `^354`)
	c.send("Return-Path: <ceo@example.com>\r\nFrom: bob@example.com\r\nSubject: hi\r\n\r\nReturn-Path: kept in body\r\n.\r\n")
	c.expect(`^250 2\.0\.0`)
	local := e.store.Messages("carol@example.com", "INBOX")
	q := e.queue.all()
	if len(local) != 1 || len(q) != 1 {
		t.Fatalf("%d local, %d queued", len(local), len(q))
	}
	if n := strings.Count(string(local[0]), "Return-Path: "); n != 2 || !strings.HasPrefix(string(local[0]), "Return-Path: <bob@example.com>\r\n") {
		t.Errorf("local copy:\n%s", local[0])
	}
	if strings.Contains(string(q[0].data), "ceo@") || !strings.HasSuffix(string(q[0].data), "\r\n\r\nReturn-Path: kept in body\r\n") {
		t.Errorf("queued copy:\n%s", q[0].data)
	}
}

// TestSubmissionHeaderBounds: a submitted header past 5,000 lines or
// 128 KiB is refused with 552 5.3.4 before anything is signed or queued
// (the outbound DKIM signer's cost grows with the square of a field's
// continuation lines); a large but ordinary header passes.
func TestSubmissionHeaderBounds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission, nil)
	c := authed(t, e, "bob@example.com", "bobpw")
	send := func(header string, want string) {
		t.Helper()
		c.cmd("MAIL FROM:<bob@example.com>", `^250`)
		c.cmd("RCPT TO:<friend@elsewhere.org>", `^250`)
		c.cmd("DATA", `^354`)
		c.send("From: bob@example.com\r\n" + header + "\r\nbody\r\n.\r\n")
		c.expect(want)
	}
	send("Subject: x\r\n"+strings.Repeat(" y\r\n", maxSubmittedHeaderLines), `^552 5\.3\.4 `)
	send("X-Big: "+strings.Repeat("z", 900)+"\r\n"+strings.Repeat(" "+strings.Repeat("z", 900)+"\r\n", 300), `^552 5\.3\.4 `)
	send("Subject: ordinary\r\n"+strings.Repeat("X-Trace: "+strings.Repeat("t", 200)+"\r\n", 500), `^250 2\.0\.0`)
	if n := len(e.queue.all()); n != 1 {
		t.Errorf("queue has %d messages, want 1", n)
	}
}

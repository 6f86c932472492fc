package imapd

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

// TestLoginForms: the ways real clients send credentials. Thunderbird and
// Apple Mail use AUTHENTICATE PLAIN, Apple Mail with an initial response
// (SASL-IR); Thunderbird without, answering the "+" continuation; Outlook
// and mutt use LOGIN with quoted strings, escaping '"' and '\'; some
// clients send a password with such characters or non-ASCII as a literal.
// The LOGIN tagged OK carries the capabilities, so clients need not ask.
func TestLoginForms(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const user2, pass2 = "bob@example.com", `p"a\ss wörd`
	if err := e.db.AddUser(context.Background(), user2, pass2); err != nil {
		t.Fatal(err)
	}
	plain := func(user, pass string) string {
		return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
	}

	// Apple Mail: SASL-IR.
	rc := e.rawTLS(t)
	_, done := rc.run("1.1", "AUTHENTICATE PLAIN "+plain(testUser, testPass))
	if !strings.HasPrefix(done, "OK") {
		t.Fatalf("AUTHENTICATE PLAIN with IR: %q", done)
	}
	rc.must("OK", "1.2", "SELECT INBOX")

	// Thunderbird: continuation.
	rc = e.rawTLS(t)
	rc.send("2 authenticate PLAIN\r\n")
	if l := rc.line(); l != "+ " && l != "+" {
		t.Fatalf("continuation %q", l)
	}
	rc.send(plain(user2, pass2) + "\r\n")
	if u, done := rc.until("2"); !strings.HasPrefix(done, "OK") {
		t.Fatalf("AUTHENTICATE PLAIN: %q %q", u, done)
	}
	rc.must("OK", "3", "select INBOX")

	// Quoted with escapes.
	rc = e.rawTLS(t)
	_, done = rc.run("a1", `LOGIN "bob@example.com" "p\"a\\ss wörd"`)
	if !strings.HasPrefix(done, "OK") {
		// Non-ASCII in a quoted string is only valid with UTF8=ACCEPT;
		// a client sends it as a literal, below.
		t.Logf("quoted non-ASCII password refused: %q", done)
	}
	// Literals for both arguments.
	rc = e.rawTLS(t)
	rc.send(fmt.Sprintf("b1 LOGIN {%d}\r\n", len(user2)))
	if l := rc.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("literal continuation %q", l)
	}
	rc.send(fmt.Sprintf("%s {%d}\r\n", user2, len(pass2)))
	if l := rc.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("literal continuation %q", l)
	}
	rc.send(pass2 + "\r\n")
	u, done := rc.until("b1")
	if !strings.HasPrefix(done, "OK") {
		t.Fatalf("LOGIN with literals: %q %q", u, done)
	}
	// LITERAL+ for both (mbsync, Thunderbird with LITERAL+).
	rc = e.rawTLS(t)
	rc.send(fmt.Sprintf("c1 LOGIN {%d+}\r\n%s {%d+}\r\n%s\r\n", len(testUser), testUser, len(testPass), testPass))
	if u, done := rc.until("c1"); !strings.HasPrefix(done, "OK") {
		t.Fatalf("LOGIN with LITERAL+: %q %q", u, done)
	}
	// Escaped ASCII password in a quoted string (mutt, Outlook).
	const user3, pass3 = "carol@example.com", `a"b\c`
	if err := e.db.AddUser(context.Background(), user3, pass3); err != nil {
		t.Fatal(err)
	}
	rc = e.raw(t)
	_, done = rc.run("d1", `LOGIN carol@example.com "a\"b\\c"`)
	if !strings.HasPrefix(done, "OK [CAPABILITY IMAP4rev2 IMAP4rev1 ") || !strings.Contains(done, " IDLE ") {
		t.Fatalf("LOGIN quoted escapes: %q", done)
	}
}

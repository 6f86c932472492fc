package imapd

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestAppleMailPipelining: Apple Mail (and mbsync) send several commands
// in one write without waiting. Each gets its own completion, in order,
// with the data between belonging to the right one.
func TestAppleMailPipelining(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := 1; i <= 3; i++ {
		e.deliver(t, "INBOX", testMessage(fmt.Sprint("p", i), "x"))
	}
	rc := e.rawTLS(t)
	rc.send(fmt.Sprintf("1.1 LOGIN \"%s\" \"%s\"\r\n1.2 SELECT INBOX\r\n1.3 UID SEARCH 1:* NOT DELETED\r\n1.4 UID FETCH 1:* (FLAGS)\r\n"+
		"1.5 UID STORE 2 +FLAGS.SILENT (\\Seen)\r\n1.6 STATUS Sent (MESSAGES)\r\n1.7 NOOP\r\n", testUser, testPass))
	want := map[string]string{
		"1.2": `^\* 3 EXISTS$`,
		"1.3": `^\* SEARCH 1 2 3$`,
		"1.4": `^\* 3 FETCH \(UID 3 FLAGS \(\)\)$`,
		"1.6": `^\* STATUS "?Sent"? \(MESSAGES 0\)$`,
	}
	for i := 1; i <= 7; i++ {
		tag := fmt.Sprint("1.", i)
		u, done := rc.until(tag)
		if !strings.HasPrefix(done, "OK") {
			t.Fatalf("%s: %q %q", tag, u, done)
		}
		if re, ok := want[tag]; ok {
			mustFind(t, u, 1, re)
		}
		if tag == "1.5" && len(u) != 0 {
			t.Errorf(".SILENT answered %q", u)
		}
	}
}

// TestEmptyAndBeyondRanges: Thunderbird checks for new mail with "UID
// FETCH n:*" where n is its UIDNEXT; on a mailbox without new mail "*" is
// the highest UID, so the range is answered with that last message (RFC
// 9051 6.4.8), which the client ignores. On an empty mailbox UID FETCH
// and UID SEARCH succeed with no data (clients do this on Trash and Junk).
func TestEmptyAndBeyondRanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := 1; i <= 4; i++ {
		e.deliver(t, "INBOX", testMessage(fmt.Sprint("r", i), "x"))
	}
	rc := e.rawTLS(t)
	rc.must("OK", "1", fmt.Sprintf(`login "%s" "%s"`, testUser, testPass))
	rc.must("OK", "2", `select "INBOX"`)
	f := rc.must("OK", "3", "UID fetch 5:* (FLAGS)")
	if len(f) != 1 || !strings.Contains(f[0], "UID 4") {
		t.Fatalf("UID FETCH 5:*: %q", f)
	}
	if f := rc.must("OK", "4", "UID fetch 9:12 (FLAGS)"); len(f) != 0 {
		t.Fatalf("UID FETCH beyond: %q", f)
	}
	rc.must("OK", "5", `select "Junk"`)
	if f := rc.must("OK", "6", "UID fetch 1:* (FLAGS)"); len(f) != 0 {
		t.Fatalf("empty UID FETCH: %q", f)
	}
	mustFind(t, rc.must("OK", "7", "UID search 1:* NOT DELETED"), 1, `^\* SEARCH$`)
	mustFind(t, rc.must("OK", "8", "UID search ALL"), 1, `^\* SEARCH$`)
	rc.must("OK", "9", "UID expunge 1:*")
	rc.must("OK", "10", "expunge")
}

// TestUTF8AcceptMessages: after ENABLE UTF8=ACCEPT (Thunderbird 102+,
// RFC 6855) a client may APPEND a message with raw UTF-8 headers using
// the UTF8 (~{n}) form and reads its envelope back. The library writes
// the subject and display names as RFC 2047 encoded-words even then
// (valid, every client decodes them); addresses stay UTF-8.
func TestUTF8AcceptMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := e.rawTLS(t)
	rc.must("OK", "1", fmt.Sprintf(`login "%s" "%s"`, testUser, testPass))
	en := rc.must("OK", "2", "ENABLE UTF8=ACCEPT")
	mustFind(t, en, 1, `^\* ENABLED UTF8=ACCEPT$`)
	msg := strings.ReplaceAll("From: Jürgen <jürgen@example.org>\nTo: alice@example.com\nSubject: Grüße aus Köln\nDate: Wed, 25 Nov 2026 10:00:00 +0000\nMessage-ID: <utf8@example.org>\n\nHallo!\n", "\n", "\r\n")
	rc.send(fmt.Sprintf("3 APPEND \"Sent\" (\\Seen) UTF8 (~{%d+}\r\n%s)\r\n", len(msg), msg))
	if u, done := rc.until("3"); !strings.HasPrefix(done, "OK [APPENDUID ") {
		t.Fatalf("APPEND UTF8: %q %q", u, done)
	}
	rc.must("OK", "4", `SELECT "Sent"`)
	f := rc.must("OK", "5", "UID FETCH 1 (ENVELOPE)")
	mustFind(t, f, 1, `^\* 1 FETCH \(UID 1 ENVELOPE \("Wed, 25 Nov 2026 10:00:00 \+0000" "=\?utf-8\?q\?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln\?=" \(\("=\?utf-8\?q\?J=C3=BCrgen\?=" NIL "jürgen" "example\.org"\)\)`)
}

// TestPreAuthUnknownCommand pins the library's cross-protocol defence:
// an unknown command before authentication (ID, XLIST) is answered BAD and
// the connection is closed with BYE. Real clients send ID only after
// login or when ID is advertised (we do not advertise it), so this only
// documents what a client sending ID first would see.
func TestPreAuthUnknownCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := e.raw(t)
	rc.send("1 ID (\"name\" \"x\")\r\n")
	var got []string
	rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		l, err := rc.r.ReadString('\n')
		if err != nil {
			break
		}
		got = append(got, strings.TrimRight(l, "\r\n"))
	}
	mustFind(t, got, 1, `^1 BAD `)
	mustFind(t, got, 1, `^\* BYE `)
}

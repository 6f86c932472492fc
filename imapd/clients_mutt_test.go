package imapd

import (
	"fmt"
	"strings"
	"testing"
)

// TestMuttSession replays mutt: "a0001"-style tags, LIST "" "" for the
// delimiter, the header download with RFC822.HEADER (older mutt) and
// BODY.PEEK[HEADER.FIELDS (...)] (current mutt), server-side search with
// OR and HEADER keys, reading a message, marking messages deleted, and
// leaving the folder by CLOSE (silent expunge, RFC 9051 6.4.1) or by
// UNSELECT (no expunge, RFC 3691).
func TestMuttSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver(t, "INBOX", testMessage("lunch", "pizza"))
	e.deliver(t, "INBOX", strings.Replace(testMessage("report", "numbers"), "From: Bob <bob@example.org>", "From: Dave <dave@example.net>", 1))
	e.deliver(t, "INBOX", testMessage("minutes", "meeting notes about lunch"))
	e.deliver(t, "INBOX", testMessage("misc", "other"))
	rc := e.raw(t) // mutt on a trusted LAN, plain text from loopback
	rc.must("OK", "a0000", "CAPABILITY")
	rc.must("OK", "a0001", fmt.Sprintf(`LOGIN "%s" "%s"`, testUser, testPass))
	rc.must("OK", "a0002", `LIST "" ""`)
	rc.must("OK", "a0003", `LSUB "" "*"`)
	sel := rc.must("OK [READ-WRITE]", "a0004", `SELECT "INBOX"`)
	mustFind(t, sel, 1, `^\* 4 EXISTS$`)

	h := rc.must("OK", "a0005", "FETCH 1:4 (UID FLAGS INTERNALDATE RFC822.SIZE RFC822.HEADER)")
	if len(h) != 4 {
		t.Fatalf("RFC822.HEADER: %q", h)
	}
	mustFind(t, h, 1, `(?s)^\* 2 FETCH \(UID 2 FLAGS \(\) INTERNALDATE "[^"]+" RFC822\.SIZE \d+ RFC822\.HEADER \{\d+\}\r\nFrom: Dave <dave@example\.net>\r\n.*\r\n\r\n\)$`)
	noneOf(t, h, `numbers`, "RFC822.HEADER returned the body")
	noneOf(t, rc.must("OK", "a0006", "FETCH 1:4 (FLAGS)"), `\\Seen`, "RFC822.HEADER set \\Seen")
	h = rc.must("OK", "a0007", "UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (DATE FROM SENDER SUBJECT TO CC MESSAGE-ID REFERENCES CONTENT-TYPE CONTENT-DESCRIPTION IN-REPLY-TO REPLY-TO LINES LIST-POST LIST-SUBSCRIBE LIST-UNSUBSCRIBE X-LABEL X-ORIGINAL-TO)])")
	if len(h) != 4 || !strings.Contains(h[3], "Subject: misc") {
		t.Fatalf("header download: %q", h)
	}

	// mutt's pattern search: ~f dave | ~b lunch (1 has lunch only in its
	// subject).
	s := rc.must("OK", "a0008", `SEARCH OR HEADER FROM "dave" BODY "lunch"`)
	mustFind(t, s, 1, `^\* SEARCH 2 3$`)
	s = rc.must("OK", "a0009", `UID SEARCH OR SUBJECT "report" OR SUBJECT "misc" FROM "nobody"`)
	mustFind(t, s, 1, `^\* SEARCH 2 4$`)
	s = rc.must("OK", "a0010", `SEARCH NOT OR SUBJECT lunch SUBJECT misc`)
	mustFind(t, s, 1, `^\* SEARCH 2 3$`)

	// Reading a message sets \Seen (RFC822 is BODY[] without PEEK).
	r := rc.must("OK", "a0011", "UID FETCH 3 RFC822")
	mustFind(t, r, 1, `(?s)^\* 3 FETCH \(.*RFC822 \{\d+\}\r\n.*meeting notes about lunch`)
	mustFind(t, r, 1, `FLAGS \(\\Seen\)`)

	// Sync on leaving: mark 1 and 3 deleted, then UNSELECT keeps them.
	rc.must("OK", "a0012", `UID STORE 1,3 +FLAGS.SILENT (\Deleted)`)
	if u := rc.must("OK", "a0013", "UNSELECT"); len(u) != 0 {
		t.Fatalf("UNSELECT: %q", u)
	}
	st := rc.must("OK", "a0014", "STATUS INBOX (MESSAGES)")
	if statusItem(t, st, "MESSAGES") != "4" {
		t.Fatalf("UNSELECT expunged: %q", st)
	}
	// Commands needing a selected mailbox are refused after UNSELECT.
	if _, done := rc.run("a0015", "FETCH 1 (FLAGS)"); !strings.HasPrefix(done, "BAD") && !strings.HasPrefix(done, "NO") {
		t.Fatalf("FETCH after UNSELECT: %q", done)
	}
	// CLOSE expunges without EXPUNGE responses.
	rc.must("OK", "a0016", `SELECT "INBOX"`)
	if u := rc.must("OK", "a0017", "CLOSE"); len(u) != 0 {
		t.Fatalf("CLOSE sent %q", u)
	}
	st = rc.must("OK", "a0018", "STATUS INBOX (MESSAGES)")
	if statusItem(t, st, "MESSAGES") != "2" {
		t.Fatalf("CLOSE did not expunge: %q", st)
	}
	// CLOSE on EXAMINE expunges nothing.
	rc.must("OK", "a0019", `SELECT "INBOX"`)
	rc.must("OK", "a0020", `STORE 1 +FLAGS.SILENT (\Deleted)`)
	rc.must("OK [READ-ONLY]", "a0021", `EXAMINE "INBOX"`)
	rc.must("OK", "a0022", "CLOSE")
	st = rc.must("OK", "a0023", "STATUS INBOX (MESSAGES)")
	if statusItem(t, st, "MESSAGES") != "2" {
		t.Fatalf("CLOSE after EXAMINE expunged: %q", st)
	}
	rc.must("OK", "a0024", "LOGOUT")
}

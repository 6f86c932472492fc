package imapd

import (
	"fmt"
	"strings"
	"testing"
)

// appendDated stores msg in mailbox with an internal date, through APPEND
// on rc (K-9 and FairEmail decide what to sync by INTERNALDATE).
func appendDated(t *testing.T, rc *rawConn, tag, mailbox, date, msg string) {
	t.Helper()
	if _, done := rc.appendLit(tag, fmt.Sprintf(`APPEND "%s" () "%s"`, mailbox, date), msg); !strings.HasPrefix(done, "OK [APPENDUID ") {
		t.Fatalf("APPEND: %q", done)
	}
}

// TestK9Sync replays K-9 Mail (Thunderbird for Android): the date-window
// UID SEARCH, the header fetch with lower-case field names, BODYSTRUCTURE
// of a multipart message with an attachment, partial fetches of the text
// part and the attachment's MIME header, and its delete (UID MOVE to
// Trash) and "mark as read" (UID STORE +FLAGS.SILENT).
func TestK9Sync(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := e.rawTLS(t)
	rc.must("OK", "1", fmt.Sprintf(`LOGIN "%s" "%s"`, testUser, testPass))
	appendDated(t, rc, "2", "INBOX", "01-Oct-2026 09:00:00 +0000", testMessage("old", "old body"))
	appendDated(t, rc, "3", "INBOX", "20-Nov-2026 09:00:00 +0000", testMessage("recent", "recent body"))
	appendDated(t, rc, "4", "INBOX", "25-Nov-2026 09:00:00 +0000", multipartMessage("with attachment"))
	rc.must("OK", "5", `SELECT "INBOX"`)

	s := rc.must("OK", "6", "UID SEARCH 1:* SINCE 15-Nov-2026 NOT DELETED")
	mustFind(t, s, 1, `^\* SEARCH 2 3$`)
	s = rc.must("OK", "7", "UID SEARCH SINCE 26-Nov-2026")
	mustFind(t, s, 1, `^\* SEARCH$`)
	s = rc.must("OK", "8", "UID SEARCH BEFORE 15-Nov-2026 NOT DELETED")
	mustFind(t, s, 1, `^\* SEARCH 1$`)

	// K-9's commands, verbatim from its ImapFolder.
	hdr := rc.must("OK", "9", "UID FETCH 2,3 (UID INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (date subject from content-type to cc bcc reply-to message-id references in-reply-to list-post list-unsubscribe sender X-K9mail-Identity Chat-Version)])")
	if len(hdr) != 2 {
		t.Fatalf("header fetch: %q", hdr)
	}
	// The section is echoed (RFC 9051 7.4.2); the library quotes each
	// field name, which is valid astring syntax (Dovecot echoes atoms).
	if !strings.Contains(hdr[1], `BODY[HEADER.FIELDS ("date" "subject" "from" "content-type" "to" "cc" "bcc" "reply-to" "message-id" "references" "in-reply-to" "list-post" "list-unsubscribe" "sender" "X-K9mail-Identity" "Chat-Version")] {`) {
		t.Errorf("section echo: %q", hdr[1])
	}
	for _, want := range []string{"Subject: with attachment", "Content-Type: multipart/mixed", "Cc: Carol", "Message-ID: <mp.with.attachment@example.org>"} {
		if !strings.Contains(hdr[1], want) {
			t.Errorf("header fetch lacks %q: %q", want, hdr[1])
		}
	}
	if strings.Contains(hdr[1], "X-Priority") || strings.Contains(hdr[1], "MIME-Version") {
		t.Errorf("header fetch has unrequested fields: %q", hdr[1])
	}

	bs := rc.must("OK", "10", "UID FETCH 3 (UID BODYSTRUCTURE)")
	mustFind(t, bs, 1, `^\* 3 FETCH \(UID 3 BODYSTRUCTURE \(\(\("text" "plain" \("charset" "utf-8"\) NIL NIL "quoted-printable" \d+ \d+`)
	mustFind(t, bs, 1, `\("text" "html" \("charset" "utf-8"\) NIL NIL "7bit" \d+ \d+`)
	mustFind(t, bs, 1, `"alternative" \("boundary" "inner"\)`)
	mustFind(t, bs, 1, `\("application" "pdf" \("name" "cv\.pdf"\) NIL NIL "base64" \d+ [^()]*\("attachment" \("filename" "cv\.pdf"\)\)`)
	mustFind(t, bs, 1, `"mixed" \("boundary" "outer"\)[^()]*\)\)$`)

	// The text part, partially (K-9 downloads the first bytes for the
	// preview), then the attachment's MIME header and body.
	p := rc.must("OK", "11", "UID FETCH 3 (UID BODY.PEEK[1.1])")
	mustFind(t, p, 1, `^\* 3 FETCH \(UID 3 BODY\[1\.1\] \{\d+\}\r\nHello Alice, see the attached r=C3=A9sum=C3=A9\.\)$`)
	p = rc.must("OK", "12", "UID FETCH 3 (UID BODY.PEEK[1.1]<6.5>)")
	mustFind(t, p, 1, `^\* 3 FETCH \(UID 3 BODY\[1\.1\]<6> \{5\}\r\nAlice\)$`)
	p = rc.must("OK", "13", "UID FETCH 3 (BODY.PEEK[2.MIME] BODY.PEEK[2])")
	mustFind(t, p, 1, `BODY\[2\.MIME\] \{\d+\}\r\nContent-Type: application/pdf; name="cv\.pdf"\r\nContent-Disposition: attachment; filename="cv\.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n`)
	mustFind(t, p, 1, `BODY\[2\] \{\d+\}\r\nJVBERi0xLjQK`)
	// BINARY decodes the attachment (RFC 3516), FairEmail uses it.
	b := rc.must("OK", "14", "UID FETCH 3 (BINARY.PEEK[2])")
	mustFind(t, b, 1, `BINARY\[2\] (\{\d+\}|~\{\d+\})\r\n%PDF-1\.4`)
	// Partial fetches: the whole message and the text, first 4096 octets
	// ("BODY_SANE"), and the first part of a multipart.
	p = rc.must("OK", "14a", "UID FETCH 3 (UID BODY.PEEK[]<0.4096>)")
	mustFind(t, p, 1, `^\* 3 FETCH \(UID 3 BODY\[\]<0> \{\d+\}\r\nFrom: Bob`)
	p = rc.must("OK", "14b", "UID FETCH 2 (UID BODY.PEEK[TEXT]<0.4096>)")
	mustFind(t, p, 1, `^\* 2 FETCH \(UID 2 BODY\[TEXT\]<0> \{13\}\r\nrecent body\r\n\)$`)
	p = rc.must("OK", "14c", "UID FETCH 3 (UID BODY.PEEK[1]<0.2048>)")
	mustFind(t, p, 1, `^\* 3 FETCH \(UID 3 BODY\[1\]<0> \{\d+\}\r\n--inner\r\nContent-Type: text/plain`)
	// Unread and flagged counts, highest UID, lookup by Message-ID.
	mustFind(t, rc.must("OK", "14d", "SEARCH 1:* UNSEEN NOT DELETED"), 1, `^\* SEARCH 1 2 3$`)
	mustFind(t, rc.must("OK", "14e", "SEARCH 1:* FLAGGED NOT DELETED"), 1, `^\* SEARCH$`)
	mustFind(t, rc.must("OK", "14f", "UID SEARCH *:*"), 1, `^\* SEARCH 3$`)
	mustFind(t, rc.must("OK", "14g", `UID SEARCH HEADER MESSAGE-ID "<recent@example.org>"`), 1, `^\* SEARCH 2$`)
	nf := rc.must("OK", "15", "UID FETCH 1:* (FLAGS)")
	noneOf(t, nf, `\\Seen`, "PEEK fetches set \\Seen")

	rc.must("OK", "16", `UID STORE 2 +FLAGS.SILENT (\Seen)`)
	mv := rc.must("OK", "17", `UID MOVE 1 "Trash"`)
	if len(mv) != 2 || !strings.HasPrefix(mv[0], "* OK [COPYUID ") || mv[1] != "* 1 EXPUNGE" {
		t.Fatalf("UID MOVE: %q", mv)
	}
	f := rc.must("OK", "18", "UID FETCH 1:* (UID FLAGS)")
	if len(f) != 2 || f[0] != `* 1 FETCH (UID 2 FLAGS (\Seen))` || f[1] != `* 2 FETCH (UID 3 FLAGS ())` {
		t.Fatalf("after move: %q", f)
	}
	// "Mark all as read", then copy-and-expunge (K-9 without MOVE).
	rc.must("OK", "19", `UID STORE 1:* +FLAGS.SILENT (\Seen)`)
	mustFind(t, rc.must("OK", "20", "SEARCH 1:* UNSEEN NOT DELETED"), 1, `^\* SEARCH$`)
	rc.must("OK [COPYUID ", "21", `UID COPY 3 "Archive"`)
	rc.must("OK", "22", `UID STORE 3 +FLAGS.SILENT (\Deleted)`)
	mustFind(t, rc.must("OK", "23", "UID EXPUNGE 3"), 1, `^\* 2 EXPUNGE$`)
	// K-9's APPEND: empty flag list, synchronising literal.
	msg := testMessage("k9 draft", "d")
	rc.send(fmt.Sprintf("24 APPEND \"Drafts\" () {%d}\r\n", len(msg)))
	if l := rc.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("continuation: %q", l)
	}
	rc.send(msg + "\r\n")
	if _, done := rc.until("24"); !strings.HasPrefix(done, "OK [APPENDUID ") {
		t.Fatalf("APPEND: %q", done)
	}

	// The same counters on an empty folder answer empty, not BAD (K-9
	// treats a BAD as an error, and "*" has no value in an empty mailbox).
	rc.must("OK", "25", `SELECT "Junk"`)
	mustFind(t, rc.must("OK", "26", "SEARCH 1:* UNSEEN NOT DELETED"), 1, `^\* SEARCH$`)
	mustFind(t, rc.must("OK", "27", "UID SEARCH *:*"), 1, `^\* SEARCH$`)
}

// TestFairEmailSync replays FairEmail (JavaMail underneath): the fetch
// profile with ENVELOPE and BODYSTRUCTURE in one UID FETCH, keyword flags
// ($Forwarded, $Junk), a partial BODY.PEEK[] and STATUS polling of other
// folders while one is selected.
func TestFairEmailSync(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver(t, "INBOX", testMessage("fair one", "first"))
	e.deliver(t, "INBOX", multipartMessage("fair two"))
	rc := e.rawTLS(t)
	rc.must("OK", "A1", fmt.Sprintf(`LOGIN "%s" "%s"`, testUser, testPass))
	rc.must("OK", "A2", `SELECT INBOX`)
	f := rc.must("OK", "A3", "UID FETCH 1:* (ENVELOPE INTERNALDATE RFC822.SIZE FLAGS BODYSTRUCTURE UID)")
	if len(f) != 2 {
		t.Fatalf("profile fetch: %q", f)
	}
	mustFind(t, f, 1, `^\* 1 FETCH \(.*ENVELOPE \("Wed, 25 Nov 2026 10:00:00 \+0000" "fair one" \(\("Bob" NIL "bob" "example\.org"\)\)`)
	mustFind(t, f, 1, `^\* 2 FETCH \(.*\(\("Carol" NIL "carol" "example\.net"\)\)`)
	mustFind(t, f, 1, `^\* 2 FETCH \(.*BODYSTRUCTURE \(\(\(`)
	st := rc.must("OK", "A4", `UID STORE 1 +FLAGS ($Forwarded $Junk)`)
	mustFind(t, st, 1, `^\* 1 FETCH \(UID 1 FLAGS \(\$Forwarded \$Junk\)\)$|^\* 1 FETCH \(FLAGS \(\$Forwarded \$Junk\) UID 1\)$`)
	s := rc.must("OK", "A5", "UID SEARCH KEYWORD $Junk")
	mustFind(t, s, 1, `^\* SEARCH 1$`)
	p := rc.must("OK", "A6", "UID FETCH 2 (BODY.PEEK[]<0.64>)")
	mustFind(t, p, 1, `^\* 2 FETCH \(UID 2 BODY\[\]<0> \{64\}\r\nFrom: Bob <bob@example\.org>\r\nTo: Alice <alice@example\.com>\r\n`)
	for i, mb := range []string{"Sent", "Drafts", "Trash", "Junk", "Archive"} {
		st := rc.must("OK", fmt.Sprint("B", i), fmt.Sprintf(`STATUS "%s" (MESSAGES UNSEEN UIDNEXT UIDVALIDITY)`, mb))
		statusItem(t, st, "UIDVALIDITY")
	}
	// STATUS of the selected mailbox is allowed and must not disturb it.
	st = rc.must("OK", "C1", `STATUS INBOX (MESSAGES UIDNEXT)`)
	if statusItem(t, st, "MESSAGES") != "2" {
		t.Fatalf("STATUS INBOX: %q", st)
	}
	rc.must("OK", "C2", "NOOP")
	// SELECT with a new keyword now listed in FLAGS.
	sel := rc.must("OK", "C3", "SELECT INBOX")
	mustFind(t, sel, 1, `^\* FLAGS \(.*\$Forwarded.*\$Junk.*\)$`)
}

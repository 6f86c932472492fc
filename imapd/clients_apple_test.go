package imapd

import (
	"fmt"
	"strings"
	"testing"
)

// TestAppleMailStartup replays iOS/macOS Mail: dotted tags ("1.1"), ID
// with the client's identity right after LOGIN (we do not advertise ID;
// the library does not implement it, so a BAD must leave the session
// usable), LIST "" "" for the delimiter, XLIST from older releases,
// GETQUOTAROOT (no QUOTA here), STATUS with UIDVALIDITY, then SELECT,
// the "which UIDs are still there" UID SEARCH and the FLAGS resync.
func TestAppleMailStartup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := 1; i <= 4; i++ {
		e.deliver(t, "INBOX", testMessage(fmt.Sprint("apple", i), "x"))
	}
	rc := e.rawTLS(t)
	rc.must("OK", "1.1", "CAPABILITY")
	rc.must("OK", "1.2", fmt.Sprintf(`LOGIN "%s" "%s"`, testUser, testPass))
	if u, done := rc.run("2.1", `ID ("name" "iPhone Mail" "version" "21B101" "os" "iOS" "os-version" "17.1.2 (21B101)")`); !strings.HasPrefix(done, "BAD") && !strings.HasPrefix(done, "NO") {
		t.Fatalf("ID: %q %q", u, done)
	}
	rc.must("OK", "2.2", "CAPABILITY")
	root := rc.must("OK", "3.1", `LIST "" ""`)
	mustFind(t, root, 1, `^\* LIST \(\\Noselect\) "/" ""$`)
	if _, done := rc.run("3.2", `XLIST "" "*"`); !strings.HasPrefix(done, "BAD") {
		t.Fatalf("XLIST: %q", done)
	}
	list := rc.must("OK", "3.3", `LIST "" "*"`)
	// RFC 6154: special-use attributes appear on a plain LIST too, which
	// is how Apple Mail and Outlook find Sent/Trash without XLIST.
	for _, use := range []string{"Sent", "Drafts", "Trash", "Junk", "Archive"} {
		mustFind(t, list, 1, `^\* LIST \([^)]*\\`+use+`\b[^)]*\) "/" "?`+use+`"?$`)
	}
	if _, done := rc.run("3.4", `GETQUOTAROOT "INBOX"`); !strings.HasPrefix(done, "BAD") {
		t.Fatalf("GETQUOTAROOT: %q", done)
	}
	rc.must("OK", "3.5", `LSUB "" "*"`)
	rc.must("OK", "3.6", "NAMESPACE")
	st := rc.must("OK", "4.1", "STATUS INBOX (MESSAGES UNSEEN UIDNEXT UIDVALIDITY)")
	if statusItem(t, st, "MESSAGES") != "4" || statusItem(t, st, "UNSEEN") != "4" || statusItem(t, st, "UIDNEXT") != "5" {
		t.Fatalf("STATUS: %q", st)
	}
	uv := statusItem(t, st, "UIDVALIDITY")
	sel := rc.must("OK [READ-WRITE]", "5.1", "SELECT INBOX")
	mustFind(t, sel, 1, `^\* OK \[UIDVALIDITY `+uv+`\]`)
	s := rc.must("OK", "5.2", "UID SEARCH 1:* NOT DELETED")
	mustFind(t, s, 1, `^\* SEARCH 1 2 3 4$`)
	f := rc.must("OK", "5.3", "FETCH 1:* (UID FLAGS)")
	if len(f) != 4 {
		t.Fatalf("FETCH 1:* (UID FLAGS): %q", f)
	}
	// Apple Mail reads structure and headers first, then a preview.
	h := rc.must("OK", "5.4", "UID FETCH 4 (BODYSTRUCTURE BODY.PEEK[HEADER])")
	mustFind(t, h, 1, `^\* 4 FETCH \(UID 4 BODYSTRUCTURE \("text" "plain".*BODY\[HEADER\] \{\d+\}`)
	p := rc.must("OK", "5.5", "UID FETCH 4 (BODY.PEEK[1]<0.2048>)")
	mustFind(t, p, 1, `^\* 4 FETCH \(UID 4 BODY\[1\]<0> \{3\}\r\nx\r\n\)$`)
	rc.must("OK", "6.1", "NOOP")
	rc.must("OK", "6.2", "LOGOUT")
}

// TestOutlookStartup replays Outlook's IMAP account: XLIST refused with
// BAD and the session goes on, LIST "" "%" and a second level (quoted and
// not), LSUB, the header download with INTERNALDATE, STORE without .SILENT
// answered with FETCH FLAGS, CHECK, MOVE by sequence number and EXPUNGE.
func TestOutlookStartup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver(t, "INBOX", testMessage("outlook1", "x"))
	e.deliver(t, "INBOX", testMessage("outlook2", "y"))
	rc := e.rawTLS(t)
	rc.must("OK", "A0001", "CAPABILITY")
	rc.must("OK", "A0002", fmt.Sprintf(`LOGIN %s "%s"`, testUser, testPass))
	if _, done := rc.run("A0003", `XLIST "" "*"`); !strings.HasPrefix(done, "BAD") {
		t.Fatalf("XLIST: %q", done)
	}
	rc.must("OK", "A0004", `CREATE "INBOX/Projects"`)
	top := rc.must("OK", "A0005", `LIST "" "%"`)
	mustFind(t, top, 1, `^\* LIST \(\\HasChildren\) "/" INBOX$`)
	noneOf(t, top, `Projects`, `"%" stops at "/"`)
	sub := rc.must("OK", "A0006", `LIST "" "INBOX/%"`)
	mustFind(t, sub, 1, `^\* LIST \(\\HasNoChildren\) "/" "INBOX/Projects"$`)
	rc.must("OK", "A0007", `LSUB "" "*"`)
	rc.must("OK", "A0008", `SELECT "INBOX"`)
	hdr := rc.must("OK", "A0009", "UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER])")
	if len(hdr) != 2 || !strings.Contains(hdr[1], "Subject: outlook2") || !strings.Contains(hdr[0], `INTERNALDATE "`) {
		t.Fatalf("header download: %q", hdr)
	}
	st := rc.must("OK", "A0010", `UID STORE 2 +FLAGS (\Seen \Flagged)`)
	mustFind(t, st, 1, `^\* 2 FETCH \(UID 2 FLAGS \(\\Flagged \\Seen\)\)$|^\* 2 FETCH \(FLAGS \(\\Flagged \\Seen\) UID 2\)$`)
	rc.must("OK", "A0011", "CHECK")
	// Unquoted patterns, as some clients send them.
	mustFind(t, rc.must("OK", "A0011a", `LIST "" *`), 1, `"?INBOX/Projects"?$`)
	mustFind(t, rc.must("OK", "A0011b", `LIST "" INBOX/%`), 1, `"?INBOX/Projects"?$`)
	// Outlook moves by sequence number: COPYUID, then the EXPUNGE.
	mv := rc.must("OK", "A0011c", `MOVE 2 "INBOX/Projects"`)
	if len(mv) != 2 || !strings.HasPrefix(mv[0], "* OK [COPYUID ") || !strings.Contains(mv[0], " 2 1]") || mv[1] != "* 2 EXPUNGE" {
		t.Fatalf("MOVE: %q", mv)
	}
	st = rc.must("OK", "A0012", `UID STORE 1 +FLAGS (\Deleted)`)
	mustFind(t, st, 1, `^\* 1 FETCH \((UID 1 FLAGS \(\\Deleted\)|FLAGS \(\\Deleted\) UID 1)\)$`)
	ex := rc.must("OK", "A0013", "EXPUNGE")
	if len(ex) != 1 || ex[0] != "* 1 EXPUNGE" {
		t.Fatalf("EXPUNGE: %q", ex)
	}
	if f := rc.must("OK", "A0013a", "UID FETCH 1:* (FLAGS)"); len(f) != 0 {
		t.Fatalf("INBOX not empty: %q", f)
	}
	rc.must("OK", "A0014", "LOGOUT")
}

// TestInternationalMailboxNames: a name with a space and an umlaut
// travels as modified UTF-7 ("&AMQ-rger", RFC 3501 5.1.3) for IMAP4rev1
// clients, and as UTF-8 after ENABLE UTF8=ACCEPT (RFC 6855), both naming
// the same mailbox.
func TestInternationalMailboxNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := e.raw(t)
	rc.login()
	rc.expect("OK", `CREATE "Old Stuff/&AMQ-rger"`)
	rc.expect("OK", `CREATE "&ZeVnLIqe-"`) // 日本語
	l := rc.expect("OK", `LIST "" "*"`)
	mustFind(t, l, 1, `^\* LIST \(\\HasChildren\) "/" "Old Stuff"$`)
	mustFind(t, l, 1, `^\* LIST \(\\HasNoChildren\) "/" "Old Stuff/&AMQ-rger"$`)
	mustFind(t, l, 1, `^\* LIST \(\\HasNoChildren\) "/" "&ZeVnLIqe-"$`)
	rc.expect("OK", `SELECT "Old Stuff"`)
	sel := rc.expect("OK", `SELECT "Old Stuff/&AMQ-rger"`)
	mustFind(t, sel, 1, `^\* 0 EXISTS$`)
	// Storage keeps the decoded name.
	if _, err := e.account(t).Status(t.Context(), "Old Stuff/Ärger"); err != nil {
		t.Fatalf("storage name: %v", err)
	}
	st := rc.expect("OK", `STATUS "&ZeVnLIqe-" (MESSAGES)`)
	mustFind(t, st, 1, `^\* STATUS "&ZeVnLIqe-" \(MESSAGES 0\)$`)
	// A malformed modified UTF-7 name is refused and changes nothing.
	if _, done := rc.cmd(`CREATE "Bad&AMQ"`); !strings.HasPrefix(done, "BAD") && !strings.HasPrefix(done, "NO") {
		t.Fatalf("bad mUTF-7: %q", done)
	}

	u8 := e.raw(t)
	u8.login()
	u8.expect("OK", "ENABLE UTF8=ACCEPT")
	l = u8.expect("OK", `LIST "" "*"`)
	mustFind(t, l, 1, `^\* LIST \(\\HasNoChildren\) "/" "Old Stuff/Ärger"$`)
	mustFind(t, l, 1, `^\* LIST \(\\HasNoChildren\) "/" "日本語"$`)
	u8.expect("OK", `SELECT "Old Stuff/Ärger"`)
	u8.expect("OK", `CREATE "Größe"`)
	l = rc.expect("OK", `LIST "" "Gr*"`)
	mustFind(t, l, 1, `^\* LIST \(\\HasNoChildren\) "/" "Gr&APYA3w-e"$`)
	app := u8.expect("OK", `STATUS "Größe" (MESSAGES UIDNEXT)`)
	mustFind(t, app, 1, `^\* STATUS "Größe" \(MESSAGES 0 UIDNEXT 1\)$`)
}

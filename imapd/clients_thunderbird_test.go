package imapd

import (
	"fmt"
	"strings"
	"testing"
)

// TestThunderbirdStartup replays Thunderbird's first connection over
// implicit TLS: lower-case commands, CAPABILITY after LOGIN, NAMESPACE,
// the special-use LIST, the subscribed LIST (LIST-EXTENDED) and its LSUB
// fallback, STATUS of every folder, then SELECT, the FLAGS resync, the
// header fetch of new messages and IDLE.
func TestThunderbirdStartup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := 1; i <= 3; i++ {
		e.deliver(t, "INBOX", testMessage(fmt.Sprint("tb", i), "hello"))
	}
	rc := e.rawTLS(t)
	pre := rc.must("OK", "1", "capability")
	mustFind(t, pre, 1, `^\* CAPABILITY .*IMAP4rev1.*AUTH=PLAIN`)
	rc.must("OK", "2", fmt.Sprintf(`login "%s" "%s"`, testUser, testPass))
	// Thunderbird asks again after LOGIN; the full list appears then.
	caps := rc.must("OK", "3", "capability")
	for _, c := range []string{"IMAP4rev1", "IDLE", "MOVE", "UIDPLUS", "SPECIAL-USE", "LIST-EXTENDED", "LITERAL+", "NAMESPACE"} {
		if !strings.Contains(" "+caps[0]+" ", " "+c+" ") {
			t.Errorf("CAPABILITY lacks %s: %q", c, caps[0])
		}
	}
	ns := rc.must("OK", "4", "namespace")
	mustFind(t, ns, 1, `^\* NAMESPACE \(\(""\s+"/"\)\) NIL NIL$`)

	// Thunderbird's folder discovery with SPECIAL-USE and LIST-EXTENDED.
	su := rc.must("OK", "5", `list (special-use) "" "*"`)
	for _, want := range []string{`\\Sent\) "/" "?Sent"?$`, `\\Drafts\) "/" "?Drafts"?$`, `\\Trash\) "/" "?Trash"?$`, `\\Junk\) "/" "?Junk"?$`, `\\Archive\) "/" "?Archive"?$`} {
		mustFind(t, su, 1, `^\* LIST \((\\\w+ )*`+want)
	}
	noneOf(t, su, `INBOX`, "LIST (SPECIAL-USE) lists only special-use mailboxes")

	rc.must("OK", "6", `subscribe "Sent"`)
	sub := rc.must("OK", "7", `list (subscribed) "" "*" return (special-use)`)
	sent := mustFind(t, sub, 1, `^\* LIST \([^)]*\) "/" "?Sent"?$`)[0]
	if !strings.Contains(sent, `\Subscribed`) || !strings.Contains(sent, `\Sent`) {
		t.Errorf("LIST (SUBSCRIBED) RETURN (SPECIAL-USE): %q", sent)
	}
	lsub := rc.must("OK", "8", `lsub "" "*"`)
	mustFind(t, lsub, 1, `^\* LSUB \([^)]*\) "/" "?Sent"?$`)
	inbox := rc.must("OK", "9", `list "" "INBOX"`)
	mustFind(t, inbox, 1, `^\* LIST \([^)]*\) "/" "?INBOX"?$`)

	// STATUS of every folder, Thunderbird's item list (RECENT included:
	// it speaks IMAP4rev1).
	list := rc.must("OK", "10", `list "" "*"`)
	for i, l := range list {
		name := l[strings.LastIndex(l, ` "/" `)+5:]
		st := rc.must("OK", fmt.Sprint(11+i), "STATUS "+name+" (UIDNEXT MESSAGES UNSEEN RECENT)")
		mustFind(t, st, 1, `^\* STATUS "?[^ ]+"? \((\w+ \d+ ?){4}\)$`)
		for _, item := range []string{"UIDNEXT", "MESSAGES", "UNSEEN", "RECENT 0"} {
			mustFind(t, st, 1, `[( ]`+item+`[ )]`)
		}
		if name == "INBOX" || name == `"INBOX"` {
			mustFind(t, st, 1, `MESSAGES 3 UIDNEXT 4 UNSEEN 3`)
		}
	}

	sel := rc.must("OK [READ-WRITE]", "30", `select "INBOX"`)
	mustFind(t, sel, 1, `^\* 3 EXISTS$`)
	mustFind(t, sel, 1, `^\* OK \[UIDVALIDITY \d+\]`)
	mustFind(t, sel, 1, `^\* OK \[UIDNEXT 4\]`)
	mustFind(t, sel, 1, `^\* OK \[PERMANENTFLAGS \(.*\\\*\)\]`)
	flags := rc.must("OK", "31", "UID fetch 1:* (FLAGS)")
	for i := 1; i <= 3; i++ {
		mustFind(t, flags, 1, fmt.Sprintf(`^\* %d FETCH \((UID %d FLAGS \(\)|FLAGS \(\) UID %d)\)$`, i, i, i))
	}
	hdr := rc.must("OK", "32", "UID fetch 1:3 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])")
	if len(hdr) != 3 {
		t.Fatalf("header fetch: %q", hdr)
	}
	for _, h := range hdr {
		if !strings.Contains(h, "BODY[HEADER.FIELDS (") || !strings.Contains(h, "Subject: tb") || strings.Contains(h, "hello") {
			t.Errorf("header fetch response: %q", h)
		}
	}
	// .PEEK must not set \Seen.
	after := rc.must("OK", "33", "UID fetch 1:* (FLAGS)")
	noneOf(t, after, `\\Seen`, "BODY.PEEK set \\Seen")
	// Opening a message: the whole body without PEEK sets \Seen.
	body := rc.must("OK", "34", "UID fetch 2 (UID RFC822.SIZE BODY[])")
	mustFind(t, body, 1, `^\* 2 FETCH \(.*FLAGS \(\\Seen\).*BODY\[\] \{\d+\}`)

	// IDLE, a delivery arrives, DONE.
	rc.send("35 IDLE\r\n")
	if l := rc.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("IDLE: %q", l)
	}
	e.deliver(t, "INBOX", testMessage("tb4", "new"))
	if l := rc.line(); l != "* 4 EXISTS" {
		t.Fatalf("during IDLE: %q", l)
	}
	rc.send("DONE\r\n")
	u, done := rc.until("35")
	if !strings.HasPrefix(done, "OK") || len(u) != 0 {
		t.Fatalf("IDLE end: %q %q", u, done)
	}
	nw := rc.must("OK", "36", "UID fetch 4:* (FLAGS)")
	mustFind(t, nw, 1, `^\* 4 FETCH`)
	rc.must("OK", "37", "logout")
}

// TestThunderbirdDeleteAndMove replays Thunderbird's delete models: "move
// to Trash" with UID MOVE (COPYUID then EXPUNGEs, RFC 6851 3.3), the
// fallback UID COPY + UID STORE +FLAGS.SILENT (\Deleted) + UID EXPUNGE, the
// "mark as deleted" model followed by EXPUNGE on folder compact, and the
// EXPUNGE responses' order.
func TestThunderbirdDeleteAndMove(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := 1; i <= 8; i++ {
		e.deliver(t, "INBOX", testMessage(fmt.Sprint("del", i), "x"))
	}
	rc := e.rawTLS(t)
	rc.must("OK", "1", fmt.Sprintf(`login "%s" "%s"`, testUser, testPass))
	sel := rc.must("OK", "2", `select "Trash"`)
	mustFind(t, sel, 1, `^\* OK \[UIDVALIDITY (\d+)\]`)
	trashUV := strings.TrimSuffix(strings.Fields(find(sel, `UIDVALIDITY`)[0])[3], "]")
	rc.must("OK", "3", `select "INBOX"`)

	// UID MOVE of 2 and 3: COPYUID in an untagged OK before the EXPUNGEs,
	// EXPUNGEs with sequence numbers valid at the time each is read.
	mv := rc.must("OK", "4", `UID move 2:3 "Trash"`)
	if len(mv) != 3 {
		t.Fatalf("UID MOVE responses: %q", mv)
	}
	if mv[0] != "* OK [COPYUID "+trashUV+" 2:3 1:2] Messages moved" && !strings.HasPrefix(mv[0], "* OK [COPYUID "+trashUV+" 2:3 1:2]") {
		t.Errorf("COPYUID: %q", mv[0])
	}
	if mv[1] != "* 3 EXPUNGE" || mv[2] != "* 2 EXPUNGE" {
		// Highest first: each number stays valid as the client applies it.
		if !(mv[1] == "* 2 EXPUNGE" && mv[2] == "* 2 EXPUNGE") {
			t.Errorf("EXPUNGE order: %q", mv[1:])
		}
	}

	// Old-style: copy, mark, expunge just those UIDs (UIDPLUS).
	cp := rc.must("OK [COPYUID "+trashUV+" 4 3]", "5", `UID copy 4 "Trash"`)
	noneOf(t, cp, `EXPUNGE`, "COPY expunged")
	st := rc.must("OK", "6", `UID store 4 +FLAGS.SILENT (\Deleted \Seen)`)
	if len(st) != 0 {
		t.Errorf(".SILENT store answered %q", st)
	}
	// Another message marked \Deleted must survive UID EXPUNGE 4.
	rc.must("OK", "7", `UID store 5 +FLAGS.SILENT (\Deleted)`)
	ex := rc.must("OK", "8", "UID expunge 4")
	if len(ex) != 1 || ex[0] != "* 2 EXPUNGE" {
		t.Fatalf("UID EXPUNGE 4: %q", ex)
	}
	// Mailbox is now UIDs 1 5 6 7 8; 5 is \Deleted. Mark 7 too and compact.
	rc.must("OK", "9", `UID store 7 +FLAGS.SILENT (\Deleted)`)
	ex = rc.must("OK", "10", "expunge")
	if len(ex) != 2 || ex[0] != "* 4 EXPUNGE" || ex[1] != "* 2 EXPUNGE" {
		t.Fatalf("EXPUNGE: %q", ex)
	}
	left := rc.must("OK", "11", "UID fetch 1:* (FLAGS)")
	if len(left) != 3 || !strings.Contains(left[1], "UID 6") || !strings.Contains(left[2], "UID 8") {
		t.Fatalf("left: %q", left)
	}
	tr := rc.must("OK", "12", `STATUS "Trash" (MESSAGES UIDNEXT)`)
	mustFind(t, tr, 1, `MESSAGES 3 UIDNEXT 4`)

	// A MOVE to a missing folder says TRYCREATE and expunges nothing.
	rc.must("NO [TRYCREATE]", "13", `UID move 6 "Nope"`)
	rc.must("OK", "14", "noop")
	if l := rc.must("OK", "15", "UID fetch 6 (FLAGS)"); len(l) != 1 {
		t.Fatalf("failed MOVE lost the message: %q", l)
	}
}

// TestThunderbirdAppendToSent replays saving a sent message: APPEND with
// a LITERAL+ literal, \Seen and an internal date, answered with
// [APPENDUID uidvalidity uid] (RFC 4315), and the date kept.
func TestThunderbirdAppendToSent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := e.rawTLS(t)
	rc.must("OK", "1", fmt.Sprintf(`login "%s" "%s"`, testUser, testPass))
	st := rc.must("OK", "2", `STATUS "Sent" (UIDVALIDITY UIDNEXT)`)
	uv := statusItem(t, st, "UIDVALIDITY")
	msg := testMessage("sent one", "body of the sent message")
	u, done := rc.appendLit("3", `append "Sent" (\Seen) "25-Nov-2026 11:12:13 +0100"`, msg)
	if done != "OK [APPENDUID "+uv+" 1] APPEND completed" && !strings.HasPrefix(done, "OK [APPENDUID "+uv+" 1]") {
		t.Fatalf("APPEND: %q %q", u, done)
	}
	// Without flags and date, as Apple Mail saves drafts.
	if _, done := rc.appendLit("4", `APPEND "Drafts"`, testMessage("draft", "d")); !strings.HasPrefix(done, "OK [APPENDUID ") {
		t.Fatalf("APPEND Drafts: %q", done)
	}
	rc.must("OK", "5", `examine "Sent"`)
	f := rc.must("OK", "6", "UID fetch 1 (UID FLAGS INTERNALDATE RFC822.SIZE)")
	mustFind(t, f, 1, fmt.Sprintf(`^\* 1 FETCH \(UID 1 FLAGS \(\\Seen\) INTERNALDATE "25-Nov-2026 1[01]:\d\d:13 [+-]\d{4}" RFC822.SIZE %d\)$`, len(msg)))
	// A synchronising literal (mutt, fetchmail-era clients) also works.
	rc.send(fmt.Sprintf("7 APPEND \"Sent\" {%d}\r\n", len(msg)))
	if l := rc.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("continuation: %q", l)
	}
	rc.send(msg + "\r\n")
	if _, done := rc.until("7"); !strings.HasPrefix(done, "OK [APPENDUID "+uv+" 2]") {
		t.Fatalf("APPEND sync literal: %q", done)
	}
}

// TestThunderbirdFolderOps replays folder management: create and
// subscribe, delete-to-Trash as a RENAME under Trash (subscriptions
// follow, RFC 9051 6.3.6 leaves that to the server; Thunderbird relies
// on it), delete for good with DELETE then UNSUBSCRIBE, and a rename of a
// modified UTF-7 name.
func TestThunderbirdFolderOps(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := e.rawTLS(t)
	rc.must("OK", "1", fmt.Sprintf(`login "%s" "%s"`, testUser, testPass))
	rc.must("OK", "2", `create "Projects"`)
	rc.must("OK", "3", `subscribe "Projects"`)
	rc.must("OK", "4", `create "Projects/2026"`)
	rc.must("OK", "5", `subscribe "Projects/2026"`)
	e.deliver(t, "Projects/2026", testMessage("plan", "x"))

	rc.must("OK", "6", `rename "Projects" "Trash/Projects"`)
	sub := rc.must("OK", "7", `list (subscribed) "" "*" return (special-use)`)
	mustFind(t, sub, 1, `^\* LIST \(\\HasChildren \\Subscribed\) "/" "Trash/Projects"$`)
	mustFind(t, sub, 1, `^\* LIST \(\\HasNoChildren \\Subscribed\) "/" "Trash/Projects/2026"$`)
	noneOf(t, sub, `"Projects`, "old names left subscribed")
	st := rc.must("OK", "8", `STATUS "Trash/Projects/2026" (MESSAGES)`)
	if statusItem(t, st, "MESSAGES") != "1" {
		t.Fatalf("messages did not follow the rename: %q", st)
	}
	mustFind(t, rc.must("OK", "8a", `list "" "Trash/%"`), 1, `^\* LIST \(\\HasChildren\) "/" "Trash/Projects"$`)
	mustFind(t, rc.must("OK", "8b", `list "" "Trash"`), 1, `^\* LIST \(\\HasChildren \\Trash\) "/" "?Trash"?$`)

	// Delete for good: children first (HASCHILDREN otherwise), then
	// unsubscribe each.
	if _, done := rc.run("9", `delete "Trash/Projects"`); !strings.HasPrefix(done, "OK") && !strings.HasPrefix(done, "NO [HASCHILDREN]") {
		t.Fatalf("DELETE parent: %q", done)
	}
	rc.must("OK", "10", `delete "Trash/Projects/2026"`)
	rc.must("OK", "11", `unsubscribe "Trash/Projects/2026"`)
	rc.must("OK", "12", `delete "Trash/Projects"`)
	rc.must("OK", "13", `unsubscribe "Trash/Projects"`)
	sub = rc.must("OK", "14", `list (subscribed) "" "*"`)
	noneOf(t, sub, `Projects`, "deleted and unsubscribed folder listed")

	// Rename with modified UTF-7 on both sides.
	rc.must("OK", "15", `create "&AMQ-rger"`)
	rc.must("OK", "16", `rename "&AMQ-rger" "Gr&APYA3w-e/&AMQ-rger"`)
	l := rc.must("OK", "17", `list "" "*"`)
	mustFind(t, l, 1, `^\* LIST \(\\HasNoChildren\) "/" "Gr&APYA3w-e/&AMQ-rger"$`)
	noneOf(t, l, `"&AMQ-rger"$`, "old name still listed")
}

package imapd

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// mailboxList returns the names LIST "" "*" shows, for before/after checks.
func (rc *rawConn) mailboxList() []string {
	rc.t.Helper()
	u := rc.expect("OK", `LIST "" "*"`)
	slices.Sort(u)
	return u
}

func TestHostileMailboxNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(e.logs.String())
		}
	})
	rc := e.raw(t)
	rc.login()
	before := rc.mailboxList()
	for _, name := range []string{
		`".."`, `"../etc"`, `"a/../b"`, `"a/./b"`, `"."`,
		`"/leading"`, `"a//b"`, `"//"`, `"/"`,
		`"wild%"`, `"wild*"`, `"a*b"`,
		`""`,
		`"tab` + "\t" + `x"`,
		`"` + strings.Repeat("x", 600) + `"`,
	} {
		for _, cmd := range []string{"CREATE %s", "RENAME INBOX %s", "SELECT %s", "DELETE %s", "SUBSCRIBE %s", "STATUS %s (MESSAGES)"} {
			_, done := rc.cmd(cmd, name)
			if !strings.HasPrefix(done, "NO") && !strings.HasPrefix(done, "BAD") {
				t.Errorf("%s: %q", fmt.Sprintf(cmd, name), done)
			}
		}
	}
	// Renaming onto a hostile name and appending to one fail too.
	for _, name := range []string{`"../x"`, `"x/"`} {
		_, done := rc.cmd("RENAME Archive %s", name)
		if !strings.HasPrefix(done, "NO") && !strings.HasPrefix(done, "BAD") {
			t.Errorf("RENAME Archive %s: %q", name, done)
		}
	}
	rc.send("a99 APPEND \"../evil\" {3}\r\n")
	if l := rc.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("APPEND continuation: %q", l)
	}
	rc.send("x\r\n\r\n")
	if _, done := rc.until("a99"); !strings.HasPrefix(done, "NO") {
		t.Errorf("APPEND to ../evil: %q", done)
	}
	if after := rc.mailboxList(); !slices.Equal(before, after) {
		t.Errorf("mailboxes changed:\nbefore %q\nafter  %q", before, after)
	}

	// Control characters and bytes that are not modified UTF-7 inside
	// literals: the library refuses them while decoding (NO, sometimes
	// followed by closing the connection), so each gets its own connection.
	for _, name := range []string{"{5+}\r\na\x00bcd", "{4+}\r\na\x7fbc", "{3+}\r\n\xff\xfe\xfd", "{4+}\r\na\r\nb"} {
		c := e.raw(t)
		c.login()
		c.send("x1 CREATE " + name + "\r\n")
		c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		l, err := c.r.ReadString('\n')
		if err == nil && !strings.HasPrefix(l, "x1 NO") && !strings.HasPrefix(l, "x1 BAD") {
			t.Errorf("CREATE %q: %q", name, l)
		}
	}
	if after := rc.mailboxList(); !slices.Equal(before, after) {
		t.Errorf("mailboxes changed by literals:\nbefore %q\nafter  %q", before, after)
	}
}

func TestHostileLiteralsAndSets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *Options) { o.MaxMessageBytes = 1000 })
	rc := e.raw(t)
	rc.login()
	// A synchronizing literal over APPENDLIMIT is refused before any byte.
	rc.expect("NO [TOOBIG]", "APPEND INBOX {1001}")
	rc.expect("NO [TOOBIG]", "APPEND INBOX {99999999999}")
	// A huge non-synchronizing literal: the library must refuse it too.
	// (Its bytes are never sent, so the connection stays usable.)
	st := rc.expect("OK", "STATUS INBOX (MESSAGES)")
	if !strings.Contains(st[0], "MESSAGES 0") {
		t.Fatalf("after refused APPENDs: %q", st)
	}
	// Exactly at the limit works.
	msg := strings.Repeat("x", 998) + "\r\n"
	rc.send(fmt.Sprintf("a50 APPEND INBOX {%d+}\r\n%s\r\n", len(msg), msg))
	if _, done := rc.until("a50"); !strings.HasPrefix(done, "OK [APPENDUID") {
		t.Fatalf("APPEND at the limit: %q", done)
	}

	rc.expect("OK", "CREATE Empty")
	rc.expect("OK", "SELECT Empty")
	// RFC 9051 9: "*" in an empty mailbox is an invalid sequence number.
	rc.expect("BAD", "FETCH 1:* (FLAGS)")
	rc.expect("BAD", "FETCH * (FLAGS)")
	rc.expect("BAD", "STORE 1 +FLAGS (\\Seen)")
	rc.expect("BAD", "COPY 1:* INBOX")
	// SEARCH is the exception: K-9 sends "SEARCH 1:* UNSEEN NOT DELETED"
	// and "UID SEARCH *:*" on empty folders too; the key matches nothing.
	if u := rc.expect("OK", "SEARCH 1:*"); len(u) != 1 || u[0] != "* SEARCH" {
		t.Errorf("SEARCH 1:* on empty: %q", u)
	}
	// UID sets with unknown UIDs are simply empty.
	rc.expect("OK", "UID FETCH 1:* (FLAGS)")
	rc.expect("OK", "UID STORE 1:* +FLAGS (\\Seen)")
	rc.expect("OK", "UID EXPUNGE 1:*")

	rc.expect("OK", "SELECT INBOX")
	for _, bad := range []string{"FETCH 0 (FLAGS)", "FETCH 2 (FLAGS)", "FETCH 1:4294967295 (FLAGS)", "FETCH a:b (FLAGS)",
		"FETCH 1,,2 (FLAGS)", "FETCH -1 (FLAGS)", "FETCH 1: (FLAGS)", "FETCH 99999999999 (FLAGS)", "STORE 1:5 +FLAGS (\\Seen)",
		"FETCH 1 (FLAGS", "UID FETCH 0:x FLAGS", "MOVE 3 Trash"} {
		_, done := rc.cmd("%s", bad)
		if !strings.HasPrefix(done, "BAD") && !strings.HasPrefix(done, "NO") {
			t.Errorf("%s: %q", bad, done)
		}
	}
	// Many overlapping ranges cost no more than one.
	rc.expect("OK", "FETCH %s (UID)", strings.TrimSuffix(strings.Repeat("1:*,", 2000), ","))
	// A LIST pattern with too many wildcards.
	rc.expect("BAD", `LIST "" "%s"`, strings.Repeat("*%", 40))
	u := rc.expect("OK", "FETCH 1 (FLAGS)")
	if strings.Contains(u[0], `\Seen`) || strings.Contains(u[0], `\Deleted`) {
		t.Errorf("flags changed by refused commands: %q", u)
	}
	rc.expect("OK", "NOOP")
}

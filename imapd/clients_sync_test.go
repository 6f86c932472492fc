package imapd

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"postel/internal/testenv"
)

// idleUntil reads unilateral responses on an idling connection until one
// matches re, and returns everything read.
func (rc *rawConn) idleUntil(re string) []string {
	rc.t.Helper()
	rx := regexp.MustCompile(re)
	var got []string
	for {
		l := rc.response()
		got = append(got, l)
		if rx.MatchString(l) {
			return got
		}
	}
}

// startIdle sends IDLE and waits for the continuation.
func (rc *rawConn) startIdle(tag string) {
	rc.t.Helper()
	rc.send(tag + " IDLE\r\n")
	if l := rc.line(); !strings.HasPrefix(l, "+ ") {
		rc.t.Fatalf("IDLE: %q", l)
	}
}

// stopIdle sends DONE and returns what came before the completion.
func (rc *rawConn) stopIdle(tag string) []string {
	rc.t.Helper()
	rc.send("DONE\r\n")
	u, done := rc.until(tag)
	if !strings.HasPrefix(done, "OK") {
		rc.t.Fatalf("IDLE completion %q", done)
	}
	return u
}

var (
	expungeRe = regexp.MustCompile(`^\* (\d+) EXPUNGE$`)
	existsRe  = regexp.MustCompile(`^\* (\d+) EXISTS$`)
)

// applyUpdates replays EXPUNGE and EXISTS responses on a client's list of
// UIDs, the way a client keeps its sequence-number map (new messages are
// 0 until a FETCH names their UID). It fails on a number the client could
// not apply.
func applyUpdates(t *testing.T, uids []uint32, lines []string) []uint32 {
	t.Helper()
	for _, l := range lines {
		if m := expungeRe.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			if n < 1 || n > len(uids) {
				t.Fatalf("EXPUNGE %d with %d messages known: %q", n, len(uids), lines)
			}
			uids = slices.Delete(uids, n-1, n)
		} else if m := existsRe.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			if n < len(uids) {
				t.Fatalf("EXISTS %d below %d known messages without EXPUNGE: %q", n, len(uids), lines)
			}
			for len(uids) < n {
				uids = append(uids, 0)
			}
		}
	}
	return uids
}

// uidMap reads the server's seq -> UID map with UID FETCH.
func uidMap(t *testing.T, rc *rawConn, tag string) []uint32 {
	t.Helper()
	var out []uint32
	for _, l := range rc.must("OK", tag, "UID FETCH 1:* (UID)") {
		var seq, uid uint32
		if _, err := fmt.Sscanf(l, "* %d FETCH (UID %d)", &seq, &uid); err != nil || int(seq) != len(out)+1 {
			t.Fatalf("UID FETCH response %q", l)
		}
		out = append(out, uid)
	}
	return out
}

// TestIdleWhileAnotherClientDeletes: Thunderbird idles on INBOX while a
// phone flags, deletes (STORE \Deleted + UID EXPUNGE), moves (UID MOVE)
// and new mail arrives. The idling client gets FETCH, EXPUNGE and EXISTS
// at once, in an order it can apply, and its map matches the server's
// after DONE.
func TestIdleWhileAnotherClientDeletes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := 1; i <= 5; i++ {
		e.deliver(t, "INBOX", testMessage(fmt.Sprint("m", i), "x"))
	}
	tb := e.rawTLS(t)
	tb.must("OK", "1", fmt.Sprintf(`login "%s" "%s"`, testUser, testPass))
	tb.must("OK", "2", `select "INBOX"`)
	known := []uint32{1, 2, 3, 4, 5}
	tb.startIdle("3")

	phone := e.rawTLS(t)
	phone.must("OK", "1.1", fmt.Sprintf(`LOGIN "%s" "%s"`, testUser, testPass))
	phone.must("OK", "1.2", "SELECT INBOX")
	phone.must("OK", "1.3", `UID STORE 1 +FLAGS.SILENT (\Seen)`)
	got := tb.idleUntil(`^\* 1 FETCH \(`)
	if l := got[len(got)-1]; !strings.Contains(l, `FLAGS (\Seen)`) {
		t.Fatalf("flag change during IDLE: %q", got)
	}

	phone.must("OK", "1.4", `UID STORE 2 +FLAGS.SILENT (\Deleted)`)
	phone.must("OK", "1.5", "UID EXPUNGE 2")
	got = tb.idleUntil(`EXPUNGE$`)
	known = applyUpdates(t, known, got)
	if !slices.Equal(known, []uint32{1, 3, 4, 5}) || got[len(got)-1] != "* 2 EXPUNGE" {
		t.Fatalf("after UID EXPUNGE 2: %q -> %v", got, known)
	}

	mv := phone.must("OK", "1.6", `UID MOVE 3:4 "Trash"`)
	mustFind(t, mv, 1, `^\* OK \[COPYUID \d+ 3:4 1:2\]`)
	got = tb.idleUntil(`EXPUNGE$`)
	if len(got) == 1 {
		got = append(got, tb.idleUntil(`EXPUNGE$`)...)
	}
	known = applyUpdates(t, known, got)
	if !slices.Equal(known, []uint32{1, 5}) {
		t.Fatalf("after UID MOVE: %q -> %v", got, known)
	}

	e.deliver(t, "INBOX", testMessage("m6", "new"))
	got = tb.idleUntil(`EXISTS$`)
	known = applyUpdates(t, known, got)
	if len(known) != 3 {
		t.Fatalf("after delivery: %q -> %v", got, known)
	}
	if u := tb.stopIdle("3"); len(u) != 0 {
		t.Errorf("after DONE: %q", u)
	}
	if m := uidMap(t, tb, "4"); !slices.Equal(m, []uint32{1, 5, 6}) {
		t.Fatalf("server map %v", m)
	}
	// The phone was not idling: it learns at its next command.
	u := phone.must("OK", "1.7", "NOOP")
	mustFind(t, u, 1, `^\* 3 EXISTS$`)
}

// TestNoExpungeDuringFetchStoreSearch: RFC 9051 7.5.1 forbids EXPUNGE
// while answering FETCH, STORE and SEARCH (sequence numbers in those
// answers would otherwise be ambiguous). A client that is selected but
// not idling keeps its numbering through those commands while another
// client expunges; NOOP then reports the EXPUNGEs, and EXISTS, in an order
// the client can apply.
func TestNoExpungeDuringFetchStoreSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := 1; i <= 5; i++ {
		e.deliver(t, "INBOX", testMessage(fmt.Sprint("m", i), "x"))
	}
	mutt := e.raw(t)
	mutt.login()
	mutt.must("OK", "a1", `SELECT "INBOX"`)
	known := []uint32{1, 2, 3, 4, 5}
	// A watcher in IDLE tells us when the hub has passed the changes on.
	watch := e.raw(t)
	watch.login()
	watch.must("OK", "w1", `SELECT "INBOX"`)
	watch.startIdle("w2")

	other := e.raw(t)
	other.login()
	other.must("OK", "o1", `SELECT "INBOX"`)
	other.must("OK", "o2", `STORE 1,3 +FLAGS.SILENT (\Deleted)`)
	other.must("OK", "o3", "EXPUNGE")
	e.deliver(t, "INBOX", testMessage("m6", "new"))
	other.must("OK", "o4", `UID STORE 5 +FLAGS.SILENT (\Answered)`) // sentinel
	watch.idleUntil(`^\* \d FETCH .*Answered`)

	f := mutt.must("OK", "a2", "FETCH 1:5 (UID FLAGS)")
	noneOf(t, f, `EXPUNGE`, "EXPUNGE during FETCH")
	// Expunged messages are left out; the others keep their numbers.
	mustFind(t, f, 1, `^\* 2 FETCH \(UID 2 FLAGS \(\)\)$`)
	mustFind(t, f, 1, `^\* 4 FETCH \(UID 4 FLAGS \(\)\)$`)
	// 1 and 3 may appear only as the unilateral news of their \Deleted
	// flag, which the client can still apply to its numbering.
	noneOf(t, f, `^\* [13] FETCH \(UID [13] FLAGS \(\)\)$`, "FETCH of an expunged message")

	s := mutt.must("OK", "a3", `STORE 4 +FLAGS (\Flagged)`)
	noneOf(t, s, `EXPUNGE`, "EXPUNGE during STORE")
	mustFind(t, s, 1, `^\* 4 FETCH \(FLAGS \(\\Flagged\)\)$`)

	r := mutt.must("OK", "a4", "SEARCH ALL")
	noneOf(t, r, `EXPUNGE`, "EXPUNGE during SEARCH")
	mustFind(t, r, 1, `^\* SEARCH 2 4 5$`)
	r = mutt.must("OK", "a5", "SEARCH FLAGGED")
	mustFind(t, r, 1, `^\* SEARCH 4$`)

	// NOOP may now expunge.
	n := mutt.must("OK", "a6", "NOOP")
	known = applyUpdates(t, known, n)
	if len(find(n, `EXPUNGE`)) != 2 {
		t.Fatalf("NOOP: %q", n)
	}
	if m := uidMap(t, mutt, "a7"); len(m) != len(known) || !slices.Equal(m[:3], []uint32{2, 4, 5}) || (known[3] != 0 && known[3] != 6) {
		t.Fatalf("client map %v, server map %v (after %q)", known, m, n)
	}
	watch.stopIdle("w2")
}

// TestIdleRenewedEveryTwentyNineMinutes: Thunderbird ends IDLE with DONE
// after 29 minutes and starts it again, so as not to trip the server's
// 30-minute autologout (RFC 9051 5.4). Each command restarts the timer.
// Scaled down: timeout 2 s, DONE after 1 s, twice.
func TestIdleRenewedEveryTwentyNineMinutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.idleTimeout = 2 * time.Second // tests only: New refuses < 30 min
	rc := e.raw(t)
	rc.login()
	rc.must("OK", "1", "SELECT INBOX")
	for i := range 2 {
		tag := fmt.Sprint("i", i)
		rc.startIdle(tag)
		time.Sleep(time.Second) // the client's think time under test, not a wait for an event
		rc.stopIdle(tag)
	}
	rc.must("OK", "2", "NOOP")
	// Past the timeout the server closes the connection.
	rc.startIdle("3")
	rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, err := rc.r.ReadString('\n'); err != nil {
			break
		}
	}
}

// TestIdleClientVanishes: a phone loses its network while idling, just as
// new mail arrives. The session ends cleanly (no race between the IDLE
// goroutine and Close, which the race detector would report) and another
// session keeps working.
func TestIdleClientVanishes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := range 3 {
		rc := e.raw(t)
		rc.login()
		rc.must("OK", "1", "SELECT INBOX")
		rc.startIdle("2")
		e.deliver(t, "INBOX", testMessage(fmt.Sprint("v", i), "x"))
		rc.c.Close()
	}
	testenv.WaitFor(t, 5*time.Second, "three closed sessions in the log", func() bool {
		return strings.Count(e.logs.String(), `msg="imap connection closed"`) >= 3
	})
	rc := e.raw(t)
	rc.login()
	mustFind(t, rc.must("OK", "1", "SELECT INBOX"), 1, `^\* 3 EXISTS$`)
}

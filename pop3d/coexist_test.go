package pop3d

import (
	"strings"
	"testing"
	"time"

	"postel/auth"
	"postel/internal/testenv"
	"postel/storage"
)

func (e *realEnv) login(t *testing.T) *client {
	t.Helper()
	c := dial(t, e.plainAddr)
	c.run(greeting + `
		C: USER ` + realUser + `
		S: +OK send PASS
		C: PASS ` + realPass + `
		S~ \+OK maildrop locked and ready, \d+ messages \(\d+ octets\)`)
	return c
}

// TestRealSnapshotAndExpungeEvents: a message delivered during a session
// is not in it but is in the next one; DELE+QUIT expunges through storage
// and an IMAP-like subscriber receives the ChangeExpunge.
func TestRealSnapshotAndExpungeEvents(t *testing.T) {
	t.Parallel()
	e := newRealEnv(t, nil)
	msgs := testMessages()
	var uids []uint32
	for _, m := range msgs[:2] {
		uids = append(uids, e.deliver(t, realUser, m))
	}
	acct := e.account(t, realUser)
	sub := acct.Subscribe()
	defer sub.Close()

	c := e.login(t)
	late := e.deliver(t, realUser, msgs[3]) // arrives mid-session
	sizes := itoa(len(msgs[0])+len(msgs[1])) + " octets"
	c.run(`
		C: STAT
		S: +OK 2 ` + strings.TrimSuffix(sizes, " octets") + `
		C: LIST
		S: +OK 2 messages (` + sizes + `)
		S: 1 ` + itoa(len(msgs[0])) + `
		S: 2 ` + itoa(len(msgs[1])) + `
		S: .
		C: DELE 1
		S: +OK message 1 deleted
		C: QUIT
		S: +OK Postel POP3 server signing off (1 messages left)
		S: <EOF>`)

	deadline := time.After(10 * time.Second)
	for expunged := false; !expunged; {
		select {
		case ch := <-sub.C():
			if ch.Kind == storage.ChangeExpunge {
				if ch.Mailbox != "INBOX" || ch.UID != uids[0] {
					t.Fatalf("expunge event %+v, want INBOX UID %d", ch, uids[0])
				}
				expunged = true
			}
		case <-deadline:
			t.Fatal("no ChangeExpunge event after POP3 QUIT")
		}
	}

	// The next session: the expunged message is gone, the late one is in.
	c = e.login(t)
	c.run(`
		C: LIST
		S: +OK 2 messages (` + itoa(len(msgs[1])+len(msgs[3])) + ` octets)
		S: 1 ` + itoa(len(msgs[1])) + `
		S: 2 ` + itoa(len(msgs[3])) + `
		S: .
		C: RETR 2
		S: +OK ` + itoa(len(msgs[3])) + ` octets`)
	if got := c.multi(); got != msgs[3] {
		t.Errorf("late message = %q", got)
	}
	_ = late
}

// TestRealByteExactAndStableUIDL: RETR returns exactly the stored bytes,
// LIST sizes are those octets, and UIDL is the same in every session.
func TestRealByteExactAndStableUIDL(t *testing.T) {
	t.Parallel()
	e := newRealEnv(t, nil)
	for _, m := range testMessages() {
		e.deliver(t, realUser, m)
	}
	stored := e.stored(t, realUser)
	uidls := func() []string {
		c := e.login(t)
		c.run(`
			C: UIDL
			S~ \+OK \d messages .*`)
		lines := strings.Split(strings.TrimSuffix(c.multi(), "\r\n"), "\r\n")
		for i, b := range stored {
			c.run(`
				C: LIST ` + itoa(i+1) + `
				S: +OK ` + itoa(i+1) + ` ` + itoa(len(b)) + `
				C: RETR ` + itoa(i+1) + `
				S: +OK ` + itoa(len(b)) + ` octets`)
			if got := c.multi(); got != b {
				t.Errorf("RETR %d differs from storage (%d vs %d octets)", i+1, len(got), len(b))
			}
		}
		c.run(`
			C: QUIT
			S~ \+OK Postel POP3 server signing off \(\d messages left\)
			S: <EOF>`)
		return lines
	}
	first := uidls()
	// A delivery and an expunge of another message must not shift UIDLs.
	e.deliver(t, realUser, "Subject: new\r\n\r\nx\r\n")
	second := uidls()
	if len(first) != 4 || strings.Join(first, "|") != strings.Join(second[:4], "|") {
		t.Errorf("UIDL changed between sessions:\n%q\n%q", first, second)
	}
	for _, l := range second {
		_, id, _ := strings.Cut(l, " ")
		if len(id) < 1 || len(id) > 70 || strings.ContainsFunc(id, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
			t.Errorf("bad unique-id %q (RFC 1939 7)", id)
		}
	}
}

func TestRealInUseAndRelease(t *testing.T) {
	t.Parallel()
	e := newRealEnv(t, nil)
	e.deliver(t, realUser, testMessages()[0])
	first := e.login(t)
	second := dial(t, e.plainAddr)
	second.run(greeting + `
		C: USER ` + realUser + `
		S: +OK send PASS
		C: PASS ` + realPass + `
		S: -ERR [IN-USE] maildrop already locked by another session`)
	// Dropping the first connection (no QUIT) releases the lock.
	first.c.Close()
	testenv.WaitFor(t, 10*time.Second, "the dropped session's lock to be released", func() bool {
		second.run(`
			C: USER ` + realUser + `
			S: +OK send PASS
			C: PASS ` + realPass)
		l := second.line()
		if !strings.HasPrefix(l, "+OK") && !strings.HasPrefix(l, "-ERR [IN-USE]") {
			t.Fatalf("after drop: %q", l)
		}
		return strings.HasPrefix(l, "+OK")
	})
}

func TestRealBadPassword(t *testing.T) {
	t.Parallel()
	e := newRealEnv(t, nil)
	c := dial(t, e.plainAddr)
	c.run(greeting + `
		C: USER ` + realUser + `
		S: +OK send PASS
		C: PASS wrong
		S: -ERR [AUTH] invalid user name or password
		C: AUTH PLAIN ` + plain("", "nobody@example.com", "x") + `
		S: -ERR [AUTH] invalid user name or password`)
}

// TestRealThrottledLogins: failures are throttled by auth and answered
// [AUTH]; once locked out even the right password is refused.
func TestRealThrottledLogins(t *testing.T) {
	t.Parallel()
	e := newRealEnvAuth(t, func(o *auth.Options) {
		o.Throttle = auth.ThrottleOptions{Free: 1, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond, Lockout: 3, Window: time.Hour}
	}, nil)
	c := dial(t, e.plainAddr)
	c.run(greeting)
	for range 3 {
		c.run(`
			C: USER ` + realUser + `
			S: +OK send PASS
			C: PASS wrong
			S: -ERR [AUTH] invalid user name or password`)
	}
	c.run(`
		C: USER ` + realUser + `
		S: +OK send PASS
		C: PASS ` + realPass + `
		S: -ERR [AUTH] too many failed logins, try again later`)
}

// TestRealDroppedAfterDele: with the real store, DELE then a dropped
// connection deletes nothing and publishes no expunge.
func TestRealDroppedAfterDele(t *testing.T) {
	t.Parallel()
	e := newRealEnv(t, nil)
	for _, m := range testMessages()[:2] {
		e.deliver(t, realUser, m)
	}
	sub := e.account(t, realUser).Subscribe()
	defer sub.Close()
	c := e.login(t)
	c.run(`
		C: DELE 1
		S: +OK message 1 deleted
		C: DELE 2
		S: +OK message 2 deleted`)
	c.c.Close()
	// The lock comes free once the session has ended; then check.
	acct := e.account(t, realUser)
	testenv.WaitFor(t, 10*time.Second, "the lock to be released after the drop", func() bool {
		unlock, err := acct.LockPOP3()
		if err == nil {
			unlock()
		}
		return err == nil
	})
	if n := len(e.stored(t, realUser)); n != 2 {
		t.Errorf("%d messages left after a dropped session, want 2", n)
	}
	select {
	case ch := <-sub.C():
		t.Errorf("unexpected change %+v", ch)
	default:
	}
}

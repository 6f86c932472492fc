package pop3d

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	msgOne  = "From: a@example.com\r\nSubject: one\r\n\r\nHello\r\nworld\r\n"
	msgDots = "Subject: dots\r\n\r\n.leading dot\r\n..two\r\n.\r\nend\r\n"
)

// seedBob gives bob two messages (UIDs 1 and 2).
func seedBob(ts *testServer) *fakeDrop {
	d := ts.store.drop("bob")
	d.add(msgOne)
	d.add(msgDots)
	return d
}

func TestTranscriptSession(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	d := seedBob(ts)
	c := dial(t, ts.addr)
	c.run(greeting + `
		C: user bob
		S: +OK send PASS
		C: pass secret
		S: +OK maildrop locked and ready, 2 messages (97 octets)
		C: STAT
		S: +OK 2 97
		C: LIST
		S: +OK 2 messages (97 octets)
		S: 1 51
		S: 2 46
		S: .
		C: LIST 2
		S: +OK 2 46
		C: UIDL
		S: +OK 2 messages (97 octets)
		S: 1 000004d200000001
		S: 2 000004d200000002
		S: .
		C: UIDL 1
		S: +OK 1 000004d200000001
		C: NOOP
		S: +OK
		C: RETR 1
		S: +OK 51 octets
		S: From: a@example.com
		S: Subject: one
		S: 
		S: Hello
		S: world
		S: .
		C: RETR 2
		S: +OK 46 octets
		S: Subject: dots
		S: 
		S: ..leading dot
		S: ...two
		S: ..
		S: end
		S: .
		C: QUIT
		S: +OK Postel POP3 server signing off (2 messages left)
		S: <EOF>`)
	waitReleased(t, d)
	if len(d.deletes) != 0 {
		t.Errorf("QUIT without DELE deleted %v", d.deletes)
	}
	if got := d.uids(); !slices.Equal(got, []uint32{1, 2}) {
		t.Errorf("maildrop now %v", got)
	}
}

func TestTranscriptDeleQuit(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	d := seedBob(ts)
	c := ts.login(t)
	c.run(`
		C: DELE 1
		S: +OK message 1 deleted
		C: DELE 1
		S: -ERR message 1 already deleted
		C: RETR 1
		S: -ERR message 1 already deleted
		C: LIST 1
		S: -ERR message 1 already deleted
		C: STAT
		S: +OK 1 46
		C: LIST
		S: +OK 1 messages (46 octets)
		S: 2 46
		S: .
		C: UIDL
		S: +OK 1 messages (46 octets)
		S: 2 000004d200000002
		S: .
		C: DELE 3
		S: -ERR no such message
		C: DELE 0
		S: -ERR invalid message number
		C: DELE -1
		S: -ERR invalid message number
		C: QUIT
		S: +OK Postel POP3 server signing off (1 messages left)
		S: <EOF>`)
	waitReleased(t, d)
	if !slices.EqualFunc(d.deletes, [][]uint32{{1}}, slices.Equal) {
		t.Errorf("deletes = %v, want [[1]]", d.deletes)
	}
	if got := d.uids(); !slices.Equal(got, []uint32{2}) {
		t.Errorf("maildrop now %v", got)
	}
}

func TestTranscriptRset(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	d := seedBob(ts)
	c := ts.login(t)
	c.run(`
		C: DELE 1
		S: +OK message 1 deleted
		C: DELE 2
		S: +OK message 2 deleted
		C: STAT
		S: +OK 0 0
		C: RSET
		S: +OK maildrop has 2 messages (97 octets)
		C: STAT
		S: +OK 2 97
		C: RETR 1
		S: +OK 51 octets`)
	c.multi()
	c.run(`
		C: QUIT
		S: +OK Postel POP3 server signing off (2 messages left)`)
	waitReleased(t, d)
	if len(d.deletes) != 0 {
		t.Errorf("RSET then QUIT deleted %v", d.deletes)
	}
}

func TestTranscriptDroppedAfterDele(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	d := seedBob(ts)
	c := ts.login(t)
	c.run(`
		C: DELE 1
		S: +OK message 1 deleted
		C: DELE 2
		S: +OK message 2 deleted`)
	c.c.Close()
	waitReleased(t, d)
	if len(d.deletes) != 0 || len(d.uids()) != 2 {
		t.Errorf("dropped connection deleted %v; maildrop %v", d.deletes, d.uids())
	}
	// The next session sees both messages again.
	c = ts.login(t)
	c.run(`
		C: STAT
		S: +OK 2 97`)
}

func TestTranscriptIdleTimeout(t *testing.T) {
	t.Parallel()
	ts := newTestServerHook(t, nil, func(ts *testServer) {
		ts.srv.idleTimeout = 300 * time.Millisecond // New refuses < 10 minutes
	})
	d := seedBob(ts)
	c := dial(t, ts.addr)
	// One write, so no client think-time runs into the short timer.
	c.run(`
		C: USER bob
		C: PASS secret
		C: DELE 1
		` + greeting + `
		S: +OK send PASS
		S: +OK maildrop locked and ready, 2 messages (97 octets)
		S: +OK message 1 deleted
		S: -ERR disconnected for inactivity
		S: <EOF>`)
	waitReleased(t, d)
	if len(d.deletes) != 0 {
		t.Errorf("timeout deleted %v", d.deletes)
	}
	if !strings.Contains(ts.logs.String(), "idle timeout") {
		t.Error("idle timeout not logged")
	}
}

func TestTranscriptInUse(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	d := seedBob(ts)
	first := ts.login(t)
	second := dial(t, ts.addr)
	second.run(greeting + `
		C: USER bob
		S: +OK send PASS
		C: PASS secret
		S: -ERR [IN-USE] maildrop already locked by another session
		C: STAT
		S: -ERR command not valid in this state`)
	first.run(`
		C: QUIT
		S: +OK Postel POP3 server signing off (2 messages left)`)
	waitReleased(t, d)
	// Still in AUTHORIZATION: the second session may try again.
	second.run(`
		C: AUTH PLAIN AGJvYgBzZWNyZXQ=
		S: +OK maildrop locked and ready, 2 messages (97 octets)`)
}

func TestTranscriptPipelining(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	d := seedBob(ts)
	c := dial(t, ts.addr)
	// All commands in one write (RFC 2449 6.6); answers in order.
	c.run(`
		C: CAPA
		C: USER bob
		C: PASS secret
		C: STAT
		C: LIST
		C: RETR 2
		C: DELE 2
		C: UIDL 1
		C: QUIT
		` + greeting + `
		S: +OK capability list follows
		S: TOP
		S: UIDL
		S: RESP-CODES
		S: AUTH-RESP-CODE
		S: PIPELINING
		S: EXPIRE NEVER
		S: USER
		S: SASL PLAIN
		S: IMPLEMENTATION Postel
		S: .
		S: +OK send PASS
		S: +OK maildrop locked and ready, 2 messages (97 octets)
		S: +OK 2 97
		S: +OK 2 messages (97 octets)
		S: 1 51
		S: 2 46
		S: .
		S: +OK 46 octets
		S: Subject: dots
		S: 
		S: ..leading dot
		S: ...two
		S: ..
		S: end
		S: .
		S: +OK message 2 deleted
		S: +OK 1 000004d200000001
		S: +OK Postel POP3 server signing off (1 messages left)
		S: <EOF>`)
	waitReleased(t, d)
	if got := d.uids(); !slices.Equal(got, []uint32{1}) {
		t.Errorf("maildrop now %v", got)
	}
}

func TestTranscriptTop(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	seedBob(ts)
	c := ts.login(t)
	c.run(`
		C: TOP 1 0
		S: +OK top of message follows
		S: From: a@example.com
		S: Subject: one
		S: 
		S: .
		C: TOP 1 1
		S: +OK top of message follows
		S: From: a@example.com
		S: Subject: one
		S: 
		S: Hello
		S: .
		C: TOP 2 99
		S: +OK top of message follows
		S: Subject: dots
		S: 
		S: ..leading dot
		S: ...two
		S: ..
		S: end
		S: .
		C: TOP 1
		S: -ERR usage: TOP msg lines
		C: TOP 1 -1
		S: -ERR invalid line count
		C: TOP 9 1
		S: -ERR no such message`)
}

func TestTranscriptWrongState(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(o *Options) { o.MaxBadCommands = 100 })
	seedBob(ts)
	c := dial(t, ts.addr)
	c.run(greeting + `
		C: STAT
		S: -ERR command not valid in this state
		C: LIST
		S: -ERR command not valid in this state
		C: RETR 1
		S: -ERR command not valid in this state
		C: DELE 1
		S: -ERR command not valid in this state
		C: NOOP
		S: -ERR command not valid in this state
		C: PASS secret
		S: -ERR USER first
		C: APOP bob 0123456789abcdef0123456789abcdef
		S: -ERR unknown command
		C: USER bob
		S: +OK send PASS
		C: PASS wrong
		S: -ERR [AUTH] invalid user name or password
		C: PASS secret
		S: -ERR USER first
		C: USER bob
		S: +OK send PASS
		C: PASS secret
		S: +OK maildrop locked and ready, 2 messages (97 octets)
		C: USER bob
		S: -ERR command not valid in this state
		C: PASS secret
		S: -ERR command not valid in this state
		C: AUTH PLAIN
		S: -ERR command not valid in this state
		C: STLS
		S: -ERR command not valid in this state
		C: STAT 1
		S: -ERR usage: STAT
		C: LIST 1 2
		S: -ERR usage: LIST [msg]
		C: RETR
		S: -ERR usage: RETR msg
		C: RETR x
		S: -ERR invalid message number
		C: RETR 99999999999
		S: -ERR invalid message number
		C: CAPA
		S: +OK capability list follows
		S: TOP
		S: UIDL
		S: RESP-CODES
		S: AUTH-RESP-CODE
		S: PIPELINING
		S: EXPIRE NEVER
		S: IMPLEMENTATION Postel
		S: .`)
}

func TestTranscriptOverlongLines(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	seedBob(ts)
	c := dial(t, ts.addr)
	// 255 octets with CRLF is the limit (RFC 2449 4).
	ok := "USER " + strings.Repeat("b", 255-len("USER ")-2)
	long := ok + "b"
	c.run(greeting + `
		C: ` + ok + `
		S: +OK send PASS
		C: ` + long + `
		S: -ERR line too long
		C: NOOP ` + strings.Repeat("x", 5000) + `
		S: -ERR line too long
		C: AUTH PLAIN ` + strings.Repeat("A", 1000) + `
		S: -ERR [AUTH] malformed PLAIN response
		C: AUTH PLAIN ` + strings.Repeat("A", 3000) + `
		S: -ERR line too long
		C: USER bob
		S: +OK send PASS
		C: PASS secret
		S: +OK maildrop locked and ready, 2 messages (97 octets)`)
}

func TestTranscriptTooManyBadCommands(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(o *Options) { o.MaxBadCommands = 3 })
	c := dial(t, ts.addr)
	c.run(greeting + `
		C: HELO
		S: -ERR unknown command
		C: STAT
		S: -ERR command not valid in this state
		C: NOOP
		C: CAPA
		S: -ERR command not valid in this state
		S: -ERR too many bad commands, closing connection
		S: <EOF>`)
}

func TestTranscriptMalformed(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	c := dial(t, ts.addr)
	c.run(greeting + `
		C: 
		S: -ERR malformed command
		C: US\ER bob
		S: -ERR malformed command
		C: USER	bob
		S: -ERR malformed command
		C: VERYLONGCOMMAND
		S: -ERR malformed command
		C: ÜSER bob
		S: -ERR malformed command`)
	c.write("USER b\x00ob\r\nUSER bob\nPASS secret\n")
	c.run(`
		S: -ERR malformed command
		S: +OK send PASS
		S~ \+OK maildrop locked and ready.*`)
}

package pop3d

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"postel/internal/testenv"
	"postel/storage"
)

func TestNewValidates(t *testing.T) {
	t.Parallel()
	if _, err := New(Options{}); err == nil {
		t.Error("New without Store and Auth succeeded")
	}
	_, err := New(Options{Store: newFakeStore(), Auth: &fakeAuth{}, IdleTimeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "RFC 1939") {
		t.Errorf("IdleTimeout below 10 minutes: err = %v", err)
	}
	srv, err := New(Options{Store: newFakeStore(), Auth: &fakeAuth{}})
	if err != nil {
		t.Fatal(err)
	}
	if srv.idleTimeout != 10*time.Minute || srv.opts.MaxLineLength != 255 || srv.opts.MaxAuthLineLength != 2048 {
		t.Errorf("defaults: %+v", srv.opts)
	}
	if err := srv.ServeTLS(nil); err == nil {
		t.Error("ServeTLS without TLSConfig succeeded")
	}
}

func TestShutdownEndsIdleSessions(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	d := seedBob(ts)
	c := ts.login(t)
	c.run(`
		C: DELE 1
		S: +OK message 1 deleted`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	c.run(`
		S: -ERR [SYS/TEMP] server shutting down
		S: <EOF>`)
	waitReleased(t, d)
	if len(d.deletes) != 0 {
		t.Errorf("shutdown deleted %v", d.deletes)
	}
	if _, err := net.Dial("tcp", ts.addr); err == nil {
		t.Error("listener still accepting after Shutdown")
	}
}

func TestShutdownDuringAuthContinuation(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	c := dial(t, ts.addr)
	c.run(greeting + `
		C: AUTH PLAIN
		S: + `)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	c.run(`
		S: -ERR [SYS/TEMP] server shutting down
		S: <EOF>`)
}

func TestShutdownWaitsThenCloses(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	var slow *blockingStore
	ts := newTestServerHook(t, nil, func(ts *testServer) {
		ts.auth.users["slow"] = "pw"
		slow = &blockingStore{fakeStore: ts.store, block: block, entered: make(chan struct{})}
		ts.srv.opts.Store = slow
	})
	c := dial(t, ts.addr)
	c.run(greeting + `
		C: USER slow
		S: +OK send PASS
		C: PASS pw`)
	<-slow.entered // the session is now inside a command
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a busy session = %v, want deadline exceeded", err)
	}
	close(block)
	c.run(`S: <EOF>`)
}

// blockingStore blocks Maildrop until block is closed or ctx ends.
type blockingStore struct {
	*fakeStore
	block   chan struct{}
	entered chan struct{}
}

func (b *blockingStore) Maildrop(ctx context.Context, account string) (Maildrop, error) {
	close(b.entered)
	select {
	case <-b.block:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return b.fakeStore.Maildrop(ctx, account)
}

func TestPanicClosesOnlyThatConnection(t *testing.T) {
	t.Parallel()
	ts := newTestServerHook(t, nil, func(ts *testServer) { ts.srv.opts.Store = panicStore{ts.store} })
	seedBob(ts)
	alice := ts.store.drop("alice")
	alice.add(msgOne)
	c := dial(t, ts.addr)
	c.run(greeting + `
		C: USER alice
		S: +OK send PASS
		C: PASS wonder land
		S: +OK maildrop locked and ready, 1 messages (51 octets)
		C: DELE 1
		S: +OK message 1 deleted
		C: RETR 1
		S: -ERR message 1 already deleted
		C: RSET
		S: +OK maildrop has 1 messages (51 octets)
		C: RETR 1
		S: <EOF>`)
	waitReleased(t, alice) // the lock is released even on a panic
	if !strings.Contains(ts.logs.String(), "panic in session") {
		t.Error("panic not logged")
	}
	if len(alice.deletes) != 0 {
		t.Errorf("panic deleted %v", alice.deletes)
	}
	ts.login(t).run(`
		C: STAT
		S: +OK 2 97`)
}

// panicStore gives alice a maildrop whose Open panics.
type panicStore struct{ *fakeStore }

func (p panicStore) Maildrop(ctx context.Context, account string) (Maildrop, error) {
	d, err := p.fakeStore.Maildrop(ctx, account)
	if account == "alice" {
		return panicOpen{d.(*fakeDrop)}, err
	}
	return d, err
}

type panicOpen struct{ *fakeDrop }

func (panicOpen) Open(context.Context, string, uint32) (io.ReadSeekCloser, int64, error) {
	panic("boom")
}

func TestMaxConnsPerIP(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(o *Options) { o.MaxConnsPerIP = 2 })
	a := dial(t, ts.addr)
	a.run(greeting)
	b := dial(t, ts.addr)
	b.run(greeting)
	c := dial(t, ts.addr)
	c.run(`
		S: -ERR [SYS/TEMP] too many connections from your address
		S: <EOF>`)
	a.run(`
		C: QUIT
		S: +OK Postel POP3 server signing off
		S: <EOF>`)
	// The slot frees once the session is forgotten.
	testenv.WaitFor(t, 10*time.Second, "the connection slot to be freed", func() bool {
		return dial(t, ts.addr).line() == greeting[3:]
	})
}

func TestOpenFailsAfterExpungeElsewhere(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	d := seedBob(ts)
	c := ts.login(t)
	// Expunged by another protocol after the snapshot.
	d.Delete(context.Background(), "INBOX", []uint32{1})
	c.run(`
		C: RETR 1
		S: -ERR no such message
		C: LIST
		S: +OK 2 messages (97 octets)
		S: 1 51
		S: 2 46
		S: .`)
}

func TestQuitDeleteFailure(t *testing.T) {
	t.Parallel()
	ts := newTestServerHook(t, nil, func(ts *testServer) { ts.srv.opts.Store = failDeleteStore{ts.store} })
	d := seedBob(ts)
	c := ts.login(t)
	c.run(`
		C: DELE 1
		S: +OK message 1 deleted
		C: QUIT
		S: -ERR [SYS/TEMP] some deleted messages not removed
		S: <EOF>`)
	waitReleased(t, d)
}

type failDeleteStore struct{ *fakeStore }

func (f failDeleteStore) Maildrop(ctx context.Context, account string) (Maildrop, error) {
	d, err := f.fakeStore.Maildrop(ctx, account)
	return failDelete{d.(*fakeDrop)}, err
}

type failDelete struct{ *fakeDrop }

func (failDelete) Delete(context.Context, string, []uint32) error {
	return errors.New("disk full: /secret")
}

var _ Maildrop = (*storage.Account)(nil)

// TestSizesMatchRetr checks RFC 1939's octet count: LIST's size equals the
// octets RETR sends once dot-stuffing and the terminator are removed.
func TestSizesMatchRetr(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	d := ts.store.drop("bob")
	bodies := []string{
		msgOne, msgDots, "",
		"Subject: x\r\n\r\n" + strings.Repeat(".", 100) + "\r\n",
		"Subject: big\r\n\r\n" + strings.Repeat("line of text\r\n.dot\r\n", 5000),
	}
	for _, b := range bodies {
		d.add(b)
	}
	c := ts.login(t)
	for i, b := range bodies {
		n := itoa(i + 1)
		c.run(`
			C: RETR ` + n + `
			S: +OK ` + itoa(len(b)) + ` octets`)
		if got := c.multi(); got != b {
			t.Errorf("RETR %s: %d octets differ from the %d stored", n, len(got), len(b))
		}
	}
}

func TestShutdownWithoutSessionsAndServeAfter(t *testing.T) {
	t.Parallel()
	srv, err := New(Options{Store: newFakeStore(), Auth: &fakeAuth{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(ln); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("listener left open")
	}
}

func TestTraceRedactsUnknownArguments(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, nil)
	c := dial(t, ts.addr)
	c.run(greeting + `
		C: LOGIN bob hunter2
		S: -ERR unknown command
		C: CAPA
		S: +OK capability list follows`)
	if logs := ts.logs.String(); strings.Contains(logs, "hunter2") || !strings.Contains(logs, "LOGIN <redacted>") {
		t.Errorf("trace of an unknown command: %s", logs)
	}
}

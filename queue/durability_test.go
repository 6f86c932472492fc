package queue

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRestartDeliversQueued: messages queued while the remote was down
// survive Close and Open (a server restart) and are delivered afterwards.
func TestRestartDeliversQueued(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	n.mx("a.example", 10, "mx.a.example", "127.0.0.2")
	e := newEnv(t, n, nil)
	id1 := e.enqueue(t, "alice@example.org", []string{"x@a.example", "y@a.example"}, testMessage("alice@example.org", "restart1"))
	id2 := e.enqueue(t, "alice@example.org", []string{"z@a.example"}, testMessage("alice@example.org", "restart2"))
	e.run(t) // remote down: connection refused, retried later
	if l := e.list(t); len(l) != 3 || l[0].Attempts != 1 || !strings.Contains(l[0].LastError, "connect") {
		t.Fatalf("queue before restart: %+v", l)
	}
	if err := e.q.Close(); err != nil {
		t.Fatal(err)
	}

	mx := n.sink(t, "mx.a.example", "127.0.0.2", sinkOpts{})
	e.reopen(t)
	l := e.list(t)
	if len(l) != 3 || l[0].ID != id1 || l[2].ID != id2 {
		t.Fatalf("queue after restart: %+v", l)
	}
	e.clock.Advance(5 * time.Minute)
	e.run(t)
	got := mx.messages()
	if len(got) != 2 || len(got[0].To)+len(got[1].To) != 3 {
		t.Fatalf("after restart sink got %+v", got)
	}
	if l := e.list(t); len(l) != 0 {
		t.Errorf("queue: %+v", l)
	}
}

// TestCrashMidDelivery takes a copy of the queue directory while a delivery
// is in progress (one domain accepted and recorded, the other's DATA still
// waiting for its reply): exactly the disk state kill -9 would leave. A
// queue opened on that copy delivers the rest and never re-sends to the
// recipient that was already accepted.
func TestCrashMidDelivery(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	n.mx("a.example", 10, "mx.a.example", "127.0.0.2")
	n.mx("b.example", 10, "mx.b.example", "127.0.0.3")
	mxa := n.sink(t, "mx.a.example", "127.0.0.2", sinkOpts{})
	mxb := n.sink(t, "mx.b.example", "127.0.0.3", sinkOpts{})
	inData, release := make(chan struct{}), make(chan struct{})
	calls := 0
	mxb.dataFn = func([]byte) error {
		calls++
		if calls == 1 {
			close(inData)
			<-release // the "crashed" server never sees this reply
			return smtpErr(451, [3]int{4, 0, 0}, "too late")
		}
		return nil
	}
	e := newEnv(t, n, nil)
	e.enqueue(t, "alice@example.org", []string{"x@a.example", "y@b.example"}, testMessage("alice@example.org", "crash"))
	done := make(chan error, 1)
	go func() { done <- e.q.RunOnce(context.Background()) }()
	<-inData
	mxa.wait(t, 1)

	// Poll until a.example's result is committed, then that copy is the
	// crash image.
	var crashDir string
	deadline := time.Now().Add(20 * time.Second)
	for {
		crashDir = t.TempDir()
		copyDir(t, e.dir, crashDir)
		o := e.opts
		o.Dir = crashDir
		q2, err := Open(o)
		if err != nil {
			t.Fatal(err)
		}
		l, err := q2.List(context.Background())
		q2.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(l) == 1 && l[0].Recipient == "y@b.example" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("result for a.example never committed: %+v", l)
		}
	}

	// Restart on the crash image.
	o := e.opts
	o.Dir = crashDir
	q2, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	if err := q2.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := mxb.wait(t, 1); len(got) != 1 || got[0].To[0] != "y@b.example" {
		t.Fatalf("b.example got %+v", got)
	}
	if got := mxa.messages(); len(got) != 1 {
		t.Fatalf("a.example got the message %d times, want once", len(got))
	}
	if l, _ := q2.List(context.Background()); len(l) != 0 {
		t.Errorf("restarted queue: %+v", l)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestOrphanFileRemoved: a message file without records (a crash between
// writing the file and the commit, before any client was told 250) is
// deleted on Open; records with their file stay.
func TestOrphanFileRemoved(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	e := newEnv(t, n, nil)
	id := e.enqueue(t, "alice@example.org", []string{"x@a.example"}, testMessage("alice@example.org", "kept"))
	e.q.Close()
	orphan := filepath.Join(e.dir, "msg", "00000000deadbeef")
	if err := os.WriteFile(orphan, []byte("Subject: half\r\n\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.reopen(t)
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphan still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "msg", id)); err != nil {
		t.Errorf("queued message file: %v", err)
	}
}

// TestEnqueueDurableAndSigned: Enqueue stores the signed bytes with CRLF
// line endings, and a second process cannot open the queue meanwhile.
func TestEnqueueDurableAndSigned(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	e := newEnv(t, n, nil)
	id := e.enqueue(t, "alice@example.org", []string{"x@a.example"}, strings.ReplaceAll(testMessage("alice@example.org", "lf"), "\r\n", "\n"))
	data, err := os.ReadFile(filepath.Join(e.dir, "msg", id))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "DKIM-Signature:") || strings.Contains(strings.ReplaceAll(string(data), "\r\n", ""), "\n") {
		t.Errorf("stored message not signed or not CRLF:\n%q", data)
	}
	for _, v := range n.verifyDKIM(t, data) {
		if v.Err != nil {
			t.Errorf("stored signature: %v", v.Err)
		}
	}
	// Not our domain: not signed.
	id2 := e.enqueue(t, "bob@other.example", []string{"x@a.example"}, testMessage("bob@other.example", "unsigned"))
	if data, _ := os.ReadFile(filepath.Join(e.dir, "msg", id2)); strings.Contains(string(data), "DKIM-Signature") {
		t.Error("signed a message from a foreign domain")
	}
	o := e.opts
	if _, err := Open(o); err == nil {
		t.Error("second Open of the same queue succeeded")
	}
	for _, bad := range [][]string{nil, {"no-at-sign"}, {"a@b\r\nRCPT TO:<c@d>"}} {
		if _, err := e.q.Enqueue(context.Background(), "alice@example.org", bad, strings.NewReader("x")); err == nil {
			t.Errorf("Enqueue accepted recipients %q", bad)
		}
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

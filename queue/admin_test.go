package queue

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestAdminListRetryRemove covers what `postel queue list|retry|remove`
// call, on a queue opened directly (no server running).
func TestAdminListRetryRemove(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	n.mx("a.example", 10, "mx.a.example", "127.0.0.2") // down
	e := newEnv(t, n, nil)
	ctx := context.Background()
	id1 := e.enqueue(t, "alice@example.org", []string{"x@a.example", "y@a.example"}, testMessage("alice@example.org", "adm1"))
	id2 := e.enqueue(t, "alice@example.org", []string{"z@a.example"}, testMessage("alice@example.org", "adm2"))
	e.run(t)
	l := e.list(t)
	if len(l) != 3 {
		t.Fatalf("list: %+v", l)
	}
	for _, en := range l {
		if en.Sender != "alice@example.org" || en.Attempts != 1 || en.LastError == "" ||
			!en.NextTry.Equal(e.clock.Now().Add(5*time.Minute)) || en.Status != "queued" {
			t.Errorf("entry %+v", en)
		}
	}
	if err := e.q.Retry(ctx, id1); err != nil {
		t.Fatal(err)
	}
	for _, en := range e.list(t) {
		due := !en.NextTry.After(e.clock.Now())
		if due != (en.ID == id1) {
			t.Errorf("after Retry(%s): %+v", id1, en)
		}
	}
	if err := e.q.RetryAll(ctx); err != nil {
		t.Fatal(err)
	}
	for _, en := range e.list(t) {
		if en.NextTry.After(e.clock.Now()) {
			t.Errorf("after RetryAll: %+v", en)
		}
	}
	if err := e.q.Remove(ctx, id2); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "msg", id2)); !os.IsNotExist(err) {
		t.Errorf("removed message file still there")
	}
	if l := e.list(t); len(l) != 2 || l[0].ID != id1 {
		t.Errorf("after Remove: %+v", l)
	}
	if err := e.q.Remove(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove unknown: %v", err)
	}
	if err := e.q.Retry(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Retry unknown: %v", err)
	}
	// Retried now and the remote is up: delivered.
	mx := n.sink(t, "mx.a.example", "127.0.0.2", sinkOpts{})
	e.run(t)
	if len(mx.messages()) != 1 {
		t.Errorf("retried message not delivered")
	}
	if len(e.local.all()) != 0 {
		t.Error("Remove produced a bounce")
	}
}

package storagetest

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"postel/storage"
)

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

func testDeleteAccount(t *testing.T, open Opener) {
	s := open(t)
	a := account(t, s, "gone@example.com")
	deliver(t, s, msg("x", "y"), inbox(a.Name()))
	must(t, s.DeleteAccount(ctx(t), "gone@example.com"))
	if _, _, err := a.List(ctx(t), "INBOX"); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("List on deleted account: %v, want ErrClosed", err)
	}
	b := account(t, s, "gone@example.com")
	_, ms := list(t, b, "INBOX")
	if len(ms) != 0 {
		t.Errorf("recreated account has %d messages", len(ms))
	}
}

func testClosed(t *testing.T, open Opener) {
	s := open(t)
	a := account(t, s, "bob@example.com")
	sub := a.Subscribe()
	must(t, s.Close())
	must(t, s.Close())
	if _, err := s.Account(ctx(t), "bob@example.com"); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Account after Close: %v", err)
	}
	if _, err := s.BeginDelivery(ctx(t)); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("BeginDelivery after Close: %v", err)
	}
	if _, _, err := a.Append(ctx(t), "INBOX", stringsReader("x"), nil, time.Time{}); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Append after Close: %v", err)
	}
	if _, err := a.StoreFlags(ctx(t), "INBOX", []uint32{1}, storage.FlagsAdd, []string{`\Seen`}); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("StoreFlags after Close: %v", err)
	}
	if _, _, err := a.List(ctx(t), "INBOX"); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("List after Close: %v", err)
	}
	select {
	case _, ok := <-sub.C():
		if ok {
			t.Error("event after Close")
		}
	case <-time.After(10 * time.Second):
		t.Error("subscription not closed with the store")
	}
}

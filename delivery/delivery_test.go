package delivery_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"postel/auth"
	"postel/delivery"
	"postel/delivery/deliverytest"
	"postel/storage"
)

var _ delivery.Auth = (*auth.DB)(nil)
var _ delivery.Tx = (*storage.Delivery)(nil)

func newAgent(t *testing.T) (*delivery.Agent, *deliverytest.Store, *deliverytest.Auth) {
	t.Helper()
	st := deliverytest.NewStore()
	au := deliverytest.NewAuth("example.com")
	au.AddUser("bob@example.com", "pw")
	au.AddUser("carol@example.com", "pw")
	au.AddAlias("team@example.com", "bob@example.com", "carol@example.com")
	a, err := delivery.New(delivery.Options{Store: st, Auth: au, Now: func() time.Time { return time.Unix(0, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	return a, st, au
}

func TestResolve(t *testing.T) {
	t.Parallel()
	a, st, au := newAgent(t)
	au.SetQuota("carol@example.com", 1000)
	st.SetUsage("carol@example.com", 900)
	ctx := context.Background()
	tests := []struct {
		addr string
		size int64
		want string
		err  error
	}{
		{"bob@example.com", 0, "bob@example.com", nil},
		{"Bob+tag@EXAMPLE.com", 0, "bob@example.com", nil},
		{"carol@example.com", 0, "carol@example.com", nil},
		{"carol@example.com", 200, "", delivery.ErrOverQuota},
		{"team@example.com", 200, "", storage.ErrOverQuota},
		{"nobody@example.com", 0, "", auth.ErrNoSuchUser},
		{"x@elsewhere.org", 0, "", auth.ErrNotLocal},
	}
	for _, tt := range tests {
		got, err := a.Resolve(ctx, tt.addr, tt.size)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("Resolve(%q, %d) err = %v, want %v", tt.addr, tt.size, err, tt.err)
			}
			continue
		}
		if err != nil || len(got) != 1 || got[0] != tt.want {
			t.Errorf("Resolve(%q) = %v, %v; want %s", tt.addr, got, err, tt.want)
		}
	}
	st.SetUsage("carol@example.com", 1000)
	if _, err := a.Resolve(ctx, "carol@example.com", 0); !errors.Is(err, delivery.ErrOverQuota) {
		t.Errorf("at quota: err = %v", err)
	}
}

func TestDeliverAddsReturnPathAndDedupes(t *testing.T) {
	t.Parallel()
	a, st, _ := newAgent(t)
	targets := []storage.Target{
		{Account: "bob@example.com", Mailbox: "INBOX"},
		{Account: "carol@example.com", Mailbox: "Junk"},
		{Account: "bob@example.com", Mailbox: "INBOX"},
	}
	msg := "Subject: hi\r\n\r\nbody\r\n"
	if err := a.Deliver(context.Background(), "alice@remote.org", targets, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	bob := st.Messages("bob@example.com", "INBOX")
	if len(bob) != 1 {
		t.Fatalf("bob has %d messages, want 1 (deduplicated)", len(bob))
	}
	if want := "Return-Path: <alice@remote.org>\r\n" + msg; string(bob[0]) != want {
		t.Errorf("stored %q, want %q", bob[0], want)
	}
	if n := len(st.Messages("carol@example.com", "Junk")); n != 1 {
		t.Errorf("carol Junk has %d, want 1", n)
	}
	// Null sender.
	if err := a.Deliver(context.Background(), "", targets[:1], strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	if got := st.Messages("bob@example.com", "INBOX")[1]; !strings.HasPrefix(string(got), "Return-Path: <>\r\n") {
		t.Errorf("null sender stored %q", got)
	}
}

func TestDeliverPartialFailure(t *testing.T) {
	t.Parallel()
	a, st, _ := newAgent(t)
	st.Fail(storage.Target{Account: "carol@example.com", Mailbox: "INBOX"}, storage.ErrOverQuota)
	targets := []storage.Target{
		{Account: "bob@example.com", Mailbox: "INBOX"},
		{Account: "carol@example.com", Mailbox: "INBOX"},
	}
	err := a.Deliver(context.Background(), "a@b.c", targets, strings.NewReader("x\r\n"))
	var pe *delivery.PartialError
	if !errors.As(err, &pe) || pe.Delivered != 1 || len(pe.Failed) != 1 || pe.Failed[0].Account != "carol@example.com" {
		t.Fatalf("err = %v, want PartialError for carol", err)
	}
	if !errors.Is(err, storage.ErrOverQuota) {
		t.Errorf("errors.Is(err, ErrOverQuota) = false")
	}
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestDeliverReadErrorStoresNothing(t *testing.T) {
	t.Parallel()
	a, st, _ := newAgent(t)
	err := a.Deliver(context.Background(), "a@b.c", []storage.Target{{Account: "bob@example.com", Mailbox: "INBOX"}}, failReader{})
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v", err)
	}
	if st.Count() != 0 {
		t.Errorf("store has %d messages after failed write", st.Count())
	}
	st.BeginErr = errors.New("disk on fire")
	if err := a.Deliver(context.Background(), "a@b.c", []storage.Target{{Account: "bob@example.com", Mailbox: "INBOX"}}, strings.NewReader("x")); err == nil {
		t.Error("Deliver with failing BeginDelivery succeeded")
	}
}

func TestDeliverLocal(t *testing.T) {
	t.Parallel()
	a, st, _ := newAgent(t)
	msg := "From: MAILER-DAEMON@example.com\nSubject: bounce\n\nline1\r\nline2\n"
	if err := a.DeliverLocal(context.Background(), "", "team@example.com", strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	want := "Return-Path: <>\r\nFrom: MAILER-DAEMON@example.com\r\nSubject: bounce\r\n\r\nline1\r\nline2\r\n"
	for _, acct := range []string{"bob@example.com", "carol@example.com"} {
		got := st.Messages(acct, "INBOX")
		if len(got) != 1 || string(got[0]) != want {
			t.Errorf("%s got %q, want %q", acct, got, want)
		}
	}
	if err := a.DeliverLocal(context.Background(), "", "x@elsewhere.org", strings.NewReader(msg)); !errors.Is(err, auth.ErrNotLocal) {
		t.Errorf("remote rcpt: err = %v", err)
	}
}

// RFC 5321 4.4: Return-Path is the delivery server's to insert; any that
// came with the message is removed from the header section (not the
// body), so the stored message carries ours alone.
func TestDeliverReplacesReturnPath(t *testing.T) {
	t.Parallel()
	a, st, _ := newAgent(t)
	msg := "Return-Path: <forged@evil.example>\r\n" +
		"Subject: hi\r\n" +
		"return-path:\r\n <folded@evil.example>\r\n" +
		"To: bob@example.com\r\n" +
		"\r\n" +
		"Return-Path: <in the body, kept>\r\n"
	tg := []storage.Target{{Account: "bob@example.com", Mailbox: "INBOX"}}
	if err := a.Deliver(context.Background(), "alice@remote.org", tg, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	want := "Return-Path: <alice@remote.org>\r\n" +
		"Subject: hi\r\n" +
		"To: bob@example.com\r\n" +
		"\r\n" +
		"Return-Path: <in the body, kept>\r\n"
	if got := st.Messages("bob@example.com", "INBOX"); len(got) != 1 || string(got[0]) != want {
		t.Errorf("stored %q, want %q", got, want)
	}
	// Bounces from the queue go through the same path.
	if err := a.DeliverLocal(context.Background(), "", "carol@example.com", strings.NewReader("Return-Path: <x@y>\nSubject: b\n\nbody\n")); err != nil {
		t.Fatal(err)
	}
	if got := st.Messages("carol@example.com", "INBOX"); len(got) != 1 || string(got[0]) != "Return-Path: <>\r\nSubject: b\r\n\r\nbody\r\n" {
		t.Errorf("DeliverLocal stored %q", got)
	}
}

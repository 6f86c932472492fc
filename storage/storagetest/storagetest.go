// Package storagetest is the conformance suite of the mail store: every
// implementation of the storage API must pass Run. It exercises the API
// only, as the front ends do.
package storagetest

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"postel/storage"
)

// Opener returns a fresh, empty store for one test; it registers its own
// cleanup.
type Opener func(t *testing.T) *storage.Store

// Run runs the conformance suite. Subtests run in parallel.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"DefaultMailboxes", testDefaultMailboxes},
		{"SharedAccount", testSharedAccount},
		{"CreateDeleteMailbox", testCreateDelete},
		{"HostileNames", testHostileNames},
		{"RenameHierarchy", testRenameHierarchy},
		{"RenameInbox", testRenameInbox},
		{"Subscriptions", testSubscriptions},
		{"DeliverAndFetch", testDeliverAndFetch},
		{"DeliverMultiTarget", testDeliverMultiTarget},
		{"DeliverAbort", testDeliverAbort},
		{"AppendFlagsDate", testAppend},
		{"OpenPartial", testOpenPartial},
		{"OpenAfterExpunge", testOpenAfterExpunge},
		{"Flags", testFlags},
		{"CopyMove", testCopyMove},
		{"Expunge", testExpunge},
		{"DeletePOP3", testDeletePOP3},
		{"Quota", testQuota},
		{"LockPOP3", testLockPOP3},
		{"Usage", testUsage},
		{"ModSeq", testModSeq},
		{"ConcurrentDeliveries", testConcurrentDeliveries},
		{"ChangeEvents", testChangeEvents},
		{"ConcurrentSessionsEvents", testConcurrentSessionsEvents},
		{"SlowSubscriber", testSlowSubscriber},
		{"Search", testSearch},
		{"SearchBodyEncodings", testSearchBodyEncodings},
		{"BodyStructure", testBodyStructure},
		{"MalformedMIME", testMalformedMIME},
		{"DeleteAccount", testDeleteAccount},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open)
		})
	}
}

// QuotaAccount is an account name for which the Opener's Options.Quota
// must return QuotaBytes (all other accounts: unlimited).
const (
	QuotaAccount = "quota@example.com"
	QuotaBytes   = 10000
)

func ctx(t *testing.T) context.Context { return t.Context() }

func account(t *testing.T, s *storage.Store, name string) *storage.Account {
	t.Helper()
	a, err := s.Account(ctx(t), name)
	if err != nil {
		t.Fatalf("Account(%q): %v", name, err)
	}
	return a
}

// msg builds a small CRLF message.
func msg(subject, body string) string {
	return "From: Alice <alice@example.org>\r\n" +
		"To: bob@example.com\r\n" +
		"Subject: " + subject + "\r\n" +
		"Date: Mon, 02 Jan 2006 15:04:05 -0700\r\n" +
		"Message-ID: <" + strings.ReplaceAll(subject, " ", "-") + "@example.org>\r\n" +
		"\r\n" + body + "\r\n"
}

// deliver delivers one message to targets and fails the test on any error.
func deliver(t *testing.T, s *storage.Store, body string, targets ...storage.Target) []storage.TargetResult {
	t.Helper()
	d, err := s.BeginDelivery(ctx(t))
	if err != nil {
		t.Fatalf("BeginDelivery: %v", err)
	}
	if _, err := io.WriteString(d, body); err != nil {
		t.Fatalf("Write: %v", err)
	}
	res, err := d.Commit(ctx(t), targets, time.Time{})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("Commit target %v: %v", r.Target, r.Err)
		}
	}
	return res
}

func inbox(account string) storage.Target {
	return storage.Target{Account: account, Mailbox: "INBOX"}
}

func uidsOf(ms []storage.MessageMeta) []uint32 {
	out := make([]uint32, len(ms))
	for i, m := range ms {
		out[i] = m.UID
	}
	return out
}

func list(t *testing.T, a *storage.Account, mailbox string) (storage.MailboxInfo, []storage.MessageMeta) {
	t.Helper()
	info, ms, err := a.List(ctx(t), mailbox)
	if err != nil {
		t.Fatalf("List(%s): %v", mailbox, err)
	}
	return info, ms
}

func readAll(t *testing.T, a *storage.Account, mailbox string, uid uint32) string {
	t.Helper()
	r, size, err := a.Open(ctx(t), mailbox, uid)
	if err != nil {
		t.Fatalf("Open(%s, %d): %v", mailbox, uid, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != size {
		t.Fatalf("Open size %d, read %d", size, len(b))
	}
	return string(b)
}

func mailboxNames(t *testing.T, a *storage.Account) []string {
	t.Helper()
	mbs, err := a.Mailboxes(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range mbs {
		out = append(out, m.Name)
	}
	return out
}

func eq[T comparable](t *testing.T, what string, got, want []T) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// waitChange reads the next change or fails after a generous deadline.
func waitChange(t *testing.T, sub *storage.Subscription) storage.Change {
	t.Helper()
	select {
	case c, ok := <-sub.C():
		if !ok {
			t.Fatal("subscription closed")
		}
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no change event within 10s")
	}
	return storage.Change{}
}

func describe(c storage.Change) string {
	return fmt.Sprintf("%d %s %d", c.Kind, c.Mailbox, c.UID)
}

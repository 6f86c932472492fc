package storagetest

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"postel/storage"
)

func testDefaultMailboxes(t *testing.T, open Opener) {
	a := account(t, open(t), "bob@example.com")
	mbs, err := a.Mailboxes(ctx(t))
	must(t, err)
	want := map[string]string{
		"INBOX": "", "Drafts": storage.SpecialDrafts, "Sent": storage.SpecialSent,
		"Trash": storage.SpecialTrash, "Junk": storage.SpecialJunk, "Archive": storage.SpecialArchive,
	}
	if len(mbs) != len(want) {
		t.Fatalf("mailboxes %v, want %v", mbs, want)
	}
	for _, m := range mbs {
		su, ok := want[m.Name]
		if !ok || su != m.SpecialUse {
			t.Errorf("mailbox %q special %q, want present with %q", m.Name, m.SpecialUse, su)
		}
		if m.UIDValidity == 0 || m.UIDNext != 1 || m.Messages != 0 || !m.Subscribed {
			t.Errorf("mailbox %+v: want UIDVALIDITY>0, UIDNEXT 1, empty, subscribed", m)
		}
	}
	if mbs[0].Name != "INBOX" {
		t.Errorf("first mailbox %q, want INBOX", mbs[0].Name)
	}
	// INBOX is case-insensitive.
	st, err := a.Status(ctx(t), "inBox")
	must(t, err)
	if st.Name != "INBOX" {
		t.Errorf("Status(inBox).Name = %q", st.Name)
	}
}

func testSharedAccount(t *testing.T, open Opener) {
	s := open(t)
	var wg sync.WaitGroup
	accts := make([]*storage.Account, 8)
	for i := range accts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := s.Account(ctx(t), "shared@example.com")
			if err != nil {
				t.Error(err)
				return
			}
			accts[i] = a
		}()
	}
	wg.Wait()
	for _, a := range accts {
		if a != accts[0] {
			t.Fatal("Account returned different objects for one name")
		}
	}
	if accts[0].Name() != "shared@example.com" {
		t.Errorf("Name() = %q", accts[0].Name())
	}
}

func testCreateDelete(t *testing.T, open Opener) {
	s := open(t)
	a := account(t, s, "bob@example.com")
	c := ctx(t)
	must(t, a.CreateMailbox(c, "Projects/2026/Q1", ""))
	for _, n := range []string{"Projects", "Projects/2026", "Projects/2026/Q1"} {
		if _, err := a.Status(c, n); err != nil {
			t.Errorf("Status(%s) after create: %v", n, err)
		}
	}
	if err := a.CreateMailbox(c, "Projects/2026", ""); !errors.Is(err, storage.ErrExists) {
		t.Errorf("create existing: %v, want ErrExists", err)
	}
	if err := a.CreateMailbox(c, "inbox", ""); !errors.Is(err, storage.ErrExists) {
		t.Errorf("create inbox: %v, want ErrExists", err)
	}
	must(t, a.CreateMailbox(c, "Everything", storage.SpecialAll))
	st, err := a.Status(c, "Everything")
	must(t, err)
	if st.SpecialUse != storage.SpecialAll {
		t.Errorf("special use %q", st.SpecialUse)
	}
	if err := a.CreateMailbox(c, "Bad", `\Bogus`); err == nil {
		t.Error("create with unknown special-use succeeded")
	}
	if err := a.DeleteMailbox(c, "Projects"); !errors.Is(err, storage.ErrHasChildren) {
		t.Errorf("delete parent: %v, want ErrHasChildren", err)
	}
	if err := a.DeleteMailbox(c, "INBOX"); !errors.Is(err, storage.ErrProtected) {
		t.Errorf("delete INBOX: %v, want ErrProtected", err)
	}
	if err := a.DeleteMailbox(c, "Nope"); !errors.Is(err, storage.ErrNoMailbox) {
		t.Errorf("delete missing: %v, want ErrNoMailbox", err)
	}
	// Deleting a mailbox with messages; recreating gives a new UIDVALIDITY.
	st1, err := a.Status(c, "Projects/2026/Q1")
	must(t, err)
	deliver(t, s, msg("x", "y"), storage.Target{Account: a.Name(), Mailbox: "Projects/2026/Q1"})
	must(t, a.DeleteMailbox(c, "Projects/2026/Q1"))
	must(t, a.DeleteMailbox(c, "Projects/2026"))
	if _, err := a.Status(c, "Projects/2026/Q1"); !errors.Is(err, storage.ErrNoMailbox) {
		t.Errorf("status after delete: %v", err)
	}
	must(t, a.CreateMailbox(c, "Projects/2026/Q1", ""))
	st2, err := a.Status(c, "Projects/2026/Q1")
	must(t, err)
	if st2.UIDValidity == st1.UIDValidity || st2.Messages != 0 {
		t.Errorf("recreated mailbox: UIDVALIDITY %d (old %d), %d messages", st2.UIDValidity, st1.UIDValidity, st2.Messages)
	}
}

func testHostileNames(t *testing.T, open Opener) {
	a := account(t, open(t), "bob@example.com")
	c := ctx(t)
	bad := []string{
		"", "..", ".", "../x", "x/..", "a/../b", "/x", "x/", "a//b", "a\x00b", "a\nb", "a\rb",
		"a\tb", "\x7f", strings.Repeat("x", 2048), strings.Repeat("a/", 600) + "a",
		"x/./y", "\xff\xfe",
	}
	for _, n := range bad {
		if err := a.CreateMailbox(c, n, ""); !errors.Is(err, storage.ErrBadName) {
			t.Errorf("CreateMailbox(%q) = %v, want ErrBadName", trunc(n), err)
		}
		if _, err := a.Status(c, n); !errors.Is(err, storage.ErrBadName) {
			t.Errorf("Status(%q) = %v, want ErrBadName", trunc(n), err)
		}
	}
	// Valid but tricky names are stored and listed exactly.
	good := []string{"a/b", "..x", "x..", "%2E", "a.b", "Ünïcødé", "~root", "C:\\x", "*?<>|", "a b", ".hidden", "sp ace/.dot"}
	for _, n := range good {
		if err := a.CreateMailbox(c, n, ""); err != nil {
			t.Errorf("CreateMailbox(%q): %v", n, err)
			continue
		}
		st, err := a.Status(c, n)
		if err != nil || st.Name != n {
			t.Errorf("Status(%q) = %q, %v", n, st.Name, err)
		}
	}
	names := mailboxNames(t, a)
	for _, n := range good {
		found := false
		for _, m := range names {
			found = found || m == n
		}
		if !found {
			t.Errorf("%q not listed in %q", n, names)
		}
	}
	// NFC: a decomposed name is the same mailbox as the composed one.
	if err := a.CreateMailbox(c, "U\u0308nicode", ""); err != nil {
		t.Fatal(err)
	}
	if err := a.CreateMailbox(c, "\u00dcnicode", ""); !errors.Is(err, storage.ErrExists) {
		t.Errorf("NFC duplicate: %v, want ErrExists", err)
	}
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func testRenameHierarchy(t *testing.T, open Opener) {
	s := open(t)
	a := account(t, s, "bob@example.com")
	c := ctx(t)
	must(t, a.CreateMailbox(c, "Work/Clients/Acme", ""))
	must(t, a.SetSubscribed(c, "Work/Clients", true))
	res := deliver(t, s, msg("acme", "hello"), storage.Target{Account: a.Name(), Mailbox: "Work/Clients/Acme"})
	before, err := a.Status(c, "Work/Clients/Acme")
	must(t, err)

	must(t, a.RenameMailbox(c, "Work", "Old/Work"))
	for _, n := range []string{"Work", "Work/Clients", "Work/Clients/Acme"} {
		if _, err := a.Status(c, n); !errors.Is(err, storage.ErrNoMailbox) {
			t.Errorf("old name %s after rename: %v", n, err)
		}
	}
	after, err := a.Status(c, "Old/Work/Clients/Acme")
	must(t, err)
	if after.UIDValidity != before.UIDValidity || after.Messages != 1 || after.UIDNext != before.UIDNext {
		t.Errorf("renamed child status %+v, before %+v", after, before)
	}
	if got := readAll(t, a, "Old/Work/Clients/Acme", res[0].UID); got != msg("acme", "hello") {
		t.Errorf("message after rename = %q", got)
	}
	st, err := a.Status(c, "Old/Work/Clients")
	must(t, err)
	if !st.Subscribed {
		t.Error("subscription did not follow rename")
	}
	if _, err := a.Status(c, "Old"); err != nil {
		t.Errorf("new parent not created: %v", err)
	}
	// Errors.
	must(t, a.CreateMailbox(c, "Other", ""))
	if err := a.RenameMailbox(c, "Other", "Old/Work"); !errors.Is(err, storage.ErrExists) {
		t.Errorf("rename onto existing: %v", err)
	}
	if err := a.RenameMailbox(c, "Missing", "X"); !errors.Is(err, storage.ErrNoMailbox) {
		t.Errorf("rename missing: %v", err)
	}
	if err := a.RenameMailbox(c, "Other", "Other/Sub"); err == nil {
		t.Error("rename below itself succeeded")
	}
	if err := a.RenameMailbox(c, "Other", "../escape"); !errors.Is(err, storage.ErrBadName) {
		t.Errorf("rename to ../escape: %v", err)
	}
	if err := a.RenameMailbox(c, "Other", "INBOX"); !errors.Is(err, storage.ErrExists) {
		t.Errorf("rename to INBOX: %v", err)
	}
	// Delivery into the renamed mailbox keeps working.
	deliver(t, s, msg("acme2", "again"), storage.Target{Account: a.Name(), Mailbox: "Old/Work/Clients/Acme"})
	_, ms := list(t, a, "Old/Work/Clients/Acme")
	if len(ms) != 2 || ms[1].UID <= ms[0].UID {
		t.Errorf("after rename and delivery: %v", uidsOf(ms))
	}
}

func testRenameInbox(t *testing.T, open Opener) {
	s := open(t)
	a := account(t, s, "bob@example.com")
	c := ctx(t)
	for i := 0; i < 3; i++ {
		deliver(t, s, msg("m", "body"), inbox(a.Name()))
	}
	must(t, a.CreateMailbox(c, "INBOX/Child", ""))
	inBefore, _ := list(t, a, "INBOX")
	must(t, a.RenameMailbox(c, "INBOX", "Saved/Inbox"))
	info, ms := list(t, a, "Saved/Inbox")
	if len(ms) != 3 || info.Messages != 3 {
		t.Fatalf("new mailbox has %d messages", len(ms))
	}
	for _, m := range ms {
		if got := readAll(t, a, "Saved/Inbox", m.UID); got != msg("m", "body") {
			t.Errorf("moved message = %q", got)
		}
	}
	inAfter, inMs := list(t, a, "INBOX")
	if len(inMs) != 0 || inAfter.UIDValidity != inBefore.UIDValidity || inAfter.UIDNext != inBefore.UIDNext {
		t.Errorf("INBOX after rename: %+v with %d messages; before %+v", inAfter, len(inMs), inBefore)
	}
	if _, err := a.Status(c, "INBOX/Child"); err != nil {
		t.Errorf("INBOX children must stay: %v", err)
	}
	// New mail still lands in INBOX with a fresh UID.
	res := deliver(t, s, msg("n", "new"), inbox(a.Name()))
	if res[0].UID < inBefore.UIDNext {
		t.Errorf("UID %d reused (UIDNEXT was %d)", res[0].UID, inBefore.UIDNext)
	}
}

func testSubscriptions(t *testing.T, open Opener) {
	a := account(t, open(t), "bob@example.com")
	c := ctx(t)
	must(t, a.CreateMailbox(c, "News", ""))
	st, _ := a.Status(c, "News")
	if st.Subscribed {
		t.Error("new mailbox subscribed")
	}
	must(t, a.SetSubscribed(c, "News", true))
	st, _ = a.Status(c, "News")
	if !st.Subscribed {
		t.Error("not subscribed after SetSubscribed")
	}
	must(t, a.SetSubscribed(c, "News", false))
	st, _ = a.Status(c, "News")
	if st.Subscribed {
		t.Error("subscribed after unsubscribe")
	}
	if err := a.SetSubscribed(c, "../x", true); !errors.Is(err, storage.ErrBadName) {
		t.Errorf("subscribe bad name: %v", err)
	}
}

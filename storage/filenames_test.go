package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
)

// curFiles lists the file names in the INBOX's cur/.
func curFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, acct, "cur"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// flaggedMessage opens a store in a new directory and appends one message
// to INBOX with flag set.
func flaggedMessage(t *testing.T, subject, flag string) (dir string, s *Store, a *Account, uid uint32) {
	t.Helper()
	dir = t.TempDir()
	s = openTest(t, dir)
	a = testAccount(t, s)
	uid = appendMsg(t, a, "INBOX", "Subject: "+subject+"\r\n\r\nbody\r\n")
	if _, err := a.StoreFlags(t.Context(), "INBOX", []uint32{uid}, FlagsAdd, []string{flag}); err != nil {
		t.Fatal(err)
	}
	a.waitRenames(false)
	return dir, s, a, uid
}

// renameInCur renames an INBOX file behind the store's back, as another
// Maildir tool (or a crash before a flag rename) leaves it.
func renameInCur(t *testing.T, dir, from, to string) {
	t.Helper()
	cur := filepath.Join(dir, acct, "cur")
	if err := os.Rename(filepath.Join(cur, from), filepath.Join(cur, to)); err != nil {
		t.Fatal(err)
	}
}

// TestFlagsInFileNames: a flag change renames the file so that its info
// part shows the standard flags, as other Maildir tools expect; keywords
// and unchanged flags rename nothing, and the message stays readable.
func TestFlagsInFileNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	a := testAccount(t, s)
	const msg = "Subject: x\r\n\r\nbody\r\n"
	uid := appendMsg(t, a, "INBOX", msg)
	base := baseName(curFiles(t, dir)[0])
	for _, step := range []struct {
		op    FlagOp
		flags []string
		want  string
	}{
		{FlagsAdd, []string{`\Seen`, `\Flagged`}, ":2,FS"},
		{FlagsAdd, []string{"$Label1"}, ":2,FS"},
		{FlagsRemove, []string{`\Seen`}, ":2,F"},
		{FlagsReplace, []string{`\Answered`, `\Draft`, `\Deleted`, `\Seen`}, ":2,DRST"},
		{FlagsReplace, nil, ":2,"},
	} {
		if _, err := a.StoreFlags(t.Context(), "INBOX", []uint32{uid}, step.op, step.flags); err != nil {
			t.Fatal(err)
		}
		a.waitRenames(false)
		if got := curFiles(t, dir); len(got) != 1 || got[0] != base+step.want {
			t.Fatalf("after %v %v: cur/ holds %q, want %q", step.op, step.flags, got, base+step.want)
		}
		if got := indexedFile(t, a, "INBOX", uid); got != base+step.want {
			t.Fatalf("index names %q, want %q", got, base+step.want)
		}
		if got := body(t, a, "INBOX", uid); got != msg {
			t.Fatalf("body %q", got)
		}
	}
}

// TestStaleFileNameAfterCrash: a crash between the index commit and the
// rename leaves the old name on disk. The message keeps its UID and the
// index's flags, stays readable, and the next change renames it.
func TestStaleFileNameAfterCrash(t *testing.T) {
	t.Parallel()
	dir, s, _, uid := flaggedMessage(t, "x", `\Seen`)
	seen := curFiles(t, dir)[0]
	// Undo the rename, as if the process had died before it.
	renameInCur(t, dir, seen, baseName(seen)+":2,")
	s.Close()
	a := testAccount(t, openTest(t, dir))
	_, ms, err := a.List(t.Context(), "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].UID != uid || len(ms[0].Flags) != 1 || ms[0].Flags[0] != `\Seen` {
		t.Fatalf("after reopen: %+v", ms)
	}
	if _, err := a.StoreFlags(t.Context(), "INBOX", []uint32{uid}, FlagsAdd, []string{`\Flagged`}); err != nil {
		t.Fatal(err)
	}
	a.waitRenames(false)
	if got := curFiles(t, dir); len(got) != 1 || got[0] != baseName(seen)+":2,FS" {
		t.Fatalf("cur/ holds %q", got)
	}
}

// TestExpungeFindsRenamedFile: an expunge that recorded a name the file no
// longer has (a flag rename or another Maildir tool got there between its
// commit and its unlink) still removes the file; otherwise the next
// recovery would adopt it and the expunged message would come back.
func TestExpungeFindsRenamedFile(t *testing.T) {
	t.Parallel()
	dir, s, a, _ := flaggedMessage(t, "x", `\Deleted`)
	name := curFiles(t, dir)[0]
	cur := filepath.Join(dir, acct, "cur")
	if err := unlinkMessageFile(filepath.Join(cur, baseName(name)+":2,ST")); err != nil {
		t.Fatal(err)
	}
	if got := curFiles(t, dir); len(got) != 0 {
		t.Fatalf("cur/ still holds %q", got)
	}
	// And through Expunge, with the file renamed behind the index.
	uid := appendMsg(t, a, "INBOX", "Subject: y\r\n\r\nbody\r\n")
	if _, err := a.StoreFlags(t.Context(), "INBOX", []uint32{uid}, FlagsAdd, []string{`\Deleted`}); err != nil {
		t.Fatal(err)
	}
	a.waitRenames(false)
	name = curFiles(t, dir)[0]
	renameInCur(t, dir, name, baseName(name)+":2,ST")
	// Both messages go: the first one's file is already gone.
	if got, err := a.Expunge(t.Context(), "INBOX", nil); err != nil || len(got) != 2 {
		t.Fatalf("expunged %v, %v", got, err)
	}
	if got := curFiles(t, dir); len(got) != 0 {
		t.Fatalf("cur/ still holds %q after the expunge", got)
	}
	s.Close()
	a = testAccount(t, openTest(t, dir))
	if _, uids := listUIDs(t, a, "INBOX"); len(uids) != 0 {
		t.Fatalf("expunged messages came back: %v", uids)
	}
}

// TestRenameInboxFindsStaleName: RENAME INBOX moves every message, also
// one whose file name lags behind the index.
func TestRenameInboxFindsStaleName(t *testing.T) {
	t.Parallel()
	dir, _, a, _ := flaggedMessage(t, "x", `\Seen`)
	name := curFiles(t, dir)[0]
	renameInCur(t, dir, name, baseName(name)+":2,")
	if err := a.RenameMailbox(t.Context(), "INBOX", "Old"); err != nil {
		t.Fatal(err)
	}
	if _, uids := listUIDs(t, a, "Old"); len(uids) != 1 {
		t.Fatalf("Old holds %v", uids)
	}
	if _, uids := listUIDs(t, a, "INBOX"); len(uids) != 0 {
		t.Fatalf("INBOX still holds %v", uids)
	}
	if got := body(t, a, "Old", 1); got != "Subject: x\r\n\r\nbody\r\n" {
		t.Fatalf("moved message reads %q", got)
	}
}

// TestFlagRenamesUnderConcurrency: sessions changing flags on the same
// messages at once, while others copy, move and expunge them, leave every
// indexed message with exactly one file, named as the index says once the
// last change is done, and no file the index does not know: a reopen
// (recovery) brings back no expunged message and loses none.
func TestFlagRenamesUnderConcurrency(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	a := testAccount(t, s)
	ctx := t.Context()
	if err := a.CreateMailbox(ctx, "Kept", ""); err != nil {
		t.Fatal(err)
	}
	var uids []uint32
	for i := range 40 {
		uids = append(uids, appendMsg(t, a, "INBOX", fmt.Sprintf("Subject: %d\r\n\r\nbody %d\r\n", i, i)))
	}
	flags := []string{`\Seen`, `\Flagged`, `\Answered`, `\Draft`}
	// The flag workers race with the copies, the moves and each other;
	// not with the expunges, whose \Deleted a FlagsReplace would undo.
	racing := append(append([]uint32(nil), uids[:20]...), uids[30:]...)
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := range 60 {
				set := []uint32{racing[(w*7+i)%len(racing)], racing[(w*11+i*3)%len(racing)]}
				op := []FlagOp{FlagsAdd, FlagsRemove, FlagsReplace}[(w+i)%3]
				if _, err := a.StoreFlags(ctx, "INBOX", set, op, flags[(w+i)%4:(w+i)%4+1]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := 0; i < 10; i++ {
			if _, _, _, err := a.Copy(ctx, "INBOX", []uint32{uids[i]}, "Kept"); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Go(func() {
		for i := 10; i < 20; i++ {
			if _, _, _, err := a.Move(ctx, "INBOX", []uint32{uids[i]}, "Kept"); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Go(func() {
		for i := 20; i < 30; i++ {
			if _, err := a.StoreFlags(ctx, "INBOX", []uint32{uids[i]}, FlagsAdd, []string{`\Deleted`}); err != nil {
				t.Error(err)
			}
			if _, err := a.Expunge(ctx, "INBOX", []uint32{uids[i]}); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	a.waitRenames(false)
	if t.Failed() {
		return
	}
	check := func(a *Account) map[string][]uint32 {
		t.Helper()
		out := map[string][]uint32{}
		for _, mbox := range []string{"INBOX", "Kept"} {
			_, ms, err := a.List(ctx, mbox)
			if err != nil {
				t.Fatal(err)
			}
			files := map[string]bool{}
			ents, err := os.ReadDir(filepath.Join(a.mboxDir(mbox), "cur"))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				files[e.Name()] = true
			}
			for _, m := range ms {
				want := indexedFile(t, a, mbox, m.UID)
				if !files[want] {
					t.Errorf("%s UID %d: no file %s (have %v)", mbox, m.UID, want, files)
				}
				delete(files, want)
				out[mbox] = append(out[mbox], m.UID)
			}
			if len(files) != 0 {
				t.Errorf("%s: files the index does not know: %v", mbox, files)
			}
		}
		return out
	}
	before := check(a)
	if len(before["INBOX"]) != 20 || len(before["Kept"]) != 20 {
		t.Fatalf("INBOX %d, Kept %d messages; want 20 and 20", len(before["INBOX"]), len(before["Kept"]))
	}
	s.Close()
	a = testAccount(t, openTest(t, dir))
	if after := check(a); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("after reopen %v, before %v", after, before)
	}
}

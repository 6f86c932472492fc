package storage

import (
	"os"
	"path/filepath"
	"sort"
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
	dir := t.TempDir()
	s := openTest(t, dir)
	a := testAccount(t, s)
	uid := appendMsg(t, a, "INBOX", "Subject: x\r\n\r\nbody\r\n")
	old := curFiles(t, dir)[0]
	if _, err := a.StoreFlags(t.Context(), "INBOX", []uint32{uid}, FlagsAdd, []string{`\Seen`}); err != nil {
		t.Fatal(err)
	}
	// Undo the rename, as if the process had died before it.
	cur := filepath.Join(dir, acct, "cur")
	if err := os.Rename(filepath.Join(cur, baseName(old)+":2,S"), filepath.Join(cur, old)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	a = testAccount(t, openTest(t, dir))
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
	if got := curFiles(t, dir); len(got) != 1 || got[0] != baseName(old)+":2,FS" {
		t.Fatalf("cur/ holds %q", got)
	}
}

// TestExpungeFindsRenamedFile: an expunge that recorded a name the file no
// longer has (a flag rename or another Maildir tool got there between its
// commit and its unlink) still removes the file; otherwise the next
// recovery would adopt it and the expunged message would come back.
func TestExpungeFindsRenamedFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	a := testAccount(t, s)
	uid := appendMsg(t, a, "INBOX", "Subject: x\r\n\r\nbody\r\n")
	if _, err := a.StoreFlags(t.Context(), "INBOX", []uint32{uid}, FlagsAdd, []string{`\Deleted`}); err != nil {
		t.Fatal(err)
	}
	name := curFiles(t, dir)[0]
	cur := filepath.Join(dir, acct, "cur")
	if err := unlinkMessageFile(filepath.Join(cur, baseName(name)+":2,ST")); err != nil {
		t.Fatal(err)
	}
	if got := curFiles(t, dir); len(got) != 0 {
		t.Fatalf("cur/ still holds %q", got)
	}
	// And through Expunge, with the file renamed behind the index.
	uid = appendMsg(t, a, "INBOX", "Subject: y\r\n\r\nbody\r\n")
	if _, err := a.StoreFlags(t.Context(), "INBOX", []uint32{uid}, FlagsAdd, []string{`\Deleted`}); err != nil {
		t.Fatal(err)
	}
	name = curFiles(t, dir)[0]
	if err := os.Rename(filepath.Join(cur, name), filepath.Join(cur, baseName(name)+":2,ST")); err != nil {
		t.Fatal(err)
	}
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
	dir := t.TempDir()
	s := openTest(t, dir)
	a := testAccount(t, s)
	uid := appendMsg(t, a, "INBOX", "Subject: x\r\n\r\nbody\r\n")
	if _, err := a.StoreFlags(t.Context(), "INBOX", []uint32{uid}, FlagsAdd, []string{`\Seen`}); err != nil {
		t.Fatal(err)
	}
	name := curFiles(t, dir)[0]
	cur := filepath.Join(dir, acct, "cur")
	if err := os.Rename(filepath.Join(cur, name), filepath.Join(cur, baseName(name)+":2,")); err != nil {
		t.Fatal(err)
	}
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

package storage

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

const acct = "bob@example.com"

func openTest(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testAccount(t *testing.T, s *Store) *Account {
	t.Helper()
	a, err := s.Account(t.Context(), acct)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func appendMsg(t *testing.T, a *Account, mailbox, body string) uint32 {
	t.Helper()
	_, uid, err := a.Append(t.Context(), mailbox, strings.NewReader(body), nil, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return uid
}

func listUIDs(t *testing.T, a *Account, mailbox string) (MailboxInfo, []uint32) {
	t.Helper()
	info, ms, err := a.List(t.Context(), mailbox)
	if err != nil {
		t.Fatal(err)
	}
	var uids []uint32
	for _, m := range ms {
		uids = append(uids, m.UID)
	}
	return info, uids
}

func body(t *testing.T, a *Account, mailbox string, uid uint32) string {
	t.Helper()
	r, _, err := a.Open(t.Context(), mailbox, uid)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, _ := io.ReadAll(r)
	return string(b)
}

// indexedFile is the file name the index records for uid in mailbox.
func indexedFile(t *testing.T, a *Account, mailbox string, uid uint32) string {
	t.Helper()
	var file string
	err := a.view(func(tx *bbolt.Bucket) error {
		m, err := loadMbox(tx, mailbox)
		if err != nil {
			return err
		}
		r, err := m.get(uid, true)
		if err != nil {
			return err
		}
		if r == nil {
			return fmt.Errorf("no UID %d in %s", uid, mailbox)
		}
		file = r.file
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return file
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRecoverFileFromOutside(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	a := testAccount(t, s)
	appendMsg(t, a, "INBOX", "Subject: one\r\n\r\n1\r\n")
	appendMsg(t, a, "INBOX", "Subject: two\r\n\r\n2\r\n")
	info0, _ := listUIDs(t, a, "INBOX")
	s.Close()

	ad := filepath.Join(dir, acct)
	writeFile(t, filepath.Join(ad, "new", "1700000000.outside.host"), "Subject: outside\r\n\r\nhello\r\n")
	writeFile(t, filepath.Join(ad, "cur", "1700000001.seen.host:2,SF"), "Subject: seen\r\n\r\nx\r\n")
	writeFile(t, filepath.Join(ad, ".Sent", "new", "1700000002.sent.host"), "Subject: sent\r\n\r\ns\r\n")
	writeFile(t, filepath.Join(ad, "new", ".hidden"), "not mail")

	s2 := openTest(t, dir)
	a2 := testAccount(t, s2)
	info, uids := listUIDs(t, a2, "INBOX")
	if len(uids) != 4 || uids[2] != 3 || uids[3] != 4 {
		t.Fatalf("INBOX UIDs %v", uids)
	}
	if info.UIDValidity != info0.UIDValidity || info.HighestModSeq <= info0.HighestModSeq {
		t.Errorf("status %+v, before %+v", info, info0)
	}
	if got := body(t, a2, "INBOX", 4); got != "Subject: outside\r\n\r\nhello\r\n" {
		t.Errorf("outside message body %q", got)
	}
	ms, err := a2.Fetch(t.Context(), "INBOX", []uint32{3, 4})
	if err != nil || len(ms) != 2 {
		t.Fatal(err)
	}
	if ms[0].Envelope.Subject != "seen" || strings.Join(ms[0].Flags, " ") != `\Flagged \Seen` {
		t.Errorf("cur/ file: %+v %v", ms[0].Envelope, ms[0].Flags)
	}
	if ents, _ := os.ReadDir(filepath.Join(ad, "new")); len(ents) != 1 {
		t.Errorf("new/ not emptied: %v", ents)
	}
	_, sent := listUIDs(t, a2, "Sent")
	if len(sent) != 1 {
		t.Errorf("Sent UIDs %v", sent)
	}
	// Nothing changes on the next open: files are matched, not re-added.
	s2.Close()
	a3 := testAccount(t, openTest(t, dir))
	if _, again := listUIDs(t, a3, "INBOX"); len(again) != 4 {
		t.Errorf("second open: %v", again)
	}
}

func TestRecoverVanishedFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	a := testAccount(t, s)
	for i := 0; i < 3; i++ {
		appendMsg(t, a, "INBOX", "Subject: m\r\n\r\nx\r\n")
	}
	info0, _ := listUIDs(t, a, "INBOX")
	file := indexedFile(t, a, Inbox, 2)
	s.Close()
	if err := os.Remove(filepath.Join(dir, acct, "cur", file)); err != nil {
		t.Fatal(err)
	}
	a2 := testAccount(t, openTest(t, dir))
	info, uids := listUIDs(t, a2, "INBOX")
	if len(uids) != 2 || uids[0] != 1 || uids[1] != 3 {
		t.Fatalf("UIDs %v", uids)
	}
	if info.HighestModSeq <= info0.HighestModSeq || info.UIDNext != 4 || info.Messages != 2 {
		t.Errorf("status %+v (before %+v)", info, info0)
	}
	if uid := appendMsg(t, a2, "INBOX", "x"); uid != 4 {
		t.Errorf("next UID %d", uid)
	}
}

func TestRecoverTmpAndCrashLeftovers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	a := testAccount(t, s)
	appendMsg(t, a, "INBOX", "Subject: kept\r\n\r\nk\r\n")
	gonePath := filepath.Join(dir, acct, "cur", "1700000100.expunged.host:2,")
	// An expunge committed to the index whose unlink a crash prevented.
	if err := a.update(func(tx *bbolt.Bucket) error {
		return tx.Bucket(bktGone).Put([]byte("cur/"+filepath.Base(gonePath)), present)
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	writeFile(t, gonePath, "Subject: expunged\r\n\r\n")
	tmpFile := filepath.Join(dir, acct, "tmp", "1700000000.partial.host")
	writeFile(t, tmpFile, "half a mess")
	storeTmp := filepath.Join(dir, ".tmp", "1700000000.body.host")
	writeFile(t, storeTmp, "uncommitted delivery")
	// A delivery linked into cur/ whose commit a crash prevented: it
	// appears exactly once.
	linked := filepath.Join(dir, acct, "cur", "1700000200.M1P1Q1Rx.host:2,")
	writeFile(t, linked, "Subject: linked\r\n\r\nl\r\n")

	s2 := openTest(t, dir)
	a2 := testAccount(t, s2)
	for _, p := range []string{tmpFile, storeTmp, gonePath} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there (%v)", p, err)
		}
	}
	_, uids := listUIDs(t, a2, "INBOX")
	if len(uids) != 2 {
		t.Fatalf("UIDs %v", uids)
	}
	if got := body(t, a2, "INBOX", uids[1]); got != "Subject: linked\r\n\r\nl\r\n" {
		t.Errorf("linked message %q", got)
	}
	var gone int
	_ = a2.view(func(tx *bbolt.Bucket) error { gone = tx.Bucket(bktGone).Stats().KeyN; return nil })
	if gone != 0 {
		t.Errorf("%d gone entries left", gone)
	}
}

func TestRecoverRenameJournal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	a := testAccount(t, s)
	ctx := context.Background()
	if err := a.CreateMailbox(ctx, "A/Sub", ""); err != nil {
		t.Fatal(err)
	}
	uid := appendMsg(t, a, "A/Sub", "Subject: in sub\r\n\r\n")
	if err := a.RenameMailbox(ctx, "A", "B"); err != nil {
		t.Fatal(err)
	}
	// Simulate a crash after the index commit, before the directory
	// renames: put the directories back and re-add the journal.
	if err := a.update(func(tx *bbolt.Bucket) error {
		j := tx.Bucket(bktRenames)
		if err := j.Put([]byte(".A"), []byte(".B")); err != nil {
			return err
		}
		return j.Put([]byte(".A.Sub"), []byte(".B.Sub"))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	ad := filepath.Join(dir, acct)
	for _, p := range [][2]string{{".B", ".A"}, {".B.Sub", ".A.Sub"}} {
		if err := os.Rename(filepath.Join(ad, p[0]), filepath.Join(ad, p[1])); err != nil {
			t.Fatal(err)
		}
	}
	a2 := testAccount(t, openTest(t, dir))
	if got := body(t, a2, "B/Sub", uid); got != "Subject: in sub\r\n\r\n" {
		t.Errorf("after journal replay: %q", got)
	}
	if _, err := os.Stat(filepath.Join(ad, ".A.Sub")); !os.IsNotExist(err) {
		t.Errorf("old directory still there: %v", err)
	}
}

func TestOutsideFlagRename(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	a := testAccount(t, s)
	uid := appendMsg(t, a, "INBOX", "Subject: x\r\n\r\nbody\r\n")
	cur := filepath.Join(dir, acct, "cur")
	ents, _ := os.ReadDir(cur)
	if len(ents) != 1 {
		t.Fatalf("cur has %d files", len(ents))
	}
	old := ents[0].Name()
	// A Maildir client marks it seen by renaming it.
	if err := os.Rename(filepath.Join(cur, old), filepath.Join(cur, baseName(old)+":2,S")); err != nil {
		t.Fatal(err)
	}
	if got := body(t, a, "INBOX", uid); got != "Subject: x\r\n\r\nbody\r\n" {
		t.Errorf("open after outside rename: %q", got)
	}
	s.Close()
	a2 := testAccount(t, openTest(t, dir))
	if _, uids := listUIDs(t, a2, "INBOX"); len(uids) != 1 || uids[0] != uid {
		t.Errorf("after reopen: %v", uids)
	}
}

// TestCleanCloseStamp: after a clean close the cur/ scan is skipped only
// while cur/ is unchanged; any outside change forces the scan, and a
// crash (no stamps) always scans.
func TestCleanCloseStamp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cur := filepath.Join(dir, acct, "cur")
	old := time.Now().Add(-time.Hour)
	s := openTest(t, dir)
	a := testAccount(t, s)
	appendMsg(t, a, "INBOX", "Subject: 1\r\n\r\n")
	appendMsg(t, a, "INBOX", "Subject: 2\r\n\r\n")
	if err := os.Chtimes(cur, old, old); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// A file slipped in with the mtime put back is not seen: the scan
	// was skipped (white-box check that the stamp is used).
	sneaky := filepath.Join(cur, "1700000000.sneaky.host:2,")
	writeFile(t, sneaky, "Subject: sneaky\r\n\r\n")
	if err := os.Chtimes(cur, old, old); err != nil {
		t.Fatal(err)
	}
	s2 := openTest(t, dir)
	if _, uids := listUIDs(t, testAccount(t, s2), "INBOX"); len(uids) != 2 {
		t.Fatalf("stamp not used: %v", uids)
	}
	// Simulated crash: no clean close, so no stamp; the next open scans.
	s2.commit.close()
	if err := s2.db.Close(); err != nil {
		t.Fatal(err)
	}
	a3 := testAccount(t, openTest(t, dir))
	if _, uids := listUIDs(t, a3, "INBOX"); len(uids) != 3 {
		t.Fatalf("after crash: %v", uids)
	}
	// A removal from outside after a clean close changes the mtime.
	if err := os.Chtimes(cur, old, old); err != nil {
		t.Fatal(err)
	}
	a3.store.Close()
	if err := os.Remove(sneaky); err != nil {
		t.Fatal(err)
	}
	a4 := testAccount(t, openTest(t, dir))
	if _, uids := listUIDs(t, a4, "INBOX"); len(uids) != 2 {
		t.Fatalf("outside removal after clean close: %v", uids)
	}
}

// TestRecoverOutsideMailbox: a Maildir++ folder made by another tool
// becomes a mailbox (with its parent) and its mail is indexed; a
// directory that is not a valid encoding is ignored.
func TestRecoverOutsideMailbox(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	testAccount(t, s)
	s.Close()
	ad := filepath.Join(dir, acct)
	for _, d := range []string{".Lists.go", ".bad%zz"} {
		if err := makeMaildir(filepath.Join(ad, d)); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(ad, ".Lists.go", "new", "1700000000.list.host"), "Subject: golang-nuts\r\n\r\nhi\r\n")
	a := testAccount(t, openTest(t, dir))
	for _, n := range []string{"Lists", "Lists/go"} {
		if _, err := a.Status(context.Background(), n); err != nil {
			t.Errorf("Status(%s): %v", n, err)
		}
	}
	if _, uids := listUIDs(t, a, "Lists/go"); len(uids) != 1 {
		t.Errorf("Lists/go UIDs %v", uids)
	}
	mbs, _ := a.Mailboxes(context.Background())
	if len(mbs) != 8 {
		t.Errorf("%d mailboxes, want 6 defaults + 2 adopted", len(mbs))
	}
	checkConsistency(t, a)
}

// TestRecoverInChunks: many files from outside are indexed a chunk at a
// time (here 3 per transaction): all of them, in name order, with the
// vanished file expunged in the first chunk and the counters right.
func TestRecoverInChunks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	a := testAccount(t, s)
	appendMsg(t, a, "INBOX", "Subject: kept\r\n\r\n1\r\n")
	gone := appendMsg(t, a, "INBOX", "Subject: gone\r\n\r\n2\r\n")
	file := indexedFile(t, a, Inbox, gone)
	s.Close()
	ad := filepath.Join(dir, acct)
	if err := os.Remove(filepath.Join(ad, "cur", file)); err != nil {
		t.Fatal(err)
	}
	const n = 8
	for i := range n {
		writeFile(t, filepath.Join(ad, "new", fmt.Sprintf("17000000%02d.outside.host", i)), fmt.Sprintf("Subject: outside %d\r\n\r\nx\r\n", i))
	}

	s2, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	s2.adoptChunk = 3
	a2 := testAccount(t, s2)
	info, uids := listUIDs(t, a2, "INBOX")
	if len(uids) != n+1 || uids[0] != 1 || uids[1] != gone+1 || uids[n] != gone+n || info.Messages != n+1 {
		t.Fatalf("UIDs %v, status %+v", uids, info)
	}
	ms, err := a2.Fetch(t.Context(), "INBOX", uids[1:])
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if want := fmt.Sprintf("outside %d", i); m.Envelope.Subject != want {
			t.Errorf("UID %d: subject %q, want %q", m.UID, m.Envelope.Subject, want)
		}
	}
	checkConsistency(t, a2)
}

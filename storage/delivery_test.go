package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// TestDeliveryLeavesNothingBehind: Abort and Commit (even one whose every
// target fails) leave no file in the store's .tmp nor in any Maildir.
func TestDeliveryLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	a := testAccount(t, s)
	ctx := context.Background()
	count := func() int {
		n := 0
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && d.Name() != indexFile {
				n++
			}
			return nil
		})
		return n
	}
	d, err := s.BeginDelivery(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(d, "Subject: x\r\n\r\nbody\r\n")
	if err := d.Abort(); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Errorf("%d files after Abort", n)
	}
	d, _ = s.BeginDelivery(ctx)
	_, _ = io.WriteString(d, "Subject: x\r\n\r\nbody\r\n")
	res, err := d.Commit(ctx, []Target{{Account: acct, Mailbox: "Nope"}, {Account: "bad/name", Mailbox: "INBOX"}}, time.Time{})
	if err != nil || !errors.Is(res[0].Err, ErrNoMailbox) || res[1].Err == nil {
		t.Fatalf("Commit: %v %+v", err, res)
	}
	if n := count(); n != 0 {
		t.Errorf("%d files after a failed Commit", n)
	}
	d, _ = s.BeginDelivery(ctx)
	_, _ = io.WriteString(d, "Subject: x\r\n\r\nbody\r\n")
	if _, err := d.Commit(ctx, []Target{{Account: acct, Mailbox: "INBOX"}, {Account: acct, Mailbox: "Junk"}}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Errorf("%d files after a Commit to two mailboxes, want 2 (no .tmp leftover)", n)
	}
	// The two targets share one inode: the body was written once.
	var inodes []os.FileInfo
	for _, mb := range []string{"", ".Junk"} {
		ents, _ := os.ReadDir(filepath.Join(dir, acct, mb, "cur"))
		for _, e := range ents {
			fi, _ := e.Info()
			inodes = append(inodes, fi)
		}
	}
	if len(inodes) != 2 || !os.SameFile(inodes[0], inodes[1]) {
		t.Errorf("targets are not hard links of one file")
	}
	if _, _, err := a.Append(ctx, "Missing", strings.NewReader("x"), nil, time.Time{}); !errors.Is(err, ErrNoMailbox) {
		t.Errorf("Append: %v", err)
	}
	if n := count(); n != 2 {
		t.Errorf("%d files after a failed Append", n)
	}
}

// TestFetchWithoutCache: a message whose cached envelope is missing (an
// index from an older version, say) is parsed from its file on Fetch.
func TestFetchWithoutCache(t *testing.T) {
	t.Parallel()
	a := testAccount(t, openTest(t, t.TempDir()))
	uid := appendMsg(t, a, "INBOX", "Subject: no cache\r\nFrom: x@example.org\r\n\r\nbody\r\n")
	if err := a.update(func(tx *bbolt.Bucket) error {
		m, err := loadMbox(tx, Inbox)
		if err != nil {
			return err
		}
		return m.cache.Delete(uidKey(uid))
	}); err != nil {
		t.Fatal(err)
	}
	ms, err := a.Fetch(context.Background(), "INBOX", []uint32{uid})
	if err != nil || len(ms) != 1 || ms[0].Envelope == nil || ms[0].Envelope.Subject != "no cache" || ms[0].Structure == nil {
		t.Fatalf("Fetch: %v %+v", err, ms)
	}
}

// TestDeliveryBodySizes: a body kept in memory (small) and one that
// spills to the file while it is written (over memBodyMax), each written
// in many small pieces, are stored byte for byte, with the right size.
func TestDeliveryBodySizes(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	a := testAccount(t, s)
	for _, n := range []int{30, memBodyMax, memBodyMax + 1, 3*memBodyMax + 12345} {
		var b strings.Builder
		fmt.Fprintf(&b, "Subject: size %d\r\n\r\n", n)
		for b.Len() < n {
			b.WriteString("0123456789abcdefghijklmnopqrstuvwxyz\r\n")
		}
		msg := b.String()[:n]
		d, err := s.BeginDelivery(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for p := msg; len(p) > 0; {
			k := min(len(p), 1000)
			if _, err := d.Write([]byte(p[:k])); err != nil {
				t.Fatal(err)
			}
			p = p[k:]
		}
		res, err := d.Commit(t.Context(), []Target{{Account: acct}}, time.Time{})
		if err != nil || res[0].Err != nil {
			t.Fatalf("size %d: %v %v", n, err, res)
		}
		if got := body(t, a, Inbox, res[0].UID); got != msg {
			t.Fatalf("size %d: stored %d bytes, differ from the %d written", n, len(got), len(msg))
		}
		ms, err := a.Fetch(t.Context(), Inbox, []uint32{res[0].UID})
		if err != nil || len(ms) != 1 || ms[0].Size != int64(len(msg)) {
			t.Fatalf("size %d: Fetch = %v, %v", n, ms, err)
		}
	}
}

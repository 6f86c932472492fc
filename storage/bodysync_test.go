package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// deliverConcurrently delivers n messages from writers goroutines, each
// to INBOX of every account, and returns the per-message results.
func deliverConcurrently(t *testing.T, s *Store, writers, n int, accounts ...string) [][]TargetResult {
	t.Helper()
	ctx := context.Background()
	var targets []Target
	for _, a := range accounts {
		targets = append(targets, Target{Account: a, Mailbox: Inbox})
	}
	out := make([][]TargetResult, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				d, err := s.BeginDelivery(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				fmt.Fprintf(d, "Subject: m%d\r\n\r\nbody %d\r\n", i, i)
				res, err := d.Commit(ctx, targets, time.Time{})
				if err != nil {
					t.Error(err)
					return
				}
				out[i] = res
			}
		}()
	}
	wg.Wait()
	return out
}

// TestBatchedBodySync: many concurrent writers to two accounts share
// syncfs calls (batches of more than one body), every delivery lands
// exactly once, and the store reopens consistent.
func TestBatchedBodySync(t *testing.T) {
	t.Parallel()
	if !haveSyncfs {
		t.Skip("no syncfs on this platform")
	}
	dir := t.TempDir()
	s := openTest(t, dir)
	const n = 300
	var calls atomic.Int64
	s.bodies.syncfs = func(f *os.File) error {
		calls.Add(1)
		return syncfsFile(f)
	}
	out := deliverConcurrently(t, s, 16, n, acct, "carol@example.com")
	for i, res := range out {
		for _, r := range res {
			if r.Err != nil || r.UID == 0 {
				t.Fatalf("message %d: %+v", i, r)
			}
		}
	}
	if calls.Load() == 0 || s.bodies.maxBatch.Load() < 2 {
		t.Fatalf("syncfs calls %d, largest batch %d: no batching", calls.Load(), s.bodies.maxBatch.Load())
	}
	t.Logf("%d bodies in %d batches, %d syncfs calls, largest batch %d",
		s.bodies.bodies.Load(), s.bodies.batches.Load(), calls.Load(), s.bodies.maxBatch.Load())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir)
	for _, name := range []string{acct, "carol@example.com"} {
		a, err := s.Account(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		checkConsistency(t, a)
		if info, uids := listUIDs(t, a, Inbox); len(uids) != n || info.Messages != n {
			t.Fatalf("%s: %d messages after reopen, want %d", name, len(uids), n)
		}
	}
}

// TestBodySyncErrorFailsBatch: when syncfs reports an error (a writeback
// error, Linux >= 5.8), every delivery of the batch fails, nothing is
// linked or indexed, and deliveries succeed again once syncfs does.
func TestBodySyncErrorFailsBatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	a := testAccount(t, s)
	var failing atomic.Bool
	failing.Store(true)
	s.bodies.perFile.Store(false) // also where syncfs is missing
	s.bodies.minBatch = 1         // syncfs even for a lone body
	s.bodies.syncfs = func(*os.File) error {
		if failing.Load() {
			return syscall.EIO
		}
		return nil
	}
	out := deliverConcurrently(t, s, 8, 40, acct)
	for i, res := range out {
		if res[0].Err == nil || !errors.Is(res[0].Err, syscall.EIO) {
			t.Fatalf("message %d acknowledged despite the syncfs error: %+v", i, res[0])
		}
	}
	if info, uids := listUIDs(t, a, Inbox); len(uids) != 0 || info.Messages != 0 {
		t.Fatalf("%d messages indexed after failed syncs", len(uids))
	}
	for _, sub := range []string{"cur", "new", "../.tmp"} {
		names, err := readNames(filepath.Join(a.dir, sub))
		if err != nil || len(names) != 0 {
			t.Fatalf("%s holds %v (%v) after failed syncs", sub, names, err)
		}
	}
	failing.Store(false)
	for i, res := range deliverConcurrently(t, s, 8, 40, acct) {
		if res[0].Err != nil {
			t.Fatalf("message %d after recovery: %v", i, res[0].Err)
		}
	}
	checkConsistency(t, a)
}

// TestBodySyncErrorGeneration: a writeback error reported to one batch's
// syncfs may concern a body of another batch (another account, or one
// written before it): every body that existed when the error was
// reported fails, even if its own syncfs succeeds.
func TestBodySyncErrorGeneration(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bs, err := newBodySyncer(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bs.close()
	bs.perFile.Store(false)
	fail := true
	bs.syncfs = func(*os.File) error {
		if fail {
			return syscall.EIO
		}
		return nil
	}
	mk := func(name string) pendingBody {
		gen := bs.errGen.Load()
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return pendingBody{f: f, gen: gen}
	}
	older := mk("older") // written before the failing syncfs
	errs := bs.syncBodies([]pendingBody{mk("a"), mk("b")})
	if errs[0] == nil || errs[1] == nil {
		t.Fatalf("failed syncfs confirmed bodies: %v", errs)
	}
	fail = false
	newer := mk("newer")
	errs = bs.syncBodies([]pendingBody{older, newer})
	if errs[0] == nil {
		t.Error("a body written before a reported writeback error was confirmed")
	}
	if errs[1] != nil {
		t.Errorf("a body written after the error failed: %v", errs[1])
	}
}

// TestBodySyncUnsupported: ENOSYS (or a build without syncfs) falls back
// to fsyncing each body, for this batch and later ones.
func TestBodySyncUnsupported(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	a := testAccount(t, s)
	s.bodies.perFile.Store(false)
	s.bodies.minBatch = 1
	var calls atomic.Int64
	s.bodies.syncfs = func(*os.File) error {
		calls.Add(1)
		return errors.Join(errors.ErrUnsupported, syscall.ENOSYS)
	}
	for i, res := range deliverConcurrently(t, s, 8, 40, acct) {
		if res[0].Err != nil {
			t.Fatalf("message %d: %v", i, res[0].Err)
		}
	}
	if !s.bodies.perFile.Load() || calls.Load() != 1 {
		t.Fatalf("perFile %v after %d syncfs calls, want fallback after 1", s.bodies.perFile.Load(), calls.Load())
	}
	if _, uids := listUIDs(t, a, Inbox); len(uids) != 40 {
		t.Fatalf("%d messages, want 40", len(uids))
	}
}

// TestBodyDurableBeforeLink: when the body sync runs, the message is not
// yet in any Maildir; it is linked only after the sync succeeded, so a
// crash can never leave a directory entry naming an incomplete body.
// (A lone delivery's new entry is then made durable by fsyncing its
// directory, TestEntrySyncErrorFailsDelivery.)
func TestBodyDurableBeforeLink(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	a := testAccount(t, s)
	s.bodies.perFile.Store(false)
	s.bodies.minBatch = 1
	cur := filepath.Join(a.dir, "cur")
	var seen []int
	s.bodies.syncfs = func(*os.File) error {
		names, err := readNames(cur)
		if err != nil {
			return err
		}
		seen = append(seen, len(names))
		return nil
	}
	for i := 0; i < 3; i++ {
		appendMsg(t, a, Inbox, fmt.Sprintf("Subject: %d\r\n\r\nx\r\n", i))
	}
	names, err := readNames(cur)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, []int{0, 1, 2}) || len(names) != 3 {
		t.Fatalf("cur/ held %v files at each sync and %d after, want [0 1 2] and 3", seen, len(names))
	}
}

// TestEntrySyncErrorFailsDelivery: when the sync that makes a new
// directory entry durable fails (a directory fsync for a lone delivery
// into one or two directories, a syncfs for more), the delivery is
// reported as failed (the client will retry). The index commit ran in
// parallel, so the message may be indexed: then its file must still be
// there (never an index record without its file). The next delivery
// works.
func TestEntrySyncErrorFailsDelivery(t *testing.T) {
	t.Parallel()
	for _, boxes := range [][]string{{Inbox}, {Inbox, "Sent", "Archive"}} {
		s := openTest(t, t.TempDir())
		a := testAccount(t, s)
		s.bodies.perFile.Store(false)
		s.bodies.minBatch = 1
		var fail atomic.Bool
		fail.Store(true)
		s.bodies.syncfs = func(*os.File) error {
			if fail.Load() && len(boxes) > 2 && s.bodies.syncfsCalls.Load() == 2 { // the entry sync
				return syscall.EIO
			}
			return nil
		}
		s.commit.syncDir = func(dir string) error {
			if fail.Load() && len(boxes) <= 2 {
				return syscall.EIO
			}
			return syncDir(dir)
		}
		d, err := s.BeginDelivery(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		d.Write([]byte("Subject: lost\r\n\r\nx\r\n"))
		var targets []Target
		for _, b := range boxes {
			targets = append(targets, Target{Account: acct, Mailbox: b})
		}
		res, err := d.Commit(t.Context(), targets, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if !errors.Is(r.Err, syscall.EIO) {
				t.Fatalf("%v: %s: %v, want EIO", boxes, r.Mailbox, r.Err)
			}
		}
		fail.Store(false)
		for _, b := range boxes {
			names, _ := readNames(a.curDir(b))
			_, uids := listUIDs(t, a, b)
			if len(names) != len(uids) {
				t.Fatalf("%v: after a failed entry sync: files %v, index %v in %s", boxes, names, uids, b)
			}
			for _, uid := range uids {
				r, _, err := a.Open(t.Context(), b, uid)
				if err != nil {
					t.Fatalf("indexed message %d has no file: %v", uid, err)
				}
				r.Close()
			}
		}
		_, before := listUIDs(t, a, Inbox)
		appendMsg(t, a, Inbox, "Subject: kept\r\n\r\nx\r\n")
		if _, after := listUIDs(t, a, Inbox); len(after) != len(before)+1 {
			t.Fatalf("%d messages after a good delivery, want %d", len(after), len(before)+1)
		}
	}
}

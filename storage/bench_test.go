package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"postel/internal/testenv"
)

// benchMessage returns a CRLF message of about size bytes.
func benchMessage(size int) []byte {
	var b strings.Builder
	b.WriteString("From: Alice <alice@example.org>\r\nTo: bob@example.com\r\nSubject: benchmark message\r\n" +
		"Date: Mon, 02 Jan 2006 15:04:05 -0700\r\nMessage-ID: <bench@example.org>\r\n\r\n")
	line := strings.Repeat("0123456789abcdef", 4) + "\r\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	return []byte(b.String()[:size])
}

// BenchmarkDeliver measures durable deliveries (file and index fsynced
// before Commit returns) with 1 and 16 concurrent writers into one INBOX.
// sync=batched is the store's default (bodies made durable by a shared
// syncfs, bodysync.go); sync=perfile forces one fsync per body, the
// behaviour before batching, as the A/B baseline of the same run.
func BenchmarkDeliver(b *testing.B) {
	for _, writers := range []int{1, 16} {
		for _, size := range []int{4 << 10, 100 << 10} {
			modes := []string{"perfile", "batched", "serial"}
			if size == 4<<10 {
				// Also: 16 writers with the committer fsyncing each
				// body of a batch (no syncfs); 1 writer with syncfs
				// even for a batch of one body.
				modes = append(modes, map[int]string{1: "syncfs1", 16: "batchfsync"}[writers])
			}
			for _, mode := range modes {
				b.Run(fmt.Sprintf("writers=%d/size=%dKiB/sync=%s", writers, size>>10, mode), func(b *testing.B) {
					benchDeliver(b, writers, 1, size, false, mode)
				})
			}
		}
	}
	// 16 writers, each to its own account (as 16 SMTP clients sending
	// to different users): no account batch holds more than one body, so
	// only the syncer's merging across committers shares a syncfs.
	for _, mode := range []string{"perfile", "batched", "serial"} {
		b.Run("writers=16/accounts=16/size=4KiB/sync="+mode, func(b *testing.B) {
			benchDeliver(b, 16, 16, 4<<10, false, mode)
		})
	}
}

// BenchmarkDeliverNoSync is the same without any fsync: the CPU and
// file-system cost alone, a baseline for BenchmarkDeliver.
func BenchmarkDeliverNoSync(b *testing.B) {
	for _, writers := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers=%d/size=4KiB", writers), func(b *testing.B) {
			benchDeliver(b, writers, 1, 4<<10, true, "batched")
		})
	}
}

// benchDeliver runs the delivery benchmark. mode: "batched" is the
// default (the committer makes each batch's bodies durable with one
// syncfs); "batchfsync" has the committer fsync each body of the batch in
// parallel instead; "syncfs1" uses syncfs even for a batch of one body;
// "perfile" has each delivering goroutine fsync its own body before
// queueing (the behaviour before batching). With accounts > 1, writer w
// delivers to INBOX of account w % accounts.
func benchDeliver(b *testing.B, writers, accounts, size int, noSync bool, mode string) {
	s, err := Open(Options{Dir: testenv.BenchDir(b), NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	switch mode {
	case "perfile":
		s.bodies.perFile.Store(true)
	case "batchfsync":
		s.bodies.minBatch = 1 << 30
	case "syncfs1":
		s.bodies.minBatch = 1
	case "serial":
		s.commit.serial.Store(true)
	}
	ctx := context.Background()
	names := []string{acct}
	for i := 1; i < accounts; i++ {
		names = append(names, fmt.Sprintf("user%d@example.com", i))
	}
	for _, n := range names {
		if _, err := s.Account(ctx, n); err != nil {
			b.Fatal(err)
		}
	}
	msg := benchMessage(size)
	var next atomic.Int64
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			targets := []Target{{Account: names[w%len(names)], Mailbox: "INBOX"}}
			for next.Add(1) <= int64(b.N) {
				d, err := s.BeginDelivery(ctx)
				if err != nil {
					b.Error(err)
					return
				}
				if _, err := d.Write(msg); err != nil {
					b.Error(err)
					return
				}
				res, err := d.Commit(ctx, targets, time.Time{})
				if err != nil || res[0].Err != nil {
					b.Error(err, res)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
	if c := s.commit.commits.Load(); c > 0 {
		st := s.db.Stats()
		b.ReportMetric(float64(st.TxStats.GetWrite())/float64(c), "pages/commit")
		b.ReportMetric(float64(st.FreePageN+st.PendingPageN), "freepages")
		b.ReportMetric(float64(s.commit.requests.Load())/float64(c), "reqs/commit")
		b.ReportMetric(float64(s.commit.syncNanos.Load())/float64(c)/1e6, "dirsync-ms/commit")
		b.ReportMetric(float64(s.commit.txNanos.Load())/float64(c)/1e6, "total-ms/commit")
		b.ReportMetric(float64(s.commit.indexNanos.Load())/float64(c)/1e6, "index-ms/commit")
	}
	if n := s.bodies.batches.Load(); n > 0 {
		b.ReportMetric(float64(s.bodies.bodies.Load())/float64(n), "bodies/sync")
		b.ReportMetric(float64(s.bodies.syncNanos.Load())/float64(n)/1e6, "bodysync-ms/sync")
	}
}

// buildMailbox fills INBOX of acct under dir with n messages quickly:
// one file is written and hard linked under n Maildir names, and the
// index is built in large transactions without fsync. Opening and
// listing it afterwards is the real path.
func buildMailbox(b *testing.B, dir string, n int) {
	s, err := Open(Options{Dir: dir, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	a, err := s.Account(context.Background(), acct)
	if err != nil {
		b.Fatal(err)
	}
	body := benchMessage(2048)
	cache := encodeCache(body)
	cur := filepath.Join(a.dir, "cur")
	proto := filepath.Join(a.dir, "proto")
	const chunk = 10000
	for done := 0; done < n; done += chunk {
		// ext4 allows 65000 links per inode: a new file per chunk.
		_ = os.Remove(proto)
		if err := os.WriteFile(proto, body, 0o600); err != nil {
			b.Fatal(err)
		}
		var files []string
		for i := done; i < done+chunk && i < n; i++ {
			f := s.names.next() + ":2,"
			if i%3 == 0 {
				f += "S"
			}
			if err := os.Link(proto, filepath.Join(cur, f)); err != nil {
				b.Fatal(err)
			}
			files = append(files, f)
		}
		err := a.update(func(tx *bbolt.Bucket) error {
			m, err := loadMbox(tx, Inbox)
			if err != nil {
				return err
			}
			for _, f := range files {
				m.bumped = false
				r := &msgRec{flags: flagsFromMaildirInfo(f), date: time.Now().UnixNano(), size: int64(len(body)), file: f}
				if _, err := m.add(r, cache); err != nil {
					return err
				}
			}
			return m.save()
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := os.Remove(proto); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	// The store was built just now; a restart normally comes later. Age
	// cur/ so the clean-close stamp applies (see stamps.go), and do one
	// full open/close so the stamps are written.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(cur, old, old); err != nil {
		b.Fatal(err)
	}
	s, err = Open(Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Account(context.Background(), acct); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
}

// dropStamps deletes the clean-close stamps, as a crash would leave the
// index.
func dropStamps(b *testing.B, dir string) {
	db, err := bbolt.Open(filepath.Join(dir, indexFile), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := takeStamps(accountRoot(tx, []byte(acct)))
		return err
	}); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkMailbox100k: a 100,000-message INBOX. OpenList opens a store,
// the account (recovery included) and lists every UID and flag set, after
// a clean close; OpenListAfterCrash the same when the index carries no
// clean-close stamp, so recovery scans cur/;
// List is List alone on an open account (what a SELECT pays once the
// account is in memory).
func BenchmarkMailbox100k(b *testing.B) {
	const n = 100000
	dir := testenv.BenchDir(b)
	buildMailbox(b, dir, n)
	openList := func(b *testing.B, crashed bool) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if crashed {
				b.StopTimer()
				dropStamps(b, dir)
				b.StartTimer()
			}
			s, err := Open(Options{Dir: dir})
			if err != nil {
				b.Fatal(err)
			}
			a, err := s.Account(context.Background(), acct)
			if err != nil {
				b.Fatal(err)
			}
			info, ms, err := a.List(context.Background(), Inbox)
			if err != nil || len(ms) != n || info.Messages != n {
				b.Fatalf("listed %d (%v)", len(ms), err)
			}
			b.StopTimer()
			s.Close()
			b.StartTimer()
		}
	}
	// After a clean shutdown (the usual restart).
	b.Run("OpenList", func(b *testing.B) { openList(b, false) })
	// After a crash: recovery scans all 100,000 file names.
	b.Run("OpenListAfterCrash", func(b *testing.B) { openList(b, true) })
	// Marking every message read and unread again, as a client's "mark
	// all as read" does: "seen" renames each file (its Maildir info
	// part, filenames.go) in the background after StoreFlags answers;
	// "keyword" changes only the index, so the difference is the cost
	// of the renames.
	for _, flag := range []string{`\Seen`, "$Done"} {
		name := map[string]string{`\Seen`: "seen", "$Done": "keyword"}[flag]
		b.Run("StoreFlagsAll/"+name, func(b *testing.B) {
			s, err := Open(Options{Dir: dir})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			a, err := s.Account(context.Background(), acct)
			if err != nil {
				b.Fatal(err)
			}
			_, ms, err := a.List(context.Background(), Inbox)
			if err != nil {
				b.Fatal(err)
			}
			uids := make([]uint32, len(ms))
			for i, m := range ms {
				uids[i] = m.UID
			}
			// A third of the messages start \Seen: clear the flag first.
			if _, err := a.StoreFlags(context.Background(), Inbox, uids, FlagsRemove, []string{flag}); err != nil {
				b.Fatal(err)
			}
			a.waitRenames(false)
			var reply time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				op := FlagsAdd
				if i%2 == 1 {
					op = FlagsRemove
				}
				start := time.Now()
				changed, err := a.StoreFlags(context.Background(), Inbox, uids, op, []string{flag})
				if err != nil || len(changed) != n {
					b.Fatalf("changed %d (%v)", len(changed), err)
				}
				reply += time.Since(start)
				// ns/op includes the background renames; reply-ms/op
				// is when StoreFlags (the IMAP STORE) answered.
				a.waitRenames(false)
			}
			b.ReportMetric(float64(reply.Milliseconds())/float64(b.N), "reply-ms/op")
		})
	}
	b.Run("List", func(b *testing.B) {
		s, err := Open(Options{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		a, err := s.Account(context.Background(), acct)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, ms, err := a.List(context.Background(), Inbox); err != nil || len(ms) != n {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRawFsyncFiles is the machine's ceiling for the delivery
// benchmarks: create, write and fsync one 4 KiB file per operation (plus
// a rename into place), with no index at all. Compare deliveries/s with
// files/s measured in the same run.
func BenchmarkRawFsyncFiles(b *testing.B) {
	for _, writers := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers=%d/size=4KiB", writers), func(b *testing.B) {
			dir := testenv.BenchDir(b)
			if err := makeMaildir(dir); err != nil {
				b.Fatal(err)
			}
			writeRawFiles(b, dir, writers, (*os.File).Sync)
		})
	}
}

// BenchmarkRawSyncfsFiles is BenchmarkRawFsyncFiles with the files made
// durable in groups: every file written while the previous sync ran is
// covered by one call of the store's bodySyncer (one syncfs), the
// ceiling for sync=batched.
func BenchmarkRawSyncfsFiles(b *testing.B) {
	for _, writers := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers=%d/size=4KiB", writers), func(b *testing.B) {
			dir := testenv.BenchDir(b)
			if err := makeMaildir(dir); err != nil {
				b.Fatal(err)
			}
			bs, err := newBodySyncer(filepath.Join(dir, "tmp"), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer bs.close()
			g := newGroupSync(bs)
			defer g.close()
			writeRawFiles(b, dir, writers, g.sync)
			if nb := bs.batches.Load(); nb > 0 {
				b.ReportMetric(float64(bs.bodies.Load())/float64(nb), "files/sync")
			}
		})
	}
}

// writeRawFiles is the raw benchmarks' work: writers goroutines create,
// write, make durable and rename into cur/ one 4 KiB file each
// per operation, b.N in all, with no index; it reports files/s.
func writeRawFiles(b *testing.B, dir string, writers int, durable func(*os.File) error) {
	msg := benchMessage(4 << 10)
	n := newNamer()
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				name := n.next()
				tmp := filepath.Join(dir, "tmp", name)
				f, err := os.Create(tmp)
				if err != nil {
					b.Error(err)
					return
				}
				_, err = f.Write(msg)
				if err == nil {
					err = durable(f)
				}
				f.Close()
				if err == nil {
					err = os.Rename(tmp, filepath.Join(dir, "cur", name))
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "files/s")
}

// groupSync batches files for a bodySyncer the way a committer does: one
// goroutine takes every file queued while the previous sync ran.
type groupSync struct {
	bs   *bodySyncer
	reqs chan groupReq
	done chan struct{}
}

type groupReq struct {
	f   *os.File
	err chan error
}

func newGroupSync(bs *bodySyncer) *groupSync {
	g := &groupSync{bs: bs, reqs: make(chan groupReq, 1024), done: make(chan struct{})}
	go func() {
		defer close(g.done)
		for r := range g.reqs {
			batch := []groupReq{r}
		more:
			for {
				select {
				case r, ok := <-g.reqs:
					if !ok {
						break more
					}
					batch = append(batch, r)
				default:
					break more
				}
			}
			bodies := make([]pendingBody, len(batch))
			for i, r := range batch {
				bodies[i] = pendingBody{f: r.f}
			}
			errs := bs.syncBodies(bodies)
			for i, r := range batch {
				r.err <- errs[i]
			}
		}
	}()
	return g
}

func (g *groupSync) sync(f *os.File) error {
	r := groupReq{f: f, err: make(chan error, 1)}
	g.reqs <- r
	return <-r.err
}

func (g *groupSync) close() { close(g.reqs); <-g.done }

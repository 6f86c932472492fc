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
func BenchmarkDeliver(b *testing.B) {
	for _, writers := range []int{1, 16} {
		for _, size := range []int{4 << 10, 100 << 10} {
			b.Run(fmt.Sprintf("writers=%d/size=%dKiB", writers, size>>10), func(b *testing.B) {
				benchDeliver(b, writers, size, false)
			})
		}
	}
}

// BenchmarkDeliverNoSync is the same without any fsync: the CPU and
// file-system cost alone, a baseline for BenchmarkDeliver.
func BenchmarkDeliverNoSync(b *testing.B) {
	for _, writers := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers=%d/size=4KiB", writers), func(b *testing.B) {
			benchDeliver(b, writers, 4<<10, true)
		})
	}
}

func benchDeliver(b *testing.B, writers, size int, noSync bool) {
	s, err := Open(Options{Dir: b.TempDir(), NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Account(ctx, acct); err != nil {
		b.Fatal(err)
	}
	msg := benchMessage(size)
	targets := []Target{{Account: acct, Mailbox: "INBOX"}}
	var next atomic.Int64
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
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
	a, _ := s.Account(ctx, acct)
	if c := a.commit.commits.Load(); c > 0 {
		b.ReportMetric(float64(a.commit.requests.Load())/float64(c), "reqs/commit")
		b.ReportMetric(float64(a.commit.syncNanos.Load())/float64(c)/1e6, "dirsync-ms/commit")
		b.ReportMetric(float64(a.commit.txNanos.Load())/float64(c)/1e6, "total-ms/commit")
	}
}

// buildMailbox fills INBOX of acct under dir with n messages quickly: the
// files are written directly and the index in large transactions without
// fsync. Opening and listing it afterwards is the real path.
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
	const chunk = 10000
	for done := 0; done < n; done += chunk {
		var files []string
		for i := done; i < done+chunk && i < n; i++ {
			f := s.names.next() + ":2,"
			if i%3 == 0 {
				f += "S"
			}
			if err := os.WriteFile(filepath.Join(cur, f), body, 0o600); err != nil {
				b.Fatal(err)
			}
			files = append(files, f)
		}
		err := a.db.Update(func(tx *bbolt.Tx) error {
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
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkOpenList100k opens a store, the account of a 100,000-message
// INBOX (recovery scan included) and lists every UID and flag set.
func BenchmarkOpenList100k(b *testing.B) {
	const n = 100000
	dir := b.TempDir()
	buildMailbox(b, dir, n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
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

// BenchmarkList100k is List alone on an open account (the cost a SELECT
// pays once the account is in memory).
func BenchmarkList100k(b *testing.B) {
	const n = 100000
	dir := b.TempDir()
	buildMailbox(b, dir, n)
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
}

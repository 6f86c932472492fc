package delivery_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"postel/delivery"
	"postel/delivery/deliverytest"
	"postel/storage"
)

// BenchmarkDeliverStore measures Agent.Deliver alone over the real store
// (fsync on): the floor under smtpd's inbound benchmark. Each goroutine
// delivers 4 KiB messages to its own account.
func BenchmarkDeliverStore(b *testing.B) {
	for _, sameAccount := range []bool{false, true} {
		for _, workers := range []int{1, 16} {
			if sameAccount && workers == 1 {
				continue
			}
			name := fmt.Sprintf("workers=%d", workers)
			if sameAccount {
				name += "/one-account"
			}
			b.Run(name, func(b *testing.B) { benchDeliverStore(b, workers, sameAccount) })
		}
	}
}

// benchDeliverStore: each worker delivers to its own account, or all to
// one account (where the store's group commit can merge commits).
func benchDeliverStore(b *testing.B, workers int, sameAccount bool) {
	{
		{
			st, err := storage.Open(storage.Options{Dir: filepath.Join(b.TempDir(), "mail"), Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			au := deliverytest.NewAuth("example.com")
			ctx := context.Background()
			for i := 0; i < workers; i++ {
				name := fmt.Sprintf("u%d@example.com", i)
				au.AddUser(name, "pw")
				if _, err := st.Account(ctx, name); err != nil {
					b.Fatal(err)
				}
			}
			a, err := delivery.New(delivery.Options{Store: delivery.Storage(st), Auth: au, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			msg := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.\r\n"), 64)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.SetBytes(int64(len(msg)))
			b.ResetTimer()
			start := time.Now()
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					acct := fmt.Sprintf("u%d@example.com", w)
					if sameAccount {
						acct = "u0@example.com"
					}
					tg := []storage.Target{{Account: acct, Mailbox: "INBOX"}}
					for next.Add(1) <= int64(b.N) {
						if err := a.Deliver(ctx, "a@remote.org", tg, bytes.NewReader(msg)); err != nil {
							b.Error(err)
							return
						}
					}
				}(w)
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
		}
	}
}

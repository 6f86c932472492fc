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
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
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
					tg := []storage.Target{{Account: fmt.Sprintf("u%d@example.com", w), Mailbox: "INBOX"}}
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
		})
	}
}

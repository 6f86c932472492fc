package imapd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Benchmarks are opt-in: go test -run '^$' -bench . ./imapd/
// Results and commands are recorded in benchmarks/imapd.md.

// populate fills mailbox with n messages through storage's Delivery
// (several deliveries in flight share group commits).
func populate(b *testing.B, e *env, mailbox string, n int, body func(i int) string) {
	b.Helper()
	if mailbox != "INBOX" {
		if err := e.account(b).CreateMailbox(context.Background(), mailbox, ""); err != nil {
			b.Fatal(err)
		}
	}
	const workers = 16
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				e.deliver(b, mailbox, testMessage(fmt.Sprintf("message %d", i), body(i)))
			}
		}()
	}
	wg.Wait()
}

func filler(i int) string {
	return fmt.Sprintf("Line one of message %d.\nSome ordinary text about meetings and invoices.\nRegards", i)
}

// BenchmarkLargeMailbox: SELECT of a 100,000-message mailbox, UID FETCH
// 1:* (FLAGS) on it, and FETCH ENVELOPE of 1,000 messages.
func BenchmarkLargeMailbox(b *testing.B) {
	e := newEnv(b)
	start := time.Now()
	populate(b, e, "INBOX", 100_000, filler)
	b.Logf("populated 100k messages in %v", time.Since(start))
	c := e.login(b, nil)

	b.Run("SELECT-100k", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			d, err := c.Select("INBOX", nil).Wait()
			if err != nil || d.NumMessages != 100_000 {
				b.Fatal(err, d)
			}
		}
	})
	// The server's cost: a bare socket reads and discards the 100k lines.
	b.Run("UID-FETCH-1:*-FLAGS-100k", func(b *testing.B) {
		rc := rawLogin(b, e)
		rc.expect("OK", "SELECT INBOX")
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			rc.send("f UID FETCH 1:* (FLAGS)\r\n")
			n := 0
			for {
				rc.c.SetReadDeadline(time.Now().Add(time.Minute))
				l, err := rc.r.ReadSlice('\n')
				if err != nil {
					b.Fatal(err)
				}
				if l[0] == 'f' {
					break
				}
				n++
			}
			if n != 100_000 {
				b.Fatal(n)
			}
		}
	})
	// The same through imapclient, which parses every response.
	b.Run("UID-FETCH-1:*-FLAGS-100k-imapclient", func(b *testing.B) {
		var all imap.UIDSet
		all.AddRange(1, 0)
		for i := 0; i < b.N; i++ {
			cmd := c.Fetch(all, &imap.FetchOptions{Flags: true, UID: true})
			n := 0
			for m := cmd.Next(); m != nil; m = cmd.Next() {
				for it := m.Next(); it != nil; it = m.Next() {
				}
				n++
			}
			if err := cmd.Close(); err != nil || n != 100_000 {
				b.Fatal(err, n)
			}
		}
	})
	b.Run("FETCH-ENVELOPE-1000", func(b *testing.B) {
		rc := rawLogin(b, e)
		rc.expect("OK", "SELECT INBOX")
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if u := rc.expect("OK", "FETCH 5001:6000 (ENVELOPE)"); len(u) != 1000 {
				b.Fatal(len(u))
			}
		}
	})
	b.Run("FETCH-ENVELOPE-1000-imapclient", func(b *testing.B) {
		set := imap.SeqSet{}
		set.AddRange(5001, 6000)
		for i := 0; i < b.N; i++ {
			l, err := c.Fetch(set, &imap.FetchOptions{Envelope: true}).Collect()
			if err != nil || len(l) != 1000 || l[0].Envelope == nil {
				b.Fatal(err, len(l))
			}
		}
	})
}

// BenchmarkSearchBody10k: SEARCH BODY over 10,000 messages (storage
// decodes bodies; one message in 100 matches).
func BenchmarkSearchBody10k(b *testing.B) {
	e := newEnv(b)
	populate(b, e, "INBOX", 10_000, func(i int) string {
		if i%100 == 0 {
			return filler(i) + "\nThe secret word is xylophone."
		}
		return filler(i)
	})
	c := e.login(b, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := c.Search(&imap.SearchCriteria{Body: []string{"xylophone"}}, nil).Wait()
		if err != nil || len(d.AllSeqNums()) != 100 {
			b.Fatal(err, d)
		}
	}
}

// BenchmarkIdleMemory holds 2,000 connections in IDLE on a selected INBOX
// and reports the server's heap+stack growth per connection. The clients
// are bare sockets in the same process (no goroutine, no buffers kept), so
// the figure is a slight over-estimate of the server's cost.
func BenchmarkIdleMemory(b *testing.B) {
	const conns = 2000
	e := newEnv(b, func(o *Options) {
		o.Auth = fakeAuth{} // argon2id per login would dominate setup
		o.MaxConnsPerIP = -1
		o.MaxConnsPerAccount = -1
	})
	e.deliver(b, "INBOX", testMessage("hello", "x"))
	for i := 0; i < b.N; i++ {
		before := memInUse()
		var socks []net.Conn
		for j := 0; j < conns; j++ {
			c, err := net.Dial("tcp", e.addr)
			if err != nil {
				b.Fatal(err)
			}
			socks = append(socks, c)
			io.WriteString(c, "a LOGIN "+testUser+" x\r\nb SELECT INBOX\r\nc IDLE\r\n")
			r := bufio.NewReaderSize(c, 512)
			for {
				c.SetReadDeadline(time.Now().Add(30 * time.Second))
				l, err := r.ReadString('\n')
				if err != nil {
					b.Fatal(err)
				}
				if strings.HasPrefix(l, "+ ") {
					break
				}
			}
		}
		after := memInUse()
		b.ReportMetric(float64(after-before)/conns, "B/conn")
		// Every idler still wakes up: one delivery, 2,000 EXISTS.
		start := time.Now()
		e.deliver(b, "INBOX", testMessage("wake", "y"))
		buf := make([]byte, 256)
		for _, c := range socks {
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			n, err := c.Read(buf)
			if err != nil || !strings.Contains(string(buf[:n]), "EXISTS") {
				b.Fatalf("idler: %v %q", err, buf[:n])
			}
		}
		b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms-wake-all")
		for _, c := range socks {
			c.Close()
		}
	}
}

func rawLogin(b *testing.B, e *env) *rawConn {
	rc := e.raw(b)
	rc.login()
	return rc
}

func memInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

var _ = imapclient.Options{}

package pop3d

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"postel/storage"
)

// message4K is a 4096-octet message of 76-character CRLF lines, one of
// them starting with a dot so stuffing is exercised.
func message4K(i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: alice@example.com\r\nTo: bob@example.com\r\nSubject: bench %d\r\n\r\n.dot line\r\n", i)
	line := strings.Repeat("x", 74) + "\r\n"
	for b.Len()+len(line) <= 4096 {
		b.WriteString(line)
	}
	b.WriteString(strings.Repeat("y", 4096-b.Len()-2) + "\r\n")
	return b.String()
}

// fillRealStore delivers n 4 KiB messages to realUser, several deliveries
// at a time so group commit batches them.
func fillRealStore(b *testing.B, e *realEnv, n int) {
	b.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	work := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range work {
				d, err := e.store.BeginDelivery(ctx)
				if err != nil {
					errs <- err
					continue
				}
				io.WriteString(d, message4K(i))
				res, err := d.Commit(ctx, []storage.Target{{Account: realUser, Mailbox: "INBOX"}}, time.Now())
				if err == nil && res[0].Err != nil {
					err = res[0].Err
				}
				if err != nil {
					errs <- err
				}
				d.Abort()
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// retrAll logs in over addr, RETRs messages 1..n (pipelined, or one
// command at a time) and QUITs without deleting. It returns the body
// octets received.
func retrAll(b *testing.B, addr, user, pass string, n int, pipelined bool) int64 {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReaderSize(c, 64*1024)
	w := bufio.NewWriterSize(c, 64*1024)
	expectOK := func() {
		l, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(l, "+OK") {
			b.Fatalf("got %q, %v", l, err)
		}
	}
	expectOK()
	fmt.Fprintf(w, "USER %s\r\nPASS %s\r\n", user, pass)
	w.Flush()
	expectOK()
	expectOK()
	if pipelined {
		go func() {
			for i := 1; i <= n; i++ {
				fmt.Fprintf(w, "RETR %d\r\n", i)
			}
			w.WriteString("QUIT\r\n")
			w.Flush()
		}()
	}
	var octets int64
	for i := 1; i <= n; i++ {
		if !pipelined {
			fmt.Fprintf(w, "RETR %d\r\n", i)
			w.Flush()
		}
		expectOK()
		for {
			l, err := r.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if len(l) == 3 && l[0] == '.' {
				break
			}
			octets += int64(len(l))
		}
	}
	if !pipelined {
		w.WriteString("QUIT\r\n")
		w.Flush()
	}
	expectOK()
	return octets
}

const benchMessages = 10000

// BenchmarkRetr10k: RETR of 10,000 messages of 4 KiB in one session on
// loopback TCP, over the real store (files in a temp dir, page cache warm
// after the first pass) and, as a baseline for the protocol layer alone,
// over the in-memory fake. Opt-in: go test -run '^$' -bench Retr10k.
func BenchmarkRetr10k(b *testing.B) {
	parent := b // owns the servers, shared by the sub-benchmarks
	var real *realEnv
	var fake *testServer
	for _, store := range []string{"real", "fake"} {
		for _, mode := range []string{"pipelined", "lockstep"} {
			b.Run(store+"/"+mode, func(b *testing.B) {
				addr, user, pass := "", "", ""
				switch store {
				case "real":
					if real == nil {
						real = newRealEnv(parent, func(o *Options) { o.Trace = false })
						fillRealStore(parent, real, benchMessages)
					}
					addr, user, pass = real.plainAddr, realUser, realPass
				case "fake":
					if fake == nil {
						fake = newTestServer(parent, func(o *Options) { o.Trace = false })
						d := fake.store.drop("bob")
						for i := range benchMessages {
							d.add(message4K(i))
						}
					}
					addr, user, pass = fake.addr, "bob", "secret"
				}
				var octets int64
				for b.Loop() {
					octets = retrAll(b, addr, user, pass, benchMessages, mode == "pipelined")
				}
				if octets < benchMessages*4096 {
					b.Fatalf("received %d octets", octets)
				}
				sec := b.Elapsed().Seconds() / float64(b.N)
				b.ReportMetric(benchMessages/sec, "msgs/s")
				b.ReportMetric(float64(benchMessages*4096)/sec/1e6, "MB/s")
			})
		}
	}
}

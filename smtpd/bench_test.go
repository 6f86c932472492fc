package smtpd

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// benchMessage is a 4 KiB message.
func benchMessage() []byte {
	var b strings.Builder
	b.WriteString("From: Alice <alice@remote.org>\r\nTo: user@example.com\r\nSubject: benchmark\r\n" +
		"Date: Thu, 26 Nov 2026 01:00:00 +0000\r\nMessage-ID: <bench@remote.org>\r\n\r\n")
	line := strings.Repeat("0123456789", 7) + "abcdefgh\r\n" // 80 bytes
	for b.Len()+len(line) <= 4096 {
		b.WriteString(line)
	}
	for b.Len() < 4094 {
		b.WriteByte('x')
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// BenchmarkInbound measures messages accepted and durably delivered (real
// store, fsync on) over loopback, with 1 and 16 concurrent clients, plain
// and with STARTTLS. Each client keeps one connection and sends message
// after message to its own recipient.
func BenchmarkInbound(b *testing.B) {
	benchMatrix(b, func(b *testing.B, clients int, useTLS bool) {
		e := newBenchEnv(b, clients)
		benchInbound(b, e.addr, e.tls, clients, useTLS)
		e.checkDelivered(b, clients)
	})
}

// newBenchEnv is a realEnv (log discarded) with users u0..u<n-1>@example.com
// whose accounts are open, as a running server has opened them long
// before: the Maildirs and index records are made outside the timing.
func newBenchEnv(b *testing.B, users int) *realEnv {
	e := newRealEnv(b, Inbound, func(o *Options) { o.Logger = slog.New(slog.DiscardHandler) })
	ctx := context.Background()
	for i := 0; i < users; i++ {
		if err := e.db.AddUser(ctx, fmt.Sprintf("u%d@example.com", i), "pw"); err != nil {
			b.Fatal(err)
		}
		if _, err := e.store.Account(ctx, fmt.Sprintf("u%d@example.com", i)); err != nil {
			b.Fatal(err)
		}
	}
	return e
}

// checkDelivered fails the benchmark unless the INBOXes of the users
// hold b.N messages in all: every acknowledged message is in the store.
func (e *realEnv) checkDelivered(b *testing.B, users int) {
	total := 0
	for i := 0; i < users; i++ {
		total += len(e.messages(b, fmt.Sprintf("u%d@example.com", i), "INBOX"))
	}
	if total != b.N {
		b.Fatalf("store has %d messages, sent %d", total, b.N)
	}
}

// BenchmarkInboundPipelined is BenchmarkInbound/plain with a client that
// pipelines like Postfix, Exim and the big mail providers do (RFC 2920):
// MAIL, RCPT and DATA in one write, then the message: two round trips per
// message instead of go-smtp's client's four. Each of the 16 clients
// sends to its own recipient.
func BenchmarkInboundPipelined(b *testing.B) {
	const clients = 16
	e := newBenchEnv(b, clients)
	benchInboundClients(b, clients, benchMessage(), func(i int, msg []byte, more func() bool) error {
		return pipelinedClient(e.addr, fmt.Sprintf("u%d@example.com", i), msg, more)
	})
	e.checkDelivered(b, clients)
}

// pipelinedClient sends messages over one connection with PIPELINING.
// msg must not need dot-stuffing (benchMessage does not).
func pipelinedClient(addr, rcpt string, msg []byte, more func() bool) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	tc := textproto.NewConn(conn)
	expect := func(code int) error {
		_, _, err := tc.ReadResponse(code)
		return err
	}
	if err := expect(220); err != nil {
		return err
	}
	if err := tc.PrintfLine("EHLO bench.example"); err != nil {
		return err
	}
	if err := expect(250); err != nil {
		return err
	}
	if bytes.Contains(msg, []byte("\n.")) || !bytes.HasSuffix(msg, []byte("\r\n")) {
		return errors.New("pipelinedClient: message needs dot-stuffing or lacks its final CRLF")
	}
	cmds := []byte("MAIL FROM:<alice@remote.org>\r\nRCPT TO:<" + rcpt + ">\r\nDATA\r\n")
	data := append(append([]byte(nil), msg...), ".\r\n"...)
	for more() {
		if _, err := conn.Write(cmds); err != nil {
			return err
		}
		for _, code := range []int{250, 250, 354} {
			if err := expect(code); err != nil {
				return err
			}
		}
		if _, err := conn.Write(data); err != nil {
			return err
		}
		if err := expect(250); err != nil {
			return err
		}
	}
	if err := tc.PrintfLine("QUIT"); err != nil {
		return err
	}
	return expect(221)
}

// BenchmarkInboundMemStore is BenchmarkInbound over the in-memory fake
// store: the cost of smtpd, go-smtp and TCP alone.
func BenchmarkInboundMemStore(b *testing.B) {
	benchMatrix(b, func(b *testing.B, clients int, useTLS bool) {
		e := newEnv(b, Inbound, func(o *Options) { o.Logger = slog.New(slog.DiscardHandler) })
		for i := 0; i < clients; i++ {
			e.auth.AddUser(fmt.Sprintf("u%d@example.com", i), "pw")
		}
		benchInbound(b, e.addr, e.tls, clients, useTLS)
		if n := e.store.Count(); n != b.N {
			b.Fatalf("store has %d messages, sent %d", n, b.N)
		}
	})
}

func benchMatrix(b *testing.B, f func(b *testing.B, clients int, useTLS bool)) {
	for _, useTLS := range []bool{false, true} {
		for _, clients := range []int{1, 16} {
			name := fmt.Sprintf("plain/clients=%d", clients)
			if useTLS {
				name = fmt.Sprintf("starttls/clients=%d", clients)
			}
			b.Run(name, func(b *testing.B) { f(b, clients, useTLS) })
		}
	}
}

func benchInbound(b *testing.B, addr string, cfg *tls.Config, clients int, useTLS bool) {
	benchInboundWith(b, addr, cfg, clients, useTLS, benchMessage())
}

// benchInboundMsg is benchInbound over plain connections with a given message.
func benchInboundMsg(b *testing.B, addr string, clients int, msg []byte) {
	benchInboundWith(b, addr, nil, clients, false, msg)
}

func benchInboundWith(b *testing.B, addr string, cfg *tls.Config, clients int, useTLS bool, msg []byte) {
	benchInboundClients(b, clients, msg, func(i int, msg []byte, more func() bool) error {
		return benchClient(addr, cfg, fmt.Sprintf("u%d@example.com", i), msg, useTLS, more)
	})
}

// benchInboundClients runs clients concurrent senders until b.N messages
// are sent and reports msg/s and the process's CPU time per message.
func benchInboundClients(b *testing.B, clients int, msg []byte, client func(i int, msg []byte, more func() bool) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	start := time.Now()
	cpu0 := processCPU()
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			more := func() bool { return next.Add(1) <= int64(b.N) }
			if err := client(i, msg, more); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msg/s")
	// CPU time of the whole process (server and clients) per message:
	// unlike msg/s it hardly moves with the other load on a shared
	// machine, and msg/s is bounded by it once the store is fast.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/msg")
}

// processCPU returns the user plus system CPU time used by this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchClient(addr string, cfg *tls.Config, rcpt string, msg []byte, useTLS bool, more func() bool) error {
	var c *smtp.Client
	var err error
	if useTLS {
		c, err = smtp.DialStartTLS(addr, cfg)
	} else {
		c, err = smtp.Dial(addr)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("bench.example"); err != nil {
		return err
	}
	for more() {
		if err := c.Mail("alice@remote.org", nil); err != nil {
			return err
		}
		if err := c.Rcpt(rcpt, nil); err != nil {
			return err
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		if _, err := w.Write(msg); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	return c.Quit()
}

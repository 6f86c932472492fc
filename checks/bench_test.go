package checks

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"postel/internal/dnsresolver"

	postdkim "postel/dkim"
)

// benchMessage returns a 4 KiB message from bench.example signed by the
// outbound signer (Ed25519 + RSA-2048), and a Checker whose fake DNS has
// SPF, both keys and a p=reject DMARC record for it.
func benchSetup(b *testing.B, cacheTTL time.Duration) (*Checker, Envelope, []byte) {
	b.Helper()
	dns := startDNS(b)
	dir := b.TempDir()
	recs, err := postdkim.Generate(dir, "bench.example")
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range recs {
		dns.Add(r.Zone())
	}
	dns.Add(`bench.example. TXT "v=spf1 ip4:127.0.0.1 -all"`, `_dmarc.bench.example. TXT "v=DMARC1; p=reject"`)
	body := strings.Repeat("The quick brown fox jumps over the lazy dog, again and again.\r\n", 64)
	msg := message("Bench <bench@bench.example>") + body
	msg = msg[:4096-1000] + "\r\n" // leave room for the two signatures
	signed, err := postdkim.NewSigner(dir).SignMessage("bench.example", []byte(msg))
	if err != nil {
		b.Fatal(err)
	}
	c, err := New(Options{
		Hostname: testHost,
		Resolver: dnsresolver.New(dns.Addr),
		Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
		// The production default is a one-minute cache; negative turns it
		// off to show the cost of the DNS round trips.
		DNSCacheTTL: cacheTTL,
	})
	if err != nil {
		b.Fatal(err)
	}
	env := Envelope{RemoteIP: netip.MustParseAddr("127.0.0.1"), Helo: "out.bench.example", MailFrom: "bench@bench.example", Rcpts: []string{"u@ours.example"}}
	v := c.CheckMessage(context.Background(), env, strings.NewReader(string(signed)))
	if v.Action != Accept || !strings.Contains(v.Header, "dmarc=pass") || !strings.Contains(v.Header, "dkim=pass") || !strings.Contains(v.Header, "spf=pass") {
		b.Fatalf("setup: %v %q", v.Action, v.Header)
	}
	return c, env, signed
}

// BenchmarkCheckMessage: one CheckMessage (SPF + 2 DKIM signatures +
// DMARC, 4 DNS queries to a loopback server) at a time.
func BenchmarkCheckMessage(b *testing.B) {
	c, env, msg := benchSetup(b, 0)
	ctx := context.Background()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	cpu := startCPU(b)
	for b.Loop() {
		c.CheckMessage(ctx, env, strings.NewReader(string(msg)))
	}
	cpu.report()
}

// BenchmarkCheckMessageColdDNS: as above with the DNS cache off, so every
// message makes its four queries (SPF TXT, two DKIM keys, DMARC TXT) to the
// loopback server (whose CPU, in this process, is counted too).
func BenchmarkCheckMessageColdDNS(b *testing.B) {
	c, env, msg := benchSetup(b, -1)
	ctx := context.Background()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	cpu := startCPU(b)
	for b.Loop() {
		c.CheckMessage(ctx, env, strings.NewReader(string(msg)))
	}
	cpu.report()
}

// cpuMeter reports the process CPU time (user+system) per iteration, a
// figure that a busy shared machine inflates far less than wall time.
type cpuMeter struct {
	b     *testing.B
	start time.Duration
}

func startCPU(b *testing.B) cpuMeter { return cpuMeter{b, processCPU()} }

func (m cpuMeter) report() {
	m.b.ReportMetric(float64(processCPU()-m.start)/float64(m.b.N), "cpu-ns/op")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCheckMessageParallel: as above with concurrent sessions, the
// way 16 SMTP clients would drive it; ns/op is then the throughput cost.
func BenchmarkCheckMessageParallel(b *testing.B) {
	c, env, msg := benchSetup(b, 0)
	ctx := context.Background()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.SetParallelism(8) // 16 goroutines on 2 cores
	cpu := startCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.CheckMessage(ctx, env, strings.NewReader(string(msg)))
		}
	})
	cpu.report()
}

// BenchmarkDurableWriteBaseline is the floor of delivering the same
// message without checks: write it to a new file and fsync it (what a
// maildir delivery does per message before the index commit), measured in
// the same run for comparison.
func BenchmarkDurableWriteBaseline(b *testing.B) {
	_, _, msg := benchSetup(b, 0)
	dir := b.TempDir()
	b.SetBytes(int64(len(msg)))
	i := 0
	cpu := startCPU(b)
	defer cpu.report()
	for b.Loop() {
		i++
		p := filepath.Join(dir, "m")
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Write(msg); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// BenchmarkStripAuthResults: the streaming filter on the delivered copy.
func BenchmarkStripAuthResults(b *testing.B) {
	_, _, msg := benchSetup(b, 0)
	in := "Authentication-Results: " + testHost + "; spf=pass\r\n" + string(msg)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		io.Copy(io.Discard, StripAuthResults(strings.NewReader(in), testHost))
	}
}

// BenchmarkCheckMessageSignatures splits the cost by what the message
// carries: unsigned (SPF + DMARC only), one Ed25519 or one RSA-2048
// signature, or both (what our outbound signer produces). Warm DNS cache.
// From: and both signatures are in one.example.
func BenchmarkCheckMessageSignatures(b *testing.B) {
	dns := startDNS(b)
	ed := newEd25519Key(b, "one.example", "ed")
	rsa := newRSAKey(b, "one.example", "rsa")
	dns.Add(ed.record(b), rsa.record(b), `one.example. TXT "v=spf1 ip4:127.0.0.1 -all"`, `_dmarc.one.example. TXT "v=DMARC1; p=reject"`)
	body := strings.Repeat("The quick brown fox jumps over the lazy dog, again and again.\r\n", 50)
	msg := message("a@one.example") + body
	newChecker := func(all bool) *Checker {
		c, err := New(Options{Hostname: testHost, Resolver: dnsresolver.New(dns.Addr), Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), DKIMVerifyAll: all})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	c, all := newChecker(false), newChecker(true)
	env := Envelope{RemoteIP: netip.MustParseAddr("127.0.0.1"), Helo: "h.example", MailFrom: "a@one.example"}
	both := rsa.sign(b, ed.sign(b, msg))
	for _, tc := range []struct {
		name string
		c    *Checker
		msg  string
	}{
		{"unsigned", c, msg}, {"ed25519", c, ed.sign(b, msg)}, {"rsa2048", c, rsa.sign(b, msg)},
		// both: verification stops at the first (aligned) pass;
		// both/verifyall verifies each (Options.DKIMVerifyAll), which is
		// what every message with two signatures cost before.
		{"both", c, both}, {"both/verifyall", all, both},
	} {
		c, m := tc.c, tc.msg
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := startCPU(b)
			for b.Loop() {
				c.CheckMessage(context.Background(), env, strings.NewReader(m))
			}
			cpu.report()
		})
	}
}

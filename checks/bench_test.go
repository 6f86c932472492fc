package checks

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postel/internal/dnsresolver"

	postdkim "postel/dkim"
)

// benchMessage returns a 4 KiB message from bench.example signed by the
// outbound signer (Ed25519 + RSA-2048), and a Checker whose fake DNS has
// SPF, both keys and a p=reject DMARC record for it.
func benchSetup(b *testing.B) (*Checker, Envelope, []byte) {
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
	})
	if err != nil {
		b.Fatal(err)
	}
	env := Envelope{RemoteIP: netip.MustParseAddr("127.0.0.1"), Helo: "out.bench.example", MailFrom: "bench@bench.example", Rcpts: []string{"u@ours.example"}}
	v := c.CheckMessage(context.Background(), env, strings.NewReader(string(signed)))
	if v.Action != Accept || !strings.Contains(v.Header, "dmarc=pass") || strings.Count(v.Header, "dkim=pass") != 2 || !strings.Contains(v.Header, "spf=pass") {
		b.Fatalf("setup: %v %q", v.Action, v.Header)
	}
	return c, env, signed
}

// BenchmarkCheckMessage: one CheckMessage (SPF + 2 DKIM signatures +
// DMARC, 4 DNS queries to a loopback server) at a time.
func BenchmarkCheckMessage(b *testing.B) {
	c, env, msg := benchSetup(b)
	ctx := context.Background()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		c.CheckMessage(ctx, env, strings.NewReader(string(msg)))
	}
}

// BenchmarkCheckMessageParallel: as above with concurrent sessions, the
// way 16 SMTP clients would drive it; ns/op is then the throughput cost.
func BenchmarkCheckMessageParallel(b *testing.B) {
	c, env, msg := benchSetup(b)
	ctx := context.Background()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.SetParallelism(8) // 16 goroutines on 2 cores
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.CheckMessage(ctx, env, strings.NewReader(string(msg)))
		}
	})
}

// BenchmarkDurableWriteBaseline is the floor of delivering the same
// message without checks: write it to a new file and fsync it (what a
// maildir delivery does per message before the index commit), measured in
// the same run for comparison.
func BenchmarkDurableWriteBaseline(b *testing.B) {
	_, _, msg := benchSetup(b)
	dir := b.TempDir()
	b.SetBytes(int64(len(msg)))
	i := 0
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
	_, _, msg := benchSetup(b)
	in := "Authentication-Results: " + testHost + "; spf=pass\r\n" + string(msg)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		io.Copy(io.Discard, StripAuthResults(strings.NewReader(in), testHost))
	}
}

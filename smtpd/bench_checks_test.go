package smtpd

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	"postel/checks"
	"postel/dkim"
	"postel/internal/dnsresolver"
	"postel/internal/fakedns"
)

// BenchmarkInboundChecks measures what SPF, DKIM and DMARC add to inbound
// delivery (issue 7: at most 20% of the time per message). Every variant
// runs the real store with fsync and 16 plain clients; "checks=on" adds the
// real checks.Checker against a loopback DNS server, and the message
// carries our own signer's two DKIM signatures (Ed25519 and RSA-2048), or
// the single RSA-2048 signature most mail has (or a single Ed25519 one),
// for a domain with SPF and DMARC
// p=reject records, so every check runs and passes; "sigs=0" is the
// unsigned message of BenchmarkInbound, which passes DMARC on SPF alone.
// "verifyall" verifies both signatures (checks.Options.DKIMVerifyAll, the behaviour before
// verification stopped at the first aligned pass); "spfaligned" sets
// checks.Options.SkipDKIMWhenSPFAligned, so that the signature of this
// message, whose SPF passes aligned, is not verified.
//
// POSTEL_BENCH_ROUNDS=n runs the variants n times in turn, each round
// starting one variant later (off, sigs=1, sigs=2, ...; sigs=1, sigs=2,
// ..., off; ...), so that the state of the file system,
// which changes as the process writes, weighs on each variant alike;
// -count would run each variant n times in a row instead.
func BenchmarkInboundChecks(b *testing.B) {
	dns := fakedns.Start(b)
	keys := b.TempDir()
	recs, err := dkim.Generate(keys, "remote.org")
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range recs {
		dns.Add(r.Zone())
	}
	dns.Add(`remote.org. 300 IN TXT "v=spf1 ip4:127.0.0.1 -all"`,
		`_dmarc.remote.org. 300 IN TXT "v=DMARC1; p=reject"`)
	signed, err := dkim.NewSigner(keys).SignMessage("remote.org", benchMessage())
	if err != nil {
		b.Fatal(err)
	}
	// Most mail carries one signature, RSA-2048 (the big mailbox
	// providers sign so); some carries one Ed25519 signature (RFC 8463).
	one := signOnce(b, dns, "one", msgdkim.CanonicalizationRelaxed)
	oneEd := signOnce(b, dns, "oneed", msgdkim.CanonicalizationRelaxed)
	const clients = 16
	rounds := 1
	if n, err := strconv.Atoi(os.Getenv("POSTEL_BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	variants := []struct {
		name   string
		on     bool
		opts   func(*checks.Options)
		msg    []byte
		passes int // dkim=pass results in Authentication-Results
	}{
		{"checks=off", false, nil, signed, 0},
		{"checks=on/sigs=0", true, nil, benchMessage(), 0},
		{"checks=on/sigs=1", true, nil, one, 1},
		{"checks=on/sigs=1/ed25519", true, nil, oneEd, 1},
		{"checks=on/sigs=2", true, nil, signed, 1},
		{"checks=on/sigs=2/verifyall", true, func(o *checks.Options) { o.DKIMVerifyAll = true }, signed, 2},
		{"checks=on/sigs=1/spfaligned", true, func(o *checks.Options) { o.SkipDKIMWhenSPFAligned = true }, one, 0},
	}
	for r := range rounds {
		// Each round starts one variant later, so that no variant always
		// follows the same one (whose files and background work it
		// would inherit).
		for i := range variants {
			v := variants[(r+i)%len(variants)]
			benchInboundChecks(b, v.name, dns.Addr, v.on, v.opts, clients, v.msg, v.passes)
		}
	}
}

// signOnce returns benchMessage with one DKIM signature of remote.org
// under selector (an RSA-2048 key, or Ed25519 when the selector says
// so), its key published in dns.
func signOnce(b *testing.B, dns *fakedns.Server, selector string, canon msgdkim.Canonicalization) []byte {
	var signer crypto.Signer
	var record string
	if strings.Contains(selector, "ed") {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		signer, record = priv, "k=ed25519; p="+base64.StdEncoding.EncodeToString(pub)
	} else {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			b.Fatal(err)
		}
		der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
		if err != nil {
			b.Fatal(err)
		}
		signer, record = key, "k=rsa; p="+base64.StdEncoding.EncodeToString(der)
	}
	// A TXT string holds at most 255 bytes: split the record.
	var quoted []string
	for txt := "v=DKIM1; " + record; txt != ""; {
		n := min(len(txt), 200)
		quoted = append(quoted, `"`+txt[:n]+`"`)
		txt = txt[n:]
	}
	dns.Add(fmt.Sprintf("%s._domainkey.remote.org. 300 IN TXT %s", selector, strings.Join(quoted, " ")))
	var out bytes.Buffer
	err := msgdkim.Sign(&out, bytes.NewReader(benchMessage()), &msgdkim.SignOptions{
		Domain: "remote.org", Selector: selector, Signer: signer,
		HeaderCanonicalization: canon, BodyCanonicalization: canon,
	})
	if err != nil {
		b.Fatal(err)
	}
	return out.Bytes()
}

func benchInboundChecks(b *testing.B, name, dnsAddr string, on bool, edit func(*checks.Options), clients int, msg []byte, passes int) {
	b.Run(name, func(b *testing.B) {
		// Every goroutine of this variant (server and clients) carries
		// its name, so that a -cpuprofile can be split by variant:
		// go tool pprof -tagfocus 'variant=checks=on/sigs=1$' ...
		pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("variant", name)))
		var chk *checks.Checker
		e := newRealEnv(b, Inbound, func(o *Options) {
			o.Logger = slog.New(slog.DiscardHandler)
			if !on {
				return
			}
			opts := checks.Options{
				Hostname: "mx.example.com", Resolver: dnsresolver.New(dnsAddr),
				IsLocalDomain: func(d string) bool { return strings.EqualFold(d, "example.com") },
			}
			if edit != nil {
				edit(&opts)
			}
			var err error
			chk, err = checks.New(opts)
			if err != nil {
				b.Fatal(err)
			}
			o.Checker = chk
		})
		ctx := context.Background()
		for i := 0; i < clients; i++ {
			name := fmt.Sprintf("u%d@example.com", i)
			if err := e.db.AddUser(ctx, name, "pw"); err != nil {
				b.Fatal(err)
			}
			if _, err := e.store.Account(ctx, name); err != nil {
				b.Fatal(err)
			}
		}
		benchInboundMsg(b, e.addr, clients, msg)
		// Every message passed the checks and reached an INBOX.
		total := 0
		for i := 0; i < clients; i++ {
			msgs := e.messages(b, fmt.Sprintf("u%d@example.com", i), "INBOX")
			total += len(msgs)
			if on && len(msgs) > 0 && (!strings.Contains(msgs[0], "dmarc=pass") || strings.Count(msgs[0], "dkim=pass") != passes) {
				b.Fatalf("checks did not pass, or not with %d DKIM results:\n%s", passes, msgs[0])
			}
		}
		if total != b.N {
			b.Fatalf("INBOXes hold %d messages, sent %d", total, b.N)
		}
	})
}

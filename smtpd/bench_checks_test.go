package smtpd

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	"postel/checks"
	"postel/dkim"
	"postel/internal/dnsresolver"
	"postel/internal/fakedns"
)

// BenchmarkInboundChecks measures what SPF, DKIM and DMARC add to inbound
// delivery (issue 7: at most 20% of the time per message). Both variants
// run the real store with fsync and 16 plain clients; "checks=on" adds the
// real checks.Checker against a loopback DNS server, and the message
// carries our own signer's two DKIM signatures (Ed25519 and RSA-2048), or
// the single signature most mail has, for a domain with SPF and DMARC
// p=reject records, so every check runs and passes.
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
	// Most mail carries one signature: an Ed25519 one on its own key.
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	dns.Add(fmt.Sprintf(`one._domainkey.remote.org. 300 IN TXT "v=DKIM1; k=ed25519; p=%s"`, base64.StdEncoding.EncodeToString(pub)))
	var one bytes.Buffer
	err = msgdkim.Sign(&one, bytes.NewReader(benchMessage()), &msgdkim.SignOptions{
		Domain: "remote.org", Selector: "one", Signer: priv,
		HeaderCanonicalization: msgdkim.CanonicalizationRelaxed, BodyCanonicalization: msgdkim.CanonicalizationRelaxed,
	})
	if err != nil {
		b.Fatal(err)
	}
	const clients = 16
	for _, v := range []struct {
		name string
		on   bool
		msg  []byte
	}{{"checks=off", false, signed}, {"checks=on/sigs=2", true, signed}, {"checks=on/sigs=1", true, one.Bytes()}} {
		on := v.on
		b.Run(v.name, func(b *testing.B) {
			var chk *checks.Checker
			e := newRealEnv(b, Inbound, func(o *Options) {
				o.Logger = slog.New(slog.DiscardHandler)
				if !on {
					return
				}
				chk, err = checks.New(checks.Options{
					Hostname: "mx.example.com", Resolver: dnsresolver.New(dns.Addr),
					IsLocalDomain: func(d string) bool { return strings.EqualFold(d, "example.com") },
				})
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
			benchInboundMsg(b, e.addr, clients, v.msg)
			// Every message passed the checks and reached an INBOX.
			total := 0
			for i := 0; i < clients; i++ {
				msgs := e.messages(b, fmt.Sprintf("u%d@example.com", i), "INBOX")
				total += len(msgs)
				if on && len(msgs) > 0 && !strings.Contains(msgs[0], "dmarc=pass") {
					b.Fatalf("checks did not pass:\n%s", msgs[0])
				}
			}
			if total != b.N {
				b.Fatalf("INBOXes hold %d messages, sent %d", total, b.N)
			}
		})
	}
}

package dkimverify

import (
	"context"
	"strings"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"
)

// FuzzVerify feeds arbitrary messages through Parse, HashBodies and
// Verify: network input must never panic, and a message that is not
// signed by a published key never passes.
func FuzzVerify(f *testing.F) {
	keys := newTestKeys(f)
	signed := sign(f, []byte(testHeader+"body\r\n"), msgdkim.SignOptions{Selector: "ed", Signer: keys.ed})
	f.Add(string(signed))
	f.Add(strings.ReplaceAll(string(signed), "\r\n", "\n"))
	f.Add("DKIM-Signature: v=1; a=rsa-sha256; d=x; s=y; h=from; bh=; b=\r\n\r\n")
	f.Add("DKIM-Signature:\r\n\r\nbody")
	f.Add("DKIM-Signature: b=;b=;;;=\r\nFrom: a\r\n")
	ring := keyring{"ed._domainkey.example.org": keys.ring["ed._domainkey.example.org"]}
	f.Fuzz(func(t *testing.T, msg string) {
		header, body := splitMessage(t, []byte(msg))
		sigs := Parse(header)
		if err := HashBodies(body, sigs); err != nil {
			t.Fatal(err)
		}
		v := &Verifier{LookupTXT: ring.lookup, Now: func() time.Time { return time.Unix(1e9, 0) }}
		for _, s := range sigs {
			r := v.Verify(context.Background(), header, s)
			if r.Status == Pass && (s.lookupDomain != "example.org" || s.Selector != "ed") {
				t.Fatalf("passed with a key that is not published: %+v", s)
			}
		}
	})
}

package dkimverify

import (
	"bytes"
	"context"
	"strings"
	"testing"

	msgdkim "github.com/emersion/go-msgauth/dkim"
)

// BenchmarkVerify compares this package with go-msgauth's verifier on a
// 4 KiB message with one or two relaxed/relaxed signatures, every
// signature verified, keys from memory. Run with -count to alternate:
//
//	go test -run '^$' -bench Verify -count 6 ./checks/dkimverify/
func BenchmarkVerify(b *testing.B) {
	keys := newTestKeys(b)
	relaxed := func(o msgdkim.SignOptions) msgdkim.SignOptions {
		o.HeaderCanonicalization, o.BodyCanonicalization = msgdkim.CanonicalizationRelaxed, msgdkim.CanonicalizationRelaxed
		return o
	}
	body := strings.Repeat("The quick brown fox jumps over the lazy dog, again and again.\r\n", 64)
	ed := sign(b, []byte(testHeader+body), relaxed(msgdkim.SignOptions{Selector: "ed", Signer: keys.ed}))
	rsa := sign(b, []byte(testHeader+body), relaxed(msgdkim.SignOptions{Selector: "rsa", Signer: keys.rsa2048}))
	both := sign(b, ed, relaxed(msgdkim.SignOptions{Selector: "rsa", Signer: keys.rsa2048}))
	for _, m := range []struct {
		name string
		msg  []byte
	}{{"ed25519", ed}, {"rsa2048", rsa}, {"both", both}} {
		n := strings.Count("\n"+string(m.msg), "\nDKIM-Signature:")
		b.Run("ours/"+m.name, func(b *testing.B) {
			v := &Verifier{LookupTXT: keys.ring.lookup}
			b.SetBytes(int64(len(m.msg)))
			b.ReportAllocs()
			for b.Loop() {
				header, rest := splitMessage(b, m.msg)
				sigs := Parse(header)
				if err := HashBodies(rest, sigs); err != nil {
					b.Fatal(err)
				}
				for _, s := range sigs {
					if r := v.Verify(context.Background(), header, s); r.Status != Pass {
						b.Fatal(r.Err)
					}
				}
			}
		})
		b.Run("go-msgauth/"+m.name, func(b *testing.B) {
			opts := &msgdkim.VerifyOptions{LookupTXT: func(name string) ([]string, error) {
				return keys.ring.lookup(context.Background(), name)
			}}
			b.SetBytes(int64(len(m.msg)))
			b.ReportAllocs()
			for b.Loop() {
				verifs, err := msgdkim.VerifyWithOptions(bytes.NewReader(m.msg), opts)
				if err != nil || len(verifs) != n {
					b.Fatalf("%d of %d signatures: %v", len(verifs), n, err)
				}
				for _, v := range verifs {
					if v.Err != nil {
						b.Fatal(v.Err)
					}
				}
			}
		})
	}
}

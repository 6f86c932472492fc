package dkimverify

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"testing"
	"time"

	"postel/internal/testenv"
)

// TestVerifiesDkimpySignatures: messages signed by another implementation,
// dkimpy, with both key types and every canonicalization, verify here, and
// fail once the body is changed.
func TestVerifiesDkimpySignatures(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})
	rsaPub, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ring := keyring{
		"rsa._domainkey.example.org": {"v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(rsaPub)},
		"ed._domainkey.example.org":  {"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(edPub)},
	}
	type signReq struct {
		Op       string              `json:"op"`
		Domain   string              `json:"domain"`
		Selector string              `json:"selector"`
		Key      string              `json:"key"`
		Alg      string              `json:"alg"`
		Headers  []string            `json:"headers"`
		Messages []map[string]string `json:"messages"`
	}
	// Not "bare CR" nor "CR before CRLF": dkimpy treats a CR without LF
	// as content in relaxed body canonicalization (as RFC 6376 reads),
	// go-msgauth and this package as a line end; smtpd refuses such
	// messages (RFC 5321 2.3.8), so neither verifier ever sees one here.
	bodies := []string{"plain", "empty", "one CRLF", "trailing blanks", "white space", "no final CRLF", "long line", "dot stuffed", "bare LF", "only white space"}
	for _, alg := range []struct{ name, selector, key string }{
		{"rsa-sha256", "rsa", string(rsaPEM)},
		{"ed25519-sha256", "ed", base64.StdEncoding.EncodeToString(edKey.Seed())},
	} {
		req := signReq{Op: "sign", Domain: "example.org", Selector: alg.selector, Key: alg.key, Alg: alg.name,
			Headers: []string{"From", "To", "Subject", "Date", "Message-ID", "X-Repeated"}}
		var names []string
		for _, hc := range []string{"simple", "relaxed"} {
			for _, bc := range []string{"simple", "relaxed"} {
				for _, b := range bodies {
					req.Messages = append(req.Messages, map[string]string{"msg": testenv.Latin1([]byte(testHeader + testBodies[b])), "hc": hc, "bc": bc})
					names = append(names, alg.name+" "+hc+"/"+bc+" "+b)
				}
			}
		}
		var signed []string
		testenv.Dkimpy(t, req, &signed)
		if len(signed) != len(names) {
			t.Fatalf("dkimpy signed %d of %d messages", len(signed), len(names))
		}
		for i, s := range signed {
			msg := testenv.FromLatin1(s)
			if got := ours(t, ring, msg, time.Now()); len(got) != 1 || got[0] != Pass {
				t.Errorf("%s: %v\n%s", names[i], got, msg)
			}
			changed := append(bytes.Clone(msg), "P.S. added\r\n"...)
			if got := ours(t, ring, changed, time.Now()); len(got) != 1 || got[0] != Fail {
				t.Errorf("%s, body changed: %v", names[i], got)
			}
		}
	}
}

package dkim

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	"postel/internal/dnsresolver"
	"postel/internal/fakedns"
)

const testMsg = "From: Alice <alice@example.org>\r\n" +
	"To: bob@example.net\r\n" +
	"Subject: hello\r\n" +
	"Date: Thu, 26 Nov 2026 01:00:00 +0000\r\n" +
	"Message-ID: <1@example.org>\r\n" +
	"\r\n" +
	"Hello Bob.\r\n"

func TestGenerateRecordsAndFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	recs, err := generate(dir, "Example.org", now)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("got %d records, want 2", len(recs))
	}
	if recs[0].Name != "ed202611._domainkey.example.org." || !strings.HasPrefix(recs[0].Value, "v=DKIM1; k=ed25519; p=") {
		t.Errorf("ed25519 record = %+v", recs[0])
	}
	if recs[1].Name != "rsa202611._domainkey.example.org." || !strings.HasPrefix(recs[1].Value, "v=DKIM1; k=rsa; p=") {
		t.Errorf("rsa record = %+v", recs[1])
	}
	// RSA-2048's SubjectPublicKeyInfo is ~400 base64 characters: it needs
	// two strings, each at most 255 octets.
	ss := recs[1].Strings()
	if len(ss) < 2 || strings.Join(ss, "") != recs[1].Value {
		t.Errorf("rsa strings = %q", ss)
	}
	for _, s := range ss {
		if len(s) > 255 {
			t.Errorf("string of %d octets", len(s))
		}
	}
	for _, sel := range []string{"ed202611", "rsa202611"} {
		fi, err := os.Stat(filepath.Join(dir, "example.org", sel+".key"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", sel, fi.Mode().Perm())
		}
	}
	if _, err := generate(dir, "example.org", now); !errors.Is(err, ErrExists) {
		t.Errorf("second generate: err = %v, want ErrExists", err)
	}
	if _, err := Records(dir, "other.example"); !errors.Is(err, ErrNoKeys) {
		t.Errorf("Records without keys: err = %v, want ErrNoKeys", err)
	}
	for _, bad := range []string{"", "../etc", "a/b.c", "nodot", ".hidden.org"} {
		if _, err := Generate(dir, bad); err == nil {
			t.Errorf("Generate(%q) succeeded", bad)
		}
	}
}

// TestSignVerifyThroughDNS publishes the generated records on the fake DNS
// and verifies both signatures the way a receiving MTA does.
func TestSignVerifyThroughDNS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	recs, err := Generate(dir, "example.org")
	if err != nil {
		t.Fatal(err)
	}
	dns := fakedns.Start(t)
	for _, r := range recs {
		dns.Add(r.Zone())
	}
	s := NewSigner(dir)
	if s.HasKeys("example.net") {
		t.Fatal("HasKeys for a domain without keys")
	}
	signed, err := s.SignMessage("example.org", []byte(testMsg))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(signed, []byte("DKIM-Signature:")); n != 2 {
		t.Fatalf("%d signatures, want 2", n)
	}
	vs := verify(t, dns.Addr, signed)
	if len(vs) != 2 {
		t.Fatalf("%d verifications, want 2", len(vs))
	}
	for _, v := range vs {
		if v.Err != nil || v.Domain != "example.org" {
			t.Errorf("verification %+v", v)
		}
	}
	// Relaxed/relaxed survives whitespace changes in transit...
	relaxed := bytes.Replace(signed, []byte("Subject: hello"), []byte("Subject:   hello"), 1)
	for _, v := range verify(t, dns.Addr, relaxed) {
		if v.Err != nil {
			t.Errorf("relaxed header change: %v", v.Err)
		}
	}
	// ...but not a changed body or an added From.
	altered := bytes.Replace(signed, []byte("Hello Bob."), []byte("Hello Eve."), 1)
	for _, v := range verify(t, dns.Addr, altered) {
		if v.Err == nil {
			t.Error("altered body verified")
		}
	}
	extraFrom := append([]byte("From: mallory@evil.example\r\n"), signed...)
	for _, v := range verify(t, dns.Addr, extraFrom) {
		if v.Err == nil {
			t.Error("added From verified")
		}
	}
	// No keys: nothing to sign, no error.
	sig, err := s.Sign("example.net", []byte(testMsg))
	if err != nil || sig != "" {
		t.Errorf("Sign without keys = %q, %v", sig, err)
	}
}

// TestSignerPicksUpNewKeys: keys generated after the signer was created are
// used without a restart (postel dkim generate while the server runs).
func TestSignerPicksUpNewKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := NewSigner(dir)
	if s.HasKeys("example.org") {
		t.Fatal("keys before generate")
	}
	if _, err := Generate(dir, "example.org"); err != nil {
		t.Fatal(err)
	}
	if !s.HasKeys("example.org") {
		t.Fatal("new keys not picked up")
	}
}

func verify(t *testing.T, dnsAddr string, msg []byte) []*msgdkim.Verification {
	t.Helper()
	r := dnsresolver.New(dnsAddr)
	vs, err := msgdkim.VerifyWithOptions(bytes.NewReader(msg), &msgdkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) { return r.LookupTXT(context.Background(), name) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

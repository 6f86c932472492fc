package dkimverify

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"
)

// keyring is a fake DNS zone of DKIM keys: selector._domainkey.domain ->
// TXT records.
type keyring map[string][]string

func (k keyring) lookup(_ context.Context, name string) ([]string, error) {
	if txts, ok := k[name]; ok {
		return txts, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// testKeys are the signers the tests use, each published in the keyring
// under its selector at example.org.
type testKeys struct {
	ed, rsa2048, rsa1024 crypto.Signer
	ring                 keyring
}

func newTestKeys(t testing.TB) *testKeys {
	t.Helper()
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	r1, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	k := &testKeys{ed: ed, rsa2048: r2, rsa1024: r1, ring: keyring{}}
	k.ring["ed._domainkey.example.org"] = []string{"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(ed.Public().(ed25519.PublicKey))}
	for sel, key := range map[string]*rsa.PrivateKey{"rsa": r2, "rsa1k": r1} {
		der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		k.ring[sel+"._domainkey.example.org"] = []string{"v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)}
	}
	return k
}

// sign adds a go-msgauth signature to msg.
func sign(t testing.TB, msg []byte, o msgdkim.SignOptions) []byte {
	t.Helper()
	if o.Domain == "" {
		o.Domain = "example.org"
	}
	var out bytes.Buffer
	if err := msgdkim.Sign(&out, bytes.NewReader(msg), &o); err != nil {
		t.Fatalf("signing: %v", err)
	}
	return out.Bytes()
}

// ours verifies every signature of msg with this package.
func ours(t testing.TB, ring keyring, msg []byte, now time.Time) []Status {
	t.Helper()
	header, body := splitMessage(t, msg)
	sigs := Parse(header)
	if err := HashBodies(body, sigs); err != nil {
		t.Fatal(err)
	}
	v := &Verifier{LookupTXT: ring.lookup, Now: func() time.Time { return now }}
	var out []Status
	for _, s := range sigs {
		out = append(out, v.Verify(context.Background(), header, s).Status)
	}
	return out
}

// theirs verifies every signature of msg with go-msgauth.
func theirs(t testing.TB, ring keyring, msg []byte) []Status {
	t.Helper()
	verifs, err := msgdkim.VerifyWithOptions(bytes.NewReader(msg), &msgdkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) { return ring.lookup(context.Background(), name) },
	})
	if err != nil {
		t.Fatalf("go-msgauth: %v", err)
	}
	var out []Status
	for _, v := range verifs {
		switch {
		case v.Err == nil:
			out = append(out, Pass)
		case msgdkim.IsTempFail(v.Err):
			out = append(out, TempError)
		case msgdkim.IsPermFail(v.Err):
			out = append(out, PermError)
		default:
			out = append(out, Fail)
		}
	}
	return out
}

// splitMessage splits msg into header fields and a body reader the way
// the checks do (a line starting with white space continues a field).
func splitMessage(t testing.TB, msg []byte) ([]Field, *bufio.Reader) {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(msg))
	var header []Field
	var raw []byte
	for {
		line, err := br.ReadBytes('\n')
		if len(line) == 0 || string(bytes.TrimRight(line, "\r\n")) == "" {
			break
		}
		raw = append(raw, line...)
		if (line[0] == ' ' || line[0] == '\t') && len(header) > 0 {
			last := &header[len(header)-1]
			last.Raw = append(last.Raw, line...)
		} else {
			name, _, _ := bytes.Cut(line, []byte(":"))
			header = append(header, Field{Name: strings.TrimSpace(string(name)), Raw: append([]byte(nil), line...)})
		}
		if err != nil {
			break
		}
	}
	return header, br
}

var testBodies = map[string]string{
	"plain":             "Hello,\r\n\r\nThis is a test.\r\n",
	"empty":             "",
	"one CRLF":          "\r\n",
	"trailing blanks":   "Text\r\n\r\n\r\n\r\n",
	"white space":       " leading\r\ntrailing \t \r\nin  the\t\tmiddle\r\n \r\n\t\r\nend",
	"no final CRLF":     "last line without end",
	"bare LF":           "line one\nline two\n\nline four\n\n",
	"bare CR":           "a\rb\r\nc\r",
	"CR before CRLF":    "x\r\r\ny \r\r\n",
	"only white space":  " \t \r\n  \r\n",
	"long line":         strings.Repeat("0123456789 ", 1000) + "\r\n",
	"dot stuffed":       ".\r\n..\r\n. \r\n",
	"many short writes": strings.Repeat("a \r\n", 3000),
}

const testHeader = "From: Alice <alice@example.org>\r\n" +
	"To: bob@example.net\r\n" +
	"Subject: a folded\r\n\tsubject  with   spaces \r\n" +
	"Date: Thu, 26 Nov 2026 04:00:00 +0000\r\n" +
	"X-Repeated: one\r\n" +
	"Message-ID: <1@example.org>\r\n" +
	"X-Repeated: two\r\n" +
	"\r\n"

// mutations change a signed message as transit might (or an attacker).
var mutations = map[string]func(string) string{
	"none":                 func(m string) string { return m },
	"body appended":        func(m string) string { return m + "P.S. added\r\n" },
	"blank lines appended": func(m string) string { return m + "\r\n\r\n" },
	"body white space":     func(m string) string { return strings.Replace(m, "\r\n\r\n", "\r\n\r\n \t", 1) },
	"CRLF to LF":           func(m string) string { return strings.ReplaceAll(m, "\r\n", "\n") },
	"subject refolded":     func(m string) string { return strings.Replace(m, "Subject: a folded", "Subject:   a\r\n  folded", 1) },
	"subject changed":      func(m string) string { return strings.Replace(m, "a folded", "A folded", 1) },
	"header name case":     func(m string) string { return strings.Replace(m, "\r\nTo:", "\r\nTO :", 1) },
	"subject added on top": func(m string) string { return "Subject: spoof\r\n" + m },
	"from added at bottom": func(m string) string {
		return strings.Replace(m, "\r\n\r\n", "\r\nFrom: mallory@example.com\r\n\r\n", 1)
	},
	"repeated added":        func(m string) string { return strings.Replace(m, "\r\n\r\n", "\r\nX-Repeated: three\r\n\r\n", 1) },
	"unsigned field added":  func(m string) string { return "Received: from somewhere\r\n" + m },
	"signature refolded":    func(m string) string { return strings.Replace(m, "; d=", ";\r\n d=", 1) },
	"signature space":       func(m string) string { return strings.Replace(m, "; s=", ";  s =", 1) },
	"b corrupted":           func(m string) string { return replaceTag(m, "b=", "b=AAAA") },
	"bh corrupted":          func(m string) string { return replaceTag(m, "bh=", "bh=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=") },
	"bh not base64":         func(m string) string { return replaceTag(m, "bh=", "bh=!!") },
	"unknown selector":      func(m string) string { return strings.Replace(m, "s=", "s=missing", 1) },
	"domain changed":        func(m string) string { return strings.Replace(m, "d=example.org", "d=example.net", 1) },
	"version missing":       func(m string) string { return strings.Replace(m, "v=1;", "", 1) },
	"version 2":             func(m string) string { return strings.Replace(m, "v=1;", "v=2;", 1) },
	"length tag":            func(m string) string { return strings.Replace(m, "v=1;", "v=1; l=5;", 1) },
	"sha1":                  func(m string) string { return strings.Replace(m, "-sha256", "-sha1", 1) },
	"unknown algorithm":     func(m string) string { return strings.Replace(m, "-sha256", "-sha512", 1) },
	"canonicalization bad":  func(m string) string { return replaceTag(m, "c=", "c=strange/simple") },
	"duplicate tag":         func(m string) string { return strings.Replace(m, "v=1;", "v=1; v=1;", 1) },
	"i= in domain":          func(m string) string { return strings.Replace(m, "v=1;", "v=1; i=@mail.example.org;", 1) },
	"i= outside domain":     func(m string) string { return strings.Replace(m, "v=1;", "v=1; i=@example.com;", 1) },
	"from not signed":       func(m string) string { return strings.Replace(m, "h=", "h=x-none:", 1) },
	"query method unknown":  func(m string) string { return strings.Replace(m, "v=1;", "v=1; q=http/get;", 1) },
	"query method explicit": func(m string) string { return strings.Replace(m, "v=1;", "v=1; q=dns/txt;", 1) },
}

// replaceTag replaces the first tag starting with prefix (up to its ";"
// or the end of the field) in the first DKIM-Signature of m.
func replaceTag(m, prefix, with string) string {
	start := strings.Index(m, "DKIM-Signature:")
	at := strings.Index(m[start:], " "+prefix)
	if at < 0 {
		at = strings.Index(m[start:], ";"+prefix)
	}
	if at < 0 {
		return m
	}
	at += start + 1
	end := at
	for end < len(m) && m[end] != ';' && !strings.HasPrefix(m[end:], "\r\n\r\n") && !(strings.HasPrefix(m[end:], "\r\n") && end+2 < len(m) && m[end+2] != ' ' && m[end+2] != '\t') {
		end++
	}
	return m[:at] + with + m[end:]
}

// TestAgreesWithGoMsgauth verifies messages signed by go-msgauth with
// every canonicalization and key type, then changed in transit, with
// both verifiers, and expects the same status for every signature.
func TestAgreesWithGoMsgauth(t *testing.T) {
	keys := newTestKeys(t)
	now := time.Now()
	signers := []struct {
		name string
		opts msgdkim.SignOptions
	}{
		{"ed25519", msgdkim.SignOptions{Selector: "ed", Signer: keys.ed}},
		{"rsa2048", msgdkim.SignOptions{Selector: "rsa", Signer: keys.rsa2048}},
		{"rsa1024", msgdkim.SignOptions{Selector: "rsa1k", Signer: keys.rsa1024}},
		{"oversigned", msgdkim.SignOptions{Selector: "ed", Signer: keys.ed, HeaderKeys: []string{"From", "From", "Subject", "X-Repeated", "X-Repeated", "X-Repeated", "Reply-To", "To"}}},
		{"identifier", msgdkim.SignOptions{Selector: "rsa", Signer: keys.rsa2048, Identifier: "alice@lists.example.org"}},
		{"expires", msgdkim.SignOptions{Selector: "ed", Signer: keys.ed, Expiration: now.Add(time.Hour)}},
	}
	canons := []msgdkim.Canonicalization{msgdkim.CanonicalizationSimple, msgdkim.CanonicalizationRelaxed}
	checked := map[Status]int{}
	for _, sg := range signers {
		for _, hc := range canons {
			for _, bc := range canons {
				for bodyName, body := range testBodies {
					o := sg.opts
					o.HeaderCanonicalization, o.BodyCanonicalization = hc, bc
					signed := sign(t, []byte(testHeader+body), o)
					// A second signature on top, as a list or our own
					// signer adds: both must be judged alike.
					o2 := msgdkim.SignOptions{Selector: "rsa", Signer: keys.rsa2048, HeaderCanonicalization: bc, BodyCanonicalization: hc}
					double := sign(t, signed, o2)
					for mutName, mutate := range mutations {
						for _, msg := range []string{string(signed), string(double)} {
							m := []byte(mutate(msg))
							want := theirs(t, keys.ring, m)
							got := ours(t, keys.ring, m, now)
							if fmt.Sprint(got) != fmt.Sprint(want) {
								t.Errorf("%s %s/%s body %q, %s: ours %v, go-msgauth %v\n%s", sg.name, hc, bc, bodyName, mutName, got, want, m)
							}
							for _, s := range want {
								checked[s]++
							}
						}
					}
				}
			}
		}
	}
	// The corpus exercises every outcome, or it proves less than it says.
	for _, s := range []Status{Pass, Fail, PermError} {
		if checked[s] == 0 {
			t.Errorf("no signature ended %s", s)
		}
	}
	t.Logf("signatures compared: %v", checked)
}

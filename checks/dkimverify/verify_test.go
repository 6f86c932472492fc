package dkimverify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"
)

// TestCanonicalizationExample is the example of RFC 6376 3.4.5.
func TestCanonicalizationExample(t *testing.T) {
	fields := []string{"A: X\r\n", "B : Y\t\r\n\tZ  \r\n"}
	var relaxedH, simpleH []byte
	for _, f := range fields {
		relaxedH = appendHeader(relaxedH, []byte(f), relaxed)
		simpleH = appendHeader(simpleH, []byte(f), simple)
	}
	if got, want := string(relaxedH), "a:X\r\nb:Y Z\r\n"; got != want {
		t.Errorf("relaxed header: %q, want %q", got, want)
	}
	if got, want := string(simpleH), strings.Join(fields, ""); got != want {
		t.Errorf("simple header: %q, want %q", got, want)
	}
	body := " C \r\nD \t E\r\n\r\n\r\n"
	for c, want := range map[canonicalization]string{relaxed: " C\r\nD E\r\n", simple: " C \r\nD \t E\r\n"} {
		if got := canonBody(c, body); got != want {
			t.Errorf("body (%d): %q, want %q", c, got, want)
		}
	}
	// RFC 6376 3.4.3, 3.4.4: an empty body is CRLF (simple) or nothing
	// (relaxed); bare LFs are line ends.
	for _, tc := range []struct {
		c          canonicalization
		body, want string
	}{
		{simple, "", "\r\n"},
		{relaxed, "", ""},
		{relaxed, " \r\n\t\r\n", ""},
		{simple, "a\nb\n\n", "a\r\nb\r\n"},
		{relaxed, "a \nb\n\n", "a\r\nb\r\n"},
		{simple, "a\r", "a\r\r\n"},
	} {
		if got := canonBody(tc.c, tc.body); got != tc.want {
			t.Errorf("body (%d) %q: %q, want %q", tc.c, tc.body, got, tc.want)
		}
	}
}

// canonBody canonicalizes body written one byte at a time, so that every
// state crosses a write boundary, and checks that one write agrees.
func canonBody(c canonicalization, body string) string {
	var whole, bytewise recorder
	h := newBodyHasher(c, &whole)
	h.Write([]byte(body))
	h.sum()
	h = newBodyHasher(c, &bytewise)
	for i := 0; i < len(body); i++ {
		h.Write([]byte{body[i]})
	}
	h.sum()
	if whole.String() != bytewise.String() {
		return "split writes disagree: " + bytewise.String()
	}
	return whole.String()
}

// recorder is a hash.Hash that keeps what it is given.
type recorder struct{ bytes.Buffer }

func (r *recorder) Sum(b []byte) []byte { return append(b, r.Bytes()...) }
func (r *recorder) Size() int           { return 0 }
func (r *recorder) BlockSize() int      { return 1 }

// verifyOne verifies the first signature of msg.
func verifyOne(t *testing.T, lookup func(context.Context, string) ([]string, error), msg []byte, now time.Time) Result {
	t.Helper()
	header, body := splitMessage(t, msg)
	sigs := Parse(header)
	if len(sigs) == 0 {
		t.Fatal("no signature")
	}
	if err := HashBodies(body, sigs); err != nil {
		t.Fatal(err)
	}
	v := &Verifier{LookupTXT: lookup, Now: func() time.Time { return now }}
	return v.Verify(context.Background(), header, sigs[0])
}

func TestKeyLookupOutcomes(t *testing.T) {
	keys := newTestKeys(t)
	msg := sign(t, []byte(testHeader+"body\r\n"), msgdkim.SignOptions{Selector: "ed", Signer: keys.ed})
	name := "ed._domainkey.example.org"
	edRecord := keys.ring[name][0]
	rsaDER, _ := x509.MarshalPKIXPublicKey(&keys.rsa2048.(*rsa.PrivateKey).PublicKey)
	rsaRecord := "v=DKIM1; p=" + base64.StdEncoding.EncodeToString(rsaDER)
	// crypto/rsa no longer makes 512-bit keys; any 512-bit modulus
	// will do, the key is refused before it is used.
	smallN, err := rand.Prime(rand.Reader, 512)
	if err != nil {
		t.Fatal(err)
	}
	smallDER := x509.MarshalPKCS1PublicKey(&rsa.PublicKey{N: smallN, E: 65537})
	hugeN := new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 8200), big.NewInt(1))
	hugeDER := x509.MarshalPKCS1PublicKey(&rsa.PublicKey{N: hugeN, E: 65537})
	for _, tc := range []struct {
		name    string
		records []string
		err     error
		want    Status
	}{
		{"published", []string{edRecord}, nil, Pass},
		{"not found", nil, &net.DNSError{Err: "no such host", IsNotFound: true}, PermError},
		{"no record", nil, nil, PermError},
		{"server failure", nil, &net.DNSError{Err: "server misbehaving", IsTemporary: true}, TempError},
		{"timeout", nil, &net.DNSError{Err: "i/o timeout", IsTimeout: true}, TempError},
		{"other failure", nil, errors.New("connection refused"), TempError},
		{"two records", []string{edRecord, edRecord}, nil, PermError},
		{"revoked", []string{"v=DKIM1; k=ed25519; p="}, nil, PermError},
		{"wrong version", []string{strings.Replace(edRecord, "DKIM1", "DKIM2", 1)}, nil, PermError},
		{"key type differs", []string{rsaRecord}, nil, PermError},
		{"hash not allowed", []string{edRecord + "; h=sha1"}, nil, PermError},
		{"hash allowed", []string{edRecord + "; h=sha1:sha256"}, nil, Pass},
		{"service not email", []string{edRecord + "; s=other"}, nil, PermError},
		{"service any", []string{edRecord + "; s=*"}, nil, Pass},
		{"testing flag", []string{edRecord + "; t=y"}, nil, Pass},
		{"strict without i=", []string{edRecord + "; t=s"}, nil, Pass},
		{"RSA key under 1024 bits", []string{"p=" + base64.StdEncoding.EncodeToString(smallDER)}, nil, PermError},
		{"RSA key over 8192 bits", []string{"p=" + base64.StdEncoding.EncodeToString(hugeDER)}, nil, PermError},
		{"garbage", []string{"this is not a key"}, nil, PermError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lookup := func(_ context.Context, got string) ([]string, error) {
				if got != name {
					t.Errorf("looked up %q, want %q", got, name)
				}
				return tc.records, tc.err
			}
			r := verifyOne(t, lookup, msg, time.Now())
			t.Logf("%s: %v", r.Status, r.Err)
			if r.Status != tc.want {
				t.Errorf("%s (%v), want %s", r.Status, r.Err, tc.want)
			}
		})
	}
}

// TestStrictKeyFlag: a key with t=s refuses an i= in a subdomain of d=
// (RFC 6376 3.6.1), and i= compares with d= ignoring case (3.5).
func TestStrictKeyFlag(t *testing.T) {
	keys := newTestKeys(t)
	strict := keyring{"ed._domainkey.example.org": {keys.ring["ed._domainkey.example.org"][0] + "; t=s"}}
	for _, tc := range []struct {
		identifier string
		ring       keyring
		want       Status
	}{
		{"alice@lists.example.org", keys.ring, Pass},
		{"alice@lists.example.org", strict, PermError},
		{"alice@example.org", strict, Pass},
		{"alice@EXAMPLE.org", strict, Pass},
	} {
		msg := sign(t, []byte(testHeader+"body\r\n"), msgdkim.SignOptions{Selector: "ed", Signer: keys.ed, Identifier: tc.identifier})
		if r := verifyOne(t, tc.ring.lookup, msg, time.Now()); r.Status != tc.want {
			t.Errorf("i=%s: %s (%v), want %s", tc.identifier, r.Status, r.Err, tc.want)
		}
	}
}

func TestExpiry(t *testing.T) {
	keys := newTestKeys(t)
	now := time.Now()
	msg := sign(t, []byte(testHeader+"body\r\n"), msgdkim.SignOptions{Selector: "ed", Signer: keys.ed, Expiration: now.Add(time.Hour)})
	if r := verifyOne(t, keys.ring.lookup, msg, now); r.Status != Pass {
		t.Errorf("before x=: %s (%v)", r.Status, r.Err)
	}
	if r := verifyOne(t, keys.ring.lookup, msg, now.Add(2*time.Hour)); r.Status != PermError {
		t.Errorf("after x=: %s, want permerror", r.Status)
	}
	// x= before t= is not a signature (RFC 6376 3.5).
	early := strings.Replace(string(msg), "v=1;", "v=1; t=9999999999;", 1)
	if r := verifyOne(t, keys.ring.lookup, []byte(early), now); r.Status != PermError {
		t.Errorf("x= before t=: %s, want permerror", r.Status)
	}
}

// TestUnicodeDomain: a d= in U-labels is queried as A-labels.
func TestUnicodeDomain(t *testing.T) {
	keys := newTestKeys(t)
	msg := sign(t, []byte(strings.Replace(testHeader, "example.org>", "bücher.example>", 1)+"body\r\n"),
		msgdkim.SignOptions{Domain: "bücher.example", Selector: "ed", Signer: keys.ed})
	ring := keyring{"ed._domainkey.xn--bcher-kva.example": keys.ring["ed._domainkey.example.org"]}
	if r := verifyOne(t, ring.lookup, msg, time.Now()); r.Status != Pass {
		t.Errorf("%s (%v), want pass", r.Status, r.Err)
	}
}

// TestHashBodiesOncePerCanonicalization: two signatures with the same body
// canonicalization share one hash of the body; a read error is returned
// and no signature passes on a body it did not see whole.
func TestHashBodies(t *testing.T) {
	keys := newTestKeys(t)
	msg := sign(t, []byte(testHeader+"body\r\n"), msgdkim.SignOptions{Selector: "ed", Signer: keys.ed,
		HeaderCanonicalization: msgdkim.CanonicalizationRelaxed, BodyCanonicalization: msgdkim.CanonicalizationRelaxed})
	msg = sign(t, msg, msgdkim.SignOptions{Selector: "rsa", Signer: keys.rsa2048,
		HeaderCanonicalization: msgdkim.CanonicalizationRelaxed, BodyCanonicalization: msgdkim.CanonicalizationRelaxed})
	header, body := splitMessage(t, msg)
	sigs := Parse(header)
	counter := &countingReader{r: body}
	if err := HashBodies(counter, sigs); err != nil {
		t.Fatal(err)
	}
	if rest := len(msg) - bytes.Index(msg, []byte("\r\n\r\n")) - 4; counter.n != rest {
		t.Errorf("read %d body bytes, the body has %d", counter.n, rest)
	}
	for _, s := range sigs {
		if s.body != bodyMatch {
			t.Errorf("%s: body state %d", s.Selector, s.body)
		}
	}

	header, _ = splitMessage(t, msg)
	sigs = Parse(header)
	broken := iotest.TimeoutReader(strings.NewReader("body\r\n"))
	if err := HashBodies(iotest.DataErrReader(broken), sigs); err == nil {
		t.Fatal("read error not returned")
	}
	v := &Verifier{LookupTXT: keys.ring.lookup}
	for _, s := range sigs {
		if r := v.Verify(context.Background(), header, s); r.Status == Pass {
			t.Errorf("%s passed on a body that was not read", s.Selector)
		}
	}
}

type countingReader struct {
	r interface{ Read([]byte) (int, error) }
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestParseTagList(t *testing.T) {
	tags, err := parseTagList(" v=1; a = rsa-sha256 ;\r\n\tb=ab\r\n cd; ")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(tags); got != 3 {
		t.Fatalf("%d tags", got)
	}
	if v, _ := lookup(tags, "a"); v != "rsa-sha256" {
		t.Errorf("a=%q", v)
	}
	if v, _ := lookup(tags, "b"); stripWSP(v) != "abcd" {
		t.Errorf("b=%q", v)
	}
	for _, bad := range []string{"v=1; v=1", "v=1; novalue", "=x"} {
		if _, err := parseTagList(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestWithoutB empties b= only, wherever it stands, and never bh=.
func TestWithoutB(t *testing.T) {
	for in, want := range map[string]string{
		"DKIM-Signature: v=1; bh=xyz; b=abc\r\n":            "DKIM-Signature: v=1; bh=xyz; b=",
		"DKIM-Signature: b=abc\r\n d\r\n ef; v=1; bh=x\r\n": "DKIM-Signature: b=; v=1; bh=x\r\n",
		"DKIM-Signature: v=1; b = abc ; d=x\r\n":            "DKIM-Signature: v=1; b =; d=x\r\n",
		"DKIM-Signature: v=1; bh=abc\r\n":                   "DKIM-Signature: v=1; bh=abc\r\n",
	} {
		if got := string(withoutB([]byte(in))); got != want {
			t.Errorf("withoutB(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHeaderHashPicksBottomUp: h= takes instances of a field from the
// bottom, and a name listed more often than the field occurs adds nothing
// (RFC 6376 5.4.2).
func TestHeaderHashPicksBottomUp(t *testing.T) {
	header := []Field{
		{"X", []byte("X: first\r\n")},
		{"Y", []byte("Y: y\r\n")},
		{"X", []byte("X: second\r\n")},
		{"DKIM-Signature", []byte("DKIM-Signature: v=1; b=sig\r\n")},
	}
	s := &Signature{Field: 3, headers: []string{"x", "X", "x", "y"}, headerCanon: relaxed}
	want := sha256.Sum256([]byte("x:second\r\nx:first\r\ny:y\r\ndkim-signature:v=1; b="))
	if got := headerHash(header, s); !bytes.Equal(got, want[:]) {
		t.Error("header hash differs from the fields picked bottom-up")
	}
}

// TestHeaderHashLongLists: past the scan's threshold the fields are
// indexed by name, with the same result.
func TestHeaderHashLongLists(t *testing.T) {
	var header []Field
	for i := range 300 {
		name := []string{"Received", "X-A", "x-b"}[i%3]
		header = append(header, Field{name, fmt.Appendf(nil, "%s: %d\r\n", name, i)})
	}
	header = append(header, Field{"DKIM-Signature", []byte("DKIM-Signature: v=1; b=sig\r\n")})
	names := []string{"x-a", "X-B", "nope", "received"}
	for range 5 {
		names = append(names, names...)
	}
	s := &Signature{Field: len(header) - 1, headers: names, headerCanon: relaxed}
	if len(s.headers)*len(header) <= 4096 {
		t.Fatal("the lists are too short to take the indexed path")
	}
	got := headerHash(header, s)
	// The same fields picked by the plain scan.
	var data []byte
	taken := make([]bool, len(header))
	for _, name := range names {
		for i := len(header) - 1; i >= 0; i-- {
			if !taken[i] && strings.EqualFold(header[i].Name, name) {
				taken[i] = true
				data = appendHeader(data, header[i].Raw, relaxed)
				break
			}
		}
	}
	data = append(data, "dkim-signature:v=1; b="...)
	want := sha256.Sum256(data)
	if !bytes.Equal(got, want[:]) {
		t.Error("indexed header hash differs from the scan")
	}
}

package checks

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"testing/iotest"
)

func TestDKIMPassAndFail(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	k := newEd25519Key(t, "signer.example", "sel1")
	h.dns.Add(k.record(t), `_dmarc.signer.example. TXT "v=DMARC1; p=reject"`)
	signed := k.sign(t, message("Alice <alice@signer.example>"))

	// SPF gives nothing (MAIL FROM elsewhere, no record): only DKIM can
	// carry DMARC.
	v := h.check(t, "127.0.0.1", "c.example", "bounce@elsewhere.example", signed)
	rs := results(t, v)
	if got := value(t, rs, "dkim"); got != "pass" {
		t.Fatalf("dkim=%s, want pass; header %q", got, v.Header)
	}
	if got := value(t, rs, "dmarc"); got != "pass" || v.Action != Accept {
		t.Fatalf("dmarc=%s action %v, want pass/accept", got, v.Action)
	}
	fields, raw, _ := readHeader(bufio.NewReader(strings.NewReader(signed)))
	_, sigs, _ := dkimSignatures(fields, raw)
	for _, want := range []string{"header.d=signer.example", "header.s=sel1", "header.b=" + sigs[0].B[:12]} {
		if !strings.Contains(v.Header, want) {
			t.Errorf("header %q lacks %q", v.Header, want)
		}
	}

	// Alter the body: the body hash no longer matches.
	altered := strings.Replace(signed, "Hello.", "Hello!", 1)
	v = h.check(t, "127.0.0.1", "c.example", "bounce@elsewhere.example", altered)
	rs = results(t, v)
	if got := value(t, rs, "dkim"); got != "fail" {
		t.Fatalf("altered body: dkim=%s, want fail; header %q", got, v.Header)
	}
	if !strings.Contains(v.Header, "body hash did not verify") {
		t.Errorf("header %q lacks the reason", v.Header)
	}
	if got := value(t, rs, "dmarc"); got != "fail" || v.Action != Reject {
		t.Fatalf("altered body: dmarc=%s action %v, want fail/reject", got, v.Action)
	}
	if v.Reject == nil || v.Reject.Code != 550 || v.Reject.Enhanced != [3]int{5, 7, 1} {
		t.Fatalf("rejection = %+v, want 550 5.7.1", v.Reject)
	}

	// Alter a signed header field: the signature no longer verifies.
	altered = strings.Replace(signed, "Subject: test", "Subject: tset", 1)
	v = h.check(t, "127.0.0.1", "c.example", "bounce@elsewhere.example", altered)
	if got := value(t, results(t, v), "dkim"); got != "fail" {
		t.Fatalf("altered header: dkim=%s, want fail", got)
	}
}

func TestDKIMErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	nokey := newEd25519Key(t, "signer.example", "nokey")
	broken := newEd25519Key(t, "signer.example", "broken")
	h.dns.Fail("broken._domainkey.signer.example")
	// No key published: permerror.
	v := h.check(t, "127.0.0.1", "c.example", "a@signer.example", nokey.sign(t, message("alice@signer.example")))
	if got := value(t, results(t, v), "dkim"); got != "permerror" {
		t.Errorf("no key: dkim=%s, want permerror; %q", got, v.Header)
	}
	// Key lookup SERVFAIL: temperror, without resolver detail, and not
	// cached: the next message asks again.
	for range 2 {
		v = h.check(t, "127.0.0.1", "c.example", "a@signer.example", broken.sign(t, message("alice@signer.example")))
		if got := value(t, results(t, v), "dkim"); got != "temperror" {
			t.Errorf("SERVFAIL: dkim=%s, want temperror; %q", got, v.Header)
		}
		if strings.Contains(v.Header, "127.0.0.1:") {
			t.Errorf("header leaks resolver detail: %q", v.Header)
		}
	}
	// No signature at all.
	v = h.check(t, "127.0.0.1", "c.example", "a@signer.example", message("alice@signer.example"))
	if got := value(t, results(t, v), "dkim"); got != "none" {
		t.Errorf("unsigned: dkim=%s, want none", got)
	}
}

// TestDKIMEverySignature: with no pass aligned with From:, every
// signature is verified and gets its own result, in header order.
func TestDKIMEverySignature(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	good := newEd25519Key(t, "signer.example", "good")
	other := newEd25519Key(t, "third.example", "s")
	h.dns.Add(good.record(t)) // third.example's key is not published
	// From: a third domain: neither signature is aligned.
	msg := other.sign(t, good.sign(t, message("alice@author.example")))
	v := h.check(t, "127.0.0.1", "c.example", "a@x.example", msg)
	rs := results(t, v)
	if len(rs["dkim"]) != 2 {
		t.Fatalf("got %d dkim results, want 2: %q", len(rs["dkim"]), v.Header)
	}
	if !strings.Contains(v.Header, "dkim=permerror") || !strings.Contains(v.Header, "dkim=pass") ||
		strings.Index(v.Header, "dkim=permerror") > strings.Index(v.Header, "dkim=pass") {
		t.Errorf("want permerror (third.example, outermost) then pass: %q", v.Header)
	}
}

// TestReadError: a message that cannot be read (our spool, not the
// sender) is a temporary failure, in the header or in the body.
func TestReadError(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	k := newEd25519Key(t, "signer.example", "s")
	h.dns.Add(k.record(t))
	signed := k.sign(t, message("a@signer.example"))
	env := Envelope{RemoteIP: netip.MustParseAddr("127.0.0.1"), Helo: "c.example", MailFrom: "a@signer.example"}
	for _, cut := range []int{10, len(signed) - 3} {
		r := io.MultiReader(strings.NewReader(signed[:cut]), iotest.ErrReader(errors.New("disk on fire")))
		v := h.c.CheckMessage(context.Background(), env, r)
		if v.Action != Reject || v.Reject == nil || v.Reject.String() != "451 4.3.0 Temporary local problem, try again later" {
			t.Errorf("cut at %d: %v %v", cut, v.Action, v.Reject)
		}
	}
	if Accept.String() != "accept" || Junk.String() != "junk" || Reject.String() != "reject" {
		t.Error("Action.String")
	}
}

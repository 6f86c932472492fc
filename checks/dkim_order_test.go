package checks

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/authres"
	msgdkim "github.com/emersion/go-msgauth/dkim"
)

// The order in which signatures are tried and when the search stops
// (verifyDKIM; RFC 6376 6.1). Every test looks at the
// Authentication-Results field and the log line, which lists every
// signature, "unverified" for those not tried.

// dkimLog returns the "dkim" attribute of the last log line.
func dkimLog(t *testing.T, h *harness) string {
	t.Helper()
	lines := h.logs.lines(t)
	if len(lines) == 0 {
		t.Fatal("no log line")
	}
	s, _ := lines[len(lines)-1]["dkim"].(string)
	return s
}

// dkimResults returns "result d=domain" for each dkim result in the
// header, in order.
func dkimResults(t *testing.T, v Verdict) []string {
	t.Helper()
	var out []string
	for _, r := range results(t, v)["dkim"] {
		d, ok := r.(*authres.DKIMResult)
		if !ok {
			t.Fatalf("dkim result %#v", r)
		}
		out = append(out, string(d.Value)+" d="+d.Domain)
	}
	return out
}

func equal(a, b []string) bool { return strings.Join(a, "|") == strings.Join(b, "|") }

// TestDKIMAlignedPassStops: the signature aligned with From: is tried
// first even though it is not the outermost, and once it passes the
// other is not verified: left out of the header, "unverified" in the log.
func TestDKIMAlignedPassStops(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	good := newEd25519Key(t, "signer.example", "good")
	other := newEd25519Key(t, "third.example", "s")
	h.dns.Add(good.record(t), `_dmarc.signer.example. TXT "v=DMARC1; p=reject"`) // third.example's key is not published
	msg := other.sign(t, good.sign(t, message("alice@signer.example")))
	v := h.check(t, "127.0.0.1", "c.example", "a@x.example", msg)
	if got := dkimResults(t, v); !equal(got, []string{"pass d=signer.example"}) {
		t.Errorf("dkim results %q, want only the aligned pass; %q", got, v.Header)
	}
	if value(t, results(t, v), "dmarc") != "pass" || v.Action != Accept {
		t.Errorf("%q action %v", v.Header, v.Action)
	}
	if got := dkimLog(t, h); got != "unverified(d=third.example) pass(d=signer.example)" {
		t.Errorf("log dkim=%q", got)
	}
}

// TestDKIMFailingAlignedDoesNotStop: an aligned signature that fails
// (key not published, then body hash) is followed by the next one.
func TestDKIMFailingAlignedDoesNotStop(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	good := newEd25519Key(t, "signer.example", "good")
	nokey := newEd25519Key(t, "signer.example", "nokey")
	h.dns.Add(good.record(t), `_dmarc.signer.example. TXT "v=DMARC1; p=reject"`)
	v := h.check(t, "127.0.0.1", "c.example", "a@x.example", nokey.sign(t, good.sign(t, message("alice@signer.example"))))
	if got := dkimResults(t, v); !equal(got, []string{"permerror d=signer.example", "pass d=signer.example"}) {
		t.Errorf("dkim results %q; %q", got, v.Header)
	}
	if value(t, results(t, v), "dmarc") != "pass" || v.Action != Accept {
		t.Errorf("%q action %v", v.Header, v.Action)
	}

	// The outer signature covers a body that was then changed: it fails
	// on the body hash; the inner one, over the original, passes.
	bad := newEd25519Key(t, "signer.example", "bad")
	h.dns.Add(bad.record(t))
	inner := good.sign(t, message("alice@signer.example"))
	outer := bad.sign(t, strings.Replace(inner, "Hello.", "Hello!", 1))
	outer = strings.Replace(outer, "Hello!", "Hello.", 1)
	v = h.check(t, "127.0.0.1", "c.example", "a@x.example", outer)
	if got := dkimResults(t, v); !equal(got, []string{"fail d=signer.example", "pass d=signer.example"}) {
		t.Errorf("dkim results %q; %q", got, v.Header)
	}
	if value(t, results(t, v), "dmarc") != "pass" {
		t.Errorf("%q", v.Header)
	}
}

// TestDKIMUnalignedPassDoesNotStop: a passing signature that is not
// aligned under the policy's adkim=s (the organizational domain signing
// for a subdomain) is tried first (relaxed order) but does not end the
// search; the strictly aligned one after it passes DMARC.
func TestDKIMUnalignedPassDoesNotStop(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	org := newEd25519Key(t, "signer.example", "org")
	sub := newRSAKey(t, "mail.signer.example", "sub")
	h.dns.Add(org.record(t), sub.record(t), `_dmarc.mail.signer.example. TXT "v=DMARC1; p=reject; adkim=s"`)
	msg := org.sign(t, sub.sign(t, message("alice@mail.signer.example")))
	v := h.check(t, "127.0.0.1", "c.example", "a@x.example", msg)
	if got := dkimResults(t, v); !equal(got, []string{"pass d=signer.example", "pass d=mail.signer.example"}) {
		t.Errorf("dkim results %q; %q", got, v.Header)
	}
	rs := results(t, v)
	if value(t, rs, "dmarc") != "pass" || v.Action != Accept {
		t.Errorf("%q action %v", v.Header, v.Action)
	}
	if !strings.Contains(v.Header, `dmarc=pass reason="aligned DKIM d=mail.signer.example"`) {
		t.Errorf("dmarc reason: %q", v.Header)
	}

	// An unaligned pass from another domain entirely, outermost: still
	// tried after the aligned one, which fails, and then DMARC fails.
	third := newEd25519Key(t, "third.example", "s")
	nokey := newEd25519Key(t, "mail.signer.example", "nokey")
	h.dns.Add(third.record(t))
	v = h.check(t, "127.0.0.1", "c.example", "a@x.example", third.sign(t, nokey.sign(t, message("alice@mail.signer.example"))))
	if got := dkimResults(t, v); !equal(got, []string{"pass d=third.example", "permerror d=mail.signer.example"}) {
		t.Errorf("dkim results %q; %q", got, v.Header)
	}
	if value(t, results(t, v), "dmarc") != "fail" || v.Action != Reject {
		t.Errorf("%q action %v", v.Header, v.Action)
	}
}

// TestDKIMMaxSignaturesPrefersAligned: with room for one verification,
// the aligned signature is the one verified, wherever it is.
func TestDKIMMaxSignaturesPrefersAligned(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *Options) { o.MaxDKIMSignatures = 1 })
	good := newEd25519Key(t, "signer.example", "good")
	junk := newEd25519Key(t, "junk.example", "s")
	h.dns.Add(good.record(t), junk.record(t))
	msg := junk.sign(t, junk.sign(t, good.sign(t, message("alice@signer.example"))))
	v := h.check(t, "127.0.0.1", "c.example", "a@x.example", msg)
	if got := dkimResults(t, v); !equal(got, []string{"pass d=signer.example"}) {
		t.Errorf("dkim results %q; %q", got, v.Header)
	}
	if got := dkimLog(t, h); got != "unverified(d=junk.example) unverified(d=junk.example) pass(d=signer.example)" {
		t.Errorf("log dkim=%q", got)
	}
}

// TestDKIMVerifyAll: the option reports every signature; without it, a
// message read once (no Seek) gets the same default as any other, the
// aligned pass alone.
func TestDKIMVerifyAll(t *testing.T) {
	t.Parallel()
	good := newEd25519Key(t, "signer.example", "good")
	other := newRSAKey(t, "third.example", "s")
	msg := other.sign(t, good.sign(t, message("alice@signer.example")))

	h := newHarness(t, func(o *Options) { o.DKIMVerifyAll = true })
	h.dns.Add(good.record(t), other.record(t))
	v := h.check(t, "127.0.0.1", "c.example", "a@x.example", msg)
	if got, want := dkimResults(t, v), []string{"pass d=third.example", "pass d=signer.example"}; !equal(got, want) {
		t.Errorf("DKIMVerifyAll: dkim results %q; %q", got, v.Header)
	}

	h = newHarness(t, nil)
	h.dns.Add(good.record(t), other.record(t))
	env := Envelope{RemoteIP: netip.MustParseAddr("127.0.0.1"), Helo: "c.example", MailFrom: "a@x.example"}
	v = h.c.CheckMessage(context.Background(), env, io.MultiReader(strings.NewReader(msg))) // no Seek
	if got, want := dkimResults(t, v), []string{"pass d=signer.example"}; !equal(got, want) {
		t.Errorf("unseekable: dkim results %q; %q", got, v.Header)
	}
	if value(t, results(t, v), "dmarc") != "none" || v.Action != Accept {
		t.Errorf("%q action %v", v.Header, v.Action)
	}
}

// TestDKIMSignatureOverSignatures: a signature whose h= covers
// DKIM-Signature hashes the other signature too; it verifies on the
// message as received, and altering the signature it covers breaks it.
func TestDKIMSignatureOverSignatures(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	inner := newEd25519Key(t, "third.example", "in")
	outer := newEd25519Key(t, "signer.example", "out")
	h.dns.Add(inner.record(t), outer.record(t))
	var b bytes.Buffer
	err := msgdkim.Sign(&b, strings.NewReader(inner.sign(t, message("alice@signer.example"))), &msgdkim.SignOptions{
		Domain: outer.domain, Selector: outer.selector, Signer: outer.signer,
		HeaderCanonicalization: msgdkim.CanonicalizationRelaxed, BodyCanonicalization: msgdkim.CanonicalizationRelaxed,
		HeaderKeys: []string{"From", "Subject", "DKIM-Signature"},
	})
	if err != nil {
		t.Fatal(err)
	}
	v := h.check(t, "127.0.0.1", "c.example", "a@x.example", b.String())
	if got := dkimResults(t, v); !equal(got, []string{"pass d=signer.example"}) {
		t.Errorf("dkim results %q; %q", got, v.Header)
	}
	// Altering the inner signature breaks the outer one (and itself:
	// a signature's hash covers its own field).
	broken := strings.Replace(b.String(), "s=in;", "s=in ;", 1)
	v = h.check(t, "127.0.0.1", "c.example", "a@x.example", broken)
	if got := dkimResults(t, v); !equal(got, []string{"fail d=signer.example", "fail d=third.example"}) {
		t.Errorf("dkim results %q; %q", got, v.Header)
	}
}

// TestDKIMMessageNotAtStart: CheckMessage reads from where msg stands,
// not from offset 0.
func TestDKIMMessageNotAtStart(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	good := newEd25519Key(t, "signer.example", "good")
	nokey := newEd25519Key(t, "signer.example", "nokey")
	h.dns.Add(good.record(t))
	msg := nokey.sign(t, good.sign(t, message("alice@signer.example")))
	r := strings.NewReader("garbage before the message\r\n" + msg)
	if _, err := r.Seek(int64(len("garbage before the message\r\n")), io.SeekStart); err != nil {
		t.Fatal(err)
	}
	env := Envelope{RemoteIP: netip.MustParseAddr("127.0.0.1"), Helo: "c.example", MailFrom: "a@x.example"}
	v := h.c.CheckMessage(context.Background(), env, r)
	if got := dkimResults(t, v); !equal(got, []string{"permerror d=signer.example", "pass d=signer.example"}) {
		t.Errorf("dkim results %q; %q", got, v.Header)
	}
}

// TestDKIMStopAgreesWithVerifyAll compares the default (stop at the first
// aligned pass) with DKIMVerifyAll on messages with two or three
// signatures, intact and damaged in various ways, with and without an
// aligned SPF pass: the action, the DMARC result and every DKIM result the
// default reports must be what verifying everything says.
// SkipDKIMWhenSPFAligned must give the same action and DMARC result.
func TestDKIMStopAgreesWithVerifyAll(t *testing.T) {
	t.Parallel()
	def := newHarness(t, nil)
	all := newHarness(t, func(o *Options) { o.DKIMVerifyAll = true })
	skip := newHarness(t, func(o *Options) { o.SkipDKIMWhenSPFAligned = true })
	ed := newEd25519Key(t, "signer.example", "ed")
	rsa := newRSAKey(t, "signer.example", "rsa")
	sub := newEd25519Key(t, "mail.signer.example", "sub")
	third := newEd25519Key(t, "third.example", "s")
	nokey := newEd25519Key(t, "signer.example", "nokey")
	for _, h := range []*harness{def, all, skip} {
		h.dns.Add(ed.record(t), rsa.record(t), sub.record(t), third.record(t),
			`signer.example. TXT "v=spf1 ip4:127.0.0.1 -all"`,
			`_dmarc.signer.example. TXT "v=DMARC1; p=reject; adkim=s"`,
			`_dmarc.other.example. TXT "v=DMARC1; p=quarantine"`)
	}
	base := message("alice@signer.example") + "Second line.\r\n"
	msgs := map[string]string{
		"ed+rsa":           rsa.sign(t, ed.sign(t, base)),
		"third+ed":         third.sign(t, ed.sign(t, base)),
		"nokey+sub+ed":     nokey.sign(t, sub.sign(t, ed.sign(t, base))),
		"sub+third":        sub.sign(t, third.sign(t, base)),
		"other author":     rsa.sign(t, ed.sign(t, message("bob@other.example"))),
		"subdomain author": ed.sign(t, sub.sign(t, message("bob@mail.signer.example"))),
	}
	for name, m := range map[string]string{"ed+rsa": msgs["ed+rsa"], "third+ed": msgs["third+ed"], "nokey+sub+ed": msgs["nokey+sub+ed"]} {
		msgs[name+"/body changed"] = strings.Replace(m, "Second line.", "Second line!", 1)
		msgs[name+"/subject changed"] = strings.Replace(m, "Subject: test", "Subject: tset", 1)
		msgs[name+"/bare LF"] = strings.ReplaceAll(m, "\r\n", "\n")
		msgs[name+"/no body"] = m[:strings.Index(m, "\r\n\r\n")+4]
		msgs[name+"/header only"] = m[:strings.Index(m, "\r\n\r\n")+2]
		msgs[name+"/two From"] = "From: mallory@evil.example\r\n" + m
	}
	stopped := 0
	for name, m := range msgs {
		for _, mailFrom := range []string{"a@x.example", "a@signer.example"} {
			name := name + " from " + mailFrom
			vd := def.check(t, "127.0.0.1", "c.example", mailFrom, m)
			va := all.check(t, "127.0.0.1", "c.example", mailFrom, m)
			vs := skip.check(t, "127.0.0.1", "c.example", mailFrom, m)
			if vd.Action != va.Action || vs.Action != va.Action {
				t.Errorf("%s: action %v, verify-all %v, skip %v", name, vd.Action, va.Action, vs.Action)
			}
			rd, ra := results(t, vd), results(t, va)
			if value(t, rd, "dmarc") != value(t, ra, "dmarc") || value(t, results(t, vs), "dmarc") != value(t, ra, "dmarc") {
				t.Errorf("%s: dmarc differs:\n%s\n%s\n%s", name, vd.Header, va.Header, vs.Header)
			}
			if len(ra["dkim"]) > 0 && len(rd["dkim"]) == 0 {
				t.Errorf("%s: no dkim result:\n%s", name, vd.Header)
			}
			if len(rd["dkim"]) < len(ra["dkim"]) {
				stopped++
			}
			for _, line := range strings.Split(vd.Header, "\r\n") {
				if strings.Contains(line, "dkim=") && !strings.Contains(va.Header, line) {
					t.Errorf("%s: %q not what verify-all says:\n%s", name, line, va.Header)
				}
			}
		}
	}
	if stopped < 3 {
		t.Errorf("only %d messages had signatures left unverified; the test lost its point", stopped)
	}
}

// TestSkipDKIMWhenSPFAligned: with the option, a message whose SPF passes
// aligned with From: has its signatures left unverified (even a broken
// one: DMARC passes on SPF alone, the same verdict verifying would give)
// and no dkim result in the header; without that SPF pass they are
// verified as usual.
func TestSkipDKIMWhenSPFAligned(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *Options) { o.SkipDKIMWhenSPFAligned = true })
	good := newEd25519Key(t, "signer.example", "good")
	h.dns.Add(good.record(t),
		`signer.example. TXT "v=spf1 ip4:127.0.0.1 -all"`,
		`mail.signer.example. TXT "v=spf1 ip4:127.0.0.1 -all"`,
		`_dmarc.signer.example. TXT "v=DMARC1; p=reject; aspf=s"`)
	signed := good.sign(t, message("alice@signer.example"))
	broken := strings.Replace(signed, "Hello.", "Hello!", 1)

	// SPF passes for signer.example itself: aligned even under aspf=s.
	for name, m := range map[string]string{"good": signed, "broken": broken} {
		v := h.check(t, "127.0.0.1", "c.example", "bounce@signer.example", m)
		rs := results(t, v)
		if len(rs["dkim"]) != 0 || value(t, rs, "spf") != "pass" || value(t, rs, "dmarc") != "pass" || v.Action != Accept {
			t.Errorf("%s: %q action %v, want spf and dmarc pass, no dkim result", name, v.Header, v.Action)
		}
		if got := dkimLog(t, h); got != "unverified(d=signer.example)" {
			t.Errorf("%s: log dkim=%q", name, got)
		}
	}
	// SPF passes for a subdomain: not aligned under aspf=s, so DKIM is
	// verified, and decides.
	v := h.check(t, "127.0.0.1", "c.example", "bounce@mail.signer.example", broken)
	if got := dkimResults(t, v); !equal(got, []string{"fail d=signer.example"}) || v.Action != Reject {
		t.Errorf("subdomain SPF: dkim %q action %v; %q", got, v.Action, v.Header)
	}
	v = h.check(t, "127.0.0.1", "c.example", "bounce@mail.signer.example", signed)
	if got := dkimResults(t, v); !equal(got, []string{"pass d=signer.example"}) || v.Action != Accept {
		t.Errorf("subdomain SPF: dkim %q action %v; %q", got, v.Action, v.Header)
	}
	// SPF fails (another address): DKIM is verified.
	v = h.check(t, "127.0.0.2", "c.example", "bounce@signer.example", signed)
	if got := dkimResults(t, v); !equal(got, []string{"pass d=signer.example"}) || value(t, results(t, v), "spf") != "fail" || v.Action != Accept {
		t.Errorf("SPF fail: dkim %q action %v; %q", got, v.Action, v.Header)
	}
	// Unsigned with an aligned SPF pass: dkim=none as always.
	v = h.check(t, "127.0.0.1", "c.example", "bounce@signer.example", message("alice@signer.example"))
	if value(t, results(t, v), "dkim") != "none" || v.Action != Accept {
		t.Errorf("unsigned: %q", v.Header)
	}
}

package checks

import (
	"fmt"
	"strings"
	"testing"

	postdkim "postel/dkim"
)

// TestRoundTripOutboundSigner: a message signed by our own outbound signer
// (postel/dkim: Ed25519 and RSA-2048, relaxed/relaxed), with the TXT
// records it tells the admin to publish, passes our own inbound checks.
//
// Both of its signatures must verify (DKIMVerifyAll reports each); by
// default verification stops at the first, which passes aligned.
func TestRoundTripOutboundSigner(t *testing.T) {
	t.Parallel()
	for _, all := range []bool{true, false} {
		t.Run(fmt.Sprintf("verifyAll=%v", all), func(t *testing.T) {
			t.Parallel()
			roundTripOutboundSigner(t, all)
		})
	}
}

func roundTripOutboundSigner(t *testing.T, verifyAll bool) {
	h := newHarness(t, func(o *Options) {
		o.IsLocalDomain = func(d string) bool { return d == "sender.example" }
		o.DKIMVerifyAll = verifyAll
	})
	dir := t.TempDir()
	recs, err := postdkim.Generate(dir, "sender.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		h.dns.Add(r.Zone())
	}
	h.dns.Add(`_dmarc.sender.example. TXT "v=DMARC1; p=reject; adkim=s; aspf=s"`)
	msg := message("Alice <alice@sender.example>") + strings.Repeat("Some body text that goes on for a while.\r\n", 50)
	signed, err := postdkim.NewSigner(dir).SignMessage("sender.example", []byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	// The envelope sender has no SPF record: DKIM alone must carry it.
	v := h.check(t, "127.0.0.1", "out.sender.example", "alice@sender.example", string(signed))
	rs := results(t, v)
	if want := map[bool]int{true: 2, false: 1}[verifyAll]; len(rs["dkim"]) != want {
		t.Fatalf("want %d DKIM results: %q", want, v.Header)
	}
	if verifyAll && (!strings.Contains(v.Header, "header.s=ed2") || !strings.Contains(v.Header, "header.s=rsa2")) {
		t.Errorf("want the Ed25519 and the RSA signature: %q", v.Header)
	}
	for _, r := range rs["dkim"] {
		if got := value(t, map[string][]resultT{"dkim": {r}}, "dkim"); got != "pass" {
			t.Errorf("dkim=%s; header %q", got, v.Header)
		}
	}
	if got := value(t, rs, "dmarc"); got != "pass" || v.Action != Accept {
		t.Errorf("dmarc=%s action %v; header %q", got, v.Action, v.Header)
	}
}

// TestRoundTripGoMsgauth signs with go-msgauth directly, both key types,
// relaxed/relaxed, the way the outbound signer is specified to.
func TestRoundTripGoMsgauth(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ed := newEd25519Key(t, "direct.example", "ed")
	rsa := newRSAKey(t, "direct.example", "rsa")
	h.dns.Add(ed.record(t), rsa.record(t), `_dmarc.direct.example. TXT "v=DMARC1; p=reject"`)
	for name, k := range map[string]testKey{"ed25519": ed, "rsa-2048": rsa} {
		v := h.check(t, "127.0.0.1", "c.example", "a@nospf.example", k.sign(t, message("a@direct.example")))
		rs := results(t, v)
		if value(t, rs, "dkim") != "pass" || value(t, rs, "dmarc") != "pass" || v.Action != Accept {
			t.Errorf("%s: %q action %v", name, v.Header, v.Action)
		}
	}
}

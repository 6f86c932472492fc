package checks

import (
	"testing"

	"github.com/emersion/go-msgauth/dmarc"
)

func TestOrgDomain(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"example.com":           "example.com",
		"a.b.example.com":       "example.com",
		"mail.example.co.uk":    "example.co.uk",
		"x.example.com.au":      "example.com.au",
		"com":                   "com",
		"sub.unlisted-tld-zz":   "sub.unlisted-tld-zz",
		"a.sub.unlisted-tld-zz": "sub.unlisted-tld-zz",
	} {
		if got := orgDomain(in); got != want {
			t.Errorf("orgDomain(%q) = %q, want %q", in, got, want)
		}
	}
	for _, tc := range []struct {
		auth, from string
		mode       dmarc.AlignmentMode
		want       bool
	}{
		{"example.com", "example.com", dmarc.AlignmentStrict, true},
		{"mail.example.com", "example.com", dmarc.AlignmentStrict, false},
		{"mail.example.com", "example.com", dmarc.AlignmentRelaxed, true},
		{"example.com", "news.example.com", dmarc.AlignmentRelaxed, true},
		{"example.co.uk", "other.co.uk", dmarc.AlignmentRelaxed, false},
		{"", "example.com", dmarc.AlignmentRelaxed, false},
	} {
		if got := aligned(tc.auth, tc.from, tc.mode); got != tc.want {
			t.Errorf("aligned(%q, %q, %s) = %v", tc.auth, tc.from, tc.mode, got)
		}
	}
}

// TestDMARCPolicies: SPF fails, nothing is signed, so DMARC fails and the
// published policy decides.
func TestDMARCPolicies(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for _, d := range []string{"rej", "quar", "none", "pct0", "sub", "subnone", "nopolicy", "temp", "bad"} {
		h.dns.Add(d + `.example. TXT "v=spf1 ip4:192.0.2.1 -all"`)
	}
	h.dns.Add(
		`_dmarc.rej.example. TXT "v=DMARC1; p=reject"`,
		`_dmarc.quar.example. TXT "v=DMARC1; p=quarantine"`,
		`_dmarc.none.example. TXT "v=DMARC1; p=none"`,
		`_dmarc.pct0.example. TXT "v=DMARC1; p=reject; pct=0"`,
		`_dmarc.sub.example. TXT "v=DMARC1; p=none; sp=reject"`,
		`_dmarc.subnone.example. TXT "v=DMARC1; p=reject; sp=none"`,
		`_dmarc.bad.example. TXT "v=DMARC1; p=bogus"`,
		`x.sub.example. TXT "v=spf1 ip4:192.0.2.1 -all"`,
		`x.subnone.example. TXT "v=spf1 ip4:192.0.2.1 -all"`,
	)
	h.dns.Fail("_dmarc.temp.example")
	tests := []struct {
		name, domain string
		dmarc        string
		action       Action
	}{
		{"reject", "rej.example", "fail", Reject},
		{"quarantine", "quar.example", "fail", Junk},
		{"none", "none.example", "fail", Accept},
		{"pct=0 downgrades reject to quarantine", "pct0.example", "fail", Junk},
		{"sp=reject for a subdomain", "x.sub.example", "fail", Reject},
		{"p=none for the organizational domain itself", "sub.example", "fail", Accept},
		{"sp=none for a subdomain", "x.subnone.example", "fail", Accept},
		// No policy: SPF fail alone files as junk.
		{"no policy", "nopolicy.example", "none", Junk},
		{"temperror", "temp.example", "temperror", Accept},
		{"invalid record", "bad.example", "permerror", Junk},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := h.check(t, "127.0.0.1", "c.example", "a@"+tc.domain, message("a@"+tc.domain))
			rs := results(t, v)
			if got := value(t, rs, "dmarc"); got != tc.dmarc {
				t.Errorf("dmarc=%s, want %s; %q", got, tc.dmarc, v.Header)
			}
			if v.Action != tc.action {
				t.Errorf("action %v, want %v", v.Action, tc.action)
			}
			if tc.action == Reject {
				if v.Reject == nil || v.Reject.String() != "550 5.7.1 Message rejected by the DMARC policy of "+tc.domain {
					t.Errorf("rejection %v", v.Reject)
				}
			} else if v.Reject != nil {
				t.Errorf("rejection %v with action %v", v.Reject, v.Action)
			}
		})
	}
}

// TestDMARCAlignment covers SPF-only and DKIM-only alignment, relaxed and
// strict, with subdomains on either side.
func TestDMARCAlignment(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.dns.Add(
		`_dmarc.relaxed.example. TXT "v=DMARC1; p=reject"`,
		`_dmarc.strict.example. TXT "v=DMARC1; p=reject; aspf=s; adkim=s"`,
	)
	for _, d := range []string{"relaxed.example", "strict.example"} {
		h.dns.Add(
			d+`. TXT "v=spf1 ip4:127.0.0.1 -all"`,
			`bounce.`+d+`. TXT "v=spf1 ip4:127.0.0.1 -all"`,
		)
	}
	h.dns.Add(`unrelated.example. TXT "v=spf1 ip4:127.0.0.1 -all"`)
	keys := map[string]testKey{}
	for _, d := range []string{"relaxed.example", "mail.relaxed.example", "strict.example", "mail.strict.example", "unrelated.example"} {
		k := newEd25519Key(t, d, "s")
		h.dns.Add(k.record(t))
		keys[d] = k
	}
	tests := []struct {
		name, mailFrom, from, signer string
		want                         string
	}{
		{"SPF only, same domain", "a@relaxed.example", "a@relaxed.example", "", "pass"},
		{"SPF only, subdomain, relaxed", "a@bounce.relaxed.example", "a@relaxed.example", "", "pass"},
		{"SPF only, subdomain, strict", "a@bounce.strict.example", "a@strict.example", "", "fail"},
		{"SPF only, same domain, strict", "a@strict.example", "a@strict.example", "", "pass"},
		{"SPF pass for another domain", "a@unrelated.example", "a@relaxed.example", "", "fail"},
		{"DKIM only, same domain", "a@nospf.example", "a@strict.example", "strict.example", "pass"},
		{"DKIM only, subdomain, relaxed", "a@nospf.example", "a@relaxed.example", "mail.relaxed.example", "pass"},
		{"DKIM only, subdomain, strict", "a@nospf.example", "a@strict.example", "mail.strict.example", "fail"},
		{"DKIM only, From subdomain, relaxed", "a@nospf.example", "a@news.relaxed.example", "relaxed.example", "pass"},
		{"DKIM pass for another domain", "a@nospf.example", "a@relaxed.example", "unrelated.example", "fail"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			msg := message(tc.from)
			if tc.signer != "" {
				msg = keys[tc.signer].sign(t, msg)
			}
			v := h.check(t, "127.0.0.1", "c.example", tc.mailFrom, msg)
			if got := value(t, results(t, v), "dmarc"); got != tc.want {
				t.Fatalf("dmarc=%s, want %s; %q", got, tc.want, v.Header)
			}
			wantAction := Accept
			if tc.want == "fail" {
				wantAction = Reject
			}
			if v.Action != wantAction {
				t.Errorf("action %v, want %v", v.Action, wantAction)
			}
		})
	}
}

// TestForgedOwnDomain: mail claiming to be From: one of our domains that
// does not pass DMARC never reaches an INBOX, whatever we publish.
func TestForgedOwnDomain(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *Options) {
		o.IsLocalDomain = func(d string) bool { return d == "ours.example" || d == "strict-ours.example" }
	})
	k := newEd25519Key(t, "ours.example", "s")
	h.dns.Add(k.record(t),
		`ours.example. TXT "v=spf1 ip4:192.0.2.10 -all"`,
		`_dmarc.strict-ours.example. TXT "v=DMARC1; p=reject"`,
		`attacker.example. TXT "v=spf1 ip4:127.0.0.1 -all"`,
	)
	tests := []struct {
		name, mailFrom, from string
		sign                 bool
		want                 Action
	}{
		{"no DMARC record, attacker's envelope", "x@attacker.example", "CEO <ceo@ours.example>", false, Junk},
		{"no DMARC record, our envelope", "ceo@ours.example", "ceo@ours.example", false, Junk},
		{"made-up subdomain of ours", "x@attacker.example", "ceo@billing.ours.example", false, Junk},
		{"we publish p=reject", "x@attacker.example", "ceo@strict-ours.example", false, Reject},
		{"properly signed by us", "x@attacker.example", "ceo@ours.example", true, Accept},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			msg := message(tc.from)
			if tc.sign {
				msg = k.sign(t, msg)
			}
			v := h.check(t, "127.0.0.1", "c.example", tc.mailFrom, msg)
			if v.Action != tc.want {
				t.Fatalf("action %v, want %v; %q", v.Action, tc.want, v.Header)
			}
		})
	}
}

func TestFromProblems(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	k := newEd25519Key(t, "good.example", "s")
	h.dns.Add(k.record(t), `_dmarc.good.example. TXT "v=DMARC1; p=none"`)
	base := message("a@good.example")
	tests := []struct {
		name, msg string
		want      Action
		dmarc     string
	}{
		// A second From: added above a valid signature: the reader may see
		// the forged one.
		{"two From fields", k.sign(t, base)[:0] + "From: boss@ours.example\r\n" + k.sign(t, base), Reject, "fail"},
		{"two domains in one From", k.sign(t, "From: a@good.example, b@evil.example\r\n"+base[len("From: a@good.example\r\n"):]), Reject, "fail"},
		{"missing From", base[len("From: a@good.example\r\n"):], Junk, "none"},
		{"unparsable From", "From: <<<@>>>\r\n" + base[len("From: a@good.example\r\n"):], Junk, "permerror"},
		{"display name in an unusual charset", k.sign(t, "From: =?iso-2022-jp?B?GyRCJEskWyRzGyhC?= <a@good.example>\r\n"+base[len("From: a@good.example\r\n"):]), Accept, "pass"},
		{"two mailboxes, one domain", k.sign(t, "From: a@good.example, b@good.example\r\n"+base[len("From: a@good.example\r\n"):]), Accept, "pass"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := h.check(t, "127.0.0.1", "c.example", "x@nospf.example", tc.msg)
			if v.Action != tc.want {
				t.Errorf("action %v, want %v; %q", v.Action, tc.want, v.Header)
			}
			if got := value(t, results(t, v), "dmarc"); got != tc.dmarc {
				t.Errorf("dmarc=%s, want %s", got, tc.dmarc)
			}
		})
	}
}

// TestLogLine: one structured line per message with every result.
func TestLogLine(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.dns.Add(`good.example. TXT "v=spf1 ip4:127.0.0.1 -all"`, `_dmarc.good.example. TXT "v=DMARC1; p=reject"`)
	h.check(t, "127.0.0.1", "c.example", "a@good.example", message("Alice <a@good.example>"))
	lines := h.logs.lines(t)
	if len(lines) != 1 {
		t.Fatalf("got %d log lines, want 1: %v", len(lines), lines)
	}
	want := map[string]any{
		"msg": "message checked", "ip": "127.0.0.1", "helo": "c.example", "mailfrom": "a@good.example",
		"from": "a@good.example", "spf": "pass", "dkim": "none", "dmarc": "pass", "action": "accept",
	}
	for k, w := range want {
		if lines[0][k] != w {
			t.Errorf("log %s = %v, want %v (line %v)", k, lines[0][k], w, lines[0])
		}
	}
}

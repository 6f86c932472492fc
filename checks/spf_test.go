package checks

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"blitiri.com.ar/go/spf"
)

func TestSPFResults(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.dns.Add(
		`pass.example. TXT "v=spf1 ip4:127.0.0.1 -all"`,
		`fail.example. TXT "v=spf1 ip4:192.0.2.1 -all"`,
		`soft.example. TXT "v=spf1 ip4:192.0.2.1 ~all"`,
		`neutral.example. TXT "v=spf1 ?all"`,
		`none.example. TXT "some other record"`,
		`syntax.example. TXT "v=spf1 bogus:x ip4:127.0.0.1 -all"`,
		`a.example. TXT "v=spf1 a -all"`,
		`a.example. A 127.0.0.1`,
		`mx.helo.example. TXT "v=spf1 ip4:127.0.0.1 -all"`,
	)
	h.dns.Fail("temp.example")
	// 11 includes: RFC 7208 4.6.4 allows 10 DNS-querying terms.
	var incs []string
	for i := range 11 {
		incs = append(incs, fmt.Sprintf("include:l%d.loop.example", i))
		h.dns.Add(fmt.Sprintf(`l%d.loop.example. TXT "v=spf1 ip4:192.0.2.1 -all"`, i))
	}
	h.dns.Add(`loop.example. TXT "v=spf1 ` + strings.Join(incs, " ") + ` -all"`)

	tests := []struct {
		name, mailFrom, helo string
		want                 spf.Result
	}{
		{"pass", "a@pass.example", "client.example", spf.Pass},
		{"pass via a", "a@a.example", "client.example", spf.Pass},
		{"fail", "a@fail.example", "client.example", spf.Fail},
		{"softfail", "a@soft.example", "client.example", spf.SoftFail},
		{"neutral", "a@neutral.example", "client.example", spf.Neutral},
		{"none", "a@none.example", "client.example", spf.None},
		{"none nxdomain", "a@nothere.example", "client.example", spf.None},
		{"temperror", "a@temp.example", "client.example", spf.TempError},
		{"permerror syntax", "a@syntax.example", "client.example", spf.PermError},
		{"permerror lookups", "a@loop.example", "client.example", spf.PermError},
		{"null sender uses helo", "", "mx.helo.example", spf.Pass},
		{"null sender literal helo", "", "[127.0.0.1]", spf.None},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := h.c.checkSPF(context.Background(), netip.MustParseAddr("127.0.0.1"), tc.helo, tc.mailFrom)
			if got.Result != tc.want {
				t.Fatalf("SPF = %s (%v), want %s", got.Result, got.Err, tc.want)
			}
			// The result shows in the header with the identity checked.
			v := h.check(t, "127.0.0.1", tc.helo, tc.mailFrom, message("x@unrelated.example"))
			rs := results(t, v)
			if got := value(t, rs, "spf"); got != string(tc.want) {
				t.Errorf("header spf=%s, want %s; header %q", got, tc.want, v.Header)
			}
			sr := rs["spf"][0].(*authresSPF)
			if tc.mailFrom != "" && sr.From != tc.mailFrom {
				t.Errorf("smtp.mailfrom = %q, want %q", sr.From, tc.mailFrom)
			}
			if tc.mailFrom == "" && sr.Helo != tc.helo {
				t.Errorf("smtp.helo = %q, want %q", sr.Helo, tc.helo)
			}
		})
	}
}

// TestSPFFailWithoutDMARCIsJunk: no DMARC policy and a hard SPF fail with
// no DKIM signature files the message as junk.
func TestSPFFailWithoutDMARCIsJunk(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.dns.Add(`fail.example. TXT "v=spf1 ip4:192.0.2.1 -all"`, `soft.example. TXT "v=spf1 ~all"`)
	if v := h.check(t, "127.0.0.1", "c.example", "a@fail.example", message("a@fail.example")); v.Action != Junk {
		t.Errorf("SPF fail: action %v, want junk", v.Action)
	}
	if v := h.check(t, "127.0.0.1", "c.example", "a@soft.example", message("a@soft.example")); v.Action != Accept {
		t.Errorf("SPF softfail: action %v, want accept", v.Action)
	}
}

package smtpd

import (
	"context"
	"net/netip"
	"regexp"
	"testing"

	"postel/internal/dnsresolver"
	"postel/internal/fakedns"
)

// TestForwardConfirmed: a PTR name counts only when it resolves back to
// the address; a lie, a missing PTR or a failing server give "".
func TestForwardConfirmed(t *testing.T) {
	t.Parallel()
	dns := fakedns.Start(t)
	dns.Add(
		"7.0.0.127.in-addr.arpa. 300 IN PTR mail.remote.test.",
		"mail.remote.test. 300 IN A 127.0.0.7",
		"8.0.0.127.in-addr.arpa. 300 IN PTR liar.remote.test.",
		"liar.remote.test. 300 IN A 192.0.2.1",
		"9.0.0.127.in-addr.arpa. 300 IN PTR gone.remote.test.",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 300 IN PTR v6.remote.test.",
		"v6.remote.test. 300 IN AAAA 2001:db8::1",
	)
	dns.Fail("10.0.0.127.in-addr.arpa.")
	f := ForwardConfirmed(dnsresolver.New(dns.Addr))
	for ip, want := range map[string]string{
		"127.0.0.7":   "mail.remote.test",
		"127.0.0.8":   "", // PTR names a host with another address
		"127.0.0.9":   "", // PTR names a host without addresses
		"127.0.0.11":  "", // no PTR
		"127.0.0.10":  "", // SERVFAIL
		"2001:db8::1": "v6.remote.test",
	} {
		if got := f(t.Context(), netip.MustParseAddr(ip)); got != want {
			t.Errorf("%s: %q, want %q", ip, got, want)
		}
	}
}

// TestReceivedClientName: with a reverse lookup the Received field names
// the client as "name [address]", or "unknown [address]" without a
// confirmed name (RFC 5321 4.4 TCP-info, as Postfix writes it).
func TestReceivedClientName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"mail.remote.test": `mail\.remote\.test \[127\.0\.0\.1\]`,
		"":                 `unknown \[127\.0\.0\.1\]`,
	} {
		e := newEnv(t, Inbound, func(o *Options) {
			o.ReverseDNS = func(context.Context, netip.Addr) string { return name }
			o.reverseDNSLoopback = true
		})
		c := dial(t, e.addr)
		c.cmd("EHLO client.example", `^250`)
		c.cmd("MAIL FROM:<alice@remote.org>", `^250`)
		c.cmd("RCPT TO:<bob@example.com>", `^250`)
		c.cmd("DATA", `^354`)
		c.send(testMsg + ".\r\n")
		c.expect(`^250 2\.0\.0`)
		c.cmd("QUIT", `^221`)
		msgs := e.store.Messages("bob@example.com", "INBOX")
		if len(msgs) != 1 {
			t.Fatalf("bob has %d messages", len(msgs))
		}
		re := regexp.MustCompile(`\r\nReceived: from client\.example \(` + want + `\)\r\n\tby mx\.example\.com with ESMTP\r\n`)
		if !re.MatchString(string(msgs[0])) {
			t.Errorf("lookup %q: stored message:\n%s", name, msgs[0])
		}
	}
}

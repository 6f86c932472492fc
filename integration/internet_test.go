package integration

import (
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"postel/internal/fakedns"
	"postel/internal/testenv"
)

// freePort returns a TCP port that is free on ip at the moment.
func freePort(t *testing.T, ip string) int {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// mailboxMessages returns the raw messages of one mailbox over IMAPS.
func mailboxMessages(t *testing.T, addr, user, pass, mailbox string) []string {
	t.Helper()
	c, err := imapclient.DialTLS(addr, &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, pass).Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select(mailbox, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	var all imap.SeqSet
	all.AddRange(1, 0)
	msgs, err := c.Fetch(all, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		for _, b := range m.BodySection {
			out = append(out, string(b.Bytes))
		}
	}
	return out
}

// waitFor polls cond: the server is another process, with no event a
// test could wait on.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, d, what, cond)
}

// TestTwoServersOnAFakeInternet runs two postel servers: example.com on
// 127.0.0.1 and remote.test whose MX is 127.0.0.3. Alice submits to
// carol@remote.test; example.com's queue finds the MX through the fake
// DNS, signs with the keys `postel dkim generate` made, and remote.test's
// inbound checks verify SPF, DKIM and DMARC before delivering to INBOX.
// A forged message claiming to be from remote.test's own domain, sent
// straight to its port 25, never reaches that INBOX.
func TestTwoServersOnAFakeInternet(t *testing.T) {
	t.Parallel()
	dns := fakedns.Start(t)
	port := freePort(t, "127.0.0.3")
	outbound := fmt.Sprintf("[outbound]\ndns_server = %q\nsmtp_port = %d\n", dns.Addr, port)

	a := newInstance(t, outbound)
	a.mustPostel("", "domain", "add", "example.com")
	a.mustPostel("alice-pw-1\n", "user", "add", "alice@example.com", "--password-stdin")
	out := a.mustPostel("", "dkim", "generate", "example.com")
	var records int
	for _, l := range readLines(out) {
		if strings.Contains(l, "._domainkey.example.com. 3600 IN TXT") {
			dns.Add(l)
			records++
		}
	}
	if records != 2 {
		t.Fatalf("dkim generate printed %d records, want 2:\n%s", records, out)
	}

	b := newInstance(t, outbound+"[inbound]\nchecks = true\nconnections_per_minute = 0\nmessages_per_minute = 0\n")
	// newInstance put every listener on 127.0.0.1:0; remote.test's MX must
	// listen where example.com's queue will connect.
	b.setListen("smtp", fmt.Sprintf("127.0.0.3:%d", port))
	b.mustPostel("", "domain", "add", "remote.test")
	b.mustPostel("carol-pw-1\n", "user", "add", "carol@remote.test", "--password-stdin")

	dns.Add("remote.test. 300 IN MX 10 mx.remote.test.",
		"mx.remote.test. 300 IN A 127.0.0.3",
		`remote.test. 300 IN TXT "v=spf1 ip4:127.0.0.3 -all"`,
		`_dmarc.remote.test. 300 IN TXT "v=DMARC1; p=reject"`,
		`example.com. 300 IN TXT "v=spf1 ip4:127.0.0.1 -all"`,
		`_dmarc.example.com. 300 IN TXT "v=DMARC1; p=reject"`)

	a.start()
	b.start()

	msg := "From: Alice <alice@example.com>\r\nTo: carol@remote.test\r\nSubject: across the internet\r\n\r\nHello Carol.\r\n"
	if err := submit(t, a.addr("submissions"), "alice@example.com", "alice-pw-1", "alice@example.com", []string{"carol@remote.test"}, msg); err != nil {
		t.Fatalf("submission: %v", err)
	}
	var got []string
	waitFor(t, "delivery to carol@remote.test", 30*time.Second, func() bool {
		got = mailboxMessages(t, b.addr("imaps"), "carol@remote.test", "carol-pw-1", "INBOX")
		return len(got) > 0
	})
	m := got[0]
	for _, want := range []string{"Subject: across the internet", "DKIM-Signature:", "Authentication-Results: mail.example.test", "spf=pass", "dkim=pass", "dmarc=pass"} {
		if !strings.Contains(m, want) {
			t.Errorf("delivered message lacks %q:\n%s", want, m)
		}
	}
	// Our signer adds two signatures (Ed25519 and RSA); the receiver
	// stops at the first that passes and aligns with From: (RFC 6376
	// 6.1, checks.Options.DKIMVerifyAll), so one dkim=pass is reported.
	// checks' tests verify both kinds of signature one by one.
	if n := strings.Count(m, "DKIM-Signature:"); n != 2 {
		t.Errorf("want 2 DKIM signatures, got %d:\n%s", n, m)
	}
	if !strings.Contains(m, "dkim=pass") || !strings.Contains(m, "header.d=example.com") {
		t.Errorf("want dkim=pass for header.d=example.com:\n%s", m)
	}

	// A forgery of remote.test's own domain from an address its SPF does
	// not allow, unsigned: DMARC p=reject refuses it.
	forged := "From: ceo@remote.test\r\nTo: carol@remote.test\r\nSubject: wire the money\r\n\r\nurgent\r\n"
	err := sendRaw(b.addr("smtp"), "ceo@remote.test", "carol@remote.test", forged)
	if err == nil {
		// If accepted it must not be in INBOX.
		for _, x := range mailboxMessages(t, b.addr("imaps"), "carol@remote.test", "carol-pw-1", "INBOX") {
			if strings.Contains(x, "wire the money") {
				t.Error("forged own-domain message reached INBOX")
			}
		}
	} else if !strings.Contains(err.Error(), "550") {
		t.Errorf("forged message refused with %v, want 550", err)
	}
	a.stop()
	b.stop()
}

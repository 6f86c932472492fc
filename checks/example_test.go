package checks_test

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"postel/checks"
	"postel/internal/dnsresolver"
)

// Example shows how a server wires the checks around port 25.
func Example() {
	c, err := checks.New(checks.Options{
		Hostname:      "mx.example.org",
		Resolver:      dnsresolver.New(""), // or the configured server
		DNSBL:         []string{"zen.spamhaus.org"},
		IsLocalDomain: func(d string) bool { return d == "example.org" },
		Logger:        slog.Default(),
		ConnRate:      checks.Rate{Count: 30, Per: time.Minute},
		MsgRate:       checks.Rate{Count: 60, Per: time.Minute},
	})
	if err != nil {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return
	}
	ln = checks.EarlyTalkerListener(ln, 3*time.Second, slog.Default())
	defer ln.Close()

	// Per connection, before the greeting:
	ip := netip.MustParseAddr("192.0.2.1")
	if r := c.CheckConnection(context.Background(), ip); r != nil {
		_ = r.String() // send as the greeting, then close
	}
	// At MAIL FROM: c.AllowMessage(ip). At the end of DATA, on the
	// message as received:
	raw := "From: a@example.net\r\n\r\nhi\r\n"
	v := c.CheckMessage(context.Background(), checks.Envelope{RemoteIP: ip, Helo: "mail.example.net", MailFrom: "a@example.net"}, strings.NewReader(raw))
	switch v.Action {
	case checks.Reject:
		_ = v.Reject // reply with it
	case checks.Junk, checks.Accept:
		// Deliver v.Header + StripAuthResults(message, "mx.example.org")
		// to Junk or INBOX.
		_ = checks.StripAuthResults(strings.NewReader(raw), "mx.example.org")
	}
}

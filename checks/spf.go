package checks

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"

	"blitiri.com.ar/go/spf"
)

// spfOutcome is the SPF result of one message.
type spfOutcome struct {
	Result spf.Result
	// Sender is the identity checked: the MAIL FROM address, or
	// postmaster@HELO for the null sender (RFC 7208 2.4).
	Sender string
	// Domain is the domain that was checked, used for DMARC alignment.
	Domain   string
	UsedHelo bool
	Err      error // detail for the log, never for the client
}

// checkSPF evaluates SPF (RFC 7208 4) for the MAIL FROM identity, or for
// the HELO identity when MAIL FROM is null. The library enforces the limits
// of RFC 7208 4.6.4 (10 DNS-querying terms, 2 void lookups) and returns
// permerror when they are exceeded.
func (c *Checker) checkSPF(ctx context.Context, ip netip.Addr, helo, mailFrom string) spfOutcome {
	out := spfOutcome{Sender: mailFrom}
	helo = strings.TrimSuffix(strings.TrimSpace(helo), ".")
	if mailFrom == "" {
		out.UsedHelo = true
		// RFC 7208 2.4: with a null reverse-path the identity is
		// postmaster@<HELO>; an address literal or an empty HELO has no
		// domain to check.
		if normalizeDomain(helo) == "" {
			out.Result = spf.None
			out.Err = errors.New("null sender and no HELO domain")
			return out
		}
		out.Sender = "postmaster@" + helo
	}
	at := strings.LastIndexByte(out.Sender, '@')
	if at < 0 || normalizeDomain(out.Sender[at+1:]) == "" {
		// RFC 7208 4.3: a malformed domain gives "none".
		out.Result = spf.None
		out.Err = errors.New("no domain in sender")
		return out
	}
	out.Domain = normalizeDomain(out.Sender[at+1:])
	if !ip.IsValid() {
		out.Result = spf.PermError
		out.Err = errors.New("no client address")
		return out
	}
	// The library splits the sender at its first '@'; give it the A-label
	// domain so that its queries are well-formed.
	sender := out.Sender[:at+1] + out.Domain
	out.Result, out.Err = spf.CheckHostWithSender(net.IP(ip.Unmap().AsSlice()), helo, sender,
		spf.WithResolver(c.dns), spf.WithContext(ctx))
	return out
}

// isNotFound reports whether err says the name or record does not exist
// (NXDOMAIN or NODATA), as opposed to a failure to get an answer.
func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

package smtpd

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"time"
)

// rdnsTimeout bounds the reverse lookup of a client. The header waits at
// most this long (usually the lookup has finished long before DATA ends).
const rdnsTimeout = 5 * time.Second

// ForwardConfirmed returns a Options.ReverseDNS function using r: the
// client's forward-confirmed reverse DNS name (FCrDNS), that is the first
// PTR name of the address whose own A/AAAA records contain the address,
// or "" when there is none or the lookup fails. An unconfirmed PTR name
// is never shown: anyone controlling a reverse zone can claim any name.
// This is what Postfix reports as the client name (and "unknown"
// otherwise).
func ForwardConfirmed(r *net.Resolver) func(ctx context.Context, ip netip.Addr) string {
	return func(ctx context.Context, ip netip.Addr) string {
		names, err := r.LookupAddr(ctx, ip.String())
		if err != nil {
			return ""
		}
		network := "ip4"
		if ip.Is6() && !ip.Is4In6() {
			network = "ip6"
		}
		for i, name := range names {
			if i == 3 { // a long PTR list is not worth more queries
				break
			}
			addrs, err := r.LookupNetIP(ctx, network, name)
			if err != nil {
				continue
			}
			for _, a := range addrs {
				if a.Unmap() == ip.Unmap() {
					return strings.TrimSuffix(name, ".")
				}
			}
		}
		return ""
	}
}

// clientName is a connection's pending reverse lookup.
type clientName struct {
	done chan struct{}
	name string
}

// lookupClientName starts the reverse lookup of c's client, when the
// server has a ReverseDNS function and the client is not on loopback.
func (c *conn) lookupClientName() {
	f := c.srv.opts.ReverseDNS
	if f == nil || c.ip.IsLoopback() && !c.srv.opts.reverseDNSLoopback {
		return
	}
	cn := &clientName{done: make(chan struct{})}
	c.rdns = cn
	go func() {
		defer close(cn.done)
		ctx, cancel := context.WithTimeout(c.ctx, rdnsTimeout)
		defer cancel()
		cn.name = f(ctx, c.ip)
	}()
}

// appendTCPInfo appends the TCP-info of the Received field (RFC 5321 4.4):
// "name [address]" with a confirmed name, "unknown [address]" when the
// lookup found none, "[address]" alone when no lookup was made.
func (c *conn) appendTCPInfo(b []byte) []byte {
	if c.rdns != nil {
		name := "unknown"
		select {
		case <-c.rdns.done:
			if c.rdns.name != "" {
				name = c.rdns.name
			}
		case <-c.ctx.Done():
		}
		b = appendHeloToken(b, name)
		b = append(b, ' ')
	}
	return appendAddressLiteral(b, c.ip)
}

package checks

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"sync"
)

// CheckConnection runs the connection-level checks for a new client before
// the greeting: the per-IP connection rate, then the DNSBL zones. nil means
// go ahead; otherwise send the rejection as the greeting and close.
func (c *Checker) CheckConnection(ctx context.Context, ip netip.Addr) *Rejection {
	ip = ip.Unmap()
	if !c.connLimit.allow(ip, c.now()) {
		c.log.Warn("connection rate exceeded", "ip", ip.String())
		// RFC 5321 3.8: 421 tells the client to come back later.
		return &Rejection{Code: 421, Enhanced: [3]int{4, 7, 0}, Message: "Too many connections from your address, try again later"}
	}
	if zone := c.dnsblListing(ctx, ip); zone != "" {
		c.log.Info("connection refused by DNSBL", "ip", ip.String(), "zone", zone)
		return &Rejection{Code: 554, Enhanced: [3]int{5, 7, 1},
			Message: "Service unavailable; client host [" + ip.String() + "] blocked using " + zone}
	}
	return nil
}

// dnsblListing queries every zone in parallel and returns the first zone
// (in configuration order) that lists ip, or "".
func (c *Checker) dnsblListing(ctx context.Context, ip netip.Addr) string {
	if len(c.zones) == 0 || !ip.IsValid() {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, c.dnsblTimeout)
	defer cancel()
	rev := reverseIP(ip)
	listed := make([]bool, len(c.zones))
	var wg sync.WaitGroup
	for i, zone := range c.zones {
		wg.Go(func() {
			listed[i] = c.dnsblQuery(ctx, ip, rev+"."+zone+".")
		})
	}
	wg.Wait()
	for i, zone := range c.zones {
		if listed[i] {
			return zone
		}
	}
	return ""
}

// dnsblQuery looks up the A records of name. RFC 5782 2.1: an entry is
// listed when the name has an A record, conventionally in 127.0.0.0/8. We
// count only 127/8 answers and ignore 127.255.255.0/24, which big lists
// (Spamhaus) use to say "query refused" or "bad resolver" rather than
// "listed". A DNS failure is not a listing: a broken list must not block
// mail.
func (c *Checker) dnsblQuery(ctx context.Context, ip netip.Addr, name string) bool {
	addrs, err := c.res.LookupNetIP(ctx, "ip4", name)
	if err != nil {
		if !isNotFound(err) {
			c.log.Warn("DNSBL lookup failed", "ip", ip.String(), "query", name, "err", err)
		}
		return false
	}
	for _, a := range addrs {
		a = a.Unmap()
		b := a.As4()
		if a.Is4() && b[0] == 127 && !(b[1] == 255 && b[2] == 255) {
			return true
		}
	}
	return false
}

// reverseIP returns the DNSBL query prefix of ip (RFC 5782 2.1 and 2.4):
// the IPv4 octets reversed, or the 32 nibbles of an IPv6 address reversed.
func reverseIP(ip netip.Addr) string {
	ip = ip.Unmap()
	var b strings.Builder
	if ip.Is4() {
		a := ip.As4()
		for i := 3; i >= 0; i-- {
			b.WriteString(strconv.Itoa(int(a[i])))
			if i > 0 {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	a := ip.As16()
	const hexdigits = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		b.WriteByte(hexdigits[a[i]&0xf])
		b.WriteByte('.')
		b.WriteByte(hexdigits[a[i]>>4])
		if i > 0 {
			b.WriteByte('.')
		}
	}
	return b.String()
}

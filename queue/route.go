package queue

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sort"
	"strings"
)

// mxHost is one candidate host for a domain.
type mxHost struct {
	name     string
	implicit bool // no MX: the domain itself (RFC 5321 5.1)
}

// route returns the hosts to try for domain, best first: MX records by
// preference, shuffled among equal preferences (RFC 5321 5.1 asks for
// randomisation to spread load), or the domain itself when it has no MX.
// A null MX (RFC 7505) is a permanent failure.
func (q *Queue) route(ctx context.Context, domain string) ([]mxHost, *result) {
	mxs, err := q.opts.Resolver.LookupMX(ctx, domain)
	var de *net.DNSError
	switch {
	case errors.As(err, &de) && de.IsNotFound:
		// No MX (NODATA or NXDOMAIN): the domain is its own implicit MX;
		// whether it exists is decided by its address lookup.
		return []mxHost{{name: domain, implicit: true}}, nil
	case err != nil && len(mxs) == 0:
		r := tempFail("4.4.3", "DNS lookup of MX for %s failed", domain)
		return nil, &r
	}
	// RFC 7505 3: a single MX with an empty (".") exchange.
	if len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == "") {
		r := permFail("5.1.10", "domain %s does not accept mail (null MX, RFC 7505)", domain)
		return nil, &r
	}
	rand.Shuffle(len(mxs), func(i, j int) { mxs[i], mxs[j] = mxs[j], mxs[i] })
	sort.SliceStable(mxs, func(i, j int) bool { return mxs[i].Pref < mxs[j].Pref })
	var out []mxHost
	for _, mx := range mxs {
		h := strings.TrimSuffix(mx.Host, ".")
		if h == "" {
			continue
		}
		out = append(out, mxHost{name: h})
	}
	if len(out) == 0 {
		r := permFail("5.1.10", "domain %s has no usable MX", domain)
		return nil, &r
	}
	return out, nil
}

// addrs resolves a host to its IPv6 and IPv4 addresses, in the order the
// resolver prefers (RFC 6724). An implicit MX that does not exist at all
// is a permanent failure: the domain does not exist.
func (q *Queue) addrs(ctx context.Context, h mxHost) ([]net.IPAddr, *result) {
	ips, err := q.opts.Resolver.LookupIPAddr(ctx, h.name)
	var de *net.DNSError
	if errors.As(err, &de) && de.IsNotFound && h.implicit {
		r := permFail("5.1.2", "domain %s not found", h.name)
		return nil, &r
	}
	if err != nil || len(ips) == 0 {
		r := tempFail("4.4.3", "DNS lookup of %s failed", h.name)
		return nil, &r
	}
	return ips, nil
}

// Package dnsresolver builds the one DNS resolver that outbound delivery
// (MX, A/AAAA) and inbound checks (SPF, DKIM, DMARC, DNSBL) share, so that a
// test or a closed network can point every lookup at one server.
package dnsresolver

import (
	"context"
	"net"
	"time"
)

// New returns a resolver. With server empty it is the system resolver;
// otherwise every query goes to server ("host:port", UDP with TCP fallback
// as the Go resolver does).
func New(server string) *net.Resolver {
	if server == "" {
		return net.DefaultResolver
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, server)
		},
	}
}

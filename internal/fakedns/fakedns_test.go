package fakedns

import (
	"context"
	"errors"
	"net"
	"testing"

	"postel/internal/dnsresolver"
)

func TestLookups(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.Add("example.com. 300 IN MX 10 mx1.example.com.",
		"example.com. 300 IN MX 20 mx2.example.com.",
		"mx1.example.com. 300 IN A 127.0.0.2",
		`example.com. 300 IN TXT "v=spf1 ip4:127.0.0.1 -all"`)
	s.Fail("broken.example.")
	r := dnsresolver.New(s.Addr)
	ctx := context.Background()
	mxs, err := r.LookupMX(ctx, "example.com")
	if err != nil || len(mxs) != 2 || mxs[0].Host != "mx1.example.com." || mxs[0].Pref != 10 {
		t.Fatalf("MX = %v, %v", mxs, err)
	}
	ips, err := r.LookupHost(ctx, "mx1.example.com")
	if err != nil || len(ips) != 1 || ips[0] != "127.0.0.2" {
		t.Fatalf("A = %v, %v", ips, err)
	}
	txt, err := r.LookupTXT(ctx, "example.com")
	if err != nil || len(txt) != 1 || txt[0] != "v=spf1 ip4:127.0.0.1 -all" {
		t.Fatalf("TXT = %v, %v", txt, err)
	}
	_, err = r.LookupTXT(ctx, "nothere.example.com")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Fatalf("missing name: err = %v, want not found", err)
	}
	_, err = r.LookupTXT(ctx, "broken.example")
	if !errors.As(err, &de) || de.IsNotFound {
		t.Fatalf("SERVFAIL name: err = %v, want temporary", err)
	}
}

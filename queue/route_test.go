package queue

import (
	"context"
	"testing"
)

// TestRoute: MX preference order, shuffling among equal preferences (RFC
// 5321 5.1), implicit MX, null MX (RFC 7505) and DNS failure.
func TestRoute(t *testing.T) {
	t.Parallel()
	n := newFakeNet(t)
	n.dns.Add(
		"eq.example. 300 IN MX 20 c.eq.example.",
		"eq.example. 300 IN MX 10 a.eq.example.",
		"eq.example. 300 IN MX 10 b.eq.example.",
		"null.example. 300 IN MX 0 .",
		"nomx.example. 300 IN A 127.0.0.9",
	)
	n.dns.Fail("fail.example")
	e := newEnv(t, n, nil)
	ctx := context.Background()
	firsts := map[string]int{}
	for range 64 {
		hosts, res := e.q.route(ctx, "eq.example")
		if res != nil || len(hosts) != 3 {
			t.Fatalf("route = %v, %+v", hosts, res)
		}
		if hosts[2].name != "c.eq.example" {
			t.Fatalf("preference 20 not last: %v", hosts)
		}
		firsts[hosts[0].name]++
	}
	// 64 draws of a fair coin all landing the same way: p = 2^-63.
	if firsts["a.eq.example"] == 0 || firsts["b.eq.example"] == 0 {
		t.Errorf("equal preferences not shuffled: %v", firsts)
	}
	if hosts, res := e.q.route(ctx, "nomx.example"); res != nil || len(hosts) != 1 || !hosts[0].implicit {
		t.Errorf("no MX: %v, %+v", hosts, res)
	}
	if _, res := e.q.route(ctx, "null.example"); res == nil || !res.perm || res.status != "5.1.10" {
		t.Errorf("null MX: %+v", res)
	}
	if _, res := e.q.route(ctx, "fail.example"); res == nil || res.perm {
		t.Errorf("SERVFAIL: %+v, want temporary", res)
	}
	if _, res := e.q.addrs(ctx, mxHost{name: "nxdomain.example", implicit: true}); res == nil || !res.perm || res.status != "5.1.2" {
		t.Errorf("non-existent domain: %+v", res)
	}
	if _, res := e.q.addrs(ctx, mxHost{name: "gone.eq.example"}); res == nil || res.perm {
		t.Errorf("MX host without address: %+v, want temporary", res)
	}
}

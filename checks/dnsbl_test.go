package checks

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

func TestReverseIP(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"192.0.2.99":         "99.2.0.192",
		"::ffff:192.0.2.99":  "99.2.0.192",
		"2001:db8:1:2::abcd": "d.c.b.a.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2",
	} {
		if got := reverseIP(netip.MustParseAddr(in)); got != want {
			t.Errorf("reverseIP(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestDNSBL(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *Options) { o.DNSBL = []string{"broken.bl.example", "bl.example.", "other.bl.example"} })
	h.dns.Add(
		"2.0.0.127.bl.example. A 127.0.0.2",
		"2.0.0.127.other.bl.example. A 127.0.0.4",
		// RFC 5782 2.1: listed entries also carry a TXT; it is not needed.
		`2.0.0.127.bl.example. TXT "listed for testing"`,
		// 127.255.255.x answers are list errors, not listings.
		"3.0.0.127.bl.example. A 127.255.255.254",
		// IPv6 nibble form.
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example. A 127.0.0.2",
	)
	h.dns.Fail("4.0.0.127.broken.bl.example")
	ctx := context.Background()

	r := h.c.CheckConnection(ctx, netip.MustParseAddr("127.0.0.2"))
	if r == nil || r.String() != "554 5.7.1 Service unavailable; client host [127.0.0.2] blocked using bl.example" {
		t.Fatalf("listed IP: %v", r)
	}
	r = h.c.CheckConnection(ctx, netip.MustParseAddr("::ffff:127.0.0.2"))
	if r == nil || r.Code != 554 {
		t.Errorf("IPv4-mapped listed IP: %v", r)
	}
	r = h.c.CheckConnection(ctx, netip.MustParseAddr("2001:db8::1"))
	if r == nil || r.Code != 554 {
		t.Errorf("listed IPv6: %v", r)
	}
	for _, ip := range []string{"127.0.0.3", "127.0.0.4", "127.0.0.5", "2001:db8::2"} {
		if r := h.c.CheckConnection(ctx, netip.MustParseAddr(ip)); r != nil {
			t.Errorf("%s (not listed, list error or DNS failure): %v", ip, r)
		}
	}
}

func TestConnectionRate(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *Options) { o.ConnRate = Rate{Count: 3, Per: time.Minute} })
	ctx := context.Background()
	ip := netip.MustParseAddr("127.0.0.9")
	for i := range 3 {
		if r := h.c.CheckConnection(ctx, ip); r != nil {
			t.Fatalf("connection %d: %v", i+1, r)
		}
	}
	r := h.c.CheckConnection(ctx, ip)
	if r == nil || r.Code != 421 || r.Enhanced != [3]int{4, 7, 0} || !r.Temporary() {
		t.Fatalf("4th connection: %v, want 421 4.7.0", r)
	}
	if r := h.c.CheckConnection(ctx, netip.MustParseAddr("127.0.0.10")); r != nil {
		t.Errorf("another address is limited too: %v", r)
	}
	// One token comes back every 20s.
	h.clock.Advance(20 * time.Second)
	if r := h.c.CheckConnection(ctx, ip); r != nil {
		t.Errorf("after 20s: %v", r)
	}
	if r := h.c.CheckConnection(ctx, ip); r == nil {
		t.Errorf("second after 20s: allowed")
	}
	h.clock.Advance(time.Hour)
	for i := range 3 {
		if r := h.c.CheckConnection(ctx, ip); r != nil {
			t.Fatalf("after an hour, connection %d: %v", i+1, r)
		}
	}
}

func TestMessageRate(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *Options) { o.MsgRate = Rate{Count: 2, Per: time.Minute} })
	a := netip.MustParseAddr("2001:db8:5:6::1")
	b := netip.MustParseAddr("2001:db8:5:6::ffff") // same /64
	if h.c.AllowMessage(a) != nil || h.c.AllowMessage(b) != nil {
		t.Fatal("first two messages refused")
	}
	r := h.c.AllowMessage(a)
	if r == nil || r.String() != "451 4.7.1 Too many messages from your address, try again later" {
		t.Fatalf("third message: %v", r)
	}
	if r := h.c.AllowMessage(netip.MustParseAddr("2001:db8:5:7::1")); r != nil {
		t.Errorf("another /64: %v", r)
	}
	h.clock.Advance(30 * time.Second)
	if r := h.c.AllowMessage(b); r != nil {
		t.Errorf("after recovery: %v", r)
	}
}

// TestLimiterSweep: a scan from many addresses does not grow the table
// without bound once their buckets refill.
func TestLimiterSweep(t *testing.T) {
	t.Parallel()
	l := newLimiter(Rate{Count: 1, Per: time.Second})
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	for i := range sweepAbove + 10 {
		l.allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), now)
	}
	l.allow(netip.MustParseAddr("10.255.0.1"), now.Add(2*time.Second))
	if n := len(l.buckets); n > 10 {
		t.Errorf("%d buckets left after sweep", n)
	}
	if newLimiter(Rate{}).allow(netip.Addr{}, now) != true {
		t.Error("zero rate limits")
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{
		{},
		{Hostname: "bad host"},
		{Hostname: "mx.example", DNSBL: []string{""}},
		{Hostname: "mx.example", ConnRate: Rate{Count: 1}},
		{Hostname: "mx.example", MsgRate: Rate{Count: -1, Per: time.Second}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	if _, err := New(Options{Hostname: "mx.example."}); err != nil {
		t.Error(err)
	}
}

package checks

import (
	"context"
	"testing"
	"time"
)

func TestDNSCache(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *Options) { o.DNSCacheTTL = 30 * time.Second })
	ctx := context.Background()
	h.dns.Add(`cached.example. TXT "v=spf1 -all"`)
	if v, err := h.c.dns.LookupTXT(ctx, "cached.example"); err != nil || len(v) != 1 {
		t.Fatalf("first lookup: %v, %v", v, err)
	}
	if _, err := h.c.dns.LookupTXT(ctx, "missing.example"); !isNotFound(err) {
		t.Fatalf("missing: %v", err)
	}
	h.dns.Remove("cached.example")
	h.dns.Add(`missing.example. TXT "now here"`)
	if v, err := h.c.dns.LookupTXT(ctx, "cached.example"); err != nil || len(v) != 1 {
		t.Errorf("within TTL, answer not cached: %v, %v", v, err)
	}
	if _, err := h.c.dns.LookupTXT(ctx, "missing.example"); !isNotFound(err) {
		t.Errorf("within TTL, not-found not cached: %v", err)
	}
	h.clock.Advance(31 * time.Second)
	if _, err := h.c.dns.LookupTXT(ctx, "cached.example"); !isNotFound(err) {
		t.Errorf("after TTL: %v, want not found", err)
	}
	if v, err := h.c.dns.LookupTXT(ctx, "missing.example"); err != nil || len(v) != 1 {
		t.Errorf("after TTL: %v, %v", v, err)
	}

	// A failure is not cached.
	h.dns.Fail("flaky.example")
	if _, err := h.c.dns.LookupTXT(ctx, "flaky.example"); err == nil || isNotFound(err) {
		t.Fatalf("SERVFAIL: %v", err)
	}
	h.c.dns.mu.Lock()
	_, cached := h.c.dns.entries[cacheKey{"txt", "flaky.example"}]
	h.c.dns.mu.Unlock()
	if cached {
		t.Error("temporary failure was cached")
	}

	// Disabled cache asks every time.
	off := newHarness(t, func(o *Options) { o.DNSCacheTTL = -1 })
	off.dns.Add(`x.example. TXT "a"`)
	off.c.dns.LookupTXT(ctx, "x.example")
	off.dns.Remove("x.example")
	if _, err := off.c.dns.LookupTXT(ctx, "x.example"); !isNotFound(err) {
		t.Errorf("disabled cache answered from memory: %v", err)
	}
}

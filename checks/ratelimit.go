package checks

import (
	"net/netip"
	"sync"
	"time"
)

// limiter is a set of token buckets keyed by client network: an IPv4
// address, or the /64 of an IPv6 address (one end site usually holds a whole
// /64, so limiting single IPv6 addresses limits nothing).
type limiter struct {
	rate      Rate
	mu        sync.Mutex
	buckets   map[netip.Prefix]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// sweepAbove is the table size above which full buckets are dropped, so
// that a scan from many addresses cannot grow the table without bound.
const sweepAbove = 4096

func newLimiter(r Rate) *limiter {
	if !r.enabled() {
		return nil
	}
	return &limiter{rate: r, buckets: map[netip.Prefix]*bucket{}}
}

func limitKey(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		// Invalid address: one shared bucket, so garbage cannot evade the
		// limit.
		return netip.Prefix{}
	}
	return p
}

// allow takes one token for ip at time now and reports whether there was
// one. A nil limiter allows everything.
func (l *limiter) allow(ip netip.Addr, now time.Time) bool {
	if l == nil {
		return true
	}
	capacity := float64(l.rate.Count)
	perSecond := capacity / l.rate.Per.Seconds()
	key := limitKey(ip)

	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets) > sweepAbove && now.Sub(l.lastSweep) >= l.rate.Per {
		l.sweep(now, capacity, perSecond)
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: capacity, last: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = min(capacity, b.tokens+elapsed*perSecond)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep drops buckets that have refilled completely: forgetting them
// changes nothing. Caller holds l.mu.
func (l *limiter) sweep(now time.Time, capacity, perSecond float64) {
	l.lastSweep = now
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*perSecond >= capacity {
			delete(l.buckets, k)
		}
	}
}

// AllowMessage counts one message from ip against Options.MsgRate. Call it
// at MAIL FROM; a non-nil result is the reply to send instead of 250.
func (c *Checker) AllowMessage(ip netip.Addr) *Rejection {
	if c.msgLimit.allow(ip, c.now()) {
		return nil
	}
	c.log.Warn("message rate exceeded", "ip", ip.String())
	return &Rejection{Code: 451, Enhanced: [3]int{4, 7, 1}, Message: "Too many messages from your address, try again later"}
}

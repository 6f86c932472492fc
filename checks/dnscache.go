package checks

import (
	"context"
	"net"
	"sync"
	"time"
)

// dnsCache answers the lookups of the SPF, DKIM and DMARC checks from
// memory for a short time. net.Resolver does not cache, and a busy MX sees
// the same few sender domains again and again: without a cache every
// message costs four or more round trips to the resolver. Answers and
// "does not exist" are kept for ttl (well under the TTL of real records;
// net.Resolver does not tell us the record's own TTL); failures are never
// kept, so a temporary error is retried on the next message. The cache is
// bounded: when full, expired entries go, then everything (simple, and a
// cold cache is only slower).
type dnsCache struct {
	res *net.Resolver
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[cacheKey]cacheEntry
}

type cacheKey struct {
	kind string // "txt", "mx", "ip", "ptr"
	name string
}

type cacheEntry struct {
	expires time.Time
	txt     []string
	mx      []*net.MX
	ip      []net.IPAddr
	names   []string
	err     error // a not-found *net.DNSError, or nil
}

// maxCacheEntries bounds the memory of the cache (a few MB at most).
const maxCacheEntries = 10000

func newDNSCache(res *net.Resolver, ttl time.Duration, now func() time.Time) *dnsCache {
	return &dnsCache{res: res, ttl: ttl, now: now, entries: map[cacheKey]cacheEntry{}}
}

// lookup returns the cached entry for k or runs fetch and caches its
// result when it is an answer or a definite "not found".
func (c *dnsCache) lookup(k cacheKey, fetch func() cacheEntry) cacheEntry {
	if c.ttl <= 0 {
		return fetch()
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[k]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e
	}
	e = fetch()
	if e.err != nil && !isNotFound(e.err) {
		return e
	}
	e.expires = now.Add(c.ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCacheEntries {
		for key, old := range c.entries {
			if !now.Before(old.expires) {
				delete(c.entries, key)
			}
		}
		if len(c.entries) >= maxCacheEntries {
			clear(c.entries)
		}
	}
	c.entries[k] = e
	return e
}

// The four methods below make dnsCache an spf.DNSResolver (the subset of
// *net.Resolver the SPF library uses).

// LookupTXT is net.Resolver.LookupTXT through the cache.
func (c *dnsCache) LookupTXT(ctx context.Context, name string) ([]string, error) {
	e := c.lookup(cacheKey{"txt", name}, func() cacheEntry {
		v, err := c.res.LookupTXT(ctx, name)
		return cacheEntry{txt: v, err: err}
	})
	return e.txt, e.err
}

// LookupMX is net.Resolver.LookupMX through the cache.
func (c *dnsCache) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	e := c.lookup(cacheKey{"mx", name}, func() cacheEntry {
		v, err := c.res.LookupMX(ctx, name)
		return cacheEntry{mx: v, err: err}
	})
	return e.mx, e.err
}

// LookupIPAddr is net.Resolver.LookupIPAddr through the cache.
func (c *dnsCache) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	e := c.lookup(cacheKey{"ip", host}, func() cacheEntry {
		v, err := c.res.LookupIPAddr(ctx, host)
		return cacheEntry{ip: v, err: err}
	})
	return e.ip, e.err
}

// LookupAddr is net.Resolver.LookupAddr through the cache.
func (c *dnsCache) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	e := c.lookup(cacheKey{"ptr", addr}, func() cacheEntry {
		v, err := c.res.LookupAddr(ctx, addr)
		return cacheEntry{names: v, err: err}
	})
	return e.names, e.err
}

package auth

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"
)

// benchDB opens a database with 1,000 users in example.com, a two-target
// alias and a catch-all on example.org. Throttling never locks out and
// never sleeps, so repeated wrong passwords keep costing a hash.
func benchDB(b *testing.B, hash HashParams, users int) *DB {
	b.Helper()
	db, err := Open(Options{
		Path:     filepath.Join(b.TempDir(), "accounts.db"),
		Hash:     hash,
		Throttle: ThrottleOptions{Lockout: 1 << 30},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.sleep = func(context.Context, time.Duration) error { return nil }
	ctx := context.Background()
	for _, d := range []string{"example.com", "example.org"} {
		if err := db.AddDomain(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < users; i++ {
		if err := db.AddUser(ctx, fmt.Sprintf("user%d@example.com", i), "pw"); err != nil {
			b.Fatal(err)
		}
	}
	if err := db.AddAlias(ctx, "team@example.com", []string{"user1@example.com", "user2@example.com"}); err != nil {
		b.Fatal(err)
	}
	if err := db.AddAlias(ctx, "@example.org", []string{"user3@example.com"}); err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkResolve: the per-RCPT lookup.
func BenchmarkResolve(b *testing.B) {
	db := benchDB(b, fastHash, 1000)
	ctx := context.Background()
	for _, addr := range []string{"user500@example.com", "User500+tag@Example.COM", "team@example.com", "anyone@example.org", "nobody@example.com", "x@example.net"} {
		b.Run(addr, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				db.Resolve(ctx, addr)
			}
		})
	}
}

// BenchmarkQuota: the per-delivery quota read.
func BenchmarkQuota(b *testing.B) {
	db := benchDB(b, fastHash, 1000)
	b.ReportAllocs()
	for b.Loop() {
		db.Quota("user500@example.com")
	}
}

// BenchmarkAuthenticate runs logins with the production argon2id cost.
// "unknown" should cost the same as "wrong": that is the timing-equality
// property (no user enumeration).
func BenchmarkAuthenticate(b *testing.B) {
	db := benchDB(b, HashParams{}, 10)
	ctx := context.Background()
	ip := netip.MustParseAddr("192.0.2.1")
	for _, bc := range []struct{ name, user, pw string }{
		{"right", "user5@example.com", "pw"},
		{"wrong", "user5@example.com", "nope"},
		{"unknown", "nobody@example.com", "pw"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				db.Authenticate(ctx, bc.user, bc.pw, ip)
			}
		})
	}
}

// BenchmarkAuthenticateParallel: logins from both cores at once.
func BenchmarkAuthenticateParallel(b *testing.B) {
	db := benchDB(b, HashParams{}, 10)
	ctx := context.Background()
	ip := netip.MustParseAddr("192.0.2.1")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			db.Authenticate(ctx, "user5@example.com", "pw", ip)
		}
	})
}

// BenchmarkUnknownVsWrong alternates a wrong password for an existing user
// with a login as an unknown user, timing each, and reports their ratio
// (unknown/wrong; ~1.0 means no user enumeration by timing). Alternating
// in one loop keeps the ratio meaningful on a noisy shared machine.
func BenchmarkUnknownVsWrong(b *testing.B) {
	db := benchDB(b, HashParams{}, 10)
	ctx := context.Background()
	ip := netip.MustParseAddr("192.0.2.1")
	var wrong, unknown time.Duration
	timed := func(user string) time.Duration {
		t0 := time.Now()
		db.Authenticate(ctx, user, "nope", ip)
		return time.Since(t0)
	}
	i := 0
	for b.Loop() {
		// Swap the order every iteration so neither side always pays for
		// the garbage collection the other's 19 MiB allocation triggers.
		if i++; i%2 == 0 {
			wrong += timed("user5@example.com")
			unknown += timed("nobody@example.com")
		} else {
			unknown += timed("nobody@example.com")
			wrong += timed("user5@example.com")
		}
	}
	b.ReportMetric(float64(wrong.Milliseconds())/float64(b.N), "ms-wrong/op")
	b.ReportMetric(float64(unknown.Milliseconds())/float64(b.N), "ms-unknown/op")
	b.ReportMetric(float64(unknown)/float64(wrong), "unknown/wrong")
}

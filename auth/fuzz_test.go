package auth

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fuzzDB is shared by fuzz iterations (one DB per fuzz worker process).
func fuzzDB(f *testing.F) *DB {
	clock := newFakeClock()
	db, err := Open(Options{Path: f.TempDir() + "/accounts.db", Hash: fastHash, Now: clock.Now,
		Throttle: ThrottleOptions{Lockout: 1 << 30}})
	if err != nil {
		f.Fatal(err)
	}
	db.sleep = func(context.Context, time.Duration) error { return nil }
	f.Cleanup(func() { db.Close() })
	ctx := context.Background()
	for _, d := range []string{"example.com", "example.org", "xn--bcher-kva.example"} {
		if err := db.AddDomain(ctx, d); err != nil {
			f.Fatal(err)
		}
	}
	for _, u := range []string{"bob@example.com", "ann@example.org"} {
		if err := db.AddUser(ctx, u, "pw"); err != nil {
			f.Fatal(err)
		}
	}
	if err := db.AddAlias(ctx, "@example.org", []string{"ann@example.org"}); err != nil {
		f.Fatal(err)
	}
	return db
}

// FuzzResolve feeds RCPT addresses, as received from the network, to
// Resolve: it must never panic, and must either name existing users or
// fail with one of the documented errors.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{
		"bob@example.com", "BOB+x@EXAMPLE.COM.", "x@example.org", "postmaster", "Postmaster@example.com",
		"jörg@bücher.example", "a@[192.0.2.1]", "@example.com", "a@b@c", "\x00@example.com", "a@example.com\r\n",
	} {
		f.Add(s)
	}
	db := fuzzDB(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, addr string) {
		got, err := db.Resolve(ctx, addr)
		if err != nil {
			if !errors.Is(err, ErrNotLocal) && !errors.Is(err, ErrNoSuchUser) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("Resolve(%q): undocumented error %v", addr, err)
			}
			return
		}
		if len(got) == 0 {
			t.Fatalf("Resolve(%q) = nothing, nil", addr)
		}
		for _, u := range got {
			if u != "bob@example.com" && u != "ann@example.org" {
				t.Fatalf("Resolve(%q) = %q: not a user", addr, got)
			}
		}
	})
}

// FuzzSASL feeds arbitrary client responses to the PLAIN and LOGIN
// servers: no panic, errors typed, success only with the right password.
func FuzzSASL(f *testing.F) {
	f.Add(true, []byte("\x00bob@example.com\x00pw"), []byte(nil))
	f.Add(true, []byte("bob@example.com\x00bob@example.com\x00pw"), []byte("x"))
	f.Add(false, []byte("bob@example.com"), []byte("pw"))
	f.Add(false, []byte(nil), []byte("bob@example.com"))
	db := fuzzDB(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, plain bool, r1, r2 []byte) {
		mech := "LOGIN"
		if plain {
			mech = "PLAIN"
		}
		var account string
		srv, err := db.SASLServer(ctx, mech, ip1, func(a string) error { account = a; return nil })
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range [][]byte{r1, r2, []byte("pw")} {
			_, done, err := srv.Next(r)
			if err != nil {
				if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrBadCredentials) && !errors.Is(err, ErrThrottled) {
					t.Fatalf("%s: undocumented error %v", mech, err)
				}
				return
			}
			if done {
				break
			}
		}
		if account != "" && account != "bob@example.com" && account != "ann@example.org" {
			t.Fatalf("%s: logged in as %q", mech, account)
		}
	})
}

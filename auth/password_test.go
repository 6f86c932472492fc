package auth

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

var phcRE = regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashFormat(t *testing.T) {
	t.Parallel()
	h, err := hashPassword(fastHash, "correct horse")
	must(t, err)
	m := phcRE.FindStringSubmatch(h)
	if m == nil || m[1] != "64" || m[2] != "1" || m[3] != "1" {
		t.Fatalf("hash %q is not the expected PHC string", h)
	}
	h2, _ := hashPassword(fastHash, "correct horse")
	if h == h2 {
		t.Error("two hashes of one password are equal: salt not random")
	}
	for _, tt := range []struct {
		pw   string
		want bool
	}{{"correct horse", true}, {"Correct horse", false}, {"correct horse ", false}, {"", false}} {
		ok, err := verifyHash(h, tt.pw)
		if err != nil || ok != tt.want {
			t.Errorf("verifyHash(%q) = %v, %v; want %v", tt.pw, ok, err, tt.want)
		}
	}
}

// A hash made with other parameters (say, before a change of defaults) is
// verified with its own parameters.
func TestVerifyUsesStoredParams(t *testing.T) {
	t.Parallel()
	h, err := hashPassword(HashParams{Memory: 128, Time: 3, Threads: 2}, "pw")
	must(t, err)
	if ok, err := verifyHash(h, "pw"); !ok || err != nil {
		t.Fatalf("verifyHash = %v, %v", ok, err)
	}
	// Known-answer check against x/crypto with the decoded salt.
	p, salt, key, err := parseHash(h)
	must(t, err)
	if p != (HashParams{Memory: 128, Time: 3, Threads: 2}) {
		t.Errorf("parsed params %+v", p)
	}
	if got := argon2.IDKey([]byte("pw"), salt, 3, 128, 2, 32); string(got) != string(key) {
		t.Error("stored key differs from argon2.IDKey")
	}
}

func TestParseHashRejects(t *testing.T) {
	t.Parallel()
	good, _ := hashPassword(fastHash, "pw")
	f := strings.Split(good, "$")
	bad := []string{
		"",
		"plain",
		strings.Replace(good, "argon2id", "argon2i", 1),
		strings.Replace(good, "v=19", "v=16", 1),
		strings.Replace(good, "m=64", "m=4294967295", 1), // > 1 GiB
		strings.Replace(good, "m=64", "m=4", 1),          // < 8 KiB per lane
		strings.Replace(good, "t=1", "t=0", 1),
		strings.Replace(good, "t=1", "t=1000", 1),
		strings.Replace(good, "p=1", "p=0", 1),
		strings.Replace(good, "p=1", "p=256", 1),
		strings.Replace(good, ",p=1", "", 1),
		strings.Replace(good, "m=64", "m=64,x=1", 1),
		strings.Join(append(f[:4:4], "!!", f[5]), "$"),
		strings.Join(append(f[:4:4], f[4], "short"), "$"),
		good + "$extra",
	}
	for _, h := range bad {
		if _, _, _, err := parseHash(h); err == nil {
			t.Errorf("parseHash(%q) accepted", h)
		}
		if ok, err := verifyHash(h, "pw"); ok || err == nil {
			t.Errorf("verifyHash(%q) = %v, %v", h, ok, err)
		}
	}
}

func TestOpenRejectsBadHashParams(t *testing.T) {
	t.Parallel()
	_, err := Open(Options{Path: filepath.Join(t.TempDir(), "a.db"), Hash: HashParams{Memory: 8, Threads: 4}})
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("Open with m=8 p=4: %v, want ErrInvalid", err)
	}
}

// TestRealHashParams runs the production parameters once: the stored hash
// carries them and a login verifies with them.
func TestRealHashParams(t *testing.T) {
	t.Parallel()
	db := newTestDB(t, func(o *Options) { o.Hash = HashParams{} })
	ctx := context.Background()
	if db.hash != (HashParams{Memory: 19 * 1024, Time: 2, Threads: 1}) {
		t.Fatalf("default params = %+v", db.hash)
	}
	db.seed(t, []string{"example.com"}, []string{"bob@example.com"}, nil)
	rec := db.view().users["bob@example.com"]
	if !strings.HasPrefix(rec.Hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("stored hash %q", rec.Hash)
	}
	start := time.Now()
	acct, err := db.Authenticate(ctx, "bob@example.com", "pw-bob@example.com", netip.MustParseAddr("192.0.2.1"))
	if err != nil || acct != "bob@example.com" {
		t.Fatalf("Authenticate = %q, %v", acct, err)
	}
	t.Logf("one login with the real parameters took %v", time.Since(start))
	if _, err := db.Authenticate(ctx, "bob@example.com", "wrong", netip.MustParseAddr("192.0.2.1")); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("wrong password: %v", err)
	}
	if !strings.HasPrefix(db.dummy, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("dummy hash %q does not use the real parameters", db.dummy)
	}
	if _, _, _, err := parseHash(db.dummy); err != nil {
		t.Errorf("dummy hash does not parse: %v", err)
	}
}

// A login rehashes a password stored with other parameters; a failed login
// does not touch it.
func TestHashUpgradeOnLogin(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()
	db.seed(t, []string{"example.com"}, []string{"bob@example.com"}, nil)
	old := db.view().users["bob@example.com"].Hash
	must(t, db.Close())

	newer := HashParams{Memory: 128, Time: 2, Threads: 1}
	db2, err := Open(Options{Path: db.path, Hash: newer})
	must(t, err)
	defer db2.Close()
	db2.sleep = db.slept.sleep
	if _, err := db2.Authenticate(ctx, "bob@example.com", "wrong", ip1); !errors.Is(err, ErrBadCredentials) {
		t.Fatal(err)
	}
	if h := db2.view().users["bob@example.com"].Hash; h != old {
		t.Error("failed login changed the hash")
	}
	if _, err := db2.Authenticate(ctx, "bob@example.com", "pw-bob@example.com", ip1); err != nil {
		t.Fatal(err)
	}
	h := db2.view().users["bob@example.com"].Hash
	if p, _, _, err := parseHash(h); err != nil || p != newer {
		t.Errorf("hash after login %q, want parameters %+v", h, newer)
	}
	if _, err := db2.Authenticate(ctx, "bob@example.com", "pw-bob@example.com", ip1); err != nil {
		t.Errorf("login with upgraded hash: %v", err)
	}
}

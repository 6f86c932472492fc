package auth

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestUsers(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()
	must(t, db.AddDomain(ctx, "example.com"))

	start := db.clock.Now()
	must(t, db.AddUser(ctx, "Bob@Example.com", "secret"))
	db.clock.Advance(time.Minute)
	must(t, db.AddUser(ctx, "ann@example.com", "secret2"))

	for _, tt := range []struct {
		addr, pw string
		want     error
	}{
		{"BOB@example.com", "x", ErrExists},
		{"bob@example.org", "x", ErrNotLocal},
		{"bob", "x", ErrInvalid},
		{"b+x@example.com", "x", ErrInvalid},
		{"carl@example.com", "", ErrInvalid},
		{"carl@example.com", "a\x00b", ErrInvalid},
		{"carl@example.com", "a\nb", ErrInvalid},
		{"carl@example.com", string(make([]byte, maxPassword+1)), ErrInvalid},
	} {
		if err := db.AddUser(ctx, tt.addr, tt.pw); !errors.Is(err, tt.want) {
			t.Errorf("AddUser(%q): %v, want %v", tt.addr, err, tt.want)
		}
	}

	users, err := db.Users(ctx)
	must(t, err)
	want := []User{
		{Address: "ann@example.com", Created: start.Add(time.Minute)},
		{Address: "bob@example.com", Created: start},
	}
	if !slices.Equal(users, want) {
		t.Errorf("Users = %+v, want %+v", users, want)
	}
	u, err := db.User(ctx, "BOB@EXAMPLE.COM")
	if err != nil || u != want[1] {
		t.Errorf("User(bob) = %+v, %v", u, err)
	}
	if _, err := db.User(ctx, "nobody@example.com"); !errors.Is(err, ErrNotFound) {
		t.Errorf("User(nobody): %v, want ErrNotFound", err)
	}

	// Quota.
	if q := db.Quota("bob@example.com"); q != 0 {
		t.Errorf("initial Quota = %d", q)
	}
	must(t, db.SetQuota(ctx, "Bob@example.com", 1<<20))
	if q := db.Quota("bob@example.com"); q != 1<<20 {
		t.Errorf("Quota = %d, want %d", q, 1<<20)
	}
	if q := db.Quota("BOB@example.com"); q != 1<<20 {
		t.Errorf("Quota(upper case) = %d, want %d", q, 1<<20)
	}
	if q := db.Quota("nobody@example.com"); q != 0 {
		t.Errorf("Quota(unknown) = %d", q)
	}
	if err := db.SetQuota(ctx, "bob@example.com", -1); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetQuota(-1): %v", err)
	}
	if err := db.SetQuota(ctx, "nobody@example.com", 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetQuota(unknown): %v", err)
	}
	if u, _ := db.User(ctx, "bob@example.com"); u.Quota != 1<<20 {
		t.Errorf("User.Quota = %d", u.Quota)
	}

	// Password change: old one stops working, new one works.
	ip := netip.MustParseAddr("192.0.2.1")
	must(t, db.SetPassword(ctx, "bob@example.com", "new secret"))
	if _, err := db.Authenticate(ctx, "bob@example.com", "secret", ip); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("old password after SetPassword: %v", err)
	}
	if acct, err := db.Authenticate(ctx, "bob@example.com", "new secret", ip); err != nil || acct != "bob@example.com" {
		t.Errorf("new password: %q, %v", acct, err)
	}
	if err := db.SetPassword(ctx, "nobody@example.com", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetPassword(unknown): %v", err)
	}
	if err := db.SetPassword(ctx, "bob@example.com", ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetPassword(empty): %v", err)
	}

	// Remove.
	must(t, db.RemoveUser(ctx, "BOB@example.com"))
	if err := db.RemoveUser(ctx, "bob@example.com"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second RemoveUser: %v", err)
	}
	if _, err := db.User(ctx, "bob@example.com"); !errors.Is(err, ErrNotFound) {
		t.Errorf("User after remove: %v", err)
	}
	if q := db.Quota("bob@example.com"); q != 0 {
		t.Errorf("Quota after remove = %d", q)
	}
	// The address is free again.
	must(t, db.AddUser(ctx, "bob@example.com", "again"))
}

func TestUserAliasCollision(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()
	db.seed(t, []string{"example.com"}, []string{"bob@example.com"},
		map[string][]string{"sales@example.com": {"bob@example.com"}})
	if err := db.AddUser(ctx, "Sales@example.com", "pw"); !errors.Is(err, ErrExists) {
		t.Errorf("AddUser over an alias: %v, want ErrExists", err)
	}
}

func TestRemoveUserPrunesAliases(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()
	db.seed(t, []string{"example.com"}, []string{"bob@example.com", "ann@example.com"}, map[string][]string{
		"team@example.com":  {"bob@example.com", "ann@example.com"},
		"bobby@example.com": {"bob@example.com"},
		"@example.com":      {"bob@example.com"},
	})
	must(t, db.RemoveUser(ctx, "bob@example.com"))
	aliases, err := db.Aliases(ctx)
	must(t, err)
	if len(aliases) != 1 || aliases[0].Address != "team@example.com" ||
		!slices.Equal(aliases[0].Targets, []string{"ann@example.com"}) {
		t.Errorf("aliases after RemoveUser = %+v", aliases)
	}
	if _, err := db.Resolve(ctx, "bobby@example.com"); !errors.Is(err, ErrNoSuchUser) {
		t.Errorf("Resolve(removed alias): %v", err)
	}
}

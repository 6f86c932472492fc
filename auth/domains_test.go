package auth

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestDomains(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()

	must(t, db.AddDomain(ctx, "Example.COM"))
	must(t, db.AddDomain(ctx, "b\u00fccher.example."))
	must(t, db.AddDomain(ctx, "localhost"))
	if err := db.AddDomain(ctx, "example.com."); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate AddDomain: %v, want ErrExists", err)
	}
	for _, bad := range []string{"", "exa mple.com", "-x.com", "x_y.com", "192.0.2.1", "[192.0.2.1]", "a..b"} {
		if err := db.AddDomain(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("AddDomain(%q): %v, want ErrInvalid", bad, err)
		}
	}
	got, err := db.Domains(ctx)
	must(t, err)
	if want := []string{"example.com", "localhost", "xn--bcher-kva.example"}; !slices.Equal(got, want) {
		t.Errorf("Domains = %q, want %q", got, want)
	}

	for _, tt := range []struct {
		d    string
		want bool
	}{
		{"example.com", true}, {"EXAMPLE.com.", true}, {"bücher.example", true},
		{"XN--BCHER-KVA.example", true}, {"example.org", false}, {"", false}, {"sub.example.com", false},
	} {
		if got := db.IsLocalDomain(tt.d); got != tt.want {
			t.Errorf("IsLocalDomain(%q) = %v, want %v", tt.d, got, tt.want)
		}
	}

	if err := db.RemoveDomain(ctx, "nope.example"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RemoveDomain(absent): %v, want ErrNotFound", err)
	}
	must(t, db.RemoveDomain(ctx, "LOCALHOST"))
	if db.IsLocalDomain("localhost") {
		t.Error("localhost still local after RemoveDomain")
	}
}

func TestRemoveDomainInUse(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()
	db.seed(t, []string{"example.com", "example.org"}, []string{"bob@example.com", "ann@example.org"}, nil)

	if err := db.RemoveDomain(ctx, "example.com"); !errors.Is(err, ErrDomainInUse) {
		t.Fatalf("RemoveDomain with a user: %v, want ErrDomainInUse", err)
	}
	must(t, db.RemoveUser(ctx, "bob@example.com"))
	// A catch-all in the domain (pointing elsewhere) also keeps it in use.
	must(t, db.AddAlias(ctx, "@example.com", []string{"ann@example.org"}))
	if err := db.RemoveDomain(ctx, "example.com"); !errors.Is(err, ErrDomainInUse) {
		t.Fatalf("RemoveDomain with a catch-all: %v, want ErrDomainInUse", err)
	}
	must(t, db.RemoveAlias(ctx, "@example.com"))
	must(t, db.RemoveDomain(ctx, "example.com"))
	// An alias in another domain that targets one of its users does not
	// keep a domain in use (users are removed first anyway).
	if !db.IsLocalDomain("example.org") || db.IsLocalDomain("example.com") {
		t.Error("wrong domains after removal")
	}
}

package auth

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// resolveFixture: two domains with users, aliases and a catch-all on one.
func resolveFixture(t *testing.T) *testDB {
	db := newTestDB(t)
	db.seed(t,
		[]string{"example.com", "example.org", "empty.example", "xn--bcher-kva.example"},
		// Creation order matters for the postmaster fallback: bob first.
		[]string{"bob@example.com", "ann@example.com", "carl@example.org", "jörg@xn--bcher-kva.example"},
		map[string][]string{
			"sales@example.com": {"bob@example.com"},
			"team@example.com":  {"ann@example.com", "bob@example.com"},
			"@example.org":      {"carl@example.org"},
		})
	return db
}

func TestResolve(t *testing.T) {
	t.Parallel()
	db := resolveFixture(t)
	ctx := context.Background()
	tests := []struct {
		addr string
		want []string
		err  error
	}{
		{"bob@example.com", []string{"bob@example.com"}, nil},
		{"BOB@EXAMPLE.COM", []string{"bob@example.com"}, nil},
		{" Bob@Example.Com. ", []string{"bob@example.com"}, nil},
		{"sales@example.com", []string{"bob@example.com"}, nil},
		{"Sales@example.com", []string{"bob@example.com"}, nil},
		{"team@example.com", []string{"ann@example.com", "bob@example.com"}, nil},
		{"bob+news@example.com", []string{"bob@example.com"}, nil},
		{"BOB+News@example.com", []string{"bob@example.com"}, nil},
		{"bob+@example.com", []string{"bob@example.com"}, nil},
		{"bob+a+b@example.com", []string{"bob@example.com"}, nil},
		{"sales+x@example.com", []string{"bob@example.com"}, nil},
		{"team+x@example.com", []string{"ann@example.com", "bob@example.com"}, nil},
		{"+bob@example.com", nil, ErrNoSuchUser},
		{"nobody@example.com", nil, ErrNoSuchUser},
		{"nobody+bob@example.com", nil, ErrNoSuchUser},
		{"a b@example.com", nil, ErrNoSuchUser},
		{`"bob"@example.com`, nil, ErrNoSuchUser},
		{"carl@example.org", []string{"carl@example.org"}, nil},
		{"anything@example.org", []string{"carl@example.org"}, nil},  // catch-all
		{"any+thing@example.org", []string{"carl@example.org"}, nil}, // catch-all after +tag
		{"a/b@example.org", []string{"carl@example.org"}, nil},       // any dot-atom
		{"Jörg@Bücher.example", []string{"jörg@xn--bcher-kva.example"}, nil},
		{"jörg@xn--bcher-kva.example", []string{"jörg@xn--bcher-kva.example"}, nil},
		{"bob@example.net", nil, ErrNotLocal},
		{"bob@sub.example.com", nil, ErrNotLocal},
		{"nobody@empty.example", nil, ErrNoSuchUser},
		{"bob", nil, ErrInvalid},
		{"bob@", nil, ErrInvalid},
		{"bob@exa mple.com", nil, ErrInvalid},
		{"bob@[192.0.2.1]", nil, ErrNotLocal},
		{"bob@[IPv6:2001:db8::1]", nil, ErrNotLocal},
		// RFC 5321 4.5.1 postmaster, with no user or alias of that name:
		{"postmaster@example.com", []string{"bob@example.com"}, nil},   // oldest user of the domain
		{"PostMaster@Example.com", []string{"bob@example.com"}, nil},   // case-insensitive
		{"postmaster@example.org", []string{"carl@example.org"}, nil},  // catch-all first
		{"postmaster@empty.example", []string{"bob@example.com"}, nil}, // no users: oldest overall
		{"Postmaster", []string{"bob@example.com"}, nil},               // RCPT TO:<Postmaster>
		{"postmaster@example.net", nil, ErrNotLocal},
	}
	for _, tt := range tests {
		got, err := db.Resolve(ctx, tt.addr)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("Resolve(%q) = %q, %v; want %v", tt.addr, got, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tt.addr, got, err, tt.want)
		}
	}
}

func TestResolvePostmasterExplicit(t *testing.T) {
	t.Parallel()
	db := resolveFixture(t)
	ctx := context.Background()
	// An explicit alias wins over the fallback.
	must(t, db.AddAlias(ctx, "postmaster@example.com", []string{"ann@example.com"}))
	if got, err := db.Resolve(ctx, "postmaster@example.com"); err != nil || !slices.Equal(got, []string{"ann@example.com"}) {
		t.Errorf("Resolve(postmaster alias) = %q, %v", got, err)
	}
	if got, err := db.Resolve(ctx, "POSTMASTER"); err != nil || !slices.Equal(got, []string{"ann@example.com"}) {
		t.Errorf("Resolve(bare postmaster) = %q, %v", got, err)
	}

	// With no users at all, postmaster is undeliverable rather than an error
	// of another kind.
	empty := newTestDB(t)
	must(t, empty.AddDomain(ctx, "example.com"))
	for _, a := range []string{"postmaster@example.com", "postmaster"} {
		if _, err := empty.Resolve(ctx, a); !errors.Is(err, ErrNoSuchUser) {
			t.Errorf("Resolve(%q) with no users: %v, want ErrNoSuchUser", a, err)
		}
	}
}

func TestResolveReturnsCopy(t *testing.T) {
	t.Parallel()
	db := resolveFixture(t)
	ctx := context.Background()
	got, err := db.Resolve(ctx, "team@example.com")
	must(t, err)
	got[0] = "mallory@example.com"
	if again, _ := db.Resolve(ctx, "team@example.com"); again[0] != "ann@example.com" {
		t.Errorf("Resolve result shares state: %q", again)
	}
}

func TestCanSendAs(t *testing.T) {
	t.Parallel()
	db := resolveFixture(t)
	ctx := context.Background()
	tests := []struct {
		account, address string
		want             bool
	}{
		{"bob@example.com", "bob@example.com", true},
		{"bob@example.com", "Bob@Example.COM", true},
		{"BOB@example.com", "bob@example.com", true},
		{"bob@example.com", "bob+lists@example.com", true},
		{"bob@example.com", "sales@example.com", true},
		{"bob@example.com", "sales+x@example.com", true},
		{"bob@example.com", "team@example.com", true},
		{"ann@example.com", "team@example.com", true},
		{"ann@example.com", "sales@example.com", false},
		{"ann@example.com", "bob@example.com", false},
		{"ann@example.com", "bob+x@example.com", false},
		{"bob@example.com", "nobody@example.com", false},
		{"bob@example.com", "bob@example.net", false}, // foreign domain
		{"bob@example.com", "", false},                // null sender
		{"bob@example.com", "bob", false},
		{"nobody@example.com", "nobody@example.com", false}, // not a user
		{"not an address", "bob@example.com", false},
		// Catch-all owner: any address of the domain that reaches it.
		{"carl@example.org", "anything@example.org", true},
		{"carl@example.org", "shop-x@example.org", true},
		{"bob@example.com", "anything@example.org", false},
		// Postmaster fallback goes to the oldest user, who may answer as it.
		{"bob@example.com", "postmaster@example.com", true},
		{"ann@example.com", "postmaster@example.com", false},
	}
	for _, tt := range tests {
		if got := db.CanSendAs(ctx, tt.account, tt.address); got != tt.want {
			t.Errorf("CanSendAs(%q, %q) = %v, want %v", tt.account, tt.address, got, tt.want)
		}
	}
	// A user of the catch-all domain keeps its own address.
	must(t, db.AddUser(ctx, "dora@example.org", "pw"))
	if db.CanSendAs(ctx, "carl@example.org", "dora@example.org") {
		t.Error("catch-all owner may send as another user of the domain")
	}
}

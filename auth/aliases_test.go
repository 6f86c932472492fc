package auth

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestAliases(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()
	db.seed(t, []string{"example.com", "example.org"}, []string{"bob@example.com", "ann@example.org"}, nil)

	must(t, db.AddAlias(ctx, "Sales@Example.com", []string{"BOB@example.com", "ann@example.org", "bob@example.com"}))
	must(t, db.AddAlias(ctx, "@Example.ORG", []string{"ann@example.org"}))

	for _, tt := range []struct {
		addr    string
		targets []string
		want    error
	}{
		{"sales@example.com", []string{"bob@example.com"}, ErrExists},  // alias exists
		{"bob@example.com", []string{"ann@example.org"}, ErrExists},    // shadows a user
		{"@example.org", []string{"bob@example.com"}, ErrExists},       // catch-all exists
		{"x@example.net", []string{"bob@example.com"}, ErrNotLocal},    // foreign domain
		{"x@example.com", []string{"nobody@example.com"}, ErrNotFound}, // target not a user
		{"x@example.com", []string{"sales@example.com"}, ErrNotFound},  // aliases do not chain
		{"x@example.com", []string{"bob@example.net"}, ErrNotFound},    // foreign target
		{"x@example.com", nil, ErrInvalid},                             // no targets
		{"x@example.com", []string{"not an address"}, ErrInvalid},      // bad target
		{"x+y@example.com", []string{"bob@example.com"}, ErrInvalid},   // '+' reserved
		{"x y@example.com", []string{"bob@example.com"}, ErrInvalid},   // bad address
		{"@", []string{"bob@example.com"}, ErrInvalid},                 // empty catch-all
	} {
		if err := db.AddAlias(ctx, tt.addr, tt.targets); !errors.Is(err, tt.want) {
			t.Errorf("AddAlias(%q, %q): %v, want %v", tt.addr, tt.targets, err, tt.want)
		}
	}

	got, err := db.Aliases(ctx)
	must(t, err)
	want := []Alias{
		{Address: "@example.org", Targets: []string{"ann@example.org"}},
		{Address: "sales@example.com", Targets: []string{"bob@example.com", "ann@example.org"}},
	}
	if !slices.EqualFunc(got, want, func(a, b Alias) bool {
		return a.Address == b.Address && slices.Equal(a.Targets, b.Targets)
	}) {
		t.Errorf("Aliases = %+v, want %+v", got, want)
	}
	// The returned slices are copies.
	got[1].Targets[0] = "mallory@example.com"
	if r, _ := db.Resolve(ctx, "sales@example.com"); r[0] != "bob@example.com" {
		t.Errorf("Aliases result aliases internal state: %q", r)
	}

	if err := db.RemoveAlias(ctx, "nobody@example.com"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RemoveAlias(absent): %v", err)
	}
	must(t, db.RemoveAlias(ctx, "SALES@example.com"))
	must(t, db.RemoveAlias(ctx, "@example.org"))
	if got, _ := db.Aliases(ctx); len(got) != 0 {
		t.Errorf("Aliases after removal = %+v", got)
	}
}

package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.etcd.io/bbolt"
)

// AddDomain adds a local domain (any case; a trailing dot and IDNA U-labels
// are accepted and stored in canonical A-label form). ErrExists if present,
// ErrInvalid if not a host name.
func (db *DB) AddDomain(ctx context.Context, domain string) error {
	d, err := canonicalDomain(strings.TrimSpace(domain))
	if err != nil {
		return err
	}
	return db.update(ctx, func(tx *bbolt.Tx, st *state) error {
		if _, ok := st.domains[d]; ok {
			return fmt.Errorf("%w: domain %s", ErrExists, d)
		}
		return putJSON(tx, bucketDomains, d, domainRecord{Created: db.now().UTC()})
	})
}

// RemoveDomain removes a domain; ErrNotFound if absent, ErrDomainInUse
// while users or aliases (including its catch-all) remain.
func (db *DB) RemoveDomain(ctx context.Context, domain string) error {
	d, err := canonicalDomain(strings.TrimSpace(domain))
	if err != nil {
		return err
	}
	return db.update(ctx, func(tx *bbolt.Tx, st *state) error {
		if _, ok := st.domains[d]; !ok {
			return fmt.Errorf("%w: domain %s", ErrNotFound, d)
		}
		if n := st.domainUse(d); n > 0 {
			return fmt.Errorf("%w: %s has %d users or aliases", ErrDomainInUse, d, n)
		}
		return del(tx, bucketDomains, d)
	})
}

// Domains lists local domains, sorted.
func (db *DB) Domains(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st := db.view()
	out := make([]string, 0, len(st.domains))
	for d := range st.domains {
		out = append(out, d)
	}
	slices.Sort(out)
	return out, nil
}

// IsLocalDomain reports whether domain (any case, a trailing dot, U-labels
// or A-labels) is local. It never blocks and is cheap enough to call per
// RCPT.
func (db *DB) IsLocalDomain(domain string) bool {
	d, err := canonicalDomain(strings.TrimSpace(domain))
	if err != nil {
		return false
	}
	_, ok := db.view().domains[d]
	return ok
}

// domainUse counts users and aliases in domain d.
func (st *state) domainUse(d string) int {
	n := 0
	for a := range st.users {
		if domainOf(a) == d {
			n++
		}
	}
	for a := range st.aliases {
		if domainOf(a) == d {
			n++
		}
	}
	return n
}

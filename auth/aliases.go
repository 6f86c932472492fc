package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.etcd.io/bbolt"
)

// AddAlias maps address ("x@dom", or the catch-all "@dom") to one or more
// existing local users. The alias's domain must be local (ErrNotLocal); the
// address may not be taken by a user or another alias (ErrExists); every
// target must be an existing user (ErrNotFound) — aliases never point at
// aliases, so resolution has no chains or loops. Duplicate targets are
// dropped; their order is kept.
func (db *DB) AddAlias(ctx context.Context, address string, targets []string) error {
	addr, err := canonicalAliasAddress(address)
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		return fmt.Errorf("%w: alias %s has no targets", ErrInvalid, addr)
	}
	var ts []string
	for _, t := range targets {
		c, err := canonicalAddress(t)
		if err != nil {
			return fmt.Errorf("target: %w", err)
		}
		if !slices.Contains(ts, c) {
			ts = append(ts, c)
		}
	}
	return db.update(ctx, func(tx *bbolt.Tx, st *state) error {
		if err := st.checkNewAddress(addr); err != nil {
			return err
		}
		for _, t := range ts {
			if _, ok := st.users[t]; !ok {
				return fmt.Errorf("%w: target user %s", ErrNotFound, t)
			}
		}
		return putJSON(tx, bucketAliases, addr, aliasRecord{Targets: ts, Created: db.now().UTC()})
	})
}

// RemoveAlias deletes an alias; ErrNotFound if absent.
func (db *DB) RemoveAlias(ctx context.Context, address string) error {
	addr, err := canonicalAliasAddress(address)
	if err != nil {
		return err
	}
	return db.update(ctx, func(tx *bbolt.Tx, st *state) error {
		if _, ok := st.aliases[addr]; !ok {
			return fmt.Errorf("%w: alias %s", ErrNotFound, addr)
		}
		return del(tx, bucketAliases, addr)
	})
}

// Aliases lists aliases sorted by address (catch-alls, "@dom", sort first).
func (db *DB) Aliases(ctx context.Context) ([]Alias, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st := db.view()
	out := make([]Alias, 0, len(st.aliases))
	for a, rec := range st.aliases {
		out = append(out, Alias{Address: a, Targets: slices.Clone(rec.Targets)})
	}
	slices.SortFunc(out, func(a, b Alias) int { return strings.Compare(a.Address, b.Address) })
	return out, nil
}

package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.etcd.io/bbolt"
)

// AddUser creates a user with the given password. The address is
// canonicalised (lower-case; see doc.go for the accepted syntax) and its
// domain must be local (ErrNotLocal otherwise). ErrExists if a user or an
// alias already has that address; ErrInvalid for a bad address or password.
func (db *DB) AddUser(ctx context.Context, address, password string) error {
	addr, err := canonicalAddress(address)
	if err != nil {
		return err
	}
	// Cheap checks first, so a typo does not cost a password hash; they are
	// repeated inside the transaction, which is authoritative.
	if err := db.view().checkNewAddress(addr); err != nil {
		return err
	}
	hash, err := db.newHash(ctx, password) // slow: outside the write lock
	if err != nil {
		return err
	}
	return db.update(ctx, func(tx *bbolt.Tx, st *state) error {
		if err := st.checkNewAddress(addr); err != nil {
			return err
		}
		return putJSON(tx, bucketUsers, addr, userRecord{Hash: hash, Created: db.now().UTC()})
	})
}

// checkNewAddress reports why addr (a canonical address or catch-all)
// cannot be created as a new user or alias.
func (st *state) checkNewAddress(addr string) error {
	d := domainOf(addr)
	if _, ok := st.domains[d]; !ok {
		return fmt.Errorf("%w: %s", ErrNotLocal, d)
	}
	if _, ok := st.users[addr]; ok {
		return fmt.Errorf("%w: user %s", ErrExists, addr)
	}
	if _, ok := st.aliases[addr]; ok {
		return fmt.Errorf("%w: alias %s", ErrExists, addr)
	}
	return nil
}

// RemoveUser deletes a user and removes it from every alias's targets; an
// alias left without targets is deleted too. The user's mail is storage's
// business. ErrNotFound if there is no such user.
func (db *DB) RemoveUser(ctx context.Context, address string) error {
	addr, err := canonicalAddress(address)
	if err != nil {
		return err
	}
	return db.update(ctx, func(tx *bbolt.Tx, st *state) error {
		if _, ok := st.users[addr]; !ok {
			return fmt.Errorf("%w: user %s", ErrNotFound, addr)
		}
		for a, rec := range st.aliases {
			if !slices.Contains(rec.Targets, addr) {
				continue
			}
			rec.Targets = slices.DeleteFunc(slices.Clone(rec.Targets), func(t string) bool { return t == addr })
			var err error
			if len(rec.Targets) == 0 {
				err = del(tx, bucketAliases, a)
			} else {
				err = putJSON(tx, bucketAliases, a, rec)
			}
			if err != nil {
				return err
			}
		}
		return del(tx, bucketUsers, addr)
	})
}

// SetPassword replaces a user's password. ErrNotFound, ErrInvalid.
func (db *DB) SetPassword(ctx context.Context, address, password string) error {
	addr, err := canonicalAddress(address)
	if err != nil {
		return err
	}
	if _, ok := db.view().users[addr]; !ok {
		return fmt.Errorf("%w: user %s", ErrNotFound, addr)
	}
	hash, err := db.newHash(ctx, password)
	if err != nil {
		return err
	}
	return db.modifyUser(ctx, addr, func(rec *userRecord) { rec.Hash = hash })
}

// SetQuota sets a user's quota in bytes (0 = unlimited). ErrNotFound,
// ErrInvalid for a negative quota.
func (db *DB) SetQuota(ctx context.Context, address string, bytes int64) error {
	addr, err := canonicalAddress(address)
	if err != nil {
		return err
	}
	if bytes < 0 {
		return fmt.Errorf("%w: negative quota", ErrInvalid)
	}
	return db.modifyUser(ctx, addr, func(rec *userRecord) { rec.Quota = bytes })
}

func (db *DB) modifyUser(ctx context.Context, addr string, fn func(*userRecord)) error {
	return db.update(ctx, func(tx *bbolt.Tx, st *state) error {
		rec, ok := st.users[addr]
		if !ok {
			return fmt.Errorf("%w: user %s", ErrNotFound, addr)
		}
		fn(&rec)
		return putJSON(tx, bucketUsers, addr, rec)
	})
}

// Users lists users sorted by address.
func (db *DB) Users(ctx context.Context) ([]User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st := db.view()
	out := make([]User, 0, len(st.users))
	for a, rec := range st.users {
		out = append(out, rec.user(a))
	}
	slices.SortFunc(out, func(a, b User) int { return strings.Compare(a.Address, b.Address) })
	return out, nil
}

// User returns one user; ErrNotFound if absent, ErrInvalid if address is
// not a valid user address.
func (db *DB) User(ctx context.Context, address string) (User, error) {
	if err := ctx.Err(); err != nil {
		return User{}, err
	}
	addr, err := canonicalAddress(address)
	if err != nil {
		return User{}, err
	}
	rec, ok := db.view().users[addr]
	if !ok {
		return User{}, fmt.Errorf("%w: user %s", ErrNotFound, addr)
	}
	return rec.user(addr), nil
}

// Quota returns a user's quota in bytes (0 = unlimited or unknown). It reads
// the in-memory state: no I/O, no lock, safe to call per delivery.
func (db *DB) Quota(account string) int64 {
	if rec, ok := db.view().users[account]; ok {
		return rec.Quota
	}
	addr, err := canonicalAddress(account)
	if err != nil {
		return 0
	}
	return db.view().users[addr].Quota
}

func (rec userRecord) user(addr string) User {
	return User{Address: addr, Quota: rec.Quota, Created: rec.Created}
}

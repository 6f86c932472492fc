package auth

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"go.etcd.io/bbolt"
)

// Authenticate checks a password with throttling per remote IP (IPv6 per
// /64) and per account. username is the full address, any case. It returns
// the canonical account name, or an error wrapping ErrBadCredentials or
// ErrThrottled.
//
// A locked-out remote or account gets ErrThrottled at once, without the
// password being checked. Otherwise the password is verified (an unknown
// user costs the same argon2id work as a known one), and a failure is
// answered only after the throttling delay, which honours ctx: if ctx ends
// first the error wraps both ErrBadCredentials and ctx.Err(). No lock is
// held while hashing or waiting. A success clears the account's failure
// count but not the remote's. Only users log in: an alias address is not an
// account. Passwords are never logged.
//
// After a success, a hash stored with other argon2id parameters than the
// current ones is replaced by a hash with the current parameters (the only
// moment the password is known), so a change of defaults takes effect as
// users log in.
func (db *DB) Authenticate(ctx context.Context, username, password string, remote netip.Addr) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	acct, nameErr := canonicalAddress(username)
	key := acct
	if nameErr != nil {
		key = acctKey(strings.ToLower(strings.TrimSpace(username)))
	}
	ip := ipKey(remote)
	if db.thr.locked(db.now(), ip, key) {
		db.log.Debug("login refused while locked out", "account", key, "remote", remote)
		return "", fmt.Errorf("%w: %s", ErrThrottled, key)
	}

	rec, known := db.view().users[acct]
	hash := rec.Hash
	if nameErr != nil || !known {
		known = false
		hash = db.dummy
	}
	ok, err := db.verify(ctx, hash, password)
	if err != nil {
		return "", err
	}
	if ok && known {
		db.thr.success(key)
		db.upgradeHash(ctx, acct, hash, password)
		return acct, nil
	}

	delay, lockedNow := db.thr.fail(db.now(), ip, key)
	if lockedNow {
		db.log.Warn("login lockout", "account", key, "remote", remote, "for", db.thr.opts.Window)
	}
	if delay > 0 {
		if err := db.sleep(ctx, delay); err != nil {
			return "", fmt.Errorf("%w: %w", ErrBadCredentials, err)
		}
	}
	return "", fmt.Errorf("%w: %s", ErrBadCredentials, key)
}

// verify checks pw against an encoded hash within the hashing concurrency
// limit. A damaged hash is logged and counts as a wrong password; only ctx
// ending is returned as an error.
func (db *DB) verify(ctx context.Context, encoded, pw string) (bool, error) {
	release, err := db.acquireHasher(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	// Oversized passwords are wrong by definition (checkPassword refuses
	// to store them) but still cost a hash, like any other wrong guess.
	tooLong := len(pw) > maxPassword
	if tooLong {
		pw = pw[:maxPassword]
	}
	ok, err := verifyHash(encoded, pw)
	if err != nil {
		db.log.Error("stored password hash is malformed", "err", err)
		return false, nil
	}
	return ok && !tooLong, nil
}

// upgradeHash rehashes pw for acct if old was made with other parameters.
// It is best effort: a failure is logged, and the login succeeds anyway.
func (db *DB) upgradeHash(ctx context.Context, acct, old, pw string) {
	p, _, _, err := parseHash(old)
	if err != nil || p == db.hash {
		return
	}
	h, err := db.newHash(ctx, pw)
	if err == nil {
		err = db.update(ctx, func(tx *bbolt.Tx, st *state) error {
			rec, ok := st.users[acct]
			if !ok || rec.Hash != old {
				return nil // removed or password changed meanwhile
			}
			rec.Hash = h
			return putJSON(tx, bucketUsers, acct, rec)
		})
	}
	if err != nil {
		db.log.Warn("password hash upgrade failed", "account", acct, "err", err)
		return
	}
	db.log.Info("password hash upgraded", "account", acct, "from", fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, p.Threads))
}

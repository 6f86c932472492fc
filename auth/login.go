package auth

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
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
// count but not the remote's. Passwords are never logged.
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

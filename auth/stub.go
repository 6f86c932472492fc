package auth

// PLACEHOLDER: stand-in bodies so other packages compile against the API
// while auth is written. The implementation replaces them and deletes this file.

import (
	"context"
	"net/netip"

	"github.com/emersion/go-sasl"
)

// DB is the account database.
type DB struct{}

// Open opens or creates the database.
func Open(opts Options) (*DB, error) { return nil, ErrInvalid }

// Close closes the database.
func (db *DB) Close() error { return nil }

// AddDomain adds a local domain.
func (db *DB) AddDomain(ctx context.Context, domain string) error { return ErrInvalid }

// RemoveDomain removes a domain; ErrDomainInUse while users/aliases remain.
func (db *DB) RemoveDomain(ctx context.Context, domain string) error { return ErrInvalid }

// Domains lists local domains, sorted.
func (db *DB) Domains(ctx context.Context) ([]string, error) { return nil, ErrInvalid }

// IsLocalDomain reports whether domain (any case, IDNA as given) is local.
func (db *DB) IsLocalDomain(domain string) bool { return false }

// AddUser creates a user; its domain must be local. ErrExists if taken
// (by a user or an alias).
func (db *DB) AddUser(ctx context.Context, address, password string) error { return ErrInvalid }

// RemoveUser deletes a user (and removes it from alias targets).
func (db *DB) RemoveUser(ctx context.Context, address string) error { return ErrInvalid }

// SetPassword replaces a user's password.
func (db *DB) SetPassword(ctx context.Context, address, password string) error { return ErrInvalid }

// SetQuota sets a user's quota in bytes (0 = unlimited).
func (db *DB) SetQuota(ctx context.Context, address string, bytes int64) error { return ErrInvalid }

// Users lists users sorted by address.
func (db *DB) Users(ctx context.Context) ([]User, error) { return nil, ErrInvalid }

// User returns one user; ErrNotFound if absent.
func (db *DB) User(ctx context.Context, address string) (User, error) { return User{}, ErrNotFound }

// Quota returns a user's quota in bytes (0 = unlimited or unknown).
func (db *DB) Quota(account string) int64 { return 0 }

// AddAlias maps address ("x@dom" or catch-all "@dom") to local users.
func (db *DB) AddAlias(ctx context.Context, address string, targets []string) error {
	return ErrInvalid
}

// RemoveAlias deletes an alias.
func (db *DB) RemoveAlias(ctx context.Context, address string) error { return ErrInvalid }

// Aliases lists aliases sorted by address.
func (db *DB) Aliases(ctx context.Context) ([]Alias, error) { return nil, ErrInvalid }

// Resolve maps a recipient address to the local accounts that receive it:
// user, then alias, then user+tag, then catch-all. ErrNotLocal when the
// domain is not ours, ErrNoSuchUser when it is but nobody receives.
func (db *DB) Resolve(ctx context.Context, address string) ([]string, error) {
	return nil, ErrNotLocal
}

// CanSendAs reports whether account may use address as envelope sender or
// From: its own address, its +tag forms, and aliases that reach it.
func (db *DB) CanSendAs(ctx context.Context, account, address string) bool { return false }

// Authenticate checks a password with throttling per remote IP and per
// account. It returns the canonical account name, or ErrBadCredentials /
// ErrThrottled. It may wait (honouring ctx) before answering a failure.
func (db *DB) Authenticate(ctx context.Context, username, password string, remote netip.Addr) (string, error) {
	return "", ErrBadCredentials
}

// SASLServer returns a go-sasl server for mech ("PLAIN" or "LOGIN") that
// authenticates through Authenticate and calls success with the account.
func (db *DB) SASLServer(ctx context.Context, mech string, remote netip.Addr, success func(account string) error) (sasl.Server, error) {
	return nil, ErrInvalid
}

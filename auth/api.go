package auth

// This file fixes the public API of the account database that the front
// ends, the queue and cmd/postel are written against. Keep these signatures
// stable; add methods freely.

import (
	"errors"
	"log/slog"
	"time"
)

// Sentinel errors, wrapped with %w; callers use errors.Is.
var (
	ErrExists         = errors.New("auth: already exists")
	ErrNotFound       = errors.New("auth: not found")
	ErrNotLocal       = errors.New("auth: domain is not local")   // Resolve: relay attempt
	ErrNoSuchUser     = errors.New("auth: no such local address") // Resolve: 550 5.1.1
	ErrBadCredentials = errors.New("auth: invalid credentials")
	ErrThrottled      = errors.New("auth: too many failed logins") // refuse for a while
	ErrInvalid        = errors.New("auth: invalid argument")       // bad address, empty password, ...
	ErrDomainInUse    = errors.New("auth: domain still has users or aliases")
)

// Options configures a DB.
type Options struct {
	Path   string       // bbolt file, e.g. data_dir/accounts.db
	Logger *slog.Logger // nil = slog.Default()
	// Throttle tunes failed-login throttling; zero values take defaults.
	Throttle ThrottleOptions
	// Now is the clock (tests); nil = time.Now.
	Now func() time.Time
	// Hash sets the argon2id cost for new password hashes; zero fields take
	// the defaults (OWASP: 19 MiB, 2 passes, 1 thread). Lower it only in
	// tests: existing hashes are always verified with their own parameters.
	Hash HashParams
}

// ThrottleOptions tunes failed-login throttling, applied per remote IP
// (IPv6: per /64) and per account: after Free failures each further failure
// waits BaseDelay*2^(n-Free) (capped at MaxDelay) before it is answered;
// after Lockout failures within Window of each other every attempt is
// refused with ErrThrottled, without checking the password, until Window
// has passed since the last failure. Defaults: Free 3, BaseDelay 500ms,
// MaxDelay 8s, Lockout 10, Window 15m.
type ThrottleOptions struct {
	Free      int
	BaseDelay time.Duration
	MaxDelay  time.Duration
	Lockout   int
	Window    time.Duration
}

// User is one account.
type User struct {
	Address string // canonical lower-case address; also the storage account name
	Quota   int64  // bytes, 0 = unlimited
	Created time.Time
}

// Alias maps one address (or "@domain" catch-all) to local users.
type Alias struct {
	Address string
	Targets []string
}

package pop3d

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"time"

	"postel/storage"
)

// Maildrop is what a POP3 session needs from one account's mailboxes.
// *storage.Account satisfies it.
type Maildrop interface {
	// LockPOP3 takes the account's POP3 lock; storage.ErrInUse if held.
	LockPOP3() (unlock func(), err error)
	// List snapshots a mailbox: status and every message in UID order.
	List(ctx context.Context, mailbox string) (storage.MailboxInfo, []storage.MessageMeta, error)
	// Open returns a message's raw bytes (CRLF line ends) and size.
	Open(ctx context.Context, mailbox string, uid uint32) (io.ReadSeekCloser, int64, error)
	// Delete removes messages regardless of flags and publishes the
	// expunges to the account's other sessions.
	Delete(ctx context.Context, mailbox string, uids []uint32) error
}

// Mailstore gives access to accounts' maildrops. Use FromStorage to adapt
// a *storage.Store.
type Mailstore interface {
	Maildrop(ctx context.Context, account string) (Maildrop, error)
}

// Authenticator checks passwords. *auth.DB satisfies it. Authenticate
// throttles failures per remote address and account; it returns the
// canonical account name, or an error wrapping auth.ErrBadCredentials or
// auth.ErrThrottled.
type Authenticator interface {
	Authenticate(ctx context.Context, username, password string, remote netip.Addr) (string, error)
}

// FromStorage adapts the real store to Mailstore.
func FromStorage(st *storage.Store) Mailstore { return storeAdapter{st} }

type storeAdapter struct{ st *storage.Store }

func (a storeAdapter) Maildrop(ctx context.Context, account string) (Maildrop, error) {
	acct, err := a.st.Account(ctx, account)
	if err != nil {
		// Never wrap a nil *storage.Account in a non-nil interface.
		return nil, err
	}
	return acct, nil
}

// Defaults and bounds of the Options limits.
const (
	// RFC 1939 3: an autologout timer "MUST be of at least 10 minutes".
	MinIdleTimeout = 10 * time.Minute
	// RFC 2449 4: command lines are at most 255 octets including CRLF.
	DefaultMaxLineLength = 255
	// RFC 5034 4: AUTH responses are not bound by the 255-octet limit.
	DefaultMaxAuthLineLength = 2048
	DefaultMaxBadCommands    = 10
	DefaultMaxConnsPerIP     = 20
	defaultHandshakeTimeout  = time.Minute
	defaultUpdateTimeout     = time.Minute
)

// Options configures a Server. Zero values take the defaults above.
type Options struct {
	// Store gives the maildrops (required); see FromStorage.
	Store Mailstore
	// Auth checks credentials (required).
	Auth Authenticator
	// TLSConfig enables STLS on Serve and is required by ServeTLS.
	TLSConfig *tls.Config
	// Logger receives session logs; nil means slog.Default().
	Logger *slog.Logger
	// Hostname appears in the greeting; "" means os.Hostname().
	Hostname string
	// IdleTimeout closes a connection idle that long (no expunge). Must be
	// at least MinIdleTimeout; 0 means MinIdleTimeout.
	IdleTimeout time.Duration
	// MaxLineLength limits command lines, CRLF included (default 255).
	MaxLineLength int
	// MaxAuthLineLength limits AUTH command and continuation lines (2 KiB).
	MaxAuthLineLength int
	// MaxBadCommands is how many unknown, malformed, out-of-state or
	// failed commands a connection may send before it is closed (10).
	MaxBadCommands int
	// MaxConnsPerIP limits simultaneous connections per remote address
	// (20); negative means unlimited.
	MaxConnsPerIP int
	// InsecureAuth reports whether USER/PASS and AUTH are allowed without
	// TLS from remote. Nil allows loopback addresses only.
	InsecureAuth func(remote netip.Addr) bool
	// Trace logs every command and status line at debug level, with PASS
	// and AUTH data redacted.
	Trace bool
}

// withDefaults validates o and fills in defaults.
func (o Options) withDefaults() (Options, error) {
	var errs []error
	if o.Store == nil {
		errs = append(errs, errors.New("pop3d: Options.Store is required"))
	}
	if o.Auth == nil {
		errs = append(errs, errors.New("pop3d: Options.Auth is required"))
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Hostname == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		o.Hostname = h
	}
	switch {
	case o.IdleTimeout == 0:
		o.IdleTimeout = MinIdleTimeout
	case o.IdleTimeout < MinIdleTimeout:
		errs = append(errs, fmt.Errorf("pop3d: IdleTimeout %v is below the RFC 1939 minimum of %v", o.IdleTimeout, MinIdleTimeout))
	}
	if o.MaxLineLength == 0 {
		o.MaxLineLength = DefaultMaxLineLength
	}
	if o.MaxAuthLineLength == 0 {
		o.MaxAuthLineLength = DefaultMaxAuthLineLength
	}
	if o.MaxLineLength < 16 || o.MaxAuthLineLength < o.MaxLineLength {
		errs = append(errs, fmt.Errorf("pop3d: bad line limits %d/%d", o.MaxLineLength, o.MaxAuthLineLength))
	}
	if o.MaxBadCommands <= 0 {
		o.MaxBadCommands = DefaultMaxBadCommands
	}
	if o.MaxConnsPerIP == 0 {
		o.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if o.InsecureAuth == nil {
		o.InsecureAuth = func(remote netip.Addr) bool { return remote.IsLoopback() }
	}
	return o, errors.Join(errs...)
}

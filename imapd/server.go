package imapd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-sasl"

	"postel/storage"
)

// Mailstore is what imapd needs from the mail store; *storage.Store
// satisfies it.
type Mailstore interface {
	Account(ctx context.Context, name string) (*storage.Account, error)
}

// Authenticator is what imapd needs from the account database; *auth.DB
// satisfies it. Both methods throttle failures per remote IP and account.
type Authenticator interface {
	Authenticate(ctx context.Context, username, password string, remote netip.Addr) (string, error)
	SASLServer(ctx context.Context, mech string, remote netip.Addr, success func(account string) error) (sasl.Server, error)
}

// Defaults for zero Options fields.
const (
	DefaultMaxMessageBytes    = 50 << 20
	DefaultMaxConnsPerIP      = 20
	DefaultMaxConnsPerAccount = 50
	// MinIdleTimeout is RFC 9051 5.4's floor for the autologout timer.
	MinIdleTimeout = 30 * time.Minute
)

// Options configures a Server.
type Options struct {
	// Store holds the mailboxes. Required.
	Store Mailstore
	// Auth checks passwords. Required.
	Auth Authenticator
	// TLSConfig enables STARTTLS on Serve and is required by ServeTLS.
	TLSConfig *tls.Config
	// Logger receives connection events; nil means slog.Default().
	Logger *slog.Logger
	// MaxMessageBytes is the APPEND size limit advertised as APPENDLIMIT
	// (RFC 7889). 0 means DefaultMaxMessageBytes; at most 4 GiB - 1.
	MaxMessageBytes int64
	// MaxConnsPerIP caps simultaneous connections from one address
	// (0 = DefaultMaxConnsPerIP, negative = unlimited).
	MaxConnsPerIP int
	// MaxConnsPerAccount caps simultaneous logged-in sessions of one account
	// (0 = DefaultMaxConnsPerAccount, negative = unlimited).
	MaxConnsPerAccount int
	// IdleTimeout logs out an authenticated client that sends nothing for
	// this long (IDLE included). 0 means MinIdleTimeout; smaller values are
	// refused (RFC 9051 5.4: at least 30 minutes).
	IdleTimeout time.Duration
	// InsecureAuth reports whether LOGIN/AUTHENTICATE may be used without
	// TLS from remote. Nil means: only from loopback addresses.
	InsecureAuth func(remote netip.Addr) bool
	// Trace, if set, receives a line-by-line wire trace of every plain-text
	// connection (TLS connections are not traced), credentials redacted.
	// For debugging only.
	Trace io.Writer
}

// Server is an IMAP server. Serve and ServeTLS may be called for several
// listeners at once.
type Server struct {
	opts   Options
	log    *slog.Logger
	caps   imap.CapSet
	limits *limits

	// Two library servers that differ only in InsecureAuth, so that
	// LOGINDISABLED is advertised exactly where authentication is refused.
	secure, insecure *libServer

	idleTimeout time.Duration // from Options; tests may shorten it
	ctx         context.Context
	cancel      context.CancelFunc
	connID      atomic.Uint64
	traceID     atomic.Uint64
	traceMu     sync.Mutex

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	hubs      map[string]*hub
	closed    bool
	sessions  sync.WaitGroup
}

// libServer is one imapserver.Server fed by our accept loops.
type libServer struct {
	srv  *imapserver.Server
	ln   *chanListener
	done chan struct{}
}

// New validates opts and returns a Server.
func New(opts Options) (*Server, error) {
	var errs []error
	if opts.Store == nil {
		errs = append(errs, errors.New("imapd: Options.Store is required"))
	}
	if opts.Auth == nil {
		errs = append(errs, errors.New("imapd: Options.Auth is required"))
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = MinIdleTimeout
	} else if opts.IdleTimeout < MinIdleTimeout {
		errs = append(errs, fmt.Errorf("imapd: IdleTimeout %v is below RFC 9051's 30 minutes", opts.IdleTimeout))
	}
	if opts.MaxMessageBytes == 0 {
		opts.MaxMessageBytes = DefaultMaxMessageBytes
	} else if opts.MaxMessageBytes < 0 || opts.MaxMessageBytes > 1<<32-1 {
		errs = append(errs, fmt.Errorf("imapd: MaxMessageBytes %d out of range", opts.MaxMessageBytes))
	}
	if opts.MaxConnsPerIP == 0 {
		opts.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if opts.MaxConnsPerAccount == 0 {
		opts.MaxConnsPerAccount = DefaultMaxConnsPerAccount
	}
	if opts.InsecureAuth == nil {
		opts.InsecureAuth = func(a netip.Addr) bool { return a.IsLoopback() }
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		opts:        opts,
		log:         log,
		caps:        capabilities(),
		limits:      newLimits(opts.MaxConnsPerIP, opts.MaxConnsPerAccount),
		idleTimeout: opts.IdleTimeout,
		listeners:   make(map[net.Listener]struct{}),
		hubs:        make(map[string]*hub),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.secure = s.newLibServer(false)
	s.insecure = s.newLibServer(true)
	return s, nil
}

// capabilities lists what we advertise. IMAP4rev2 implies NAMESPACE,
// UIDPLUS, ESEARCH, SEARCHRES, LIST-EXTENDED, LIST-STATUS, MOVE,
// STATUS=SIZE, BINARY, CHILDREN, UNSELECT, ENABLE, IDLE; the library
// advertises them for IMAP4rev1 clients too when listed here. SASL-IR,
// LITERAL-, UNSELECT, ENABLE, IDLE, UTF8=ACCEPT and APPENDLIMIT=n are added
// by the library itself.
func capabilities() imap.CapSet {
	caps := imap.CapSet{}
	for _, c := range []imap.Cap{
		imap.CapIMAP4rev1, imap.CapIMAP4rev2,
		imap.CapNamespace, imap.CapUIDPlus, imap.CapESearch, imap.CapSearchRes,
		imap.CapListExtended, imap.CapListStatus, imap.CapMove, imap.CapStatusSize,
		imap.CapBinary, imap.CapChildren,
		imap.CapSpecialUse, imap.CapCreateSpecialUse, imap.CapLiteralPlus,
		imap.CapUnauthenticate, imap.CapAppendLimit,
	} {
		caps[c] = struct{}{}
	}
	return caps
}

func (s *Server) newLibServer(insecureAuth bool) *libServer {
	ls := &libServer{ln: newChanListener(), done: make(chan struct{})}
	o := &imapserver.Options{
		NewSession:   s.newSession,
		Caps:         s.caps,
		Logger:       libLogger{s.log},
		TLSConfig:    s.opts.TLSConfig,
		InsecureAuth: insecureAuth,
	}
	ls.srv = imapserver.New(o)
	go func() {
		defer close(ls.done)
		ls.srv.Serve(ls.ln) //nolint:errcheck // returns nil once ln is closed
	}()
	return ls
}

// Serve accepts plain connections on ln (port 143); clients upgrade with
// STARTTLS when Options.TLSConfig is set. It returns nil after Shutdown or
// Close.
func (s *Server) Serve(ln net.Listener) error { return s.serve(ln, false) }

// ServeTLS accepts implicit-TLS connections on ln (port 993, RFC 8314)
// using Options.TLSConfig. ln is a plain TCP listener.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.opts.TLSConfig == nil {
		return errors.New("imapd: ServeTLS needs Options.TLSConfig")
	}
	return s.serve(ln, true)
}

func (s *Server) serve(ln net.Listener, implicitTLS bool) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("imapd: server closed")
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()

	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("imapd: accept: %w", err)
		}
		delay = 0
		s.accept(c, implicitTLS)
	}
}

// accept applies the per-IP limit and hands the connection to the library
// server matching its authentication policy.
func (s *Server) accept(c net.Conn, implicitTLS bool) {
	remote := remoteAddr(c)
	release, ok := s.limits.acquireIP(remote)
	if !ok {
		s.log.Warn("imap connection refused", "reason", "per-ip limit", "remote", remote)
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("* BYE [UNAVAILABLE] Too many connections from your address\r\n"))
		c.Close()
		return
	}
	lc := &limitedConn{Conn: c, srv: s, release: release}
	if s.opts.Trace != nil && !implicitTLS {
		lc.trace = &connTrace{w: s.opts.Trace, mu: &s.traceMu, id: s.traceID.Add(1)}
	}
	var nc net.Conn = lc
	if implicitTLS {
		// The library recognises TLS by the *tls.Conn type, so the TLS layer
		// must be outermost.
		nc = tls.Server(nc, s.opts.TLSConfig)
	}
	target := s.secure
	if s.opts.InsecureAuth(remote) {
		target = s.insecure
	}
	if !target.ln.deliver(nc) {
		nc.Close()
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Shutdown stops accepting connections, logs every client out and waits
// until each session has finished the command it was running (so an APPEND
// already received is committed) or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop()
	done := make(chan struct{})
	go func() {
		s.sessions.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		return ctx.Err()
	}
}

// Close stops the server at once: listeners and connections are closed and
// running storage calls are cancelled.
func (s *Server) Close() error {
	s.stop()
	s.cancel()
	return nil
}

func (s *Server) stop() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
	// Let each library Serve return first: imapserver.Close waits on a
	// WaitGroup that Serve adds to, which races if both run at once. Then
	// imapserver.Close closes every connection; the library calls
	// Session.Close for each once its command returns.
	for _, ls := range []*libServer{s.secure, s.insecure} {
		ls.ln.Close()
		<-ls.done
		ls.srv.Close()
	}
}

// remoteAddr returns the peer IP of c (unspecified if unknown).
func remoteAddr(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.IPv6Unspecified()
}

// libLogger adapts the library's Printf logging to slog.
type libLogger struct{ log *slog.Logger }

func (l libLogger) Printf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if strings.Contains(msg, "panic") {
		l.log.Error("imap connection panic", "detail", msg)
		return
	}
	l.log.Debug("imap library", "detail", msg)
}

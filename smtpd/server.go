package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"

	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"postel/checks"
	"postel/storage"
)

// Mode selects what a Server is for.
type Mode int

const (
	// Inbound is the MX listener: local recipients only, no AUTH.
	Inbound Mode = iota + 1
	// Submission is for our users: AUTH required, relays to the queue.
	Submission
)

// LocalDelivery resolves and delivers to local mailboxes;
// *delivery.Agent satisfies it.
type LocalDelivery interface {
	// Resolve returns the accounts receiving address, or auth.ErrNotLocal,
	// auth.ErrNoSuchUser, or an error wrapping storage.ErrOverQuota.
	Resolve(ctx context.Context, address string, size int64) ([]string, error)
	// Deliver stores msg (CRLF line ends) in every target with a
	// Return-Path for from; nil only when every copy is durable.
	Deliver(ctx context.Context, from string, targets []storage.Target, msg io.Reader) error
}

// Authenticator is the part of *auth.DB that submission needs.
type Authenticator interface {
	SASLServer(ctx context.Context, mech string, remote netip.Addr, success func(account string) error) (sasl.Server, error)
	CanSendAs(ctx context.Context, account, address string) bool
}

// Queue is the outbound queue (*queue.Queue): Enqueue returns nil only
// once the message is durable.
type Queue interface {
	Enqueue(ctx context.Context, from string, rcpts []string, msg io.Reader) (id string, err error)
}

// Checker runs the inbound checks; *checks.Checker satisfies it.
type Checker interface {
	CheckConnection(ctx context.Context, ip netip.Addr) *checks.Rejection
	CheckMessage(ctx context.Context, env checks.Envelope, msg io.Reader) checks.Verdict
	AllowMessage(ip netip.Addr) *checks.Rejection
}

// Options configures a Server. Zero limits take the defaults noted.
type Options struct {
	Mode     Mode   // required
	Hostname string // greeting, Received "by", Message-ID domain; required
	// TLSConfig enables STARTTLS (Serve) and is required by ServeTLS.
	TLSConfig *tls.Config
	Logger    *slog.Logger // nil = slog.Default()

	Delivery LocalDelivery // required
	Auth     Authenticator // required for Submission
	Queue    Queue         // required for Submission
	Checker  Checker       // Inbound only; nil = no checks

	// MaxMessageBytes is the SIZE limit (default 25 MiB).
	MaxMessageBytes int64
	// MaxRecipients per message (default 100, RFC 5321 4.5.3.1.8).
	MaxRecipients int
	// MaxLineLength for command and text lines, CRLF included (default
	// 2000: RFC 5321 4.5.3.1.6 allows 1000; go-smtp doubles it for
	// tolerance of sloppy senders).
	MaxLineLength int
	// MaxConns is the total number of connections (default 1000).
	MaxConns int
	// MaxConnsPerIP is the number of connections per remote IP (default 20).
	MaxConnsPerIP int
	// MaxErrors is the number of error replies (bad recipients, refused
	// senders, failed AUTH, ...) after which the connection is closed with
	// 421 (default 10, like Postfix's smtpd_soft_error_limit).
	MaxErrors int
	// MaxJunkBytes bounds the bytes a client may send outside a mail
	// transaction (EHLO, NOOP, RSET, VRFY, AUTH, TLS handshakes) between
	// two transactions before it is disconnected (default 16 KiB, about
	// Postfix's smtpd_junk_command_limit of 100 commands).
	MaxJunkBytes int64
	// ReadTimeout is the idle timeout for a command or a chunk of message
	// data; WriteTimeout bounds each reply (both default 5 minutes,
	// RFC 5321 4.5.3.2.7).
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// AllowInsecureAuth reports whether AUTH may be offered to remote
	// before TLS. nil = loopback addresses only (DESIGN: AUTH is refused
	// before TLS except on loopback).
	AllowInsecureAuth func(remote netip.Addr) bool
	// SpoolDir holds messages larger than 1 MiB while they are checked
	// and delivered ("" = os.TempDir()).
	SpoolDir string
	// ReverseDNS names a client for the Received field: its
	// forward-confirmed reverse DNS name or "" (ForwardConfirmed makes
	// one from a resolver). It runs once per connection, in the
	// background, bounded by 5 s. nil = no lookup: the field names the
	// address only. Loopback clients are not looked up.
	ReverseDNS func(ctx context.Context, ip netip.Addr) string
	// reverseDNSLoopback looks up loopback clients too (tests).
	reverseDNSLoopback bool
	// Now is the clock for Received and Date headers (nil = time.Now).
	Now func() time.Time
	// Trace, when set, receives a wire trace of every connection: one
	// line per client or server line, with time and session id. AUTH
	// arguments and the SASL responses that follow are redacted, message
	// content is reduced to its byte count, and traffic after STARTTLS
	// or on an implicit-TLS listener is encrypted and not traced. Lines
	// of different connections never interleave (one Write per line).
	// Writes are synchronous and errors ignored: a slow writer slows every
	// connection, so give it a buffered file or log. nil = off (no cost).
	Trace io.Writer
}

// Server is one SMTP service (inbound or submission) that may serve
// several listeners.
type Server struct {
	opts   Options
	logger *slog.Logger
	smtp   *smtp.Server

	mu        sync.Mutex
	perIP     map[netip.Addr]int
	conns     map[*conn]struct{}
	listeners []*listener
	closing   bool

	trace  *traceSink // nil = no wire trace
	bufs   sync.Pool  // *[]byte of copyBufSize, for reading DATA
	spools sync.Pool  // *[]byte, in-memory spool buffers up to maxPooledSpool
}

const (
	defaultMaxMessageBytes = 25 << 20
	memSpoolLimit          = 1 << 20
	copyBufSize            = 32 << 10
	// maxPooledSpool: larger in-memory spool buffers are left to the
	// garbage collector, so a few big messages do not pin memory.
	maxPooledSpool = 64 << 10
)

// New checks opts and returns a Server.
func New(opts Options) (*Server, error) {
	var errs []error
	if opts.Mode != Inbound && opts.Mode != Submission {
		errs = append(errs, errors.New("smtpd: Mode must be Inbound or Submission"))
	}
	if opts.Hostname == "" {
		errs = append(errs, errors.New("smtpd: Hostname is required"))
	}
	if opts.Delivery == nil {
		errs = append(errs, errors.New("smtpd: Delivery is required"))
	}
	if opts.Mode == Submission {
		if opts.Auth == nil {
			errs = append(errs, errors.New("smtpd: Auth is required for submission"))
		}
		if opts.Queue == nil {
			errs = append(errs, errors.New("smtpd: Queue is required for submission"))
		}
		if opts.Checker != nil {
			errs = append(errs, errors.New("smtpd: Checker is for inbound only"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	setDefaults(&opts)
	if err := os.MkdirAll(opts.SpoolDir, 0o700); err != nil {
		return nil, fmt.Errorf("smtpd: spool directory: %w", err)
	}
	s := &Server{
		opts:   opts,
		logger: opts.Logger,
		perIP:  make(map[netip.Addr]int),
		conns:  make(map[*conn]struct{}),
	}
	if opts.Trace != nil {
		s.trace = &traceSink{w: opts.Trace}
	}
	s.bufs.New = func() any { b := make([]byte, copyBufSize); return &b }
	be := smtp.BackendFunc(s.newSession)
	ss := smtp.NewServer(be)
	ss.Domain = opts.Hostname
	ss.TLSConfig = opts.TLSConfig
	ss.MaxMessageBytes = opts.MaxMessageBytes
	ss.MaxRecipients = opts.MaxRecipients
	ss.MaxLineLength = opts.MaxLineLength
	ss.ReadTimeout = opts.ReadTimeout
	ss.WriteTimeout = opts.WriteTimeout
	ss.EnableSMTPUTF8 = true
	// AUTH before TLS is decided per connection in AuthMechanisms/Auth;
	// go-smtp's switch is server-wide, so it is always on here.
	ss.AllowInsecureAuth = opts.Mode == Submission
	ss.ErrorLog = errorLog{s.logger}
	s.smtp = ss
	return s, nil
}

func setDefaults(o *Options) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	mode := "inbound"
	if o.Mode == Submission {
		mode = "submission"
	}
	o.Logger = o.Logger.With("proto", "smtp", "mode", mode)
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = defaultMaxMessageBytes
	}
	if o.MaxRecipients <= 0 {
		o.MaxRecipients = 100
	}
	if o.MaxLineLength <= 0 {
		o.MaxLineLength = 2000
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 1000
	}
	if o.MaxConnsPerIP <= 0 {
		o.MaxConnsPerIP = 20
	}
	if o.MaxErrors <= 0 {
		o.MaxErrors = 10
	}
	if o.MaxJunkBytes <= 0 {
		o.MaxJunkBytes = 16 << 10
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 5 * time.Minute
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 5 * time.Minute
	}
	if o.AllowInsecureAuth == nil {
		o.AllowInsecureAuth = func(ip netip.Addr) bool { return ip.Unmap().IsLoopback() }
	}
	if o.SpoolDir == "" {
		o.SpoolDir = os.TempDir()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Serve accepts connections on ln (plain SMTP, with STARTTLS when
// TLSConfig is set) until Shutdown or Close. It returns nil after those.
func (s *Server) Serve(ln net.Listener) error {
	return s.serve(ln, false)
}

// ServeTLS accepts connections on ln with implicit TLS (RFC 8314 port
// 465): the TLS handshake comes before the greeting.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.opts.TLSConfig == nil {
		return errors.New("smtpd: ServeTLS needs Options.TLSConfig")
	}
	return s.serve(ln, true)
}

func (s *Server) serve(ln net.Listener, implicitTLS bool) error {
	l := newListener(s, ln, implicitTLS)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return smtp.ErrServerClosed
	}
	s.listeners = append(s.listeners, l)
	s.mu.Unlock()
	var sl net.Listener = l
	if implicitTLS {
		sl = tls.NewListener(l, s.opts.TLSConfig)
	}
	s.logger.Info("listening", "addr", ln.Addr().String(), "tls", implicitTLS)
	err := s.smtp.Serve(sl)
	if err != nil && errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, closes idle connections at once and others
// as soon as their current transaction ends, and waits for them until ctx
// is done (then closes them all and returns ctx's error).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	var idle []*conn
	for c := range s.conns {
		idle = append(idle, c)
	}
	s.mu.Unlock()
	for _, c := range idle {
		c.closeWhenIdle()
	}
	err := s.smtp.Shutdown(ctx)
	if errors.Is(err, smtp.ErrServerClosed) {
		err = nil
	}
	if ctx.Err() != nil {
		s.closeAll()
		return ctx.Err()
	}
	return err
}

// Close closes every listener and connection immediately.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	err := s.smtp.Close()
	if errors.Is(err, smtp.ErrServerClosed) {
		err = nil
	}
	s.closeAll()
	return err
}

func (s *Server) closeAll() {
	s.mu.Lock()
	var all []*conn
	for c := range s.conns {
		all = append(all, c)
	}
	ls := s.listeners
	s.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	for _, c := range all {
		c.Close()
	}
}

// admit registers a new connection, or reports why it is refused.
func (s *Server) admit(c *conn) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closing:
		return "421 4.3.2 Service shutting down"
	case len(s.conns) >= s.opts.MaxConns:
		return "421 4.7.0 Too many connections, try again later"
	case s.perIP[c.ip] >= s.opts.MaxConnsPerIP:
		return "421 4.7.0 Too many connections from your address, try again later"
	}
	s.conns[c] = struct{}{}
	s.perIP[c.ip]++
	return ""
}

func (s *Server) release(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; !ok {
		return
	}
	delete(s.conns, c)
	if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
		delete(s.perIP, c.ip)
	}
}

// errorLog adapts slog to go-smtp's Printf logger. go-smtp reports there
// the connection errors (mostly the client's doing: failed handshakes,
// resets) and the panics it recovers outside our session methods (with
// their stack); ours are logged by session.recoverPanic.
type errorLog struct{ l *slog.Logger }

func (e errorLog) Printf(format string, v ...any) {
	e.l.Warn("smtp connection", "detail", fmt.Sprintf(format, v...))
}

func (e errorLog) Println(v ...any) {
	e.l.Warn("smtp connection", "detail", fmt.Sprint(v...))
}

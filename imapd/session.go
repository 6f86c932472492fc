package imapd

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-sasl"

	"postel/auth"
	"postel/storage"
)

// session is one IMAP connection. The library calls its methods from the
// connection's goroutine, one command at a time (Idle from a helper
// goroutine while the connection goroutine only waits for DONE).
type session struct {
	srv    *Server
	conn   *imapserver.Conn
	log    *slog.Logger
	remote netip.Addr
	ctx    context.Context

	account     string
	acct        *storage.Account
	hub         *hub
	releaseAcct func()

	sel *view // selected mailbox, nil when none

	// The library does not wait for Idle to return when the connection
	// fails during IDLE (timeout, client gone): it closes stop and calls
	// Close while the Idle goroutine may still be running. idleMu and
	// idling let Close wait for it before tearing the session down.
	idleMu sync.Mutex
	closed bool // Close has begun; no new Idle may start
	idling sync.WaitGroup
}

var (
	_ imapserver.SessionIMAP4rev2      = (*session)(nil)
	_ imapserver.SessionSASL           = (*session)(nil)
	_ imapserver.SessionUnauthenticate = (*session)(nil)
	_ imapserver.SessionAppendLimit    = (*session)(nil)
	_ imapserver.SessionNamespace      = (*session)(nil)
	_ imapserver.SessionMove           = (*session)(nil)
)

func (s *Server) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	s.mu.Lock()
	closed := s.closed
	if !closed {
		s.sessions.Add(1)
	}
	s.mu.Unlock()
	if closed {
		return nil, nil, &imap.Error{Type: imap.StatusResponseTypeBye, Text: "Server shutting down"}
	}
	nc := c.NetConn()
	remote := remoteAddr(nc)
	id := s.connID.Add(1)
	sess := &session{
		srv:    s,
		conn:   c,
		remote: remote,
		ctx:    s.ctx,
		log:    s.log.With("proto", "imap", "conn", id, "remote", remote.String()),
	}
	sess.log.Debug("imap connection")
	return sess, nil, nil
}

// Close is called by the library once, when the connection ends.
func (s *session) Close() error {
	s.idleMu.Lock()
	s.closed = true
	s.idleMu.Unlock()
	s.idling.Wait() // stop is closed by now, so Idle returns promptly
	s.detach()
	s.log.Debug("imap connection closed")
	s.srv.sessions.Done()
	return nil
}

// isTLS reports whether the connection is encrypted now (after STARTTLS
// the library swaps in a *tls.Conn).
func (s *session) isTLS() bool {
	_, ok := s.conn.NetConn().(*tls.Conn)
	return ok
}

// Login implements LOGIN (RFC 9051 6.2.3). The library has already refused
// it before TLS unless Options.InsecureAuth allows this client.
func (s *session) Login(username, password string) error {
	account, err := s.srv.opts.Auth.Authenticate(s.ctx, username, password, s.remote)
	if err != nil {
		s.log.Info("imap login failed", "user", username, "err", err)
		return imapError(s.log, "login", err)
	}
	return s.attach(account)
}

// AuthenticateMechanisms lists the SASL mechanisms advertised as AUTH=.
func (s *session) AuthenticateMechanisms() []string { return []string{"PLAIN"} }

// Authenticate implements AUTHENTICATE (RFC 9051 6.2.2) through auth's
// SASL servers, which throttle like Login.
func (s *session) Authenticate(mech string) (sasl.Server, error) {
	switch mech {
	case "PLAIN", "LOGIN":
	default:
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Unsupported SASL mechanism"}
	}
	srv, err := s.srv.opts.Auth.SASLServer(s.ctx, mech, s.remote, s.attach)
	if err != nil {
		return nil, imapError(s.log, "authenticate", err)
	}
	return saslServer{srv: srv, s: s}, nil
}

// saslServer maps the errors of an auth SASL exchange for the wire.
type saslServer struct {
	srv sasl.Server
	s   *session
}

func (w saslServer) Next(resp []byte) ([]byte, bool, error) {
	ch, done, err := w.srv.Next(resp)
	if err != nil {
		w.s.log.Info("imap authenticate failed", "err", err)
		var ie *imap.Error
		if errors.As(err, &ie) || errors.Is(err, auth.ErrBadCredentials) || errors.Is(err, auth.ErrThrottled) {
			return nil, false, imapError(w.s.log, "authenticate", err)
		}
		// Anything else is go-sasl rejecting a malformed exchange.
		return nil, false, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthenticationFailed, Text: "Authentication failed"}
	}
	if ch != nil && len(ch) == 0 {
		// An empty challenge is the empty base64 string: "+ " (RFC 9051
		// 6.2.2). The library writes a non-nil empty one as "+ =", the
		// SASL-IR marker for an empty client response (RFC 4959), which
		// strict base64 decoders in clients reject.
		ch = nil
	}
	return ch, done, nil
}

// attach binds the session to an account after a successful login.
func (s *session) attach(account string) error {
	release, ok := s.srv.limits.acquireAccount(account)
	if !ok {
		s.log.Warn("imap login refused", "reason", "per-account limit", "account", account)
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit, Text: "Too many connections for this account"}
	}
	h, err := s.srv.acquireHub(s.ctx, account)
	if err != nil {
		release()
		return imapError(s.log, "login", err)
	}
	s.account, s.acct, s.hub, s.releaseAcct = account, h.acct, h, release
	s.log = s.log.With("account", account)
	s.log.Info("imap login", "tls", s.isTLS())
	return nil
}

// detach undoes attach (LOGOUT, UNAUTHENTICATE, connection end).
func (s *session) detach() {
	s.unselect()
	if s.hub != nil {
		s.srv.releaseHub(s.hub)
		s.releaseAcct()
	}
	s.account, s.acct, s.hub, s.releaseAcct = "", nil, nil, nil
}

// Unauthenticate implements RFC 8437.
func (s *session) Unauthenticate() error {
	s.detach()
	return nil
}

// Namespace implements RFC 2342: one personal namespace, "/" separated.
func (s *session) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Prefix: "", Delim: delim}}}, nil
}

// AppendLimit is advertised as APPENDLIMIT=n (RFC 7889); the library
// refuses larger APPEND literals before reading them.
func (s *session) AppendLimit() uint32 { return uint32(s.srv.opts.MaxMessageBytes) }

// Poll writes pending mailbox changes after a command (RFC 9051 7.5.1).
func (s *session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if s.sel == nil {
		return nil
	}
	return s.pollErr(s.sel.poll(w, allowExpunge))
}

// pollErr turns a view overflow into BYE: the client reconnects and
// resynchronises (RFC 9051 7.1.5 allows a unilateral BYE).
func (s *session) pollErr(err error) error { return s.idlePollErr(s.sel, err) }

// idlePollErr is pollErr for a given view; the IDLE goroutine must not
// read s.sel.
func (s *session) idlePollErr(v *view, err error) error {
	if errors.Is(err, errOverflow) {
		s.log.Warn("imap view overflow, disconnecting", "mailbox", v.mailbox())
		s.conn.Bye("Too many changes to report; please reconnect")
	}
	return err
}

// Idle implements IDLE (RFC 2177): changes are written as they arrive.
// It costs one blocked goroutine and no timers.
func (s *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	s.idleMu.Lock()
	if s.closed {
		s.idleMu.Unlock()
		return nil
	}
	s.idling.Add(1)
	v := s.sel
	s.idleMu.Unlock()
	defer s.idling.Done()
	if v == nil {
		<-stop
		return nil
	}
	for {
		if err := v.poll(w, true); err != nil {
			return s.idlePollErr(v, err)
		}
		select {
		case <-v.notify:
		case <-stop:
			return nil
		}
	}
}

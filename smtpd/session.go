package smtpd

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"runtime/debug"
	"slices"

	"github.com/emersion/go-smtp"

	"postel/auth"
)

// session is one go-smtp Session: from EHLO (or STARTTLS) to the end of
// the connection. Inbound sessions use it directly; submission sessions
// wrap it in submissionSession, which adds AUTH.
type session struct {
	srv    *Server
	c      *smtp.Conn
	conn   *conn
	logger *slog.Logger
	tls    *tls.ConnectionState // nil before TLS

	account string // submission: the authenticated account

	// The current transaction.
	from   string
	size   int64    // SIZE= from MAIL, 0 if not given
	utf8   bool     // MAIL had SMTPUTF8 (RFC 6531)
	rcpts  []string // accepted forward-paths, in order
	local  []string // accounts receiving the message (may repeat)
	remote []string // submission: remote forward-paths
}

var errNoConn = errors.New("smtpd: connection not accepted by this server")

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	pc := connOf(c.Conn())
	if pc == nil {
		s.logger.Error("internal error", "err", errNoConn)
		return nil, errTemp
	}
	sess := &session{srv: s, c: c, conn: pc, logger: pc.logger}
	if st, ok := c.TLSConnectionState(); ok {
		sess.tls = &st
	}
	sess.logger.Debug("session", "helo", sanitizeLog(c.Hostname()), "tls", sess.tls != nil)
	if s.opts.Mode == Submission {
		return &submissionSession{sess}, nil
	}
	return sess, nil
}

// recoverPanic turns a panic in a session method into a logged stack, a
// 421 reply and the end of this connection only.
func (s *session) recoverPanic(errp *error) {
	if r := recover(); r != nil {
		s.logger.Error("panic in session", "panic", r, "stack", string(debug.Stack()))
		s.hangup(errPanic)
		if errp != nil {
			*errp = errPanic
		}
	}
}

func (s *session) clearTx() {
	s.from, s.size, s.utf8 = "", 0, false
	// local is only read within the transaction, so its array is reused;
	// rcpts and remote are handed to the checker and the queue.
	s.rcpts, s.local, s.remote = nil, s.local[:0], nil
}

// Reset implements smtp.Session (RSET, a new EHLO, the end of DATA).
func (s *session) Reset() {
	defer s.recoverPanic(nil)
	s.clearTx()
	s.conn.endTx()
}

// Logout implements smtp.Session.
func (s *session) Logout() error { return nil }

// Mail implements smtp.Session.
func (s *session) Mail(from string, opts *smtp.MailOptions) (err error) {
	defer s.recoverPanic(&err)
	s.clearTx()
	if !opts.UTF8 && !isASCII(from) {
		return s.fail(errUTF8Required)
	}
	switch s.srv.opts.Mode {
	case Submission:
		if s.account == "" {
			return s.fail(errAuthRequired)
		}
		if from == "" {
			return s.fail(errNullSender)
		}
		if !s.srv.opts.Auth.CanSendAs(s.conn.ctx, s.account, from) {
			s.logger.Info("sender refused", "account", s.account, "from", sanitizeLog(from))
			return s.fail(errNotOwner)
		}
	case Inbound:
		if chk := s.srv.opts.Checker; chk != nil {
			if r := chk.AllowMessage(s.conn.ip); r != nil {
				return s.fail(rejection(r, errTemp))
			}
		}
	}
	s.from = from
	s.size = opts.Size
	s.utf8 = opts.UTF8
	s.conn.beginTx()
	return nil
}

// Rcpt implements smtp.Session: recipients are resolved now, so unknown
// users (550 5.1.1), relay attempts (554 5.7.1) and full mailboxes
// (452 4.2.2) are refused before any data is sent.
func (s *session) Rcpt(to string, opts *smtp.RcptOptions) (err error) {
	defer s.recoverPanic(&err)
	if !s.utf8 && !isASCII(to) {
		return s.fail(errUTF8Required)
	}
	accounts, err := s.srv.opts.Delivery.Resolve(s.conn.ctx, to, s.size)
	switch {
	case err == nil:
		s.local = append(s.local, accounts...)
	case errors.Is(err, auth.ErrNotLocal) && s.srv.opts.Mode == Submission:
		// Authenticated submission may send anywhere; port 25 never relays.
		if !slices.Contains(s.remote, to) {
			s.remote = append(s.remote, to)
		}
	default:
		s.logger.Info("recipient refused", "rcpt", sanitizeLog(to), "err", err)
		return s.fail(err)
	}
	s.rcpts = append(s.rcpts, to)
	s.conn.junk.Store(0)
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

package smtpd

import (
	"errors"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-sasl"

	"postel/auth"
	"postel/delivery"
	"postel/storage"
)

// submissionSession adds AUTH (RFC 4954) to a session.
type submissionSession struct {
	*session
}

// authAllowed: AUTH only over TLS, or in clear from trusted addresses
// (loopback by default).
func (s *submissionSession) authAllowed() bool {
	return s.tls != nil || s.srv.opts.AllowInsecureAuth(s.conn.ip)
}

// AuthMechanisms implements smtp.AuthSession; nothing is advertised
// before TLS on a non-loopback connection.
func (s *submissionSession) AuthMechanisms() []string {
	if !s.authAllowed() {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

// Auth implements smtp.AuthSession through auth's SASL servers, which
// also apply the failed-login throttling per IP and per account.
func (s *submissionSession) Auth(mech string) (srv sasl.Server, err error) {
	defer s.recoverPanic(&err)
	if !s.authAllowed() {
		return nil, s.fail(errEncryptFirst)
	}
	mech = strings.ToUpper(mech)
	if mech != sasl.Plain && mech != sasl.Login {
		return nil, s.fail(errUnknownMech)
	}
	inner, err := s.srv.opts.Auth.SASLServer(s.conn.ctx, mech, s.conn.ip, func(account string) error {
		s.account = account
		s.logger = s.logger.With("account", account)
		return nil
	})
	if err != nil {
		return nil, s.fail(err)
	}
	return &saslServer{inner: inner, s: s}, nil
}

// saslServer maps SASL errors through the session's error mapping, so no
// internal text reaches the client and failures count against MaxErrors.
type saslServer struct {
	inner sasl.Server
	s     *submissionSession
}

func (w *saslServer) Next(response []byte) (challenge []byte, done bool, err error) {
	defer w.s.recoverPanic(&err)
	challenge, done, err = w.inner.Next(response)
	if err != nil {
		w.s.account = ""
		w.s.logger.Info("authentication failed", "err", err)
		if !errors.Is(err, auth.ErrThrottled) {
			// Malformed responses are failures too; do not tell which.
			err = errBadCreds
		}
		return nil, false, w.s.fail(err)
	}
	if done {
		w.s.logger.Info("authenticated")
		w.s.conn.junk.Store(0)
	}
	return challenge, done, nil
}

// submit applies the submission rules to a spooled message and delivers
// it: local recipients directly, remote ones through the queue.
func (s *session) submit(sp *spool, id string, now time.Time) (result, error) {
	hi, err := scanHeader(sp.Reader(), maxSubmittedHeader)
	if errors.Is(err, errHeaderTooBig) {
		s.logger.Info("message refused", "reason", "header too large", "err", err)
		return result{}, errHeaderTooLarge
	}
	if err != nil {
		s.logger.Info("message refused", "reason", "header", "err", err)
		return result{}, errBadHeader
	}
	if len(hi.From) == 0 {
		return result{}, errNoFrom
	}
	for _, a := range hi.From {
		if !s.srv.opts.Auth.CanSendAs(s.conn.ctx, s.account, a) {
			s.logger.Info("message refused", "reason", "From: not owned", "from_header", sanitizeLog(a))
			return result{}, errFromNotOwner
		}
	}
	for _, a := range hi.Sender {
		if !s.srv.opts.Auth.CanSendAs(s.conn.ctx, s.account, a) {
			s.logger.Info("message refused", "reason", "Sender: not owned", "sender_header", sanitizeLog(a))
			return result{}, errSenderNotOwner
		}
	}
	var pre strings.Builder
	pre.Write(s.received(id, now))
	// RFC 6409 8.2 and 8.3: the MSA may add a missing Date and Message-ID.
	if !hi.HasMessageID {
		pre.WriteString("Message-ID: <" + newID(15) + "@" + s.srv.opts.Hostname + ">\r\n")
	}
	if !hi.HasDate {
		pre.WriteString("Date: " + now.Format(time.RFC1123Z) + "\r\n")
	}
	prefix := pre.String()
	msg := func() io.Reader { return io.MultiReader(strings.NewReader(prefix), sp.Reader()) }

	// Local copies first: if the queue then fails, the client retries and
	// a local recipient may see a duplicate, but nothing is lost and no
	// remote recipient gets the message twice.
	if len(s.local) > 0 {
		targets := make([]storage.Target, len(s.local))
		for i, acct := range s.local {
			targets[i] = storage.Target{Account: acct, Mailbox: "INBOX"}
		}
		if err := s.srv.opts.Delivery.Deliver(s.conn.ctx, s.from, targets, msg()); err != nil {
			return result{}, err
		}
	}
	var res result
	if len(s.remote) > 0 {
		// RFC 5321 4.4: the originating system SHOULD NOT send a message
		// that already has a Return-Path (local copies lose it in Deliver).
		qid, err := s.srv.opts.Queue.Enqueue(s.conn.ctx, s.from, s.remote, delivery.StripReturnPath(msg()))
		if err != nil {
			if len(s.local) > 0 {
				s.logger.Error("queue failed after local delivery", "id", id)
			}
			return result{}, err
		}
		res.queueID = qid
	}
	return res, nil
}

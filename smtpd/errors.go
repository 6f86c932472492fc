package smtpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"postel/auth"
	"postel/checks"
	"postel/delivery"
	"postel/storage"
)

func reply(code int, enh smtp.EnhancedCode, msg string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: msg}
}

// Replies. Enhanced codes from RFC 3463 and the registry of RFC 5248.
var (
	errRelayDenied  = reply(554, smtp.EnhancedCode{5, 7, 1}, "Relay access denied")
	errNoSuchUser   = reply(550, smtp.EnhancedCode{5, 1, 1}, "No such user here")
	errBadAddress   = reply(501, smtp.EnhancedCode{5, 1, 3}, "Bad address syntax")
	errOverQuota    = reply(452, smtp.EnhancedCode{4, 2, 2}, "Mailbox full, try again later")
	errTemp         = reply(451, smtp.EnhancedCode{4, 3, 0}, "Temporary local problem, try again later")
	errAuthRequired = reply(530, smtp.EnhancedCode{5, 7, 0}, "Authentication required")
	errNullSender   = reply(550, smtp.EnhancedCode{5, 7, 1}, "Null sender not allowed on submission")
	errNotOwner     = reply(550, smtp.EnhancedCode{5, 7, 1}, "Sender address not owned by the authenticated user")
	errFromNotOwner = reply(550, smtp.EnhancedCode{5, 7, 1}, "From: header address not owned by the authenticated user")
	// A Sender: field names who sent the message for the From: authors
	// (RFC 5322 3.6.2); clients show it ("X on behalf of Y"), so it must
	// be the user's as well.
	errSenderNotOwner = reply(550, smtp.EnhancedCode{5, 7, 1}, "Sender: header address not owned by the authenticated user")
	errNoFrom         = reply(550, smtp.EnhancedCode{5, 6, 0}, "Message has no From: header")
	errBadHeader      = reply(550, smtp.EnhancedCode{5, 6, 0}, "Malformed message header")
	// RFC 3463 5.3.4: message too big for system.
	errHeaderTooLarge = reply(552, smtp.EnhancedCode{5, 3, 4}, "Message header too large")
	errBareLine       = reply(550, smtp.EnhancedCode{5, 5, 2}, "Message contains a bare CR or LF; lines must end with CRLF (RFC 5321 2.3.8)")
	errLineTooLong    = reply(500, smtp.EnhancedCode{5, 5, 2}, "Line too long (RFC 5321 4.5.3.1.6)")
	errUTF8Required   = reply(553, smtp.EnhancedCode{5, 6, 7}, "Non-ASCII address requires SMTPUTF8")
	errBadCreds       = reply(535, smtp.EnhancedCode{5, 7, 8}, "Authentication credentials invalid")
	errThrottled      = reply(454, smtp.EnhancedCode{4, 7, 0}, "Too many failed logins, try again later")
	errEncryptFirst   = reply(538, smtp.EnhancedCode{5, 7, 11}, "Encryption required for requested authentication mechanism")
	errUnknownMech    = reply(504, smtp.EnhancedCode{5, 5, 4}, "Unrecognized authentication mechanism")
	errTooManyErrs    = reply(421, smtp.EnhancedCode{4, 7, 0}, "Too many errors, closing connection")
	errDataTimeout    = reply(421, smtp.EnhancedCode{4, 4, 2}, "Timeout waiting for message data, closing connection")
	errPanic          = reply(421, smtp.EnhancedCode{4, 3, 0}, "Internal server error, closing connection")
	errContentCheck   = reply(550, smtp.EnhancedCode{5, 7, 1}, "Message refused by content policy")
)

// smtpError is the one mapping from errors to SMTP replies. Unknown
// errors become 451 4.3.0 and their text goes only to the log: go-smtp
// would send the text of any error that is not an *smtp.SMTPError.
func (s *session) smtpError(err error) *smtp.SMTPError {
	var se *smtp.SMTPError
	var pe *delivery.PartialError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return se
	case errors.As(err, &pe):
		// SMTP cannot report per-recipient results after DATA: a failure
		// for any recipient is a temporary failure for the message.
		if pe.Delivered == 0 && allOverQuota(pe) {
			return errOverQuota
		}
		s.logger.Error("delivery partly failed", "err", err)
		return errTemp
	case errors.Is(err, auth.ErrNotLocal):
		return errRelayDenied
	case errors.Is(err, auth.ErrNoSuchUser):
		return errNoSuchUser
	case errors.Is(err, auth.ErrInvalid):
		return errBadAddress
	case errors.Is(err, storage.ErrOverQuota):
		return errOverQuota
	case errors.Is(err, auth.ErrBadCredentials):
		return errBadCreds
	case errors.Is(err, auth.ErrThrottled):
		return errThrottled
	case errors.Is(err, smtp.ErrTooLongLine):
		return errLineTooLong
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, context.Canceled):
		s.logger.Info("client went away", "err", err)
		return errTemp
	}
	s.logger.Error("internal error", "err", err)
	return errTemp
}

func allOverQuota(pe *delivery.PartialError) bool {
	for _, f := range pe.Failed {
		if !errors.Is(f.Err, storage.ErrOverQuota) {
			return false
		}
	}
	return len(pe.Failed) > 0
}

// rejection converts a checks reply.
func rejection(r *checks.Rejection, fallback *smtp.SMTPError) *smtp.SMTPError {
	if r == nil || r.Code < 400 || r.Code > 599 {
		return fallback
	}
	return reply(r.Code, smtp.EnhancedCode(r.Enhanced), r.Message)
}

// fail maps err, counts it against the connection's error budget, and
// returns the reply for go-smtp to send. Past MaxErrors the reply is sent
// here followed by 421, and the connection is closed.
func (s *session) fail(err error) error {
	se := s.smtpError(err)
	if se == nil {
		return nil
	}
	n := s.conn.errors.Add(1)
	if int(n) > s.srv.opts.MaxErrors {
		s.logger.Warn("closing connection", "reason", "too many errors", "errors", n)
		s.hangup(se, errTooManyErrs)
	}
	return se
}

// hangup writes final replies on the current connection (TLS or not) and
// closes it; go-smtp's own reply that follows then fails silently.
func (s *session) hangup(replies ...*smtp.SMTPError) {
	var b strings.Builder
	for _, r := range replies {
		fmt.Fprintf(&b, "%d %d.%d.%d %s\r\n", r.Code, r.EnhancedCode[0], r.EnhancedCode[1], r.EnhancedCode[2], r.Message)
	}
	nc := s.c.Conn()
	nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	nc.Write([]byte(b.String()))
	nc.Close()
	s.conn.Close()
}

package pop3d

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"strings"

	"postel/auth"
)

// authAllowed says whether USER/PASS and AUTH may be used now: after TLS,
// or where Options.InsecureAuth allows it (RFC 2595 2.1, RFC 8314).
func (s *session) authAllowed() bool {
	return s.isTLS || s.srv.opts.InsecureAuth(s.remote)
}

const replyNeedTLS = "-ERR [AUTH] plaintext authentication requires TLS, use STLS first"

// cmdUser is RFC 1939 7 USER name.
func (s *session) cmdUser(arg string) {
	if !s.authAllowed() {
		s.fail(replyNeedTLS)
		return
	}
	name := strings.TrimSpace(arg)
	if name == "" || len(words(name)) != 1 {
		s.fail("-ERR usage: USER name")
		return
	}
	s.user = name
	s.reply("+OK send PASS")
}

// cmdPass is RFC 1939 7 PASS string; the whole rest of the line is the
// password (spaces included).
func (s *session) cmdPass(arg string) {
	if !s.authAllowed() {
		s.fail(replyNeedTLS)
		return
	}
	if s.user == "" {
		s.fail("-ERR USER first")
		return
	}
	user := s.user
	s.user = ""
	if arg == "" {
		s.fail("-ERR usage: PASS password")
		return
	}
	s.login(user, arg)
}

// cmdAuth is RFC 5034 AUTH. Only PLAIN (RFC 4616) is offered; the initial
// response may be on the command line ("=" for empty) or follow a "+ "
// continuation. AUTH without a mechanism lists the mechanisms, as many
// clients expect.
func (s *session) cmdAuth(arg string) {
	if !s.authAllowed() {
		s.fail(replyNeedTLS)
		return
	}
	w := words(arg)
	if len(w) == 0 {
		s.reply("+OK mechanisms follow")
		s.reply("PLAIN")
		s.reply(".")
		return
	}
	if len(w) > 2 {
		s.fail("-ERR usage: AUTH mechanism [initial-response]")
		return
	}
	if !strings.EqualFold(w[0], "PLAIN") {
		s.fail("-ERR unsupported authentication mechanism")
		return
	}
	var resp string
	if len(w) == 2 && w[1] != "=" {
		resp = w[1]
	} else {
		// No initial response, or an empty one ("="): PLAIN sends its
		// whole message in the next response.
		// RFC 5034 4: an empty challenge is "+ " (with the space).
		s.reply("+ ")
		line, err := s.readLine(s.srv.opts.MaxAuthLineLength)
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				s.fail("-ERR line too long")
				return
			}
			s.quit = true
			s.endOnReadError(err)
			return
		}
		s.trace("C: <redacted>")
		resp = string(line)
		if resp == "*" {
			s.fail("-ERR authentication cancelled")
			return
		}
	}
	user, pass, ok := decodePlain(resp)
	if !ok {
		s.fail("-ERR [AUTH] malformed PLAIN response")
		return
	}
	s.login(user, pass)
}

// decodePlain decodes an RFC 4616 PLAIN response: base64 of
// authzid NUL authcid NUL passwd. An authorization identity other than the
// user's own is refused (no proxy logins).
func decodePlain(resp string) (user, pass string, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		return "", "", false
	}
	parts := bytes.Split(raw, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 || len(parts[2]) == 0 {
		return "", "", false
	}
	authz, authc := string(parts[0]), string(parts[1])
	if authz != "" && authz != authc {
		return "", "", false
	}
	return authc, string(parts[2]), true
}

// login authenticates, locks the maildrop and snapshots it. Any failure
// leaves the session in AUTHORIZATION with no lock held (RFC 1939 7).
func (s *session) login(user, pass string) {
	ctx, cancel := s.ctx()
	defer cancel()
	account, err := s.srv.opts.Auth.Authenticate(ctx, user, pass, s.remote)
	if err != nil {
		if errors.Is(err, auth.ErrBadCredentials) || errors.Is(err, auth.ErrThrottled) {
			s.log.Info("login failed", "user", user, "err", err)
		}
		s.fail(pop3Error(s.log, "authenticate", err))
		return
	}
	drop, err := s.srv.opts.Store.Maildrop(ctx, account)
	if err != nil {
		s.reply(pop3Error(s.log, "open account", err))
		return
	}
	unlock, err := drop.LockPOP3()
	if err != nil {
		s.log.Info("maildrop locked", "account", account)
		s.reply(pop3Error(s.log, "lock maildrop", err))
		return
	}
	snap, err := takeSnapshot(ctx, drop)
	if err != nil {
		unlock()
		s.reply(pop3Error(s.log, "list maildrop", err))
		return
	}
	s.account, s.drop, s.unlock, s.snap = account, drop, unlock, snap
	s.state = stateTransaction
	s.log = s.log.With("account", account)
	s.log.Info("logged in", "messages", len(snap.msgs), "tls", s.isTLS)
	n, size := s.snap.stat()
	s.reply("+OK maildrop locked and ready, " + itoa(n) + " messages (" + itoa64(size) + " octets)")
}

// cmdStls is RFC 2595 4 STLS.
func (s *session) cmdStls(arg string) {
	switch {
	case s.srv.opts.TLSConfig == nil:
		s.fail("-ERR STLS not available")
		return
	case s.isTLS:
		s.fail("-ERR already using TLS")
		return
	case arg != "":
		s.fail("-ERR usage: STLS")
		return
	}
	s.reply("+OK begin TLS negotiation")
	if err := s.flush(); err != nil {
		s.quit = true
		return
	}
	// Anything the client pipelined after STLS was sent in clear text
	// and must not be executed as if it came over TLS (CVE-2011-0411):
	// setConn drops the old reader with its buffer.
	tc := tls.Server(s.rw, s.srv.opts.TLSConfig)
	ctx, cancel := s.ctx()
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		s.log.Info("tls handshake failed", "err", err)
		s.quit = true
		return
	}
	s.setConn(tc, true)
	// RFC 2595 4: forget any USER given before TLS.
	s.user = ""
	s.log.Debug("tls started")
}

// cmdCapa is RFC 2449 5 CAPA. Mechanisms and USER are advertised only
// when they may be used now, STLS only when it is possible.
func (s *session) cmdCapa(string) {
	s.reply("+OK capability list follows")
	s.reply("TOP")
	s.reply("UIDL")
	s.reply("RESP-CODES")
	s.reply("AUTH-RESP-CODE")
	s.reply("PIPELINING")
	s.reply("EXPIRE NEVER")
	if s.state == stateAuthorization {
		if s.authAllowed() {
			s.reply("USER")
			s.reply("SASL PLAIN")
		}
		if s.srv.opts.TLSConfig != nil && !s.isTLS {
			s.reply("STLS")
		}
	}
	s.reply("IMPLEMENTATION Postel")
	s.reply(".")
}

package auth

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/emersion/go-sasl"
)

// SASL mechanism names accepted by SASLServer.
const (
	MechPlain = sasl.Plain // RFC 4616
	MechLogin = sasl.Login // draft-murchison-sasl-login
)

// Mechanisms lists the SASL mechanisms SASLServer supports, in order of
// preference, for front ends to advertise.
func Mechanisms() []string { return []string{MechPlain, MechLogin} }

// SASLServer returns a go-sasl server for mech ("PLAIN" or "LOGIN", any
// case) that authenticates through Authenticate (so with its throttling)
// and then calls success with the canonical account name; success may be
// nil. Errors from Next wrap ErrBadCredentials or ErrThrottled for a failed
// login, ErrInvalid for a malformed exchange, and are passed through
// unchanged when they come from success. An unknown mech is an error
// wrapping ErrInvalid.
//
// PLAIN's authorization identity must be empty or name the same account as
// the username: Postel has no proxy authorisation (RFC 4616 2).
//
// LOGIN sends the challenges "Username:" and "Password:"; an initial
// response, if any, is the username (as go-sasl's client and most SMTP
// clients send it).
func (db *DB) SASLServer(ctx context.Context, mech string, remote netip.Addr, success func(account string) error) (sasl.Server, error) {
	s := &saslServer{}
	login := func(username, password string) error {
		s.authRan = true
		acct, err := db.Authenticate(ctx, username, password, remote)
		if err != nil {
			return err
		}
		if success != nil {
			return success(acct)
		}
		return nil
	}
	switch strings.ToUpper(mech) {
	case MechPlain:
		s.inner = sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && !sameLogin(identity, username) {
				s.authRan = true
				return fmt.Errorf("%w: authorization identity differs from username", ErrBadCredentials)
			}
			return login(username, password)
		})
	case MechLogin:
		s.inner = &loginServer{authenticate: login}
	default:
		return nil, fmt.Errorf("%w: unsupported SASL mechanism %q", ErrInvalid, mech)
	}
	return s, nil
}

// saslServer marks protocol errors of the underlying mechanism as
// ErrInvalid so front ends can tell a garbled exchange from a wrong
// password with errors.Is.
type saslServer struct {
	inner    sasl.Server
	authRan  bool // the credential check ran: its error is already typed
	finished bool // the exchange ended; any further response is invalid
}

func (s *saslServer) Next(response []byte) (challenge []byte, done bool, err error) {
	if s.finished {
		return nil, true, fmt.Errorf("%w: %w", ErrInvalid, sasl.ErrUnexpectedClientResponse)
	}
	challenge, done, err = s.inner.Next(response)
	s.finished = done || err != nil
	if err != nil && !s.authRan {
		err = fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return challenge, done, err
}

// loginServer is the server side of the LOGIN mechanism, which go-sasl no
// longer ships.
type loginServer struct {
	step         int // 0: want username, 1: want password, 2: done
	asked        bool
	username     string
	authenticate func(username, password string) error
}

var (
	loginUsernameChallenge = []byte("Username:")
	loginPasswordChallenge = []byte("Password:")
)

func (s *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch s.step {
	case 0:
		if response == nil {
			if s.asked {
				return nil, true, sasl.ErrUnexpectedClientResponse
			}
			s.asked = true
			return loginUsernameChallenge, false, nil
		}
		s.username = string(response)
		s.step = 1
		return loginPasswordChallenge, false, nil
	case 1:
		s.step = 2
		return nil, true, s.authenticate(s.username, string(response))
	default:
		return nil, true, sasl.ErrUnexpectedClientResponse
	}
}

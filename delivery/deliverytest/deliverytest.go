// Package deliverytest has in-memory fakes of the store and the account
// database for tests of delivery and its callers (smtpd, queue).
package deliverytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"

	"postel/auth"
	"postel/delivery"
	"postel/storage"
)

// Store is an in-memory delivery.Mailstore.
type Store struct {
	mu    sync.Mutex
	boxes map[storage.Target][][]byte
	fail  map[storage.Target]error
	usage map[string]int64
	// BeginErr, when set, makes BeginDelivery fail.
	BeginErr error
}

// NewStore returns an empty Store.
func NewStore() *Store {
	return &Store{
		boxes: make(map[storage.Target][][]byte),
		fail:  make(map[storage.Target]error),
		usage: make(map[string]int64),
	}
}

// Fail makes commits to t fail with err (nil clears).
func (s *Store) Fail(t storage.Target, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		delete(s.fail, t)
	} else {
		s.fail[t] = err
	}
}

// SetUsage sets an account's usage in bytes (added to delivered bytes).
func (s *Store) SetUsage(account string, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.usage[account] = n
}

// Messages returns copies of the messages delivered to account/mailbox.
func (s *Store) Messages(account, mailbox string) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	for _, m := range s.boxes[storage.Target{Account: account, Mailbox: mailbox}] {
		out = append(out, bytes.Clone(m))
	}
	return out
}

// Count returns the number of messages delivered anywhere.
func (s *Store) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, b := range s.boxes {
		n += len(b)
	}
	return n
}

// BeginDelivery implements delivery.Mailstore.
func (s *Store) BeginDelivery(ctx context.Context) (delivery.Tx, error) {
	if s.BeginErr != nil {
		return nil, s.BeginErr
	}
	return &tx{s: s}, nil
}

// Usage implements delivery.Mailstore.
func (s *Store) Usage(ctx context.Context, account string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.usage[account], nil
}

type tx struct {
	s       *Store
	buf     bytes.Buffer
	done    bool
	aborted bool
}

func (t *tx) Write(p []byte) (int, error) {
	if t.done {
		return 0, errors.New("deliverytest: write after commit")
	}
	return t.buf.Write(p)
}

func (t *tx) Commit(ctx context.Context, targets []storage.Target, date time.Time) ([]storage.TargetResult, error) {
	if t.done {
		return nil, errors.New("deliverytest: commit twice")
	}
	t.done = true
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	res := make([]storage.TargetResult, len(targets))
	for i, tg := range targets {
		res[i].Target = tg
		if err := t.s.fail[tg]; err != nil {
			res[i].Err = err
			continue
		}
		t.s.boxes[tg] = append(t.s.boxes[tg], bytes.Clone(t.buf.Bytes()))
		t.s.usage[tg.Account] += int64(t.buf.Len())
		res[i].UID = uint32(len(t.s.boxes[tg]))
	}
	return res, nil
}

func (t *tx) Abort() error { t.aborted = true; return nil }

// Auth is an in-memory account database with the resolution rules of
// auth.DB: user, alias, user+tag, catch-all.
type Auth struct {
	mu        sync.Mutex
	domains   map[string]bool
	passwords map[string]string
	aliases   map[string][]string
	quotas    map[string]int64
}

// NewAuth returns an Auth serving the given local domains.
func NewAuth(domains ...string) *Auth {
	a := &Auth{
		domains:   make(map[string]bool),
		passwords: make(map[string]string),
		aliases:   make(map[string][]string),
		quotas:    make(map[string]int64),
	}
	for _, d := range domains {
		a.domains[strings.ToLower(d)] = true
	}
	return a
}

// AddUser adds a user with a password.
func (a *Auth) AddUser(address, password string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.passwords[strings.ToLower(address)] = password
}

// AddAlias maps an address or "@domain" catch-all to users.
func (a *Auth) AddAlias(address string, targets ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.aliases[strings.ToLower(address)] = targets
}

// SetQuota sets a user's quota in bytes.
func (a *Auth) SetQuota(account string, n int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.quotas[account] = n
}

// IsLocalDomain reports whether domain is local.
func (a *Auth) IsLocalDomain(domain string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.domains[strings.ToLower(domain)]
}

// Quota returns an account's quota.
func (a *Auth) Quota(account string) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.quotas[account]
}

// Resolve implements delivery.Auth.
func (a *Auth) Resolve(ctx context.Context, address string) ([]string, error) {
	address = strings.ToLower(address)
	local, domain, ok := strings.Cut(address, "@")
	if !ok || local == "" {
		return nil, fmt.Errorf("%w: %q", auth.ErrInvalid, address)
	}
	if !a.IsLocalDomain(domain) {
		return nil, auth.ErrNotLocal
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.passwords[address]; ok {
		return []string{address}, nil
	}
	if t, ok := a.aliases[address]; ok {
		return t, nil
	}
	if base, _, ok := strings.Cut(local, "+"); ok {
		if _, ok := a.passwords[base+"@"+domain]; ok {
			return []string{base + "@" + domain}, nil
		}
	}
	if t, ok := a.aliases["@"+domain]; ok {
		return t, nil
	}
	return nil, auth.ErrNoSuchUser
}

// CanSendAs reports whether account owns address: itself, +tag forms,
// aliases reaching it.
func (a *Auth) CanSendAs(ctx context.Context, account, address string) bool {
	address = strings.ToLower(address)
	if address == account {
		return true
	}
	local, domain, _ := strings.Cut(address, "@")
	if base, _, ok := strings.Cut(local, "+"); ok && base+"@"+domain == account {
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, t := range a.aliases[address] {
		if t == account {
			return true
		}
	}
	return false
}

// Authenticate checks a password.
func (a *Auth) Authenticate(ctx context.Context, username, password string, remote netip.Addr) (string, error) {
	username = strings.ToLower(username)
	a.mu.Lock()
	defer a.mu.Unlock()
	if p, ok := a.passwords[username]; ok && p == password && password != "" {
		return username, nil
	}
	return "", auth.ErrBadCredentials
}

// SASLServer returns a PLAIN or LOGIN server over Authenticate.
func (a *Auth) SASLServer(ctx context.Context, mech string, remote netip.Addr, success func(account string) error) (sasl.Server, error) {
	check := func(user, pass string) error {
		acct, err := a.Authenticate(ctx, user, pass, remote)
		if err != nil {
			return err
		}
		return success(acct)
	}
	switch strings.ToUpper(mech) {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return auth.ErrBadCredentials
			}
			return check(user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, fmt.Errorf("%w: mechanism %q", auth.ErrInvalid, mech)
}

// loginServer is the obsolete but ubiquitous LOGIN mechanism
// (draft-murchison-sasl-login): "Username:" then "Password:" challenges.
type loginServer struct {
	check func(user, pass string) error
	step  int
	user  string
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if len(response) == 0 {
			return []byte("Username:"), false, nil
		}
		l.user = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 1:
		l.user = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.check(l.user, string(response))
	}
	return nil, false, errors.New("deliverytest: unexpected LOGIN response")
}

// Package admin carries out the admin commands (domains, users, aliases,
// queue, DKIM keys) against the server's objects. The same Service runs
// inside `postel serve` behind the control socket and inside the CLI when
// no server is running, so both paths behave identically.
package admin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"postel/auth"
	"postel/internal/control"
)

// Accounts is what the admin commands need of the account database
// (*auth.DB).
type Accounts interface {
	AddDomain(ctx context.Context, domain string) error
	RemoveDomain(ctx context.Context, domain string) error
	Domains(ctx context.Context) ([]string, error)
	AddUser(ctx context.Context, address, password string) error
	RemoveUser(ctx context.Context, address string) error
	SetPassword(ctx context.Context, address, password string) error
	SetQuota(ctx context.Context, address string, bytes int64) error
	Users(ctx context.Context) ([]auth.User, error)
	AddAlias(ctx context.Context, address string, targets []string) error
	RemoveAlias(ctx context.Context, address string) error
	Aliases(ctx context.Context) ([]auth.Alias, error)
}

// Service executes admin requests.
type Service struct {
	Accounts Accounts
	// Queue is optional: nil answers "not available".
	Queue QueueAdmin
	// DKIMDir is where DKIM keys live ("" = not available).
	DKIMDir string
	// Host describes this server for `domain records` (nil = not
	// available).
	Host *Host
}

// Handle executes one request; it is a control.Handler.
func (s *Service) Handle(ctx context.Context, req control.Request) (string, error) {
	need := func(n int) error {
		if len(req.Args) != n {
			return fmt.Errorf("%s takes %d argument(s), got %d", strings.Replace(req.Cmd, ".", " ", 1), n, len(req.Args))
		}
		return nil
	}
	switch req.Cmd {
	case "domain.add":
		if err := need(1); err != nil {
			return "", err
		}
		return "", explain(s.Accounts.AddDomain(ctx, req.Args[0]), "domain", req.Args[0])
	case "domain.remove":
		if err := need(1); err != nil {
			return "", err
		}
		return "", explain(s.Accounts.RemoveDomain(ctx, req.Args[0]), "domain", req.Args[0])
	case "domain.records":
		return s.domainRecords(ctx, req)
	case "domain.list":
		ds, err := s.Accounts.Domains(ctx)
		return lines(ds), err
	case "user.add":
		if err := need(1); err != nil {
			return "", err
		}
		return withPassword(req, func(pw string) error { return s.Accounts.AddUser(ctx, req.Args[0], pw) })
	case "user.passwd":
		if err := need(1); err != nil {
			return "", err
		}
		return withPassword(req, func(pw string) error { return s.Accounts.SetPassword(ctx, req.Args[0], pw) })
	case "user.remove":
		if err := need(1); err != nil {
			return "", err
		}
		return "", explain(s.Accounts.RemoveUser(ctx, req.Args[0]), "user", req.Args[0])
	case "user.quota":
		if err := need(2); err != nil {
			return "", err
		}
		n, err := ParseSize(req.Args[1])
		if err != nil {
			return "", err
		}
		return "", explain(s.Accounts.SetQuota(ctx, req.Args[0], n), "user", req.Args[0])
	case "user.list":
		us, err := s.Accounts.Users(ctx)
		var b strings.Builder
		for _, u := range us {
			q := "unlimited"
			if u.Quota > 0 {
				q = FormatSize(u.Quota)
			}
			fmt.Fprintf(&b, "%s\tquota %s\n", u.Address, q)
		}
		return b.String(), err
	case "alias.add":
		if len(req.Args) < 2 {
			return "", errors.New("alias add takes an address and at least one target")
		}
		return "", explain(s.Accounts.AddAlias(ctx, req.Args[0], req.Args[1:]), "alias", req.Args[0])
	case "alias.remove":
		if err := need(1); err != nil {
			return "", err
		}
		return "", explain(s.Accounts.RemoveAlias(ctx, req.Args[0]), "alias", req.Args[0])
	case "alias.list":
		as, err := s.Accounts.Aliases(ctx)
		var b strings.Builder
		for _, a := range as {
			fmt.Fprintf(&b, "%s\t%s\n", a.Address, strings.Join(a.Targets, ", "))
		}
		return b.String(), err
	}
	if strings.HasPrefix(req.Cmd, "queue.") {
		return s.handleQueue(ctx, req)
	}
	if strings.HasPrefix(req.Cmd, "dkim.") {
		return s.handleDKIM(ctx, req)
	}
	return "", fmt.Errorf("unknown command %q", req.Cmd)
}

// explain turns a sentinel error into the one-line message the CLI prints,
// e.g. "user bob@example.com exists".
func explain(err error, kind, name string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, auth.ErrExists):
		return fmt.Errorf("%s %s exists", kind, name)
	case errors.Is(err, auth.ErrNotFound):
		return fmt.Errorf("%s %s does not exist", kind, name)
	case errors.Is(err, auth.ErrDomainInUse):
		return fmt.Errorf("domain %s still has users or aliases", name)
	case errors.Is(err, auth.ErrInvalid), errors.Is(err, auth.ErrNotLocal), errors.Is(err, auth.ErrNoSuchUser):
		return fmt.Errorf("%s %s: %v", kind, name, strings.TrimPrefix(err.Error(), "auth: "))
	}
	return err
}

func lines(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return strings.Join(ss, "\n") + "\n"
}

// withPassword calls set with the request's password, or with a new
// random one that it then prints (the only time anyone sees it).
func withPassword(req control.Request, set func(pw string) error) (string, error) {
	pw := req.Password
	if pw == "" {
		var err error
		if pw, err = NewPassword(); err != nil {
			return "", err
		}
	}
	if err := explain(set(pw), "user", req.Args[0]); err != nil {
		return "", err
	}
	if req.Password == "" {
		return fmt.Sprintf("%s password: %s\n", req.Args[0], pw), nil
	}
	return "", nil
}

// NewPassword returns a random 20-character password (about 119 bits)
// without look-alike characters.
func NewPassword() (string, error) {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}

// ParseSize reads a byte count with an optional K, M, G or T suffix
// (powers of 1024); "0" and "unlimited" mean no limit.
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	if t == "UNLIMITED" {
		return 0, nil
	}
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:n-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size (e.g. 500M, 2G, unlimited)", s)
	}
	return n * mult, nil
}

// FormatSize prints a byte count in the largest exact unit.
func FormatSize(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n >= u.m && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}

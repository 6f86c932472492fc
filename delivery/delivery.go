package delivery

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"postel/storage"
)

// Auth is the part of *auth.DB that delivery needs.
type Auth interface {
	// Resolve maps an address to the local accounts receiving it, or
	// returns auth.ErrNotLocal / auth.ErrNoSuchUser.
	Resolve(ctx context.Context, address string) ([]string, error)
	// Quota returns an account's quota in bytes (0 = unlimited).
	Quota(account string) int64
}

// Mailstore is the part of the store that delivery needs. Wrap a
// *storage.Store with Storage to get one.
type Mailstore interface {
	// BeginDelivery starts a two-phase delivery.
	BeginDelivery(ctx context.Context) (Tx, error)
	// Usage returns the bytes used by an account's messages.
	Usage(ctx context.Context, account string) (int64, error)
}

// Tx is one two-phase delivery; *storage.Delivery satisfies it.
type Tx interface {
	io.Writer
	Commit(ctx context.Context, targets []storage.Target, date time.Time) ([]storage.TargetResult, error)
	Abort() error
}

// Options configures an Agent.
type Options struct {
	Store Mailstore // required
	Auth  Auth      // required
	// Logger receives one line per delivery; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock for internal dates; nil means time.Now.
	Now func() time.Time
}

// Agent delivers messages to local mailboxes. It is safe for concurrent use.
type Agent struct {
	store  Mailstore
	auth   Auth
	logger *slog.Logger
	now    func() time.Time
	bufs   sync.Pool // *copier
}

// copier is the per-delivery scratch state, pooled: the buffer that
// carries a message into the store and the Return-Path filter.
type copier struct {
	buf    [32 << 10]byte
	filter returnPathFilter
}

// ErrOverQuota is returned (wrapped) by Resolve when an account that would
// receive the message is over its quota; it wraps storage.ErrOverQuota.
var ErrOverQuota = fmt.Errorf("delivery: recipient over quota: %w", storage.ErrOverQuota)

// New returns an Agent.
func New(opts Options) (*Agent, error) {
	if opts.Store == nil || opts.Auth == nil {
		return nil, errors.New("delivery: Store and Auth are required")
	}
	a := &Agent{store: opts.Store, auth: opts.Auth, logger: opts.Logger, now: opts.Now}
	if a.logger == nil {
		a.logger = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.bufs.New = func() any { return new(copier) }
	return a, nil
}

// Resolve returns the local accounts that receive address. size is the
// announced message size (0 if unknown): an account whose usage plus size
// exceeds its quota makes Resolve fail with ErrOverQuota, so the sender
// hears a temporary failure at RCPT time instead of after DATA. Errors
// from auth (auth.ErrNotLocal, auth.ErrNoSuchUser) are returned as they are.
func (a *Agent) Resolve(ctx context.Context, address string, size int64) ([]string, error) {
	accounts, err := a.auth.Resolve(ctx, address)
	if err != nil {
		return nil, err
	}
	for _, acct := range accounts {
		quota := a.auth.Quota(acct)
		if quota <= 0 {
			continue
		}
		used, err := a.store.Usage(ctx, acct)
		if err != nil {
			return nil, fmt.Errorf("delivery: usage of %s: %w", acct, err)
		}
		if used >= quota || (size > 0 && used+size > quota) {
			return nil, fmt.Errorf("%w: %s", ErrOverQuota, acct)
		}
	}
	return accounts, nil
}

// PartialError reports that some targets of a delivery failed. Delivered
// copies are durable; Failed lists the others with their errors.
type PartialError struct {
	Delivered int
	Failed    []storage.TargetResult
}

func (e *PartialError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "delivery: %d of %d targets failed:", len(e.Failed), len(e.Failed)+e.Delivered)
	for _, f := range e.Failed {
		fmt.Fprintf(&b, " %s/%s: %v;", f.Account, f.Mailbox, f.Err)
	}
	return strings.TrimSuffix(b.String(), ";")
}

// Unwrap returns the targets' errors, so errors.Is(err, storage.ErrOverQuota)
// reports whether any target failed for quota.
func (e *PartialError) Unwrap() []error {
	errs := make([]error, 0, len(e.Failed))
	for _, f := range e.Failed {
		errs = append(errs, f.Err)
	}
	return errs
}

// Deliver writes a Return-Path header for from (the envelope sender, ""
// for the null sender) followed by msg, which must have CRLF line ends,
// without any Return-Path field msg had in its header section, into
// every target, and returns nil only when every copy is durable.
// Duplicate targets are delivered once. On failure before the commit
// nothing is stored; on a partial failure it returns a *PartialError.
func (a *Agent) Deliver(ctx context.Context, from string, targets []storage.Target, msg io.Reader) error {
	targets = dedupe(targets)
	if len(targets) == 0 {
		return errors.New("delivery: no targets")
	}
	tx, err := a.store.BeginDelivery(ctx)
	if err != nil {
		return fmt.Errorf("delivery: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			tx.Abort()
		}
	}()
	// RFC 5321 4.4: the delivery MTA records the reverse-path in
	// Return-Path; RFC 5322 3.6.7 gives its syntax ("<>" for null).
	cp := a.bufs.Get().(*copier)
	defer a.bufs.Put(cp)
	buf := append(cp.buf[:0], "Return-Path: <"...)
	buf = append(buf, from...)
	buf = append(buf, ">\r\n"...)
	if _, err := tx.Write(buf); err != nil {
		return fmt.Errorf("delivery: write: %w", err)
	}
	// Any Return-Path that came with the message goes (RFC 5321 4.4:
	// only the delivery server inserts it), so ours is the only one.
	// A pooled buffer instead of io.Copy's: callers pass io.MultiReaders,
	// whose WriteTo allocates and zeroes a fresh 32 KiB per call.
	f := &cp.filter
	f.reset(tx)
	defer f.reset(nil) // do not keep tx alive in the pool
	if _, err := io.CopyBuffer(f, onlyReader{msg}, cp.buf[:]); err != nil {
		return fmt.Errorf("delivery: write: %w", err)
	}
	if err := f.Flush(); err != nil {
		return fmt.Errorf("delivery: write: %w", err)
	}
	results, err := tx.Commit(ctx, targets, a.now())
	committed = err == nil
	if err != nil {
		return fmt.Errorf("delivery: commit: %w", err)
	}
	pe := &PartialError{}
	for _, r := range results {
		if r.Err != nil {
			pe.Failed = append(pe.Failed, r)
		} else {
			pe.Delivered++
		}
	}
	if len(results) != len(targets) {
		return fmt.Errorf("delivery: store returned %d results for %d targets", len(results), len(targets))
	}
	if len(pe.Failed) > 0 {
		a.logger.Warn("delivery failed", "from", from, "delivered", pe.Delivered, "err", pe)
		return pe
	}
	if a.logger.Enabled(ctx, slog.LevelDebug) {
		a.logger.LogAttrs(ctx, slog.LevelDebug, "delivered", slog.String("from", from), slog.Int("targets", len(targets)))
	}
	return nil
}

// DeliverLocal resolves rcpt and delivers msg to the INBOX of every
// account it reaches, with from as Return-Path. It is for mail generated
// by the server itself (bounces and delay notices from the outbound
// queue): quotas are left to the store, and bare LF line ends are turned
// into CRLF.
func (a *Agent) DeliverLocal(ctx context.Context, from, rcpt string, msg io.Reader) error {
	accounts, err := a.auth.Resolve(ctx, rcpt)
	if err != nil {
		return fmt.Errorf("delivery: resolve %s: %w", rcpt, err)
	}
	targets := make([]storage.Target, len(accounts))
	for i, acct := range accounts {
		targets[i] = storage.Target{Account: acct, Mailbox: "INBOX"}
	}
	return a.Deliver(ctx, from, targets, newCRLFReader(msg))
}

// onlyReader hides a reader's WriteTo from io.CopyBuffer.
type onlyReader struct{ io.Reader }

func dedupe(targets []storage.Target) []storage.Target {
	if len(targets) <= 1 {
		return targets
	}
	out := make([]storage.Target, 0, len(targets))
	for _, t := range targets {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// crlfReader turns lone LF into CRLF (and keeps existing CRLF).
type crlfReader struct {
	r      *bufio.Reader
	prevCR bool
	pendLF bool
}

func newCRLFReader(r io.Reader) io.Reader { return &crlfReader{r: bufio.NewReader(r)} }

func (c *crlfReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if c.pendLF {
			p[n] = '\n'
			n++
			c.pendLF = false
			c.prevCR = false
			continue
		}
		b, err := c.r.ReadByte()
		if err != nil {
			return n, err
		}
		if b == '\n' && !c.prevCR {
			p[n] = '\r'
			n++
			c.pendLF = true
			continue
		}
		p[n] = b
		n++
		c.prevCR = b == '\r'
	}
	return n, nil
}

package queue

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Defaults for the zero values of [Options].
const (
	DefaultPort         = 25
	DefaultMaxConns     = 32
	DefaultMaxPerDomain = 4
	DefaultExpire       = 5 * 24 * time.Hour
	DefaultDelayNotice  = 4 * time.Hour
)

// LocalDeliverer delivers a report (bounce or delay notice) to a mailbox of
// a local domain. The SMTP helper's delivery package implements it.
type LocalDeliverer interface {
	DeliverLocal(ctx context.Context, from, rcpt string, msg io.Reader) error
}

// Signer adds DKIM signatures; *dkim.Signer implements it. Sign returns the
// header fields to prepend ("" when domain has no keys).
type Signer interface {
	Sign(domain string, msg []byte) (string, error)
}

// Smarthost is a relay that takes all outbound mail, typically a provider's
// submission server when port 25 is blocked.
type Smarthost struct {
	Host string
	Port int // default 587, or 465 with ImplicitTLS
	// Username and Password for AUTH PLAIN; empty Username means no AUTH.
	Username string
	Password string
	// ImplicitTLS connects with TLS from the start (port 465); otherwise
	// STARTTLS is required.
	ImplicitTLS bool
}

// Options configure a [Queue]. Only Dir and Hostname are required.
type Options struct {
	// Dir is the queue directory (created if missing).
	Dir string
	// Hostname is our name in EHLO and in reports (Reporting-MTA).
	Hostname string
	// Resolver does every DNS lookup; nil means the system resolver.
	// cmd/postel passes dnsresolver.New(cfg.Outbound.DNS).
	Resolver *net.Resolver
	// Port is the remote SMTP port for MX delivery (default 25).
	Port int
	// Smarthost, if set, receives all mail instead of the MX hosts.
	Smarthost *Smarthost
	// SmarthostTLS is the TLS configuration for the smarthost (for example
	// RootCAs trusting a private CA); nil verifies against the system roots.
	SmarthostTLS *tls.Config
	// Signer signs messages whose From: domain is local (IsLocal) at
	// enqueue time; nil disables DKIM.
	Signer Signer
	// IsLocal reports whether a domain is one of ours: reports to its
	// senders go to Local and its messages are DKIM-signed. nil: none.
	IsLocal func(domain string) bool
	// Local delivers reports to local senders; nil queues them instead.
	Local LocalDeliverer
	// Now is the clock (default time.Now); tests move it forward.
	Now func() time.Time
	// Logger defaults to slog.Default(); the caller adds attributes such
	// as component=queue.
	Logger *slog.Logger
	// MaxConns caps outbound connections in total, MaxPerDomain per
	// destination domain.
	MaxConns     int
	MaxPerDomain int
	// Expire is how long a message is retried (default 5 days);
	// DelayNotice how long before the sender is told of a delay (4 hours).
	Expire      time.Duration
	DelayNotice time.Duration
	// Timeout bounds dialing and each SMTP command (default 5 minutes for
	// commands, RFC 5321 4.5.3.2, and 30 seconds for dialing).
	Timeout time.Duration
}

// Queue is the outbound queue. Its methods are safe for concurrent use.
type Queue struct {
	opts   Options
	log    *slog.Logger
	msgDir string
	db     *bolt.DB

	seq   atomic.Uint32 // orders ids enqueued within one clock tick
	wake  chan struct{} // buffered(1): work may be due
	total chan struct{} // one token per open connection (MaxConns)
	slots *domainSlots  // per-domain connection caps (MaxPerDomain)

	// runMu is held shared by every run and exclusively by Close.
	runMu    sync.RWMutex
	flightMu sync.Mutex      // guards inflight and makes claims atomic
	inflight map[string]bool // recipient keys a run is attempting
	finishMu sync.Mutex      // one report/clean-up pass at a time
	runs     sync.WaitGroup  // runs started by the scheduler

	mu      sync.Mutex
	stop    context.CancelFunc
	stopped chan struct{}
}

// Open opens (or creates) the queue in opts.Dir. Only one process may have
// a queue open at a time (bbolt's file lock); Open waits at most a second
// for it.
func Open(opts Options) (*Queue, error) {
	if opts.Dir == "" || opts.Hostname == "" {
		return nil, errors.New("queue: Dir and Hostname are required")
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	if opts.Port == 0 {
		opts.Port = DefaultPort
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.MaxPerDomain <= 0 {
		opts.MaxPerDomain = DefaultMaxPerDomain
	}
	if opts.Expire <= 0 {
		opts.Expire = DefaultExpire
	}
	if opts.DelayNotice <= 0 {
		opts.DelayNotice = DefaultDelayNotice
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	if opts.IsLocal == nil {
		opts.IsLocal = func(string) bool { return false }
	}
	q := &Queue{
		opts:     opts,
		log:      opts.Logger,
		msgDir:   filepath.Join(opts.Dir, "msg"),
		wake:     make(chan struct{}, 1),
		total:    make(chan struct{}, opts.MaxConns),
		slots:    &domainSlots{max: opts.MaxPerDomain, m: map[string]*domainSlot{}},
		inflight: map[string]bool{},
	}
	if err := os.MkdirAll(q.msgDir, 0o700); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	db, err := bolt.Open(filepath.Join(opts.Dir, "queue.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("queue: open db: %w", err)
	}
	q.db = db
	if err := q.init(); err != nil {
		db.Close()
		return nil, err
	}
	return q, nil
}

// Start runs the scheduler until ctx ends or Close is called: it delivers
// what is due, then sleeps until the next due time or the next Enqueue.
func (q *Queue) Start(ctx context.Context) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stop != nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	q.stop = cancel
	q.stopped = make(chan struct{})
	go q.schedule(ctx, q.stopped)
}

// coalesce is how long the scheduler lets newly due mail gather while a run
// is in progress before it starts another run beside it: long enough that
// under load one connection carries many messages, short enough that a
// slow destination does not hold up the rest of the queue.
const coalesce = time.Second

func (q *Queue) schedule(ctx context.Context, done chan struct{}) {
	defer close(done)
	var active atomic.Int32
	var lastStart time.Time
	for {
		// Claim what is due and deliver it in the background; the run
		// wakes the loop again when it ends.
		if active.Load() == 0 || time.Since(lastStart) >= coalesce {
			if work, err := q.claim(); err != nil {
				q.log.Error("queue scan failed", "err", err)
			} else if len(work) == 0 && active.Load() == 0 {
				// Nothing to deliver: still send reports a failed local
				// delivery left pending, and delay notices that fell due.
				if err := q.finish(ctx); err != nil && ctx.Err() == nil {
					q.log.Error("queue report pass failed", "err", err)
				}
			} else if len(work) > 0 {
				active.Add(1)
				lastStart = time.Now()
				q.runs.Add(1)
				go func() {
					defer q.runs.Done()
					if err := q.deliver(ctx, work); err != nil && ctx.Err() == nil {
						q.log.Error("queue run failed", "err", err)
					}
					active.Add(-1)
					q.poke()
				}()
			}
		}
		// Idle wake-ups every few minutes retry pending reports.
		wait := 5 * time.Minute
		if next, ok, err := q.nextDue(); err != nil {
			q.log.Error("queue scan failed", "err", err)
			wait = time.Minute
		} else if ok {
			wait = min(max(next.Sub(q.opts.Now()), 0), wait)
		}
		if active.Load() > 0 {
			wait = max(wait, coalesce-time.Since(lastStart))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			q.runs.Wait()
			return
		case <-q.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// poke wakes the scheduler (if running) without blocking.
func (q *Queue) poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Close stops the scheduler, waits for deliveries in progress to end (they
// are cancelled) and closes the database.
func (q *Queue) Close() error {
	q.mu.Lock()
	stop, stopped := q.stop, q.stopped
	q.stop = nil
	q.mu.Unlock()
	if stop != nil {
		stop()
		<-stopped
	}
	q.runMu.Lock() // wait for RunOnce calls made by others
	defer q.runMu.Unlock()
	return q.db.Close()
}

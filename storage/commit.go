package storage

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"go.etcd.io/bbolt"
)

// txFunc runs inside a write transaction, given the root bucket of its
// account's index. It must have no effect outside the transaction
// (results go to variables it assigns afresh on every call): the
// committer may run it again in a new transaction when another function
// of the same batch failed. A non-nil error rolls back only this
// function's work. The returned changes are published to the account's
// sessions after the commit.
type txFunc func(root *bbolt.Bucket) ([]Change, error)

type commitReq struct {
	acct *Account
	fn   txFunc
	dirs []string // fsynced before the index commit
	// body, when not nil, is made durable by the committer (with the
	// other bodies of the batch) before link runs; link then makes the
	// request's directory entries and returns the directories to fsync.
	// A body that fails to sync fails the request before link.
	body *Delivery
	link func() ([]string, error)
	err  error
	done chan struct{}
}

// errEntryNotDurable wraps a failed directory sync of a request whose
// index records were committed: the caller reports failure (the change
// may not survive a crash) but must not remove its files, which the index
// now names. A retry may duplicate the message; nothing acknowledged is
// lost.
var errEntryNotDurable = errors.New("storage: directory entry not durable")

// goneEntry is a gone/ key of one account whose file is unlinked.
type goneEntry struct {
	acct *Account
	key  string
}

// committer is the store's group commit: it takes every request queued
// meanwhile, from every account, as one batch, makes the batch's new
// bodies durable and links them, then commits the batch in one bbolt
// transaction of the store's index (one pair of fsyncs) while the
// batch's new directory entries are made durable (pipeline.go). One
// index for all accounts is what lets deliveries to different users
// share a commit, as deliveries to one user do (DESIGN.md, storage
// invariant 2). Changes are published in commit order before the callers
// are released.
type committer struct {
	db     *bbolt.DB
	noSync bool
	bodies *bodySyncer

	mu     sync.Mutex
	queue  []*commitReq
	closed bool
	// goneDone holds gone/ keys whose files are unlinked; the next
	// transaction deletes them.
	goneDone []goneEntry
	wake     chan struct{}
	stopped  chan struct{}

	// syncDir fsyncs a directory (a test replaces it to inject errors).
	syncDir func(string) error

	// serial runs the two stages one after the other (a benchmark's
	// baseline).
	serial atomic.Bool

	// Counters for benchmarks and diagnostics.
	commits, requests              atomic.Int64
	syncNanos, txNanos, indexNanos atomic.Int64
}

func newCommitter(db *bbolt.DB, noSync bool, bodies *bodySyncer) *committer {
	c := &committer{db: db, noSync: noSync, bodies: bodies, syncDir: syncDir,
		wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	go c.run()
	return c
}

// accountCommits is an account's door to the store's committer: it
// refuses requests once the account is closed, and close waits for the
// account's requests already queued.
type accountCommits struct {
	c *committer
	a *Account

	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup
}

// do queues fn and waits until it is committed (or failed). Once queued
// the request is not withdrawn when ctx ends: a caller that gets nil knows
// the change is durable, and one that gets an error knows it is not.
func (h *accountCommits) do(ctx context.Context, dirs []string, fn txFunc) error {
	return h.queue(ctx, &commitReq{fn: fn, dirs: dirs})
}

// deliver is do for a new message body: the committer makes body durable
// (batched with the other bodies of its batch), then runs link, then
// commits fn and makes the entries in the directories link returns
// durable.
func (h *accountCommits) deliver(ctx context.Context, body *Delivery, link func() ([]string, error), fn txFunc) error {
	return h.queue(ctx, &commitReq{fn: fn, body: body, link: link})
}

func (h *accountCommits) queue(ctx context.Context, r *commitReq) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	h.inflight.Add(1)
	h.mu.Unlock()
	defer h.inflight.Done()
	r.acct = h.a
	return h.c.queueReq(ctx, r)
}

// unlinked records gone/ keys whose files no longer exist.
func (h *accountCommits) unlinked(keys []string) {
	h.c.unlinked(h.a, keys)
}

// close refuses new requests and waits for the queued ones.
func (h *accountCommits) close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.inflight.Wait()
}

func (c *committer) queueReq(ctx context.Context, r *commitReq) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.done = make(chan struct{})
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.queue = append(c.queue, r)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	<-r.done
	return r.err
}

func (c *committer) unlinked(a *Account, keys []string) {
	if len(keys) == 0 {
		return
	}
	c.mu.Lock()
	for _, k := range keys {
		c.goneDone = append(c.goneDone, goneEntry{acct: a, key: k})
	}
	c.mu.Unlock()
}

// close stops accepting requests, finishes the queued ones and waits.
func (c *committer) close() {
	c.mu.Lock()
	already := c.closed
	c.closed = true
	c.mu.Unlock()
	if !already {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	<-c.stopped
}

package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

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

// committer is the store's group commit: one goroutine takes every
// request queued while the previous commit ran, from every account, and
// commits them in one bbolt transaction of the store's index (one pair of
// fsyncs), after making the batch's new bodies durable and fsyncing the
// directories their files were linked into. One index for all accounts
// is what lets deliveries to different users share a commit, as
// deliveries to one user do (DESIGN.md, storage invariant 2). Changes are
// published in commit order before the callers are released.
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
// fsyncs the directories link returns and commits fn.
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

// run is the committer's first stage: it takes the queued requests as one
// batch, makes the batch's bodies durable and links them (prepare), then
// hands the batch to the second stage (finish), which commits the index.
// The stages overlap: while one batch's index commit is on its way to
// disk, the next batch's bodies are synced and linked, so a batch costs
// about the longer of the two waits rather than their sum. Linking ahead
// of the previous batch's commit is safe because a link never depends on
// the index (a failed target's link is removed by its caller), and
// finish commits and publishes batches strictly in order.
func (c *committer) run() {
	defer close(c.stopped)
	staged := make(chan stagedBatch)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for b := range staged {
			c.finish(b)
		}
	}()
	defer func() {
		close(staged)
		<-finished
	}()
	// entries is the directory-entry sync the batch last handed to finish
	// waits for: the next batch's body sync completes it (its syncfs
	// starts after those entries were made), or, when no batch follows
	// soon, a sync of its own.
	var entries *entrySync
	for {
		c.mu.Lock()
		batch := c.queue
		c.queue = nil
		gone := c.goneDone
		c.goneDone = nil
		closed := c.closed
		c.mu.Unlock()
		if len(batch) == 0 && len(gone) == 0 {
			if entries != nil {
				entries.complete(c.syncEntriesAlone(entries))
				entries = nil
				continue
			}
			if closed {
				return
			}
			<-c.wake
			continue
		}
		b := stagedBatch{batch: batch, gone: gone, start: time.Now()}
		b.live, b.entries = c.prepare(batch, entries)
		entries = b.entries
		if c.serial.Load() {
			// No next batch will complete the entries' sync.
			if entries != nil {
				entries.complete(c.syncEntriesAlone(entries))
				entries = nil
			}
			c.finish(b)
		} else {
			staged <- b
		}
	}
}

// entrySync is the pending sync of a batch's new directory entries.
type entrySync struct {
	gen  uint64   // the body syncer's errGen before the entries were made
	dirs []string // the directories holding them
	done chan struct{}
	err  error
}

// syncEntriesAlone makes e's entries durable when no next batch's body
// sync can carry them: a few directories are fsynced (cheaper than a
// syncfs for a lone delivery, which is what leaves the committer idle),
// more share one syncfs.
func (c *committer) syncEntriesAlone(e *entrySync) error {
	if len(e.dirs) > 2 {
		return c.bodies.syncEntries(e.gen)
	}
	errs := make([]error, len(e.dirs))
	var wg sync.WaitGroup
	for i, d := range e.dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.syncDir(d)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (e *entrySync) complete(err error) {
	e.err = err
	close(e.done)
}

func (e *entrySync) wait() error {
	<-e.done
	return e.err
}

// stagedBatch is a prepared batch on its way to the index commit.
type stagedBatch struct {
	batch []*commitReq // every request, to release
	live  []*commitReq // those still alive after prepare
	gone  []goneEntry
	start time.Time
	// entries, when the batch linked new files, is the sync that makes
	// their directory entries durable.
	entries *entrySync
}

// syncLinkDirs fsyncs, in parallel, the directories the batch's
// deliveries were linked into (when the body syncer is not using syncfs).
func (c *committer) syncLinkDirs(prepared []*commitReq) error {
	seen := map[string]bool{}
	var dirs []string
	for _, r := range prepared {
		if r.link == nil {
			continue
		}
		for _, d := range r.dirs {
			if !seen[d] {
				seen[d] = true
				dirs = append(dirs, d)
			}
		}
	}
	errs := make([]error, len(dirs))
	var wg sync.WaitGroup
	for i, d := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.syncDir(d)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// finish is the second stage: it commits a prepared batch's index
// records, publishes the changes and releases the callers.
func (c *committer) finish(b stagedBatch) {
	batch, prepared, gone := b.batch, b.live, b.gone
	defer func() {
		for _, r := range batch {
			close(r.done)
		}
	}()
	if len(batch) > 0 {
		c.commits.Add(1)
		c.requests.Add(int64(len(batch)))
		defer func() { c.txNanos.Add(int64(time.Since(b.start))) }()
	}

	// The directory syncs of the whole batch run in parallel with each
	// other and with the index commit; callers are released only after
	// both, so an acknowledged message has its directory entry and its
	// index record on disk. A crash in between can leave an index record
	// whose file vanished: recovery expunges it, and it was never
	// acknowledged. (If a directory sync fails after the index commit,
	// the caller gets the error although the message is indexed: a retry
	// may duplicate it, but nothing acknowledged is lost.)
	// Directories the batch's deliveries were linked into are made
	// durable by b.entries, the next syncfs (shared with the next batch's
	// bodies); directories of other requests (Copy, Move, ...), whose
	// entries were made before they were queued, are fsynced.
	idx := map[string]int{}
	var dirs []string
	if !c.noSync {
		for _, r := range prepared {
			if r.link != nil {
				continue
			}
			for _, d := range r.dirs {
				if _, ok := idx[d]; !ok {
					idx[d] = len(dirs)
					dirs = append(dirs, d)
				}
			}
		}
	}
	var entriesErr error
	var wg sync.WaitGroup
	if b.entries != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := b.entries.wait()
			if errors.Is(err, errUseFsync) {
				err = c.syncLinkDirs(prepared)
			}
			entriesErr = err
		}()
	}
	dirErrs := make([]error, len(dirs))
	for i, d := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dirErrs[i] = c.syncDir(d)
		}()
	}
	live := prepared
	var changes [][]Change
	for len(live) > 0 || len(gone) > 0 {
		ch, failed, err := c.try(live, gone)
		if err != nil {
			for _, r := range live {
				r.err = err
			}
			live = nil
			break
		}
		if failed == nil {
			changes = ch
			break
		}
		// One function failed: it keeps its error, the others run again
		// without it in a fresh transaction.
		rest := live[:0:0]
		for _, r := range live {
			if r != failed {
				rest = append(rest, r)
			}
		}
		live = rest
	}
	t1 := time.Now()
	wg.Wait()
	c.syncNanos.Add(int64(time.Since(t1)))
	for _, r := range prepared {
		if r.link != nil && len(r.dirs) > 0 && entriesErr != nil && r.err == nil {
			r.err = fmt.Errorf("%w: %w", errEntryNotDurable, entriesErr)
		}
		for _, d := range r.dirs {
			if i, ok := idx[d]; ok && dirErrs[i] != nil && r.err == nil {
				r.err = fmt.Errorf("%w: %w", errEntryNotDurable, dirErrs[i])
			}
		}
	}
	for i, ch := range changes {
		if len(ch) > 0 {
			live[i].acct.publish(ch)
		}
	}
}

// prepare makes the batch's new message bodies durable (one syncfs for
// all of them, see bodySyncer) and only then links them into their
// Maildirs, so no directory entry, durable or not, ever names a body
// that is not yet on disk. The same sync completes prev, the previous
// batch's directory-entry sync. It returns the requests still alive (a
// failed one has its error set and runs no function) and, when it linked
// new files, the sync their directory entries wait for.
func (c *committer) prepare(batch []*commitReq, prev *entrySync) (live []*commitReq, entries *entrySync) {
	var bodies []pendingBody
	var owners []*commitReq
	for _, r := range batch {
		if r.body != nil && !c.noSync && !r.body.isSynced() {
			bodies = append(bodies, pendingBody{f: r.body.f, gen: r.body.gen})
			owners = append(owners, r)
		}
	}
	if prev != nil {
		bodies = append(bodies, pendingBody{gen: prev.gen})
	}
	errs := c.bodies.syncBodies(bodies)
	if prev != nil {
		prev.complete(errs[len(errs)-1])
	}
	for i, r := range owners {
		if errs[i] != nil {
			r.err = fmt.Errorf("storage: sync body: %w", errs[i])
		} else {
			r.body.markSynced()
		}
	}
	live = batch[:0:0]
	gen := c.bodies.errGen.Load()
	for _, r := range batch {
		if r.err != nil {
			continue
		}
		if r.link != nil {
			dirs, err := r.link()
			if err != nil {
				r.err = err
				continue
			}
			r.dirs = dirs
			if len(dirs) > 0 && entries == nil {
				entries = &entrySync{gen: gen, done: make(chan struct{})}
			}
			for _, d := range dirs {
				if !slices.Contains(entries.dirs, d) {
					entries.dirs = append(entries.dirs, d)
				}
			}
		}
		live = append(live, r)
	}
	return live, entries
}

// try runs the functions in one transaction. failed is the first function
// that returned an error (then nothing was committed).
func (c *committer) try(live []*commitReq, gone []goneEntry) (changes [][]Change, failed *commitReq, err error) {
	tx, err := c.db.Begin(true)
	if err != nil {
		return nil, nil, err
	}
	for _, g := range gone {
		root := accountRoot(tx, g.acct.key)
		if root == nil {
			continue // the account was deleted
		}
		if err := root.Bucket(bktGone).Delete([]byte(g.key)); err != nil {
			_ = tx.Rollback()
			return nil, nil, err
		}
	}
	changes = make([][]Change, len(live))
	for i, r := range live {
		root := accountRoot(tx, r.acct.key)
		var ch []Change
		err := ErrClosed // the account was deleted
		if root != nil {
			ch, err = r.fn(root)
		}
		if err != nil {
			_ = tx.Rollback()
			r.err = err
			return nil, r, nil
		}
		changes[i] = ch
	}
	t0 := time.Now()
	err = tx.Commit()
	c.indexNanos.Add(int64(time.Since(t0)))
	if err != nil {
		return nil, nil, err
	}
	return changes, nil, nil
}

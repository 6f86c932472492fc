package storage

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
)

// txFunc runs inside a write transaction. It must have no effect outside
// the transaction (results go to variables it assigns afresh on every
// call): the committer may run it again in a new transaction when another
// function of the same batch failed. A non-nil error rolls back only this
// function's work. The returned changes are published after the commit.
type txFunc func(tx *bbolt.Tx) ([]Change, error)

type commitReq struct {
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

// committer is an account's group commit: one goroutine takes every
// request queued while the previous commit ran and commits them in one
// bbolt transaction (one pair of fsyncs), after fsyncing the directories
// their files were linked into. Changes are published in commit order
// before the callers are released.
type committer struct {
	db      *bbolt.DB
	noSync  bool
	bodies  *bodySyncer
	publish func([]Change)

	mu     sync.Mutex
	queue  []*commitReq
	closed bool
	// goneDone holds gone/ keys whose files are unlinked; the next
	// transaction deletes them.
	goneDone []string
	wake     chan struct{}
	stopped  chan struct{}

	// Counters for benchmarks and diagnostics.
	commits, requests              atomic.Int64
	syncNanos, txNanos, indexNanos atomic.Int64
}

func newCommitter(db *bbolt.DB, noSync bool, bodies *bodySyncer, publish func([]Change)) *committer {
	c := &committer{db: db, noSync: noSync, bodies: bodies, publish: publish,
		wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	go c.run()
	return c
}

// do queues fn and waits until it is committed (or failed). Once queued
// the request is not withdrawn when ctx ends: a caller that gets nil knows
// the change is durable, and one that gets an error knows it is not.
func (c *committer) do(ctx context.Context, dirs []string, fn txFunc) error {
	return c.queueReq(ctx, &commitReq{fn: fn, dirs: dirs})
}

// deliver is do for a new message body: the committer makes body durable
// (batched with the other bodies of its batch), then runs link, then
// fsyncs the directories link returns and commits fn.
func (c *committer) deliver(ctx context.Context, body *Delivery, link func() ([]string, error), fn txFunc) error {
	return c.queueReq(ctx, &commitReq{fn: fn, body: body, link: link})
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

// unlinked records gone/ keys whose files no longer exist.
func (c *committer) unlinked(keys []string) {
	if len(keys) == 0 {
		return
	}
	c.mu.Lock()
	c.goneDone = append(c.goneDone, keys...)
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

func (c *committer) run() {
	defer close(c.stopped)
	for range c.wake {
		for {
			c.mu.Lock()
			batch := c.queue
			c.queue = nil
			gone := c.goneDone
			c.goneDone = nil
			closed := c.closed
			c.mu.Unlock()
			if len(batch) == 0 {
				if len(gone) > 0 {
					c.commit(nil, gone)
				}
				if closed {
					return
				}
				break
			}
			c.commit(batch, gone)
		}
	}
}

func (c *committer) commit(batch []*commitReq, gone []string) {
	defer func() {
		for _, r := range batch {
			close(r.done)
		}
	}()
	c.commits.Add(1)
	c.requests.Add(int64(len(batch)))
	t0 := time.Now()
	defer func() { c.txNanos.Add(int64(time.Since(t0))) }()
	prepared := c.prepare(batch)

	// The directory fsyncs of the whole batch run in parallel with each
	// other and with the index commit; callers are released only after
	// both, so an acknowledged message has its directory entry and its
	// index record on disk. A crash in between can leave an index record
	// whose file vanished: recovery expunges it, and it was never
	// acknowledged. (If a directory fsync fails after the index commit,
	// the caller gets the error although the message is indexed: a retry
	// may duplicate it, but nothing acknowledged is lost.)
	idx := map[string]int{}
	var dirs []string
	if !c.noSync {
		for _, r := range prepared {
			for _, d := range r.dirs {
				if _, ok := idx[d]; !ok {
					idx[d] = len(dirs)
					dirs = append(dirs, d)
				}
			}
		}
	}
	dirErrs := make([]error, len(dirs))
	var wg sync.WaitGroup
	for i, d := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dirErrs[i] = syncDir(d)
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
		for _, d := range r.dirs {
			if i, ok := idx[d]; ok && dirErrs[i] != nil && r.err == nil {
				r.err = dirErrs[i]
			}
		}
	}
	for _, ch := range changes {
		if len(ch) > 0 {
			c.publish(ch)
		}
	}
}

// prepare makes the batch's new message bodies durable (one syncfs for
// all of them, see bodySyncer) and only then links them into their
// Maildirs, so no directory entry, durable or not, ever names a body
// that is not yet on disk. It returns the requests still alive; a failed
// one has its error set and runs no function.
func (c *committer) prepare(batch []*commitReq) []*commitReq {
	var bodies []pendingBody
	var owners []*commitReq
	for _, r := range batch {
		if r.body != nil && !c.noSync && !r.body.isSynced() {
			bodies = append(bodies, pendingBody{f: r.body.f, gen: r.body.gen})
			owners = append(owners, r)
		}
	}
	errs := c.bodies.syncBodies(bodies)
	for i, r := range owners {
		if errs[i] != nil {
			r.err = fmt.Errorf("storage: sync body: %w", errs[i])
		} else {
			r.body.markSynced()
		}
	}
	live := batch[:0:0]
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
		}
		live = append(live, r)
	}
	return live
}

// try runs the functions in one transaction. failed is the first function
// that returned an error (then nothing was committed).
func (c *committer) try(live []*commitReq, gone []string) (changes [][]Change, failed *commitReq, err error) {
	tx, err := c.db.Begin(true)
	if err != nil {
		return nil, nil, err
	}
	gb := tx.Bucket(bktGone)
	for _, k := range gone {
		if err := gb.Delete([]byte(k)); err != nil {
			_ = tx.Rollback()
			return nil, nil, err
		}
	}
	changes = make([][]Change, len(live))
	for i, r := range live {
		ch, err := r.fn(tx)
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

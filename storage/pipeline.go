package storage

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// The committer's two stages (commit.go): prepare makes a batch's bodies
// durable and links them, finish commits the index records and releases
// the callers; run drives them so that they overlap.

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
	return errors.Join(c.syncDirs(e.dirs)...)
}

// syncDirs fsyncs dirs in parallel; errs[i] is dirs[i]'s error.
func (c *committer) syncDirs(dirs []string) (errs []error) {
	errs = make([]error, len(dirs))
	var wg sync.WaitGroup
	for i, d := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.syncDir(d)
		}()
	}
	wg.Wait()
	return errs
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
				err = errors.Join(c.syncDirs(b.entries.dirs)...)
			}
			entriesErr = err
		}()
	}
	var dirErrs []error
	if len(dirs) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dirErrs = c.syncDirs(dirs)
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

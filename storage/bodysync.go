package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// syncfsMinBatch is the smallest batch of bodies made durable with one
// syncfs(2); smaller batches fsync each file (in parallel). A lone
// delivery gains nothing from syncfs, which also writes back whatever
// else is dirty on the file system (benchmarks/storage.md).
const syncfsMinBatch = 2

// bodySyncer makes delivery bodies (files in Dir/.tmp) durable before
// they are linked into any Maildir. Each account's committer hands it the
// bodies of one batch and waits; the syncer's goroutine merges the
// batches of all committers that arrive while a sync runs into one group
// (so deliveries to many accounts share a sync too): with at least
// syncfsMinBatch bodies, one syncfs(2) of the file system holding
// Dir/.tmp makes them all durable (group commit of file contents);
// otherwise, or where syncfs is unsupported (not Linux, or ENOSYS), each
// file is fsynced.
//
// Error reporting: syncfs returns a writeback error (Linux >= 5.8) once
// per open file description, for errors since that description was
// opened or last reported. The syncer opens Dir/.tmp once, when the store
// opens (before any body exists), and runs one syncfs at a time on it,
// so every writeback error is reported to exactly one syncfs call. A
// call that reports one fails its batch and bumps errGen; each body
// carries the errGen of its creation, and a body whose errGen has moved
// since fails even if its own batch's syncfs succeeded (the error may
// have been about its pages, reported to another account's batch).
// Errors of other data on the file system fail batches too: callers
// retry (SMTP 451) and nothing unconfirmed is ever acknowledged. Per-file
// fsync reports the file's own errors through the body's descriptor.
type bodySyncer struct {
	fd  *os.File // Dir/.tmp, open for the store's lifetime
	log *slog.Logger
	// syncfs is syncfsFile; tests replace it to inject errors.
	syncfs func(*os.File) error
	// minBatch is syncfsMinBatch; benchmarks raise it to measure
	// parallel per-file fsyncs by the committer.
	minBatch int

	mu     sync.Mutex // one syncfs at a time
	errGen atomic.Uint64

	qmu     sync.Mutex
	next    *syncGroup // bodies waiting for the next sync
	closed  bool
	wake    chan struct{}
	stopped chan struct{}

	// perFile makes every delivery fsync its own body before queueing
	// (the behaviour without batching): set when syncfs turned out to
	// be unsupported, and by benchmarks for the A/B baseline.
	perFile atomic.Bool

	// Counters for benchmarks, tests and diagnostics.
	batches, bodies, syncfsCalls, maxBatch atomic.Int64
	syncNanos                              atomic.Int64
}

// pendingBody is a delivery body waiting to be made durable, or, with f
// nil, a barrier: directory entries made before it joined a group are
// made durable by that group's syncfs (syncEntries).
type pendingBody struct {
	f   *os.File
	gen uint64 // bodySyncer.errGen when the file (or the entries) were created
}

// errUseFsync tells syncEntries' caller to fsync its directories itself:
// the syncer is fsyncing each file, not running syncfs.
var errUseFsync = errors.New("storage: syncfs not in use")

// syncEntries makes the directory entries made before the call durable
// with the next syncfs, shared with the bodies of the batch being
// prepared meanwhile (the committer's two stages overlap). gen is errGen
// read before the entries were made. errUseFsync: fsync the directories.
func (s *bodySyncer) syncEntries(gen uint64) error {
	if s.perFile.Load() {
		return errUseFsync
	}
	return s.syncBodies([]pendingBody{{gen: gen}})[0]
}

func newBodySyncer(dir string, log *slog.Logger) (*bodySyncer, error) {
	fd, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	s := &bodySyncer{fd: fd, log: log, syncfs: syncfsFile, minBatch: syncfsMinBatch,
		wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	s.perFile.Store(!haveSyncfs || !syncfsReportsErrors())
	go s.run()
	return s, nil
}

// close finishes the queued syncs, stops the goroutine and closes the
// descriptor. The store calls it after closing every account.
func (s *bodySyncer) close() error {
	s.qmu.Lock()
	already := s.closed
	s.closed = true
	s.qmu.Unlock()
	if already {
		return nil
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	<-s.stopped
	return s.fd.Close()
}

// syncBodies makes every body durable. errs[i] is non-nil when bodies[i]
// may not be durable. Calls made by several committers while a sync runs
// are merged into the next one, so concurrent deliveries to different
// accounts share one syncfs as well.
func (s *bodySyncer) syncBodies(bodies []pendingBody) []error {
	if len(bodies) == 0 {
		return nil
	}
	s.qmu.Lock()
	if s.closed {
		s.qmu.Unlock()
		errs := make([]error, len(bodies))
		for i := range errs {
			errs[i] = ErrClosed
		}
		return errs
	}
	if s.next == nil {
		s.next = &syncGroup{done: make(chan struct{})}
	}
	g := s.next
	at := len(g.bodies)
	g.bodies = append(g.bodies, bodies...)
	s.qmu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	<-g.done
	return g.errs[at : at+len(bodies)]
}

// syncGroup is the bodies of every syncBodies call waiting for the next
// sync.
type syncGroup struct {
	bodies []pendingBody
	errs   []error
	done   chan struct{}
}

// run is the syncer goroutine: one group at a time, each holding every
// body queued while the previous group synced.
func (s *bodySyncer) run() {
	defer close(s.stopped)
	for range s.wake {
		for {
			s.qmu.Lock()
			g := s.next
			s.next = nil
			closed := s.closed
			s.qmu.Unlock()
			if g == nil {
				if closed {
					return
				}
				break
			}
			g.errs = s.syncGroup(g.bodies)
			close(g.done)
		}
	}
}

// syncGroup makes the bodies durable: one syncfs for a group of at least
// minBatch, else an fsync each.
func (s *bodySyncer) syncGroup(bodies []pendingBody) []error {
	errs := make([]error, len(bodies))
	if len(bodies) == 0 {
		return errs
	}
	s.batches.Add(1)
	s.bodies.Add(int64(len(bodies)))
	t0 := time.Now()
	defer func() { s.syncNanos.Add(int64(time.Since(t0))) }()
	for n := int64(len(bodies)); ; {
		old := s.maxBatch.Load()
		if n <= old || s.maxBatch.CompareAndSwap(old, n) {
			break
		}
	}
	barrier := slices.ContainsFunc(bodies, func(b pendingBody) bool { return b.f == nil })
	if (len(bodies) >= s.minBatch || barrier) && !s.perFile.Load() {
		err := s.syncAll()
		if err == nil {
			gen := s.errGen.Load()
			for i, b := range bodies {
				if b.gen != gen {
					errs[i] = errors.New("storage: syncfs: a writeback error was reported since the body was written")
				}
			}
			return errs
		}
		if !errors.Is(err, errors.ErrUnsupported) {
			err = fmt.Errorf("storage: syncfs: %w", err)
			for i := range errs {
				errs[i] = err
			}
			return errs
		}
		s.log.Warn("storage: syncfs unsupported, fsyncing each message body", "err", err)
		s.perFile.Store(true)
	}
	var wg sync.WaitGroup
	for i, b := range bodies {
		if b.f == nil {
			errs[i] = errUseFsync
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.f.Sync()
		}()
	}
	wg.Wait()
	return errs
}

// syncAll runs one syncfs, recording a reported error in errGen.
func (s *bodySyncer) syncAll() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncfsCalls.Add(1)
	err := s.syncfs(s.fd)
	if err != nil && !errors.Is(err, errors.ErrUnsupported) {
		s.errGen.Add(1)
	}
	return err
}

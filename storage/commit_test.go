package storage

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// TestCommitSharedAcrossAccounts: deliveries to different accounts that
// are queued together share one index commit (the reason the store has
// one index, doc.go). The first body sync is held until all eight
// deliveries, to eight accounts, are queued; the first batch and the rest
// must take at most three commits (the pipeline's stages may split the
// rest in two), not eight.
func TestCommitSharedAcrossAccounts(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	s.bodies.perFile.Store(false)
	const n = 8
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("user%d@example.com", i))
		if _, err := s.Account(t.Context(), names[i]); err != nil {
			t.Fatal(err)
		}
	}
	release := make(chan struct{})
	var held, released sync.Once
	free := func() { released.Do(func() { close(release) }) }
	t.Cleanup(free) // never leave the committer blocked
	s.bodies.syncfs = func(f *os.File) error {
		held.Do(func() { <-release })
		return nil
	}
	s.bodies.minBatch = 1
	base := s.commit.commits.Load()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := s.BeginDelivery(context.Background())
			if err != nil {
				errs <- err
				return
			}
			fmt.Fprintf(d, "Subject: %d\r\n\r\nx\r\n", i)
			res, err := d.Commit(context.Background(), []Target{{Account: names[i]}}, time.Time{})
			if err == nil {
				err = res[0].Err
			}
			errs <- err
		}()
	}
	// Wait until the committer holds the first batch in its sync and the
	// other deliveries are queued behind it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.commit.mu.Lock()
		queued := len(s.commit.queue)
		s.commit.mu.Unlock()
		if syncing := s.bodies.bodies.Load(); syncing > 0 && syncing+int64(queued) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries queued, %d syncing, want %d in all", queued, s.bodies.bodies.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
	free()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if c := s.commit.commits.Load() - base; c > 3 {
		t.Fatalf("%d deliveries to %d accounts took %d index commits, want at most 3", n, n, c)
	}
	for _, name := range names {
		a, _ := s.Account(t.Context(), name)
		if _, uids := listUIDs(t, a, Inbox); len(uids) != 1 {
			t.Fatalf("%s has %d messages", name, len(uids))
		}
	}
}

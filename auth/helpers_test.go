package auth

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fastHash keeps the suite fast; TestRealHashParams covers the defaults.
var fastHash = HashParams{Memory: 64, Time: 1, Threads: 1}

// fakeClock is a settable Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sleepRecorder replaces DB.sleep: it records the requested delays and
// returns at once (or with ctx's error if ctx is already done).
type sleepRecorder struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (r *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.delays = append(r.delays, d)
	r.mu.Unlock()
	return ctx.Err()
}

func (r *sleepRecorder) take() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.delays
	r.delays = nil
	return d
}

type testDB struct {
	*DB
	path  string
	clock *fakeClock
	slept *sleepRecorder
}

// newTestDB opens a fresh database in t.TempDir() with fast hashing, a
// fake clock and recorded sleeps. opts may adjust the Options.
func newTestDB(t *testing.T, opts ...func(*Options)) *testDB {
	t.Helper()
	clock := newFakeClock()
	o := Options{
		Path: filepath.Join(t.TempDir(), "accounts.db"),
		Now:  clock.Now,
		Hash: fastHash,
	}
	for _, f := range opts {
		f(&o)
	}
	db, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	rec := &sleepRecorder{}
	db.sleep = rec.sleep
	return &testDB{DB: db, path: o.Path, clock: clock, slept: rec}
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// seed creates domains, users (password "pw-"+address) and aliases
// ("addr=target1,target2"), advancing the clock a second per user so
// creation order is well defined.
func (db *testDB) seed(t *testing.T, domains, users []string, aliases map[string][]string) {
	t.Helper()
	ctx := context.Background()
	for _, d := range domains {
		must(t, db.AddDomain(ctx, d))
	}
	for _, u := range users {
		db.clock.Advance(time.Second)
		must(t, db.AddUser(ctx, u, "pw-"+u))
	}
	for a, ts := range aliases {
		must(t, db.AddAlias(ctx, a, ts))
	}
}

package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

func TestPersistence(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()
	db.seed(t, []string{"example.com", "example.org"}, []string{"bob@example.com", "ann@example.org"},
		map[string][]string{"sales@example.com": {"bob@example.com", "ann@example.org"}, "@example.org": {"ann@example.org"}})
	must(t, db.SetQuota(ctx, "bob@example.com", 5000))
	wantUsers, _ := db.Users(ctx)
	wantAliases, _ := db.Aliases(ctx)
	must(t, db.Close())

	db2, err := Open(Options{Path: db.path, Now: db.clock.Now, Hash: fastHash})
	must(t, err)
	defer db2.Close()
	if d, _ := db2.Domains(ctx); !slices.Equal(d, []string{"example.com", "example.org"}) {
		t.Errorf("Domains after reopen = %q", d)
	}
	if u, _ := db2.Users(ctx); !slices.Equal(u, wantUsers) {
		t.Errorf("Users after reopen = %+v, want %+v", u, wantUsers)
	}
	if a, _ := db2.Aliases(ctx); fmt.Sprint(a) != fmt.Sprint(wantAliases) {
		t.Errorf("Aliases after reopen = %+v, want %+v", a, wantAliases)
	}
	if q := db2.Quota("bob@example.com"); q != 5000 {
		t.Errorf("Quota after reopen = %d", q)
	}
	if acct, err := db2.Authenticate(ctx, "ann@example.org", "pw-ann@example.org", ip1); err != nil || acct != "ann@example.org" {
		t.Errorf("login after reopen: %q, %v", acct, err)
	}
	if r, err := db2.Resolve(ctx, "x@example.org"); err != nil || !slices.Equal(r, []string{"ann@example.org"}) {
		t.Errorf("catch-all after reopen: %q, %v", r, err)
	}
	// Writes after Close fail instead of succeeding silently.
	if err := db.AddDomain(ctx, "example.net"); err == nil {
		t.Error("AddDomain on a closed DB succeeded")
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	if _, err := Open(Options{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Open without path: %v", err)
	}

	// A second opener (here: the same process) is told the file is busy.
	db := newTestDB(t)
	if _, err := Open(Options{Path: db.path}); !errors.Is(err, ErrLocked) {
		t.Errorf("second Open: %v, want ErrLocked", err)
	}

	// The directory is created, owner-only; the file is owner-only.
	dir := filepath.Join(t.TempDir(), "data", "sub")
	db2, err := Open(Options{Path: filepath.Join(dir, "accounts.db"), Hash: fastHash})
	must(t, err)
	db2.Close()
	for _, p := range []string{dir, filepath.Join(dir, "accounts.db")} {
		fi, err := os.Stat(p)
		must(t, err)
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v", p, fi.Mode().Perm())
		}
	}
}

func TestOpenRefusesDamage(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		bucket []byte
		key    string
		value  string
	}{
		{"bad record", bucketUsers, "bob@example.com", "{not json"},
		{"future schema", bucketMeta, "version", "99"},
	} {
		path := filepath.Join(t.TempDir(), "accounts.db")
		db, err := Open(Options{Path: path, Hash: fastHash})
		must(t, err)
		db.Close()
		b, err := bbolt.Open(path, 0o600, nil)
		must(t, err)
		must(t, b.Update(func(tx *bbolt.Tx) error { return tx.Bucket(tt.bucket).Put([]byte(tt.key), []byte(tt.value)) }))
		b.Close()
		if db, err := Open(Options{Path: path, Hash: fastHash}); err == nil {
			db.Close()
			t.Errorf("%s: Open succeeded", tt.name)
		}
	}
}

// Concurrent admin writes, deliveries (Resolve/Quota) and logins; run with
// -race.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()
	db.seed(t, []string{"example.com"}, []string{"bob@example.com"}, map[string][]string{"@example.com": {"bob@example.com"}})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				addr := fmt.Sprintf("u%d-%d@example.com", w, i)
				if err := db.AddUser(ctx, addr, "pw"); err != nil {
					errs <- err
					return
				}
				if err := db.SetQuota(ctx, addr, int64(i)); err != nil {
					errs <- err
				}
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				r, err := db.Resolve(ctx, fmt.Sprintf("u%d-%d@example.com", w, i%10))
				if err != nil || len(r) != 1 {
					errs <- fmt.Errorf("Resolve: %q, %v", r, err)
				}
				db.Quota(r[0])
				if _, err := db.Authenticate(ctx, "bob@example.com", "pw-bob@example.com", ip1); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if u, _ := db.Users(ctx); len(u) != 41 {
		t.Errorf("%d users, want 41", len(u))
	}
}

// Readers never wait for a writer: with the write lock held, lookups and
// logins still answer.
func TestReadersTakeNoWriteLock(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()
	db.seed(t, []string{"example.com"}, []string{"bob@example.com"}, nil)
	db.wmu.Lock()
	defer db.wmu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if r, err := db.Resolve(ctx, "bob@example.com"); err != nil || len(r) != 1 {
			t.Errorf("Resolve: %q, %v", r, err)
		}
		if !db.IsLocalDomain("example.com") || db.Quota("bob@example.com") != 0 {
			t.Error("IsLocalDomain/Quota wrong")
		}
		if _, err := db.Authenticate(ctx, "bob@example.com", "pw-bob@example.com", ip1); err != nil {
			t.Errorf("Authenticate: %v", err)
		}
		if u, err := db.Users(ctx); err != nil || len(u) != 1 {
			t.Errorf("Users: %v, %v", u, err)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a reader blocked on the write lock")
	}
}

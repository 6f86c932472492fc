package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.etcd.io/bbolt"
)

// Store is the mail store: one Maildir tree per account plus one bbolt
// index, Dir/postel-index.db, holding a bucket tree per account.
type Store struct {
	opts  Options
	log   *slog.Logger
	names *namer
	tmp   string // Dir/.tmp: delivery bodies before they are linked
	// bodies makes delivery bodies durable in batches (bodysync.go).
	bodies *bodySyncer
	db     *bbolt.DB
	// commit is the group commit of every account (commit.go).
	commit *committer
	// adoptChunk is how many files recovery indexes per transaction.
	adoptChunk int

	mu       sync.Mutex
	closed   bool
	accounts map[string]*Account
	opening  map[string]*openCall
}

// openCall lets concurrent first uses of an account share one open.
type openCall struct {
	done chan struct{}
	acct *Account
	err  error
}

// Open opens (creating if needed) the store rooted at opts.Dir. Leftover
// delivery bodies from a previous run are removed.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("storage: Options.Dir is empty")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	opts.Dir = dir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	s := &Store{opts: opts, log: opts.Logger, names: newNamer(),
		tmp: filepath.Join(dir, ".tmp"), accounts: make(map[string]*Account), adoptChunk: adoptChunk,
		opening: make(map[string]*openCall)}
	if s.log == nil {
		s.log = slog.Default()
	}
	// Bodies in .tmp were never committed anywhere (a commit links them
	// into mailboxes first): discard them.
	if err := os.RemoveAll(s.tmp); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	if err := os.MkdirAll(s.tmp, 0o700); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	if s.db, err = openIndex(filepath.Join(dir, indexFile), opts.NoSync); err != nil {
		return nil, err
	}
	if s.bodies, err = newBodySyncer(s.tmp, s.log); err != nil {
		_ = s.db.Close()
		return nil, fmt.Errorf("storage: %w", err)
	}
	s.commit = newCommitter(s.db, opts.NoSync, s.bodies)
	return s, nil
}

// Close flushes and closes every account. Later calls return ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	accts := s.accounts
	s.accounts = map[string]*Account{}
	s.mu.Unlock()
	var errs []error
	for _, a := range accts {
		errs = append(errs, a.close())
	}
	s.commit.close()
	errs = append(errs, s.db.Close())
	errs = append(errs, s.bodies.close())
	return errors.Join(errs...)
}

// Account returns the shared in-memory object for an account, opening or
// creating it (with the default mailboxes) on first use. Opening runs
// recovery (recover.go).
func (s *Store) Account(ctx context.Context, name string) (*Account, error) {
	name, err := canonicalAccount(name)
	if err != nil {
		return nil, err
	}
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		if a := s.accounts[name]; a != nil {
			s.mu.Unlock()
			return a, nil
		}
		if oc := s.opening[name]; oc != nil {
			s.mu.Unlock()
			select {
			case <-oc.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if oc.err != nil {
				return nil, oc.err
			}
			continue
		}
		oc := &openCall{done: make(chan struct{})}
		s.opening[name] = oc
		s.mu.Unlock()

		oc.acct, oc.err = s.openAccount(name)
		s.mu.Lock()
		delete(s.opening, name)
		if oc.err == nil {
			if s.closed {
				oc.err = ErrClosed
				s.mu.Unlock()
				_ = oc.acct.close()
				close(oc.done)
				return nil, ErrClosed
			}
			s.accounts[name] = oc.acct
		}
		s.mu.Unlock()
		close(oc.done)
		return oc.acct, oc.err
	}
}

// accountDir is the directory of an account (its INBOX Maildir).
func (s *Store) accountDir(name string) (string, error) {
	enc := encodeAccount(name)
	if len(enc) > maxDirName {
		return "", fmt.Errorf("storage: account name too long")
	}
	return filepath.Join(s.opts.Dir, enc), nil
}

// DeleteAccount removes an account's mail and index. Sessions still
// holding its *Account get ErrClosed.
func (s *Store) DeleteAccount(ctx context.Context, name string) error {
	a, err := s.Account(ctx, name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.accounts[a.name] == a {
		delete(s.accounts, a.name)
	}
	s.mu.Unlock()
	if err := a.close(); err != nil {
		return err
	}
	// Rename first so a half-finished removal never looks like an account.
	trash := filepath.Join(s.tmp, "deleted-"+s.names.next())
	if err := os.Rename(a.dir, trash); err != nil {
		return fmt.Errorf("storage: delete account: %w", err)
	}
	// The index goes after the files: a crash in between leaves an index
	// without a directory, which the account's next open recovers as
	// empty (every record's file vanished).
	if err := s.db.Update(func(tx *bbolt.Tx) error {
		err := tx.Bucket(bktAccounts).DeleteBucket(a.key)
		if errors.Is(err, bbolt.ErrBucketNotFound) {
			return nil
		}
		return err
	}); err != nil {
		return fmt.Errorf("storage: delete account index: %w", err)
	}
	return os.RemoveAll(trash)
}

func (s *Store) quota(account string) int64 {
	if s.opts.Quota == nil {
		return 0
	}
	return s.opts.Quota(account)
}

// indexFile is the store's bbolt index in Dir.
const indexFile = "postel-index.db"

// bktAccounts holds one bucket per account, named by the canonical
// account name; inside it the account's index (index.go).
var bktAccounts = []byte("accounts")

// openIndex opens (creating) the store's index.
func openIndex(path string, noSync bool) (*bbolt.DB, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout: 5 * time.Second, // another process holds the index
		NoSync:  noSync,
	})
	if err != nil {
		return nil, fmt.Errorf("storage: open index: %w", err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bktAccounts)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("storage: init index: %w", err)
	}
	return db, nil
}

// accountRoot is an account's bucket, nil if it does not exist.
func accountRoot(tx *bbolt.Tx, key []byte) *bbolt.Bucket {
	return tx.Bucket(bktAccounts).Bucket(key)
}

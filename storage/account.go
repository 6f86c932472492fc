package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"go.etcd.io/bbolt"
)

// defaultMailboxes are created with every account (RFC 6154 special use).
var defaultMailboxes = []struct{ name, special string }{
	{Inbox, ""},
	{"Drafts", SpecialDrafts},
	{"Sent", SpecialSent},
	{"Trash", SpecialTrash},
	{"Junk", SpecialJunk},
	{"Archive", SpecialArchive},
}

// Account is the one shared object per user.
type Account struct {
	store  *Store
	name   string
	key    []byte // the account's bucket in the store's index
	dir    string
	commit *accountCommits
	noSync bool
	closed atomic.Bool

	// ns is the namespace lock: message operations that touch files hold
	// it shared; creating, deleting and renaming mailboxes hold it
	// exclusively so directories do not move under a file operation.
	// It is never held during network I/O.
	ns sync.RWMutex

	subsMu sync.Mutex
	subs   map[*Subscription]struct{}

	// renamer renames files after flag changes (filenames.go).
	renamer renamer

	pop3Mu   sync.Mutex
	pop3Held bool

	closeOnce sync.Once
	closeErr  error
}

func (s *Store) openAccount(name string) (*Account, error) {
	dir, err := s.accountDir(name)
	if err != nil {
		return nil, err
	}
	if err := makeMaildir(dir); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	a := &Account{store: s, name: name, key: []byte(name), dir: dir, noSync: s.opts.NoSync,
		subs: make(map[*Subscription]struct{})}
	a.renamer.idle.L = &a.renamer.mu
	var stamps map[uint64]int64
	imported := false
	if err := s.db.Update(func(btx *bbolt.Tx) error {
		accts := btx.Bucket(bktAccounts)
		fresh := accts.Bucket(a.key) == nil
		tx, err := accts.CreateBucketIfNotExists(a.key)
		if err != nil {
			return err
		}
		if fresh {
			if imported, err = importLegacyIndex(tx, dir); err != nil {
				return err
			}
		}
		if err := initIndex(tx); err != nil {
			return err
		}
		if stamps, err = takeStamps(tx); err != nil {
			return err
		}
		if tx.Bucket(bktNames).Get([]byte(Inbox)) != nil {
			return nil
		}
		for _, d := range defaultMailboxes {
			if tx.Bucket(bktNames).Get([]byte(d.name)) != nil {
				continue
			}
			if _, err := createMbox(tx, d.name, d.special); err != nil {
				return err
			}
			if err := tx.Bucket(bktSubs).Put([]byte(d.name), present); err != nil {
				return err
			}
			if err := makeMaildir(a.mboxDir(d.name)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("storage: init index of %s: %w", name, err)
	}
	if imported {
		s.log.Info("storage: imported the account's index from an older version", "account", name)
		if err := retireLegacyIndex(dir); err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
	}
	if err := a.recover(stamps); err != nil {
		return nil, fmt.Errorf("storage: recover %s: %w", name, err)
	}
	a.commit = &accountCommits{c: s.commit, a: a}
	return a, nil
}

// close finishes queued commits, ends subscriptions and closes the index.
func (a *Account) close() error {
	a.closeOnce.Do(func() {
		if a.commit != nil {
			a.commit.close()
		}
		// Before the stamps: they record cur/ as the renames leave it.
		a.waitRenames(true)
		a.closeSubs()
		a.ns.Lock()
		if err := a.writeStamps(); err != nil {
			a.store.log.Warn("storage: write clean-close stamps", "account", a.name, "err", err)
		}
		a.closed.Store(true)
		a.ns.Unlock()
	})
	return a.closeErr
}

// Name is the canonical account name.
func (a *Account) Name() string { return a.name }

// mboxDir is the Maildir of a canonical mailbox name.
func (a *Account) mboxDir(name string) string {
	return filepath.Join(a.dir, encodeMailbox(name))
}

// view runs a read transaction on the account's index; ErrClosed once
// the account or the store is closed.
func (a *Account) view(fn func(root *bbolt.Bucket) error) error {
	if a.closed.Load() {
		return ErrClosed
	}
	return a.txn(a.store.db.View, fn)
}

// update runs a write transaction of its own on the account's index,
// outside the group commit: for recovery, before the account is shared,
// and for the clean-close stamps, after its last commit.
func (a *Account) update(fn func(root *bbolt.Bucket) error) error {
	return a.txn(a.store.db.Update, fn)
}

// txn runs fn on the account's bucket in a transaction of run (the
// index's View or Update).
func (a *Account) txn(run func(func(*bbolt.Tx) error) error, fn func(root *bbolt.Bucket) error) error {
	err := run(func(tx *bbolt.Tx) error {
		root := accountRoot(tx, a.key)
		if root == nil {
			return ErrClosed
		}
		return fn(root)
	})
	if errors.Is(err, bbolt.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// Usage returns the bytes used by all the account's messages.
func (a *Account) Usage(ctx context.Context) (int64, error) {
	var n int64
	err := a.view(func(tx *bbolt.Bucket) error {
		var err error
		n, err = usage(tx)
		return err
	})
	return n, err
}

// usage sums the mailbox sizes inside a transaction.
func usage(tx *bbolt.Bucket) (int64, error) {
	var n int64
	c := tx.Bucket(bktNames).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		m, err := loadMbox(tx, string(k))
		if err != nil {
			return 0, err
		}
		n += m.info.Size
	}
	return n, nil
}

// checkQuota fails with ErrOverQuota when adding n bytes would pass the
// account's quota.
func (a *Account) checkQuota(tx *bbolt.Bucket, n int64) error {
	q := a.store.quota(a.name)
	if q <= 0 {
		return nil
	}
	used, err := usage(tx)
	if err != nil {
		return err
	}
	if used+n > q {
		return fmt.Errorf("%w: %s uses %d of %d bytes", ErrOverQuota, a.name, used, q)
	}
	return nil
}

// LockPOP3 takes the account's POP3 maildrop lock (RFC 1939 8: one
// session at a time); ErrInUse if held. unlock is safe to call twice.
func (a *Account) LockPOP3() (unlock func(), err error) {
	a.pop3Mu.Lock()
	defer a.pop3Mu.Unlock()
	if a.pop3Held {
		return nil, ErrInUse
	}
	a.pop3Held = true
	var once sync.Once
	return func() {
		once.Do(func() {
			a.pop3Mu.Lock()
			a.pop3Held = false
			a.pop3Mu.Unlock()
		})
	}, nil
}

// removeFile unlinks a committed-away file, ignoring a missing one.
func removeFile(path string) error {
	err := os.Remove(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"go.etcd.io/bbolt"
)

// deletedDir holds mailbox directories being removed. Its name has no
// leading dot, so Maildir++ readers never take it for a folder; recovery
// empties it.
const deletedDir = "postel-deleted"

// Mailboxes lists every mailbox with its status, INBOX first, then in
// byte order of their names.
func (a *Account) Mailboxes(ctx context.Context) ([]MailboxInfo, error) {
	var out []MailboxInfo
	err := a.view(func(tx *bbolt.Bucket) error {
		out = out[:0]
		for _, name := range mailboxNames(tx) {
			m, err := loadMbox(tx, name)
			if err != nil {
				return err
			}
			st := m.status(tx)
			if isInbox(name) {
				out = append([]MailboxInfo{st}, out...)
			} else {
				out = append(out, st)
			}
		}
		return nil
	})
	return out, err
}

// Status returns one mailbox's status.
func (a *Account) Status(ctx context.Context, mailbox string) (MailboxInfo, error) {
	name, err := CanonicalName(mailbox)
	if err != nil {
		return MailboxInfo{}, err
	}
	var st MailboxInfo
	err = a.view(func(tx *bbolt.Bucket) error {
		m, err := loadMbox(tx, name)
		if err != nil {
			return err
		}
		st = m.status(tx)
		return nil
	})
	return st, err
}

// Subscriptions returns every subscribed name in byte order, including
// names that do not exist as mailboxes (RFC 9051 6.3.9: LIST (SUBSCRIBED)
// reports them \NonExistent).
func (a *Account) Subscriptions(ctx context.Context) ([]string, error) {
	var out []string
	err := a.view(func(tx *bbolt.Bucket) error {
		out = out[:0]
		c := tx.Bucket(bktSubs).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			out = append(out, string(k))
		}
		return nil
	})
	return out, err
}

func validSpecialUse(s string) bool {
	switch s {
	case "", SpecialAll, SpecialArchive, SpecialDrafts, SpecialJunk, SpecialSent, SpecialTrash:
		return true
	}
	return false
}

// CreateMailbox creates a mailbox (and missing parents), optionally with a
// special-use attribute (RFC 6154). ErrExists if it exists.
func (a *Account) CreateMailbox(ctx context.Context, name, specialUse string) error {
	name, err := CanonicalName(name)
	if err != nil {
		return err
	}
	if isInbox(name) {
		return fmt.Errorf("%w: %s", ErrExists, name)
	}
	if !validSpecialUse(specialUse) {
		return fmt.Errorf("%w: special-use %q", ErrBadName, specialUse)
	}
	a.ns.Lock()
	defer a.ns.Unlock()
	_, err = a.createLocked(ctx, name, specialUse)
	return err
}

// createLocked creates name and its missing parents (ns held). It returns
// the new mailbox's UIDVALIDITY.
func (a *Account) createLocked(ctx context.Context, name, specialUse string) (uint32, error) {
	all := append(parentNames(name), name)
	for _, n := range all {
		if err := makeMaildir(a.mboxDir(n)); err != nil {
			return 0, fmt.Errorf("storage: create %s: %w", name, err)
		}
	}
	var dirs []string
	if !a.noSync {
		dirs = append(dirs, a.dir)
		for _, n := range all {
			dirs = append(dirs, a.mboxDir(n))
		}
	}
	var uv uint32
	err := a.commit.do(ctx, dirs, func(tx *bbolt.Bucket) ([]Change, error) {
		var ch []Change
		for _, p := range all[:len(all)-1] {
			if tx.Bucket(bktNames).Get([]byte(p)) != nil {
				continue
			}
			if _, err := createMbox(tx, p, ""); err != nil {
				return nil, err
			}
			ch = append(ch, Change{Kind: ChangeMailboxCreated, Mailbox: p, ModSeq: 1})
		}
		m, err := createMbox(tx, name, specialUse)
		if err != nil {
			return nil, err
		}
		uv = m.info.UIDValidity
		return append(ch, Change{Kind: ChangeMailboxCreated, Mailbox: name, ModSeq: 1}), nil
	})
	return uv, err
}

// DeleteMailbox deletes a mailbox and its messages. INBOX cannot be
// deleted (ErrProtected); a mailbox with children is refused
// (ErrHasChildren) so no name is left without a mailbox behind it.
// Subscriptions are kept (RFC 9051 6.3.4).
func (a *Account) DeleteMailbox(ctx context.Context, name string) error {
	name, err := CanonicalName(name)
	if err != nil {
		return err
	}
	if isInbox(name) {
		return fmt.Errorf("%w: cannot delete INBOX", ErrProtected)
	}
	a.ns.Lock()
	defer a.ns.Unlock()
	err = a.view(func(tx *bbolt.Bucket) error {
		if _, err := loadMbox(tx, name); err != nil {
			return err
		}
		if len(childNames(tx, name)) > 0 {
			return fmt.Errorf("%w: %s", ErrHasChildren, name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Move the directory aside first: after a crash before the commit the
	// mailbox is still indexed but empty (its files are in deletedDir,
	// which recovery clears), never half deleted.
	trash := filepath.Join(a.dir, deletedDir)
	if err := os.MkdirAll(trash, 0o700); err != nil {
		return fmt.Errorf("storage: delete %s: %w", name, err)
	}
	gone := filepath.Join(trash, a.store.names.next())
	if err := os.Rename(a.mboxDir(name), gone); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("storage: delete %s: %w", name, err)
	}
	err = a.commit.do(ctx, nil, func(tx *bbolt.Bucket) ([]Change, error) {
		m, err := loadMbox(tx, name)
		if err != nil {
			return nil, err
		}
		if err := tx.Bucket(bktMB).DeleteBucket(idKey(m.info.ID)); err != nil {
			return nil, err
		}
		if err := tx.Bucket(bktNames).Delete([]byte(name)); err != nil {
			return nil, err
		}
		return []Change{{Kind: ChangeMailboxDeleted, Mailbox: name, ModSeq: m.info.HighestModSeq + 1}}, nil
	})
	if err != nil {
		// Put the directory back; the mailbox still exists.
		_ = os.Rename(gone, a.mboxDir(name))
		return err
	}
	_ = os.RemoveAll(gone)
	return nil
}

// SetSubscribed sets the subscription of a name (RFC 9051 6.3.7: the name
// need not exist).
func (a *Account) SetSubscribed(ctx context.Context, name string, subscribed bool) error {
	name, err := CanonicalName(name)
	if err != nil {
		return err
	}
	return a.commit.do(ctx, nil, func(tx *bbolt.Bucket) ([]Change, error) {
		subs := tx.Bucket(bktSubs)
		if (subs.Get([]byte(name)) != nil) == subscribed {
			return nil, nil
		}
		var err error
		if subscribed {
			err = subs.Put([]byte(name), present)
		} else {
			err = subs.Delete([]byte(name))
		}
		if err != nil {
			return nil, err
		}
		return []Change{{Kind: ChangeSubscription, Mailbox: name}}, nil
	})
}

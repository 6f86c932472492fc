package storage

import (
	"context"
	"fmt"
	"os"

	"go.etcd.io/bbolt"
)

// RenameMailbox renames a mailbox and its children. Renaming INBOX moves
// its messages to the new mailbox and leaves INBOX empty (RFC 9051 6.3.6).
// Mailboxes are keyed by an internal id, so messages are not rewritten;
// UIDVALIDITY is kept. Subscriptions follow the rename.
func (a *Account) RenameMailbox(ctx context.Context, oldName, newName string) error {
	oldName, err := CanonicalName(oldName)
	if err != nil {
		return err
	}
	newName, err = CanonicalName(newName)
	if err != nil {
		return err
	}
	if isInbox(newName) || oldName == newName {
		return fmt.Errorf("%w: %s", ErrExists, newName)
	}
	if isChildOf(newName, oldName) {
		return fmt.Errorf("%w: cannot rename %s below itself", ErrBadName, oldName)
	}
	a.ns.Lock()
	defer a.ns.Unlock()
	if isInbox(oldName) {
		return a.renameInbox(ctx, newName)
	}

	// Plan: old and children, each to its new name.
	type pair struct{ from, to string }
	var plan []pair
	err = a.view(func(tx *bbolt.Bucket) error {
		if _, err := loadMbox(tx, oldName); err != nil {
			return err
		}
		plan = []pair{{oldName, newName}}
		for _, c := range childNames(tx, oldName) {
			plan = append(plan, pair{c, newName + c[len(oldName):]})
		}
		for _, p := range plan {
			if tx.Bucket(bktNames).Get([]byte(p.to)) != nil {
				return fmt.Errorf("%w: %s", ErrExists, p.to)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range plan[1:] {
		if _, err := CanonicalName(p.to); err != nil {
			return err // a child's new name would be too long
		}
	}
	// Missing parents of the new name become real mailboxes.
	for _, p := range parentNames(newName) {
		if err := makeMaildir(a.mboxDir(p)); err != nil {
			return fmt.Errorf("storage: rename: %w", err)
		}
	}

	// Commit the new names with a journal of directory renames, then
	// rename the directories, then clear the journal. Recovery finishes a
	// journal left by a crash, so index and directories always agree.
	err = a.commit.do(ctx, nil, func(tx *bbolt.Bucket) ([]Change, error) {
		var ch []Change
		names, subs, journal := tx.Bucket(bktNames), tx.Bucket(bktSubs), tx.Bucket(bktRenames)
		for _, p := range parentNames(newName) {
			if names.Get([]byte(p)) != nil {
				continue
			}
			if _, err := createMbox(tx, p, ""); err != nil {
				return nil, err
			}
			ch = append(ch, Change{Kind: ChangeMailboxCreated, Mailbox: p, ModSeq: 1})
		}
		for _, p := range plan {
			m, err := loadMbox(tx, p.from)
			if err != nil {
				return nil, err
			}
			if names.Get([]byte(p.to)) != nil {
				return nil, fmt.Errorf("%w: %s", ErrExists, p.to)
			}
			m.info.Name = p.to
			ms := m.modseq()
			if err := m.save(); err != nil {
				return nil, err
			}
			if err := names.Delete([]byte(p.from)); err != nil {
				return nil, err
			}
			if err := names.Put([]byte(p.to), idKey(m.info.ID)); err != nil {
				return nil, err
			}
			if subs.Get([]byte(p.from)) != nil {
				if err := subs.Delete([]byte(p.from)); err != nil {
					return nil, err
				}
				if err := subs.Put([]byte(p.to), present); err != nil {
					return nil, err
				}
			}
			if err := journal.Put([]byte(encodeMailbox(p.from)), []byte(encodeMailbox(p.to))); err != nil {
				return nil, err
			}
			ch = append(ch, Change{Kind: ChangeMailboxRenamed, Mailbox: p.to, OldName: p.from, ModSeq: ms})
		}
		return ch, nil
	})
	if err != nil {
		return err
	}
	if err := a.applyRenames(); err != nil {
		a.store.log.Error("storage: rename directories", "account", a.name, "err", err)
		return fmt.Errorf("storage: rename: %w", err)
	}
	return nil
}

// applyRenames renames the directories listed in the journal and clears
// it. Idempotent: a rename already done is skipped.
func (a *Account) applyRenames() error {
	type pair struct{ from, to string }
	var todo []pair
	if err := a.view(func(tx *bbolt.Bucket) error {
		return tx.Bucket(bktRenames).ForEach(func(k, v []byte) error {
			todo = append(todo, pair{string(k), string(v)})
			return nil
		})
	}); err != nil {
		return err
	}
	if len(todo) == 0 {
		return nil
	}
	for _, p := range todo {
		from, to := a.dir+"/"+p.from, a.dir+"/"+p.to
		if _, err := os.Stat(to); err == nil {
			continue
		}
		if err := os.Rename(from, to); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	if !a.noSync {
		if err := syncDir(a.dir); err != nil {
			return err
		}
	}
	clear := func(tx *bbolt.Bucket) error {
		for _, p := range todo {
			if err := tx.Bucket(bktRenames).Delete([]byte(p.from)); err != nil {
				return err
			}
		}
		return nil
	}
	if a.commit == nil { // during recovery
		return a.update(clear)
	}
	return a.commit.do(context.Background(), nil, func(tx *bbolt.Bucket) ([]Change, error) {
		return nil, clear(tx)
	})
}

// renameInbox moves every INBOX message to a new mailbox newName (ns held).
// The new mailbox is committed first, then the files are renamed, then the
// index entries move: a crash in between leaves each message in exactly
// one place (recovery expunges what vanished from INBOX and indexes what
// appeared in the new mailbox).
func (a *Account) renameInbox(ctx context.Context, newName string) error {
	if _, err := a.createLocked(ctx, newName, ""); err != nil {
		return err
	}
	type item struct {
		uid  uint32
		file string
	}
	var items []item
	if err := a.view(func(tx *bbolt.Bucket) error {
		m, err := loadMbox(tx, Inbox)
		if err != nil {
			return err
		}
		return m.msgs.ForEach(func(k, v []byte) error {
			var r msgRec
			if err := unmarshalMsg(v, &r, true); err != nil {
				return err
			}
			items = append(items, item{uidFromKey(k), r.file})
			return nil
		})
	}); err != nil {
		return err
	}
	src, dst := a.mboxDir(Inbox)+"/cur/", a.mboxDir(newName)+"/cur/"
	moved := make(map[uint32]bool, len(items))
	for _, it := range items {
		// The info part of the name may lag behind the index (a crash
		// before a flag rename, or another Maildir tool).
		err := byCurrentName(src, it.file, func(path string) error { return os.Rename(path, dst+it.file) })
		if err != nil {
			if os.IsNotExist(err) {
				continue // vanished; recovery will expunge it
			}
			return fmt.Errorf("storage: rename INBOX: %w", err)
		}
		moved[it.uid] = true
	}
	var dirs []string
	if !a.noSync {
		dirs = []string{src, dst}
	}
	return a.commit.do(ctx, dirs, func(tx *bbolt.Bucket) ([]Change, error) {
		in, err := loadMbox(tx, Inbox)
		if err != nil {
			return nil, err
		}
		out, err := loadMbox(tx, newName)
		if err != nil {
			return nil, err
		}
		var ch []Change
		for _, it := range items {
			if !moved[it.uid] {
				continue
			}
			r, err := in.get(it.uid, true)
			if err != nil || r == nil {
				return nil, err
			}
			cache := cloneBytes(in.cache.Get(uidKey(it.uid)))
			// The file moved, so no gone/ entry: delete the record only.
			in.modseq()
			if err := in.msgs.Delete(uidKey(it.uid)); err != nil {
				return nil, err
			}
			if err := in.cache.Delete(uidKey(it.uid)); err != nil {
				return nil, err
			}
			in.count(r, -1)
			uid, err := out.add(r, cache)
			if err != nil {
				return nil, err
			}
			ch = append(ch, Change{Kind: ChangeExpunge, Mailbox: Inbox, UID: it.uid},
				Change{Kind: ChangeMessageAdded, Mailbox: newName, UID: uid, Flags: r.flags.list()})
		}
		if err := in.save(); err != nil {
			return nil, err
		}
		if err := out.save(); err != nil {
			return nil, err
		}
		for i := range ch {
			if ch[i].Mailbox == Inbox {
				ch[i].ModSeq = in.info.HighestModSeq
			} else {
				ch[i].ModSeq = out.info.HighestModSeq
			}
		}
		return ch, nil
	})
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

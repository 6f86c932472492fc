package storage

import (
	"context"
	"fmt"

	"go.etcd.io/bbolt"
)

// Copy copies messages to dst, returning dst's UIDVALIDITY and the UID
// mapping (for COPYUID, RFC 4315). Missing source UIDs are skipped. The
// copy is all or nothing; flags are kept. Files are hard links.
func (a *Account) Copy(ctx context.Context, src string, uids []uint32, dst string) (uidValidity uint32, srcUIDs, dstUIDs []uint32, err error) {
	return a.transfer(ctx, src, uids, dst, false)
}

// Move moves messages to dst atomically (RFC 6851): one commit adds them
// to dst and expunges them from src.
func (a *Account) Move(ctx context.Context, src string, uids []uint32, dst string) (uidValidity uint32, srcUIDs, dstUIDs []uint32, err error) {
	return a.transfer(ctx, src, uids, dst, true)
}

func (a *Account) transfer(ctx context.Context, src string, uids []uint32, dst string, move bool) (uint32, []uint32, []uint32, error) {
	sname, err := CanonicalName(src)
	if err != nil {
		return 0, nil, nil, err
	}
	dname, err := CanonicalName(dst)
	if err != nil {
		return 0, nil, nil, err
	}
	a.ns.RLock()
	defer a.ns.RUnlock()

	type item struct {
		uid   uint32
		rec   *msgRec
		cache []byte
		file  string // new file name in dst
	}
	var items []item
	var total int64
	err = a.view(func(tx *bbolt.Bucket) error {
		sm, err := loadMbox(tx, sname)
		if err != nil {
			return err
		}
		if _, err := loadMbox(tx, dname); err != nil {
			return err
		}
		for _, uid := range uniqueUIDs(uids) {
			r, err := sm.get(uid, true)
			if err != nil {
				return err
			}
			if r == nil {
				continue
			}
			items = append(items, item{uid: uid, rec: r, cache: cloneBytes(sm.cache.Get(uidKey(uid)))})
			total += r.size
		}
		return nil
	})
	if err != nil {
		return 0, nil, nil, err
	}
	if len(items) == 0 {
		var uv uint32
		err := a.view(func(tx *bbolt.Bucket) error {
			m, err := loadMbox(tx, dname)
			if err == nil {
				uv = m.info.UIDValidity
			}
			return err
		})
		return uv, nil, nil, err
	}
	scur, dcur := a.curDir(sname), a.curDir(dname)
	var linked []string
	undo := func() {
		for _, p := range linked {
			_ = removeFile(p)
		}
	}
	for i := range items {
		it := &items[i]
		it.file = a.store.names.next() + it.rec.flags.maildirInfo()
		// A flag change (or another Maildir tool) may have renamed
		// the file since we read its name.
		err := byCurrentName(scur, it.rec.file, func(path string) error {
			return linkOrCopy(path, dcur+it.file, a.noSync)
		})
		if err != nil {
			undo()
			return 0, nil, nil, fmt.Errorf("storage: copy %s UID %d: %w", sname, it.uid, err)
		}
		linked = append(linked, dcur+it.file)
	}
	var dirs []string
	if !a.noSync {
		dirs = []string{dcur}
	}
	var uv uint32
	var srcUIDs, dstUIDs []uint32
	var gone []string
	err = a.commit.do(ctx, dirs, func(tx *bbolt.Bucket) ([]Change, error) {
		srcUIDs, dstUIDs, gone = nil, nil, nil
		dm, err := loadMbox(tx, dname)
		if err != nil {
			return nil, err
		}
		sm := dm
		if sname != dname {
			if sm, err = loadMbox(tx, sname); err != nil {
				return nil, err
			}
		}
		if !move {
			if err := a.checkQuota(tx, total); err != nil {
				return nil, err
			}
		}
		var added, expunged []Change
		for _, it := range items {
			cur, err := sm.get(it.uid, true)
			if err != nil {
				return nil, err
			}
			if move && cur == nil {
				continue // expunged meanwhile: nothing to move
			}
			r := *it.rec
			if cur != nil {
				r.flags = cur.flags
			}
			r.file = it.file
			uid, err := dm.add(&r, it.cache)
			if err != nil {
				return nil, err
			}
			srcUIDs = append(srcUIDs, it.uid)
			dstUIDs = append(dstUIDs, uid)
			added = append(added, Change{Kind: ChangeMessageAdded, Mailbox: dname, UID: uid, Flags: r.flags.list()})
			if move {
				if err := sm.remove(tx, it.uid, cur); err != nil {
					return nil, err
				}
				gone = append(gone, goneKey(sname, cur.file))
				expunged = append(expunged, Change{Kind: ChangeExpunge, Mailbox: sname, UID: it.uid})
			}
		}
		if err := dm.save(); err != nil {
			return nil, err
		}
		if sm != dm {
			if err := sm.save(); err != nil {
				return nil, err
			}
		}
		for i := range added {
			added[i].ModSeq = dm.info.HighestModSeq
		}
		for i := range expunged {
			expunged[i].ModSeq = sm.info.HighestModSeq
		}
		uv = dm.info.UIDValidity
		return append(added, expunged...), nil
	})
	if err != nil {
		undo()
		return 0, nil, nil, err
	}
	// Links made for messages that were expunged before a move committed.
	if len(dstUIDs) < len(items) {
		used := make(map[uint32]bool, len(srcUIDs))
		for _, u := range srcUIDs {
			used[u] = true
		}
		for _, it := range items {
			if !used[it.uid] {
				_ = removeFile(dcur + it.file)
			}
		}
	}
	a.unlinkGone(gone)
	return uv, srcUIDs, dstUIDs, nil
}

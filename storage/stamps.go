package storage

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
)

// Clean-close stamps let a restart skip scanning large cur/ directories.
//
// At a clean close each mailbox's cur/ modification time is stored. The
// next open reads and deletes the stamps in its first (fsynced)
// transaction, so after a crash there are none and recovery scans
// everything. A directory's mtime changes whenever an entry is added,
// removed or renamed in it, so an unchanged mtime means the files are the
// ones the index knows. Because the kernel's file-system clock is coarse,
// a directory modified less than stampMargin before the close gets no
// stamp: a later change could otherwise keep the same mtime.
const stampMargin = time.Second

// takeStamps returns and deletes the stamps (inside the open transaction).
func takeStamps(tx *bbolt.Bucket) (map[uint64]int64, error) {
	b := tx.Bucket(bktStamps)
	out := map[uint64]int64{}
	var keys [][]byte
	if err := b.ForEach(func(k, v []byte) error {
		if len(k) == 8 && len(v) == 8 {
			out[binary.BigEndian.Uint64(k)] = int64(binary.BigEndian.Uint64(v))
		}
		keys = append(keys, append([]byte(nil), k...))
		return nil
	}); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// writeStamps records every mailbox's cur/ mtime at a clean close (the
// committer has stopped, ns is held exclusively).
func (a *Account) writeStamps() error {
	now := time.Now()
	stamps := map[uint64]int64{}
	if err := a.view(func(tx *bbolt.Bucket) error {
		if tx.Bucket(bktGone).Stats().KeyN > 0 || tx.Bucket(bktRenames).Stats().KeyN > 0 {
			return nil // unfinished work: let the next open scan
		}
		for _, name := range mailboxNames(tx) {
			m, err := loadMbox(tx, name)
			if err != nil {
				return err
			}
			fi, err := os.Stat(filepath.Join(a.mboxDir(name), "cur"))
			if err != nil || now.Sub(fi.ModTime()) < stampMargin {
				continue
			}
			stamps[m.info.ID] = fi.ModTime().UnixNano()
		}
		return nil
	}); err != nil {
		return err
	}
	if len(stamps) == 0 {
		return nil
	}
	return a.update(func(tx *bbolt.Bucket) error {
		b := tx.Bucket(bktStamps)
		for id, ns := range stamps {
			var v [8]byte
			binary.BigEndian.PutUint64(v[:], uint64(ns))
			if err := b.Put(idKey(id), v[:]); err != nil {
				return err
			}
		}
		return nil
	})
}

// curUnchanged reports whether dir's mtime is still the stamped one.
func curUnchanged(dir string, stamp int64) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.ModTime().UnixNano() == stamp
}

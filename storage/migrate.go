package storage

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
)

// legacyIndexFile is where versions before the store-wide index kept an
// account's index: in the account's directory, with the same buckets
// that now live in the account's bucket of Dir/postel-index.db.
const legacyIndexFile = "postel-index.db"

// importLegacyIndex copies an account's per-account index file, if there
// is one, into root (the account's new, empty bucket), so UIDs, flags,
// UIDVALIDITY and subscriptions survive the upgrade and clients need not
// resync. The old file is then renamed to *.imported (kept, not deleted:
// nothing is lost if the import had a fault). It runs inside the store
// transaction that creates the account's bucket, so a crash imports
// nothing or everything.
func importLegacyIndex(root *bbolt.Bucket, dir string) (imported bool, err error) {
	path := filepath.Join(dir, legacyIndexFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	old, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return false, fmt.Errorf("open legacy index %s: %w", path, err)
	}
	defer old.Close()
	err = old.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			dst, err := root.CreateBucketIfNotExists(bytes.Clone(name))
			if err != nil {
				return err
			}
			return copyBucket(dst, b)
		})
	})
	return err == nil, err
}

// copyBucket copies every key and nested bucket of src into dst. Keys
// and values are cloned: bbolt keeps the slices given to Put until the
// commit, and src's point into another database's memory map.
func copyBucket(dst, src *bbolt.Bucket) error {
	return src.ForEach(func(k, v []byte) error {
		k = bytes.Clone(k)
		if v != nil {
			return dst.Put(k, bytes.Clone(v))
		}
		sub, err := dst.CreateBucketIfNotExists(k)
		if err != nil {
			return err
		}
		return copyBucket(sub, src.Bucket(k))
	})
}

// retireLegacyIndex renames an imported per-account index file.
func retireLegacyIndex(dir string) error {
	path := filepath.Join(dir, legacyIndexFile)
	return os.Rename(path, path+".imported")
}

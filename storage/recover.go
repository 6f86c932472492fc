package storage

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// recover reconciles the index with the Maildirs when an account is
// opened (DESIGN.md invariant 6). It runs before the committer starts, so
// it writes with db.Update directly.
//
//   - deletedDir and every mailbox's tmp/ are emptied: nothing there was
//     ever committed.
//   - an unfinished rename journal is completed.
//   - files recorded in gone/ (expunged, not yet unlinked) are unlinked.
//   - Maildir++ folders made by other tools (".Name" directories that
//     decode to a valid name) become mailboxes, parents included.
//   - per mailbox, files are matched to index records by base name: a
//     record whose file vanished is expunged (new MODSEQ); a file in new/
//     or an unknown file in cur/ (delivered from outside, or linked before
//     a crash stopped its commit) is indexed with the next UID and lives
//     in cur/ from then on.
func (a *Account) recover(stamps map[uint64]int64) error {
	if err := os.RemoveAll(filepath.Join(a.dir, deletedDir)); err != nil {
		return err
	}
	if err := a.applyRenames(); err != nil {
		return err
	}
	if err := a.update(func(tx *bbolt.Bucket) error {
		b := tx.Bucket(bktGone)
		var keys [][]byte
		if err := b.ForEach(func(k, _ []byte) error {
			keys = append(keys, append([]byte(nil), k...))
			return nil
		}); err != nil {
			return err
		}
		for _, k := range keys {
			if err := unlinkMessageFile(filepath.Join(a.dir, filepath.Clean("/"+string(k)))); err != nil {
				return err
			}
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := a.adoptMailboxes(); err != nil {
		return err
	}
	var names []string
	var ids []uint64
	if err := a.view(func(tx *bbolt.Bucket) error {
		names = mailboxNames(tx)
		for _, n := range names {
			m, err := loadMbox(tx, n)
			if err != nil {
				return err
			}
			ids = append(ids, m.info.ID)
		}
		return nil
	}); err != nil {
		return err
	}
	for i, name := range names {
		stamp, ok := stamps[ids[i]]
		if err := a.recoverMailbox(name, stamp, ok); err != nil {
			return err
		}
	}
	return nil
}

// readNames lists a directory's entries, skipping dot files; a missing
// directory is empty.
func readNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	out := names[:0]
	for _, n := range names {
		if !strings.HasPrefix(n, ".") {
			out = append(out, n)
		}
	}
	return out, err
}

// recoverMailbox reconciles one mailbox. When the account was closed
// cleanly and cur/ has not changed since (stamp, see stamps.go), the
// scan of cur/ is skipped: only new/ and tmp/ are looked at.
func (a *Account) recoverMailbox(name string, stamp int64, haveStamp bool) error {
	dir := a.mboxDir(name)
	if err := makeMaildir(dir); err != nil {
		return err
	}
	tmps, err := readNames(filepath.Join(dir, "tmp"))
	if err != nil {
		return err
	}
	for _, n := range tmps {
		if err := removeFile(filepath.Join(dir, "tmp", n)); err != nil {
			return err
		}
	}
	newNames, err := readNames(filepath.Join(dir, "new"))
	if err != nil {
		return err
	}
	if haveStamp && len(newNames) == 0 && curUnchanged(filepath.Join(dir, "cur"), stamp) {
		return nil
	}
	curNames, err := readNames(filepath.Join(dir, "cur"))
	if err != nil {
		return err
	}
	onDisk := make(map[string]string, len(curNames))
	for _, n := range curNames {
		onDisk[baseName(n)] = n
	}

	type fix struct {
		uid  uint32
		file string // "" = vanished
	}
	var fixes []fix
	if err := a.view(func(tx *bbolt.Bucket) error {
		m, err := loadMbox(tx, name)
		if err != nil {
			return err
		}
		var r msgRec
		c := m.msgs.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if err := unmarshalMsg(v, &r, true); err != nil {
				return err
			}
			base := baseName(r.file)
			n, ok := onDisk[base]
			switch {
			case !ok:
				fixes = append(fixes, fix{uidFromKey(k), ""})
			case n != r.file:
				fixes = append(fixes, fix{uidFromKey(k), n})
			}
			delete(onDisk, base)
		}
		return nil
	}); err != nil {
		return err
	}

	// Files nobody indexed: leftovers in cur/ first, then new/, each in
	// name order (Maildir names start with the delivery time).
	var found []string
	for _, n := range onDisk {
		found = append(found, n)
	}
	sort.Strings(found)
	sort.Strings(newNames)
	for _, n := range newNames {
		target := n
		if !strings.Contains(n, ":2,") {
			target = baseName(n) + ":2,"
		}
		if err := os.Rename(filepath.Join(dir, "new", n), filepath.Join(dir, "cur", target)); err != nil {
			return err
		}
		found = append(found, target)
	}
	if len(fixes) == 0 && len(found) == 0 {
		return nil
	}
	if !a.noSync && len(newNames) > 0 {
		if err := syncDir(filepath.Join(dir, "cur")); err != nil {
			return err
		}
		if err := syncDir(filepath.Join(dir, "new")); err != nil {
			return err
		}
	}
	// The index is updated in chunks of adoptChunk files, each read and
	// parsed just before its transaction: a mailbox of many files from
	// outside (an imported Maildir) neither holds its parsed headers all
	// in memory nor holds the store's single index writer for long, and
	// other accounts' commits go on in between. A crash between chunks
	// leaves the rest for the next open.
	expunged, added := 0, 0
	for first := true; first || len(found) > 0; first = false {
		chunk := found[:min(len(found), a.store.adoptChunk)]
		found = found[len(chunk):]
		adds := readAdoptees(filepath.Join(dir, "cur"), chunk)
		err = a.update(func(tx *bbolt.Bucket) error {
			m, err := loadMbox(tx, name)
			if err != nil {
				return err
			}
			if first {
				for _, f := range fixes {
					r, err := m.get(f.uid, true)
					if err != nil || r == nil {
						return err
					}
					if f.file == "" {
						m.modseq()
						if err := m.msgs.Delete(uidKey(f.uid)); err != nil {
							return err
						}
						if err := m.cache.Delete(uidKey(f.uid)); err != nil {
							return err
						}
						m.count(r, -1)
						expunged++
						continue
					}
					r.file = f.file
					if err := m.put(f.uid, r); err != nil {
						return err
					}
				}
			}
			for _, ad := range adds {
				r := &msgRec{flags: flagsFromMaildirInfo(ad.file), date: ad.date.UnixNano(), size: ad.size, file: ad.file}
				if _, err := m.add(r, ad.cache); err != nil {
					return err
				}
				added++
			}
			return m.save()
		})
		if err != nil {
			break
		}
	}
	if err == nil && (expunged > 0 || added > 0) {
		a.store.log.Info("storage: recovered mailbox", "account", a.name, "mailbox", name, "added", added, "expunged", expunged)
	}
	return err
}

// adoptMailboxes indexes Maildir++ folders that another Maildir tool
// created in the account directory. Directories whose names are not a
// canonical encoding are left alone.
func (a *Account) adoptMailboxes() error {
	ents, err := os.ReadDir(a.dir)
	if err != nil {
		return err
	}
	var found []string
	if err := a.view(func(tx *bbolt.Bucket) error {
		names := tx.Bucket(bktNames)
		for _, e := range ents {
			if !e.IsDir() || !strings.HasPrefix(e.Name(), ".") {
				continue
			}
			name, err := decodeMailbox(e.Name())
			if err != nil {
				a.store.log.Warn("storage: ignoring directory", "account", a.name, "dir", e.Name())
				continue
			}
			if names.Get([]byte(name)) == nil {
				found = append(found, name)
			}
		}
		return nil
	}); err != nil || len(found) == 0 {
		return err
	}
	sort.Strings(found)
	return a.update(func(tx *bbolt.Bucket) error {
		for _, name := range found {
			for _, n := range append(parentNames(name), name) {
				if tx.Bucket(bktNames).Get([]byte(n)) != nil {
					continue
				}
				if _, err := createMbox(tx, n, ""); err != nil {
					return err
				}
				if err := makeMaildir(a.mboxDir(n)); err != nil {
					return err
				}
				a.store.log.Info("storage: adopted mailbox", "account", a.name, "mailbox", n)
			}
		}
		return nil
	})
}

// adoptChunk is how many files recovery indexes per transaction
// (Store.adoptChunk; tests lower it).
const adoptChunk = 2000

// adoptee is a file recovery indexes.
type adoptee struct {
	file  string
	size  int64
	date  time.Time
	cache []byte
}

// readAdoptees reads and parses the files names in cur; a file that
// vanished meanwhile is skipped.
func readAdoptees(cur string, names []string) []adoptee {
	adds := make([]adoptee, 0, len(names))
	for _, n := range names {
		p := filepath.Join(cur, n)
		body, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		adds = append(adds, adoptee{file: n, size: int64(len(body)), date: fi.ModTime(), cache: encodeCache(body)})
	}
	return adds
}

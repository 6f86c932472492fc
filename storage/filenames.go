package storage

import (
	"errors"
	"os"
	"path/filepath"
	"sync"

	"go.etcd.io/bbolt"
)

// Maildir file names carry the standard flags in their info part
// ("<base>:2,FRS", sorted letters: D draft, F flagged, R answered, S seen,
// T trashed), so that any Maildir tool reading our folders sees them. The
// index is the authority: a name that lags behind it (a crash between the
// commit and the rename, or a rename that failed) is only cosmetic, since
// every reader and recovery find a file by its base name (findByBase,
// recoverMailbox).

// fileRename is a message whose file name a flag change altered in the
// index: from is the name it had before.
type fileRename struct {
	uid  uint32
	from string
}

// renamer renames files after flag changes in the background, so that a
// STORE on 100,000 messages answers once its index commit is done rather
// than after 100,000 renames (benchmarks/storage.md). One goroutine per
// account works through the batches in order while there are any.
type renamer struct {
	mu      sync.Mutex
	idle    sync.Cond // signalled when the worker stops
	batches []renameBatch
	running bool
	closed  bool
}

type renameBatch struct {
	mailbox string
	moved   []fileRename
}

// rename queues a batch for a's worker, starting it if need be. After
// close it does nothing: the names then lag behind the index, which
// recovery and every reader tolerate.
func (a *Account) rename(mailbox string, moved []fileRename) {
	r := &a.renamer
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.batches = append(r.batches, renameBatch{mailbox, moved})
	if !r.running {
		r.running = true
		go a.renameWorker()
	}
}

func (a *Account) renameWorker() {
	r := &a.renamer
	for {
		r.mu.Lock()
		if len(r.batches) == 0 {
			r.running = false
			r.idle.Broadcast()
			r.mu.Unlock()
			return
		}
		b := r.batches[0]
		r.batches = r.batches[1:]
		r.mu.Unlock()
		a.renameFiles(b.mailbox, b.moved)
	}
}

// waitRenames returns once every queued rename is done; with stop, no
// rename is queued after it (the account is closing).
func (a *Account) waitRenames(stop bool) {
	r := &a.renamer
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = r.closed || stop
	for r.running {
		r.idle.Wait()
	}
}

// renameFiles brings message file names in line with the index after a
// flag change was committed; the account's renamer calls it, one batch at
// a time, after StoreFlags has answered. It reads each name from the index
// again, so that when two changes race, the batch renamed last leaves the
// name the index holds, and a message expunged meanwhile is left alone
// (unlinkMessageFile finds it under either name). Failures are logged:
// the change itself is committed.
func (a *Account) renameFiles(mailbox string, moved []fileRename) {
	a.ns.RLock()
	defer a.ns.RUnlock()
	cur := filepath.Join(a.mboxDir(mailbox), "cur")
	err := a.view(func(tx *bbolt.Bucket) error {
		m, err := loadMbox(tx, mailbox)
		if err != nil {
			return err
		}
		for _, mv := range moved {
			r, err := m.get(mv.uid, true)
			if err != nil || r == nil || r.file == mv.from {
				continue // expunged, or changed back
			}
			// The file may not be under the name this change found:
			// another change renamed it first (perhaps already to
			// r.file, a rename onto itself), or another Maildir tool
			// did. No file at all: an expunge got there first.
			to := filepath.Join(cur, r.file)
			err = byCurrentName(cur, mv.from, func(path string) error { return os.Rename(path, to) })
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				a.store.log.Warn("storage: rename message file for its flags", "account", a.name, "file", mv.from, "err", err)
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrClosed) && !errors.Is(err, ErrNoMailbox) {
		a.store.log.Warn("storage: rename message files for their flags", "account", a.name, "mailbox", mailbox, "err", err)
	}
}

// unlinkMessageFile removes a message file named path, or, when the info
// part of its name has changed since path was recorded (a flag change
// racing with an expunge, or another Maildir tool), the file in the same
// directory with the same base name. A file already gone is no error.
// Unlinking only the exact name would leave such a file behind, and
// recovery would bring the expunged message back as a new one.
func unlinkMessageFile(path string) error {
	err := byCurrentName(filepath.Dir(path), filepath.Base(path), os.Remove)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// byCurrentName runs op on the message file named file in dir and, when
// that name no longer exists because the info part changed (a flag rename
// running at the same time, or another Maildir tool), on the file with
// the same base name, a few times over in case the name keeps changing.
// op's error is returned; os.ErrNotExist once no such file is left.
func byCurrentName(dir, file string, op func(path string) error) error {
	err := op(filepath.Join(dir, file))
	for try := 0; try < 3 && errors.Is(err, os.ErrNotExist); try++ {
		alt := findByBase(dir, baseName(file))
		if alt == "" {
			break
		}
		err = op(filepath.Join(dir, alt))
	}
	return err
}

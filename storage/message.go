package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"go.etcd.io/bbolt"
)

// List returns a consistent snapshot of a mailbox: its status and every
// message's metadata in UID order. Changes published later carry a ModSeq
// above the returned HighestModSeq.
func (a *Account) List(ctx context.Context, mailbox string) (MailboxInfo, []MessageMeta, error) {
	name, err := CanonicalName(mailbox)
	if err != nil {
		return MailboxInfo{}, nil, err
	}
	var st MailboxInfo
	var out []MessageMeta
	err = a.view(func(tx *bbolt.Bucket) error {
		m, err := loadMbox(tx, name)
		if err != nil {
			return err
		}
		st = m.status(tx)
		out = make([]MessageMeta, 0, m.info.Messages)
		var r msgRec
		c := m.msgs.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if err := unmarshalMsg(v, &r, false); err != nil {
				return err
			}
			out = append(out, r.meta(uidFromKey(k)))
		}
		return nil
	})
	return st, out, err
}

// cached is the JSON form of the per-message envelope and structure.
type cached struct {
	Envelope  *Envelope      `json:"e"`
	Structure *BodyStructure `json:"s"`
}

// Fetch returns metadata plus cached envelope and body structure for uids
// (missing UIDs are skipped), in the order of uids.
func (a *Account) Fetch(ctx context.Context, mailbox string, uids []uint32) ([]Message, error) {
	name, err := CanonicalName(mailbox)
	if err != nil {
		return nil, err
	}
	var out []Message
	var missing []int // messages without a cache entry
	err = a.view(func(tx *bbolt.Bucket) error {
		out, missing = out[:0], missing[:0]
		m, err := loadMbox(tx, name)
		if err != nil {
			return err
		}
		for _, uid := range uids {
			r, err := m.get(uid, true)
			if err != nil {
				return err
			}
			if r == nil {
				continue
			}
			msg := Message{MessageMeta: r.meta(uid)}
			var c cached
			if v := m.cache.Get(uidKey(uid)); v != nil && json.Unmarshal(v, &c) == nil {
				msg.Envelope, msg.Structure = c.Envelope, c.Structure
			} else {
				missing = append(missing, len(out))
			}
			out = append(out, msg)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// A message without cache (an index written by an older version, say)
	// is parsed from its file now.
	for _, i := range missing {
		f, _, err := a.Open(ctx, name, out[i].UID)
		if err != nil {
			continue
		}
		b, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			continue
		}
		out[i].Envelope, out[i].Structure = parseMessage(b)
	}
	return out, nil
}

// Open returns the raw message bytes and size. The file stays readable
// after a concurrent expunge until it is closed.
func (a *Account) Open(ctx context.Context, mailbox string, uid uint32) (io.ReadSeekCloser, int64, error) {
	name, err := CanonicalName(mailbox)
	if err != nil {
		return nil, 0, err
	}
	a.ns.RLock()
	defer a.ns.RUnlock()
	var file string
	err = a.view(func(tx *bbolt.Bucket) error {
		m, err := loadMbox(tx, name)
		if err != nil {
			return err
		}
		r, err := m.get(uid, true)
		if err != nil {
			return err
		}
		if r == nil {
			return fmt.Errorf("%w: %s UID %d", ErrNoMessage, name, uid)
		}
		file = r.file
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	var f *os.File
	err = byCurrentName(filepath.Join(a.mboxDir(name), "cur"), file, func(path string) (err error) {
		f, err = os.Open(path)
		return err
	})
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, 0, fmt.Errorf("%w: %s UID %d file missing", ErrNoMessage, name, uid)
		}
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// findByBase looks for a file in dir whose base name is base.
func findByBase(dir, base string) string {
	d, err := os.Open(dir)
	if err != nil {
		return ""
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	for _, n := range names {
		if baseName(n) == base {
			return n
		}
	}
	return ""
}

// StoreFlags changes flags of uids and returns the new metadata of every
// message whose flags changed. All changed messages take one new MODSEQ.
func (a *Account) StoreFlags(ctx context.Context, mailbox string, uids []uint32, op FlagOp, flags []string) ([]MessageMeta, error) {
	name, err := CanonicalName(mailbox)
	if err != nil {
		return nil, err
	}
	arg := parseFlags(flags)
	var out []MessageMeta
	var renamed []fileRename
	err = a.commit.do(ctx, nil, func(tx *bbolt.Bucket) ([]Change, error) {
		out, renamed = nil, nil
		m, err := loadMbox(tx, name)
		if err != nil {
			return nil, err
		}
		var ch []Change
		for _, uid := range uniqueUIDs(uids) {
			r, err := m.get(uid, true)
			if err != nil {
				return nil, err
			}
			if r == nil {
				continue
			}
			nf := r.flags.apply(op, arg)
			if nf.equal(r.flags) {
				continue
			}
			m.count(r, -1)
			r.flags = nf
			r.modseq = m.modseq()
			m.count(r, +1)
			if file := baseName(r.file) + nf.maildirInfo(); file != r.file {
				renamed = append(renamed, fileRename{uid: uid, from: r.file})
				r.file = file
			}
			if err := m.put(uid, r); err != nil {
				return nil, err
			}
			meta := r.meta(uid)
			out = append(out, meta)
			ch = append(ch, Change{Kind: ChangeFlags, Mailbox: name, UID: uid, Flags: meta.Flags, ModSeq: r.modseq})
		}
		if len(ch) == 0 {
			return nil, nil
		}
		return ch, m.save()
	})
	if err == nil && len(renamed) > 0 {
		a.rename(name, renamed)
	}
	return out, err
}

// uniqueUIDs returns uids sorted without duplicates (a new slice).
func uniqueUIDs(uids []uint32) []uint32 {
	out := slices.Clone(uids)
	slices.Sort(out)
	return slices.Compact(out)
}

// Expunge removes messages flagged \Deleted: all of them when uids is nil,
// otherwise only those among uids (UID EXPUNGE, RFC 9051 6.4.9). Returns
// the expunged UIDs in ascending order.
func (a *Account) Expunge(ctx context.Context, mailbox string, uids []uint32) ([]uint32, error) {
	return a.remove(ctx, mailbox, uids, uids == nil, true)
}

// Delete removes messages regardless of flags (POP3 DELE applied at QUIT).
func (a *Account) Delete(ctx context.Context, mailbox string, uids []uint32) error {
	if len(uids) == 0 {
		return nil
	}
	_, err := a.remove(ctx, mailbox, uids, false, false)
	return err
}

// remove expunges messages: all (or those among uids), only \Deleted ones
// when onlyDeleted. The index commit comes first and records the files in
// gone/; the files are unlinked after it.
func (a *Account) remove(ctx context.Context, mailbox string, uids []uint32, all, onlyDeleted bool) ([]uint32, error) {
	name, err := CanonicalName(mailbox)
	if err != nil {
		return nil, err
	}
	a.ns.RLock()
	defer a.ns.RUnlock()
	var done []uint32
	var gone []string
	err = a.commit.do(ctx, nil, func(tx *bbolt.Bucket) ([]Change, error) {
		done, gone = nil, nil
		m, err := loadMbox(tx, name)
		if err != nil {
			return nil, err
		}
		var cand []uint32
		if all {
			err = m.msgs.ForEach(func(k, v []byte) error {
				if len(v) > 0 {
					cand = append(cand, uidFromKey(k))
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		} else {
			cand = uniqueUIDs(uids)
		}
		for _, uid := range cand {
			r, err := m.get(uid, true)
			if err != nil {
				return nil, err
			}
			if r == nil || (onlyDeleted && r.flags.bits&bitDeleted == 0) {
				continue
			}
			if err := m.remove(tx, uid, r); err != nil {
				return nil, err
			}
			done = append(done, uid)
			gone = append(gone, goneKey(name, r.file))
		}
		if len(done) == 0 {
			return nil, nil
		}
		ch := make([]Change, len(done))
		for i, uid := range done {
			ch[i] = Change{Kind: ChangeExpunge, Mailbox: name, UID: uid, ModSeq: m.info.HighestModSeq}
		}
		return ch, m.save()
	})
	if err != nil {
		return nil, err
	}
	a.unlinkGone(gone)
	return done, nil
}

// unlinkGone removes files recorded in gone/ after their commit.
func (a *Account) unlinkGone(keys []string) {
	var ok []string
	for _, k := range keys {
		if err := unlinkMessageFile(filepath.Join(a.dir, k)); err != nil {
			a.store.log.Warn("storage: unlink expunged file", "account", a.name, "file", k, "err", err)
			continue
		}
		ok = append(ok, k)
	}
	a.commit.unlinked(ok)
}

// messageDir returns mailbox's cur/ directory followed by a separator.
func (a *Account) curDir(name string) string {
	return filepath.Join(a.mboxDir(name), "cur") + string(filepath.Separator)
}

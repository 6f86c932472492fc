package storage

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"go.etcd.io/bbolt"
)

// Delivery is one message being delivered to one or more local mailboxes.
// The body is written once to the store's .tmp directory; Commit hard
// links it into every target Maildir. A Delivery is used by one goroutine.
type Delivery struct {
	s    *Store
	path string
	f    *os.File
	// mem holds the body while it is at most memBodyMax bytes: Commit
	// writes it with one system call and parses it without reading the
	// file back. A larger body spills to w.
	mem        []byte
	memWritten bool // mem is in the file; the body is complete
	w          *bufio.Writer
	size       int64
	err        error
	done       bool

	// gen is the body syncer's error generation when the file was
	// created (bodySyncer).
	gen uint64

	syncMu  sync.Mutex
	synced  bool
	syncErr error
}

// BeginDelivery starts a two-phase delivery: write the body, then Commit
// to a set of targets or Abort. Nothing is visible before Commit returns.
func (s *Store) BeginDelivery(ctx context.Context) (*Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	gen := s.bodies.errGen.Load() // before the file exists
	path := filepath.Join(s.tmp, s.names.next())
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("storage: begin delivery: %w", err)
	}
	return &Delivery{s: s, path: path, f: f, mem: memBodies.Get().([]byte)[:0], gen: gen}, nil
}

// memBodyMax is the largest body a Delivery keeps in memory (most mail
// is far smaller; 16 concurrent deliveries hold at most 16 MiB).
const memBodyMax = 1 << 20

// memBodies recycles the in-memory body buffers.
var memBodies = sync.Pool{New: func() any { return make([]byte, 0, 64<<10) }}

// releaseMem returns the in-memory buffer to the pool.
func (d *Delivery) releaseMem() {
	if d.mem != nil && cap(d.mem) <= memBodyMax*2 {
		memBodies.Put(d.mem[:0])
	}
	d.mem = nil
}

// Write appends body bytes (CRLF line ends expected). The bytes are stored
// exactly as given.
func (d *Delivery) Write(p []byte) (int, error) {
	if d.done {
		return 0, errors.New("storage: delivery finished")
	}
	if d.err != nil {
		return 0, d.err
	}
	if d.memWritten {
		return 0, errors.New("storage: write after the body was finished")
	}
	if d.w == nil {
		if len(d.mem)+len(p) <= memBodyMax {
			d.mem = append(d.mem, p...)
			d.size += int64(len(p))
			return len(p), nil
		}
		// Too large to keep: spill what we have and stream the rest.
		d.w = bufio.NewWriterSize(d.f, 64<<10)
		if _, err := d.w.Write(d.mem); err != nil {
			d.err = fmt.Errorf("storage: write body: %w", err)
			return 0, d.err
		}
		d.releaseMem()
	}
	n, err := d.w.Write(p)
	d.size += int64(n)
	if err != nil {
		d.err = fmt.Errorf("storage: write body: %w", err)
	}
	return n, d.err
}

// Commit makes the message durable in every target (file fsynced, index
// committed, shared group commit) and publishes the changes. The error is
// non-nil only when nothing could be attempted; per-target failures are in
// the results. Each target is all or nothing.
func (d *Delivery) Commit(ctx context.Context, targets []Target, date time.Time) ([]TargetResult, error) {
	if d.done {
		return nil, errors.New("storage: delivery finished")
	}
	defer d.Abort()
	if d.err != nil {
		return nil, d.err
	}
	body, err := d.finishBody()
	if err != nil {
		return nil, err
	}
	if date.IsZero() {
		date = time.Now()
	}
	cache := encodeCache(body)
	body = nil

	results := make([]TargetResult, len(targets))
	byAcct := make(map[string][]int)
	var order []string
	for i, t := range targets {
		results[i].Target = t
		name, err := canonicalAccount(t.Account)
		if err != nil {
			results[i].Err = err
			continue
		}
		if byAcct[name] == nil {
			order = append(order, name)
		}
		byAcct[name] = append(byAcct[name], i)
	}
	var wg sync.WaitGroup
	for _, name := range order {
		idx := byAcct[name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := d.s.Account(ctx, name)
			if err != nil {
				for _, i := range idx {
					results[i].Err = err
				}
				return
			}
			boxes := make([]string, len(idx))
			for j, i := range idx {
				boxes[j] = targets[i].Mailbox
				if boxes[j] == "" {
					boxes[j] = Inbox // the zero Target means the inbox
				}
			}
			res := a.deliver(ctx, d, cache, date, flagSet{}, boxes)
			for j, i := range idx {
				results[i].UID, results[i].Err = res[j].uid, res[j].err
			}
		}()
	}
	wg.Wait()
	return results, nil
}

// finishBody writes the body's buffered bytes to the file and returns
// the whole body: the in-memory copy, or for a body that spilled, the
// file read back.
func (d *Delivery) finishBody() ([]byte, error) {
	if d.err != nil {
		return nil, d.err
	}
	if d.w == nil {
		if !d.memWritten {
			if _, err := d.f.Write(d.mem); err != nil {
				d.err = fmt.Errorf("storage: write body: %w", err)
				return nil, d.err
			}
			d.memWritten = true
		}
		return d.mem, nil
	}
	if err := d.w.Flush(); err != nil {
		d.err = fmt.Errorf("storage: write body: %w", err)
		return nil, d.err
	}
	body, err := os.ReadFile(d.path)
	if err != nil {
		return nil, fmt.Errorf("storage: read body: %w", err)
	}
	return body, nil
}

// syncOnce fsyncs the body once, however many accounts link it: the
// per-file path, used when the store does not batch bodies
// (bodySyncer.perFile). deliver calls it before linking.
func (d *Delivery) syncOnce() error {
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	if !d.synced && !d.s.opts.NoSync {
		d.syncErr = d.f.Sync()
		if d.syncErr != nil {
			d.syncErr = fmt.Errorf("storage: sync body: %w", d.syncErr)
		}
	}
	d.synced = true
	return d.syncErr
}

// isSynced reports whether the body is known to be durable (another
// account's committer may have synced it already).
func (d *Delivery) isSynced() bool {
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	return d.synced && d.syncErr == nil
}

// markSynced records that a committer made the body durable.
func (d *Delivery) markSynced() {
	d.syncMu.Lock()
	d.synced, d.syncErr = true, nil
	d.syncMu.Unlock()
}

// Abort discards the delivery; it is safe after Commit (then a no-op,
// since Commit already removed the temporary body).
func (d *Delivery) Abort() error {
	if d.done {
		return nil
	}
	d.done = true
	d.releaseMem()
	_ = d.f.Close()
	return removeFile(d.path)
}

// encodeCache parses a message and returns its cache record.
func encodeCache(body []byte) []byte {
	env, bs := parseMessage(body)
	b, err := json.Marshal(cached{Envelope: env, Structure: bs})
	if err != nil {
		return nil
	}
	return b
}

type deliverResult struct {
	uid         uint32
	uidValidity uint32
	err         error
}

// deliver links the body of d into each mailbox's cur/ and commits them
// in one group commit. Each mailbox is all or nothing: a failed target's
// link is removed.
//
// The body is made durable before the first link is made, so every
// directory entry a crash can leave behind names a complete body
// (recovery adopts such files), and the index commit comes last. By
// default the account's committer does both for its whole batch (one
// syncfs for all bodies, bodySyncer); in per-file mode the delivering
// goroutine fsyncs and links, in parallel with the current commit.
func (a *Account) deliver(ctx context.Context, d *Delivery, cache []byte, date time.Time, flags flagSet, mailboxes []string) []deliverResult {
	src, size := d.path, d.size
	res := make([]deliverResult, len(mailboxes))
	names := make([]string, len(mailboxes))
	files := make([]string, len(mailboxes)) // full paths of links made
	valid := 0
	for i, mb := range mailboxes {
		name, err := CanonicalName(mb)
		if err != nil {
			res[i].err = err
			continue
		}
		names[i] = name
		valid++
	}
	if valid == 0 {
		return res
	}
	a.ns.RLock()
	defer a.ns.RUnlock()
	// link makes the directory entries; it runs only once the body is
	// durable.
	link := func() ([]string, error) {
		var dirs []string
		for i := range mailboxes {
			if names[i] == "" {
				continue
			}
			cur := a.curDir(names[i])
			file := a.store.names.next() + flags.maildirInfo()
			if err := linkOrCopy(src, cur+file, a.noSync); err != nil {
				if errors.Is(err, os.ErrNotExist) {
					err = fmt.Errorf("%w: %s", ErrNoMailbox, names[i])
				}
				res[i].err = err
				continue
			}
			files[i] = cur + file
			if !a.noSync {
				dirs = append(dirs, cur)
			}
		}
		return dirs, nil
	}
	date = date.Round(0)
	fn := func(tx *bbolt.Bucket) ([]Change, error) {
		var ch []Change
		var added int64
		q := a.store.quota(a.name)
		var used int64
		if q > 0 {
			var err error
			if used, err = usage(tx); err != nil {
				return nil, err
			}
		}
		for i := range mailboxes {
			if files[i] == "" {
				continue
			}
			res[i].uid, res[i].uidValidity, res[i].err = 0, 0, nil
			m, err := loadMbox(tx, names[i])
			if err != nil {
				res[i].err = err
				continue
			}
			if q > 0 && used+added+size > q {
				res[i].err = fmt.Errorf("%w: %s", ErrOverQuota, a.name)
				continue
			}
			r := &msgRec{flags: flags, date: date.UnixNano(), size: size, file: filepath.Base(files[i])}
			uid, err := m.add(r, cache)
			if err != nil {
				return nil, err
			}
			if err := m.save(); err != nil {
				return nil, err
			}
			added += size
			res[i].uid, res[i].uidValidity = uid, m.info.UIDValidity
			ch = append(ch, Change{Kind: ChangeMessageAdded, Mailbox: names[i], UID: uid, Flags: flags.list(), ModSeq: r.modseq})
		}
		return ch, nil
	}
	var err error
	if a.store.bodies.perFile.Load() || a.noSync {
		if err = d.syncOnce(); err == nil {
			var dirs []string
			dirs, err = link()
			if err == nil && slices.ContainsFunc(files, func(f string) bool { return f != "" }) {
				err = a.commit.do(ctx, dirs, fn)
			}
		}
	} else {
		err = a.commit.deliver(ctx, d, link, fn)
	}
	for i := range res {
		if err != nil && names[i] != "" && (files[i] != "" || res[i].err == nil) {
			res[i] = deliverResult{err: err}
		}
		if res[i].err != nil && files[i] != "" && !errors.Is(res[i].err, errEntryNotDurable) {
			_ = removeFile(files[i])
		}
	}
	return res
}

// Append stores a message durably (IMAP APPEND) and returns its UID. A
// zero date means now. Flags are normalised as by StoreFlags.
func (a *Account) Append(ctx context.Context, mailbox string, r io.Reader, flags []string, date time.Time) (uidValidity, uid uint32, err error) {
	name, err := CanonicalName(mailbox)
	if err != nil {
		return 0, 0, err
	}
	d, err := a.store.BeginDelivery(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer d.Abort()
	if _, err := io.Copy(d, r); err != nil {
		return 0, 0, err
	}
	body, err := d.finishBody()
	if err != nil {
		return 0, 0, err
	}
	cache := encodeCache(body)
	if date.IsZero() {
		date = time.Now()
	}
	res := a.deliver(ctx, d, cache, date, parseFlags(flags), []string{name})
	return res[0].uidValidity, res[0].uid, res[0].err
}

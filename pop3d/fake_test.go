package pop3d

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"time"

	"postel/auth"
	"postel/storage"
)

// fakeStore is an in-memory Mailstore for transcript tests.
type fakeStore struct {
	mu    sync.Mutex
	drops map[string]*fakeDrop
}

func newFakeStore() *fakeStore { return &fakeStore{drops: make(map[string]*fakeDrop)} }

func (fs *fakeStore) drop(account string) *fakeDrop {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	d, ok := fs.drops[account]
	if !ok {
		d = &fakeDrop{uidValidity: 1234, nextUID: 1, released: make(chan struct{}, 100)}
		fs.drops[account] = d
	}
	return d
}

func (fs *fakeStore) Maildrop(ctx context.Context, account string) (Maildrop, error) {
	return fs.drop(account), nil
}

type fakeMsg struct {
	uid  uint32
	data []byte
}

type fakeDrop struct {
	mu          sync.Mutex
	uidValidity uint32
	nextUID     uint32
	msgs        []fakeMsg
	locked      bool
	deletes     [][]uint32
	listErr     error
	released    chan struct{} // one value per unlock
}

func (d *fakeDrop) add(body string) uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	uid := d.nextUID
	d.nextUID++
	d.msgs = append(d.msgs, fakeMsg{uid: uid, data: []byte(body)})
	return uid
}

func (d *fakeDrop) uids() []uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	var u []uint32
	for _, m := range d.msgs {
		u = append(u, m.uid)
	}
	return u
}

func (d *fakeDrop) isLocked() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.locked
}

func (d *fakeDrop) LockPOP3() (func(), error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.locked {
		return nil, fmt.Errorf("lock: %w", storage.ErrInUse)
	}
	d.locked = true
	var once sync.Once
	return func() {
		once.Do(func() {
			d.mu.Lock()
			d.locked = false
			d.mu.Unlock()
			d.released <- struct{}{}
		})
	}, nil
}

func (d *fakeDrop) List(ctx context.Context, mailbox string) (storage.MailboxInfo, []storage.MessageMeta, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.listErr != nil {
		return storage.MailboxInfo{}, nil, d.listErr
	}
	if mailbox != "INBOX" {
		return storage.MailboxInfo{}, nil, storage.ErrNoMailbox
	}
	var metas []storage.MessageMeta
	for _, m := range d.msgs {
		metas = append(metas, storage.MessageMeta{UID: m.uid, Size: int64(len(m.data)), InternalDate: time.Now()})
	}
	return storage.MailboxInfo{Name: "INBOX", UIDValidity: d.uidValidity, UIDNext: d.nextUID, Messages: uint32(len(metas))}, metas, nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func (d *fakeDrop) Open(ctx context.Context, mailbox string, uid uint32) (io.ReadSeekCloser, int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, m := range d.msgs {
		if m.uid == uid {
			return nopCloser{bytes.NewReader(m.data)}, int64(len(m.data)), nil
		}
	}
	return nil, 0, fmt.Errorf("open %d: %w", uid, storage.ErrNoMessage)
}

func (d *fakeDrop) Delete(ctx context.Context, mailbox string, uids []uint32) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.deletes = append(d.deletes, uids)
	del := make(map[uint32]bool)
	for _, u := range uids {
		del[u] = true
	}
	kept := d.msgs[:0]
	for _, m := range d.msgs {
		if !del[m.uid] {
			kept = append(kept, m)
		}
	}
	d.msgs = kept
	return nil
}

// fakeAuth accepts user/password pairs; "throttled" is always throttled.
type fakeAuth struct {
	mu    sync.Mutex
	users map[string]string // user -> password
	calls int
}

func (a *fakeAuth) Authenticate(ctx context.Context, user, pass string, remote netip.Addr) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	if user == "throttled" {
		return "", fmt.Errorf("login %q: %w", user, auth.ErrThrottled)
	}
	if user == "broken" {
		return "", fmt.Errorf("bbolt: disk on fire at /secret/path")
	}
	if p, ok := a.users[user]; ok && p == pass {
		return user, nil
	}
	return "", fmt.Errorf("login %q: %w", user, auth.ErrBadCredentials)
}

var errInternalForTest = fmt.Errorf("index corrupt at /var/secret")

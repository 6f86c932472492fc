package storage

// PLACEHOLDER: the bodies in this file are stand-ins so other packages can
// compile against the API while the store is being written. The storage
// implementation replaces every one of them and deletes this file.

import (
	"context"
	"io"
	"time"
)

// Store is the mail store: one Maildir tree plus a bbolt index per account.
type Store struct{}

// Open opens (creating if needed) the store rooted at opts.Dir.
func Open(opts Options) (*Store, error) { return nil, ErrNotImplemented }

// Close flushes and closes every account.
func (s *Store) Close() error { return nil }

// Account returns the shared in-memory object for an account, opening or
// creating it (with the default mailboxes) on first use.
func (s *Store) Account(ctx context.Context, name string) (*Account, error) {
	return nil, ErrNotImplemented
}

// DeleteAccount removes an account's mail and index.
func (s *Store) DeleteAccount(ctx context.Context, name string) error { return ErrNotImplemented }

// BeginDelivery starts a two-phase delivery: write the body, then Commit
// to a set of targets or Abort. Nothing is visible before Commit returns.
func (s *Store) BeginDelivery(ctx context.Context) (*Delivery, error) {
	return nil, ErrNotImplemented
}

// Delivery is one message being delivered to one or more local mailboxes.
type Delivery struct{}

// Write appends body bytes (CRLF line ends expected).
func (d *Delivery) Write(p []byte) (int, error) { return 0, ErrNotImplemented }

// Commit makes the message durable in every target (file fsynced, index
// committed, shared group commit) and publishes the changes. The error is
// non-nil only when nothing could be attempted; per-target failures are in
// the results.
func (d *Delivery) Commit(ctx context.Context, targets []Target, date time.Time) ([]TargetResult, error) {
	return nil, ErrNotImplemented
}

// Abort discards the delivery; it is safe after Commit (then a no-op).
func (d *Delivery) Abort() error { return nil }

// Account is the one shared object per user.
type Account struct{}

// Name is the canonical account name.
func (a *Account) Name() string { return "" }

// Mailboxes lists every mailbox with its status.
func (a *Account) Mailboxes(ctx context.Context) ([]MailboxInfo, error) {
	return nil, ErrNotImplemented
}

// Status returns one mailbox's status.
func (a *Account) Status(ctx context.Context, mailbox string) (MailboxInfo, error) {
	return MailboxInfo{}, ErrNotImplemented
}

// CreateMailbox creates a mailbox (and missing parents), optionally with a
// special-use attribute.
func (a *Account) CreateMailbox(ctx context.Context, name, specialUse string) error {
	return ErrNotImplemented
}

// DeleteMailbox deletes a mailbox and its messages. INBOX cannot be deleted.
func (a *Account) DeleteMailbox(ctx context.Context, name string) error { return ErrNotImplemented }

// RenameMailbox renames a mailbox and its children. Renaming INBOX moves its
// messages to the new mailbox and leaves INBOX empty (RFC 9051 6.3.6).
func (a *Account) RenameMailbox(ctx context.Context, oldName, newName string) error {
	return ErrNotImplemented
}

// SetSubscribed sets the subscription of a name.
func (a *Account) SetSubscribed(ctx context.Context, name string, subscribed bool) error {
	return ErrNotImplemented
}

// List returns a consistent snapshot of a mailbox: its status and every
// message's metadata in UID order.
func (a *Account) List(ctx context.Context, mailbox string) (MailboxInfo, []MessageMeta, error) {
	return MailboxInfo{}, nil, ErrNotImplemented
}

// Fetch returns metadata plus cached envelope and body structure for uids
// (missing UIDs are skipped).
func (a *Account) Fetch(ctx context.Context, mailbox string, uids []uint32) ([]Message, error) {
	return nil, ErrNotImplemented
}

// Open returns the raw message bytes and size.
func (a *Account) Open(ctx context.Context, mailbox string, uid uint32) (io.ReadSeekCloser, int64, error) {
	return nil, 0, ErrNotImplemented
}

// Append stores a message durably (IMAP APPEND) and returns its UID.
func (a *Account) Append(ctx context.Context, mailbox string, r io.Reader, flags []string, date time.Time) (uidValidity, uid uint32, err error) {
	return 0, 0, ErrNotImplemented
}

// StoreFlags changes flags of uids and returns the new metadata of every
// message whose flags changed.
func (a *Account) StoreFlags(ctx context.Context, mailbox string, uids []uint32, op FlagOp, flags []string) ([]MessageMeta, error) {
	return nil, ErrNotImplemented
}

// Copy copies messages to dst, returning dst's UIDVALIDITY and the UID
// mapping (for COPYUID, RFC 4315).
func (a *Account) Copy(ctx context.Context, src string, uids []uint32, dst string) (uidValidity uint32, srcUIDs, dstUIDs []uint32, err error) {
	return 0, nil, nil, ErrNotImplemented
}

// Move moves messages to dst atomically (RFC 6851).
func (a *Account) Move(ctx context.Context, src string, uids []uint32, dst string) (uidValidity uint32, srcUIDs, dstUIDs []uint32, err error) {
	return 0, nil, nil, ErrNotImplemented
}

// Expunge removes messages flagged \Deleted: all of them when uids is nil,
// otherwise only those among uids (UID EXPUNGE). Returns expunged UIDs.
func (a *Account) Expunge(ctx context.Context, mailbox string, uids []uint32) ([]uint32, error) {
	return nil, ErrNotImplemented
}

// Delete removes messages regardless of flags (POP3 DELE applied at QUIT).
func (a *Account) Delete(ctx context.Context, mailbox string, uids []uint32) error {
	return ErrNotImplemented
}

// Search returns the UIDs (ascending) of messages matching c.
func (a *Account) Search(ctx context.Context, mailbox string, c *SearchCriteria) ([]uint32, error) {
	return nil, ErrNotImplemented
}

// Subscribe returns a subscription to this account's change events.
func (a *Account) Subscribe() *Subscription { return &Subscription{} }

// LockPOP3 takes the account's POP3 maildrop lock; ErrInUse if held.
func (a *Account) LockPOP3() (unlock func(), err error) { return nil, ErrNotImplemented }

// Usage returns the bytes used by all the account's messages.
func (a *Account) Usage(ctx context.Context) (int64, error) { return 0, ErrNotImplemented }

// Subscription delivers an account's changes in commit order.
type Subscription struct{}

// C returns the channel of changes. The publisher never blocks on it.
func (s *Subscription) C() <-chan Change { return nil }

// Close ends the subscription and closes C.
func (s *Subscription) Close() {}

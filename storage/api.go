package storage

// This file fixes the public API of the store that the front ends (smtpd,
// imapd, pop3d), the queue and cmd/postel are written against. Keep these
// signatures stable; add methods freely.

import (
	"errors"
	"log/slog"
	"time"
)

// Sentinel errors. Wrap them with %w; front ends map them with errors.Is.
var (
	ErrNoMailbox   = errors.New("storage: no such mailbox")
	ErrExists      = errors.New("storage: mailbox exists")
	ErrBadName     = errors.New("storage: invalid mailbox name")
	ErrNoMessage   = errors.New("storage: no such message")
	ErrOverQuota   = errors.New("storage: over quota")
	ErrTooBig      = errors.New("storage: message too big")
	ErrInUse       = errors.New("storage: maildrop in use") // POP3 lock held
	ErrProtected   = errors.New("storage: operation not allowed on this mailbox")
	ErrHasChildren = errors.New("storage: mailbox has children")
	ErrClosed      = errors.New("storage: store closed")
)

// Standard IMAP system flags (RFC 9051 2.3.2). Keywords are any other atom.
const (
	FlagSeen     = `\Seen`
	FlagAnswered = `\Answered`
	FlagFlagged  = `\Flagged`
	FlagDeleted  = `\Deleted`
	FlagDraft    = `\Draft`
)

// Special-use attributes (RFC 6154).
const (
	SpecialAll     = `\All`
	SpecialArchive = `\Archive`
	SpecialDrafts  = `\Drafts`
	SpecialJunk    = `\Junk`
	SpecialSent    = `\Sent`
	SpecialTrash   = `\Trash`
)

// Options configures a Store.
type Options struct {
	// Dir is the root of the mail tree (e.g. data_dir/mail). Created if missing.
	Dir string
	// Logger receives storage events; nil means slog.Default().
	Logger *slog.Logger
	// Quota returns the quota in bytes for an account (0 = unlimited).
	// Nil means no quotas. Called on delivery and append.
	Quota func(account string) int64
	// NoSync disables fsync (benchmarks/tests of non-durability only).
	NoSync bool
}

// MailboxInfo describes one mailbox (LIST + STATUS data).
type MailboxInfo struct {
	Name          string // full name, "/" is the hierarchy separator, "INBOX" canonical
	SpecialUse    string // one of Special*, or ""
	Subscribed    bool
	UIDValidity   uint32
	UIDNext       uint32
	HighestModSeq uint64
	Messages      uint32
	Unseen        uint32 // messages without \Seen
	Deleted       uint32 // messages with \Deleted
	Size          int64  // sum of message sizes (STATUS SIZE)
}

// MessageMeta is the per-message index data that is cheap to list.
type MessageMeta struct {
	UID          uint32
	Flags        []string // sorted; system flags and keywords
	InternalDate time.Time
	Size         int64 // exact octets of the stored file (CRLF line ends)
	ModSeq       uint64
}

// Address is one mailbox in an envelope (RFC 9051 7.5.2).
type Address struct {
	Name    string // decoded display name
	Mailbox string // local part
	Host    string // domain
}

// Envelope is the cached ENVELOPE structure (RFC 9051 7.5.2).
type Envelope struct {
	Date      time.Time
	Subject   string // decoded
	From      []Address
	Sender    []Address
	ReplyTo   []Address
	To        []Address
	Cc        []Address
	Bcc       []Address
	InReplyTo string // raw msg-id list
	MessageID string // without angle brackets
}

// BodyStructure is the cached MIME structure (RFC 9051 7.5.2 BODYSTRUCTURE).
// For multipart parts, Children is set and Type is "multipart".
type BodyStructure struct {
	Type              string            // lower case, e.g. "text"
	Subtype           string            // lower case, e.g. "plain"
	Params            map[string]string // Content-Type parameters, keys lower case
	ID                string
	Description       string
	Encoding          string // Content-Transfer-Encoding, lower case, default "7bit"
	Size              int64  // octets of the body part (after its header)
	Lines             int64  // for text/* and message/rfc822
	MD5               string
	Disposition       string
	DispositionParams map[string]string
	Language          []string
	Location          string
	Children          []*BodyStructure // multipart
	// For message/rfc822 parts:
	Envelope *Envelope
	Body     *BodyStructure
}

// Message is a message's metadata plus its cached envelope and structure.
type Message struct {
	MessageMeta
	Envelope  *Envelope
	Structure *BodyStructure
}

// FlagOp selects how StoreFlags changes flags (RFC 9051 6.4.6).
type FlagOp int

const (
	FlagsReplace FlagOp = iota // FLAGS
	FlagsAdd                   // +FLAGS
	FlagsRemove                // -FLAGS
)

// ChangeKind says what a Change describes.
type ChangeKind int

const (
	ChangeMessageAdded ChangeKind = iota + 1 // UID, Flags, ModSeq set
	ChangeFlags                              // UID, Flags, ModSeq set
	ChangeExpunge                            // UID, ModSeq set
	ChangeMailboxCreated
	ChangeMailboxDeleted
	ChangeMailboxRenamed // Mailbox is the new name, OldName the old one
	ChangeSubscription
)

// Change is one committed change to an account, published after commit in
// commit order to every Subscription of the account.
type Change struct {
	Kind    ChangeKind
	Mailbox string
	OldName string
	UID     uint32
	Flags   []string
	ModSeq  uint64 // the mailbox's HIGHESTMODSEQ after this change
}

// Target is one recipient mailbox of a Delivery.
type Target struct {
	Account string // canonical account name, e.g. "bob@example.com"
	Mailbox string // usually "INBOX" (or "Junk"); "" means INBOX
}

// TargetResult reports the outcome for one Target of a Delivery commit.
type TargetResult struct {
	Target
	UID uint32
	Err error // nil on success; ErrOverQuota, ErrNoMailbox, or an I/O error
}

// SearchCriteria is an IMAP SEARCH program over UIDs (RFC 9051 6.4.4). All
// set fields must match (AND). Sequence numbers are translated to UIDs by the
// caller. Zero values mean "no constraint".
type SearchCriteria struct {
	UIDs       []UIDRange // message UID must be in one of the ranges (nil = any)
	Since      time.Time  // internal date >= (date only, as IMAP)
	Before     time.Time  // internal date <
	SentSince  time.Time  // Date: header >=
	SentBefore time.Time  // Date: header <
	Header     []HeaderMatch
	Body       []string // substring, case-insensitive, in decoded body text
	Text       []string // substring in header or decoded body
	Flag       []string // must have all
	NotFlag    []string // must have none
	Larger     int64    // size > Larger
	Smaller    int64    // size < Smaller (0 = none)
	ModSeq     uint64   // MODSEQ >= ModSeq (0 = none)
	Not        []SearchCriteria
	Or         [][2]SearchCriteria
}

// UIDRange is an inclusive UID range; Stop 0 means "*" (the largest UID).
type UIDRange struct{ Start, Stop uint32 }

// HeaderMatch is a HEADER key: field name and substring (empty = has field).
type HeaderMatch struct{ Field, Value string }

package imapd

import (
	"strings"

	"github.com/emersion/go-imap/v2"

	"postel/storage"
)

// Create implements CREATE (RFC 9051 6.3.4) with CREATE-SPECIAL-USE
// (RFC 6154 3).
func (s *session) Create(name string, options *imap.CreateOptions) error {
	// RFC 9051 6.3.4: a trailing separator only declares the intent to
	// create children; the name is created without it.
	name = strings.TrimSuffix(name, string(delim))
	if err := checkName(name); err != nil {
		return err
	}
	if strings.EqualFold(name, "INBOX") {
		return imapError(s.log, "create", storage.ErrExists)
	}
	use := ""
	if options != nil {
		switch len(options.SpecialUse) {
		case 0:
		case 1:
			use = string(options.SpecialUse[0])
			if !knownSpecialUse(use) {
				return &imap.Error{Type: imap.StatusResponseTypeNo, Code: "USEATTR", Text: "Unsupported special-use attribute"}
			}
		default:
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: "USEATTR", Text: "Only one special-use attribute per mailbox"}
		}
	}
	return imapError(s.log, "create", s.acct.CreateMailbox(s.ctx, name, use))
}

func knownSpecialUse(use string) bool {
	switch use {
	case storage.SpecialAll, storage.SpecialArchive, storage.SpecialDrafts,
		storage.SpecialJunk, storage.SpecialSent, storage.SpecialTrash:
		return true
	}
	return false
}

// Delete implements DELETE (RFC 9051 6.3.5).
func (s *session) Delete(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := s.acct.DeleteMailbox(s.ctx, name); err != nil {
		return imapError(s.log, "delete", err)
	}
	// Our own view learns at once, not when the event comes round.
	if s.sel != nil {
		s.sel.push(storage.Change{Kind: storage.ChangeMailboxDeleted, Mailbox: name})
	}
	return nil
}

// Rename implements RENAME (RFC 9051 6.3.6); storage moves INBOX's
// messages when INBOX is renamed.
func (s *session) Rename(name, newName string, _ *imap.RenameOptions) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := checkName(newName); err != nil {
		return err
	}
	if strings.EqualFold(newName, "INBOX") {
		return imapError(s.log, "rename", storage.ErrExists)
	}
	if err := s.acct.RenameMailbox(s.ctx, name, newName); err != nil {
		return imapError(s.log, "rename", err)
	}
	if s.sel != nil {
		s.sel.push(storage.Change{Kind: storage.ChangeMailboxRenamed, Mailbox: newName, OldName: name})
	}
	return nil
}

// Subscribe implements SUBSCRIBE (RFC 9051 6.3.7).
func (s *session) Subscribe(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	return imapError(s.log, "subscribe", s.acct.SetSubscribed(s.ctx, name, true))
}

// Unsubscribe implements UNSUBSCRIBE (RFC 9051 6.3.8).
func (s *session) Unsubscribe(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	return imapError(s.log, "unsubscribe", s.acct.SetSubscribed(s.ctx, name, false))
}

// Status implements STATUS (RFC 9051 6.3.11) for every item we can serve.
func (s *session) Status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	info, err := s.acct.Status(s.ctx, name)
	if err != nil {
		return nil, imapError(s.log, "status", err)
	}
	return s.statusData(info, options), nil
}

func (s *session) statusData(info storage.MailboxInfo, o *imap.StatusOptions) *imap.StatusData {
	d := &imap.StatusData{Mailbox: info.Name}
	u32 := func(n uint32) *uint32 { return &n }
	if o.NumMessages {
		d.NumMessages = u32(info.Messages)
	}
	if o.NumRecent {
		d.NumRecent = u32(0) // \Recent is not kept (removed in RFC 9051)
	}
	if o.UIDNext {
		d.UIDNext = imap.UID(info.UIDNext)
	}
	if o.UIDValidity {
		d.UIDValidity = info.UIDValidity
	}
	if o.NumUnseen {
		d.NumUnseen = u32(info.Unseen)
	}
	if o.NumDeleted {
		d.NumDeleted = u32(info.Deleted)
	}
	if o.Size {
		size := info.Size
		d.Size = &size
	}
	if o.AppendLimit {
		d.AppendLimit = u32(s.AppendLimit())
	}
	return d
}

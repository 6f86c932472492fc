package imapd

import (
	"slices"

	"github.com/emersion/go-imap/v2"

	"postel/storage"
)

// systemFlags are always listed in FLAGS and PERMANENTFLAGS.
var systemFlags = []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft}

// Select implements SELECT and EXAMINE (RFC 9051 6.3.2, 6.3.3).
//
// The view joins the hub before the storage snapshot is taken, and changes
// the snapshot already contains (ModSeq <= its HIGHESTMODSEQ) are skipped
// when the queue is applied, so the client misses nothing and sees nothing
// twice.
func (s *session) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	s.unselect()
	v := newView(name, options.ReadOnly)
	s.hub.add(v)
	info, metas, err := s.acct.List(s.ctx, name)
	if err != nil {
		s.hub.remove(v)
		return nil, imapError(s.log, "select", err)
	}
	v.uidValidity = info.UIDValidity
	v.snapModSeq = info.HighestModSeq
	v.uids = make([]uint32, len(metas))
	var firstUnseen uint32
	keywords := map[string]struct{}{}
	for i, m := range metas {
		v.uids[i] = m.UID
		seen := false
		for _, f := range m.Flags {
			if f == storage.FlagSeen {
				seen = true
			} else if f != "" && f[0] != '\\' {
				keywords[f] = struct{}{}
			}
		}
		if !seen && firstUnseen == 0 {
			firstUnseen = uint32(i) + 1
		}
	}
	s.sel = v

	flags := slices.Clone(systemFlags)
	for k := range keywords {
		flags = append(flags, imap.Flag(k))
	}
	slices.Sort(flags[len(systemFlags):])
	perm := append(slices.Clone(flags), imap.FlagWildcard)
	if options.ReadOnly {
		perm = nil
	}
	data := &imap.SelectData{
		Flags:             flags,
		PermanentFlags:    perm,
		NumMessages:       uint32(len(v.uids)),
		FirstUnseenSeqNum: firstUnseen,
		UIDNext:           imap.UID(info.UIDNext),
		UIDValidity:       info.UIDValidity,
	}
	if s.conn.EnabledCaps().Has(imap.CapIMAP4rev2) {
		// RFC 9051 6.3.2: a LIST response with the mailbox name.
		data.List = &imap.ListData{Mailbox: info.Name, Delim: delim, Attrs: specialAttrs(info.SpecialUse)}
	}
	return data, nil
}

// Unselect implements UNSELECT and the second half of CLOSE.
func (s *session) Unselect() error {
	s.unselect()
	return nil
}

func (s *session) unselect() {
	if s.sel == nil {
		return
	}
	s.hub.remove(s.sel)
	s.sel = nil
}

// selected returns the view and its current name, or an error if the
// mailbox was deleted under the session.
func (s *session) selected() (*view, string, error) {
	v := s.sel
	v.mu.Lock()
	name, gone := v.name, v.gone
	v.mu.Unlock()
	if gone {
		return nil, "", &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: "Mailbox has been deleted"}
	}
	return v, name, nil
}

func specialAttrs(use string) []imap.MailboxAttr {
	if use == "" {
		return nil
	}
	return []imap.MailboxAttr{imap.MailboxAttr(use)}
}

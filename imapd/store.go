package imapd

import (
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"postel/storage"
)

// Store implements STORE and UID STORE (RFC 9051 6.4.6): FLAGS, +FLAGS,
// -FLAGS and their .SILENT forms. Our own change is not echoed again when
// its storage event comes back through the hub.
func (s *session) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, _ *imap.StoreOptions) error {
	v, mbox, err := s.selected()
	if err != nil {
		return err
	}
	if v.readOnly {
		return errReadOnly
	}
	refs, err := v.resolve(numSet)
	if err != nil || len(refs) == 0 {
		return err
	}
	var op storage.FlagOp
	switch flags.Op {
	case imap.StoreFlagsSet:
		op = storage.FlagsReplace
	case imap.StoreFlagsAdd:
		op = storage.FlagsAdd
	case imap.StoreFlagsDel:
		op = storage.FlagsRemove
	}
	metas, err := s.acct.StoreFlags(s.ctx, mbox, refUIDs(refs), op, fromIMAPFlags(flags.Flags))
	if err != nil {
		return imapError(s.log, "store", err)
	}
	for _, m := range metas {
		v.own[m.UID] = m.ModSeq
	}
	if flags.Silent {
		return nil
	}
	// The untagged FETCH carries the resulting flags of every addressed
	// message, changed or not.
	return s.Fetch(w, numSet, &imap.FetchOptions{Flags: true, UID: isUIDSet(numSet)})
}

func isUIDSet(set imap.NumSet) bool {
	_, ok := set.(imap.UIDSet)
	return ok
}

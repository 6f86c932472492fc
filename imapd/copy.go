package imapd

import (
	"errors"
	"slices"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"postel/storage"
)

// errTryCreate is RFC 9051 6.4.7: the target of COPY/MOVE/APPEND is missing.
var errTryCreate = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "No such mailbox"}

// Copy implements COPY and UID COPY with COPYUID (RFC 4315).
func (s *session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	v, mbox, err := s.selected()
	if err != nil {
		return nil, err
	}
	if err := checkName(dest); err != nil {
		return nil, err
	}
	refs, err := v.resolve(numSet)
	if err != nil {
		return nil, err
	}
	if len(refs) == 0 {
		return nil, nil
	}
	uv, src, dst, err := s.acct.Copy(s.ctx, mbox, refUIDs(refs), dest)
	if err != nil {
		return nil, s.targetError("copy", err)
	}
	if len(dst) > 0 {
		s.awaitOwn(dest, slices.Max(dst))
	}
	return copyData(uv, src, dst), nil
}

// Move implements MOVE and UID MOVE (RFC 6851): COPYUID first, then the
// EXPUNGEs of the moved messages.
func (s *session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	v, mbox, err := s.selected()
	if err != nil {
		return err
	}
	if v.readOnly {
		return errReadOnly
	}
	if err := checkName(dest); err != nil {
		return err
	}
	if dest == mbox {
		return errSameMbox
	}
	refs, err := v.resolve(numSet)
	if err != nil || len(refs) == 0 {
		return err
	}
	uv, src, dst, err := s.acct.Move(s.ctx, mbox, refUIDs(refs), dest)
	if err != nil {
		return s.targetError("move", err)
	}
	if err := w.WriteCopyData(copyData(uv, src, dst)); err != nil {
		return err
	}
	return v.removeUIDs(src, w.WriteExpunge)
}

// Expunge implements EXPUNGE, UID EXPUNGE (RFC 4315) and CLOSE's silent
// expunge. In a read-only (EXAMINE) mailbox it does nothing, so CLOSE stays
// harmless there (RFC 9051 6.4.1).
func (s *session) Expunge(w *imapserver.ExpungeWriter, uidSet *imap.UIDSet) error {
	v, mbox, err := s.selected()
	if err != nil {
		return err
	}
	if v.readOnly {
		return nil
	}
	var uids []uint32
	if uidSet != nil {
		refs, err := v.resolve(*uidSet)
		if err != nil {
			return err
		}
		if len(refs) == 0 {
			return nil
		}
		uids = refUIDs(refs)
	}
	gone, err := s.acct.Expunge(s.ctx, mbox, uids)
	if err != nil {
		return imapError(s.log, "expunge", err)
	}
	return v.removeUIDs(gone, w.WriteExpunge)
}

// targetError maps a failure naming a destination mailbox.
func (s *session) targetError(op string, err error) error {
	if errors.Is(err, storage.ErrNoMailbox) {
		return errTryCreate
	}
	return imapError(s.log, op, err)
}

func copyData(uv uint32, src, dst []uint32) *imap.CopyData {
	d := &imap.CopyData{UIDValidity: uv}
	for _, u := range src {
		d.SourceUIDs.AddNum(imap.UID(u))
	}
	for _, u := range dst {
		d.DestUIDs.AddNum(imap.UID(u))
	}
	return d
}

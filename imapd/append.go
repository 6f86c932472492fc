package imapd

import (
	"time"

	"github.com/emersion/go-imap/v2"
)

// Append implements APPEND (RFC 9051 6.3.12) with APPENDUID (RFC 4315).
// The library has already refused literals over APPENDLIMIT; storage
// answers only once the message is fsynced and indexed, so OK means
// durable (DESIGN invariant 2).
func (s *session) Append(mailbox string, r imap.LiteralReader, o *imap.AppendOptions) (*imap.AppendData, error) {
	if err := checkName(mailbox); err != nil {
		return nil, err
	}
	if r.Size() > s.srv.opts.MaxMessageBytes {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTooBig, Text: "Message too big"}
	}
	date := o.Time
	if date.IsZero() {
		date = time.Now()
	}
	uv, uid, err := s.acct.Append(s.ctx, mailbox, r, fromIMAPFlags(o.Flags), date)
	if err != nil {
		return nil, s.targetError("append", err)
	}
	s.awaitOwn(mailbox, uid)
	return &imap.AppendData{UIDValidity: uv, UID: imap.UID(uid)}, nil
}

// ownEventWait bounds how long a command waits for its own change to come
// back from storage's publisher.
const ownEventWait = 2 * time.Second

// awaitOwn lets the poll that follows APPEND or COPY into the selected
// mailbox include the new message.
func (s *session) awaitOwn(mailbox string, uid uint32) {
	if s.sel == nil || uid == 0 {
		return
	}
	if _, name, err := s.selected(); err != nil || name != mailbox {
		return
	}
	s.sel.awaitAdded(uid, ownEventWait)
}

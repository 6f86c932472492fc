package imapd

import (
	"context"
	"errors"
	"log/slog"

	"github.com/emersion/go-imap/v2"

	"postel/auth"
	"postel/storage"
)

// imapError maps an error from storage or auth to the status response the
// client sees. It is the only place internal errors are turned into wire
// text: unknown errors become NO [SERVERBUG] and their detail goes to log
// only (STYLE: internal error text never reaches a client).
func imapError(log *slog.Logger, op string, err error) error {
	if err == nil {
		return nil
	}
	var ie *imap.Error
	if errors.As(err, &ie) {
		return ie
	}
	no := func(code imap.ResponseCode, text string) error {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: code, Text: text}
	}
	switch {
	case errors.Is(err, storage.ErrNoMailbox):
		return no(imap.ResponseCodeNonExistent, "No such mailbox")
	case errors.Is(err, storage.ErrExists):
		return no(imap.ResponseCodeAlreadyExists, "Mailbox already exists")
	case errors.Is(err, storage.ErrOverQuota):
		return no(imap.ResponseCodeOverQuota, "Over quota")
	case errors.Is(err, storage.ErrBadName):
		return no(imap.ResponseCodeCannot, "Invalid mailbox name")
	case errors.Is(err, storage.ErrTooBig):
		return no(imap.ResponseCodeTooBig, "Message too big")
	case errors.Is(err, storage.ErrProtected):
		return no(imap.ResponseCodeCannot, "Operation not allowed on this mailbox")
	case errors.Is(err, storage.ErrHasChildren):
		return no(imap.ResponseCodeHasChildren, "Mailbox has children")
	case errors.Is(err, storage.ErrInUse):
		return no(imap.ResponseCodeInUse, "Mailbox in use")
	case errors.Is(err, storage.ErrNoMessage):
		return no(imap.ResponseCodeNonExistent, "No such message")
	case errors.Is(err, auth.ErrBadCredentials):
		return no(imap.ResponseCodeAuthenticationFailed, "Authentication failed")
	case errors.Is(err, auth.ErrThrottled):
		return no(imap.ResponseCodeUnavailable, "Too many failed logins, try again later")
	case errors.Is(err, storage.ErrClosed), errors.Is(err, context.Canceled):
		return no(imap.ResponseCodeUnavailable, "Server shutting down")
	}
	log.Error("imap command failed", "op", op, "err", err)
	return no(imap.ResponseCodeServerBug, "Internal server error")
}

// Errors the session itself produces.
var (
	errReadOnly = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Mailbox is read-only"}
	errSameMbox = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Source and destination mailboxes are identical"}
)

func badName(text string) error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: text}
}

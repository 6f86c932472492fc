package pop3d

import (
	"context"
	"errors"
	"log/slog"

	"postel/auth"
	"postel/storage"
)

// errUpdate marks a failure of the UPDATE state's deletions (RFC 1939 6).
var errUpdate = errors.New("pop3d: update failed")

// pop3Error is the one place an error becomes an -ERR line. Response codes
// follow RFC 2449 8.1.1 ([IN-USE]) and RFC 3206 ([AUTH], [SYS/TEMP]).
// Errors it does not know are logged and answered with a generic
// temporary failure: internal error text never reaches the client.
func pop3Error(log *slog.Logger, op string, err error) string {
	switch {
	case errors.Is(err, storage.ErrInUse):
		return "-ERR [IN-USE] maildrop already locked by another session"
	case errors.Is(err, auth.ErrBadCredentials), errors.Is(err, auth.ErrNotFound):
		return "-ERR [AUTH] invalid user name or password"
	case errors.Is(err, auth.ErrThrottled):
		return "-ERR [AUTH] too many failed logins, try again later"
	case errors.Is(err, storage.ErrNoMessage):
		return "-ERR no such message"
	case errors.Is(err, storage.ErrClosed), errors.Is(err, context.Canceled):
		return "-ERR [SYS/TEMP] server shutting down"
	case errors.Is(err, errUpdate):
		// RFC 2449 8.1.1's example wording.
		log.Error("command failed", "op", op, "err", err)
		return "-ERR [SYS/TEMP] some deleted messages not removed"
	}
	log.Error("command failed", "op", op, "err", err)
	return "-ERR [SYS/TEMP] internal server error, try again later"
}

package pop3d

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"postel/auth"
	"postel/storage"
)

func TestPop3Error(t *testing.T) {
	t.Parallel()
	secret := errors.New("/var/mail/secret/path: disk on fire")
	tests := []struct {
		err    error
		want   string
		logged bool
	}{
		{fmt.Errorf("lock: %w", storage.ErrInUse), "-ERR [IN-USE] maildrop already locked by another session", false},
		{fmt.Errorf("x: %w", auth.ErrBadCredentials), "-ERR [AUTH] invalid user name or password", false},
		{fmt.Errorf("x: %w", auth.ErrThrottled), "-ERR [AUTH] too many failed logins, try again later", false},
		{fmt.Errorf("open: %w: %w", storage.ErrNoMessage, secret), "-ERR no such message", false},
		{fmt.Errorf("x: %w", context.Canceled), "-ERR [SYS/TEMP] server shutting down", false},
		{fmt.Errorf("%w: %w", errUpdate, secret), "-ERR [SYS/TEMP] some deleted messages not removed", true},
		{secret, "-ERR [SYS/TEMP] internal server error, try again later", true},
	}
	for _, tt := range tests {
		var logs bytes.Buffer
		got := pop3Error(slog.New(slog.NewTextHandler(&logs, nil)), "op", tt.err)
		if got != tt.want {
			t.Errorf("pop3Error(%v) = %q, want %q", tt.err, got, tt.want)
		}
		if strings.Contains(got, "secret") {
			t.Errorf("internal detail reached the wire: %q", got)
		}
		if tt.logged != strings.Contains(logs.String(), "disk on fire") {
			t.Errorf("pop3Error(%v) logged %q", tt.err, logs.String())
		}
	}
}

package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"postel/internal/testenv"
)

// Passwords never reach the log, at any level, through any path: good and
// bad logins, lockout, SASL, password changes, hash upgrades. Loopback is
// throttled like any other source.
func TestNoPasswordsInLog(t *testing.T) {
	t.Parallel()
	var buf testenv.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	db := newTestDB(t, withThrottle(smallThrottle), func(o *Options) { o.Logger = logger })
	ctx := context.Background()
	lo := netip.MustParseAddr("127.0.0.1")
	must(t, db.AddDomain(ctx, "example.com"))
	must(t, db.AddUser(ctx, "bob@example.com", "Secret-One"))
	must(t, db.SetPassword(ctx, "bob@example.com", "Secret-Two"))
	for i := 0; i < smallThrottle.Lockout; i++ {
		if _, err := db.Authenticate(ctx, "bob@example.com", "Guess-Three", lo); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("failure %d from loopback: %v", i+1, err)
		}
	}
	if _, err := db.Authenticate(ctx, "bob@example.com", "Secret-Two", lo); !errors.Is(err, ErrThrottled) {
		t.Errorf("loopback after lockout: %v, want ErrThrottled", err)
	}
	srv, _ := db.SASLServer(ctx, "PLAIN", ip1, nil)
	srv.Next([]byte("\x00bob@example.com\x00Guess-Four"))
	if !strings.Contains(buf.String(), "login lockout") {
		t.Errorf("lockout not logged:\n%s", buf.String())
	}
	for _, secret := range []string{"Secret-One", "Secret-Two", "Guess-Three", "Guess-Four"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("log contains %q:\n%s", secret, buf.String())
		}
	}
}

package smtpd

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"postel/auth"
	"postel/delivery"
	"postel/internal/testenv"
	"postel/storage"
)

// Compile-time checks that the real types fit the consumer interfaces.
var (
	_ LocalDelivery = (*delivery.Agent)(nil)
	_ Authenticator = (*auth.DB)(nil)
)

// realEnv is a server over the real store and account database in
// t.TempDir() (testenv.BenchDir for a benchmark).
type realEnv struct {
	srv   *Server
	addr  string
	store *storage.Store
	db    *auth.DB
	queue *fakeQueue
	tls   *tls.Config
	logs  *testenv.SyncBuffer
}

// newRealEnv: domain example.com, users bob (bobpw), carol (carolpw),
// alias team -> bob, carol.
func newRealEnv(t testing.TB, mode Mode, mutate func(*Options)) *realEnv {
	t.Helper()
	dir := t.TempDir()
	if b, ok := t.(*testing.B); ok {
		dir = testenv.BenchDir(b)
	}
	e := &realEnv{queue: &fakeQueue{}, logs: &testenv.SyncBuffer{}}
	logger := slog.New(slog.NewTextHandler(e.logs, nil))
	db, err := auth.Open(auth.Options{
		Path:   filepath.Join(dir, "accounts.db"),
		Logger: logger,
		Hash:   auth.HashParams{Memory: 64, Time: 1, Threads: 1},
		// Fast throttling so tests can reach the lockout quickly.
		Throttle: auth.ThrottleOptions{Free: 2, BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond, Lockout: 5, Window: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.AddDomain(ctx, "example.com"))
	must(db.AddUser(ctx, "bob@example.com", "bobpw"))
	must(db.AddUser(ctx, "carol@example.com", "carolpw"))
	must(db.AddAlias(ctx, "team@example.com", []string{"bob@example.com", "carol@example.com"}))
	st, err := storage.Open(storage.Options{Dir: filepath.Join(dir, "mail"), Logger: logger, Quota: db.Quota})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	agent, err := delivery.New(delivery.Options{Store: delivery.Storage(st), Auth: db, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	srvTLS, cliTLS := testTLS(t)
	opts := Options{
		Mode:      mode,
		Hostname:  "mx.example.com",
		TLSConfig: srvTLS,
		Logger:    logger,
		Delivery:  agent,
		SpoolDir:  dir,
	}
	if mode == Submission {
		opts.Auth = db
		opts.Queue = e.queue
	}
	if mutate != nil {
		mutate(&opts)
	}
	e.srv, e.addr = startServer(t, opts)
	e.store, e.db, e.tls = st, db, cliTLS
	return e
}

// messages reads every message of a mailbox back from the store.
func (e *realEnv) messages(t testing.TB, account, mailbox string) []string {
	t.Helper()
	ctx := context.Background()
	acct, err := e.store.Account(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	_, metas, err := acct.List(ctx, mailbox)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range metas {
		rc, _, err := acct.Open(ctx, mailbox, m.UID)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

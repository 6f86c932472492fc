package pop3d

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postel/auth"
	"postel/internal/testenv"
	"postel/storage"
)

// The real objects satisfy the consumer-defined interfaces.
var (
	_ Maildrop      = (*storage.Account)(nil)
	_ Authenticator = (*auth.DB)(nil)
)

// realEnv is a Server over the real store and account database in
// t.TempDir(), with a self-signed certificate, serving plain+STLS on
// plainAddr and implicit TLS on tlsAddr.
type realEnv struct {
	srv       *Server
	store     *storage.Store
	db        *auth.DB
	plainAddr string
	tlsAddr   string
	certPath  string
	logs      *testenv.SyncBuffer
	tlsConfig *tls.Config
}

const (
	realUser = "bob@example.com"
	realPass = "correct horse"
)

func newRealEnv(t testing.TB, configure func(*Options)) *realEnv {
	t.Helper()
	return newRealEnvAuth(t, nil, configure)
}

// newRealEnvAuth is newRealEnv with a hook on the account database options.
func newRealEnvAuth(t testing.TB, configureAuth func(*auth.Options), configure func(*Options)) *realEnv {
	t.Helper()
	dir := t.TempDir()
	logs := &testenv.SyncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	st, err := storage.Open(storage.Options{Dir: filepath.Join(dir, "mail"), Logger: logger, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	authOpts := auth.Options{
		Path:   filepath.Join(dir, "accounts.db"),
		Logger: logger,
		// Cheap hashes: the tests are about POP3, not argon2id.
		Hash: auth.HashParams{Memory: 64, Time: 1, Threads: 1},
	}
	if configureAuth != nil {
		configureAuth(&authOpts)
	}
	db, err := auth.Open(authOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	if err := db.AddDomain(ctx, "example.com"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{realUser, "carol@example.com"} {
		if err := db.AddUser(ctx, u, realPass); err != nil {
			t.Fatal(err)
		}
	}
	cfg, certPath := testCert(t)
	opts := Options{
		Store:     FromStorage(st),
		Auth:      db,
		TLSConfig: cfg,
		Logger:    logger,
		Hostname:  "pop.example.test",
		Trace:     true,
	}
	if configure != nil {
		configure(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return &realEnv{
		srv: srv, store: st, db: db, logs: logs, certPath: certPath, tlsConfig: cfg,
		plainAddr: serveOn(t, srv.Serve),
		tlsAddr:   serveOn(t, srv.ServeTLS),
	}
}

// deliver commits body to account's INBOX the way SMTP delivery does.
func (e *realEnv) deliver(t testing.TB, account, body string) uint32 {
	t.Helper()
	ctx := context.Background()
	d, err := e.store.BeginDelivery(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Abort()
	if _, err := io.WriteString(d, body); err != nil {
		t.Fatal(err)
	}
	res, err := d.Commit(ctx, []storage.Target{{Account: account, Mailbox: "INBOX"}}, time.Now())
	if err != nil || len(res) != 1 || res[0].Err != nil {
		t.Fatalf("deliver: %v %+v", err, res)
	}
	return res[0].UID
}

func (e *realEnv) account(t testing.TB, name string) *storage.Account {
	t.Helper()
	a, err := e.store.Account(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// stored returns every INBOX message of account as stored, in UID order.
func (e *realEnv) stored(t testing.TB, name string) []string {
	t.Helper()
	ctx := context.Background()
	a := e.account(t, name)
	_, metas, err := a.List(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range metas {
		f, _, err := a.Open(ctx, "INBOX", m.UID)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// testMessages are bodies with the cases clients get wrong: a leading dot,
// a lone dot line, a long line, a body without final text, 8-bit data.
func testMessages() []string {
	return []string{
		"From: alice@example.com\r\nTo: bob@example.com\r\nSubject: plain\r\n\r\nHello Bob.\r\n",
		"From: alice@example.com\r\nSubject: dots\r\n\r\n.leading dot\r\n.\r\n..double\r\nend\r\n",
		"From: alice@example.com\r\nSubject: long\r\n\r\n" + strings.Repeat("0123456789", 200) + "\r\n" + strings.Repeat("line\r\n", 2000),
		"From: alice@example.com\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncafé ☕\r\n",
	}
}

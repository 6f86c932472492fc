package imapd

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"postel/auth"
	"postel/internal/testenv"
	"postel/storage"
)

// Compile-time checks that the real objects satisfy our interfaces.
var (
	_ Mailstore     = (*storage.Store)(nil)
	_ Authenticator = (*auth.DB)(nil)
)

const (
	testUser = "alice@example.com"
	testPass = "correct horse battery"
)

// env is one server started the way `postel serve` starts it: real storage
// and auth in a temp dir, Serve and ServeTLS on 127.0.0.1:0.
type env struct {
	srv     *Server
	store   *storage.Store
	db      *auth.DB
	addr    string // plain + STARTTLS
	tlsAddr string // implicit TLS
	certPEM string // path of the self-signed certificate
	tlsConf *tls.Config
	dataDir string
	logs    *testenv.SyncBuffer
}

type envOption func(*Options)

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	dir := t.TempDir()
	db, err := auth.Open(auth.Options{Path: filepath.Join(dir, "accounts.db"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	if err := db.AddDomain(ctx, "example.com"); err != nil {
		t.Fatal(err)
	}
	if err := db.AddUser(ctx, testUser, testPass); err != nil {
		t.Fatal(err)
	}
	store, err := storage.Open(storage.Options{Dir: filepath.Join(dir, "mail"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })

	certFile, tlsConf := selfSigned(t, dir)
	logs := &testenv.SyncBuffer{}
	o := Options{
		Store:     store,
		Auth:      db,
		TLSConfig: tlsConf,
		Logger:    slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, f := range opts {
		f(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{srv: srv, store: store, db: db, certPEM: certFile, tlsConf: tlsConf, dataDir: dir, logs: logs}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr, e.tlsAddr = ln.Addr().String(), tln.Addr().String()
	go srv.Serve(ln)
	go srv.ServeTLS(tln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return e
}

// selfSigned writes a certificate for localhost/127.0.0.1 and returns its
// path and a server config.
func selfSigned(t testing.TB, dir string) (string, *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// clientTLS trusts the test certificate.
func (e *env) clientTLS() *tls.Config {
	pool := x509.NewCertPool()
	cert, err := x509.ParseCertificate(e.tlsConf.Certificates[0].Certificate[0])
	if err != nil {
		panic(err)
	}
	pool.AddCert(cert)
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}
}

// updates collects unilateral data seen by one client.
type updates struct {
	mu      sync.Mutex
	exists  []uint32
	expunge []uint32
	flags   map[uint32][]imap.Flag // seq -> flags of the last FETCH
	ch      chan struct{}
}

func newUpdates() *updates {
	return &updates{flags: map[uint32][]imap.Flag{}, ch: make(chan struct{}, 100)}
}

func (u *updates) handler() *imapclient.UnilateralDataHandler {
	poke := func() {
		select {
		case u.ch <- struct{}{}:
		default:
		}
	}
	return &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				u.mu.Lock()
				u.exists = append(u.exists, *d.NumMessages)
				u.mu.Unlock()
				poke()
			}
		},
		Expunge: func(seq uint32) {
			u.mu.Lock()
			u.expunge = append(u.expunge, seq)
			u.mu.Unlock()
			poke()
		},
		Fetch: func(m *imapclient.FetchMessageData) {
			buf, err := m.Collect()
			if err != nil {
				return
			}
			u.mu.Lock()
			u.flags[buf.SeqNum] = buf.Flags
			u.mu.Unlock()
			poke()
		},
	}
}

// waitFor polls cond (under u.mu) until it holds or the deadline passes.
func (u *updates) waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		u.mu.Lock()
		ok := cond()
		u.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-u.ch:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}

// dial connects in plain text (allowed to log in: loopback).
func (e *env) dial(t testing.TB, u *updates) *imapclient.Client {
	t.Helper()
	o := &imapclient.Options{}
	if u != nil {
		o.UnilateralDataHandler = u.handler()
	}
	c, err := imapclient.DialInsecure(e.addr, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// login dials and logs in as testUser.
func (e *env) login(t testing.TB, u *updates) *imapclient.Client {
	t.Helper()
	c := e.dial(t, u)
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		t.Fatalf("LOGIN: %v", err)
	}
	return c
}

func (e *env) account(t testing.TB) *storage.Account {
	t.Helper()
	a, err := e.store.Account(context.Background(), testUser)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// deliver stores a message the way SMTP does (storage's two-phase
// Delivery) and returns its UID.
func (e *env) deliver(t testing.TB, mailbox, msg string) uint32 {
	t.Helper()
	d, err := e.store.BeginDelivery(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Abort()
	if _, err := io.WriteString(d, msg); err != nil {
		t.Fatal(err)
	}
	res, err := d.Commit(context.Background(), []storage.Target{{Account: testUser, Mailbox: mailbox}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	return res[0].UID
}

// testMessage builds a small RFC 5322 message with CRLF line ends.
func testMessage(subject, body string) string {
	return strings.ReplaceAll("From: Bob <bob@example.org>\n"+
		"To: Alice <alice@example.com>\n"+
		"Subject: "+subject+"\n"+
		"Date: Wed, 25 Nov 2026 10:00:00 +0000\n"+
		"Message-ID: <"+strings.ReplaceAll(subject, " ", ".")+"@example.org>\n"+
		"\n"+body+"\n", "\n", "\r\n")
}

// fakeAuth accepts any password; for benchmarks that must not pay argon2id.
type fakeAuth struct{}

func (fakeAuth) Authenticate(_ context.Context, username, _ string, _ netip.Addr) (string, error) {
	return username, nil
}

func (fakeAuth) SASLServer(context.Context, string, netip.Addr, func(string) error) (sasl.Server, error) {
	return nil, auth.ErrInvalid
}

package pop3d

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"

	"postel/internal/testenv"
)

// FuzzSession feeds arbitrary client bytes to a whole session (reader,
// parser, state machine, every handler) over an in-memory pipe. It checks
// that no input panics, that every reply line is CRLF-terminated status or
// data, that the maildrop lock is always released, and that nothing is
// deleted unless the client sent QUIT after a DELE.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"USER bob\r\nPASS secret\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 2\r\nTOP 1 1\r\nDELE 1\r\nRSET\r\nDELE 2\r\nQUIT\r\n",
		"AUTH PLAIN\r\nAGJvYgBzZWNyZXQ=\r\nLIST 1\r\nDELE 1\r\nQUIT\r\n",
		"AUTH PLAIN =\r\n*\r\nCAPA\r\nSTLS\r\nAUTH\r\n",
		"USER bob\nPASS secret\nDELE 1\n",
		"user bob\r\npass secret\r\nretr 99999999999\r\ntop 1 -1\r\nnoop\r\n",
		strings.Repeat("A", 300) + "\r\nUSER bob\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		store := newFakeStore()
		d := store.drop("bob")
		d.add(msgOne)
		d.add(msgDots)
		var logs testenv.SyncBuffer
		srv, err := New(Options{
			Store:        store,
			Auth:         &fakeAuth{users: map[string]string{"bob": "secret"}},
			Logger:       slog.New(slog.NewTextHandler(&logs, nil)),
			Hostname:     "fuzz",
			InsecureAuth: func(netip.Addr) bool { return true },
		})
		if err != nil {
			t.Fatal(err)
		}
		server, client := net.Pipe()
		sess := &session{srv: srv, conn: server, id: "fuzz", log: srv.log}
		srv.sessions[sess] = struct{}{}
		srv.perIP[sess.remote]++
		done := make(chan struct{})
		go func() {
			srv.handle(sess, false)
			close(done)
		}()
		var out bytes.Buffer
		read := make(chan struct{})
		go func() {
			io.Copy(&out, client)
			close(read)
		}()
		client.Write(in)
		client.Close()
		<-done
		<-read

		if strings.Contains(logs.String(), "panic") {
			t.Fatalf("session panicked: %s", logs.String())
		}
		if d.isLocked() {
			t.Fatal("maildrop lock still held")
		}
		if !bytes.HasSuffix(out.Bytes(), []byte("\r\n")) {
			t.Fatalf("output does not end in CRLF: %q", out.Bytes())
		}
		upper := bytes.ToUpper(in)
		if len(d.deletes) > 0 && (!bytes.Contains(upper, []byte("QUIT")) || !bytes.Contains(upper, []byte("DELE"))) {
			t.Fatalf("deleted %v without DELE and QUIT", d.deletes)
		}
	})
}

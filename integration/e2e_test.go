package integration

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// submit sends a message over the implicit-TLS submission listener as user.
func submit(t *testing.T, addr, user, pass, from string, to []string, body string) error {
	t.Helper()
	c, err := smtp.DialTLS(addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("laptop.example.com"); err != nil {
		return err
	}
	if err := c.Auth(sasl.NewPlainClient("", user, pass)); err != nil {
		return err
	}
	if err := c.SendMail(from, to, strings.NewReader(body)); err != nil {
		return err
	}
	return c.Quit()
}

// pop3 is a minimal POP3 client for the end-to-end test.
type pop3 struct {
	c net.Conn
	r *bufio.Reader
}

func dialPOP3(t *testing.T, addr string) *pop3 {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	p := &pop3{c: c, r: bufio.NewReader(c)}
	if l := p.line(t); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("POP3 greeting %q", l)
	}
	return p
}

func (p *pop3) line(t *testing.T) string {
	t.Helper()
	l, err := p.r.ReadString('\n')
	if err != nil {
		t.Fatalf("POP3 read: %v", err)
	}
	return strings.TrimRight(l, "\r\n")
}

// cmd sends a command and returns the status line.
func (p *pop3) cmd(t *testing.T, format string, args ...any) string {
	t.Helper()
	fmt.Fprintf(p.c, format+"\r\n", args...)
	return p.line(t)
}

// multi reads a dot-terminated multi-line body, undoing dot-stuffing.
func (p *pop3) multi(t *testing.T) []string {
	t.Helper()
	var out []string
	for {
		l := p.line(t)
		if l == "." {
			return out
		}
		out = append(out, strings.TrimPrefix(l, "."))
	}
}

// TestMailFlowsEndToEnd: a user submits to a colleague; the colleague's
// IDLE session is told at once, another IMAP session reads it, POP3
// downloads and deletes it, and both IMAP sessions see it gone.
func TestMailFlowsEndToEnd(t *testing.T) {
	t.Parallel()
	in := newInstance(t, "")
	in.mustPostel("", "domain", "add", "example.com")
	in.mustPostel("alice-pw-1\n", "user", "add", "alice@example.com", "--password-stdin")
	in.mustPostel("bob-pw-12\n", "user", "add", "bob@example.com", "--password-stdin")
	in.start()

	// A second device sits in IDLE on bob's INBOX the whole time.
	exists, expunged := make(chan uint32, 10), make(chan uint32, 10)
	watcher, err := imapclient.DialTLS(in.addr("imaps"), &imapclient.Options{
		TLSConfig: &tls.Config{InsecureSkipVerify: true},
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					exists <- *d.NumMessages
				}
			},
			Expunge: func(seq uint32) { expunged <- seq },
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	if err := watcher.Login("bob@example.com", "bob-pw-12").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := watcher.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := watcher.Idle()
	if err != nil {
		t.Fatal(err)
	}

	msg := "From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: lunch?\r\n\r\nAt noon.\r\n.hidden dot line\r\n"
	if err := submit(t, in.addr("submissions"), "alice@example.com", "alice-pw-1", "alice@example.com", []string{"bob@example.com"}, msg); err != nil {
		t.Fatalf("submission: %v", err)
	}
	// Submission refuses a forged sender.
	if err := submit(t, in.addr("submissions"), "alice@example.com", "alice-pw-1", "bob@example.com", []string{"bob@example.com"}, msg); err == nil {
		t.Error("alice could send as bob")
	}

	select {
	case n := <-exists:
		if n != 1 {
			t.Errorf("IDLE session got EXISTS %d, want 1", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("IDLE session was not told of the new message")
	}

	ic, err := imapclient.DialTLS(in.addr("imaps"), &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	if err := ic.Login("bob@example.com", "bob-pw-12").Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := ic.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages != 1 {
		t.Fatalf("INBOX has %d messages, want 1", sel.NumMessages)
	}
	msgs, err := ic.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Envelope: true, BodySection: []*imap.FetchItemBodySection{{}}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Envelope.Subject != "lunch?" {
		t.Fatalf("fetched %+v", msgs)
	}
	var raw []byte
	for _, b := range msgs[0].BodySection {
		raw = b.Bytes
	}
	for _, h := range []string{"Return-Path: <alice@example.com>", "Received: ", "Message-ID: ", "Date: "} {
		if !strings.Contains(string(raw), h) {
			t.Errorf("delivered message lacks %q:\n%s", h, raw)
		}
	}

	p := dialPOP3(t, in.addr("pop3s"))
	if l := p.cmd(t, "USER bob@example.com"); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("USER: %s", l)
	}
	if l := p.cmd(t, "PASS bob-pw-12"); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("PASS: %s", l)
	}
	if l := p.cmd(t, "STAT"); !strings.HasPrefix(l, "+OK 1 ") {
		t.Fatalf("STAT: %s", l)
	}
	if l := p.cmd(t, "RETR 1"); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("RETR: %s", l)
	}
	body := strings.Join(p.multi(t), "\r\n") + "\r\n"
	if body != string(raw) {
		t.Errorf("POP3 and IMAP disagree on the message:\nPOP3: %q\nIMAP: %q", body, raw)
	}
	p.cmd(t, "DELE 1")
	if l := p.cmd(t, "QUIT"); !strings.HasPrefix(l, "+OK") {
		t.Fatalf("QUIT: %s", l)
	}

	// The IDLE session is told at once; the other at its next command.
	select {
	case seq := <-expunged:
		if seq != 1 {
			t.Errorf("IDLE session got EXPUNGE %d, want 1", seq)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("IDLE session was not told of the POP3 deletion")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := ic.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	st, err := ic.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if *st.NumMessages != 0 {
		t.Errorf("after POP3 DELE+QUIT, INBOX has %d messages", *st.NumMessages)
	}
	in.stop()
}

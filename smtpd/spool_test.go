package smtpd

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
)

func TestSpoolMemoryThenFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sp := newSpool(dir, 10)
	var want bytes.Buffer
	for _, chunk := range []string{"hello", "worl", "d, this goes to a file", "!"} {
		sp.Write([]byte(chunk))
		want.WriteString(chunk)
	}
	if sp.f == nil {
		t.Fatal("spool did not move to a file past its limit")
	}
	for i := 0; i < 2; i++ { // readers are independent
		got, err := io.ReadAll(sp.Reader())
		if err != nil || string(got) != want.String() {
			t.Fatalf("read %q, %v", got, err)
		}
	}
	if sp.Size() != int64(want.Len()) {
		t.Errorf("Size = %d", sp.Size())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("spool file visible in %s: %v", dir, ents)
	}
	if err := sp.Close(); err != nil {
		t.Error(err)
	}
}

func TestLargeMessageThroughFileSpool(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Inbound, nil)
	var body strings.Builder
	body.WriteString("Subject: big\r\n\r\n")
	line := strings.Repeat("abcdefghij", 9) + "\r\n"
	for body.Len() < 3<<20 {
		body.WriteString(line)
	}
	c := dial(t, e.addr)
	c.cmd("EHLO client.example", `^250`)
	c.cmd("MAIL FROM:<a@remote.org>", `^250`)
	c.cmd("RCPT TO:<bob@example.com>", `^250`)
	c.cmd("DATA", `^354`)
	c.send(body.String() + ".\r\n")
	c.expect(`^250`)
	got := e.store.Messages("bob@example.com", "INBOX")
	if len(got) != 1 || !strings.HasSuffix(string(got[0]), "\r\n"+body.String()) {
		t.Fatalf("large message not stored intact")
	}
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	_, err := New(Options{Mode: Submission})
	if err == nil {
		t.Fatal("New accepted empty options")
	}
	for _, want := range []string{"Hostname", "Delivery", "Auth", "Queue"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), "Mode") {
		t.Errorf("missing Mode: %v", err)
	}
}

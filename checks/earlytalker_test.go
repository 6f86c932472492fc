package checks

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestEarlyTalker(t *testing.T) {
	t.Parallel()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	ln := EarlyTalkerListener(inner, 300*time.Millisecond, slogJSON(logs))
	t.Cleanup(func() { ln.Close() })

	// A polite client connects first and waits for the greeting.
	polite, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer polite.Close()
	// The talker connects second and speaks at once. It is answered while
	// the polite client is still being held: screening one connection
	// never holds up another.
	talker, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer talker.Close()
	if _, err := io.WriteString(talker, "EHLO spammer.example\r\n"); err != nil {
		t.Fatal(err)
	}
	talker.SetReadDeadline(time.Now().Add(10 * time.Second))
	reply, err := bufio.NewReader(talker).ReadString('\n')
	if err != nil || !strings.HasPrefix(reply, "554 5.5.1 ") {
		t.Fatalf("talker got %q, %v; want 554 5.5.1", reply, err)
	}
	if _, err := talker.Read(make([]byte, 1)); err == nil {
		t.Error("talker connection still open")
	}

	// Accept hands over the polite client only, with its bytes intact.
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.RemoteAddr().String() != polite.LocalAddr().String() {
		t.Fatalf("accepted %s, want the polite client %s", c.RemoteAddr(), polite.LocalAddr())
	}
	if _, err := io.WriteString(c, "220 mx.ours.example ESMTP\r\n"); err != nil {
		t.Fatal(err)
	}
	polite.SetReadDeadline(time.Now().Add(10 * time.Second))
	greeting, err := bufio.NewReader(polite).ReadString('\n')
	if err != nil || !strings.HasPrefix(greeting, "220 ") {
		t.Fatalf("polite client got %q, %v", greeting, err)
	}
	io.WriteString(polite, "EHLO good.example\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "EHLO good.example\r\n" {
		t.Fatalf("server read %q, %v", line, err)
	}
	if !strings.Contains(logs.String(), "early talker refused") {
		t.Errorf("no log line for the talker: %s", logs.String())
	}

	// Close ends Accept.
	ln.Close()
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v", err)
	}
}

// TestEarlyTalkerInnerClosed: closing the wrapped listener directly also
// ends Accept instead of blocking it forever.
func TestEarlyTalkerInnerClosed(t *testing.T) {
	t.Parallel()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := EarlyTalkerListener(inner, time.Minute, nil)
	defer ln.Close()
	inner.Close()
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept: %v", err)
	}
}

// TestEarlyTalkerGoneClient: a client that connects and leaves during the
// wait is never handed over.
func TestEarlyTalkerGoneClient(t *testing.T) {
	t.Parallel()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := EarlyTalkerListener(inner, 200*time.Millisecond, nil)
	defer ln.Close()
	gone, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	gone.Close()
	stay, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stay.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.RemoteAddr().String() != stay.LocalAddr().String() {
		t.Errorf("accepted %s, want %s", c.RemoteAddr(), stay.LocalAddr())
	}
}

package imapd

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// rawConn is a transcript client: lines in, lines out.
type rawConn struct {
	t   testing.TB
	c   net.Conn
	r   *bufio.Reader
	tag int
}

func (e *env) raw(t testing.TB) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &rawConn{t: t, c: c, r: bufio.NewReader(c)}
	if g := rc.line(); !strings.HasPrefix(g, "* OK ") {
		t.Fatalf("greeting %q", g)
	}
	return rc
}

func (rc *rawConn) line() string {
	rc.t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := rc.r.ReadString('\n')
	if err != nil {
		rc.t.Fatalf("read: %v (after %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	if _, err := rc.c.Write([]byte(s)); err != nil {
		rc.t.Fatal(err)
	}
}

// cmd sends one tagged command and returns the untagged lines and the
// tagged completion without its tag.
func (rc *rawConn) cmd(format string, args ...any) (untagged []string, done string) {
	rc.t.Helper()
	rc.tag++
	tag := fmt.Sprintf("a%d", rc.tag)
	rc.send(tag + " " + fmt.Sprintf(format, args...) + "\r\n")
	return rc.until(tag)
}

func (rc *rawConn) until(tag string) (untagged []string, done string) {
	rc.t.Helper()
	for {
		l := rc.line()
		if strings.HasPrefix(l, tag+" ") {
			return untagged, strings.TrimPrefix(l, tag+" ")
		}
		untagged = append(untagged, l)
	}
}

// expect fails unless the completion starts with prefix.
func (rc *rawConn) expect(prefix, format string, args ...any) []string {
	rc.t.Helper()
	u, done := rc.cmd(format, args...)
	if !strings.HasPrefix(done, prefix) {
		rc.t.Fatalf("%s: got %q, want %q...; untagged %q", fmt.Sprintf(format, args...), done, prefix, u)
	}
	return u
}

func (rc *rawConn) login() {
	rc.t.Helper()
	rc.expect("OK", `LOGIN %s "%s"`, testUser, testPass)
}

func netDial(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }

func bufioReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

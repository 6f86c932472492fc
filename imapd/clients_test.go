package imapd

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Transcript tests replaying what real clients send. Each test names the
// client whose startup, sync or delete/move sequence it replays; the
// command text (including case, quoting and literal forms) follows what
// those clients put on the wire. Assertions are on what such a client
// parses back.

// rawTLS is a transcript client over implicit TLS (port 993), the way
// Thunderbird, Apple Mail, Outlook and K-9 connect by default.
func (e *env) rawTLS(t testing.TB) *rawConn {
	t.Helper()
	c, err := tls.Dial("tcp", e.tlsAddr, e.clientTLS())
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

// literalAtEnd matches a line that announces a literal of n octets.
var literalAtEnd = regexp.MustCompile(`\{(\d+)\}$`)

// response reads one whole server response, with literals inlined.
func (rc *rawConn) response() string {
	rc.t.Helper()
	var b strings.Builder
	for {
		l := rc.line()
		b.WriteString(l)
		m := literalAtEnd.FindStringSubmatch(l)
		if m == nil {
			return b.String()
		}
		n, _ := strconv.Atoi(m[1])
		buf := make([]byte, n)
		rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(rc.r, buf); err != nil {
			rc.t.Fatalf("literal: %v", err)
		}
		b.WriteString("\r\n")
		b.Write(buf)
	}
}

// run sends one command with a client-chosen tag (clients differ: "1",
// "a001", "A1") and reads responses with literals until the completion.
func (rc *rawConn) run(tag, command string) (untagged []string, done string) {
	rc.t.Helper()
	rc.send(tag + " " + command + "\r\n")
	for {
		r := rc.response()
		if strings.HasPrefix(r, tag+" ") {
			return untagged, strings.TrimPrefix(r, tag+" ")
		}
		untagged = append(untagged, r)
	}
}

// must runs a command and fails unless its completion starts with want.
func (rc *rawConn) must(want, tag, command string) []string {
	rc.t.Helper()
	u, done := rc.run(tag, command)
	if !strings.HasPrefix(done, want) {
		rc.t.Fatalf("%s %s: got %q, want %s; untagged %q", tag, command, done, want, u)
	}
	return u
}

// appendLit sends APPEND with a LITERAL+ ({n+}) literal, as Thunderbird
// and Apple Mail do when the server advertises LITERAL+, and returns the
// completion.
func (rc *rawConn) appendLit(tag, prefix, msg string) (untagged []string, done string) {
	rc.t.Helper()
	rc.send(fmt.Sprintf("%s %s {%d+}\r\n%s\r\n", tag, prefix, len(msg), msg))
	for {
		r := rc.response()
		if strings.HasPrefix(r, tag+" ") {
			return untagged, strings.TrimPrefix(r, tag+" ")
		}
		untagged = append(untagged, r)
	}
}

// find returns the responses matching re.
func find(lines []string, re string) []string {
	rx := regexp.MustCompile(re)
	var out []string
	for _, l := range lines {
		if rx.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// mustFind fails unless exactly n responses match re.
func mustFind(t testing.TB, lines []string, n int, re string) []string {
	t.Helper()
	got := find(lines, re)
	if len(got) != n {
		t.Fatalf("want %d responses matching %q, got %d in %q", n, re, len(got), lines)
	}
	return got
}

// noneOf fails if any response matches re.
func noneOf(t testing.TB, lines []string, re, why string) {
	t.Helper()
	if got := find(lines, re); len(got) > 0 {
		t.Fatalf("%s: unexpected %q", why, got)
	}
}

// multipartMessage is a message with a text part, an HTML alternative and
// a PDF attachment, the shape K-9 and Apple Mail ask BODYSTRUCTURE of.
func multipartMessage(subject string) string {
	return strings.ReplaceAll("From: Bob <bob@example.org>\n"+
		"To: Alice <alice@example.com>\n"+
		"Cc: Carol <carol@example.net>\n"+
		"Subject: "+subject+"\n"+
		"Date: Wed, 25 Nov 2026 10:00:00 +0000\n"+
		"Message-ID: <mp."+strings.ReplaceAll(subject, " ", ".")+"@example.org>\n"+
		"X-Priority: 3\n"+
		"MIME-Version: 1.0\n"+
		"Content-Type: multipart/mixed; boundary=\"outer\"\n"+
		"\n"+
		"This is a multi-part message in MIME format.\n"+
		"--outer\n"+
		"Content-Type: multipart/alternative; boundary=\"inner\"\n"+
		"\n"+
		"--inner\n"+
		"Content-Type: text/plain; charset=utf-8\n"+
		"Content-Transfer-Encoding: quoted-printable\n"+
		"\n"+
		"Hello Alice, see the attached r=C3=A9sum=C3=A9.\n"+
		"--inner\n"+
		"Content-Type: text/html; charset=utf-8\n"+
		"\n"+
		"<p>Hello Alice</p>\n"+
		"--inner--\n"+
		"--outer\n"+
		"Content-Type: application/pdf; name=\"cv.pdf\"\n"+
		"Content-Disposition: attachment; filename=\"cv.pdf\"\n"+
		"Content-Transfer-Encoding: base64\n"+
		"\n"+
		"JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSPj4Kc3RyZWFtCg==\n"+
		"--outer--\n", "\n", "\r\n")
}

// statusItem returns the value of item in the one STATUS response of lines.
func statusItem(t testing.TB, lines []string, item string) string {
	t.Helper()
	m := regexp.MustCompile(`^\* STATUS .* \(.*\b` + item + ` (\d+)`).FindStringSubmatch(strings.Join(mustFind(t, lines, 1, `^\* STATUS `), ""))
	if m == nil {
		t.Fatalf("STATUS lacks %s: %q", item, lines)
	}
	return m[1]
}

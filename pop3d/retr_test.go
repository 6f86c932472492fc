package pop3d

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

func stuff(t testing.TB, chunks ...string) string {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	dw := &dotWriter{w: w, bol: true}
	for _, c := range chunks {
		if n, err := dw.Write([]byte(c)); n != len(c) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if err := dw.Close(); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	return b.String()
}

func TestDotWriter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		chunks []string
		want   string
	}{
		{nil, ".\r\n"},
		{[]string{"a\r\n"}, "a\r\n.\r\n"},
		{[]string{"a"}, "a\r\n.\r\n"},
		{[]string{".\r\n"}, "..\r\n.\r\n"},
		{[]string{"a\r\n.b\r\n..\r\n"}, "a\r\n..b\r\n...\r\n.\r\n"},
		{[]string{"a\r", "\n", ".", "b\r\n"}, "a\r\n..b\r\n.\r\n"},
		{[]string{"a\nb\n"}, "a\r\nb\r\n.\r\n"},             // bare LF gets its CR
		{[]string{"a\r"}, "a\r\n.\r\n"},                     // trailing CR completed
		{[]string{"a\rb\r\n"}, "a\rb\r\n.\r\n"},             // lone CR is data
		{[]string{"x.\r\n", " .\r\n"}, "x.\r\n .\r\n.\r\n"}, // only line starts
	}
	for _, tt := range tests {
		if got := stuff(t, tt.chunks...); got != tt.want {
			t.Errorf("stuff(%q) = %q, want %q", tt.chunks, got, tt.want)
		}
	}
}

// unstuff undoes RFC 1939 3 byte-stuffing, as a client does.
func unstuff(s string) (string, bool) {
	body, ok := strings.CutSuffix(s, ".\r\n")
	if !ok {
		return "", false
	}
	var b strings.Builder
	for line := range strings.SplitAfterSeq(body, "\r\n") {
		if line == "" {
			continue
		}
		if line == ".\r\n" {
			return "", false // a bare terminator inside the body
		}
		b.WriteString(strings.TrimPrefix(line, "."))
	}
	return b.String(), true
}

// FuzzDotWriter checks that any CRLF body, split anywhere, round-trips
// through stuffing exactly, so RETR sends what LIST counts.
func FuzzDotWriter(f *testing.F) {
	f.Add("Subject: x\r\n\r\n.\r\n..\r\nbody\r\n", 3)
	f.Add(".", 1)
	f.Add("", 0)
	f.Fuzz(func(t *testing.T, body string, split int) {
		// Normalise to what storage holds: CRLF lines, CRLF at the end.
		body = strings.ReplaceAll(strings.ReplaceAll(body, "\r", ""), "\n", "\r\n")
		if body != "" && !strings.HasSuffix(body, "\r\n") {
			body += "\r\n"
		}
		if split < 0 || split > len(body) {
			split = len(body) / 2
		}
		out := stuff(t, body[:split], body[split:])
		got, ok := unstuff(out)
		if !ok || got != body {
			t.Fatalf("round trip of %q gave %q (wire %q)", body, got, out)
		}
	})
}

func TestCopyTop(t *testing.T) {
	t.Parallel()
	msg := "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n"
	tests := []struct {
		n    int
		want string
	}{
		{0, "A: 1\r\nB: 2\r\n\r\n"},
		{1, "A: 1\r\nB: 2\r\n\r\nl1\r\n"},
		{3, msg},
		{10, msg},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := copyTop(&b, strings.NewReader(msg), tt.n); err != nil {
			t.Fatal(err)
		}
		if b.String() != tt.want {
			t.Errorf("TOP %d = %q, want %q", tt.n, b.String(), tt.want)
		}
	}
	// Lines longer than the reader's buffer count once.
	long := "H: x\r\n\r\n" + strings.Repeat("y", 40000) + "\r\nnext\r\n"
	var b bytes.Buffer
	copyTop(&b, strings.NewReader(long), 1)
	if b.String() != "H: x\r\n\r\n"+strings.Repeat("y", 40000)+"\r\n" {
		t.Errorf("long line TOP gave %d octets", b.Len())
	}
	// No blank line: all header.
	b.Reset()
	copyTop(&b, strings.NewReader("H: x\r\nI: y\r\n"), 0)
	if b.String() != "H: x\r\nI: y\r\n" {
		t.Errorf("header-only TOP = %q", b.String())
	}
}

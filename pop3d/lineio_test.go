package pop3d

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadLine(t *testing.T) {
	t.Parallel()
	in := "USER bob\r\nbare lf\n\r\n" + strings.Repeat("x", 300) + "\r\nafter\r\ntrailing"
	r := bufio.NewReaderSize(strings.NewReader(in), 16)
	want := []struct {
		line string
		err  error
	}{
		{"USER bob", nil},
		{"bare lf", nil},
		{"", nil},
		{"", errLineTooLong},
		{"after", nil},
		{"", io.EOF}, // a partial last line is not a command
	}
	for i, w := range want {
		got, err := readLine(r, 255)
		if string(got) != w.line || !errors.Is(err, w.err) {
			t.Errorf("line %d = %q, %v; want %q, %v", i, got, err, w.line, w.err)
		}
	}
}

func TestReadLineLimitIncludesCRLF(t *testing.T) {
	t.Parallel()
	ok := strings.Repeat("a", 253) + "\r\n"
	r := bufio.NewReader(strings.NewReader(ok + "a" + ok))
	if l, err := readLine(r, 255); err != nil || len(l) != 253 {
		t.Errorf("255-octet line: %d, %v", len(l), err)
	}
	if _, err := readLine(r, 255); !errors.Is(err, errLineTooLong) {
		t.Errorf("256-octet line: %v", err)
	}
}

func TestParseCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, verb, arg string
		err           bool
	}{
		{"STAT", "STAT", "", false},
		{"stat", "STAT", "", false},
		{"LiSt 1", "LIST", "1", false},
		{"TOP 1 10", "TOP", "1 10", false},
		{"PASS  two  spaces ", "PASS", " two  spaces ", false},
		{"USER ", "USER", "", false},
		{"", "", "", true},
		{" STAT", "", "", true},
		{"ST4T", "", "", true},
		{"TOOLONGVERB", "", "", true},
		{"USER a\tb", "", "", true},
		{"USER a\x00b", "", "", true},
		{"USER a\x7fb", "", "", true},
		{"PASS pässword", "PASS", "pässword", false},
	}
	for _, tt := range tests {
		verb, arg, err := parseCommand([]byte(tt.in))
		if verb != tt.verb || arg != tt.arg || (err != nil) != tt.err {
			t.Errorf("parseCommand(%q) = %q, %q, %v", tt.in, verb, arg, err)
		}
	}
}

// FuzzCommandReader drives the command reader and parser with arbitrary
// client bytes: it must never panic, never return a line longer than the
// limit or containing CR/LF, and always make progress.
func FuzzCommandReader(f *testing.F) {
	for _, s := range []string{
		"USER bob\r\nPASS secret\r\n", "STAT\r\nLIST 1\r\nRETR 1\r\n", "\r\n\n\r",
		"AUTH PLAIN AGJvYgBzZWNyZXQ=\r\n", strings.Repeat("A", 600) + "\r\nQUIT\r\n",
		"TOP 1 -1\r\n", "USER \x00\r\n", "\xff\xfe\r\n",
	} {
		f.Add([]byte(s), 255)
	}
	f.Fuzz(func(t *testing.T, in []byte, limit int) {
		if limit < 16 || limit > 4096 {
			limit = 255
		}
		r := bufio.NewReaderSize(bytes.NewReader(in), 16)
		for range len(in) + 1 {
			line, err := readLine(r, limit)
			if errors.Is(err, errLineTooLong) {
				continue
			}
			if err != nil {
				return
			}
			if len(line)+1 > limit || bytes.ContainsAny(line, "\n") {
				t.Fatalf("bad line %q", line)
			}
			verb, arg, err := parseCommand(line)
			if err != nil {
				continue
			}
			if verb == "" || len(verb) > maxVerbLength || strings.ToUpper(verb) != verb {
				t.Fatalf("bad verb %q", verb)
			}
			if strings.ContainsAny(arg, "\r\n\x00") {
				t.Fatalf("control character in arg %q", arg)
			}
			if _, ok := lookup(verb); ok {
				_ = words(arg)
			}
		}
		if _, err := readLine(r, limit); err == nil {
			t.Fatal("reader made no progress")
		}
	})
}

package delivery

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// stripReturnPath is the reference the streaming filter must match: the
// whole message at once, line by line.
func stripReturnPath(msg []byte) []byte {
	var out []byte
	drop := false
	for len(msg) > 0 {
		end, _ := lineEnd(msg)
		line := msg[:end]
		msg = msg[end:]
		kind, _ := classifyLine(line, true)
		switch kind {
		case lineBlank:
			return append(append(out, line...), msg...)
		case lineField:
			drop = false
		case lineReturnPath:
			drop = true
		}
		if !drop {
			out = append(out, line...)
		}
	}
	return out
}

func TestReturnPathFilter(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"Subject: a\r\n\r\nbody\r\n", "Subject: a\r\n\r\nbody\r\n"},
		{"Return-Path: <x@y>\r\nSubject: a\r\n\r\nbody\r\n", "Subject: a\r\n\r\nbody\r\n"},
		{"Subject: a\r\nRETURN-PATH: <x@y>\r\nreturn-path:<z@y>\r\nTo: b\r\n\r\nb\r\n", "Subject: a\r\nTo: b\r\n\r\nb\r\n"},
		// Folded field: the continuation lines go with it.
		{"Return-Path:\r\n <x@y>\r\n\t(more)\r\nTo: b\r\n\r\nb\r\n", "To: b\r\n\r\nb\r\n"},
		// obs-optional: white space before the colon (RFC 5322 4.5.3).
		{"Return-Path \t: <x@y>\r\nTo: b\r\n\r\nb\r\n", "To: b\r\n\r\nb\r\n"},
		// Similar names stay.
		{"Return-Paths: 1\r\nReturn-Pat: 2\r\nX-Return-Path: 3\r\n\r\n", "Return-Paths: 1\r\nReturn-Pat: 2\r\nX-Return-Path: 3\r\n\r\n"},
		// Only the header section: the body is never touched.
		{"To: b\r\n\r\nReturn-Path: <x@y>\r\n", "To: b\r\n\r\nReturn-Path: <x@y>\r\n"},
		// A Return-Path last before the blank line keeps the blank line.
		{"To: b\r\nReturn-Path: <x@y>\r\n\r\nbody", "To: b\r\n\r\nbody"},
		// Header without a body.
		{"To: b\r\nReturn-Path: <x@y>\r\n", "To: b\r\n"},
		{"Return-Path: <x@y>", ""},
		{"To: b\r\nReturn-Pa", "To: b\r\nReturn-Pa"},
		{"To: b\r\nReturn-Path \t", "To: b\r\nReturn-Path \t"},
		{"", ""},
		// Absurd white space before the colon is still a Return-Path.
		{"Return-Path" + strings.Repeat(" ", 300) + ": <x@y>\r\nTo: b\r\n\r\n", "To: b\r\n\r\n"},
	}
	for _, tt := range tests {
		if got := stripReturnPath([]byte(tt.in)); string(got) != tt.want {
			t.Errorf("reference(%q) = %q, want %q", tt.in, got, tt.want)
		}
		// Every split point, and byte by byte.
		for split := 0; split <= len(tt.in); split++ {
			var out bytes.Buffer
			f := newReturnPathFilter(&out)
			f.Write([]byte(tt.in[:split]))
			f.Write([]byte(tt.in[split:]))
			f.Flush()
			if out.String() != tt.want {
				t.Fatalf("filter(%q) split at %d = %q, want %q", tt.in, split, out.String(), tt.want)
			}
		}
		var out bytes.Buffer
		f := newReturnPathFilter(&out)
		for i := 0; i < len(tt.in); i++ {
			f.Write([]byte{tt.in[i]})
		}
		f.Flush()
		if out.String() != tt.want {
			t.Errorf("filter(%q) byte by byte = %q, want %q", tt.in, out.String(), tt.want)
		}
	}
}

// FuzzReturnPathFilter checks that the streaming filter, however the
// message is chunked, gives what the whole-message reference gives, and
// that no Return-Path field is left in the header section.
func FuzzReturnPathFilter(f *testing.F) {
	f.Add([]byte("Return-Path: <x@y>\r\nSubject: a\r\n\r\nbody\r\n"), 5, 17)
	f.Add([]byte("Return-Path:\r\n <x@y>\r\nTo: b\r\n\r\nReturn-Path: <q>\r\n"), 1, 2)
	f.Add([]byte("return-path  \t :x\r\n"), 0, 14)
	f.Fuzz(func(t *testing.T, data []byte, a, b int) {
		if a < 0 {
			a = -a
		}
		if b < 0 {
			b = -b
		}
		a %= len(data) + 1
		b %= len(data) + 1
		a, b = min(a, b), max(a, b)
		var out bytes.Buffer
		w := newReturnPathFilter(&out)
		for _, chunk := range [][]byte{data[:a], data[a:b], data[b:]} {
			if n, err := w.Write(chunk); n != len(chunk) || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		want := stripReturnPath(data)
		if !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("%q split %d,%d: filter %q, reference %q", data, a, b, out.Bytes(), want)
		}
		// No line of the output's header section is a Return-Path.
		rest := want
		for len(rest) > 0 {
			end, _ := lineEnd(rest)
			kind, _ := classifyLine(rest[:end], true)
			if kind == lineBlank {
				break
			}
			if kind == lineReturnPath {
				t.Fatalf("Return-Path left in %q", want)
			}
			rest = rest[end:]
		}
	})
}

func TestStripReturnPath(t *testing.T) {
	t.Parallel()
	in := "Return-Path: <x@y>\r\nSubject: a\r\nreturn-path:\r\n <z>\r\n\r\nReturn-Path: body\r\n"
	// One byte per read, in and out: the worst chunking.
	got, err := io.ReadAll(iotest.OneByteReader(StripReturnPath(iotest.OneByteReader(strings.NewReader(in)))))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Subject: a\r\n\r\nReturn-Path: body\r\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got, err = io.ReadAll(StripReturnPath(strings.NewReader("To: b\r\nReturn-Pa")))
	if err != nil || string(got) != "To: b\r\nReturn-Pa" {
		t.Errorf("unterminated last line: %q, %v", got, err)
	}
	_, err = io.ReadAll(StripReturnPath(iotest.ErrReader(io.ErrUnexpectedEOF)))
	if err != io.ErrUnexpectedEOF {
		t.Errorf("read error = %v", err)
	}
}

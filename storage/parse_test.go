package storage

import (
	"runtime"
	"strings"
	"testing"
)

func TestSplitMultipart(t *testing.T) {
	t.Parallel()
	body := "pre\r\n--b\r\nA\r\n--b \r\n\r\nB\r\n--b--\r\nepi"
	parts := splitMultipart([]byte(body), "b")
	if len(parts) != 2 || string(parts[0]) != "A" || string(parts[1]) != "\r\nB" {
		t.Errorf("parts %q", parts)
	}
	// Unterminated last part runs to the end; "--bx" is not a delimiter.
	parts = splitMultipart([]byte("--b\nA\n--bx\nB"), "b")
	if len(parts) != 1 || string(parts[0]) != "A\n--bx\nB" {
		t.Errorf("parts %q", parts)
	}
}

func TestCountLines(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"": 0, "a": 1, "a\r\n": 1, "a\r\nb": 2, "\r\n\r\n": 2} {
		if got := countLines([]byte(in)); got != want {
			t.Errorf("countLines(%q) = %d, want %d", in, got, want)
		}
	}
}

// FuzzParseMessage: the envelope/structure parser and the search text
// extractor never panic, and sizes never exceed the input.
func FuzzParseMessage(f *testing.F) {
	f.Add([]byte("From: a@b\r\nSubject: =?UTF-8?B?w4Q=?=\r\n\r\nbody\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: i\r\n\r\n--x--"))
	f.Add([]byte("Content-Type: multipart/digest; boundary=\"q\"\r\n\r\n--q\r\n\r\nSubject: d\r\n\r\nx\r\n--q--\r\n"))
	f.Add([]byte("Content-Transfer-Encoding: base64\r\nContent-Type: text/plain; charset=koi8-r\r\n\r\n8PLJ18XU\r\n"))
	f.Add([]byte("To: undisclosed-recipients:;\r\nCc: \"unterminated <x@y\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, bs := parseMessage(b)
		if env == nil || bs == nil {
			t.Fatal("nil result")
		}
		var walk func(*BodyStructure, int64)
		walk = func(p *BodyStructure, limit int64) {
			if p.Size < 0 || p.Size > limit || p.Type == "" || p.Subtype == "" {
				t.Fatalf("bad part %+v (limit %d)", p, limit)
			}
			for _, c := range p.Children {
				walk(c, p.Size)
			}
			if p.Body != nil {
				walk(p.Body, p.Size)
			}
		}
		walk(bs, int64(len(b)))
		_ = extractText(b)
		_ = encodeCache(b)
	})
}

// TestSplitMessageLinearInFolds: a field folded into many short lines
// costs memory in proportion to its length. Appending each line to the
// field's string made it quadratic: 200,000 folds cost 51 s of CPU on
// every delivery. Not parallel: it reads the process's allocation counter.
func TestSplitMessageLinearInFolds(t *testing.T) {
	msg := []byte("Subject: x\r\n" + strings.Repeat(" y\r\n", 40000) + "\r\nbody")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	h, body := splitMessage(msg)
	runtime.ReadMemStats(&after)
	if len(h) != 1 || len(h[0].value) != len("x")+40000*len(" y") || string(body) != "body" {
		t.Fatalf("%d fields, body %q", len(h), body)
	}
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(64*len(msg)); got > limit {
		t.Errorf("parsing a %d-byte header allocated %d bytes, more than %d", len(msg), got, limit)
	}
}

package smtpd

import (
	"bytes"
	"strings"
	"testing"
)

func TestScanHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		from    string
		msgID   bool
		date    bool
		wantErr bool
	}{
		{"simple", "From: a@b.c\r\nSubject: x\r\n\r\nbody\r\n", "a@b.c", false, false, false},
		{"all", "Date: x\r\nMessage-Id: <1@b>\r\nFROM: A <a@b.c>\r\n\r\n", "a@b.c", true, true, false},
		{"folded from", "From: Alice\r\n <a@b.c>,\r\n\tBob <b@b.c>\r\n\r\n", "a@b.c,b@b.c", false, false, false},
		{"two fields", "From: a@b.c\r\nFrom: d@e.f\r\n\r\n", "a@b.c,d@e.f", false, false, false},
		{"no body", "From: a@b.c\r\n", "a@b.c", false, false, false},
		{"no final CRLF", "From: a@b.c", "a@b.c", false, false, false},
		{"empty", "", "", false, false, false},
		{"body only", "\r\nFrom: a@b.c\r\n", "", false, false, false},
		{"from in body", "Subject: x\r\n\r\nFrom: a@b.c\r\n", "", false, false, false},
		{"encoded word", "From: =?x-unknown?Q?=FF?= <a@b.c>\r\n\r\n", "a@b.c", false, false, false},
		{"garbage first", "garbage\r\nFrom: a@b.c\r\n\r\n", "", false, false, true},
		{"continuation first", " x\r\nFrom: a@b.c\r\n\r\n", "", false, false, true},
		{"space in name", "Fro m: a@b.c\r\n\r\n", "", false, false, true},
		{"bad from", "From: not an address\r\n\r\n", "", false, false, true},
		{"group", "From: undisclosed:;\r\n\r\n", "", false, false, false},
		{"utf8", "From: José <josé@exämple.com>\r\n\r\n", "josé@exämple.com", false, false, false},
	}
	for _, tt := range tests {
		hi, err := scanHeader(strings.NewReader(tt.in), 1<<20)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v", tt.name, err)
			continue
		}
		if tt.wantErr {
			continue
		}
		if got := strings.Join(hi.From, ","); got != tt.from || hi.HasMessageID != tt.msgID || hi.HasDate != tt.date {
			t.Errorf("%s: got %+v", tt.name, hi)
		}
	}
	big := "X-Big: " + strings.Repeat("y", 5000) + "\r\nFrom: a@b.c\r\n\r\n"
	if hi, err := scanHeader(strings.NewReader(big), 1<<20); err != nil || len(hi.From) != 1 {
		t.Errorf("long line: %+v, %v", hi, err)
	}
	if _, err := scanHeader(strings.NewReader(big), 1000); err == nil {
		t.Errorf("header over limit accepted")
	}
}

func TestLineEndChecker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		chunks []string
		bad    bool
	}{
		{[]string{"a\r\nb\r\n"}, false},
		{[]string{"a\r", "\nb\r\n"}, false},
		{[]string{""}, false},
		{[]string{"a\nb"}, true},
		{[]string{"a\r", "b"}, true},
		{[]string{"a\r"}, true},
		{[]string{"\n"}, true},
		{[]string{"a\r\r\n"}, true},
		{[]string{"a\r\n\n"}, true},
	}
	for _, tt := range tests {
		var l lineEndChecker
		for _, c := range tt.chunks {
			l.Write([]byte(c))
		}
		if l.Bad() != tt.bad {
			t.Errorf("%q: Bad() = %v", tt.chunks, l.Bad())
		}
	}
}

func TestHeloToken(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"mail.example.org":       "mail.example.org",
		"[192.0.2.1]":            "[192.0.2.1]",
		"evil)\r\nX-Injected: 1": "evil???X-Injected:?1",
		"":                       "unknown",
	} {
		if got := heloToken(in); got != want {
			t.Errorf("heloToken(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzScanHeader(f *testing.F) {
	for _, s := range []string{
		"From: a@b.c\r\n\r\n",
		"From: A <a@b.c>, \"q\" <d@e.f>\r\nMessage-ID: <x@y>\r\n\r\nbody",
		"From: =?utf-8?B?w6k=?= <a@b.c>\r\n\tcontinued\r\n\r\n",
		"x\r\n",
		" \r\n",
		"From: undisclosed:;\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		hi, err := scanHeader(bytes.NewReader(data), 1<<16)
		if err != nil {
			return
		}
		for _, a := range hi.From {
			if !strings.Contains(a, "@") {
				t.Errorf("From address without @: %q", a)
			}
		}
	})
}

func FuzzLineEndChecker(f *testing.F) {
	f.Add([]byte("a\r\nb\r\n"), 3)
	f.Add([]byte("a\nb"), 1)
	f.Add([]byte("\r\r\n"), 2)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		// The verdict must not depend on how the data is chunked, and must
		// equal the definition: every CR is followed by LF and every LF
		// preceded by CR.
		var l lineEndChecker
		if split < 0 {
			split = -split
		}
		if len(data) > 0 {
			split %= len(data) + 1
		} else {
			split = 0
		}
		l.Write(data[:split])
		l.Write(data[split:])
		want := false
		for i, b := range data {
			if b == '\r' && (i+1 == len(data) || data[i+1] != '\n') {
				want = true
			}
			if b == '\n' && (i == 0 || data[i-1] != '\r') {
				want = true
			}
		}
		if l.Bad() != want {
			t.Errorf("%q split %d: Bad() = %v, want %v", data, split, l.Bad(), want)
		}
	})
}

func FuzzHeloToken(f *testing.F) {
	f.Add("mail.example.org")
	f.Add("a)\r\nb")
	f.Fuzz(func(t *testing.T, s string) {
		got := heloToken(s)
		if got == "" || len(got) > 255 || strings.ContainsAny(got, "()\r\n \t;") {
			t.Errorf("heloToken(%q) = %q", s, got)
		}
	})
}
